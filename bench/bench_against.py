"""The benchmarks of this tree side by side with another revision's, in one run, interleaved.

Why: timings on a shared 2-core machine drift by tens of percent between runs, so "no regression" can only be
read from a ratio measured in the same run. This makes a temporary ``git worktree`` of ``--ref`` (beside a
``shared`` link to ``/work/shared``, so the benchmarks find the AlpacaEval data as they do here), copies THIS
tree's ``bench/`` scripts into it (the same harness measures both trees; only the code under test differs), and
runs, alternating which tree goes first on each round:

* ``bench_tui``    — the annotator app: keypress → vote committed → next pair drawn (p95, median), cold start;
* ``bench_rank``   — ``sbs rank`` end to end (bootstrap and sandwich), in a fresh process;
* ``bench_import`` — ``sbs import votes`` throughput;
* ``bench_gates``  — the default offline gates' throughput (batch 256 and 32) on the shared outputs;
* ``cold``         — ``sbs --help`` and ``import <annotator app module>`` in fresh interpreters, median of
  ``--cold-runs``; also the wall time of ``import sqlite_utils`` alone and whether either path imports it.

Each benchmark runs with its own tree's ``sbs_tui`` (the scripts put their own tree first on ``sys.path`` and
``PYTHONPATH``). Prints one JSON object (also ``bench/out/bench_against.json``) and a table of new, old and
new/old per measure (for a rate, higher is better; for a time, lower is better — the table says which).

    python bench/bench_against.py --ref 9870dcb              # small sizes: about 5 minutes on 2 cores
    python bench/bench_against.py --ref main --big           # the benchmarks' own default sizes (much longer)
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SHARED = Path("/work/shared")

#: bench → (arguments at the small default sizes, measures read from its JSON: name → (path, "time"|"rate")).
BENCHES: dict[str, tuple[list[str], dict[str, tuple[str, str]]]] = {
    "bench_tui": (["--presses", "40", "--prompts", "400", "--models", "8", "--votes", "20000", "--cold-runs", "3"],
                  {"tui vote p95 ms": ("vote.p95_ms", "time"), "tui vote median ms": ("vote.median_ms", "time"),
                   "tui store p95 ms": ("store.p95_ms", "time"), "tui floor p95 ms": ("floor.p95_ms", "time"),
                   "tui cold start median ms": ("cold_start.median_ms", "time")}),
    "bench_rank": (["--votes", "100000", "--models", "30", "--rounds", "200", "--baseline-rounds", "5",
                    "--repeat", "3", "--no-peers"],
                   {"rank bootstrap wall s": ("ours.wall_s", "time"), "rank bootstrap cpu s": ("ours.cpu_s", "time"),
                    "rank sandwich wall s": ("sandwich.wall_s", "time"),
                    "rank peak RSS MB": ("ours.peak_rss_mb", "time")}),
    "bench_import": (["--votes", "50000"],
                     {"import votes/s (importer)": ("importer_votes_per_s", "rate"),
                      "import votes/s (CLI)": ("cli_votes_per_s", "rate"),
                      "import floor votes/s": ("floor_votes_per_s", "rate")}),
    "bench_gates": (["--limit", "150", "--corpus-mb", "1", "--naive-limit", "60", "--skip-minilm", "--skip-latency",
                     "--skip-quality"],
                    {"gates batch 256 gen/s": ("offline_defaults.default_set_batch_256_gen_per_s", "rate"),
                     "gates batch 32 gen/s": ("offline_defaults.default_set_batch_32_gen_per_s", "rate"),
                     "gates+memo batched gen/s": ("offline_defaults.batched_gen_per_s", "rate")}),
}
#: The same benches at their own default sizes (--big).
BIG: dict[str, list[str]] = {"bench_tui": [], "bench_rank": ["--no-peers"], "bench_import": [],
                             "bench_gates": ["--skip-minilm"]}


def make_ref_tree(ref: str, parent: Path, *, own_benches: bool) -> Path:
    """A worktree of ``ref`` at ``parent/ref`` (with ``parent/shared`` → /work/shared), with this tree's bench/ in
    it unless ``own_benches``: a ref whose modules have other paths (before the core and the TUI were grouped by
    feature) runs its own benchmark scripts, which import its own paths."""
    (parent / "shared").symlink_to(SHARED)
    tree = parent / "ref"
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), ref], check=True,
                   capture_output=True)
    if own_benches:
        return tree
    shutil.rmtree(tree / "bench")
    shutil.copytree(REPO / "bench", tree / "bench", ignore=shutil.ignore_patterns("out", "__pycache__"))
    return tree


def _env(tree: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBS_")}
    env.update(PYTHONPATH=str(tree), HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1")
    return env


def _json_of(stdout: str) -> dict[str, Any]:
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        for line in reversed(stdout.splitlines()):
            if line.startswith("{"):
                return json.loads(line)
    raise ValueError("no JSON on stdout")


def _dig(doc: dict[str, Any], path: str) -> float | None:
    value: Any = doc
    for key in path.split("."):
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return float(value) if isinstance(value, int | float) else None


def run_bench(tree: Path, name: str, args: list[str], out: Path) -> tuple[dict[str, Any], float]:
    """One benchmark on one tree: its JSON and its wall seconds."""
    extra = ["--json-out", str(out / f"{name}-{tree.name}.json")] if name == "bench_tui" else []
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, str(tree / "bench" / f"{name}.py"), *args, *extra], cwd=tree,
                          env=_env(tree), capture_output=True, text=True, timeout=1800)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{name} failed on {tree} ({proc.returncode}):\n{proc.stderr[-2000:]}")
    return _json_of(proc.stdout), wall


def _median_run(cmd: list[str], env: dict[str, str], runs: int, cwd: Path) -> float:
    """Median wall seconds of ``cmd``, run from ``cwd`` — the tree under test: ``python -c``/``-m`` put the working
    folder first on ``sys.path``, so running from the other tree would import that tree instead."""
    walls = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True, cwd=cwd)
        walls.append(time.perf_counter() - started)
    return statistics.median(walls)


def _imports_module(tree: Path, code: list[str], module: str) -> tuple[bool, float]:
    """Whether running ``code`` imports ``module`` (``python -X importtime``), and its cumulative import µs."""
    proc = subprocess.run([sys.executable, "-X", "importtime", *code], env=_env(tree), capture_output=True,
                          text=True, cwd=tree)
    micros = [int(line.split("|")[1]) for line in proc.stderr.splitlines()
              if line.startswith("import time:") and line.split("|")[-1].strip() == module]
    return bool(micros), float(max(micros, default=0))


def annotator_module(tree: Path) -> str:
    """The annotator app's module in ``tree``: ``tui/annotate/app.py`` since the TUI was grouped by app, else
    ``tui/app.py``."""
    new_path = tree / "sbs_tui" / "tui" / "annotate" / "app.py"
    return "sbs_tui.tui.annotate.app" if new_path.exists() else "sbs_tui.tui.app"


def cold(tree: Path, runs: int, app_module: str | None) -> dict[str, Any]:
    """Fresh-interpreter start-up: ``sbs --help``, the annotator app's import, and sqlite_utils on those paths."""
    env = _env(tree)
    app_module = app_module or annotator_module(tree)
    help_cmd = ["-m", "sbs_tui", "--help"]
    app_cmd = ["-c", f"import {app_module}"]
    result: dict[str, Any] = {
        "python_floor_ms": _median_run([sys.executable, "-c", "pass"], env, runs, tree) * 1000,
        "sbs_help_ms": _median_run([sys.executable, *help_cmd], env, runs, tree) * 1000,
        "annotator_import_ms": _median_run([sys.executable, *app_cmd], env, runs, tree) * 1000,
        "sqlite_utils_import_ms": _median_run([sys.executable, "-c", "import sqlite_utils"], env, runs, tree) * 1000,
    }
    for label, code in (("sbs_help", help_cmd), ("annotator_import", app_cmd)):
        on_path, micros = _imports_module(tree, code, "sqlite_utils")
        result[f"{label}_imports_sqlite_utils"] = on_path
        result[f"{label}_sqlite_utils_cumulative_ms"] = round(micros / 1000, 1)
    return {k: round(v, 1) if isinstance(v, float) else v for k, v in result.items()}


