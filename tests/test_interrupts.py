"""Nothing empty or interrupted looks like success (issue 17 §2): Ctrl+C ends a long command with one
``interrupted:`` line and exit 130; a closed pipe is a quiet exit 0; ``--control length`` without a model's
outputs is exit 2 naming the model."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
from sbs_tui.core.store import Store
from scorers.base import ScoreResult

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"


class InterruptingScorer:
    """Scores the first batch, then the user presses Ctrl+C (a real SIGINT to this process) while the second
    batch is scored."""

    name = "test_interrupt"
    higher_is_worse = True
    default_threshold = 1e9
    calls = 0

    def __init__(self, spec) -> None:
        pass

    def score(self, items):
        InterruptingScorer.calls += 1
        if InterruptingScorer.calls == 2:
            os.kill(os.getpid(), signal.SIGINT)
        return [ScoreResult(float(len(i.output)), {}) for i in items]


@pytest.fixture
def interrupting(scorer_registry):
    InterruptingScorer.calls = 0
    scorer_registry.register("test_interrupt", InterruptingScorer, origin="tests")
    return scorer_registry


def _generations(db: Path, n: int = 10) -> None:
    with Store(db) as store, store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(f"q{k}"), f"q{k}", "m", f"answer {k}")
                                  for k in range(n)])


def test_ctrl_c_in_gate_says_what_is_pending_and_exits_130(cli, tmp_path, interrupting) -> None:
    db = tmp_path / "g.db"
    _generations(db)
    result = cli("--db", str(db), "gate", "--gates", "test_interrupt", "--batch-size", "2", "--no-progress")
    assert result.exit_code == 130, result.stderr
    # the batch being scored when Ctrl+C came is finished and kept: 2 batches of 2 done, 6 pending
    lines = result.stderr.splitlines()  # (after the gates' start-up lines) one line, not the normal summary
    assert lines[-1] == "interrupted: 6 generation(s) still pending (sbs gate again goes on from there)", lines
    assert not any(" generation(s): " in line for line in lines)  # the normal summary's form
    assert result.stdout == ""
    with Store(db) as store:
        assert store.generations.count_pending() == 6


def test_ctrl_c_in_score_says_how_many_are_not_scored(cli, tmp_path, interrupting, monkeypatch) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"prompt": f"q{k}", "model": "m", "output": f"a {k}"}) + "\n"
                            for k in range(10)), encoding="utf-8")

    def interrupt_on_second_batch(self, items):
        InterruptingScorer.calls += 1
        if InterruptingScorer.calls == 2:
            raise KeyboardInterrupt
        return [ScoreResult(1.0, {}) for _ in items]

    monkeypatch.setattr(InterruptingScorer, "score", interrupt_on_second_batch)
    out = tmp_path / "out.jsonl"
    result = cli("score", str(rows), "--gates", "test_interrupt", "--batch-size", "2", "--out", str(out),
                 "--no-progress")
    assert result.exit_code == 130, result.stderr
    lines = result.stderr.splitlines()
    assert lines[-1] == "interrupted: 8 generation(s) not scored (the same command with --out resumes)", lines
    assert not any(line.startswith("scored ") for line in lines)


def test_ctrl_c_in_judge_says_how_many_requests_are_left(cli, tmp_path, monkeypatch) -> None:
    from sbs_tui.core.judge import judging

    db = tmp_path / "j.db"
    _generations(db, 2)

    def judged_four_of_ten(store, config, *, progress, on_total, **_kwargs):
        on_total(10)
        progress(4)
        raise KeyboardInterrupt

    monkeypatch.setattr(judging, "run_judge", judged_four_of_ten)
    result = cli("--db", str(db), "judge", "--model", "m", "--base-url", "http://127.0.0.1:9/v1", "--no-progress")
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["interrupted: 6 judge request(s) not answered; verdicts so far are kept "
                                          "and the same command resumes"]


def test_ctrl_c_in_import_rolls_back_and_says_so(cli, tmp_path, monkeypatch) -> None:
    from sbs_tui.core.ingest import importer as ingest

    real = ingest._row_batches

    def interrupted_after_one_batch(*args, **kwargs):
        for k, batch in enumerate(real(*args, **kwargs)):
            if k == 1:
                raise KeyboardInterrupt
            yield batch

    monkeypatch.setattr(ingest, "_row_batches", interrupted_after_one_batch)
    monkeypatch.setattr(ingest, "BATCH_SIZE", 20, raising=False)
    db = tmp_path / "i.db"
    result = cli("--db", str(db), "import", "generations", str(SAMPLE / "generations.jsonl"))
    assert result.exit_code == 130
    assert result.stderr.splitlines() == ["interrupted: nothing imported (an import is all or nothing: this one "
                                          "was rolled back)"]
    with Store(db) as store:
        assert store.generations.ids() == []


@pytest.fixture(scope="module")
def voted_db(tmp_path_factory) -> Path:
    from tests.conftest import run_cli

    db = tmp_path_factory.mktemp("pipe") / "v.db"
    assert run_cli("--db", str(db), "import", "generations", str(SAMPLE / "generations.jsonl")).exit_code == 0
    assert run_cli("--db", str(db), "import", "votes", str(SAMPLE / "judge_votes.jsonl")).exit_code == 0
    return db


@pytest.mark.parametrize("command", [["rank", "--bootstrap", "10"], ["rank", "--format", "json"],
                                     ["export", "votes"], ["export", "rankings", "--bootstrap", "10"]])
def test_a_closed_pipe_is_a_quiet_success(voted_db, command) -> None:
    """``sbs rank | head -2``: the reader is gone before the first write (its end of the pipe closed), which
    is the deterministic form of head exiting early."""
    read, write = os.pipe()
    os.close(read)
    env = dict(os.environ, PYTHONPATH=str(REPO), COLUMNS="120")
    env.pop("SBS_CONFIG", None)
    proc = subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(voted_db), *command], stdout=write,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=120)
    os.close(write)
    assert (proc.returncode, proc.stderr) == (0, "")


def test_length_control_without_a_models_outputs_names_it(cli, tmp_path) -> None:
    db = tmp_path / "lc.db"
    with Store(db) as store, store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(f"q{k}"), f"q{k}", "ref", "x" * (10 + k))
                                  for k in range(6)])
        store.votes.insert([VoteRecord(prompt_id=prompt_id_for(f"q{k}"), prompt=f"q{k}", model_a="ref",
                                       model_b="new", winner=("model_a", "model_b")[k % 2], annotator="ann")
                            for k in range(6)])
    result = cli("--db", str(db), "rank", "--method", "winrate", "--baseline", "ref", "--control", "length")
    assert result.exit_code == 2 and result.stdout == ""
    assert "field '--control': import 'new''s outputs so answer lengths are known" in result.stderr


@pytest.mark.parametrize("command", [["annotators", "add", "bob"], ["queue", "build"], ["gate"],
                                     ["judge", "--model", "m"], ["queue", "cap", "bob", "3"], ["serve"],
                                     ["ab", "--control", "a"], ["annotate", "--annotator", "bob"]])
def test_a_writing_command_refuses_a_database_that_does_not_exist(cli, tmp_path, command) -> None:
    """``sbs --db typo.db annotators add bob`` used to issue a token into a new empty file."""
    with Store(tmp_path / "campaign.db"):
        pass
    typo = tmp_path / "campaing.db"
    result = cli("--db", str(typo), *command)
    assert result.exit_code == 2, result.stderr
    assert "database not found" in result.stderr and f"did you mean {str(tmp_path / 'campaign.db')!r}" in result.stderr
    assert not typo.exists()


def test_only_imports_and_an_explicit_create_make_a_database(cli, tmp_path) -> None:
    made = tmp_path / "new.db"
    assert cli("--db", str(made), "--create", "annotators", "add", "bob").exit_code == 0 and made.exists()
    imported = tmp_path / "imported.db"
    assert cli("--db", str(imported), "import", "generations", str(SAMPLE / "generations.jsonl")).exit_code == 0
    assert imported.exists()


def test_one_row_is_one_row(cli, tmp_path) -> None:
    rows = tmp_path / "one.jsonl"
    rows.write_text(json.dumps({"prompt": "q", "model": "m", "output": "a"}) + "\n", encoding="utf-8")
    result = cli("--db", str(tmp_path / "o.db"), "import", "generations", str(rows))
    assert result.exit_code == 0 and "generations: read 1 row from 1 file;" in result.stderr
