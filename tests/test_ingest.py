"""Importers: contract formats, AlpacaEval as-is, all-or-nothing, idempotency, precise errors, round trip."""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pytest

from sbs_tui.core.store import Store
from tests.conftest import table_counts


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return path


GENS = [
    {"prompt": "Say hi", "model": "m1", "output": "hi"},
    {"prompt": "Say hi", "model": "m2", "output": "hello", "category": "greeting", "extra": 7},
    {"prompt": "Count", "model": "m1", "output": "1 2 3"},
    {"prompt": "Count", "model": "m2", "output": ""},
]


def test_generations_jsonl_and_metadata(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "g.jsonl", GENS)
    r = cli("--db", str(db_path), "import", "generations", str(f))
    assert r.exit_code == 0, r.stderr
    assert "inserted 4" in r.stderr
    with Store(db_path) as s:
        assert s.count("generations") == 4
        assert s.count("prompts") == 2
        meta, category = s.conn.execute(
            "SELECT g.meta, p.category FROM generations g JOIN prompts p ON p.id = g.prompt_id "
            "JOIN models m ON m.id = g.model_id WHERE m.name = 'm2' AND p.text = 'Say hi'").fetchone()
    assert json.loads(meta) == {"extra": 7}
    assert category == "greeting"


def test_same_prompt_from_csv_and_json_array_is_one_prompt(cli, db_path, tmp_path):
    csv_file = tmp_path / "g.csv"
    csv_file.write_text('prompt,model,output\n"Say hi",m3,"multi\nline, with comma"\n', encoding="utf-8")
    arr = tmp_path / "g.json"
    arr.write_text(json.dumps(GENS[:2], indent=2), encoding="utf-8")
    r = cli("--db", str(db_path), "import", "generations", str(csv_file), str(arr))
    assert r.exit_code == 0, r.stderr
    with Store(db_path) as s:
        assert s.count("prompts") == 1
        assert s.count("generations") == 3
        out = s.conn.execute("SELECT output FROM generation_details WHERE model = 'm3'").fetchone()[0]
    assert out == "multi\nline, with comma"


def test_gzip_jsonl(cli, db_path, tmp_path):
    f = tmp_path / "g.jsonl.gz"
    with gzip.open(f, "wt", encoding="utf-8") as fh:
        fh.write("".join(json.dumps(r) + "\n" for r in GENS))
    assert cli("--db", str(db_path), "import", "generations", str(f)).exit_code == 0
    with Store(db_path) as s:
        assert s.count("generations") == 4


def test_reimport_is_idempotent_and_conflicts_need_replace(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "g.jsonl", GENS)
    cli("--db", str(db_path), "import", "generations", str(f))
    r = cli("--db", str(db_path), "import", "generations", str(f))
    assert r.exit_code == 0 and "inserted 0" in r.stderr and "4 already stored" in r.stderr
    changed = write_jsonl(tmp_path / "g2.jsonl", [{"prompt": "Count", "model": "m1", "output": "one two"}])
    before = table_counts(db_path)
    r = cli("--db", str(db_path), "import", "generations", str(changed))
    assert r.exit_code == 2
    assert f"{changed}:1" in r.stderr and "--replace" in r.stderr
    assert table_counts(db_path) == before
    r = cli("--db", str(db_path), "import", "generations", "--replace", str(changed))
    assert r.exit_code == 0, r.stderr
    with Store(db_path) as s:
        row = s.conn.execute("SELECT output, gate_status FROM generation_details WHERE model='m1' "
                             "AND prompt='Count'").fetchone()
    assert row == ("one two", "pending")


