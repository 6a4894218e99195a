"""Import throughput: `sbs import votes` on N synthetic contract-format votes versus the floor.

Floor (baseline, same run): a plain ``sqlite3.executemany`` of the very same vote rows — already parsed,
ids already resolved — into the same schema (same indexes, WAL, same pragmas). Everything the importer does
beyond that (reading and parsing JSON, validating every field, content-derived ids for idempotency, resolving
names) is the overhead this measures.

    python bench/bench_import.py            # 1,000,000 votes
    python bench/bench_import.py --votes 200000
    python bench/bench_import.py --compare   # before/after store.pair_counts (issue 22), end to end, one run
    python bench/bench_import.py --compare --votes 1000000 --before-ref REV   # this tree against REV

With ``--compare`` the floor is measured in a child process for each tree, into that tree's own schema: "the
floor of today's schema" is the before tree's (issue 22's goal), the after tree's shows what a schema change did
to the floor itself.

While the CLI import runs, a second process writes as the annotator app does (a 5 ms busy timeout, polling every
1–4 ms, one small write transaction every 50 ms) and records how long each write waited: the import commits in
short transactions so that this stays about 0.2 s at most (``WRITE_TARGET_SECONDS`` in ``sbs_tui/core/ingest/importer.py``).

Prints a JSON object and a short table.
"""

from __future__ import annotations

import argparse
import json
import random
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sbs_tui.core.ingest.importer import import_files  # noqa: E402
from sbs_tui.core.records import prompt_id_for  # noqa: E402
from sbs_tui.core.store import Store  # noqa: E402


def make_votes(path: Path, n: int, n_models: int = 100, n_prompts: int = 20_000, seed: int = 0) -> None:
    rng = random.Random(seed)
    models = [f"model-{i:03d}" for i in range(n_models)]
    prompts = [f"Synthetic instruction number {i}: explain topic {i % 97} in detail." for i in range(n_prompts)]
    winners = ["model_a", "model_b", "tie", "both_bad"]
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            a, b = rng.sample(models, 2)
            row = {"prompt": prompts[rng.randrange(n_prompts)], "model_a": a, "model_b": b,
                   "winner": winners[rng.randrange(4)], "annotator": f"annotator-{rng.randrange(50)}",
                   "ts": f"2026-11-{1 + i % 28:02d}T10:{i % 60:02d}:00Z"}
            fh.write(json.dumps(row) + "\n")


def floor(path: Path, db_path: Path, cpu: list[float] | None = None) -> float:
    """Plain executemany of the same rows (pre-parsed, ids resolved) into the same schema, run by
    :data:`FLOOR_CHILD` with this tree; its wall seconds (and, appended to ``cpu``, its CPU seconds: on a shared
    machine the steadier figure)."""
    wall, cpu_s = floor_in(ROOT, path, db_path)
    if cpu is not None:
        cpu.append(cpu_s)
    return wall


def importer(path: Path, db_path: Path) -> float:
    store = Store(db_path)
    t0 = time.perf_counter()
    summary = import_files(store, "votes", [path])
    elapsed = time.perf_counter() - t0
    store.close()
    assert summary.inserted > 0
    return elapsed


# The concurrent writer: an annotator's vote, as the app writes it (tui/annotate/saving.py, tui/annotate/app.py).
PROBE = r"""
import json, sqlite3, sys, time
from pathlib import Path
from sbs_tui.core.dberrors import retry_busy
db, stop = sys.argv[1], Path(sys.argv[2])
conn = sqlite3.connect(db, isolation_level=None, timeout=0.005)
conn.execute("PRAGMA busy_timeout = 5")
def write():
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO probe (at) VALUES (?)", (time.time(),))
    conn.execute("COMMIT")
retry_busy(lambda: conn.execute("CREATE TABLE IF NOT EXISTS probe (at REAL)"), timeout=60)
waits = []
while not stop.exists():
    t0 = time.perf_counter()
    retry_busy(write, timeout=600, first_delay=0.001, max_delay=0.004)
    waits.append(time.perf_counter() - t0)
    time.sleep(0.05)
print(json.dumps(waits))
"""


