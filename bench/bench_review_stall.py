#!/usr/bin/env python3
"""The review app's worst UI stall on a 1M-vote database, driven as a lead uses it (issue 11 §3).

A lead opens ``sbs review``, looks at every tab (1–7, plots and blocked included), cycles whose votes the ranking
counts (``v``: humans → judges → all → auto) and refreshes (``r``). Every one of those must leave the screen
responsive: data loads in thread workers, the UI thread only draws. Measured here, under Textual's Pilot
(headless, 120×40), with a ticker *inside the app* firing every 10 ms on the UI thread: the longest gap between
two ticks, less the 10 ms period, is the worst stall — how long a keypress would have waited. Each gap is
attributed to the step that was running (after a key, until every worker finished and the screen settled). Two
idle steps (2 s with nothing asked of the app) give the noise floor: on a loaded machine the OS alone
deschedules the UI thread for that long, and a step's stall means little below it.

Baselines (same run): the same tour on a 10,000-vote database built the same way (``bench_review.build``), so the
number that grows with the database is told apart from the machine's own noise; and the big database with every
tab on a thread worker (``offload_at=None``: the app before its helper processes, see ``review_jobs``).

    python bench/bench_review_stall.py                       # 1,000,000 votes vs 10,000 (built once, bench/out/)
    python bench/bench_review_stall.py --votes 200000        # a smaller contender
    python bench/bench_review_stall.py --before /tmp/base --skip-threads   # another checkout's app, same run

``--before DIR`` runs the same tour on the big database with the app of another checkout (e.g. ``git archive`` of
the branch's base unpacked in DIR) in a child process, before this tree's, so before and after share the machine's
load; ``--code DIR`` is what that child runs (the app imported from DIR). Besides the worst stall, the 99th
percentile of the ticker's lateness over the whole tour, the most CPU time the UI thread itself spent between two
ticks (``worst_ui_cpu_ms``: the app's own share of a stall; on a loaded machine the rest of a gap is the OS
running other processes, or a worker thread holding the GIL), and the machine's load average at start and end.

Prints JSON, then a table (stderr): per step, the worst stall on each database.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_review import OUT, build  # noqa: E402

PERIOD = 0.01
TOUR = [("idle 2 s (noise floor)", None), ("tab 2 agreement", "2"), ("tab 3 queue", "3"), ("tab 4 gates & funnel", "4"), ("tab 5 votes", "5"),
        ("tab 6 plots", "6"), ("tab 7 blocked", "7"), ("tab 1 ranking", "1"), ("v judges", "v"), ("v all", "v"),
        ("v auto", "v"), ("v humans", "v"), ("r refresh all", "r"), ("tab 6 plots after r", "6"),
        ("tab 5 votes after r", "5"), ("idle 2 s again (noise floor)", None)]


def database(votes: int, *, prompts: int, models: int, annotators: int) -> Path:
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"review_{votes}_{prompts}_{models}_{annotators}.db"
    if not path.exists():
        started = time.perf_counter()
        build(path, votes=votes, prompts=prompts, models=models, annotators=annotators)
        print(f"built {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    return path


async def tour(path: Path, settle: float = 0.3, profile: bool = False, **app_options) -> dict:
    """Drive the app through TOUR; the worst gap of a 10 ms UI ticker per step (ms beyond the period).
    ``profile``: also sample the UI thread's stack in every stall (``bench/stall_profile.py``), under "profile"."""
    from bench.stall_profile import StallProfiler
    from sbs_tui.config import Settings
    from sbs_tui.tui.review.app import make_review_app

    app = make_review_app(path, Settings(), **app_options)
    worst: dict[str, float] = {}
    busiest: dict[str, float] = {}
    lateness: list[float] = []
    state = {"step": "open (first load of every tab)", "last": 0.0, "cpu": 0.0}

    def tick() -> None:
        now, cpu = time.perf_counter(), time.thread_time()
        stall = now - state["last"] - PERIOD
        busy = cpu - state["cpu"]  # CPU the UI thread itself spent since the last tick: the app's own share
        state["last"], state["cpu"] = now, cpu
        worst[state["step"]] = max(worst.get(state["step"], 0.0), stall)
        busiest[state["step"]] = max(busiest.get(state["step"], 0.0), busy)
        lateness.append(max(stall, 0.0))

    async def settled() -> float:
        """Wait until no worker runs and the screen had a quiet moment; returns the seconds it took."""
        started = time.perf_counter()
        while any(not w.is_finished for w in app.workers):
            await pilot.pause(0.02)
        await pilot.pause(settle)
        return time.perf_counter() - started

    steps: dict[str, float] = {}
    async with app.run_test(size=(120, 40)) as pilot:
        profiler = StallProfiler(step=lambda: state["step"]) if profile else None
        if profiler:
            profiler.start()
        state["last"], state["cpu"] = time.perf_counter(), time.thread_time()
        app.set_interval(PERIOD, tick, name="stall-ticker")
        steps[state["step"]] = await settled()
        for label, key in TOUR:
            state["step"] = label
            if key is None:  # nothing asked of the app: what the machine's own load costs the ticker
                started = time.perf_counter()
                await pilot.pause(2.0)
                steps[label] = time.perf_counter() - started
                continue
            await pilot.press(key)
            steps[label] = await settled()
        ranked_by = app.ranking.options.voters
        heap = len(gc.get_objects())  # what a full collection on the UI thread walks
        if profiler:
            profiler.stop()
    gc.collect()
    return {"steps": {k: {"worst_stall_ms": round(1000 * max(worst.get(k, 0.0), 0.0), 1),
                          "worst_ui_cpu_ms": round(1000 * busiest.get(k, 0.0), 1),
                          "seconds": round(v, 2)} for k, v in steps.items()},
            "worst_ui_cpu_ms": round(1000 * max(busiest.values()), 1),
            "worst_stall_ms": round(1000 * max(worst.values()), 1),
            "p99_stall_ms": round(1000 * sorted(lateness)[int(0.99 * (len(lateness) - 1))], 1),
            "heap_objects": heap, "worst_step": max(worst, key=worst.__getitem__), "final_voters": ranked_by,
            "app_code": str(Path(sys.modules["sbs_tui"].__file__).resolve().parents[1]),
            **({"profile": profiler.report()} if profiler else {})}