@pytest.mark.parametrize(
    ("content", "line", "needle"),
    [
        ('{"prompt": "a", "model": "m", "output": "x"}\n{"prompt": "b", "model": "m", "output": }\n', 2,
         "invalid JSON"),
        ('{"prompt": "a", "model": "m", "output": "x"}\n\n{"prompt": "b", "output": "y"}\n', 3, "'model'"),
        ('{"prompt": "a", "model": "m", "output": null}\n', 1, "'output'"),
        ('{"prompt": "a", "model": ["m"], "output": "x"}\n', 1, "'model'"),
        ('[1, 2]\n', 1, "JSON object"),
    ],
)
def test_bad_generation_line_is_named_and_nothing_is_written(cli, db_path, tmp_path, content, line, needle):
    good = write_jsonl(tmp_path / "good.jsonl", GENS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text(content, encoding="utf-8")
    Store(db_path).close()
    before = table_counts(db_path)
    r = cli("--db", str(db_path), "import", "generations", str(good), str(bad))
    assert r.exit_code == 2
    assert f"{bad}:{line}" in r.stderr and needle in r.stderr
    assert table_counts(db_path) == before  # the good file before it was rolled back too


def test_bad_csv_row_named(cli, db_path, tmp_path):
    f = tmp_path / "g.csv"
    f.write_text("prompt,model,output\na,m,x\nb,m\n", encoding="utf-8")
    r = cli("--db", str(db_path), "import", "generations", str(f))
    assert r.exit_code == 2 and f"{f}:3" in r.stderr and "columns" in r.stderr


def test_not_utf8_and_missing_file(cli, db_path, tmp_path):
    f = tmp_path / "latin.jsonl"
    f.write_bytes('{"prompt": "caf\xe9", "model": "m", "output": "x"}\n'.encode("latin-1"))
    r = cli("--db", str(db_path), "import", "generations", str(f))
    assert r.exit_code == 2 and f"{f}:1" in r.stderr and "UTF-8" in r.stderr
    r = cli("--db", str(db_path), "import", "generations", str(tmp_path / "nope.jsonl"))
    assert r.exit_code == 2 and "not found" in r.stderr


VOTES = [
    {"prompt": "Say hi", "model_a": "m1", "model_b": "m2", "winner": "model_a", "annotator": "ann"},
    {"prompt": "Say hi", "model_a": "m1", "model_b": "m2", "winner": "tie (bothbad)", "annotator": "bob",
     "left": "m2", "criteria": {"helpfulness": 2}, "ts": "2026-11-01T10:00:00Z", "rationale": "both wrong"},
    {"prompt": "Count", "model_a": "m2", "model_b": "m1", "winner": "m1", "annotator": "ann", "weight": 0.75},
]


def test_votes_contract_fields(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "v.jsonl", VOTES)
    r = cli("--db", str(db_path), "import", "votes", str(f))
    assert r.exit_code == 0, r.stderr
    with Store(db_path) as s:
        rows = s.conn.execute("SELECT winner, weight, score_b, shown_left, criteria FROM votes ORDER BY id").fetchall()
    assert rows[0] == ("model_a", 1.0, 0.0, None, None)
    assert rows[1][:4] == ("both_bad", 1.0, 0.5, "model_b") and json.loads(rows[1][4]) == {"helpfulness": 2}
    assert rows[2][:3] == ("model_b", 0.75, 0.75)


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"winner": "left"}, "winner"),
        ({"model_b": "m1"}, "model_b"),
        ({"weight": 0.3}, "weight"),
        ({"weight": "abc"}, "weight"),
        ({"left": "m9"}, "left"),
        ({"annotator": None}, "annotator"),
        ({"criteria": "[1]"}, "criteria"),
    ],
)
def test_bad_vote_field_named(cli, db_path, tmp_path, patch, field):
    row = dict(VOTES[0], **patch)
    f = write_jsonl(tmp_path / "v.jsonl", [VOTES[0], row])
    r = cli("--db", str(db_path), "import", "votes", str(f))
    assert r.exit_code == 2
    assert f"{f}:2" in r.stderr and f"field '{field}'" in r.stderr
    with Store(db_path) as s:
        assert s.count("votes") == 0


def test_vote_by_unknown_prompt_id_is_an_error(cli, db_path, tmp_path):
    f = write_jsonl(tmp_path / "v.jsonl", [{"prompt_id": "p_x", "model_a": "a", "model_b": "b",
                                            "winner": "tie", "annotator": "z"}])
    r = cli("--db", str(db_path), "import", "votes", str(f))
    assert r.exit_code == 2 and "p_x" in r.stderr and f"{f}:1" in r.stderr


