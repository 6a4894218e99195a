#!/usr/bin/env python3
"""Annotator app latency on a large database: keypress → vote committed → next pair rendered.

Database: ``--prompts`` × ``--models`` generations (default 12,500 × 8 = 100k, answers are real AlpacaEval outputs
from ../shared/data when present) and ``--votes`` imported votes (default 1M), queue built at overlap 3 (350k
pairs). It is built once into ``bench/out/`` and reused.

Measured in one run, all under Textual's Pilot (headless, same machine):

* floor    — the harness floor: a trivial app whose key handler updates one Static (what any keypress costs);
* vote     — the annotator app: press ``1`` … until the next pair is drawn (markdown rendering, the default);
* vote_raw — the same with raw text (``m``, or ``[annotate] markdown = false``);
* store    — the store's share of each vote: ``AnnotatorQueue.vote`` (INSERT + COMMIT) + ``next_pair`` (choose,
  claim, load), timed inside the app;
* cold     — a fresh process: interpreter start → first pair drawn.

Usage: python bench/bench_tui.py [--presses 200] [--prompts 12500] [--votes 1000000] [--rebuild]
Prints JSON then a table. Goals: vote p95 ≤ 1.5 × floor p95; store p95 ≤ 5 ms; cold start ≤ 1.0 s.
"""

from __future__ import annotations

import argparse
import asyncio
import glob
import json
import os
import random
import statistics
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

OUT = ROOT / "bench" / "out"
ALPACA = ROOT.parent / "shared" / "data" / "alpaca_eval" / "outputs"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values_s: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values_s]
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 2), "p95_ms": round(percentile(ms, 95), 2),
            "max_ms": round(max(ms), 2)}


# -- database ----------------------------------------------------------------------------------------------------

def real_answers() -> dict[str, list[tuple[str, str]]]:
    answers: dict[str, list[tuple[str, str]]] = {}
    for path in sorted(glob.glob(str(ALPACA / "*.jsonl"))):
        rows = [json.loads(line) for line in open(path, encoding="utf-8")]
        answers[Path(path).stem] = [(r["instruction"], r["output"]) for r in rows]
    return answers


