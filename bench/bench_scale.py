"""`sbs score` engines: local (this process) vs Ray (an actor pool on a local Ray), and Ray's per-batch cost.

Measures, on AlpacaEval outputs (the offline default gates: toxicity per sentence + sentiment):

1. local engine — the GateRunner in this process, batch after batch (the baseline, same run);
2. Ray engine — the same gates in an actor pool of ``--workers`` actors (default: one per CPU), Ray already
   started (its start-up is reported on its own: it is paid once per run, or never when joining a cluster);
3. Ray's per-batch overhead — a scorer that does nothing, so the time per batch is Ray's own (scheduling,
   serialisation, object store), at several batch sizes; the slope of time over the number of batches.

    python bench/bench_scale.py                  # 2,000 generations; JSON on stdout, a table on stderr
    python bench/bench_scale.py --n 200 --batch-sizes 16 64    # a quick correctness run

On a 2-core machine Ray cannot win: the local engine already uses a core, and Ray's workers share the same two
cores with the raylet and the driver. What Ray buys is the next machine: throughput grows with workers while
the per-batch overhead stays small against the batch's scoring time.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scorers.base import REGISTRY, ScoreItem, ScoreResult  # noqa: E402
from sbs_tui.core.gates.policy import GateConfig  # noqa: E402
from sbs_tui.core.gates.runner import GateRunner

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval" / "outputs"
SAMPLE = Path(__file__).resolve().parents[1] / "sample_data" / "generations.jsonl"


class NoOp:
    name = "noop"
    higher_is_worse = True
    default_threshold = 1.0

    def __init__(self, spec):
        pass

    def score(self, items):
        return [ScoreResult(0.0) for _ in items]


def build_noop(spec):
    return NoOp(spec)


def load_items(n: int) -> list[tuple[str, str, str | None]]:
    paths = sorted(DATA.glob("*.jsonl")) if DATA.is_dir() else [SAMPLE]
    items = []
    for path in paths:
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            items.append((row.get("instruction") or row.get("prompt") or "", row["output"], None))
    while len(items) < n:
        items = items + items
    return items[:n]


def run_local(gates, items, batch_size: int) -> float:
    runner = GateRunner(gates)
    for gate in gates:
        runner.scorer(gate)  # model loading is not timed on either side
    started = time.perf_counter()
    for start in range(0, len(items), batch_size):
        runner.evaluate([ScoreItem(*it) for it in items[start:start + batch_size]])
    return time.perf_counter() - started


def run_ray(gates, items, batch_size: int, workers: int | None) -> float:
    from sbs_tui.core.gates.scoring_ray import score_with_ray

    started = time.perf_counter()
    count = sum(len(chunk) for chunk in score_with_ray(gates, items, batch_size=batch_size, workers=workers))
    assert count == len(items)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=2000, help="generations (default 2000)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[16, 64, 256],
                        help="batch sizes for the overhead measurement")
    parser.add_argument("--workers", type=int, default=None)
    args = parser.parse_args()

    from sbs_tui.core.gates.scoring_ray import _init, import_ray

    ray = import_ray()
    REGISTRY.register("noop", "bench.bench_scale:build_noop")
    items = load_items(args.n)
    gates = [GateConfig("toxicity", "toxicity", blocking=True, threshold=0.9),
             GateConfig("sentiment", "sentiment")]
    out: dict = {"n": len(items), "batch_size": args.batch_size}
    local_s = run_local(gates, items, args.batch_size)
    out["local"] = {"seconds": round(local_s, 3), "per_s": round(len(items) / local_s, 1)}

    started = time.perf_counter()
    _init(ray, None)
    out["ray_start_s"] = round(time.perf_counter() - started, 3)
    out["ray_cpus"] = int(ray.cluster_resources().get("CPU", 0))
    try:
        # Each run builds its actor pool (worker processes, imports, models): a one-batch run measures that
        # fixed cost, and the difference to a full run is the steady rate.
        run_ray(gates, items[: args.batch_size], args.batch_size, args.workers)  # warm-up: Ray's worker processes
        fixed = run_ray(gates, items[: args.batch_size], args.batch_size, args.workers)
        ray_s = run_ray(gates, items, args.batch_size, args.workers)
        # None when the run is too short to tell the steady rate from the pool start's noise
        steady = (len(items) - args.batch_size) / (ray_s - fixed) if ray_s > 1.2 * fixed else None
        out["ray"] = {"seconds": round(ray_s, 3), "per_s": round(len(items) / ray_s, 1),
                      "vs_local": round(local_s / ray_s, 2), "pool_start_s": round(fixed, 3),
                      "steady_per_s": steady and round(steady, 1),
                      "steady_vs_local": steady and round(steady * local_s / len(items), 2)}
        # Ray's own cost per batch: the same rows through a scorer that does nothing, at several batch sizes;
        # the slope of seconds over the number of batches (least squares) is the per-batch overhead, the
        # intercept the fixed cost (pool start, first block) that every size pays alike.
        overhead = []
        noop = [GateConfig("noop", "noop")]
        for size in args.batch_sizes:
            seconds = run_ray(noop, items, size, args.workers)
            overhead.append({"batch_size": size, "batches": -(-len(items) // size), "seconds": round(seconds, 3)})
        if len(overhead) >= 2:
            xs = [o["batches"] for o in overhead]
            ys = [o["seconds"] for o in overhead]
            mx, my = sum(xs) / len(xs), sum(ys) / len(ys)
            slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
            out["ray_per_batch_ms"] = round(1000 * slope, 2)
            out["ray_fixed_s"] = round(my - slope * mx, 3)
        out["ray_overhead"] = overhead
    finally:
        ray.shutdown()
    print(json.dumps(out, indent=2))
    r = out["ray"]
    print(f"\nlocal {out['local']['per_s']:,.0f} gen/s · ray {r['per_s']:,.0f} gen/s end to end "
          f"({r['vs_local']}× local), steady {r['steady_per_s']} gen/s ({r['steady_vs_local']}×) on "
          f"{out['ray_cpus']} CPU(s); ray start {out['ray_start_s']} s, actor pool start {r['pool_start_s']} s",
          file=sys.stderr)
    for row in overhead:
        print(f"  no-op batches of {row['batch_size']:>4}: {row['batches']:>5} batches in {row['seconds']:>7.2f} s",
              file=sys.stderr)
    if "ray_per_batch_ms" in out:
        print(f"  Ray per batch: {out['ray_per_batch_ms']} ms (fit), fixed {out['ray_fixed_s']} s", file=sys.stderr)

if __name__ == "__main__":
    main()