COLD_MEASURES = {"cold sbs --help ms": ("sbs_help_ms", "time"),
                 "cold annotator import ms": ("annotator_import_ms", "time"),
                 "cold python floor ms": ("python_floor_ms", "time")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ref", required=True, help="the revision to compare with (a commit, branch or tag)")
    parser.add_argument("--rounds", type=int, default=1, help="rounds of every benchmark per tree (alternating "
                                                              "which tree goes first; default 1)")
    parser.add_argument("--cold-runs", type=int, default=9, help="fresh interpreters per cold-start measure")
    parser.add_argument("--only", default=None, metavar="NAMES",
                        help="comma-separated subset of bench_tui,bench_rank,bench_import,bench_gates,cold")
    parser.add_argument("--big", action="store_true", help="the benchmarks' own default sizes (long)")
    parser.add_argument("--app-module", default=None,
                        help="the annotator app's module (cold start; default: found in each tree)")
    parser.add_argument("--ref-benches", choices=("own", "this"), default="own",
                        help="which bench/ scripts the ref runs: its own (default; they import its module paths) "
                             "or this tree's")
    args = parser.parse_args()
    chosen = args.only.split(",") if args.only else [*BENCHES, "cold"]
    out = REPO / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    parent = Path(tempfile.mkdtemp(prefix="sbs-bench-against-"))
    started = time.perf_counter()
    try:
        ref_tree = make_ref_tree(args.ref, parent, own_benches=args.ref_benches == "own")
        trees = {"new": REPO, "old": ref_tree}
        raw: dict[str, dict[str, list[Any]]] = {"new": {}, "old": {}}
        for round_no in range(args.rounds):
            for name in chosen:
                order = ("old", "new") if (round_no + chosen.index(name)) % 2 == 0 else ("new", "old")
                for side in order:
                    if name == "cold":
                        t0 = time.perf_counter()
                        doc = cold(trees[side], args.cold_runs, args.app_module)
                        wall = time.perf_counter() - t0
                    else:
                        bench_args = BIG[name] if args.big else BENCHES[name][0]
                        doc, wall = run_bench(trees[side], name, bench_args, parent)
                    raw[side].setdefault(name, []).append(doc)
                    print(f"round {round_no + 1} {name:<13} {side}: {wall:6.1f}s", file=sys.stderr)
        report = summarise(raw, args, time.perf_counter() - started)
    finally:
        subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(parent / "ref")],
                       capture_output=True)
        shutil.rmtree(parent, ignore_errors=True)
    print(json.dumps(report))
    (out / "bench_against.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print_table(report)
    return 0


def summarise(raw: dict[str, dict[str, list[Any]]], args: argparse.Namespace, seconds: float) -> dict[str, Any]:
    measures: dict[str, dict[str, Any]] = {}
    for name in raw["new"]:
        table = COLD_MEASURES if name == "cold" else BENCHES[name][1]
        for label, (path, kind) in table.items():
            new = [v for d in raw["new"][name] if (v := _dig(d, path)) is not None]
            old = [v for d in raw["old"][name] if (v := _dig(d, path)) is not None]
            if not new or not old:
                continue
            n, o = statistics.median(new), statistics.median(old)
            measures[label] = {"new": n, "old": o, "ratio_new_over_old": round(n / o, 3) if o else None,
                               "better": "lower" if kind == "time" else "higher"}
    return {"ref": args.ref, "new": str(REPO), "rounds": args.rounds, "sizes": "big" if args.big else "small",
            "cores": os.cpu_count(), "load_average_1min": round(os.getloadavg()[0], 2),
            "seconds": round(seconds, 1), "measures": measures,
            "cold": {side: raw[side].get("cold") for side in ("new", "old")}}


def print_table(report: dict[str, Any]) -> None:
    print(f"\n{'measure':<30}{'new':>12}{'old':>12}{'new/old':>9}  better", file=sys.stderr)
    for label, m in report["measures"].items():
        ratio = "" if m["ratio_new_over_old"] is None else f"{m['ratio_new_over_old']:.2f}"
        print(f"{label:<30}{m['new']:>12,.1f}{m['old']:>12,.1f}{ratio:>9}  {m['better']}", file=sys.stderr)
    print(f"(ref {report['ref']}; {report['sizes']} sizes; load {report['load_average_1min']}; "
          f"{report['seconds']:.0f}s)", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