def cli_end_to_end(path: Path, db_path: Path) -> tuple[float, list[float]]:
    """The CLI import, with the concurrent writer running from its first batch to its end; returns the import's
    seconds and the writer's waits (seconds per write)."""
    Store(db_path).close()
    stop = db_path.with_suffix(".stop")
    probe = subprocess.Popen([sys.executable, "-c", PROBE, str(db_path), str(stop)], cwd=ROOT,
                             stdout=subprocess.PIPE, text=True)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(db_path), "import", "votes", str(path)],
                   check=True, capture_output=True, cwd=ROOT)
    elapsed = time.perf_counter() - t0
    stop.touch()
    out, _ = probe.communicate(timeout=120)
    return elapsed, json.loads(out)


def cli_run(code: Path, path: Path, db_path: Path) -> tuple[float, float, float, list[float]]:
    """`sbs import votes` with the package at ``code`` into a fresh ``db_path``, a concurrent writer beside it:
    wall s, CPU s, peak RSS MB (``os.wait4``) and the writer's waits."""
    import os

    env = dict(os.environ, PYTHONPATH=str(code))
    subprocess.run([sys.executable, "-c", "import sys; from sbs_tui.core.store import Store; Store(sys.argv[1])",
                    str(db_path)], check=True, env=env, cwd=code)
    stop = db_path.with_suffix(".stop")
    probe = subprocess.Popen([sys.executable, "-c", PROBE, str(db_path), str(stop)], cwd=code, env=env,
                             stdout=subprocess.PIPE, text=True)
    from bench.child import measured

    m = measured([sys.executable, "-m", "sbs_tui", "--db", str(db_path), "import", "votes", str(path)], cwd=code,
                 env=env, stdout=subprocess.DEVNULL)
    if m.returncode != 0:
        raise SystemExit("sbs import votes failed")
    stop.touch()
    out, _ = probe.communicate(timeout=120)
    return m.wall_s, m.cpu_s, m.rss_mb, json.loads(out)


# The floor in a child process, with the package of a given tree: each tree's own schema (its indexes and
# triggers) under the same plain executemany. Prints {"wall": s, "cpu": s}.
FLOOR_CHILD = r"""
import json, sys, time
from sbs_tui.core.ingest.rows import iter_vote_records
from sbs_tui.core.store import Store
path, db = sys.argv[1], sys.argv[2]
rows = list(iter_vote_records(path))
store = Store(db)
with store.transaction():
    store.conn.executemany("INSERT OR IGNORE INTO prompts (id, text) VALUES (?, ?)",
                           {(r.prompt_id, r.prompt) for r in rows})
    models = {m: store.model_id(m) for r in rows for m in (r.model_a, r.model_b)}
    annotators = {r.annotator: store.annotator_id(r.annotator) for r in rows}
params = [(r.uid, r.prompt_id, models[r.model_a], models[r.model_b], r.winner, r.weight, r.score_b,
           annotators[r.annotator], r.ts) for r in rows]
del rows
t0, c0 = time.perf_counter(), time.process_time()
store.conn.execute("BEGIN IMMEDIATE")
store.conn.executemany("INSERT INTO votes (uid, prompt_id, model_a_id, model_b_id, winner, weight, score_b, "
                       "annotator_id, ts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", params)
store.conn.execute("COMMIT")
print(json.dumps({"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}))
"""


def floor_in(code: Path, path: Path, db_path: Path) -> tuple[float, float]:
    """The floor with the package at ``code`` (its schema), in a child process: wall s, CPU s."""
    import os

    out = subprocess.run([sys.executable, "-c", FLOOR_CHILD, str(path), str(db_path)], check=True,
                         capture_output=True, text=True, cwd=code, env=dict(os.environ, PYTHONPATH=str(code)))
    got = json.loads(out.stdout.strip().splitlines()[-1])
    return got["wall"], got["cpu"]


