"""Child processes die with their parent: no helper keeps running with PPID 1 after the process that started it.

Why: a parent killed with ``kill -9`` (or SIGTERM, whose default action skips every ``finally``), or an
annotator whose terminal closes, used to leave its helpers behind — the ``sbs gate --watch`` watcher scoring for
nobody, and an import's parser child blocked for ever on its full queue, which in turn kept multiprocessing's
resource tracker alive (issue 13, item 7).

Two mechanisms, because neither is enough alone:

* Linux: ``prctl(PR_SET_PDEATHSIG, sig)`` — the kernel sends ``sig`` the moment the parent dies. Called from the
  child itself (not in a ``preexec_fn``, which is unsafe with threads), so the parent may already be gone by
  then: the expected parent pid is compared right after, which closes that window.
* Everywhere: a daemon thread polls ``os.getppid()``; when it changes (reparented to init or a subreaper) the
  parent is gone.

Either way the child first gets a chance to stop cleanly (``on_orphan``), and is ended with ``os._exit`` after
``grace`` seconds if it has not. Ending mid-transaction is safe: SQLite rolls back an unfinished write.

The other direction, for helpers a process starts but cannot change (a local Ray's): :func:`reap_descendants_on_death`.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from collections.abc import Callable

PARENT_ENV = "SBS_PARENT_PID"  # set by whoever starts a child that must die with it
_PR_SET_PDEATHSIG = 1


def _set_pdeathsig(sig: int) -> bool:
    """Ask the Linux kernel to send ``sig`` when the parent dies; False where that is not available."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(_PR_SET_PDEATHSIG, int(sig), 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def parent_from_env() -> int | None:
    """The parent pid a starter put in ``SBS_PARENT_PID`` (None when absent or not a number)."""
    value = os.environ.get(PARENT_ENV, "")
    return int(value) if value.isdigit() and int(value) > 1 else None


def die_with_parent(parent_pid: int | None = None, *, sig: int = signal.SIGTERM,
                    on_orphan: Callable[[], None] | None = None, grace: float = 5.0,
                    poll: float = 0.5) -> None:
    """Make this process end when ``parent_pid`` (default: the current parent) dies.

    On Linux the kernel sends ``sig`` at once (SIGTERM lets a handler stop cleanly; SIGKILL ends at once). The
    polling thread then calls ``on_orphan`` (default: nothing) and, ``grace`` seconds later, ``os._exit(1)``.
    """
    expected = parent_pid if parent_pid is not None else os.getppid()
    _set_pdeathsig(sig)

    def orphaned() -> None:
        if on_orphan is not None:
            try:
                on_orphan()
            except Exception:  # noqa: BLE001 - the exit below must happen whatever the callback did
                pass
        if grace > 0:
            time.sleep(grace)
        os._exit(1)

    if os.getppid() != expected:  # the parent died before the kernel was told: nothing started yet, just go
        os._exit(1)

    def watch() -> None:
        while os.getppid() == expected:
            time.sleep(poll)
        orphaned()

    threading.Thread(target=watch, name="sbs-lifeline", daemon=True).start()


# -- the other direction: what a killed process started must end too ------------------------------------------

def reap_descendants_on_death(root: int | None = None, *, poll: float = 0.5) -> int | None:
    """Start a small watcher that, once ``root`` (default: this process) has died, ends every process ``root``
    started (its descendants, as last seen). Returns the watcher's pid, or None where /proc is not available.

    Why: a local Ray (``sbs score --engine ray``) starts a dozen helpers — GCS, raylet, agents, workers — and
    after a ``kill -9`` of the driver its agents lived on for minutes (issue 21: 30–90 s and more); Ray's own
    clean-up runs only on a normal exit. The watcher runs in its own session (a Ctrl-C for the driver's terminal
    does not end it first), polls the descendants of ``root`` while it lives, and then sends SIGTERM, and SIGKILL
    a second later, to each one still running with the same start time (a reused pid is left alone).
    """
    if not os.path.isdir("/proc/self"):
        return None
    import subprocess

    root = os.getpid() if root is None else root
    code = f"from sbs_tui.core.lifeline import _reaper_main; _reaper_main({root}, {poll!r})"
    env = dict(os.environ)
    env.pop(PARENT_ENV, None)
    process = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    _REAPERS.append(process)  # kept: it outlives this process by design (no "still running" warning)
    return process.pid


_REAPERS: list[object] = []


def _proc_table() -> dict[int, tuple[int, int, str]]:
    """pid → (ppid, start time, state) for every process (from /proc/PID/stat)."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as f:
                stat = f.read().decode("ascii", "replace")
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2:].split()  # the command name may contain spaces and parentheses
        table[int(entry)] = (int(fields[1]), int(fields[19]), fields[0])
    return table


def _descendants(table: dict[int, tuple[int, int, str]], roots: set[int]) -> set[int]:
    children: dict[int, list[int]] = {}
    for pid, (ppid, _start, _state) in table.items():
        children.setdefault(ppid, []).append(pid)
    found: set[int] = set()
    stack = list(roots)
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _reaper_main(root: int, poll: float) -> None:
    me = os.getpid()
    table = _proc_table()
    if root not in table:
        return
    root_start = table[root][1]
    tracked: dict[int, int] = {}
    while True:
        table = _proc_table()
        entry = table.get(root)
        if entry is None or entry[1] != root_start or entry[2] == "Z":
            break
        for pid in _descendants(table, {root}) - {me}:
            tracked.setdefault(pid, table[pid][1])
        time.sleep(poll)
    # The root is gone: its helpers, and whatever they started since the last look.
    table = _proc_table()
    live = {pid for pid, start in tracked.items() if pid in table and table[pid][1] == start}
    victims = (live | _descendants(table, live)) - {me}
    starts = {pid: table[pid][1] for pid in victims if pid in table}
    for sig, wait in ((signal.SIGTERM, 1.0), (signal.SIGKILL, 0.0)):
        table = _proc_table()
        for pid, start in starts.items():
            entry = table.get(pid)
            if entry is not None and entry[1] == start and entry[2] != "Z":
                try:
                    os.kill(pid, sig)
                except OSError:
                    pass
        time.sleep(wait)
