"""One ``sbs gate`` pass over many pending generations, its batches scored in forked worker processes (issue 22).

Why processes: the default gates are Python (VADER, the lexicon's scan, the sentence splitter) around C calls that
hold the GIL (fastText, the profanity model's sparse products), so one process uses one core however many the
machine has; a thread pool would not help. With ``--workers`` (default: one per core on a large pass) this process
reads the pending rows and their cached results, hands batches to the workers, and settles each batch as its scores
come back — in the order read, one short transaction per batch, as the sequential loop does. By default workers
are forked only onto cores the load average says are spare (:func:`workers_for`).

Why fork: the runner is built once, here, with its models loaded and its first calls made; forked workers inherit
it (copy-on-write: nothing is loaded again, the first batch is scored at once). Forking is only done when every
gate's scorer says it can be (``fork_safe``: in-process CPU work, no threads of its own, no sockets, no torch) and
before any other thread starts (the progress bar's starts after). Any other gate set — a torch model, an HTTP
endpoint — scores in this process, as before; so does ``--watch``, which shares the machine with annotators.

Same results: the batches are the same rows in the same order, each scored by ``GateRunner.evaluate`` with the
cached results read before it, and written by the same code (``runner.settle_batch``): the database ends
identical (tests/test_gate_parallel.py compares two databases). A worker's error ends the pass as it would in this
process; what was settled before stays settled. On Ctrl+C (the workers ignore it) no new batch is read; the
batches already handed out are settled, then the pass stops.
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from sbs_tui.core.gates import runner as gating
from sbs_tui.errors import ExitCode, SbsError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store


class WorkerDied(SbsError):
    """A worker process ended without its batch (killed, out of memory): what was settled stays settled."""

    exit_code = ExitCode.CHECK_FAILED

#: Below this many pending generations (about a second of work) a pass scores in this process: starting two
#: workers took 0.1-0.14 s of wall time (30 ms of CPU) on the loaded 2-core machine, and each worker warms its
#: own caches (the lexicon's words, VADER's tokens) again.
MIN_PENDING = 2000
#: Batches handed out ahead per worker, so a worker never waits for this process to read or write.
AHEAD = 2

_RUNNER: gating.GateRunner | None = None  # what a forked worker scores with (set just before the fork)


def cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def not_forkable(runner: gating.GateRunner) -> list[str]:
    """The gates whose scorer does not declare ``fork_safe`` (or [] when every one does)."""
    return [g.name for g in runner.gates if not getattr(runner.scorer(g), "fork_safe", False)]


def spare_cores() -> float:
    """Cores not busy with other work: the cores less the 1-minute load average (``make -l``'s measure)."""
    try:
        return cores() - os.getloadavg()[0]
    except OSError:  # no load average: assume the machine is ours
        return float(cores())


def workers_for(runner: gating.GateRunner, pending: int, batch_size: int, requested: int = 0,
                log: Callable[[str], None] | None = None) -> int:
    """How many worker processes score this pass: ``requested``, never more than there are batches; 1 (this
    process) where fork is unavailable or a gate cannot be forked.

    ``requested`` 0 (the default) forks only when ``pending`` reaches :data:`MIN_PENDING` and at least one core is
    spare, and then one worker per spare core plus one, at most one per core. Why the load: workers cost ~10-15 %
    more CPU in all (each warms its own caches; the parent reads, hands out and writes), which a free core repays
    and a busy one does not — at a load of 7 on 2 cores, two workers ran at 0.84x one process's rate
    (docs/benchmarks.md)."""
    if requested == 1 or "fork" not in multiprocessing.get_all_start_methods():
        return 1
    spare = spare_cores() if not requested else 0.0
    wanted = requested or (min(cores(), int(spare) + 1) if pending >= MIN_PENDING and spare >= 1 else 1)
    wanted = min(wanted, -(-pending // batch_size))
    if wanted <= 1:
        return 1
    blocked = not_forkable(runner)
    if blocked:
        if log is not None and requested:
            log(f"scoring in this process: gate(s) {', '.join(blocked)} cannot be forked into workers")
        return 1
    if log is not None:
        log(f"scoring in {wanted} worker processes")
    return wanted


def _warm(runner: gating.GateRunner) -> None:
    """Load what scorers load on first use (language ID's models), so the workers inherit it loaded."""
    if runner.identify_languages and runner.has_blocking:
        from scorers.language import MAX_CHARS, identify_parts

        line = "A warm-up paragraph, in English, long enough to be read in parts.\n"
        identify_parts(line * (MAX_CHARS * 4 // len(line) + 1))


def _quiet_worker() -> None:
    """A worker leaves Ctrl+C to the parent (which settles what was handed out) and dies on SIGTERM."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _evaluate(items: Sequence[Any], cached: dict[str, dict[int, Any]]) -> list[Any]:
    assert _RUNNER is not None, "a gate worker runs in a process forked by scoring_pool"
    return _RUNNER.evaluate(items, cached)


@contextmanager
def scoring_pool(runner: gating.GateRunner, workers: int) -> Iterator[ProcessPoolExecutor | None]:
    """``workers`` forked processes that score with ``runner`` (None for 1: score in this process). Start it
    before any other thread; the workers are stopped on exit. A process pool from ``concurrent.futures``, not
    ``multiprocessing.Pool``: a worker that dies (killed, out of memory) breaks the pool with an error instead of
    leaving its batch's result to be waited for forever."""
    global _RUNNER
    if workers <= 1:
        yield None
        return
    _warm(runner)
    _RUNNER = runner
    # Frozen objects are left alone by the collector: a worker's collections do not touch (and so copy) every
    # page of the models and modules it shares with this process.
    gc.freeze()
    try:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("fork"),
                                   initializer=_quiet_worker)
        pool.submit(int).result()  # with fork, the first task forks every worker: now, before any other thread
    finally:
        _RUNNER = None  # the workers have their copy; this process scores nothing itself
        gc.unfreeze()
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # batches being scored finish (one each); the rest are dropped


def gate_pending(store: Store, runner: gating.GateRunner, pool: ProcessPoolExecutor, *, batch_size: int = 64,
                 stop: threading.Event | None = None,
                 on_batch: Callable[[gating.GateProgress, int], None] | None = None) -> gating.GateProgress:
    """:func:`sbs_tui.core.gates.runner.gate_pending` with the scoring done by ``pool``'s workers."""
    progress = gating.GateProgress()
    ahead = AHEAD * pool._max_workers  # type: ignore[attr-defined]
    inflight: deque[tuple[list[dict[str, Any]], int, Any]] = deque()
    after, more = 0, True
    while True:
        while more and len(inflight) < ahead and (stop is None or not stop.is_set()):
            rows = store.generations.pending(limit=batch_size, after_id=after)
            if not rows:
                more = False
                break
            after = rows[-1]["id"]
            items, cached, reused = gating.prepare_batch(store, runner, rows)
            inflight.append((rows, reused, pool.submit(_evaluate, items, cached)))
        if not inflight:
            return progress
        rows, reused, scored = inflight.popleft()
        try:
            outcomes = scored.result()
        except BrokenProcessPool as exc:
            raise WorkerDied(f"a gate worker process died ({exc}); {progress.scored:,} generation(s) were settled, "
                             "the rest are still pending: run sbs gate again (--workers 1 scores in one process)"
                             ) from exc
        gating.settle_batch(store, runner, rows, outcomes)
        gating.count_batch(progress, outcomes, reused)
        if on_batch is not None:
            on_batch(progress, len(rows))