def compare(votes: int, before_ref: str | None) -> None:
    """``--compare``: `sbs import votes` before (the tree at ``before_ref``, from git) and after, end to end with
    a concurrent writer, on the same file, in one run; plus the executemany floor into each tree's schema (the
    floor "of today's schema" is the before tree's)."""
    import os

    from bench.bench_rank_counts import before_tree

    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        old = tmpd / "before"
        old.mkdir()
        ref = before_tree(before_ref, old)
        data = tmpd / "votes.jsonl"
        make_votes(data, votes)
        loads = [os.getloadavg()[0]]
        floors = {side: floor_in(code, data, tmpd / f"floor_{side}.db") for side, code in (("before", old),
                                                                                         ("after", ROOT))}
        runs = {}
        for side, code in (("before", old), ("after", ROOT)):
            loads.append(os.getloadavg()[0])
            runs[side] = cli_run(code, data, tmpd / f"{side}.db")
        loads.append(os.getloadavg()[0])
    t_floor, cpu_floor = floors["before"]
    result: dict[str, object] = {"votes": votes, "before_ref": ref, "load_average_1min": [round(x, 2) for x in loads],
                                 "floor_executemany_votes_per_s": round(votes / t_floor),
                                 "floor_executemany_votes_per_cpu_s": round(votes / cpu_floor),
                                 "floor_in_after_schema_votes_per_s": round(votes / floors["after"][0]),
                                 "floor_in_after_schema_votes_per_cpu_s": round(votes / floors["after"][1])}
    for side, (wall, cpu, rss, waits) in runs.items():
        result[side] = {"seconds": round(wall, 2), "votes_per_s": round(votes / wall), "cpu_s": round(cpu, 2),
                        "votes_per_cpu_s": round(votes / cpu),
                        "peak_rss_mb": round(rss, 1), "ratio_to_floor": round(wall / t_floor, 2),
                        "concurrent_writes": len(waits), "write_wait_max_s": round(max(waits), 3),
                        "write_wait_p99_s": round(float(sorted(waits)[int(0.99 * (len(waits) - 1))]), 3)}
    result["ratio_after_over_before"] = round(runs["after"][0] / runs["before"][0], 2)
    print(json.dumps(result, indent=2))
    print(f"{'sbs import votes':<18}{'seconds':>9}{'votes/s':>10}{'× floor':>9}{'votes/CPU-s':>12}{'peak MB':>9}"
          f"{'wait max s':>12}")
    for side in ("before", "after"):
        e = result[side]
        assert isinstance(e, dict)
        print(f"{side:<18}{e['seconds']:>9.2f}{e['votes_per_s']:>10,}{e['ratio_to_floor']:>9.2f}"
              f"{e['votes_per_cpu_s']:>12,}{e['peak_rss_mb']:>9.0f}{e['write_wait_max_s']:>12.3f}")
    print(f"floor (executemany, before tree's schema): {result['floor_executemany_votes_per_s']:,} votes/s, "
          f"{result['floor_executemany_votes_per_cpu_s']:,} votes/CPU-s; after tree's schema: "
          f"{result['floor_in_after_schema_votes_per_s']:,} votes/s, "
          f"{result['floor_in_after_schema_votes_per_cpu_s']:,} votes/CPU-s; load {loads}")


