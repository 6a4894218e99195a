"""The store: WAL on a real file, migrations applied once, one connection per thread, atomic transactions."""

from __future__ import annotations

import sqlite3
import threading

import pytest

from sbs_tui.core.records import GenerationRecord, VoteRecord, prompt_id_for
from sbs_tui.core.store import MIGRATIONS, Store


def test_file_database_is_wal_with_foreign_keys(tmp_path):
    with Store(tmp_path / "x.db") as s:
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert s.conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        applied = [r[0] for r in s.conn.execute("SELECT name FROM _migrations ORDER BY rowid")]
    assert applied == [name for name, _ in MIGRATIONS]
    with Store(tmp_path / "x.db") as s:  # reopening applies nothing twice
        assert s.count("_migrations") == len(MIGRATIONS)


def test_missing_directory_is_a_clear_error(tmp_path):
    from sbs_tui.core.store import StoreError

    with pytest.raises(StoreError, match="does not exist"):
        Store(tmp_path / "no" / "x.db")


def test_transaction_rolls_back_everything(tmp_path):
    s = Store(tmp_path / "x.db")
    with pytest.raises(RuntimeError):
        with s.transaction():
            s.generations.insert([GenerationRecord(prompt_id_for("q"), "q", "m", "o")])
            raise RuntimeError("boom")
    assert s.count("generations") == 0 and s.count("models") == 0
    # the id caches were cleared with the rollback: a new insert works
    with s.transaction():
        s.generations.insert([GenerationRecord(prompt_id_for("q"), "q", "m", "o")])
    assert s.count("generations") == 1


def test_reader_in_another_thread_sees_committed_votes(tmp_path):
    path = tmp_path / "x.db"
    writer = Store(path)
    with writer.transaction():
        writer.votes.insert([VoteRecord(prompt_id_for("q"), "q", "a", "b", "tie", "ann")])
    seen: list[int] = []

    def read() -> None:
        with Store(path) as reader:
            seen.append(reader.count("votes"))

    t = threading.Thread(target=read)
    t.start()
    t.join()
    assert seen == [1]


def test_constraints_hold_outside_the_importer(tmp_path):
    s = Store(tmp_path / "x.db")
    with pytest.raises(sqlite3.IntegrityError):
        with s.transaction():
            s.votes.insert([VoteRecord(prompt_id_for("q"), "q", "a", "b", "not-a-label", "ann")])
    assert s.count("votes") == 0


def test_vote_outcomes_aggregate(tmp_path):
    s = Store(tmp_path / "x.db")
    votes = [VoteRecord(prompt_id_for(f"q{i}"), f"q{i}", "a", "b", w, "ann") for i, w in
             enumerate(["model_a", "model_a", "model_b", "tie", "both_bad"])]
    with s.transaction():
        s.votes.insert(votes)
    names, rows = s.votes.outcomes()
    assert names == ["a", "b"]
    assert sorted(rows) == [(0, 1, 0.0, 2), (0, 1, 0.5, 2), (0, 1, 1.0, 1)]


def test_a_vote_after_someone_else_removed_its_prompt_stores_the_prompt_again(tmp_path):
    """A connection that once wrote a prompt must not trust that it still exists: another import's rollback
    removes the prompts nothing refers to (here: after this connection's vote on it was undone). The next vote
    with the prompt's text used to fail on the foreign key, the prompt skipped as "known"."""
    db = tmp_path / "s.db"
    with Store(db) as writer, Store(db) as other:
        vote = VoteRecord(prompt_id_for("q"), "q", "a", "b", "model_a", "ann")
        with writer.transaction():
            writer.votes.insert([vote])
        with other.transaction():  # the vote undone, then the prompt removed as a rollback would
            other.conn.execute("DELETE FROM votes")
            other.conn.execute("DELETE FROM prompts")
        with writer.transaction():
            counts = writer.votes.insert([VoteRecord(prompt_id_for("q"), "q", "a", "b", "model_b", "ann")])
        assert counts.inserted == 1
        assert writer.conn.execute("SELECT count(*) FROM prompts").fetchone()[0] == 1
