"""Hostile input files are FILE:LINE input errors (exit 2), never internal errors (issue 21 minors, issue 17 §6):
NaN/Infinity and numbers in text fields, binary files with unknown extensions, invalid UTF-8 in lm-eval JSON,
rows nested ~975 deep, CSV fields larger than Python's default limit, and whole-file errors (bad gzip, invalid
UTF-8) that name the first bad line or byte offset."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pytest

from sbs_tui.core.store import Store
from tests.conftest import table_counts

GEN = {"prompt": "Say hi", "model": "m1", "output": "hi"}


def import_(cli, db: Path, kind: str, path: Path):
    return cli("--db", str(db), "import", kind, str(path))


def sbs_process(*args: str):
    """A real `sbs` process: its stack is as shallow as a user's (pytest's frames make Python's JSON parser
    give up on nesting sooner than it does in the command)."""
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    return subprocess.run([sys.executable, "-m", "sbs_tui", *args], cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)


@pytest.mark.parametrize("raw, field", [
    ('{"prompt": "Say hi", "model": NaN, "output": "hi"}', "model"),
    ('{"prompt": "Say hi", "model": "m1", "output": Infinity}', "output"),
    ('{"prompt": -Infinity, "model": "m1", "output": "hi"}', "prompt"),
    ('{"prompt": "Say hi", "model": "m1", "output": 1}', "output"),
    ('{"prompt": "Say hi", "model": 7, "output": "hi"}', "model"),
])
def test_numbers_and_nan_in_text_fields_are_input_errors(cli, db_path, tmp_path, raw, field):
    f = tmp_path / "g.jsonl"
    f.write_text(json.dumps(GEN) + "\n" + raw + "\n", encoding="utf-8")
    r = import_(cli, db_path, "generations", f)
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"error: {f}:2: field '{field}': expected text, got "), r.stderr
    assert table_counts(db_path).get("models", 0) == 0  # no model "nan", nothing half written


def test_a_number_stays_welcome_where_it_is_an_identifier(cli, db_path, tmp_path):
    f = tmp_path / "g.jsonl"
    f.write_text(json.dumps({**GEN, "prompt_id": 17}) + "\n", encoding="utf-8")
    assert import_(cli, db_path, "generations", f).exit_code == 0
    with Store(db_path) as s:
        assert [r[0] for r in s.conn.execute("SELECT id FROM prompts")] == ["17"]


def test_a_vote_nan_annotator_is_an_input_error(cli, db_path, tmp_path):
    f = tmp_path / "v.jsonl"
    f.write_text('{"prompt": "p", "model_a": "a", "model_b": "b", "winner": "tie", "annotator": NaN}\n')
    r = import_(cli, db_path, "votes", f)
    assert r.exit_code == 2 and f"{f}:1: field 'annotator'" in r.stderr


def test_a_binary_file_with_an_unknown_extension(cli, db_path, tmp_path):
    f = tmp_path / "outputs.bin"
    f.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8)
    r = import_(cli, db_path, "generations", f)
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"error: {f}:1: not valid UTF-8 (invalid start byte at byte offset 0)"), r.stderr
    assert "internal error" not in r.stderr


def test_invalid_utf8_in_lm_eval_json_names_its_line(cli, db_path, tmp_path):
    f = tmp_path / "results.json"
    f.write_bytes(b'{\n  "results": {\n    "arc": {"acc": 0.5}\n  },\n  "model_name": "m\xff1"\n}\n')
    r = cli("--db", str(db_path), "import", "benchmarks", str(f))
    assert r.exit_code == 2, r.stderr
    assert r.stderr.startswith(f"error: {f}:5: not valid UTF-8 (invalid start byte at byte offset "), r.stderr


def deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize("kind, row", [
    ("generations", lambda d: '{"prompt": "p", "model": "m", "output": "o", "meta": {"x": ' + d + "}}"),
    ("votes", lambda d: '{"prompt": "p", "model_a": "a", "model_b": "b", "winner": "tie", "annotator": "x", '
                        '"extra": ' + d + "}"),
])
@pytest.mark.parametrize("depth", [300, 960, 975])
def test_a_row_nested_hundreds_deep_is_an_input_error(db_path, tmp_path, kind, row, depth):
    """960 deep used to be stored (and broke whatever read it back), 975 was refused: one rule, one message."""
    f = tmp_path / f"{kind}.jsonl"
    f.write_text(row(deep(depth)) + "\n", encoding="utf-8")
    r = sbs_process("--db", str(db_path), "import", kind, str(f))
    assert r.returncode == 2, r.stderr
    assert r.stderr.startswith(f"error: {f}:1: ") and "nested too deeply" in r.stderr, r.stderr


def test_a_deep_json_array_row_and_a_deep_csv_field(cli, db_path, tmp_path):
    arr = tmp_path / "g.json"
    arr.write_text("[\n" + json.dumps(GEN) + ",\n" + '{"prompt": "p", "model": "m", "output": "o", "meta": '
                   + "{\"a\": " * 960 + "1" + "}" * 960 + "}\n]\n", encoding="utf-8")
    r = sbs_process("--db", str(db_path), "import", "generations", str(arr))
    assert r.returncode == 2 and r.stderr.startswith(f"error: {arr}:3: nested too deeply"), r.stderr
    csv_file = tmp_path / "v.csv"
    csv_file.write_text('prompt,model_a,model_b,winner,annotator,criteria\np,a,b,tie,x,"'
                        + ('{""a"": ' * 960) + "1" + "}" * 960 + '"\n', encoding="utf-8")
    r = sbs_process("--db", str(db_path), "import", "votes", str(csv_file))
    assert r.returncode == 2 and f"{csv_file}:2: field 'criteria': nested too deeply" in r.stderr, r.stderr


def test_csv_fields_as_large_as_jsonl_ones(cli, db_path, tmp_path):
    big = "x" * 300_000  # over the csv module's default 131,072-character limit
    f = tmp_path / "g.csv"
    f.write_text(f"prompt,model,output\nSay hi,m1,{big}\n", encoding="utf-8")
    r = import_(cli, db_path, "generations", f)
    assert r.exit_code == 0, r.stderr
    with Store(db_path) as s:
        assert s.conn.execute("SELECT output_chars FROM generations").fetchone()[0] == 300_000


def test_a_file_that_is_not_gzip(cli, db_path, tmp_path):
    f = tmp_path / "g.jsonl.gz"
    f.write_bytes(b"this is not gzip at all\n")
    r = import_(cli, db_path, "generations", f)
    assert r.exit_code == 2 and r.stderr.startswith(f"error: {f}: not a gzip file"), r.stderr
    assert "byte offset 0" in r.stderr


def test_a_cut_short_gzip_names_the_line_it_stops_at(cli, db_path, tmp_path):
    rows = "".join(json.dumps({**GEN, "prompt": f"p{i}"}) + "\n" for i in range(5_000))
    data = gzip.compress(rows.encode())
    f = tmp_path / "g.jsonl.gz"
    f.write_bytes(data[: len(data) // 2])
    r = import_(cli, db_path, "generations", f)
    assert r.exit_code == 2, r.stderr
    assert "cut short" in r.stderr and "uncompressed byte offset" in r.stderr
    line = int(r.stderr.split(f"{f}:")[1].split(":")[0])
    assert 1 < line < 5_000
    assert table_counts(db_path).get("generations", 0) == 0


@pytest.mark.parametrize("suffix", [".csv", ".json", ".csv.gz"])
def test_invalid_utf8_in_a_whole_file_reader_names_line_and_offset(cli, db_path, tmp_path, suffix):
    if suffix.startswith(".csv"):
        text = b"prompt,model,output\n" + b"".join(b"p%d,m1,ok\n" % i for i in range(3_000)) + b"bad,m1,\xc3\x28\n"
        line = 3_002
    else:
        text = b"[\n" + b"".join(b'{"prompt": "p%d", "model": "m1", "output": "ok"},\n' % i for i in range(3_000))
        text += b'{"prompt": "bad", "model": "m1", "output": "\xc3\x28"}\n]\n'
        line = 3_002
    f = tmp_path / f"g{suffix}"
    f.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)
    r = import_(cli, db_path, "generations", f)
    assert r.exit_code == 2, r.stderr
    offset = text.index(b"\xc3\x28")
    assert r.stderr.startswith(f"error: {f}:{line}: not valid UTF-8 (invalid continuation byte at byte offset "
                               f"{offset})"), r.stderr