def before(code: str, args: argparse.Namespace) -> dict:
    """The contender tour with the app of the checkout at ``code``, in a child process (its own imports)."""
    command = [sys.executable, __file__, "--code", code, "--contender-only", "--votes", str(args.votes),
               *(["--profile", args.profile] if args.profile else []), "--prompts", str(args.prompts), "--models", str(args.models), "--annotators", str(args.annotators)]
    env = {**os.environ, "PYTHONPATH": code}
    return json.loads(subprocess.run(command, env=env, check=True, capture_output=True, text=True).stdout)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--baseline-votes", type=int, default=10_000)
    parser.add_argument("--prompts", type=int, default=5_000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--before", metavar="DIR", help="also tour the big database with the app in DIR, first")
    parser.add_argument("--skip-threads", action="store_true", help="leave out the every-tab-on-a-thread tour")
    parser.add_argument("--profile", metavar="FILE", help="sample the UI thread's stack in every stall over 50 ms of "
                        "the 1M tours (this app's, and --before's), report to FILE (JSON; a watchdog thread runs "
                        "alongside, so compare stall figures of runs without it)")
    parser.add_argument("--code", metavar="DIR", help=argparse.SUPPRESS)  # the child of --before
    parser.add_argument("--contender-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    shape = {"prompts": args.prompts, "models": args.models, "annotators": args.annotators}
    if args.code:
        sys.path.insert(0, str(Path(args.code).resolve()))
    big_db = database(args.votes, **shape)
    if args.contender_only:
        print(json.dumps(asyncio.run(tour(big_db, profile=bool(args.profile)))))
        return
    load = {"start": [round(x, 2) for x in os.getloadavg()]}
    base_db = database(args.baseline_votes, **shape)
    old = before(args.before, args) if args.before else None
    baseline = asyncio.run(tour(base_db))
    threads = None if args.skip_threads else asyncio.run(tour(big_db, offload_at=None))  # every tab on a thread
    contender = asyncio.run(tour(big_db, profile=bool(args.profile)))
    if args.profile:
        profiles(args.profile, contender, old)
    load["end"] = [round(x, 2) for x in os.getloadavg()]
    result = {"baseline": {"database": base_db.name, "votes": args.baseline_votes, **baseline},
              **({"threads_only": {"database": big_db.name, "votes": args.votes, **threads}} if threads else {}),
              **({"before": {"code": args.before, "database": big_db.name, "votes": args.votes, **old}} if old else {}),
              "contender": {"database": big_db.name, "votes": args.votes, **contender},
              "worst_stall_ratio_vs_baseline": round(contender["worst_stall_ms"]
                                                     / max(baseline["worst_stall_ms"], 1e-9), 2),
              "load_average_1_5_15": load, "cpus": os.cpu_count()}
    print(json.dumps(result, indent=2))
    table(result, args)


def profiles(path: str, contender: dict, old: dict | None) -> None:
    """Write the stall profiles (this app's and --before's) to ``path`` and print where the stalled ms went; the
    JSON on stdout keeps everything but the collapsed stacks."""
    from bench.stall_profile import print_report

    runs = {"contender": contender.get("profile"), **({"before": old.get("profile")} if old else {})}
    Path(path).write_text(json.dumps(runs, indent=1))
    for label, report in runs.items():
        if report:
            print(f"\n== {label} ==", file=sys.stderr)
            print_report(report)
    for run in (contender, old):
        if run and run.get("profile"):
            run["profile"].pop("collapsed", None)


def table(result: dict, args: argparse.Namespace) -> None:
    """Per step, the worst stall on each database (and with each app), seconds the step took in brackets."""
    a, b = f"{args.baseline_votes // 1000:,}k", f"{args.votes // 1000:,}k"
    runs = [(a + " app", result["baseline"])] + [(f"{b} {label}", result[key]) for key, label in
                                                  (("threads_only", "threads"), ("before", "before"),
                                                   ("contender", "app")) if key in result]
    print(f"\nworst UI stall, ms beyond the 10 ms tick (seconds the step took)\n{'step':<32}"
          + "".join(f"{label:>20}" for label, _ in runs), file=sys.stderr)
    for step in result["contender"]["steps"]:
        cells = []
        for _, run in runs:
            r = run["steps"].get(step, {})
            cells.append(f"{r.get('worst_stall_ms')!s:>10} ({r.get('seconds')!s:>6})")
        print(f"{step:<32}" + "".join(f"{c:>20}" for c in cells), file=sys.stderr)
    print(f"{'worst':<32}" + "".join(f"{run['worst_stall_ms']:>20}" for _, run in runs), file=sys.stderr)
    print(f"{'p99 (whole tour)':<32}" + "".join(f"{run['p99_stall_ms']:>20}" for _, run in runs), file=sys.stderr)
    print(f"{'worst UI-thread CPU in a gap':<32}" + "".join(f"{run['worst_ui_cpu_ms']:>20}" for _, run in runs),
          file=sys.stderr)
    print(f"load average (1, 5, 15 min) {result['load_average_1_5_15']} on {result['cpus']} CPUs", file=sys.stderr)


if __name__ == "__main__":
    main()
