"""Every user-facing failure is one ``error:`` line with exit 2 (input, config, environment) — never a traceback.

Each case below printed a raw traceback (exit 1) before (issue 13, item 6; issue 9, item 7). The top-level guard in
``sbs_tui.cli.main`` is the last line of defence; the cases are also handled where they arise, with file and line.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from tests.conftest import REPO, table_counts

READ_COMMANDS = [["rank"], ["agreement"], ["export", "votes"], ["export", "dpo"], ["export", "rankings"], ["ab"],
                 ["funnel"], ["review"]]


def one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout
    lines = result.stderr.strip().splitlines()
    assert lines and lines[-1].startswith("error: "), result.stderr
    return lines[-1]


@pytest.fixture
def imported_db(cli, tmp_path, sample_dir) -> Path:
    db = tmp_path / "sbs.db"
    assert cli("--db", str(db), "import", "generations", str(sample_dir / "generations.jsonl")).exit_code == 0
    assert cli("--db", str(db), "import", "votes", str(sample_dir / "judge_votes.jsonl")).exit_code == 0
    return db


# -- hostile input files ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".jsonl", ".json"])
def test_deeply_nested_json_is_an_input_error(cli, imported_db, tmp_path, suffix):
    row = '{"prompt": "p", "model": "m", "output": "o", "x": ' + "[" * 100_000 + "]" * 100_000 + "}"
    path = tmp_path / f"deep{suffix}"
    path.write_text(f"[{row}]" if suffix == ".json" else row + "\n", encoding="utf-8")
    before = table_counts(imported_db)
    line = one_error_line(cli("--db", str(imported_db), "import", "generations", str(path)))
    assert line == f"error: {path}:1: invalid JSON: nested too deeply (more than ~1,000 levels of arrays/objects)"
    assert table_counts(imported_db) == before


def test_a_5000_digit_number_is_an_input_error(cli, imported_db, tmp_path):
    path = tmp_path / "big.jsonl"
    good = '{"prompt": "p", "model": "m", "output": "o"}\n'
    path.write_text(good + '{"prompt": "q", "model": "m", "output": "o", "n": ' + "7" * 5000 + "}\n",
                    encoding="utf-8")
    before = table_counts(imported_db)
    line = one_error_line(cli("--db", str(imported_db), "import", "generations", str(path)))
    assert line == f"error: {path}:2: invalid JSON: a number has too many digits (more than 4,300)"
    assert table_counts(imported_db) == before


def test_nan_and_infinity_in_unknown_fields_are_stored_as_null(cli, tmp_path):
    """Python and pandas write NaN/Infinity, which JSON has not: kept as-is, ``meta`` was unreadable JSON."""
    import json

    db = tmp_path / "n.db"
    path = tmp_path / "nan.jsonl"
    path.write_text('{"prompt": "p", "model": "m", "output": "o", "score": NaN, "hi": Infinity, '
                    '"lo": -Infinity, "deep": {"x": [1e999, 2.5]}}\n', encoding="utf-8")
    assert cli("--db", str(db), "import", "generations", str(path)).exit_code == 0
    with sqlite3.connect(db) as conn:
        (meta,) = conn.execute("SELECT meta FROM generations").fetchone()
        assert conn.execute("SELECT json_valid(meta) FROM generations").fetchone() == (1,)
    assert json.loads(meta) == {"score": None, "hi": None, "lo": None, "deep": {"x": [None, 2.5]}}


# -- unreachable services ------------------------------------------------------------------------------------


def test_unreachable_moderation_endpoint_fails_fast_and_clearly(cli, tmp_path):
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    config = tmp_path / "gates.toml"
    config.write_text(f'[gates.moderation]\nbackend = "api"\nbase_url = "http://127.0.0.1:{port}/v1"\n',
                      encoding="utf-8")
    rows = tmp_path / "g.jsonl"
    rows.write_text('{"prompt": "p", "model": "m", "output": "o"}\n', encoding="utf-8")
    started = time.monotonic()
    result = cli("--config", str(config), "score", str(rows), "--gates", "moderation")
    elapsed = time.monotonic() - started
    line = one_error_line(result)
    assert f"cannot reach http://127.0.0.1:{port}/v1/moderations" in line and "base_url" in line
    assert elapsed < 5.0  # was ~26 s of retries against a closed port


# -- databases that are missing, damaged or read-only -----------------------------------------------------------


@pytest.mark.parametrize("command", READ_COMMANDS, ids=" ".join)
def test_read_commands_on_a_missing_database_are_errors(cli, tmp_path, command):
    db = tmp_path / "typo.db"
    line = one_error_line(cli("--db", str(db), *command))
    assert str(db) in line and "database not found" in line
    assert not db.exists()  # and no empty database was created


@pytest.mark.parametrize("command", READ_COMMANDS[:-1], ids=" ".join)
def test_read_commands_on_a_corrupt_file_are_errors(cli, tmp_path, command):
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not a database, just some bytes\x00\x01" * 200)
    line = one_error_line(cli("--db", str(db), *command))
    assert line == f"error: {db}: cannot open the database: the file is not an SQLite database"


def test_a_damaged_database_page_is_an_error(cli, imported_db):
    data = bytearray(imported_db.read_bytes())
    page = 4096
    data[page * 2: page * 6] = os.urandom(page * 4)  # smash b-tree pages, keep the header
    imported_db.write_bytes(bytes(data))
    result = cli("--db", str(imported_db), "rank")
    line = one_error_line(result)
    assert "damaged" in line or "not an SQLite database" in line


@contextlib.contextmanager
def unwritable(folder: Path):
    """Make ``folder`` refuse new files, for root too (``chattr +i``); skip where that is impossible."""
    undo = []
    folder.chmod(0o555)
    undo.append(lambda: folder.chmod(0o755))
    if os.geteuid() == 0 and shutil.which("chattr"):
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode == 0:
            undo.append(lambda: subprocess.run(["chattr", "-i", str(folder)], capture_output=True))
    probe = folder / ".probe"
    try:
        probe.touch()
    except OSError:
        pass
    else:
        probe.unlink()
        for step in reversed(undo):
            step()
        pytest.skip("cannot make a folder unwritable here")
    try:
        yield folder
    finally:
        for step in reversed(undo):
            step()


def test_a_database_in_a_read_only_folder_is_a_clear_error(cli, imported_db, tmp_path):
    folder = tmp_path / "ro"
    folder.mkdir()
    db = folder / "sbs.db"
    shutil.copy(imported_db, db)
    with unwritable(folder):
        line = one_error_line(cli("--db", str(db), "rank"))
    assert line.startswith(f"error: {db}: cannot open the database: ")
    assert "read-only" in line or "cannot be opened" in line


def test_export_into_an_unwritable_folder_is_an_error(cli, imported_db, tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir()
    with unwritable(folder):
        result = cli("--db", str(imported_db), "export", "votes", "--out", str(folder / "votes.jsonl"))
        line = one_error_line(result)
    assert line.startswith(f"error: {folder / 'votes.jsonl'}: cannot write here: ")
    assert list(folder.iterdir()) == []


def test_export_into_a_missing_folder_is_an_error(cli, imported_db, tmp_path):
    out = tmp_path / "nope" / "votes.jsonl"
    line = one_error_line(cli("--db", str(imported_db), "export", "votes", "--out", str(out)))
    assert line == f"error: {out}: cannot write here: the folder does not exist"


# -- exports: permissions and leftovers --------------------------------------------------------------------------


def test_exports_respect_the_umask_and_keep_a_replaced_files_mode(cli, imported_db, tmp_path):
    out = tmp_path / "votes.jsonl"
    old = os.umask(0o022)
    try:
        assert cli("--db", str(imported_db), "export", "votes", "--out", str(out)).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o644
        out.chmod(0o640)
        assert cli("--db", str(imported_db), "export", "votes", "--out", str(out)).exit_code == 0
        assert out.stat().st_mode & 0o777 == 0o640
        os.umask(0o077)
        other = tmp_path / "dpo.jsonl"
        assert cli("--db", str(imported_db), "export", "dpo", "--out", str(other)).exit_code == 0
        assert other.stat().st_mode & 0o777 == 0o600
    finally:
        os.umask(old)


def test_an_export_killed_outright_leaves_a_named_partial_that_the_next_export_removes(imported_db, tmp_path):
    out = tmp_path / "votes.jsonl"
    code = (
        "import os, sys\n"
        "from sbs_tui.core.io import export\n"
        "with export.atomic_output(sys.argv[1]) as fh:\n"
        "    fh.write('x' * 100000); fh.flush()\n"
        "    os.kill(os.getpid(), 9)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)], cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True)
    assert proc.returncode == -9
    partials = [p.name for p in tmp_path.iterdir() if p.name.startswith(".votes.jsonl.")]
    assert len(partials) == 1 and partials[0].endswith(".sbs-partial") and not out.exists()
    # a concurrent export's partial (its process is alive) is left alone
    mine = tmp_path / f".votes.jsonl.{os.getpid()}.abc.sbs-partial"
    mine.write_text("in progress")
    proc = subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(imported_db), "export", "votes", "--out",
                           str(out)], cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True)
    assert proc.returncode == 0, proc.stderr
    left = sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".votes.jsonl."))
    assert left == [mine.name] and out.exists()


# -- the guard itself ---------------------------------------------------------------------------------------------


def test_an_unexpected_error_is_one_line_and_a_log_file(cli, imported_db, tmp_path, monkeypatch):
    import sbs_tui.core.ranking.api as api

    def broken(*args, **kwargs):
        raise ZeroDivisionError("something internal")

    monkeypatch.setattr(api, "rank_votes", broken, raising=False)
    monkeypatch.setattr("sbs_tui.core.ranking.api.rank_stored", broken)
    result = cli("--db", str(imported_db), "rank")
    line = one_error_line(result, code=1)
    assert line.startswith("error: internal error (ZeroDivisionError: something internal); details in ")
    log = Path(line.rsplit("details in ", 1)[1])
    assert log.parent == tmp_path / "crash-logs"
    text = log.read_text()
    assert "Traceback" in text and "ZeroDivisionError: something internal" in text and "broken" in text


def test_database_errors_anywhere_are_named_with_the_database(cli, imported_db, monkeypatch):
    def full(*args, **kwargs):
        raise sqlite3.OperationalError("database or disk is full")

    monkeypatch.setattr("sbs_tui.core.ranking.api.rank_stored", full)
    line = one_error_line(cli("--db", str(imported_db), "rank"))
    assert line == f"error: {imported_db}: the disk is full (or the database reached its size limit)"


def test_overlap_must_be_an_integer(cli, imported_db, tmp_path):
    config = tmp_path / "q.toml"
    config.write_text('[queue]\noverlap = "three"\n', encoding="utf-8")
    line = one_error_line(cli("--db", str(imported_db), "--config", str(config), "queue", "build"))
    assert "overlap" in line


def test_a_viewer_as_another_user_does_not_strand_the_owners_wal_files(cli, imported_db, monkeypatch):
    """Reading a WAL database nobody has open creates -wal/-shm as the reader: as another user who may not write
    the database, that would lock its owner out of writing. Refused, with what to do instead."""
    import pwd

    owner = pwd.getpwuid(imported_db.stat().st_uid).pw_name
    real_access = os.access
    monkeypatch.setattr(os, "geteuid", lambda: imported_db.stat().st_uid + 4242)  # someone else
    monkeypatch.setattr(os, "access", lambda p, mode: False if Path(p) == imported_db and mode == os.W_OK
                        else real_access(p, mode))
    line = one_error_line(cli("--db", str(imported_db), "rank"))
    assert line.startswith(f"error: {imported_db}: belongs to {owner} and is not open anywhere")
    assert not Path(f"{imported_db}-shm").exists() and not Path(f"{imported_db}-wal").exists()
    # while the owner has it open (its -shm exists), reading is fine
    holder = sqlite3.connect(imported_db)
    holder.execute("SELECT count(*) FROM votes").fetchone()
    assert Path(f"{imported_db}-shm").exists()
    assert cli("--db", str(imported_db), "rank").exit_code == 0
    holder.close()
