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
