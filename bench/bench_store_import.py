"""Benchmark: start-up cost of the store's query modules, before and after they load on first use, in one run.

* before — ``sbs_tui`` as of ``--before-ref`` (default ``main``), whose ``core/store/__init__`` imports every
  concern's query module (accounts, arena, exports, gates, judges, review, …) when the package loads;
* after — this tree, where ``store.<concern>`` imports its module the first time it is read.

Each command runs in fresh interpreters, the two trees interleaved so a change of machine load hits both alike;
reported: the median wall and CPU seconds of ``--repeat`` runs, and (from ``python -X importtime``, median of three
runs) the self time of every ``sbs_tui.core.store*`` module the command loaded. The commands: ``sbs --help``,
``sbs rank --help``, a real ``sbs rank`` (sandwich) on a small database, and importing the annotator app.

Usage:  python bench/bench_store_import.py [--repeat 9] [--votes 20000] [--before-ref main]
Prints one JSON object and a table.
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
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from bench.bench_rank_counts import before_tree, build  # noqa: E402
from bench.child import measured  # noqa: E402


def commands(db: Path) -> dict[str, list[str]]:
    py = sys.executable
    return {"sbs --help": [py, "-m", "sbs_tui", "--help"],
            "sbs rank --help": [py, "-m", "sbs_tui", "rank", "--help"],
            "sbs rank (sandwich)": [py, "-m", "sbs_tui", "--db", str(db), "rank", "--method", "bt", "--ci",
                                    "sandwich", "--format", "json"],
            "import annotator app": [py, "-c", "import sbs_tui.tui.annotate.app"]}


def store_import_ms(cmd: list[str], env: dict[str, str], code: Path) -> tuple[float, int]:
    """Milliseconds of self import time of the ``sbs_tui.core.store*`` modules one run loaded, and their count."""
    out = subprocess.run([cmd[0], "-X", "importtime", *cmd[1:]], env=env, cwd=code, capture_output=True,
                         text=True, check=True).stderr
    selfs = [int(line.split("|")[0].split(":")[1]) for line in out.splitlines()
             if line.startswith("import time:") and line.rsplit("|", 1)[1].strip().startswith("sbs_tui.core.store")]
    return sum(selfs) / 1000, len(selfs)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=9)
    ap.add_argument("--votes", type=int, default=20_000)
    ap.add_argument("--before-ref", default="main")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        ref = before_tree(args.before_ref, old)
        db = Path(tmp) / "small.db"
        builder = multiprocessing.get_context("fork").Process(target=build, args=(db, args.votes, 10, 0))
        builder.start()
        builder.join()
        sides = {"before": old, "after": REPO}
        envs = {side: dict(os.environ, PYTHONPATH=str(code)) for side, code in sides.items()}
        cmds = commands(db)
        for side, code in sides.items():  # bytecode written and files cached before timing
            for cmd in cmds.values():
                measured(cmd, env=envs[side], cwd=code).check(" ".join(cmd[2:]))
        runs: dict[tuple[str, str], list[tuple[float, float]]] = {}
        for _ in range(args.repeat):
            for name, cmd in cmds.items():
                for side, code in sides.items():
                    m = measured(cmd, env=envs[side], cwd=code).check(name)
                    runs.setdefault((name, side), []).append((m.wall_s, m.cpu_s))
        store_ms = {(name, side): [store_import_ms(cmd, envs[side], code) for _ in range(3)]
                    for name, cmd in cmds.items() for side, code in sides.items()}
        load = os.getloadavg()
    result: dict[str, object] = {"before_ref": ref, "repeat": args.repeat, "votes": args.votes,
                                 "load_average": [round(x, 2) for x in load]}
    for name in cmds:
        entry: dict[str, object] = {}
        for side in sides:
            rs = runs[(name, side)]
            ms = store_ms[(name, side)]
            entry[side] = {"wall_s": round(statistics.median(r[0] for r in rs), 4),
                           "cpu_s": round(statistics.median(r[1] for r in rs), 4),
                           "store_modules": ms[0][1], "store_import_ms": round(statistics.median(m[0] for m in ms), 1)}
        b, a = entry["before"], entry["after"]
        assert isinstance(b, dict) and isinstance(a, dict)
        entry["wall_ratio_after_over_before"] = round(a["wall_s"] / b["wall_s"], 3)
        entry["cpu_ratio_after_over_before"] = round(a["cpu_s"] / b["cpu_s"], 3)
        result[name] = entry
    print(json.dumps(result, indent=2))
    print(f"{'command':<22}{'side':<8}{'wall s':>8}{'CPU s':>8}{'store modules':>15}{'store ms':>10}")
    for name in cmds:
        e = result[name]
        assert isinstance(e, dict)
        for side in sides:
            s = e[side]
            print(f"{name:<22}{side:<8}{s['wall_s']:>8.3f}{s['cpu_s']:>8.3f}{s['store_modules']:>15}"
                  f"{s['store_import_ms']:>10.1f}")
        print(f"{'':<22}{'ratio':<8}{e['wall_ratio_after_over_before']:>8.3f}{e['cpu_ratio_after_over_before']:>8.3f}")
    print(f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
