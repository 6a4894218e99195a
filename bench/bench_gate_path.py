"""The whole ``sbs gate`` path — read pending rows, score them with the default gates, write the results and settle
each generation in SQLite — for two source trees in the same run (issue 22: ≥ 2,500 gen/s at batch 32).

``bench_gates.py`` times the scoring alone (``GateRunner.evaluate``); this times what ``sbs gate`` does once its
scorers are built: ``gate_run.run_gate`` with the default blocking set (``--gates toxicity,lexicon``: language
ID, sentence windows, lexicon, profanity model; not the informational VADER sentiment gate, which a bare
``sbs gate`` also runs) on a database of pending generations (the AlpacaEval outputs, repeated under other model
names to reach ``--n``), batches of 32, each run on a fresh copy of one template database. Each run is a child
process whose ``sys.path`` starts with its tree, so ``--baseline`` (a ``git worktree`` of the code before) and
this tree are measured alternately in one session, wall and CPU time (the machine is shared: CPU time moves far
less with other load). After the runs the two databases' gate results and statuses are compared: the trees must
decide the same.

    git worktree add /tmp/gp_old <commit> && python bench/bench_gate_path.py --baseline /tmp/gp_old
    python bench/bench_gate_path.py --baseline /tmp/gp_old --profile prof.txt   # + cProfile (CPU time) of a run
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
DATA = HERE.parent / "shared" / "data" / "alpaca_eval" / "outputs"


def build_template(tree: Path, db: Path, n: int) -> int:
    """A database of ``n`` pending generations (the AlpacaEval outputs, each pass under new model names)."""
    code = f"""
import json, sys
sys.path.insert(0, {str(tree)!r})
from pathlib import Path
from sbs_tui.core.records import GenerationRecord
from sbs_tui.core.store import Store
rows = []
for path in sorted(Path({str(DATA)!r}).glob("*.jsonl")):
    for i, line in enumerate(path.open(encoding="utf-8")):
        r = json.loads(line)
        rows.append((f"p{{i}}", r["instruction"], path.stem, r["output"]))
store = Store({str(db)!r})
records, copy = [], 0
while len(records) < {n}:
    records.extend(GenerationRecord(pid, text, f"{{model}}#{{copy}}" if copy else model, out)
                   for pid, text, model, out in rows[: {n} - len(records)])
    copy += 1
with store.transaction():
    store.generations.insert(records)
store.close()
print(len(records))
"""
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    return int(out.stdout.strip())


CHILD = """
import cProfile, json, os, pstats, sys, time
sys.path.insert(0, sys.argv[1])
from sbs_tui.config import Settings
from sbs_tui.core.gates import run as gate_run, runner as gating
from sbs_tui.core.gates import policy
from sbs_tui.core.store import Store
db, batch, profile = sys.argv[2], int(sys.argv[3]), sys.argv[4]
settings = Settings()
only = [g.name for g in policy.load_policy(settings) if g.blocking]  # `sbs gate --gates toxicity,lexicon`
gate_run.build_runner(settings, only=only)  # imports and model loading, paid before the first batch
wall, cpu = time.perf_counter(), time.process_time()
prof = cProfile.Profile(time.process_time) if profile else None  # CPU time: the machine is shared
if prof: prof.enable()
run = gate_run.run_gate(db, lambda: Store(db), settings, only=only, batch_size=batch, log=lambda line: None)
if prof:
    prof.disable()
    pstats.Stats(prof, stream=open(profile, "w")).sort_stats("cumulative").print_stats(45)
    pstats.Stats(prof, stream=open(profile, "a")).sort_stats("tottime").print_stats(45)
print(json.dumps({"wall_s": time.perf_counter() - wall, "cpu_s": time.process_time() - cpu,
                  "scored": run.progress.scored, "blocked": run.progress.blocked, "held": run.progress.held,
                  "load": os.getloadavg()[0]}))
"""


def run_tree(tree: Path, template: Path, work: Path, batch: int, profile: str = "") -> dict[str, float]:
    db = work / f"run-{tree.name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, db)
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(db), str(batch), profile],
                         check=True, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(tree)})
    return json.loads(out.stdout.strip().splitlines()[-1])


def decisions(db: Path) -> tuple[list, list]:
    """Every generation's status, hold, language and unchecked categories, and every gate result row."""
    conn = sqlite3.connect(db)
    try:
        gens = conn.execute("SELECT id, gate_status, gate_hold, language, unchecked FROM generations "
                            "ORDER BY id").fetchall()
        results = conn.execute("SELECT generation_id, gate, config_hash, output_sha, score, blocked, details "
                               "FROM gate_results ORDER BY generation_id, gate").fetchall()
    finally:
        conn.close()
    return gens, results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", type=Path, required=True, help="the tree to compare with (a git worktree)")
    parser.add_argument("--n", type=int, default=20000, help="pending generations in the database")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3, help="alternations of baseline and this tree")
    parser.add_argument("--profile", default="", help="write a cProfile of this tree's first run to this file")
    args = parser.parse_args()
    trees = {"before": args.baseline.resolve(), "after": HERE}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = work / "template.db"
        n = build_template(args.baseline.resolve(), template, args.n)
        runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
        for r in range(args.rounds):
            for name in (("before", "after") if r % 2 == 0 else ("after", "before")):
                profile = args.profile if name == "after" and r == 0 else ""
                runs[name].append(run_tree(trees[name], template, work, args.batch_size, profile))
        same = decisions(work / f"run-{trees['before'].name}.db") == decisions(work / f"run-{HERE.name}.db")
    summary = {"generations": n, "batch_size": args.batch_size, "identical_decisions": same,
               "cpu_count": os.cpu_count()}
    for name, rs in runs.items():
        summary[name] = {"gen_per_s": [round(x["scored"] / x["wall_s"]) for x in rs],
                         "gen_per_cpu_s": [round(x["scored"] / x["cpu_s"]) for x in rs],
                         "blocked": rs[0]["blocked"], "held": rs[0]["held"],
                         "load_1min": [round(x["load"], 2) for x in rs]}
    best = {k: max(summary[k]["gen_per_cpu_s"]) for k in runs}
    summary["ratio_cpu_best"] = round(best["after"] / best["before"], 3)
    print(json.dumps(summary, indent=2))
    print(f"sbs gate path, {n:,} generations, batch {args.batch_size}; decisions identical: {same}", file=sys.stderr)
    for name in ("before", "after"):
        s = summary[name]
        print(f"{name:7} gen/s {s['gen_per_s']}  gen/CPU-s {s['gen_per_cpu_s']}  load {s['load_1min']}",
              file=sys.stderr)
    print(f"ratio (best CPU) {summary['ratio_cpu_best']}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
