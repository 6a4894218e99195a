#!/usr/bin/env python3
"""The review app on a large database: how long each tab takes, and whether the screen stays responsive.

Database (built once into ``bench/out/review_*.db``): ``--models`` models answering ``--prompts`` prompts (short
synthetic answers), a queue at overlap 3, and ``--votes`` human votes by ``--annotators`` annotators — each item
(prompt, model pair) judged by 3 of them, so agreement has real work — with known strengths and 10 % ties.

Measured in one run, under Textual's Pilot (headless), against a named baseline:

* per tab — wall time of each tab's computation (the core views of ``sbs_tui.core.views`` run by ``on_db``, what the worker runs);
* lag     — the event loop's worst lateness while a full refresh (``r``: every tab at once) runs in the app's
  thread workers: a 10 ms ticker on the UI thread records how late it fires. This is what a keypress waits for.
* baseline: the same refresh computed *on the UI thread* (what an app without workers would do): its lag.

Usage: python bench/bench_review.py [--votes 200000] [--prompts 5000] [--models 8] [--annotators 20] [--rebuild]
Prints JSON then a table.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"


def _clock(n: int) -> str:
    """A timestamp for the n-th vote: ten votes a second from 10:00 (the queue tab's pace has data)."""
    return f"2026-01-01T{10 + n // 36000 % 12:02d}:{n // 600 % 60:02d}:{n // 10 % 60:02d}Z"


def build(path: Path, *, votes: int, prompts: int, models: int, annotators: int, seed: int = 0) -> None:
    from sbs_tui.core.queue.build import BuildOptions, build_queue
    from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
    from sbs_tui.core.store import Store

    rng = random.Random(seed)
    names = [f"model-{i:02d}" for i in range(models)]
    strength = {m: rng.gauss(0, 1) for m in names}
    people = [f"annotator-{i:02d}" for i in range(annotators)]
    store = Store(path)
    texts = [f"Benchmark prompt {i}: explain item {i}." for i in range(prompts)]
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(t), t, m, f"answer of {m} to {i} " * (3 + i % 9))
                                  for i, t in enumerate(texts) for m in names])
    with store.transaction():
        store.generations.set_gate_status(store.generations.ids(), "passed")
    build_queue(store, BuildOptions(overlap=3, seed=seed))
    batch = []
    made = 0
    while made < votes:
        i = rng.randrange(prompts)
        a, b = rng.sample(names, 2)
        p_b = 1 / (1 + 2.718281828 ** (strength[a] - strength[b]))
        for who in rng.sample(people, 3):
            u = rng.random()
            winner = "tie" if u < 0.1 else ("model_b" if rng.random() < p_b else "model_a")
            batch.append(VoteRecord(prompt_id_for(texts[i]), None, a, b, winner, who,
                                    shown_left=rng.choice(("model_a", "model_b")),
                                    ts=_clock(made),
                                    uid=f"bench-{made}"))
            made += 1
        if len(batch) >= 20_000:
            with store.transaction():
                store.votes.insert(batch)
            batch = []
    if batch:
        with store.transaction():
            store.votes.insert(batch)
    store.close()


def _views() -> Any:
    """Each tab's computation as the review app's worker runs it: a core view on a database path."""
    from types import SimpleNamespace

    from sbs_tui.core.ranking.request import RankRequest
    from sbs_tui.core.views import on_db
    from sbs_tui.core.views import review as reviews
    from sbs_tui.core.views.funnel import funnel_view
    from sbs_tui.core.views.queue import queue_view
    from sbs_tui.core.views.ranking import ranking_view

    return SimpleNamespace(
        RankRequest=RankRequest,
        ranking_view=lambda path, options: on_db(path, ranking_view, options),
        agreement_view=lambda path: on_db(path, reviews.agreement_view),
        queue_view=lambda path: on_db(path, queue_view),
        funnel_view=lambda path: on_db(path, funnel_view),
        votes_view=lambda path: on_db(path, reviews.votes_view))


