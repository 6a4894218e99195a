"""Config files and CLI numbers that cannot be used are one `error:` line, with file:line where there is one, and
exit 2 — never a traceback, an internal error or click's usage screen (issue 21 minors)."""

from __future__ import annotations

from pathlib import Path

import pytest


def run(cli, tmp_path: Path, config: Path | str, *args: str):
    return cli("--db", str(tmp_path / "t.db"), "--config", str(config), *(args or ("queue", "status")))


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "internal error" not in result.stderr and "Usage:" not in result.stderr
    return lines[0]


@pytest.mark.parametrize("text, expected", [
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "{f}: invalid TOML: nested too deeply"),
    ("# top\nqueue.overlpa = 3\n", "{f}:2: field 'queue.overlpa': unknown key in [queue]; did you mean 'overlap'?"),
    ("[gating]\nrequired = true\nfoo . bar = 1\n", "{f}:3: field 'gating.foo': unknown key in [gating]"),
    ('[queue]\noverlap = 2\nidentity_patterns = ["(unclosed"]\n',
     "{f}:3: field 'queue.identity_patterns': invalid regular expression '(unclosed'"),
    ("[queue]\noverlap = 100000000000000000000000\n", "{f}:2: field 'queue.overlap': must be below"),
], ids=["deep", "dotted-key-at-top", "dotted-key-in-section", "bad-regex", "huge-integer"])
def test_config_files_that_cannot_be_used(cli, tmp_path, text, expected):
    f = tmp_path / "sbs.toml"
    f.write_text(text, encoding="utf-8")
    assert one_error_line(run(cli, tmp_path, f)).startswith("error: " + expected.format(f=f))


def test_a_config_file_that_is_not_utf8_names_line_and_offset(cli, tmp_path):
    f = tmp_path / "sbs.toml"
    f.write_bytes(b"[queue]\n# caf\xe9\noverlap = 2\n")
    line = one_error_line(run(cli, tmp_path, f))
    assert line == f"error: {f}:2: not UTF-8 text (invalid continuation byte at byte offset 13)"


def test_a_directory_given_as_config(cli, tmp_path, monkeypatch):
    folder = tmp_path / "conf"
    folder.mkdir()
    assert one_error_line(run(cli, tmp_path, folder)) == f"error: {folder}: is a directory, not a config file"
    monkeypatch.setenv("SBS_CONFIG", str(folder))
    r = cli("--db", str(tmp_path / "t.db"), "queue", "status")
    assert one_error_line(r) == f"error: {folder}: is a directory, not a config file"


@pytest.mark.parametrize("args, field", [
    (("queue", "build", "--overlap", str(10**23)), "overlap"),
    (("queue", "build", "--seed", str(10**23)), "seed"),
    (("queue", "cap", "bob", str(10**23)), "max_votes"),
])
def test_numbers_too_large_for_the_database(cli, tmp_path, args, field):
    r = cli("--db", str(tmp_path / "t.db"), "--create", *args)
    assert one_error_line(r).startswith(f"error: field '{field}': must be below 9,223,372,036,854,775,808")
