"""`sbs export dpo`: preference pairs from votes with a clear winner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sbs_tui.cli import main
from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
from sbs_tui.core.store import Store


def vote(prompt: str, winner: str, **kw) -> VoteRecord:
    return VoteRecord(prompt_id=prompt_id_for(prompt), prompt=prompt, model_a="a", model_b="b", winner=winner,
                      annotator=kw.pop("annotator", "ann"), **kw)


def run(capsys, db: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def db(tmp_path) -> Path:
    path = tmp_path / "d.db"
    with Store(path) as store, store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for("q1"), "q1", "a", "gen a1"),
                                  GenerationRecord(prompt_id_for("q1"), "q1", "b", "gen b1"),
                                  GenerationRecord(prompt_id_for("q6"), "q6", "a", "gen a6")])
        store.votes.insert([
            vote("q1", "model_b"),  # outputs from generations
            vote("q2", "model_a", output_a="[bold]A2\x1b[0m", output_b="B2"),  # outputs on the vote
            vote("q3", "tie", output_a="A3", output_b="B3"),
            vote("q4", "both_bad", output_a="A4", output_b="B4"),
            vote("q5", "model_a", output_a="A5", output_b="B5", flagged=True),
            vote("q6", "model_a"),  # no output for b anywhere
            vote("q7", "model_b", weight=0.6, output_a="A7", output_b="B7"),
            vote("q8", "model_b", weight=0.8, output_a="A8", output_b="B8"),
        ])
    return path


def test_export_dpo_pairs(db, tmp_path, capsys):
    out_file = tmp_path / "dpo.jsonl"
    code, out, err = run(capsys, db, "export", "dpo", "--out", str(out_file))
    assert code == 0 and out == ""
    pairs = [json.loads(line) for line in out_file.read_text(encoding="utf-8").splitlines()]
    assert [(p["prompt"], p["chosen"], p["rejected"], p["chosen_model"]) for p in pairs] == [
        ("q1", "gen b1", "gen a1", "b"), ("q2", "[bold]A2\x1b[0m", "B2", "a"), ("q8", "B8", "A8", "b")]
    assert "exported 3 preference pairs" in err
    for reason in ("1 flagged", "2 no clear winner", "1 no output stored for one side", "1 weight below 0.75"):
        assert reason in err


def test_export_dpo_min_weight_and_stdout(db, capsys):
    code, out, _ = run(capsys, db, "export", "dpo", "--min-weight", "0.5")
    assert code == 0
    assert [json.loads(line)["prompt"] for line in out.splitlines()] == ["q1", "q2", "q7", "q8"]
    assert run(capsys, db, "export", "dpo", "--min-weight", "0.2")[0] == 2
