"""The contract commands' outputs on the shared AlpacaEval data, written to a folder to compare two trees.

Why: issue 18 moves code, never results — "every JSON output of the contract commands on the shared AlpacaEval
data is byte-identical before and after, except where the one-truth issue changes it on purpose". This script
makes that checkable for any two source trees (the current checkout, or an old one made with
``git worktree add /tmp/old REV``):

    python bench/contract_outputs.py run --tree /tmp/old --out /tmp/contract-old
    python bench/contract_outputs.py run --out /tmp/contract-new          # --tree defaults to this repository
    python bench/contract_outputs.py diff /tmp/contract-old /tmp/contract-new

``run`` builds a fresh database from the first ``--prompts`` instructions of every model in ``--data``
(default ``/work/shared/data/alpaca_eval``; ``--prompts 0`` takes all 805), plus this repository's synthetic
benchmark and A/B files and the gate labelled rows, then runs every contract command with ``PYTHONPATH=TREE``
(``python -m sbs_tui``; the tree under test, in a fresh interpreter each) and writes each one's stdout to
``OUT/NN_name.json`` (JSONL outputs as a JSON list, the Markdown report — written to a file, as every version
accepts — as text) and every exit code to
``OUT/exit_codes.json``. ``sbs judge`` and ``sbs generate`` run against this repository's fake endpoint
(``sbs_tui.testing.fake_endpoint``: deterministic answers and coin-flip verdicts), the same server for both
trees, one request at a time (``--concurrency 1``: votes are stored in the order answers arrive). A command the tree does not have (``sbs generate`` before wave 2) is recorded with its exit code.

Volatile values are normalised before writing, so that two runs of the same tree are byte-identical (checked
by running the same tree twice); they are exactly:

* :data:`VOLATILE_KEYS` — object keys whose values are wall-clock times or durations, replaced by ``"<volatile>"``
  (only when the value is not null, so that "absent" and "present" still differ);
* :data:`VOLATILE_TEXT` — in every string: the temporary folder's absolute path (``<TMP>``), ISO-8601
  timestamps (``<TS>``) and the endpoint's port (``<PORT>``);
* the token that ``sbs annotators add`` prints is not recorded (random by design); ``annotators list`` is.

``diff`` prints, per output, ``same`` or ``DIFFERS`` with the first differing JSON paths (and exit codes), and
exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATA = Path("/work/shared/data/alpaca_eval")
BASELINE = "gpt4_1106_preview"

#: Keys whose values are wall-clock times or durations (normalised when not null).
VOLATILE_KEYS = frozenset({
    "ts",  # a vote's time (the judge's votes, stored when they arrive)
    "created_at",  # an account's creation time (annotators list)
    "seconds", "ttft_s", "tokens_per_s", "throughput_tokens_per_s",  # durations and rates (judge, generate)
})
#: Patterns normalised inside every string (the temporary folder, timestamps, the fake endpoint's port).
VOLATILE_TEXT = (
    (re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d(?::\d\d(?:\.\d+)?)?(?:Z|[+-]\d\d:?\d\d)?(?: UTC)?"), "<TS>"),
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:<PORT>"),
)


def _subset(data: Path, work: Path, prompts: int) -> dict[str, Any]:
    """The first ``prompts`` instructions of each model's outputs and the judge votes on them, in ``work``."""
    out = work / "data"
    (out / "outputs").mkdir(parents=True)
    (out / "judge_votes").mkdir()
    keep: set[str] | None = None
    outputs = []
    for path in sorted((data / "outputs").glob("*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        lines = lines[:prompts] if prompts else lines
        if keep is None:
            keep = {json.loads(line)["instruction"] for line in lines}
        target = out / "outputs" / path.name
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        outputs.append(target)
    assert keep is not None, f"no outputs under {data}"
    votes = []
    for path in sorted((data / "judge_votes").glob("*.jsonl")):
        lines = [line for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip() and json.loads(line)["instruction"] in keep]
        target = out / "judge_votes" / path.name
        target.write_text("\n".join(lines) + "\n", encoding="utf-8")
        votes.append(target)
    difficulty = out / "instruction_difficulty.csv"
    with open(data / "instruction_difficulty.csv", encoding="utf-8", newline="") as src, \
            open(difficulty, "w", encoding="utf-8", newline="") as dst:
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames or ["instruction", "difficulty"])
        writer.writeheader()
        writer.writerows(row for row in reader if row["instruction"] in keep)
    prompts_file = out / "prompts.jsonl"
    prompts_file.write_text("".join(json.dumps({"prompt": p}) + "\n" for p in sorted(keep)[:6]), encoding="utf-8")
    return {"outputs": outputs, "votes": votes, "difficulty": difficulty, "prompts": prompts_file}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_endpoint() -> tuple[subprocess.Popen[bytes], str]:
    """This repository's fake OpenAI endpoint (the same server whichever tree is under test)."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui.testing.fake_endpoint", "--port", str(port),
                             "--latency", "0", "--tokens-per-s", "100000"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc, f"http://127.0.0.1:{port}/v1"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("the fake endpoint did not start")


def commands(d: dict[str, Any], url: str) -> Iterator[tuple[str, list[str], str]]:
    """(name, sbs arguments, what to record: stdout as json | jsonl | text, none, or file:NAME — a file the command
    wrote in the work folder), in the order they run."""
    yield "import_generations", ["import", "generations", *map(str, d["outputs"]), "--json"], "json"
    yield "import_votes", ["import", "votes", *map(str, d["votes"]), "--json"], "json"
    yield "import_benchmarks", ["import", "benchmarks", str(REPO / "sample_data/synthetic_benchmarks.csv"),
                                "--json"], "json"
    yield "import_ab", ["import", "ab", str(REPO / "sample_data/synthetic_ab.csv"), "--json"], "json"
    yield "score_file", ["score", str(d["outputs"][0]), "--no-progress"], "jsonl"
    yield "gate", ["gate", "--format", "json", "--no-progress"], "json"
    yield "gate_eval", ["gate", "eval", str(REPO / "tests/data/gates_dev.jsonl"), "--format", "json"], "json"
    yield "queue_build", ["queue", "build", "--overlap", "2", "--format", "json"], "json"
    yield "queue_status", ["queue", "status", "--format", "json"], "json"
    yield "queue_flags", ["queue", "flags", "--format", "json"], "jsonl"
    rank = ["rank", "--format", "json"]
    yield "rank_bt", [*rank, "--method", "bt", "--bootstrap", "100"], "json"
    yield "rank_bt_sandwich", [*rank, "--method", "bt", "--ci", "sandwich"], "json"
    yield "rank_bt_length", [*rank, "--method", "bt", "--control", "length", "--bootstrap", "50"], "json"
    yield "rank_bt_style", [*rank, "--method", "bt", "--control", "style", "--bootstrap", "50"], "json"
    yield "rank_elo", [*rank, "--method", "elo", "--bootstrap", "50"], "json"
    yield "rank_trueskill", [*rank, "--method", "trueskill", "--bootstrap", "20"], "json"
    yield "rank_winrate", [*rank, "--method", "winrate", "--baseline", BASELINE, "--bootstrap", "100"], "json"
    yield "rank_winrate_lc", [*rank, "--method", "winrate", "--baseline", BASELINE, "--control", "length",
                              "--difficulty", str(d["difficulty"]), "--bootstrap", "50"], "json"
    yield "rank_winrate_lc_stored", [*rank, "--method", "winrate", "--baseline", BASELINE, "--control", "length",
                                     "--bootstrap", "50"], "json"
    yield "rank_csv", [*rank[:1], "--format", "csv", "--method", "bt", "--ci", "sandwich"], "text"
    yield "agreement", ["agreement", "--format", "json"], "json"
    yield "judge", ["judge", "--base-url", url, "--model", "fake-judge", "--pairs", "baseline", "--baseline",
                    BASELINE, "--limit", "12", "--concurrency", "1", "--format", "json", "--no-progress"], "json"
    yield "rank_after_judge_all", [*rank, "--method", "bt", "--ci", "sandwich", "--voters", "all"], "json"
    yield "agreement_after_judge", ["agreement", "--format", "json"], "json"
    yield "ab", ["ab", "--format", "json"], "json"
    yield "ab_control", ["ab", "--format", "json", "--control", BASELINE], "json"
    yield "funnel", ["funnel", "--format", "json"], "json"
    yield "report_md", ["report", "--out", "report.md", "--bootstrap", "50"], "file:report.md"
    yield "export_votes", ["export", "votes"], "jsonl"
    yield "export_dpo", ["export", "dpo"], "jsonl"
    yield "export_rankings", ["export", "rankings", "--method", "bt", "--ci", "sandwich"], "json"
    yield "annotators_add", ["annotators", "add", "alice"], "none"
    yield "annotators_list", ["annotators", "list", "--format", "json"], "json"
    yield "generate", ["generate", "--prompts", str(d["prompts"]), "--model", "fake-gen", "--base-url", url,
                       "--seed", "1", "--concurrency", "1", "--format", "json", "--no-progress"], "json"
    yield "generate_again", ["generate", "--prompts", str(d["prompts"]), "--model", "fake-gen", "--base-url", url,
                             "--seed", "1", "--concurrency", "1", "--format", "json", "--no-progress"], "json"


def normalise(value: Any, tmp: str) -> Any:
    if isinstance(value, dict):
        return {k: ("<volatile>" if k in VOLATILE_KEYS and v is not None and not isinstance(v, dict | list)
                    else normalise(v, tmp)) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, tmp) for v in value]
    if isinstance(value, str):
        return normalise_text(value, tmp)
    return value


def normalise_text(text: str, tmp: str) -> str:
    text = text.replace(tmp, "<TMP>")
    for pattern, replacement in VOLATILE_TEXT:
        text = pattern.sub(replacement, text)
    return text


def _render(stdout: str, kind: str, tmp: str) -> str:
    """The output as written to the folder: JSON re-dumped (key order kept), JSONL as a list, text as text."""
    try:
        if kind == "json":
            return json.dumps(normalise(json.loads(stdout), tmp), ensure_ascii=False, indent=1) + "\n"
        if kind == "jsonl":
            rows = [json.loads(line) for line in stdout.splitlines() if line.strip()]
            return json.dumps(normalise(rows, tmp), ensure_ascii=False, indent=1) + "\n"
    except json.JSONDecodeError:
        return "NOT JSON:\n" + normalise_text(stdout, tmp)
    return normalise_text(stdout, tmp)


def run(tree: Path, out: Path, data: Path, prompts: int, keep: bool) -> int:
    out.mkdir(parents=True, exist_ok=True)
    for old in out.glob("*.json"):
        old.unlink()
    tmp = tempfile.mkdtemp(prefix="sbs-contract-")
    work = Path(tmp)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SBS_")}
    env.update(PYTHONPATH=str(tree.resolve()), OPENAI_API_KEY="contract-outputs", HF_HUB_OFFLINE="1",
               TRANSFORMERS_OFFLINE="1", NO_COLOR="1", COLUMNS="120", SBS_USER="contract")
    endpoint, url = _start_endpoint()
    codes: dict[str, int] = {}
    try:
        d = _subset(data, work, prompts)
        db = str(work / "contract.db")
        for i, (name, args, kind) in enumerate(commands(d, url)):
            started = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "sbs_tui", "--db", db, *args], cwd=work, env=env,
                                  capture_output=True, text=True, timeout=900)
            codes[name] = proc.returncode
            print(f"{name:<24} exit {proc.returncode}  {time.perf_counter() - started:6.1f}s"
                  + (f"  {proc.stderr.strip().splitlines()[-1][:90]}" if proc.returncode and proc.stderr.strip()
                     else ""), file=sys.stderr)
            if kind.startswith("file:"):  # a document written to a file in the work folder (sbs report)
                written = work / kind.partition(":")[2]
                text = written.read_text(encoding="utf-8") if written.exists() else ""
                (out / f"{i:02d}_{name}.json").write_text(_render(text, "text", tmp), encoding="utf-8")
                written.unlink(missing_ok=True)
            elif kind != "none":
                (out / f"{i:02d}_{name}.json").write_text(_render(proc.stdout, kind, tmp), encoding="utf-8")
        (out / "exit_codes.json").write_text(json.dumps(codes, indent=1) + "\n", encoding="utf-8")
    finally:
        endpoint.terminate()
        endpoint.wait(timeout=10)
        if not keep:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


def _paths(a: Any, b: Any, where: str = "$") -> Iterator[str]:
    """The JSON paths at which ``a`` and ``b`` differ (key order counts: the bytes are the contract)."""
    if isinstance(a, dict) and isinstance(b, dict):
        if list(a) != list(b) and set(a) == set(b):
            yield f"{where} (key order)"
        for key in dict.fromkeys([*a, *b]):
            if key not in a or key not in b:
                yield f"{where}.{key} ({'added' if key not in a else 'removed'})"
            else:
                yield from _paths(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{where} (length {len(a)} → {len(b)})"
        for i, (x, y) in enumerate(zip(a, b)):
            yield from _paths(x, y, f"{where}[{i}]")
    elif a != b or type(a) is not type(b):
        yield f"{where}: {json.dumps(a, ensure_ascii=False)[:60]} → {json.dumps(b, ensure_ascii=False)[:60]}"


def diff(old: Path, new: Path, show: int) -> int:
    names = sorted({p.name for p in old.glob("*.json")} | {p.name for p in new.glob("*.json")})
    differing = 0
    for name in names:
        a, b = old / name, new / name
        if not a.exists() or not b.exists():
            print(f"{name:<32} only in {'new' if not a.exists() else 'old'}")
            differing += 1
            continue
        ta, tb = a.read_text(encoding="utf-8"), b.read_text(encoding="utf-8")
        if ta == tb:
            print(f"{name:<32} same")
            continue
        differing += 1
        try:
            paths = list(_paths(json.loads(ta), json.loads(tb)))
        except json.JSONDecodeError:
            la, lb = ta.splitlines(), tb.splitlines()
            paths = [f"line {i + 1}: {x[:60]!r} → {y[:60]!r}" for i, (x, y) in enumerate(zip(la, lb)) if x != y]
            if len(la) != len(lb):
                paths.append(f"{len(la)} → {len(lb)} lines")
        print(f"{name:<32} DIFFERS ({len(paths)} place(s))")
        for path in paths[:show]:
            print(f"    {path}")
    print(f"{differing} of {len(names)} output(s) differ")
    return 1 if differing else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="mode", required=True)
    r = sub.add_parser("run", help="run every contract command on one tree")
    r.add_argument("--tree", type=Path, default=REPO, help="source tree to put on PYTHONPATH (default: this repo)")
    r.add_argument("--out", type=Path, required=True, help="folder for the outputs (its *.json are replaced)")
    r.add_argument("--data", type=Path, default=DATA, help=f"AlpacaEval data folder (default {DATA})")
    r.add_argument("--prompts", type=int, default=80, help="instructions per model (0: all 805; default 80)")
    r.add_argument("--keep", action="store_true", help="keep the temporary database folder")
    d = sub.add_parser("diff", help="compare two output folders")
    d.add_argument("old", type=Path)
    d.add_argument("new", type=Path)
    d.add_argument("--show", type=int, default=8, help="differing paths shown per output (default 8)")
    args = parser.parse_args(argv)
    if args.mode == "run":
        return run(args.tree, args.out, args.data, args.prompts, args.keep)
    return diff(args.old, args.new, args.show)


if __name__ == "__main__":
    sys.exit(main())
