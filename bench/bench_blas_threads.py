"""Benchmark: do the reading commands gain from one BLAS thread (``one_blas_thread`` in ``sbs_tui/cli_params.py``)?

For each command, the same tree runs it twice per round in fresh processes, interleaved: once with the
environment as it is (OpenBLAS starts a thread per core at numpy's first BLAS call) and once with
``OPENBLAS_NUM_THREADS=1`` — exactly what ``one_blas_thread()`` sets before numpy loads. Reported: median wall and
CPU seconds (the child's own, ``os.wait4``) of ``--repeat`` rounds, the ratio, and the load average. The outputs
of both runs must be byte-identical (checked).

The database is built once (``bench_rank_counts.build``: ``--votes`` simulated votes, 100 models) and its
agreement tallies caught up before timing, so every run reads the same state. Commands: ``sbs export rankings``
and ``sbs report`` (their defaults), ``sbs agreement --format json``, and ``sbs rank`` (bootstrap) as the
reference that already applies the rule.

Usage:  python bench/bench_blas_threads.py [--votes 1000000] [--repeat 5] [--db PATH]
Prints one JSON object and a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_rank_counts import build  # noqa: E402
from bench.child import measured  # noqa: E402

BLAS_VARIABLES = ("OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def commands(db: Path, out: Path) -> dict[str, list[str]]:
    sbs = [sys.executable, "-m", "sbs_tui", "--db", str(db)]
    return {"sbs export rankings": [*sbs, "export", "rankings", "--out", str(out / "rankings.json")],
            "sbs report (md)": [*sbs, "report", "--out", str(out / "report.md")],
            "sbs agreement": [*sbs, "agreement", "--format", "json"],
            "sbs rank (bootstrap)": [*sbs, "rank", "--ci", "bootstrap", "--format", "json"]}


def _prepare(db: Path, votes: int) -> None:
    build(db, votes, 100, 0)
    from sbs_tui.core.store import Store

    with Store(db) as store:
        store.tallies.catch_up()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--db", type=Path, default=None, help="an existing database (tallies caught up) to read")
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in BLAS_VARIABLES}
    base["PYTHONPATH"] = str(REPO)
    envs = {"threads per core": base, "one thread": dict(base, OPENBLAS_NUM_THREADS="1")}
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        db = args.db
        if db is None:
            db = tmpd / "bench.db"
            builder = multiprocessing.get_context("fork").Process(target=_prepare, args=(db, args.votes))
            builder.start()
            builder.join()
        outs = {side: tmpd / side.replace(" ", "_") for side in envs}
        for out in outs.values():
            out.mkdir()
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        same: dict[str, bool] = {}
        for round_ in range(args.repeat + 1):  # round 0 warms the file cache and bytecode, not timed
            for name in commands(db, tmpd):
                results = {}
                for side, env in envs.items():
                    m = measured(commands(db, outs[side])[name], env=env, cwd=REPO).check(name)
                    results[side] = m.stdout + b"".join(p.read_bytes() for p in sorted(outs[side].iterdir()))
                    if round_:
                        runs.setdefault((name, side), []).append((m.wall_s, m.cpu_s))
                same[name] = len(set(results.values())) == 1
        load = os.getloadavg()
    result: dict[str, object] = {"votes": args.votes, "repeat": args.repeat,
                                 "load_average": [round(x, 2) for x in load]}
    for name in same:
        entry: dict[str, object] = {"same_output": same[name]}
        for side in envs:
            rs = runs[(name, side)]
            entry[side] = {"wall_s": round(statistics.median(r[0] for r in rs), 3),
                           "cpu_s": round(statistics.median(r[1] for r in rs), 3)}
        one, many = entry["one thread"], entry["threads per core"]
        assert isinstance(one, dict) and isinstance(many, dict)
        entry["wall_ratio_one_over_per_core"] = round(one["wall_s"] / many["wall_s"], 3)
        entry["cpu_ratio_one_over_per_core"] = round(one["cpu_s"] / many["cpu_s"], 3)
        result[name] = entry
    print(json.dumps(result, indent=2))
    print(f"{'command':<24}{'BLAS':<18}{'wall s':>8}{'CPU s':>8}")
    for name in same:
        e = result[name]
        assert isinstance(e, dict)
        for side in envs:
            print(f"{name:<24}{side:<18}{e[side]['wall_s']:>8.3f}{e[side]['cpu_s']:>8.3f}")
        print(f"{'':<24}{'ratio one/per core':<18}{e['wall_ratio_one_over_per_core']:>8.3f}"
              f"{e['cpu_ratio_one_over_per_core']:>8.3f}   same output: {e['same_output']}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