def test_alpaca_records_as_is(cli, db_path, tmp_path):
    outputs = write_jsonl(tmp_path / "o.jsonl", [
        {"instruction": "Q1", "output": "A", "generator": "gA", "dataset": "helpful_base"},
        {"instruction": "Q1", "output": "B", "generator": "gB", "dataset": "helpful_base"},
    ])
    votes = write_jsonl(tmp_path / "a.jsonl", [
        {"instruction": "Q1", "generator_1": "gA", "generator_2": "gB", "preference": 1.8, "annotator": "j"},
        {"instruction": "Q1", "generator_1": "gA", "generator_2": "gB", "preference": 1.0, "annotator": "j2"},
        {"instruction": "Q1", "generator_1": "gA", "generator_2": "gB", "preference": 1.5, "annotator": "j3"},
        {"instruction": "Q1", "generator_1": "gA", "generator_2": "gB", "preference": 0, "annotator": "j4"},
        {"instruction": "Q1", "generator_1": "gA", "generator_2": "gB", "preference": None, "annotator": "j5"},
    ])
    assert cli("--db", str(db_path), "import", "generations", str(outputs)).exit_code == 0
    r = cli("--db", str(db_path), "import", "votes", str(votes))
    assert r.exit_code == 0, r.stderr
    assert "inserted 4" in r.stderr and "1 no verdict" in r.stderr
    with Store(db_path) as s:
        rows = s.conn.execute("SELECT winner, weight, score_b FROM votes ORDER BY id").fetchall()
        assert s.conn.execute("SELECT category FROM prompts").fetchone()[0] == "helpful_base"
        assert s.conn.execute("SELECT DISTINCT kind FROM annotators").fetchall() == [("judge",)]
    assert rows[0][0] == "model_b" and rows[0][1] == pytest.approx(0.8) and rows[0][2] == pytest.approx(0.8)
    assert rows[1] == ("model_a", 1.0, 0.0)
    assert rows[2] == ("tie", 1.0, 0.5) and rows[3] == ("tie", 1.0, 0.5)
    bad = write_jsonl(tmp_path / "b.jsonl", [{"instruction": "Q", "generator_1": "a", "generator_2": "b",
                                              "preference": 2.5}])
    r = cli("--db", str(db_path), "import", "votes", str(bad))
    assert r.exit_code == 2 and "preference" in r.stderr


def test_export_round_trips_csv_and_jsonl(cli, tmp_path):
    v = write_jsonl(tmp_path / "v.jsonl", VOTES)
    db1, db2, db3 = (tmp_path / f"{i}.db" for i in range(3))
    assert cli("--db", str(db1), "import", "votes", str(v)).exit_code == 0
    for fmt, db in (("jsonl", db2), ("csv", db3)):
        out = tmp_path / f"export.{fmt}"
        assert cli("--db", str(db1), "export", "votes", "--out", str(out)).exit_code == 0
        assert cli("--db", str(db), "import", "votes", str(out)).exit_code == 0
        again = tmp_path / f"again.{fmt}"
        assert cli("--db", str(db), "export", "votes", "--out", str(again)).exit_code == 0
        assert again.read_text(encoding="utf-8") == out.read_text(encoding="utf-8")
        # and into the original database: nothing new
        r = cli("--db", str(db1), "import", "votes", str(out))
        assert "inserted 0" in r.stderr


def test_shared_alpaca_round_trip_and_exact_preferences(cli, tmp_path, shared_alpaca):
    db1, db2 = tmp_path / "1.db", tmp_path / "2.db"
    outputs = sorted((shared_alpaca / "outputs").glob("*.jsonl"))
    votes = sorted((shared_alpaca / "judge_votes").glob("*.jsonl"))
    assert cli("--db", str(db1), "import", "generations", *map(str, outputs)).exit_code == 0
    assert cli("--db", str(db1), "import", "votes", *map(str, votes)).exit_code == 0
    e1, e2 = tmp_path / "e1.jsonl", tmp_path / "e2.jsonl"
    assert cli("--db", str(db1), "export", "votes", "--out", str(e1)).exit_code == 0
    assert cli("--db", str(db2), "import", "votes", str(e1)).exit_code == 0
    assert cli("--db", str(db2), "export", "votes", "--out", str(e2)).exit_code == 0
    assert e1.read_bytes() == e2.read_bytes()
    # every original preference survives, exactly
    original = sorted((json.loads(l)["instruction"], json.loads(l)["generator_2"], json.loads(l)["preference"])
                      for f in votes for l in f.open(encoding="utf-8")
                      if json.loads(l)["preference"] is not None)
    exported = sorted((r["prompt"], r["model_b"], r["meta"]["preference"])
                      for r in map(json.loads, e1.open(encoding="utf-8")))
    assert exported == original
    conn = sqlite3.connect(db1)
    assert conn.execute("SELECT count(*) FROM generations").fetchone()[0] == 8 * 805
    assert conn.execute("SELECT count(*) FROM prompts").fetchone()[0] == 805


