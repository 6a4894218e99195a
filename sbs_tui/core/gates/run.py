"""Running the gates as a process does it: the runner from settings, one pass over what is pending, or the watcher.

Why apart from :mod:`sbs_tui.core.gates.runner` (the policy and the loops): this is the orchestration that used to sit
in the ``sbs gate`` click callback — which gates, building every scorer before anything is marked, ``--regate``,
signal handling, CPU priority, the one-watcher-per-database lock and dying with the app that started it — so that
``sbs gate`` is one call, and ``sbs score`` builds its runner the same way without importing another command.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sbs_tui.core.gates import parallel, policy
from sbs_tui.core.gates import runner as gating

if TYPE_CHECKING:
    from sbs_tui.core.gates.scoring import ScoreProgress
    from sbs_tui.core.settings import Settings
    from sbs_tui.core.gates.scoring import ScoreSummary
    from sbs_tui.core.store import Store

Log = Callable[[str], None]


def build_runner(settings: Settings, *, only: Sequence[str] | None = None, references: Sequence[str] = (),
                 log: Log | None = None) -> gating.GateRunner:
    """The gate policy (config + defaults + ``--gates``/``--reference`` choices) as a runner whose scorers are all
    built: a bad config fails here, before any generation is marked or any output written."""
    gates = policy.load_policy(settings, only=list(only) if only else None, references=list(references))
    runner = gating.GateRunner(gates, log=log, source=getattr(settings, "source", None),
                               uncovered=policy.uncovered_policy(settings),
                               unchecked=policy.unchecked_policy(settings),
                               required=policy.required_categories(settings, gates))
    for gate in runner.gates:
        runner.scorer(gate)
    return runner


def score_with_policy(settings: Settings, files: Sequence[str], *, only: Sequence[str] | None = None,
                      references: Sequence[str] = (), log: Log | None = None, **options: Any) -> ScoreSummary:
    """``sbs score`` as one call: the gate policy as a runner (:func:`build_runner`: a bad config fails here,
    before any output is written), then :func:`sbs_tui.core.gates.scoring.score_generations` with ``options``."""
    from sbs_tui.core.gates.scoring import score_generations

    runner = build_runner(settings, only=only, references=references, log=log)
    return score_generations(runner, files, log=log, **options)


@dataclass
class GateRun:
    """What ``sbs gate`` did: the runner used, what was gated, and (without ``--watch``) the per-model pass rates."""

    runner: gating.GateRunner | None
    progress: gating.GateProgress = field(default_factory=gating.GateProgress)
    rates: list[dict[str, Any]] | None = None
    other_watcher: int | None = None  # with --watch: the pid of the watcher already gating this database
    #: Safety categories no enabled blocking gate checked, per language (without ``--watch``).
    unchecked: list[Any] = field(default_factory=list)
    interrupted: bool = False  # a single pass stopped by SIGINT/SIGTERM after a whole batch
    pending: int = 0  # generations still pending when it stopped


def run_gate(db_path: str, open_store: Callable[[], Store], settings: Settings, *, only: Sequence[str] | None = None,
             references: Sequence[str] = (), watch: bool = False, interval: float = 3.0, batch_size: int = 32,
             niceness: int = 0, regate: bool = False, log: Log,
             progress: ScoreProgress | None = None, workers: int = 0) -> GateRun:
    """Gate the pending generations once (then compute pass rates), or keep watching until SIGTERM/SIGINT.

    One pass counts what is pending first: ``progress`` (a bar on a terminal) gets that total and every batch;
    without it, a line every few seconds says how many of the total are done, the rate and the time left.
    ``workers``: processes that score a single pass (0: one per core on a large pass; 1: this process), see
    :mod:`sbs_tui.core.gates.parallel`; ``--watch`` always scores in its own process.

    With ``watch``: only one watcher per database (the first holds the lock; a later one logs who has it and
    returns ``other_watcher``), and when started by an app (``SBS_PARENT_PID``) it stops when that app dies.
    """
    from sbs_tui.core import lifeline
    from sbs_tui.core.gates import watcher as gate_watcher

    stop = threading.Event()
    lock = None
    if watch:
        lock = gate_watcher.hold_lock(db_path)
        if not lock.acquired:
            holder = f" (pid {lock.holder})" if lock.holder else ""
            log(f"a gate watcher is already running for {db_path}{holder}; not starting another")
            return GateRun(None, other_watcher=lock.holder or 0)
        parent = lifeline.parent_from_env()
        if parent is not None:
            lifeline.die_with_parent(parent, sig=signal.SIGTERM, on_orphan=stop.set)
    try:
        return _run(open_store, settings, only, references, watch, interval, batch_size, niceness, regate, log,
                    stop, progress, workers)
    finally:
        if lock is not None:
            lock.release()


def _run(open_store: Callable[[], Store], settings: Settings, only: Sequence[str] | None, references: Sequence[str],
         watch: bool, interval: float, batch_size: int, niceness: int, regate: bool, log: Log,
         stop: threading.Event, progress: ScoreProgress | None = None, workers: int = 0) -> GateRun:
    runner = build_runner(settings, only=only, references=references, log=log)
    if not runner.has_blocking:
        log("no blocking gate configured: pending generations are marked passed")
    store = open_store()
    previous = {}
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
        except ValueError:  # not the main thread (e.g. called from a test thread): no handlers
            pass
    started = time.perf_counter()
    last_report = [0.0]
    total: list[int | None] = [None]  # what was pending when a single pass started (None: watching)

    def on_batch(done: gating.GateProgress, n: int) -> None:
        if progress is not None and total[0] is not None:
            progress.advance(n)
            return
        now = time.perf_counter()
        if now - last_report[0] < 2.0:  # a line every two seconds is progress; one per batch is noise
            return
        last_report[0] = now
        log(progress_line(done, total[0], now - started))

    try:
        if regate:
            with store.transaction():
                store.generations.set_gate_status(store.generations.ids(), "pending")
        if watch:
            if niceness and hasattr(os, "nice"):
                try:
                    os.nice(niceness)
                except OSError:
                    pass
            log(f"watching for pending generations every {interval:g}s (stop with SIGTERM or Ctrl-C)")

            def on_error(exc: Exception, wait: float) -> None:
                log(f"gating failed ({type(exc).__name__}: {exc}); generations stay pending, "
                    f"retrying in {wait:.0f}s")

            watched = gating.watch(store, runner, interval=interval, batch_size=batch_size, stop=stop,
                                   on_batch=on_batch, on_error=on_error)
            log("gate watcher stopped")
            return GateRun(runner, watched)
        pending = total[0] = store.generations.count_pending()
        workers = parallel.workers_for(runner, pending, batch_size, workers, log)
        with parallel.scoring_pool(runner, workers) as pool:  # forked before the progress bar's thread starts
            if progress is not None:
                progress.start(pending)
            try:
                done = (gating.gate_pending(store, runner, batch_size=batch_size, stop=stop, on_batch=on_batch)
                        if pool is None else
                        parallel.gate_pending(store, runner, pool, batch_size=batch_size, stop=stop,
                                              on_batch=on_batch))
            finally:
                if progress is not None:
                    progress.stop()
        if stop.is_set():  # Ctrl+C: what is done is committed; the caller says what is left, not a summary
            return GateRun(runner, done, interrupted=True, pending=store.generations.count_pending())
        log(f"gated {done.scored:,} generation(s): {done.passed:,} passed, {done.blocked:,} blocked, "
            f"{done.held:,} held for review ({done.reused:,} cached gate results reused)")
        from sbs_tui.core.gates.coverage import from_store

        return GateRun(runner, done, gating.pass_rates(store, runner.gates), unchecked=from_store(store))
    finally:
        store.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def progress_line(done: gating.GateProgress, total: int | None, elapsed: float) -> str:
    """One plain progress line (stderr that is not a terminal): counts, of how many, rate and time left."""
    rate = done.scored / max(elapsed, 1e-9)
    counts = f"{done.passed:,} passed, {done.blocked:,} blocked, {rate:,.1f}/s"
    if total is None:  # watching: there is no end to count towards
        return f"gated {done.scored:,} ({counts})"
    left = max(total - done.scored, 0)
    eta = f", about {_duration(left / rate)} left" if rate > 0 and left else ""
    return f"gated {done.scored:,} of {total:,} ({counts}{eta})"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
