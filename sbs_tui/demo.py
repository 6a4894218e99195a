"""The end-to-end demo behind `sbs demo`.

Why subprocesses: every step is exactly the command a user would type (printed before it runs), each with
its own process — the same isolation a pipeline gets, and the annotator app starts without any of the heavy
modules the gate step loaded.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.markup import escape

REPO_SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"


def find_sample_data(data_dir: str | None) -> Path:
    from sbs_tui.errors import InputError

    path = Path(data_dir) if data_dir else REPO_SAMPLE
    if not (path / "generations.jsonl").is_file():
        raise InputError("no generations.jsonl here: pass --data DIR (the repository's sample_data/)",
                         file=str(path))
    return path


def _steps(data: Path) -> list[tuple[str, list[str], bool]]:
    """(title, sbs arguments, required) in funnel order. Optional steps (the synthetic benchmark/A-B files, the
    ranking and analysis views) may fail on a ``--data`` folder without them or other models; the rest may not."""
    votes = data / "judge_votes.jsonl"
    steps: list[tuple[str, list[str], bool]] = [
        ("Import generations (contract JSONL)", ["import", "generations", str(data / "generations.jsonl")], True),
    ]
    if votes.is_file():
        steps.append(("Import LLM-judge votes (AlpacaEval records, as they are)", ["import", "votes", str(votes)],
                      True))
    for file, args, title in [
        ("synthetic_benchmarks.csv", ["import", "benchmarks"], "Import benchmark results (synthetic, illustrative)"),
        ("synthetic_ab.csv", ["import", "ab"], "Import A/B results (synthetic, illustrative)"),
    ]:
        if (data / file).is_file():
            steps.append((title, [*args, str(data / file)], False))
    steps += [
        ("Gate every generation (blocking safety gates keep bad outputs from annotators)", ["gate"], True),
        ("Build the blind judging queue", ["queue", "build", "--overlap", "2"], True),
        ("Rank the models (Bradley-Terry, bootstrap CIs)", ["rank", "--method", "bt", "--bootstrap", "200"], False),
        ("AlpacaEval-style win rate against the reference model",
         ["rank", "--method", "winrate", "--baseline", "gpt4_1106_preview"], False),
        ("Agreement and annotator quality", ["agreement"], False),
        ("A/B: each variant against the control", ["ab", "--control", "gpt4_1106_preview"], False),
        ("The funnel: stages side by side, and where they disagree", ["funnel"], False),
        ("Export the votes (contract JSONL)", ["export", "votes", "--out", "{tmp}/votes.export.jsonl"], True),
    ]
    return steps


def run_demo(*, headless: bool, data_dir: str | None, keep_dir: str | None, annotator: str) -> int:
    console = Console(stderr=False, highlight=False)
    data = find_sample_data(data_dir)
    if keep_dir:
        workdir = Path(keep_dir)
        workdir.mkdir(parents=True, exist_ok=True)
        tmp = None
    else:
        # mkdtemp, not TemporaryDirectory: the folder must outlive this function when votes were cast in it.
        tmp = workdir = Path(tempfile.mkdtemp(prefix="sbs-demo-"))
    db = workdir / "demo.db"
    env = dict(os.environ, SBS_DB=str(db))
    env.pop("SBS_CONFIG", None)
    console.print(f"[bold]sbs demo[/bold] — database {escape(str(db))}" + ("" if keep_dir else " (temporary)"))
    try:
        for title, args, required in _steps(data):
            args = [a.replace("{tmp}", str(workdir)) for a in args]
            console.rule(escape(title))
            console.print("$ " + escape(shlex.join(["sbs", *args])), style="cyan")
            sys.stdout.flush()
            # The child's diagnostics (summaries on stderr) belong in the story, in order.
            proc = subprocess.run([sys.executable, "-m", "sbs_tui", *args], env=env, stderr=subprocess.STDOUT)
            if proc.returncode != 0:
                console.print(f"[red]step failed with exit code {proc.returncode}[/red]")
                if required:
                    return proc.returncode
        if headless:
            console.rule("done")
            console.print(f"Try it yourself: SBS_DB={escape(str(db))} sbs annotate --annotator {annotator}"
                          if keep_dir else "Keep the database with --keep DIR to explore it further.")
            return 0
        console.rule("Annotator app — judge blind pairs: 1 left, 2 right, 3 tie, 4 both bad, q quit")
        console.print("$ " + escape(shlex.join(["sbs", "annotate", "--annotator", annotator])), style="cyan")
        code = subprocess.run([sys.executable, "-m", "sbs_tui", "annotate", "--annotator", annotator],
                              env=env).returncode
        judged = _votes_cast(db, annotator)
        if tmp is not None and judged:
            # Votes someone just cast are never deleted behind their back: the folder stays, and we say where.
            tmp = None
            console.print(f"Your {judged} vote(s) are kept in {escape(str(db))} — "
                          f"SBS_DB={escape(str(db))} sbs rank   (delete {escape(str(workdir))} when done)")
        return code
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _votes_cast(db: Path, annotator: str) -> int:
    from sbs_tui.core.store import Store

    with Store(db) as store:
        return sum(row["done"] for row in store.review.annotators() if row["annotator"] == annotator)