def build_db(path: Path, prompts: int, models: int, votes: int) -> None:
    from sbs_tui.core.queue.build import BuildOptions, build_queue
    from sbs_tui.core.queue.identity import IdentityDetector
    from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
    from sbs_tui.core.store import Store

    started = time.perf_counter()
    if path.exists():
        path.unlink()
    store = Store(path)
    answers = real_answers()
    names = (sorted(answers) + [f"synthetic-{i}" for i in range(models)])[:models]
    rng = random.Random(0)
    batch: list[GenerationRecord] = []
    prompt_ids = []
    for i in range(prompts):
        base = answers[names[0]][i % len(answers[names[0]])][0] if answers else f"Explain topic {i}."
        text = f"{base} (variant {i})"
        pid = prompt_id_for(text)
        prompt_ids.append(pid)
        for m, name in enumerate(names):
            pool = answers.get(name) or answers.get(names[0]) or [("", f"Answer {i} by model {m}. " * 30)]
            batch.append(GenerationRecord(pid, text, name, pool[i % len(pool)][1]))
        if len(batch) >= 20_000:
            with store.transaction():
                store.generations.insert(batch)
            batch = []
    with store.transaction():
        store.generations.insert(batch)
        store.generations.set_gate_status(store.generations.ids(), "passed")
    print(f"  generations: {store.count('generations'):,} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    vbatch: list[VoteRecord] = []
    for k in range(votes):
        a, b = rng.sample(names, 2)
        vbatch.append(VoteRecord(prompt_ids[rng.randrange(prompts)], None, a, b,
                                 rng.choice(("model_a", "model_b", "model_b", "tie")), f"annotator-{k % 200}",
                                 uid=f"bench-{k}", ts="2026-01-01T00:00:00Z"))
        if len(vbatch) >= 50_000:
            with store.transaction():
                store.votes.insert(vbatch)
            vbatch = []
    with store.transaction():
        store.votes.insert(vbatch)
    print(f"  votes: {store.count('votes'):,} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    build_queue(store, BuildOptions(overlap=3, identity=IdentityDetector.default()))
    store.conn.execute("ANALYZE")
    print(f"  pairs: {store.count('pairs'):,} ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    store.close()


# -- measurements ------------------------------------------------------------------------------------------------

async def measure_floor(presses: int) -> list[float]:
    from textual.app import App
    from textual.widgets import Static

    class Trivial(App[None]):
        BINDINGS = [("1", "bump", "bump")]
        count = 0

        def compose(self):
            yield Static("0", id="n")

        def action_bump(self) -> None:
            self.count += 1
            self.query_one("#n", Static).update(str(self.count))

    app = Trivial()
    times = []
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        for _ in range(presses):
            t0 = time.perf_counter()
            await pilot.press("1")
            await pilot.pause()
            times.append(time.perf_counter() - t0)
    return times


async def measure_app(db: Path, presses: int, annotator: str, markdown: bool) -> tuple[list[float], list[float]]:
    from sbs_tui.config import parse_settings
    from sbs_tui.core.queue.annotator import AnnotatorQueue
    from sbs_tui.tui.annotate.app import make_app

    store_times: list[float] = []
    original_vote, original_next = AnnotatorQueue.vote, AnnotatorQueue.next_pair
    current: dict[str, float] = {}

    def timed_vote(self, *args, **kwargs):
        t0 = time.perf_counter()
        try:
            return original_vote(self, *args, **kwargs)
        finally:
            current["vote"] = time.perf_counter() - t0

    def timed_next(self):
        t0 = time.perf_counter()
        try:
            return original_next(self)
        finally:
            if "vote" in current:
                store_times.append(current.pop("vote") + time.perf_counter() - t0)

    AnnotatorQueue.vote, AnnotatorQueue.next_pair = timed_vote, timed_next
    try:
        app = make_app(db, annotator, parse_settings({"annotate": {"markdown": markdown}}), gate_watch=False)
        app.freeze_gc = True  # as run_annotator (sbs annotate) does
        times = []
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            for i in range(presses):
                before = app.screen.pair.pair_id
                t0 = time.perf_counter()
                await pilot.press("1234"[i % 4])
                await pilot.pause()
                times.append(time.perf_counter() - t0)
                assert app.screen.pair is not None and app.screen.pair.pair_id != before
        app.store.close()
    finally:
        AnnotatorQueue.vote, AnnotatorQueue.next_pair = original_vote, original_next
    return times, store_times


COLD = textwrap.dedent("""
    import asyncio, sys, time
    from sbs_tui.config import Settings
    from sbs_tui.tui.annotate.app import make_app

    async def main():
        app = make_app(sys.argv[1], sys.argv[2], Settings(), gate_watch=False)
        async with app.run_test(size=(160, 50)) as pilot:
            await pilot.pause()
            assert app.screen.pair is not None
            print(f"READY {time.time()!r}", flush=True)
        app.store.close()

    asyncio.run(main())
""")


def measure_cold(db: Path, runs: int) -> list[float]:
    times = []
    for i in range(runs):
        t0 = time.time()
        out = subprocess.run([sys.executable, "-c", COLD, str(db), f"cold-{os.getpid()}-{i}"], capture_output=True,
                             text=True, timeout=60, cwd=ROOT)
        line = next((ln for ln in out.stdout.splitlines() if ln.startswith("READY")), None)
        if line is None:
            raise RuntimeError(out.stderr)
        times.append(float(line.split()[1]) - t0)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--prompts", type=int, default=12_500)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--cold-runs", type=int, default=5)
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument("--json-out", type=Path, default=OUT / "bench_tui.json")
    args = parser.parse_args()

    db = OUT / f"bench_tui_{args.prompts}x{args.models}_{args.votes}.db"
    OUT.mkdir(parents=True, exist_ok=True)
    if args.rebuild or not db.exists():
        print(f"building {db.name} …", file=sys.stderr)
        build_db(db, args.prompts, args.models, args.votes)
    from sbs_tui.core.store import Store

    with Store(db) as store:
        sizes = {t: store.count(t) for t in ("generations", "votes", "pairs")}
    run = f"{os.getpid()}-{int(time.time())}"
    floor = asyncio.run(measure_floor(args.presses))
    vote, store_share = asyncio.run(measure_app(db, args.presses, f"bench-md-{run}", markdown=True))
    vote_raw, _ = asyncio.run(measure_app(db, max(20, args.presses // 2), f"bench-raw-{run}", markdown=False))
    cold = measure_cold(db, args.cold_runs)
    result = {
        "benchmark": "tui_keypress_to_next_pair",
        "database": sizes,
        "baseline": "floor (trivial Static update under Pilot)",
        "floor": summary(floor),
        "vote": summary(vote),
        "vote_raw": summary(vote_raw),
        "store": summary(store_share),
        "cold_start": summary(cold),
    }
    result["ratio_vote_p95_over_floor_p95"] = round(result["vote"]["p95_ms"] / result["floor"]["p95_ms"], 2)
    result["ratio_vote_median_over_floor_median"] = round(
        result["vote"]["median_ms"] / result["floor"]["median_ms"], 2)
    result["ratio_raw_p95_over_floor_p95"] = round(result["vote_raw"]["p95_ms"] / result["floor"]["p95_ms"], 2)
    print(json.dumps(result))
    args.json_out.write_text(json.dumps(result, indent=2))
    print(f"\n{'measure':<16}{'median ms':>11}{'p95 ms':>10}{'max ms':>10}", file=sys.stderr)
    for key in ("floor", "vote", "vote_raw", "store", "cold_start"):
        r = result[key]
        print(f"{key:<16}{r['median_ms']:>11.1f}{r['p95_ms']:>10.1f}{r['max_ms']:>10.1f}", file=sys.stderr)
    print(f"vote p95 / floor p95 = {result['ratio_vote_p95_over_floor_p95']:.2f} (goal ≤ 1.5); "
          f"store p95 {result['store']['p95_ms']:.1f} ms (goal ≤ 5); "
          f"cold start p95 {result['cold_start']['p95_ms'] / 1000:.2f} s (goal ≤ 1.0)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