def single(votes: int, prompts: int, keep: Path | None) -> None:
    """``--single``: one CLI import of ``votes`` synthetic votes on ``prompts`` prompts into a fresh database,
    the concurrent annotator writer beside it; prints wall, CPU and peak RSS (the CLI and its parser process,
    ``os.wait4``), the writer's waits and the load average before and after."""
    import os

    with tempfile.TemporaryDirectory() as tmp:
        where = keep or Path(tmp)
        where.mkdir(parents=True, exist_ok=True)
        data, db = where / f"votes_{votes}.jsonl", where / f"import_{votes}.db"
        if not data.exists():
            make_votes(data, votes, n_prompts=prompts)
        for stale in (db, db.with_suffix(".db-wal"), db.with_suffix(".db-shm"), db.with_suffix(".stop")):
            stale.unlink(missing_ok=True)
        load_before = os.getloadavg()
        wall, cpu, rss, waits = cli_run(ROOT, data, db)
        load_after = os.getloadavg()
        size_mb = db.stat().st_size / 2**20
    result = {"votes": votes, "prompts": prompts, "seconds": round(wall, 1), "votes_per_s": round(votes / wall),
              "cpu_s": round(cpu, 1), "votes_per_cpu_s": round(votes / cpu), "peak_rss_mb": round(rss, 1),
              "database_mb": round(size_mb), "concurrent_writes": len(waits),
              "write_wait_max_s": round(max(waits), 3),
              "write_wait_p99_s": round(float(sorted(waits)[int(0.99 * (len(waits) - 1))]), 3),
              "load_average_before": [round(x, 2) for x in load_before],
              "load_average_after": [round(x, 2) for x in load_after]}
    print(json.dumps(result, indent=2))


def help_time(repeats: int = 5) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "sbs_tui", "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    return sorted(times)[len(times) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--compare", action="store_true",
                        help="before/after the kept outcome counts (issue 22), end to end, in one run")
    parser.add_argument("--before-ref", default=None, help="with --compare: git ref of the code before")
    parser.add_argument("--single", action="store_true",
                        help="one `sbs import votes` of this tree with the concurrent writer, no floor: wall, CPU, "
                             "peak RSS, waits (the 10M-vote run)")
    parser.add_argument("--prompts", type=int, default=20_000, help="distinct prompts in the synthetic file")
    parser.add_argument("--keep", type=Path, default=None, help="with --single: keep the file and database here")
    args = parser.parse_args()
    if args.compare:
        compare(args.votes, args.before_ref)
        return
    if args.single:
        single(args.votes, args.prompts, args.keep)
        return
    with tempfile.TemporaryDirectory() as tmp:
        tmpd = Path(tmp)
        data = tmpd / "votes.jsonl"
        make_votes(data, args.votes)
        t_floor = floor(data, tmpd / "floor.db")
        t_import = importer(data, tmpd / "import.db")
        t_cli, waits = cli_end_to_end(data, tmpd / "cli.db")
        t_help = help_time()
    n = args.votes
    result = {
        "votes": n,
        "importer_seconds": round(t_import, 3),
        "importer_votes_per_s": round(n / t_import),
        "cli_end_to_end_seconds": round(t_cli, 3),
        "cli_votes_per_s": round(n / t_cli),
        "floor_executemany_seconds": round(t_floor, 3),
        "floor_votes_per_s": round(n / t_floor),
        "ratio_importer_to_floor": round(t_import / t_floor, 2),
        "sbs_help_median_seconds": round(t_help, 3),
        "concurrent_writes": len(waits),
        "concurrent_write_wait_max_seconds": round(max(waits), 3),
        "concurrent_write_wait_p99_seconds": round(float(sorted(waits)[int(0.99 * (len(waits) - 1))]), 3),
        "concurrent_write_wait_median_seconds": round(sorted(waits)[len(waits) // 2], 4),
    }
    print(json.dumps(result))
    print(f"{'measure':<34}{'seconds':>10}{'votes/s':>12}")
    print(f"{'sbs import votes (in-process)':<34}{t_import:>10.2f}{n / t_import:>12,.0f}")
    print(f"{'sbs import votes (CLI, end to end)':<34}{t_cli:>10.2f}{n / t_cli:>12,.0f}")
    print(f"{'floor: sqlite3 executemany':<34}{t_floor:>10.2f}{n / t_floor:>12,.0f}")
    print(f"importer / floor = {t_import / t_floor:.2f}x (goal <= 3x)   sbs --help median = {t_help:.3f} s")
    print(f"a concurrent writer during the CLI import: {len(waits)} writes, wait max "
          f"{result['concurrent_write_wait_max_seconds']:.3f} s, p99 {result['concurrent_write_wait_p99_seconds']:.3f} s, "
          f"median {result['concurrent_write_wait_median_seconds']:.4f} s (goal: max about 0.2 s)")


if __name__ == "__main__":
    main()
