#!/usr/bin/env python3
"""The first agreement read after a model rename and after an annotator's kind change: before (the tallies
recounted from zero) vs after (the touched items relabelled, ``core/store/tallies_relabel.py``).

Both run in the same invocation, each in a fresh child process, on copies of one database whose tallies are
already counted (``bench_rank_counts.build``: ``--votes`` votes, 100 models, 20 annotators, 2,000 prompts; built
with the code of ``--before``, whose schema the code after migrates on open): **before** is the code of
``--before`` (a git revision, default ``main``, exported to a temporary folder), **after** this checkout. Each child
reads once (nothing changed), then for each change applies it and times the next read: the tallies' catch-up, then
``analyse_store`` (``sbs agreement``'s report) — seconds and CPU seconds. The reports after each change must be
equal between before and after (checked, ``same_report``).

Changes: ``model-050`` renamed ``zz-model-050`` (it now sorts after the 49 models it sorted before: their pairs'
items swap sides), then ``annotator-1`` made a judge.

    python bench/bench_tally_relabel.py --votes 1000000 [--db SOURCE.db]   # JSON on stdout, a table on stderr
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import hashlib, json, sys, time
from sbs_tui.core.analysis.agreement import analyse_store
from sbs_tui.core.store import Store

def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - wall, 3), round(time.process_time() - cpu, 3)

store = Store({db!r})
rows = {{}}
_, rows["catch-up (nothing changed)"], _ = timed(store.tallies.catch_up)
_, rows["report (nothing changed)"], _ = timed(lambda: analyse_store(store, voters="all", use_tallies=True))
changes = [("model renamed", "UPDATE models SET name = 'zz-model-050' WHERE name = 'model-050'"),
           ("annotator made a judge", "UPDATE annotators SET kind = 'judge' WHERE name = 'annotator-1'")]
for name, sql in changes:
    with store.transaction():
        store.conn.execute(sql)
    counted, wall, cpu = timed(store.tallies.catch_up)
    report, report_s, report_cpu = timed(lambda: analyse_store(store, voters="all", use_tallies=True))
    digest = hashlib.sha256(json.dumps(report.to_json(), sort_keys=True).encode()).hexdigest()
    rows[name] = {{"catch_up_s": wall, "catch_up_cpu_s": cpu, "votes_read": counted, "report_s": report_s,
                   "first_read_s": round(wall + report_s, 3), "first_read_cpu_s": round(cpu + report_cpu, 3),
                   "report_sha256": digest}}
print(json.dumps({{"rows": rows}}))
"""
BUILD = ("import sys; from pathlib import Path; sys.path.insert(0, {root!r}); from bench.bench_rank_counts import "
         "build; from sbs_tui.core.store import Store; build(Path({db!r}), {votes}, 100, 0); "
         "s = Store({db!r}); s.tallies.catch_up(); s.close()")


def _child(root: Path, db: Path) -> dict:
    env = dict(os.environ, PYTHONPATH=str(root))
    out = subprocess.run([sys.executable, "-c", CHILD.format(db=str(db))], check=True, capture_output=True,
                         text=True, env=env, cwd=root)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--before", default="main", help="the git revision measured as 'before'")
    parser.add_argument("--db", type=Path, default=None,
                        help="a source database built by the code before, tallies counted (copied, never written)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True)
        (Path(tmp) / "before.tar").write_bytes(archive.stdout)
        with tarfile.open(Path(tmp) / "before.tar") as tar:
            tar.extractall(old, filter="data")
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", args.before], check=True,
                             capture_output=True, text=True).stdout.strip()
        source = args.db
        if source is None:
            source = Path(tmp) / "source.db"
            subprocess.run([sys.executable, "-c", BUILD.format(root=str(old), db=str(source), votes=args.votes)],
                           check=True, env=dict(os.environ, PYTHONPATH=str(old)), cwd=old)
        results = {}
        for label, root in (("before", old), ("after", ROOT)):
            db = Path(tmp) / f"{label}.db"
            shutil.copy(source, db)
            results[label] = _child(root, db)
            db.unlink()
        load = os.getloadavg()
    names = ("model renamed", "annotator made a judge")
    same = {n: results["before"]["rows"][n]["report_sha256"] == results["after"]["rows"][n]["report_sha256"]
            for n in names}
    print(json.dumps({"votes": args.votes, "before_rev": rev, "load_average": [round(x, 2) for x in load],
                      "same_report": same, **results}, indent=1))
    for name in names:
        b, a = results["before"]["rows"][name], results["after"]["rows"][name]
        print(f"{name:24} first read before {b['first_read_s']:7.3f} s ({b['first_read_cpu_s']:.3f} CPU s, "
              f"{b['votes_read']:,} votes read)  after {a['first_read_s']:6.3f} s ({a['first_read_cpu_s']:.3f} CPU s,"
              f" catch-up {a['catch_up_s']:.3f} s, {a['votes_read']:,} votes)  "
              f"{b['first_read_s'] / max(a['first_read_s'], 1e-9):5.1f}x  same report: {same[name]}",
              file=sys.stderr)
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main()
