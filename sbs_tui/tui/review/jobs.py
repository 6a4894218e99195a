"""Where a review tab's computation runs: on a thread for a small database, in a helper process for a large one.

Why a process: a thread worker keeps the work off the UI thread's *turn*, but not off its *GIL*. Some steps hold
the GIL for a long stretch without running a line of Python — numpy sorting a record array, building an array
from a million tuples, or freeing a million objects when a computation ends — and the UI thread waits all that
time. Measured on a 1M-vote database (``bench/bench_review_stall.py``): a full refresh froze the screen for up to
2.3 s with thread workers (the agreement statistics' teardown 1.4 s, the plots' convergence sort up to 1.7 s). In
a process the UI thread only waits for a pipe. On a small database a process costs more than it saves (its start
and its imports, ~1 s once), so below :data:`OFFLOAD_AT` votes the work stays on the thread.

A job is a picklable callable (a module-level function, or a ``functools.partial`` of one, from
:mod:`sbs_tui.core.views`, run by ``on_db``) and returns plain data. The processes are spawned (never forked from a process
running Textual's threads), ignore the terminal's Ctrl+C (the app owns the terminal and quits them itself), write
nothing to it, and die with the app (:mod:`sbs_tui.core.lifeline`) even when it is killed.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

OFFLOAD_AT = 100_000  # votes (by the largest vote id: cheap, an overestimate only after deletions)
PROCESSES = 2  # tabs computed at once in processes; a full refresh queues the rest
NICE = 10  # how much lower the helpers' CPU priority is than the app's (os.nice increment)


class Cancelled(Exception):
    """The job was superseded (or the app is quitting) before its result came back."""


def _child_init(parent_pid: int) -> None:
    import signal

    from sbs_tui.core.lifeline import die_with_parent

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    lower_priority()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    die_with_parent(parent_pid, grace=0.0)


def lower_priority(increment: int = NICE) -> None:
    """Give this helper process a lower CPU priority than the app's UI thread.

    Why: two helpers computing keep both cores of a 2-core machine busy, and the UI thread — woken for a frame
    or a key — then waited for a core: the stall profiler (``bench/stall_profile.py``) found the UI thread *on*
    the CPU for 16–48 ms of 145–264 ms stalls at 1M votes, the machine's two CPUs busy throughout. At nice 10 the
    kernel gives a nice-0 thread about 10× a helper's share, so a frame is drawn at once and the helpers take the
    time the screen leaves. Unprivileged (raising a nice value needs no rights); a failure leaves it as it was.
    """
    try:
        os.nice(increment)
    except OSError:
        pass


def vote_count_estimate(path: str) -> int:
    """The database's largest vote id: how big the computations will be, at the cost of one index lookup."""
    from sbs_tui.core.store import Store, StoreError

    if not os.path.exists(path):
        return 0  # nothing to open (and nothing to create here)
    try:
        with Store(path) as store:
            return store.votes.last_id()
    except (StoreError, sqlite3.Error):
        return 0


def _start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker with a quiet stderr before the first spawn.

    Why: spawning starts the tracker on demand and hands it ``sys.stderr.fileno()``; inside a running Textual app
    ``sys.stderr`` is Textual's print capture, whose descriptor is not a real one, and every spawn failed with
    "bad value(s) in fds_to_keep". The tracker gets /dev/null instead: its warnings must not draw over the app.
    """
    import sys
    from multiprocessing import resource_tracker

    with open(os.devnull, "w") as sink:
        saved, sys.stderr = sys.stderr, sink
        try:
            resource_tracker.ensure_running()
        finally:
            sys.stderr = saved


class JobRunner:
    """Runs review jobs: ``run(job, cancelled)`` from a worker thread; ``close()`` when the app ends."""

    def __init__(self, offload_at: int | None = OFFLOAD_AT, processes: int = PROCESSES):
        self.offload_at = offload_at  # None: never use a process
        self.processes = processes
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self._closed = False

    def offloads(self, path: str) -> bool:
        return self.offload_at is not None and vote_count_estimate(path) >= self.offload_at

    def _executor(self) -> ProcessPoolExecutor:
        import multiprocessing

        with self._lock:
            if self._closed:
                raise Cancelled
            if self._pool is None:
                _start_resource_tracker()
                self._pool = ProcessPoolExecutor(self.processes, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_child_init, initargs=(os.getpid(),))
            return self._pool

    def run(self, job: Callable[[], Any], cancelled: Callable[[], bool], path: str) -> Any:
        """``job()`` in a helper process when the database at ``path`` is large, else here. Waits in short
        steps so a superseded job frees its thread at once (its process finishes it, unseen)."""
        if not self.offloads(path):
            return job()
        future: Future[Any] = self._executor().submit(job)
        while True:
            if cancelled() or self._closed:
                future.cancel()
                raise Cancelled
            try:
                return future.result(timeout=0.1)
            except FutureTimeout:
                continue

    def close(self) -> None:
        """End the helper processes now (a long computation must not outlive the app)."""
        with self._lock:
            self._closed = True
            pool, self._pool = self._pool, None
        if pool is None:
            return
        processes = list(getattr(pool, "_processes", {}).values())  # no public way to stop a running job
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
