"""`sbs backup` under load (issue 21, Major 5): it finishes while the database is written many times a second,
and a stopped or killed backup leaves no temporary file behind (removed at once on SIGTERM/SIGINT, or by the
next run after kill -9)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from sbs_tui.core.store import Store
from sbs_tui.core.team import backup
from tests.conftest import REPO


def big_database(path: Path, rows: int = 50_000) -> Path:
    """A database of ~50 MB: 12,000 pages, so the old backup (1,024 pages a step) needed a dozen steps, and a
    write between two of them restarted it (it never finished at 20 writes a second)."""
    Store(path).close()
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE ballast (id INTEGER PRIMARY KEY, blob TEXT)")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO ballast (blob) VALUES (?)", [(os.urandom(500).hex(),) for _ in range(rows)])
    conn.execute("COMMIT")
    conn.close()
    return path


class Writer(threading.Thread):
    """Another connection committing ``rate`` small writes a second, as annotators voting do."""

    def __init__(self, db: Path, rate: float):
        super().__init__(daemon=True)
        self.db, self.rate, self.done, self.writes = db, rate, threading.Event(), 0

    def run(self) -> None:
        conn = sqlite3.connect(self.db, isolation_level=None, timeout=10)
        conn.execute("CREATE TABLE IF NOT EXISTS probe (x)")
        while not self.done.is_set():
            conn.execute("INSERT INTO probe VALUES (?)", (time.time(),))
            self.writes += 1
            time.sleep(1 / self.rate)
        conn.close()


def test_backup_finishes_under_twenty_writes_a_second(tmp_path):
    db = big_database(tmp_path / "live.db")
    writer = Writer(db, rate=20)
    writer.start()
    time.sleep(0.3)
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(db), "backup", str(tmp_path / "copy.db")],
                          cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True,
                          timeout=60)
    elapsed = time.monotonic() - started
    writer.done.set()
    writer.join()
    assert proc.returncode == 0, proc.stderr
    assert "integrity ok" in proc.stderr and elapsed < 60
    assert writer.writes >= 5  # it really was written meanwhile
    with sqlite3.connect(tmp_path / "copy.db") as copy:
        assert copy.execute("SELECT count(*) FROM ballast").fetchone()[0] == 50_000
        assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
    assert sorted(p.name for p in tmp_path.iterdir() if "copy" in p.name) == ["copy.db"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_stops_the_backup_and_removes_its_temporary_file(tmp_path, sig):
    db = big_database(tmp_path / "live.db", rows=150_000)
    tmp = tmp_path / ".copy.db.sbs-backup-tmp"
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui", "--db", str(db), "backup", str(tmp_path / "copy.db")],
                            cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not tmp.exists():  # copying
        assert proc.poll() is None and time.monotonic() < deadline
        time.sleep(0.002)
    proc.send_signal(sig)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir() if "copy" in p.name) == []


def test_backup_puts_the_signal_handlers_back(tmp_path):
    db = big_database(tmp_path / "live.db", rows=100)
    before = signal.getsignal(signal.SIGTERM)
    with Store(db) as store:
        assert backup(store, tmp_path / "copy.db") > 0
    assert signal.getsignal(signal.SIGTERM) is before  # the command's handlers are put back


def test_the_next_backup_removes_what_a_killed_one_left(tmp_path):
    db = big_database(tmp_path / "live.db", rows=100)
    stale = tmp_path / ".copy.db.sbs-backup-tmp"
    stale.write_bytes(b"half a copy")
    (tmp_path / ".copy.db.sbs-backup-tmp-journal").write_bytes(b"its journal")
    with Store(db) as store:
        assert backup(store, tmp_path / "copy.db") > 0
    assert sorted(p.name for p in tmp_path.iterdir() if "copy" in p.name) == ["copy.db"]