def test_large_files_parse_in_a_child_process_with_the_same_result(tmp_path, monkeypatch):
    """Big files are parsed in a second process; results, skip counts and errors must be identical."""
    import sbs_tui.core.ingest.importer as ingest

    rows = [{"instruction": f"Q{i}", "generator_1": "a", "generator_2": "b",
             "preference": None if i % 10 == 0 else 1 + (i % 7) / 7, "annotator": "j"} for i in range(500)]
    f = write_jsonl(tmp_path / "v.jsonl", rows)
    inline_db, parallel_db = Store(tmp_path / "i.db"), Store(tmp_path / "p.db")
    inline = ingest.import_files(inline_db, "votes", [f])
    monkeypatch.setattr(ingest, "PARALLEL_MIN_BYTES", 0)
    parallel = ingest.import_files(parallel_db, "votes", [f])
    assert inline.as_dict() == parallel.as_dict()
    assert inline.skipped == {"no verdict (preference is null)": 50}
    assert list(inline_db.exports.votes()) == list(parallel_db.exports.votes())
    bad = tmp_path / "bad.jsonl"
    bad.write_text(f.read_text(encoding="utf-8") + '{"instruction": "x", "generator_1": "a"}\n', encoding="utf-8")
    before = parallel_db.count("votes")
    with pytest.raises(ingest.InputError) as info:
        ingest.import_files(parallel_db, "votes", [bad])
    assert info.value.line == 501 and info.value.file == str(bad)
    assert parallel_db.count("votes") == before


def test_export_rankings_matches_rank_json(cli, db_path, sample_dir, tmp_path):
    assert cli("--db", str(db_path), "import", "votes", str(sample_dir / "judge_votes.jsonl")).exit_code == 0
    ranked = cli("--db", str(db_path), "rank", "--bootstrap", "50", "--format", "json")
    out = tmp_path / "r.json"
    r = cli("--db", str(db_path), "export", "rankings", "--bootstrap", "50", "--out", str(out))
    assert r.exit_code == 0, r.stderr
    assert json.loads(out.read_text(encoding="utf-8")) == json.loads(ranked.stdout)
    csv_out = tmp_path / "r.csv"
    assert cli("--db", str(db_path), "export", "rankings", "--out", str(csv_out)).exit_code == 0
    assert csv_out.read_text(encoding="utf-8").splitlines()[0].startswith("model,rating,ci_low,ci_high,rank")
    # Issue 9.7: winrate without --baseline picks the most-compared model (as the review app does) and says so
    chosen = cli("--db", str(db_path), "export", "rankings", "--method", "winrate")
    assert chosen.exit_code == 0 and "--baseline" in chosen.stderr and "most-compared" in chosen.stdout
    bad = cli("--db", str(db_path), "export", "rankings", "--method", "winrate", "--baseline", "nobody")
    assert bad.exit_code == 2 and "--baseline" in bad.stderr


@pytest.mark.parametrize("fmt", ["jsonl", "json"])
def test_lone_surrogate_escape_is_a_clear_error_not_a_crash(cli, db_path, tmp_path, fmt):
    """JSON can spell a lone UTF-16 surrogate (\\ud800); no UTF-8 store can hold it, so the row is refused."""
    ok = '{"prompt": "emoji \\ud83d\\ude00 pair is fine", "model": "m", "output": "x"}'
    bad = '{"prompt": "a\\ud800b", "model": "m2", "output": "x"}'
    f = tmp_path / f"g.{fmt}"
    f.write_text(f"{ok}\n{bad}\n" if fmt == "jsonl" else f"[\n{ok},\n{bad}\n]\n", encoding="utf-8")
    r = cli("--db", str(db_path), "import", "generations", str(f))
    assert r.exit_code == 2, r.stderr
    bad_line = 2 if fmt == "jsonl" else 3  # the array opens with "[" on a line of its own
    assert f"{f}:{bad_line}" in r.stderr and "surrogate" in r.stderr
    f.write_text(f"{ok}\n" if fmt == "jsonl" else f"[{ok}]", encoding="utf-8")
    assert cli("--db", str(db_path), "import", "generations", str(f)).exit_code == 0
