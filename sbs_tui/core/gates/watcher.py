"""The background gate watcher (``sbs gate --watch``): the one way to start it, and one watcher per database.

Why a subprocess: the annotator app never imports torch, transformers or scikit-learn; the watcher loads the
scorer models in its own process and writes gate results in short transactions (WAL) while annotators vote.

Why one per database: every annotator app whose generations are pending used to start its own watcher, so three
apps on one database ran three watchers scoring the same generations (issue 13, item 7). Now the watcher holds
an exclusive ``flock`` on ``<database>.gate.lock`` for its whole life (its pid written inside). Whoever comes
first starts it; the others see the lock taken and do not (:func:`ensure_watcher`); a watcher that starts while
another holds the lock says so and exits 0. The kernel drops the lock when the holder dies, however it dies, so
a stale lock cannot block gating — the next app that polls starts a fresh watcher.

Why it dies with its parent: a watcher started by an app is told the app's pid (``SBS_PARENT_PID``) and ends
when that process ends (:mod:`sbs_tui.core.lifeline`), also after ``kill -9`` or a closed terminal.

Used by the annotator app (:mod:`sbs_tui.tui.annotate.app`), ``sbs gate --watch`` (:func:`hold_lock`) and
``bench/bench_tui_gating.py``, so the benchmark measures the path the product takes.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from sbs_tui.core.lifeline import PARENT_ENV

try:  # POSIX; elsewhere there is no lock and every starter gets its own watcher, as before
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


_LOCK_TRIES = 10


def lock_path(db_path: str | os.PathLike[str]) -> Path:
    return Path(f"{db_path}.gate.lock")


def watcher_command(db_path: str | os.PathLike[str], config_path: str | None = None, *,
                    interval: float = 3.0) -> list[str]:
    """The argv of the background pre-filter (its own Python, so nothing heavy loads in the caller)."""
    argv = [sys.executable, "-m", "sbs_tui", "--db", str(db_path)]
    if config_path:
        argv += ["--config", str(config_path)]
    return [*argv, "gate", "--watch", "--interval", f"{interval:g}"]


def running_watcher(db_path: str | os.PathLike[str]) -> int | None:
    """The pid of the watcher gating this database now (0 when its pid is unknown), or None when there is none."""
    if fcntl is None:
        return None
    try:
        fd = os.open(lock_path(db_path), os.O_RDONLY)
    except OSError:  # no lock file: no watcher has ever run here
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(fd)
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_pid(fd: int) -> int:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


@dataclass
class WatcherLock:
    """Held by the running watcher; ``acquired`` False means another watcher (``holder``) has the database."""

    acquired: bool
    holder: int | None = None
    _fd: int | None = None

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None

    def __enter__(self) -> WatcherLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def hold_lock(db_path: str | os.PathLike[str]) -> WatcherLock:
    """Take the database's watcher lock for this process (``sbs gate --watch``), writing our pid into it.

    Where the lock file cannot be created (a read-only folder), the watcher runs unlocked: gating then is no
    worse than before the lock existed.
    """
    if fcntl is None:
        return WatcherLock(True)
    try:
        fd = os.open(lock_path(db_path), os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:
        return WatcherLock(True)
    for attempt in range(_LOCK_TRIES):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            # An app checking for a watcher holds a shared lock for microseconds: only a lock held across
            # several tries is another watcher.
            if attempt == _LOCK_TRIES - 1:
                holder = _read_pid(fd)
                os.close(fd)
                return WatcherLock(False, holder)
            time.sleep(0.05)
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    return WatcherLock(True, os.getpid(), fd)


def start_watcher(db_path: str | os.PathLike[str], config_path: str | None = None, *, interval: float = 3.0,
                  log_path: str | os.PathLike[str] | None = None,
                  die_with_parent: bool = True) -> subprocess.Popen[bytes]:
    """Start ``sbs gate --watch`` as a subprocess; progress is appended to ``log_path`` (or discarded).

    The child gets its own session (a Ctrl-C meant for the app does not reach it) and, with ``die_with_parent``,
    this process's pid so it ends when this process does. Stop it with ``proc.terminate()`` (SIGTERM: it finishes
    the current batch and exits 0) and ``proc.wait()``.
    """
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    if die_with_parent:
        env[PARENT_ENV] = str(os.getpid())
    else:
        env.pop(PARENT_ENV, None)
    argv = watcher_command(db_path, config_path, interval=interval)
    if not log_path:
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True, env=env)
    with open(log_path, "ab") as log:  # the child keeps its own descriptor
        return subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                                start_new_session=True, env=env)


def ensure_watcher(db_path: str | os.PathLike[str], config_path: str | None = None, *, interval: float = 3.0,
                   log_path: str | os.PathLike[str] | None = None) -> subprocess.Popen[bytes] | None:
    """Start a watcher for this database unless one is running already (then None: that one does the work).

    Two starters racing past the check both start one; the second finds the lock taken and exits 0 at once.
    """
    if running_watcher(db_path) is not None:
        return None
    return start_watcher(db_path, config_path, interval=interval, log_path=log_path)