def per_tab(path: str) -> dict[str, float]:
    data = _views()

    jobs = {
        "ranking (bt, 1000 bootstrap rounds)": lambda: data.ranking_view(path, data.RankRequest()),
        "ranking (bt, sandwich)": lambda: data.ranking_view(path, data.RankRequest(ci="sandwich")),
        "agreement": lambda: data.agreement_view(path),
        "queue": lambda: data.queue_view(path),
        "gates & funnel": lambda: data.funnel_view(path),
        "votes": lambda: data.votes_view(path),
    }
    out = {}
    for label, job in jobs.items():
        started = time.perf_counter()
        job()
        out[label] = time.perf_counter() - started
    return out


async def lag(path: str, *, on_ui_thread: bool) -> dict[str, float]:
    """Worst and 99th-percentile lateness of a 10 ms UI ticker while every tab recomputes."""
    from sbs_tui.config import Settings
    from sbs_tui.tui.review.app import make_review_app

    data = _views()
    app = make_review_app(path, Settings())
    late: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        expected = [time.perf_counter() + 0.01]

        def tick() -> None:
            now = time.perf_counter()
            late.append(max(0.0, now - expected[0]))
            expected[0] = now + 0.01

        app.set_interval(0.01, tick)
        await pilot.pause(0.1)
        late.clear()
        started = time.perf_counter()
        if on_ui_thread:
            # the baseline: the same computations run where a naive app would run them
            await pilot.pause(0.02)
            data.ranking_view(path, data.RankRequest())
            await pilot.pause(0.02)
            data.agreement_view(path)
            data.queue_view(path)
            data.funnel_view(path)
            data.votes_view(path)
            await pilot.pause(0.05)
        else:
            await pilot.press("r")
            while any(not w.is_finished for w in app.workers):
                await pilot.pause(0.02)
            await pilot.pause(0.05)
        total = time.perf_counter() - started
    late.sort()
    return {"refresh_s": total, "max_lag_ms": 1000 * late[-1],
            "p99_lag_ms": 1000 * late[int(0.99 * (len(late) - 1))], "ticks": len(late)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=200_000)
    parser.add_argument("--prompts", type=int, default=5_000)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--rebuild", action="store_true")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    path = OUT / f"review_{args.votes}_{args.prompts}_{args.models}_{args.annotators}.db"
    if args.rebuild or not path.exists():
        path.unlink(missing_ok=True)
        started = time.perf_counter()
        build(path, votes=args.votes, prompts=args.prompts, models=args.models, annotators=args.annotators)
        print(f"built {path.name} in {time.perf_counter() - started:.1f} s", file=sys.stderr)
    tabs = per_tab(str(path))
    workers = asyncio.run(lag(str(path), on_ui_thread=False))
    baseline = asyncio.run(lag(str(path), on_ui_thread=True))
    result = {"database": path.name, "votes": args.votes, "tabs_s": tabs, "refresh_in_workers": workers,
              "baseline_refresh_on_ui_thread": baseline,
              "max_lag_ratio_baseline_over_workers": baseline["max_lag_ms"] / max(workers["max_lag_ms"], 1e-9)}
    print(json.dumps(result, indent=2))
    print(f"\n{'tab':<38}{'wall s':>8}", file=sys.stderr)
    for label, seconds in tabs.items():
        print(f"{label:<38}{seconds:>8.2f}", file=sys.stderr)
    print(f"\n{'full refresh (r)':<38}{'wall s':>8}{'max lag ms':>12}{'p99 lag ms':>12}", file=sys.stderr)
    for label, r in (("in thread workers (the app)", workers), ("on the UI thread (baseline)", baseline)):
        print(f"{label:<38}{r['refresh_s']:>8.2f}{r['max_lag_ms']:>12.0f}{r['p99_lag_ms']:>12.0f}", file=sys.stderr)
    print(f"worst lag ×{result['max_lag_ratio_baseline_over_workers']:.1f} lower in workers", file=sys.stderr)


if __name__ == "__main__":
    main()
