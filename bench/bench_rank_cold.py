"""Benchmark: `sbs rank` end to end from a cold process, before and after the start-up and bootstrap work of issue 22
(branch rankcold), interleaved in one run.

* before — the tree at ``--before-ref`` (default: the commit this work started from), extracted from git;
* after — this tree.

Each command runs as a user runs it: a fresh ``python -m sbs_tui ... rank ... --format json`` from process start to
the JSON on stdout; wall seconds, CPU seconds (user + system of the process, from ``os.wait4``; the fairer figure
on a shared machine) and peak RSS. Both trees run with bytecode caching on (``PYTHONDONTWRITEBYTECODE`` removed
from the child's environment, one warm-up run each): an installed package has its ``.pyc`` files, and a tree
compiled from source on every run would add ~0.1–0.4 CPU-s to both sides. The 1-minute load average is recorded
before and after. The JSON of both trees must be byte-identical (``same_json``), here and on the AlpacaEval
database (``--alpaca``, several rank variants).

The vote databases are built once with ``bench_rank_counts.build`` (the bench's fast builder) and kept under
``bench/out/rank_<votes>_<models>.db``.

Usage:  python bench/bench_rank_cold.py [--votes 1000000 10000000] [--repeat 5] [--alpaca PATH]
Prints one JSON object (also written to bench/out/bench_rank_cold.json) and a table.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
OUT = REPO / "bench" / "out"

COMMANDS = {"sandwich": ("--method", "bt", "--ci", "sandwich"),
            "bootstrap": ("--method", "bt", "--ci", "bootstrap", "--bootstrap", "1000", "--seed", "0")}
ALPACA_VARIANTS = [(), ("--ci", "sandwich"), ("--ci", "bootstrap", "--seed", "3"), ("--method", "winrate"),
                   ("--include-flagged",), ("--voters", "judges"), ("--ci", "profile")]


def start_ref() -> str:
    """The commit this work started from: the parent of the first commit that added ``up_to_date``."""
    found = subprocess.run(["git", "log", "-S", "def up_to_date", "--format=%H", "--",
                            "sbs_tui/core/store/migrate.py"], cwd=REPO, check=True, capture_output=True,
                           text=True).stdout.split()
    if not found:
        raise SystemExit("cannot find the start of this work: give --before-ref")
    return found[-1] + "^"


def extract(ref: str, into: Path) -> str:
    archive = subprocess.run(["git", "archive", ref, "sbs_tui", "scorers"], cwd=REPO, check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, check=True, capture_output=True,
                          text=True).stdout.strip()


def database(votes: int, models: int) -> Path:
    """``bench/out/rank_<votes>_<models>.db``, built once (in a child process: the builder imports numpy)."""
    path = OUT / f"rank_{votes}_{models}.db"
    if not path.exists():
        OUT.mkdir(exist_ok=True)
        tmp = path.with_suffix(".building")
        code = (f"import sys; sys.path.insert(0, {str(REPO)!r}); from pathlib import Path; "
                f"from bench.bench_rank_counts import build; build(Path({str(tmp)!r}), {votes}, {models}, 0)")
        subprocess.run([sys.executable, "-c", code], check=True)
        tmp.rename(path)
    return path


def run(code: Path, db: Path, args: tuple[str, ...]) -> tuple[float, float, float, bytes]:
    """Wall s, CPU s, peak RSS MB and stdout of one cold `sbs rank ARGS --format json`."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = str(code)
    from bench.child import measured

    cmd = [sys.executable, "-m", "sbs_tui", "--db", str(db), "rank", *args, "--format", "json"]
    m = measured(cmd, env=env, cwd=code).check(f"sbs rank {' '.join(args)} in {code}")
    return m.wall_s, m.cpu_s, m.rss_mb, m.stdout


def summary(runs: list[tuple[float, float, float, bytes]]) -> dict[str, object]:
    return {"wall_s": round(statistics.median(r[0] for r in runs), 3), "wall_s_best": round(min(r[0] for r in runs), 3),
            "cpu_s": round(statistics.median(r[1] for r in runs), 3), "cpu_s_best": round(min(r[1] for r in runs), 3),
            "peak_rss_mb": round(max(r[2] for r in runs), 1)}


def compare(trees: dict[str, Path], db: Path, repeat: int) -> dict[str, object]:
    """Both commands on one database, before and after interleaved, ``repeat`` times each."""
    for code in trees.values():  # warm the file cache, write each tree's bytecode
        run(code, db, COMMANDS["sandwich"])
    load = [round(os.getloadavg()[0], 2)]
    runs: dict[tuple[str, str], list] = {}
    for _ in range(repeat):
        for cmd, args in COMMANDS.items():
            for side, code in trees.items():
                runs.setdefault((cmd, side), []).append(run(code, db, args))
    load.append(round(os.getloadavg()[0], 2))
    table: dict[str, object] = {"load_average_1min_before_after": load}
    for cmd in COMMANDS:
        b, a = summary(runs[(cmd, "before")]), summary(runs[(cmd, "after")])
        table[cmd] = {"before": b, "after": a,
                      "cpu_ratio": round(b["cpu_s"] / a["cpu_s"], 2), "wall_ratio": round(b["wall_s"] / a["wall_s"], 2),
                      "same_json": len({r[3] for side in trees for r in runs[(cmd, side)]}) == 1}
    return table


def alpaca(trees: dict[str, Path], db: Path) -> dict[str, bool]:
    """Byte-identical JSON of both trees on the AlpacaEval database, per rank variant."""
    return {" ".join(v) or "(defaults)": run(trees["before"], db, v)[3] == run(trees["after"], db, v)[3]
            for v in ALPACA_VARIANTS}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--before-ref", default=None)
    ap.add_argument("--alpaca", type=Path, default=None, help="a database of the AlpacaEval judge votes")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        before = Path(tmp) / "before"
        before.mkdir()
        ref = extract(args.before_ref or start_ref(), before)
        trees = {"before": before, "after": REPO}
        result: dict[str, object] = {"before_ref": ref, "cores": os.cpu_count(), "models": args.models}
        for votes in args.votes:
            result[f"{votes}_votes"] = compare(trees, database(votes, args.models), args.repeat)
        if args.alpaca is not None:
            result["alpaca_same_json"] = alpaca(trees, args.alpaca)
    OUT.mkdir(exist_ok=True)
    (OUT / "bench_rank_cold.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"\n{'sbs rank':24}{'before cpu':>11}{'after cpu':>10}{'ratio':>7}{'before wall':>12}{'after wall':>11}"
          f"{'same':>6}", file=sys.stderr)
    for votes in args.votes:
        block = result[f"{votes}_votes"]
        for cmd in COMMANDS:
            e = block[cmd]
            print(f"{votes:>10,} {cmd:13}{e['before']['cpu_s']:>11.3f}{e['after']['cpu_s']:>10.3f}"
                  f"{e['cpu_ratio']:>7.2f}{e['before']['wall_s']:>12.3f}{e['after']['wall_s']:>11.3f}"
                  f"{e['same_json']!s:>6}", file=sys.stderr)
        print(f"  load {block['load_average_1min_before_after']}", file=sys.stderr)


if __name__ == "__main__":
    main()
