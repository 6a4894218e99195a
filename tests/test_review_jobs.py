"""The review app's tabs on a large database compute in helper processes: the UI thread keeps its GIL.

Why these tests: a thread worker frees the UI thread's turn but not the GIL, and a step that holds the GIL for a
long stretch (numpy sorting a record array, freeing a million objects) froze the screen for seconds on a
1M-vote database (``bench/bench_review_stall.py``). A catastrophic regular expression stands in for such a step:
it holds the GIL without running a line of Python.
"""

from __future__ import annotations

import os
import re
import threading
import time
from functools import partial

import pytest
from tests.review_helpers import build_review_db

from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.core.views import on_db
from sbs_tui.core.views.ranking import ranking_view
from sbs_tui.tui.review.jobs import Cancelled, JobRunner


def hold_gil(n: int = 26) -> int:
    """Seconds of backtracking inside the regex engine, which never releases the GIL. Long (≈ 2.5 s idle) so the
    GIL-held gap dwarfs what a loaded machine's scheduler alone does to a sleeping thread (a 0.6 s hold failed
    the comparison once in a full run on a machine with load ≈ 5)."""
    re.match(r"(a+)+$", "a" * n + "b")
    return os.getpid()


def worst_gap(run, thread_class=threading.Thread) -> float:
    """The longest a 10 ms sleep loop on this thread waited while ``run`` ran on another thread.

    The gap that ends when ``run`` is done counts too: the thread can take the GIL before this one's first turn
    (on a loaded machine, in a full test run) and hold it until it is done, and the loop then never ran at all —
    before, that returned 0.0 and the test failed its own precondition ("on_thread 0.0 > 0.5")."""
    done = threading.Event()
    thread = thread_class(target=lambda: (run(), done.set()))
    worst, last = 0.0, time.perf_counter()
    thread.start()
    while True:
        finished = done.is_set()
        if not finished:
            time.sleep(0.01)
        now = time.perf_counter()
        worst, last = max(worst, now - last - 0.01), now
        if finished:
            break
    thread.join()
    return worst


class FirstThread(threading.Thread):
    """A thread that runs to its end before ``start`` returns: the caller gets no turn meanwhile (the worst
    schedule a loaded machine can give the sampler above)."""

    def start(self) -> None:
        super().start()
        self.join()


def test_a_hold_that_starts_before_the_samplers_first_turn_is_measured() -> None:
    """The flaky failure's cause, forced: ``run`` is over before the sampling loop's first turn."""
    assert worst_gap(lambda: time.sleep(0.3), thread_class=FirstThread) >= 0.25
    assert worst_gap(lambda: None, thread_class=FirstThread) < 0.2  # nothing held: no gap made up


@pytest.fixture(scope="module")
def review_db(tmp_path_factory):
    return build_review_db(tmp_path_factory.mktemp("jobs") / "review.db")


def test_a_large_database_computes_in_a_process_and_the_caller_keeps_the_gil(review_db):
    runner = JobRunner(offload_at=0)
    try:
        runner.run(os.getpid, lambda: False, str(review_db))  # the process starts (imports) outside the timing
        pids: list[int] = []
        offloaded = worst_gap(lambda: pids.append(runner.run(hold_gil, lambda: False, str(review_db))))
        assert pids and pids[0] != os.getpid()
    finally:
        runner.close()
    on_thread = worst_gap(lambda: pids.append(JobRunner(offload_at=None).run(hold_gil, lambda: False,
                                                                               str(review_db))))
    assert pids[-1] == os.getpid()
    assert on_thread > 0.5, "the stand-in no longer holds the GIL: the test would prove nothing"
    assert offloaded < on_thread / 3


def test_helper_processes_yield_the_cpu_to_the_app(review_db):
    """The helpers run at a lower CPU priority than the app: two of them computing kept both cores of the 2-core
    machine busy, and the UI thread waited for a core in the worst stalls (bench/stall_profile.py)."""
    from sbs_tui.tui.review.jobs import NICE

    runner = JobRunner(offload_at=0)
    try:
        helper = runner.run(partial(os.nice, 0), lambda: False, str(review_db))  # a helper's own nice value
    finally:
        runner.close()
    assert helper == min(os.nice(0) + NICE, 19) and NICE > 0


def test_small_databases_stay_on_the_thread(review_db):
    assert JobRunner().run(os.getpid, lambda: False, str(review_db)) == os.getpid()  # far below OFFLOAD_AT


def test_a_superseded_job_frees_its_thread_and_close_ends_the_process(review_db):
    runner = JobRunner(offload_at=0)
    runner.run(os.getpid, lambda: False, str(review_db))
    processes = list(runner._pool._processes.values())
    started = time.perf_counter()
    with pytest.raises(Cancelled):
        runner.run(partial(hold_gil, 40), lambda: time.perf_counter() - started > 0.3, str(review_db))
    assert time.perf_counter() - started < 5
    runner.close()
    for process in processes:
        process.join(timeout=10)
        assert not process.is_alive()


APP_SCRIPT = """
import asyncio, json, sys
from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.config import Settings
from sbs_tui.tui.review.app import make_review_app

async def main():
    app = make_review_app(sys.argv[1], Settings(), rank_options=RankRequest(ci="sandwich"), offload_at=0)
    async with app.run_test(size=(140, 50)) as pilot:
        for _ in range(1200):  # the first computation waits for the helper processes to start
            await pilot.pause(0.05)
            panes = list(app.query("ReviewPane"))
            if all(p.handled_token == p.token for p in panes):
                break
        out = {"status": {p.id: p.status_widget().render().plain for p in panes},
               "ranking": app.ranking.result.doc if app.ranking.result else None,
               "pool": app.jobs._pool is not None}
    out["closed"] = app.jobs._pool is None
    print(json.dumps(out))

asyncio.run(main())
"""


def test_the_app_shows_the_same_numbers_computed_in_processes(review_db):
    """Every tab's result crosses the process boundary (pickled) and fills the same widgets. In a fresh
    interpreter, as `sbs review` runs: inside a running app sys.stderr is Textual's capture, which once made
    every spawn fail ("bad value(s) in fds_to_keep") while pytest's own capture hid it."""
    import json
    import subprocess
    import sys

    expected = on_db(str(review_db), ranking_view, RankRequest(ci="sandwich")).doc
    proc = subprocess.run([sys.executable, "-c", APP_SCRIPT, str(review_db)], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": os.getcwd()})
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not [s for s in out["status"].values() if "failed" in s], out["status"]
    assert out["ranking"] == json.loads(json.dumps(expected))
    assert out["pool"] and out["closed"]  # the helper processes were used, and closed with the app
