"""Benchmark: `sbs rank` before and after the kept outcome counts (issue 22), on the same database in one run.

* before — today's read path: the ranking code as it was before ``store.pair_counts`` (extracted from git: the
  parent of the commit that added ``sbs_tui/core/store/pair_counts.py``, or ``--before-ref``), which counts the
  outcome cells with ``GROUP BY`` over the votes' covering index on every `sbs rank`;
* after — this tree: the cells read from ``pair_counts``, kept as votes land.

Both run end to end as a user runs them (a subprocess from process start to the JSON on stdout; peak RSS of that
process from ``os.wait4``), interleaved so a change of machine load hits both alike; median of ``--repeat``.
Also in-process: the read alone (``store.votes.outcomes()`` vs ``store.pair_counts.outcomes()``). The two JSON
documents must be byte-identical (checked, reported as ``same_json``).

Usage:  python bench/bench_rank_counts.py [--votes 1000000] [--models 100] [--rounds 1000] [--repeat 3]
Prints one JSON object (also written to bench/out/bench_rank_counts.json) and a table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_rank import build_database  # noqa: E402


def build(path: Path, n_votes: int, n_models: int, seed: int) -> None:
    """``bench_rank``'s simulated votes, written fast enough for 10M votes on a loaded machine: the votes'
    indexes and triggers are dropped while the rows go in and made again after (one sorted build each), and the
    kept counts are then counted once (``store.pair_counts.rebuild``: what the triggers would have kept)."""
    import sqlite3

    from sbs_tui.core.store import Store

    Store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    ddl = conn.execute("SELECT type, name, sql FROM sqlite_master WHERE tbl_name = 'votes' "
                       "AND type IN ('index', 'trigger') AND sql IS NOT NULL").fetchall()
    for kind, name, _sql in ddl:
        conn.execute(f"DROP {kind} {name}")
    conn.close()
    build_database(path, n_votes, n_models, seed)
    conn = sqlite3.connect(path, isolation_level=None)
    for _kind, _name, sql in ddl:
        conn.execute(sql)
    conn.close()
    with Store(path) as store, store.transaction():
        store.pair_counts.rebuild()


def before_tree(ref: str | None, into: Path) -> str:
    """Extract ``sbs_tui`` and ``scorers`` as they were before the kept counts into ``into``; returns the ref."""
    if ref is None:
        added = subprocess.run(["git", "log", "--diff-filter=A", "--format=%H", "--",
                                "sbs_tui/core/store/pair_counts.py"], cwd=REPO, check=True,
                               capture_output=True, text=True).stdout.split()
        if not added:
            raise SystemExit("no commit adds sbs_tui/core/store/pair_counts.py: give --before-ref")
        ref = added[-1] + "^"
    archive = subprocess.run(["git", "archive", ref, "sbs_tui", "scorers"], cwd=REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def run_rank(code: Path, db: Path, *args: str) -> tuple[float, float, float, str]:
    """Wall s, CPU s, peak RSS MB and stdout of `sbs rank ARGS --format json` with the package at ``code``."""
    from bench.child import measured

    cmd = [sys.executable, "-m", "sbs_tui", "--db", str(db), "rank", *args, "--format", "json"]
    m = measured(cmd, env=dict(os.environ, PYTHONPATH=str(code)), cwd=code).check("sbs rank")
    return m.wall_s, m.cpu_s, m.rss_mb, m.stdout.decode()


def reads(db: Path, repeat: int) -> dict[str, float]:
    """The outcome read alone, in this process: the votes' GROUP BY vs the kept counts (median seconds)."""
    from sbs_tui.core.store import Store

    out: dict[str, float] = {}
    with Store(db) as store:
        for name, read in (("votes.outcomes (before)", store.votes.outcomes),
                           ("pair_counts.outcomes (after)", store.pair_counts.outcomes)):
            walls = []
            for _ in range(repeat):
                t0 = time.perf_counter()
                read()
                walls.append(time.perf_counter() - t0)
            out[name] = round(statistics.median(walls), 4)
        same = sorted(store.votes.outcomes()[1]) == sorted(store.pair_counts.outcomes()[1])
    out["same_cells"] = same
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before-ref", default=None, help="git ref of the code before (default: see docstring)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        ref = before_tree(args.before_ref, old)
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        builder = multiprocessing.get_context("fork").Process(
            target=build, args=(db, args.votes, args.models, args.seed))
        builder.start()
        builder.join()
        if builder.exitcode != 0:
            raise SystemExit("building the benchmark database failed")
        setup_s = time.perf_counter() - t0
        commands = {"bootstrap": ("--method", "bt", "--ci", "bootstrap", "--bootstrap", str(args.rounds),
                                  "--seed", str(args.seed)),
                    "sandwich": ("--method", "bt", "--ci", "sandwich")}
        for code in (old, REPO):  # warm the OS file cache, and write both trees' bytecode before timing
            run_rank(code, db, *commands["sandwich"])
        runs: dict[tuple[str, str], list[tuple[float, float, float, str]]] = {}
        for _ in range(args.repeat):
            for cmd, argv in commands.items():
                for side, code in (("before", old), ("after", REPO)):
                    runs.setdefault((cmd, side), []).append(run_rank(code, db, *argv))
        read = reads(db, args.repeat)
        load = os.getloadavg()[0]
    table: dict[str, dict[str, object]] = {}
    for cmd in commands:
        entry: dict[str, object] = {}
        for side in ("before", "after"):
            rs = runs[(cmd, side)]
            entry[side] = {"wall_s": round(statistics.median(r[0] for r in rs), 3),
                           "wall_s_runs": [round(r[0], 3) for r in rs],
                           "cpu_s": round(statistics.median(r[1] for r in rs), 3),
                           "peak_rss_mb": round(max(r[2] for r in rs), 1)}
        entry["ratio_before_over_after"] = round(entry["before"]["wall_s"] / entry["after"]["wall_s"], 2)
        entry["same_json"] = len({r[3] for side in ("before", "after") for r in runs[(cmd, side)]}) == 1
        table[cmd] = entry
    result = {"votes": args.votes, "models": args.models, "bootstrap_rounds": args.rounds, "before_ref": ref,
              "cores": os.cpu_count(), "setup_s": round(setup_s, 1), "load_average_1min": round(load, 2),
              "sbs_rank": table, "outcome_read_in_process_s": read,
              "goals": {"sandwich_s<=0.5": table["sandwich"]["after"]["wall_s"] <= 0.5,
                        "bootstrap_s<=1.5": table["bootstrap"]["after"]["wall_s"] <= 1.5,
                        "rss_mb<=2048": max(table[c]["after"]["peak_rss_mb"] for c in table) <= 2048}}
    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_rank_counts.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"\n{args.votes:,} votes, {args.models} models (load {load:.1f})", file=sys.stderr)
    print(f"{'sbs rank':22}{'before s':>10}{'after s':>10}{'ratio':>8}{'MB before':>11}{'MB after':>10}"
          f"{'same JSON':>11}", file=sys.stderr)
    for cmd, e in table.items():
        b, a = e["before"], e["after"]
        print(f"{cmd:22}{b['wall_s']:>10.3f}{a['wall_s']:>10.3f}{e['ratio_before_over_after']:>8.2f}"
              f"{b['peak_rss_mb']:>11.0f}{a['peak_rss_mb']:>10.0f}{e['same_json']!s:>11}", file=sys.stderr)
    for name, value in read.items():
        print(f"  {name}: {value}", file=sys.stderr)


if __name__ == "__main__":
    main()
