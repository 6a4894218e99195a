"""The whole ``sbs gate`` path — read pending rows, score them with the gates, write the results and settle each
generation in SQLite — for two source trees in the same run (issue 22: ≥ 2,500 gen/s at batch 32).

``bench_gates.py`` times the scoring alone (``GateRunner.evaluate``); this times what ``sbs gate`` does once its
scorers are built: ``gate_run.run_gate`` on a database of pending generations (the AlpacaEval outputs, repeated
under other model names to reach ``--n``), batches of 32, each run on a fresh copy of one template database.
``--gates default`` is the issue's default set (``--gates toxicity,lexicon``: language ID, sentence windows,
lexicon, profanity model); ``--gates bare`` is what a bare ``sbs gate`` runs (the same plus the informational VADER
sentiment gate); ``--gates both`` times each. Each run is a child process whose ``sys.path`` starts with its tree,
so ``--baseline`` (a ``git worktree`` or ``git archive`` of the code before) and this tree are measured
alternately in one session: wall time, and CPU time of the run's process and of the worker processes it forked
(the machine is shared: CPU time moves far less with other load). This tree runs as ``sbs gate`` does
(``--workers`` auto: forked onto spare cores on a large pass); ``--single`` adds it with ``--workers 1`` (one
process: the CPU cost per generation), ``--forked N`` with ``--workers N`` (forked whatever the load). After the
runs the databases' gate results and statuses are compared: every run must decide exactly as the baseline.

    git archive <commit> | tar -x -C /tmp/gp_old
    python bench/bench_gate_path.py --baseline /tmp/gp_old --gates both --single --forked 2
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
import cProfile, json, os, pstats, resource, sys, time
sys.path.insert(0, sys.argv[1])
from sbs_tui.config import Settings
from sbs_tui.core.gates import run as gate_run, runner as gating
from sbs_tui.core.gates import policy
from sbs_tui.core.store import Store
db, batch, profile, bare = sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5] == "bare"
options = {} if sys.argv[6] == "auto" else {"workers": int(sys.argv[6])}  # the baseline has no such option
settings = Settings()
# `sbs gate --gates toxicity,lexicon` (the issue's default set), or a bare `sbs gate` (+ the VADER sentiment gate)
only = None if bare else [g.name for g in policy.load_policy(settings) if g.blocking]
gate_run.build_runner(settings, only=only)  # imports and model loading, paid before the first batch
def children():
    use = resource.getrusage(resource.RUSAGE_CHILDREN)  # worker processes, once reaped
    return use.ru_utime + use.ru_stime
wall, cpu, cpu_children = time.perf_counter(), time.process_time(), children()
prof = cProfile.Profile(time.process_time) if profile else None  # CPU time: the machine is shared
if prof: prof.enable()
run = gate_run.run_gate(db, lambda: Store(db), settings, only=only, batch_size=batch, log=lambda line: None,
                        **options)
if prof:
    prof.disable()
    pstats.Stats(prof, stream=open(profile, "w")).sort_stats("cumulative").print_stats(45)
    pstats.Stats(prof, stream=open(profile, "a")).sort_stats("tottime").print_stats(45)
wall = time.perf_counter() - wall
print(json.dumps({"wall_s": wall, "cpu_s": time.process_time() - cpu + children() - cpu_children,
                  "scored": run.progress.scored, "blocked": run.progress.blocked, "held": run.progress.held,
                  "load": os.getloadavg()[0]}))
"""


def run_tree(tree: Path, template: Path, work: Path, batch: int, profile: str = "",
             gates: str = "default", workers: str = "auto", tag: str = "") -> dict[str, float]:
    db = work / f"run-{tag or tree.name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    shutil.copy(template, db)
    out = subprocess.run([sys.executable, "-c", CHILD, str(tree), str(db), str(batch), profile, gates, workers],
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
    parser.add_argument("--gates", choices=("default", "bare", "both"), default="default",
                        help="the issue's default set, a bare `sbs gate` (+ VADER sentiment), or each")
    parser.add_argument("--single", action="store_true", help="also time this tree with --workers 1")
    parser.add_argument("--forked", type=int, default=0, metavar="N",
                        help="also time this tree with --workers N (forked whatever the load)")
    parser.add_argument("--profile", default="", help="write a cProfile of this tree's first run to this file")
    args = parser.parse_args()
    sets = ("default", "bare") if args.gates == "both" else (args.gates,)
    trees = {"before": (args.baseline.resolve(), "auto"), "after": (HERE, "auto")}
    if args.single:
        trees["after, 1 process"] = (HERE, "1")
    if args.forked:
        trees[f"after, {args.forked} workers"] = (HERE, str(args.forked))
    summary: dict = {"generations": None, "batch_size": args.batch_size, "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        template = work / "template.db"
        summary["generations"] = n = build_template(args.baseline.resolve(), template, args.n)
        for gates in sets:
            runs: dict[str, list[dict[str, float]]] = {name: [] for name in trees}
            identical = True
            for r in range(args.rounds):
                for name in (list(trees) if r % 2 == 0 else list(trees)[::-1]):
                    tree, workers = trees[name]
                    profile = args.profile if name == "after" and r == 0 and gates == sets[0] else ""
                    tag = name.replace(", ", "-").replace(" ", "")
                    runs[name].append(run_tree(tree, template, work, args.batch_size, profile, gates, workers, tag))
                identical &= all(decisions(work / f"run-{name.replace(', ', '-').replace(' ', '')}.db")
                                 == decisions(work / "run-before.db") for name in trees)
            summary[gates] = _summarise(runs, identical)
    print(json.dumps(summary, indent=2))
    print(f"sbs gate path, {n:,} generations, batch {args.batch_size}", file=sys.stderr)
    for gates in sets:
        s = summary[gates]
        print(f"--gates {gates}: decisions identical to the baseline: {s['identical_decisions']}", file=sys.stderr)
        for name in trees:
            t = s[name]
            print(f"  {name:17} gen/s {t['gen_per_s']}  gen/CPU-s {t['gen_per_cpu_s']}  load {t['load_1min']}",
                  file=sys.stderr)
        print(f"  ratio after/before (best wall) {s['ratio_wall_best']}, (best CPU) {s['ratio_cpu_best']}",
              file=sys.stderr)


def _summarise(runs: dict[str, list[dict[str, float]]], identical: bool) -> dict:
    out: dict = {"identical_decisions": identical}
    for name, rs in runs.items():
        out[name] = {"gen_per_s": [round(x["scored"] / x["wall_s"]) for x in rs],
                     "gen_per_cpu_s": [round(x["scored"] / x["cpu_s"]) for x in rs],
                     "blocked": rs[0]["blocked"], "held": rs[0]["held"],
                     "load_1min": [round(x["load"], 2) for x in rs]}
    for key, field in (("ratio_wall_best", "gen_per_s"), ("ratio_cpu_best", "gen_per_cpu_s")):
        out[key] = round(max(out["after"][field]) / max(out["before"][field]), 3)
    return out


if __name__ == "__main__":
    sys.exit(main())
