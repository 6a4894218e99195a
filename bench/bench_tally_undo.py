#!/usr/bin/env python3
"""The first agreement read after an undo, a flag and a ``--replace`` of counted votes: before (the tallies
recounted from zero) vs after (only the changed votes' items re-derived, ``core/store/tallies_dirty.py``).

Both run in the same invocation, each in a fresh child process, on copies of one database built by
``bench_review.build`` (``--votes`` human votes by 20 annotators, 8 models, overlap 3): **before** is the code of
``--before`` (a git revision, exported to a temporary folder: default the merge before this change), **after** this
checkout. Each child counts every vote into the tallies, then for each change applies it to one counted vote in
the middle of the database and times the next read: the tallies' catch-up, then ``analyse_store`` (``sbs
agreement``'s report) — seconds and CPU seconds.

    python bench/bench_tally_undo.py --votes 1000000            # JSON on stdout, a table on stderr
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_review import OUT, build  # noqa: E402

BEFORE = "ea36a40"  # the merge that brought the tallies (0017_agreement_tallies), before this change
CHILD = """
import json, sys, time
sys.path.insert(0, {root!r})
from sbs_tui.core.analysis.agreement import analyse_store
from sbs_tui.core.store import Store

def timed(fn):
    wall, cpu = time.perf_counter(), time.process_time()
    out = fn()
    return out, round(time.perf_counter() - wall, 3), round(time.process_time() - cpu, 3)

store = Store({db!r})
rows = {{}}
n, rows["count from zero"], _ = timed(store.tallies.catch_up)
_, rows["report (nothing changed)"], _ = timed(lambda: analyse_store(store, voters="all", use_tallies=True))
middle = store.conn.execute("SELECT max(id) / 2 FROM votes").fetchone()[0]
changes = [
    ("undo", "DELETE FROM votes WHERE id = ?"),
    ("flag", "UPDATE votes SET flagged = 1, flag_reason = 'bench' WHERE id = ?"),
    ("--replace (winner swapped)", "UPDATE votes SET score_b = 1.0 - score_b, winner = CASE winner WHEN 'model_a' "
                                   "THEN 'model_b' WHEN 'model_b' THEN 'model_a' ELSE winner END WHERE id = ?"),
]
for i, (name, sql) in enumerate(changes):
    with store.transaction():
        store.conn.execute(sql, (middle + 1000 * i,))
    recounted, wall, cpu = timed(store.tallies.catch_up)
    _, report, _ = timed(lambda: analyse_store(store, voters="all", use_tallies=True))
    rows[name] = {{"catch_up_s": wall, "catch_up_cpu_s": cpu, "votes_read": recounted, "report_s": report,
                   "first_read_s": round(wall + report, 3)}}
print(json.dumps({{"votes": n, "rows": rows}}))
"""


def _child(root: Path, db: Path) -> dict:
    out = subprocess.run([sys.executable, "-c", CHILD.format(root=str(root), db=str(db))], check=True,
                         capture_output=True, text=True, env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--prompts", type=int, default=5_000)
    parser.add_argument("--before", default=BEFORE, help="the git revision measured as 'before'")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True)
        (Path(tmp) / "before.tar").write_bytes(archive.stdout)
        with tarfile.open(Path(tmp) / "before.tar") as tar:
            tar.extractall(old, filter="data")
        source = OUT / f"undo_{args.votes}_{args.prompts}_{args.before}.db"
        if not source.exists():  # built by the code before (its schema); the code after migrates its copy
            subprocess.run([sys.executable, "-c", f"import sys; sys.path.insert(0, {str(old)!r}); "
                            "from bench.bench_review import build; from pathlib import Path; "
                            f"build(Path({str(source)!r}), votes={args.votes}, prompts={args.prompts}, models=8, "
                            "annotators=20)"], check=True, env={"PYTHONPATH": str(old), "PATH": "/usr/bin:/bin"})
        results = {}
        for label, root in (("before", old), ("after", ROOT)):
            db = Path(tmp) / f"{label}.db"
            shutil.copy(source, db)
            results[label] = _child(root, db)
    print(json.dumps({"votes": args.votes, "prompts": args.prompts, "before_rev": args.before, **results}, indent=1))
    for name in ("undo", "flag", "--replace (winner swapped)"):
        b, a = results["before"]["rows"][name], results["after"]["rows"][name]
        print(f"{name:28} first read before {b['first_read_s']:8.3f} s (catch-up {b['catch_up_s']:.3f} s, "
              f"{b['votes_read']:,} votes)  after {a['first_read_s']:7.3f} s (catch-up {a['catch_up_s']:.3f} s, "
              f"{a['votes_read']:,} votes)  {b['first_read_s'] / max(a['first_read_s'], 1e-9):6.1f}x",
              file=sys.stderr)


if __name__ == "__main__":
    main()
