"""Imports in short transactions: concurrent imports all succeed, writers never wait for a whole import, and an
import is still all-or-nothing — after a bad line, a conflict, or kill -9 (issue 13, items 2 and 5)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from tests.conftest import REPO, table_counts

import sbs_tui.core.ingest.importer as ingest
from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.store import BUSY_TIMEOUT_MS, Store


def write_votes(path: Path, n: int, *, tag: str, start: int = 0) -> Path:
    with path.open("w", encoding="utf-8") as fh:
        for i in range(start, start + n):
            fh.write(json.dumps({"prompt": f"Prompt {i % 300}", "model_a": f"m{i % 7}", "model_b": f"m{(i + 1) % 7}",
                                 "winner": "model_a", "annotator": f"{tag}-{i % 5}", "ts": f"t{i}"}) + "\n")
    return path


def sbs(*args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sbs_tui", *args], cwd=REPO,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def count(db: Path, sql: str = "SELECT count(*) FROM votes") -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchone()[0]


def test_concurrent_imports_all_succeed(tmp_path):
    db = tmp_path / "c.db"
    Store(db).close()
    files = [write_votes(tmp_path / f"v{k}.jsonl", 5_000, tag=f"imp{k}") for k in range(6)]
    procs = [sbs("--db", str(db), "import", "votes", str(f)) for f in files]
    results = [p.communicate(timeout=600) + (p.returncode,) for p in procs]
    for out, err, code in results:
        assert code == 0, err
        assert "Traceback" not in err and "locked" not in err
    assert count(db) == 30_000
    assert count(db, "SELECT count(*) FROM import_runs WHERE status = 'done'") == 6
    assert count(db, "SELECT count(*) FROM import_ranges") == 0


def test_a_writer_waits_for_one_batch_not_for_the_whole_import(tmp_path):
    db = tmp_path / "w.db"
    Store(db).close()
    big = write_votes(tmp_path / "big.jsonl", 60_000, tag="lead")
    from sbs_tui.core.dberrors import retry_busy

    conn = sqlite3.connect(db, isolation_level=None, timeout=0.005)
    conn.execute("CREATE TABLE IF NOT EXISTS probe (x)")
    proc = sbs("--db", str(db), "import", "votes", str(big))
    deadline = time.monotonic() + 120
    while count(db) == 0 and time.monotonic() < deadline:  # until the import is writing
        time.sleep(0.01)
    waits = []
    while proc.poll() is None:
        started = time.monotonic()

        def write() -> None:
            conn.execute("BEGIN IMMEDIATE")
            conn.execute("INSERT INTO probe VALUES (1)")
            conn.execute("COMMIT")

        retry_busy(write, timeout=600, first_delay=0.001, max_delay=0.004)  # as the annotator app polls
        waits.append(time.monotonic() - started)
        time.sleep(0.05)
    import_seconds = time.monotonic() - (deadline - 120)
    assert proc.returncode == 0, proc.stderr.read()
    assert count(db) == 60_000
    assert len(waits) >= 3
    # Each write got in between two batches: far less than the import (one transaction would block it all).
    assert max(waits) < max(1.5, import_seconds / 4), (max(waits), import_seconds)


def test_a_bad_line_after_many_batches_removes_them_all(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_SIZE", 100)
    db = tmp_path / "b.db"
    write_votes(tmp_path / "first.jsonl", 50, tag="earlier")
    assert cli("--db", str(db), "import", "votes", str(tmp_path / "first.jsonl")).exit_code == 0
    before = table_counts(db)
    bad = write_votes(tmp_path / "bad.jsonl", 950, tag="new", start=1000)
    with bad.open("a", encoding="utf-8") as fh:
        fh.write('{"prompt": "p", "model_a": "x", "model_b": "y", "winner": "nobody", "annotator": "z"}\n')
    result = cli("--db", str(db), "import", "votes", str(bad))
    assert result.exit_code == 2 and f"{bad}:951" in result.stderr
    assert table_counts(db) == before  # nine committed batches, new prompts, models and annotators: all gone


def test_a_conflict_in_a_later_batch_removes_the_earlier_batches(cli, tmp_path, monkeypatch):
    monkeypatch.setattr(ingest, "BATCH_SIZE", 10)
    db = tmp_path / "g.db"
    rows = [{"prompt": f"q{i}", "model": "gen-model", "output": f"answer {i}"} for i in range(40)]
    rows.append({"prompt": "q3", "model": "gen-model", "output": "a different answer"})
    path = tmp_path / "gens.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    Store(db).close()
    before = table_counts(db)
    result = cli("--db", str(db), "import", "generations", str(path))
    assert result.exit_code == 2 and f"{path}:41" in result.stderr
    assert table_counts(db) == before


def test_a_rollback_keeps_rows_that_a_concurrent_import_uses(tmp_path):
    db = tmp_path / "r.db"
    a, b = Store(db), Store(db)
    text = "A prompt both imports use"
    vote = VoteRecord(prompt_id_for(text), text, "shared-a", "shared-b", "model_a", "ann")
    run_a = a.imports.begin("votes", "a")
    with a.imports.batch(run_a):
        a.votes.insert([vote])  # creates the prompt, both models and the annotator
    run_b = b.imports.begin("votes", "b")
    with b.imports.batch(run_b):
        b.votes.insert([VoteRecord(prompt_id_for(text), text, "shared-a", "shared-b", "model_b", "ann")])
    b.imports.finish(run_b)
    a.imports.roll_back(run_a)
    assert count(db) == 1  # A's vote is gone, B's stays, with the prompt, models and annotator it refers to
    assert count(db, "SELECT count(*) FROM prompts") == 1
    assert count(db, "SELECT count(*) FROM models") == 2
    assert count(db, "SELECT count(*) FROM annotators") == 1
    a.close()
    b.close()


def test_busy_database_is_waited_for_not_an_error(tmp_path):
    kind = "votes"
    db = tmp_path / "busy.db"
    Store(db).close()
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    # held for longer than SQLite's busy timeout (BUSY_TIMEOUT_MS): the import must keep waiting, not fail
    release = threading.Timer(BUSY_TIMEOUT_MS / 1000 + 1.0, lambda: holder.execute("ROLLBACK"))
    release.start()
    path = write_votes(tmp_path / "v.jsonl", 20, tag="x")
    proc = sbs("--db", str(db), "import", kind, str(path))
    _out, err = proc.communicate(timeout=300)
    release.join()
    holder.close()
    assert proc.returncode == 0, err
    assert count(db) == 20


def test_checkpoints_run_off_the_import_path_and_keep_the_wal_bounded(tmp_path, monkeypatch):
    """An import checkpoints the WAL from a background thread (store.checkpointer): the thread copies the batches'
    pages, and when the import is done every frame is in the database file and the connection's auto-checkpoint
    is back. Without the thread (it could not connect) the importer checkpoints after each batch itself, as SQLite's
    auto-checkpoint did, and the WAL stays smaller than with no checkpoints at all."""
    import threading

    import sbs_tui.core.store.checkpointer as checkpointer

    data = write_votes(tmp_path / "v.jsonl", 30_000, tag="ck")
    real_run, real_committed = checkpointer.Checkpointer._run, checkpointer.Checkpointer.committed
    real_checkpoint = checkpointer.Checkpointer._checkpoint
    copied: dict[str, list[tuple[str, int]]] = {}

    def counting_checkpoint(self, conn):
        before = self._log_frames
        real_checkpoint(self, conn)
        copied[current].append((threading.current_thread().name, self._log_frames or before))

    monkeypatch.setattr(checkpointer.Checkpointer, "_checkpoint", counting_checkpoint)
    wal_kib = {}
    for current, run, committed in (("thread", real_run, real_committed),
                                    ("no thread", lambda self: None, real_committed),
                                    ("no checkpoints", lambda self: None, lambda self: None)):
        copied[current] = []
        monkeypatch.setattr(checkpointer.Checkpointer, "_run", run)
        monkeypatch.setattr(checkpointer.Checkpointer, "committed", committed)
        db = tmp_path / f"{current}.db"
        store = Store(db)
        try:
            summary = ingest.import_files(store, "votes", [data])
            assert summary.inserted == 30_000
            assert store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0] == 1000
            busy, log, done = store.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert busy == 0 and log == done  # nothing left for the next writer (an annotator) to checkpoint
            wal_kib[current] = Path(f"{db}-wal").stat().st_size >> 10
        finally:
            store.close()
    on_thread = [frames for name, frames in copied["thread"] if name == "sbs-import-checkpointer"]
    assert on_thread and max(on_thread) > 0, copied["thread"]  # the thread checkpointed the import's pages
    assert len(copied["no thread"]) >= 3  # one per batch (30,000 rows are several batches) and the last
    assert wal_kib["no thread"] < wal_kib["no checkpoints"], wal_kib
