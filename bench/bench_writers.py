#!/usr/bin/env python3
"""How many annotators can write to one SQLite database at once: committed votes per second and each vote's wait.

Each writer is a process that does what the annotator app does per vote: one short write transaction
(``BEGIN IMMEDIATE`` … ``COMMIT``, WAL, ``synchronous = NORMAL``) inserting one vote through ``store.votes``. With
``--writers`` 1, 2, 4, … such processes for ``--seconds`` each, it reports the total committed votes per second
(SQLite's single-writer ceiling for this write) and the latency of one vote (p50, p99, max: what an annotator's
key press waits for). Baseline in the same run: one writer alone. The database holds ``--prior`` votes first, so
the indexes are not empty.

    python bench/bench_writers.py --writers 1 2 4 8 --seconds 5      # JSON on stdout, a table on stderr
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _vote(i: int, who: str):
    from sbs_tui.core.records import VoteRecord

    return VoteRecord(f"p{i % 500}", f"prompt {i % 500}", "model-a", "model-b", ("model_a", "model_b", "tie")[i % 3],
                      who, shown_left="model_a", uid=f"{who}-{i}")


def writer(path: str, who: str, seconds: float, start_at: float, queue: mp.Queue) -> None:
    from sbs_tui.core.store import Store

    store = Store(path)
    waits: list[float] = []
    while time.time() < start_at:
        time.sleep(0.001)
    end, i = start_at + seconds, 0
    while time.time() < end:
        began = time.perf_counter()
        with store.transaction():
            store.votes.insert([_vote(i, who)])
        waits.append(time.perf_counter() - began)
        i += 1
    store.close()
    queue.put(waits)


def run(path: str, writers: int, seconds: float) -> dict[str, float]:
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 1.0
    procs = [mp.Process(target=writer, args=(path, f"w{writers}-{k}", seconds, start_at, queue))
             for k in range(writers)]
    for p in procs:
        p.start()
    waits = sorted(w for _ in procs for w in queue.get())
    for p in procs:
        p.join()
    return {"writers": writers, "votes_per_s": round(len(waits) / seconds, 1),
            "p50_ms": round(1000 * waits[len(waits) // 2], 2), "p99_ms": round(1000 * waits[int(0.99 * len(waits))], 2),
            "max_ms": round(1000 * waits[-1], 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--writers", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--prior", type=int, default=100_000)
    args = parser.parse_args()
    from sbs_tui.core.store import Store

    with tempfile.TemporaryDirectory() as tmp:
        path = str(Path(tmp) / "writers.db")
        store = Store(path)
        with store.transaction():
            store.votes.insert([_vote(i, "prior") for i in range(args.prior)])
        store.close()
        rows = [run(path, n, args.seconds) for n in args.writers]
        size_mb = Path(path).stat().st_size / 1e6
    print(json.dumps({"prior_votes": args.prior, "db_mb": round(size_mb, 1), "runs": rows}, indent=2))
    print(f"\n{'writers':>8}{'votes/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}", file=sys.stderr)
    for r in rows:
        print(f"{r['writers']:>8}{r['votes_per_s']:>10}{r['p50_ms']:>9}{r['p99_ms']:>9}{r['max_ms']:>9}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
