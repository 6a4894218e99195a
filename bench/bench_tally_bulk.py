#!/usr/bin/env python3
"""The first ``sbs agreement --format json`` after a big import: the agreement tallies catch up on every vote.
Before (``--before``: the SQL path, ``CHUNK`` votes a transaction) and after (this checkout: numpy, a prompt range
a transaction, ``core/store/tallies_bulk.py``), in the same run, alternated.

Each run copies ``--db`` (a database whose votes are stored; by default ``bench_review.build``'s, built once with
``--votes`` votes by 20 annotators, 8 models, overlap 3), empties the tallies as a fresh import leaves them
(watermark 0), and times ``sbs agreement --format json`` in a child process of the tree measured (wall, CPU, peak
RSS from ``os.wait4``; the 1-minute load average before and after). Meanwhile an annotator writes: a process that
stores one vote (flagged, so the report does not move) every ``--writer-ms`` milliseconds, each in its own
transaction, and records how long each write waited — the catch-up's transactions must not hold it past 0.25 s.
Then a second ``sbs agreement`` reads the caught-up tallies. The two trees' JSON must be byte-identical.

    python bench/bench_tally_bulk.py --votes 1000000                  # JSON on stdout, a table on stderr
    python bench/bench_tally_bulk.py --db /tmp/e2e10m.db --runs 1     # any database (never written: copied)
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.bench_review import OUT, build  # noqa: E402
from bench.child import measured  # noqa: E402

BEFORE = "016f882"  # main before this change
CLI_CHILD = "import sys\nsys.path.insert(0, {root!r})\nfrom sbs_tui.cli import main\nmain({argv!r})\n"
_TALLY_TABLES = ("agree_items", "agree_labels", "agree_annotators", "agree_pairs", "agree_majority", "agree_position",
                 "vote_timeline", "tally_dirty")


def _reset(db: Path) -> None:
    """The tallies as an import of every vote leaves them: nothing counted."""
    import sqlite3

    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    for table in _TALLY_TABLES:
        conn.execute(f"DELETE FROM {table}")
    conn.execute("UPDATE tally_state SET value = 0")
    conn.execute("COMMIT")
    conn.close()


def _writer(path: str, every_ms: float, stop: mp.Event, out: mp.Queue) -> None:
    from sbs_tui.core.records import VoteRecord
    from sbs_tui.core.store import Store

    store = Store(path)
    waits, i = [], 0
    while not stop.is_set():
        vote = VoteRecord("bench-writer-p", "bench writer prompt", "model-00", "model-01", "model_a", "bench-writer",
                          flagged=True, uid=f"bench-writer-{os.getpid()}-{i}")
        began = time.perf_counter()
        with store.transaction():
            store.votes.insert([vote])
        waits.append(time.perf_counter() - began)
        i += 1
        time.sleep(every_ms / 1000)
    store.close()
    out.put(waits)


def _one(root: Path, source: Path, tmp: Path, writer_ms: float) -> tuple[dict, bytes]:
    db = tmp / "run.db"
    shutil.copy(source, db)
    _reset(db)
    env = {"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    cmd = [sys.executable, "-c", CLI_CHILD.format(root=str(root), argv=["--db", str(db), "agreement", "--format",
                                                                        "json"])]
    stop, queue = mp.Event(), mp.Queue()
    writer = mp.Process(target=_writer, args=(str(db), writer_ms, stop, queue))
    load = os.getloadavg()[0]
    if writer_ms > 0:
        writer.start()
    first = measured(cmd, env=env).check("sbs agreement (first)")
    row = {"load_before": round(load, 2), "load_after": round(os.getloadavg()[0], 2)}
    if writer_ms > 0:
        stop.set()
        waits = sorted(queue.get())
        writer.join()
        row["writer"] = {"writes": len(waits), "p50_ms": round(1000 * waits[len(waits) // 2], 1),
                         "p99_ms": round(1000 * waits[int(0.99 * (len(waits) - 1))], 1),
                         "max_ms": round(1000 * waits[-1], 1)}
    second = measured(cmd, env=env).check("sbs agreement (second)")
    row["first"] = {"wall_s": round(first.wall_s, 2), "cpu_s": round(first.cpu_s, 2), "rss_mb": round(first.rss_mb)}
    row["second"] = {"wall_s": round(second.wall_s, 2), "cpu_s": round(second.cpu_s, 2),
                     "rss_mb": round(second.rss_mb)}
    db.unlink()
    for suffix in ("-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    return row, first.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, default=None, help="a database to copy (default: bench_review's)")
    parser.add_argument("--before", default=BEFORE, help="the git revision measured as 'before'")
    parser.add_argument("--runs", type=int, default=1, help="runs of each tree, alternated")
    parser.add_argument("--writer-ms", type=float, default=50.0, help="an annotator's pause between votes (0: none)")
    parser.add_argument("--tmp", type=Path, default=None, help="where the copies go (default: the system's)")
    args = parser.parse_args()
    source = args.db
    if source is None:
        OUT.mkdir(parents=True, exist_ok=True)
        source = OUT / f"review_{args.votes}_5000_8_20.db"
        if not source.exists():
            build(source, votes=args.votes, prompts=5000, models=8, annotators=20)
    result: dict = {"db": str(source), "before_rev": args.before, "runs": []}
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp_name:
        tmp = Path(tmp_name)
        old = tmp / "before"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.before], check=True, capture_output=True)
        (tmp / "before.tar").write_bytes(archive.stdout)
        with tarfile.open(tmp / "before.tar") as tar:
            tar.extractall(old, filter="data")
        outputs = {}
        for run in range(args.runs):
            order = (("before", old), ("after", ROOT)) if run % 2 == 0 else (("after", ROOT), ("before", old))
            rows = {}
            for label, root in order:
                rows[label], outputs[label] = _one(root, source, tmp, args.writer_ms)
                print(f"run {run + 1} {label:6} {json.dumps(rows[label])}", file=sys.stderr)
            result["runs"].append(rows)
        result["json_identical"] = outputs["before"] == outputs["after"]
    print(json.dumps(result, indent=1))
    print(f"\n{'run':>4} {'tree':7}{'1st wall s':>11}{'CPU s':>8}{'RSS MB':>8}{'writer max ms':>15}"
          f"{'p99':>7}{'2nd wall s':>11}{'load':>11}", file=sys.stderr)
    for i, rows in enumerate(result["runs"]):
        for label in ("before", "after"):
            r = rows[label]
            w = r.get("writer", {})
            print(f"{i + 1:>4} {label:7}{r['first']['wall_s']:>11}{r['first']['cpu_s']:>8}{r['first']['rss_mb']:>8}"
                  f"{w.get('max_ms', '-'):>15}{w.get('p99_ms', '-'):>7}{r['second']['wall_s']:>11}"
                  f"{r['load_before']:>6}→{r['load_after']}", file=sys.stderr)
    print(f"JSON byte-identical: {result['json_identical']}", file=sys.stderr)


if __name__ == "__main__":
    main()
