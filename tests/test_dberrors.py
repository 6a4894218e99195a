"""Telling "busy" (wait and retry) from a write that failed (say why), on real SQLite errors."""

from __future__ import annotations

import sqlite3

import pytest

from sbs_tui.core import dberrors


def real_errors(tmp_path) -> dict[str, sqlite3.Error]:
    path = tmp_path / "x.db"
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("PRAGMA journal_mode = WAL")
    holder.execute("CREATE TABLE t (x)")
    other = sqlite3.connect(path, isolation_level=None, timeout=0)
    holder.execute("BEGIN IMMEDIATE")
    errors = {}
    try:
        other.execute("BEGIN IMMEDIATE")
    except sqlite3.Error as exc:
        errors["busy"] = exc
    holder.execute("ROLLBACK")
    other.execute(f"PRAGMA max_page_count = {other.execute('PRAGMA page_count').fetchone()[0]}")
    try:
        other.execute("INSERT INTO t VALUES (randomblob(100000))")
    except sqlite3.Error as exc:
        errors["full"] = exc
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database" * 100)
    try:
        sqlite3.connect(junk).execute("SELECT * FROM sqlite_master")
    except sqlite3.Error as exc:
        errors["notadb"] = exc
    return errors


def test_classification_of_real_errors(tmp_path):
    errors = real_errors(tmp_path)
    assert dberrors.is_busy(errors["busy"]) and not dberrors.is_busy(errors["full"])
    assert dberrors.describe(errors["full"]) == "the disk is full (or the database reached its size limit)"
    assert dberrors.describe(errors["notadb"]) == "the file is not an SQLite database"
    assert not dberrors.is_busy(ValueError("database is locked"))  # only SQLite's own errors


def test_retry_busy_retries_only_busy_and_gives_up_after_its_timeout():
    calls = []

    def busy():
        calls.append(1)
        raise sqlite3.OperationalError("database is locked")

    with pytest.raises(sqlite3.OperationalError):
        dberrors.retry_busy(busy, timeout=0.05, first_delay=0.001, max_delay=0.002)
    assert len(calls) > 3

    calls.clear()

    def full():
        calls.append(1)
        raise sqlite3.OperationalError("database or disk is full")

    with pytest.raises(sqlite3.OperationalError):
        dberrors.retry_busy(full, timeout=5)
    assert len(calls) == 1

    attempts = iter([sqlite3.OperationalError("database is locked")] * 3 + [None])

    def eventually():
        error = next(attempts)
        if error:
            raise error
        return "stored"

    assert dberrors.retry_busy(eventually, timeout=5, first_delay=0.001) == "stored"
