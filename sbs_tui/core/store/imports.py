"""Imports in short transactions that still roll back as a unit (migration ``0010_import_runs``).

Why: an import used to be one transaction. SQLite has one writer at a time, so a lead importing a million votes
(~20 s) held every annotator's vote and every other import for those 20 s — annotators' apps crashed on the busy
timeout and half of twelve concurrent imports died with ``database is locked``. Now each batch of rows is its own
short transaction (a fraction of a second), and the contract "an import is all-or-nothing" is kept by
bookkeeping instead of by one transaction:

* an import is a row in ``import_runs`` (status ``running`` → ``done``, with the importing process's pid and host;
  a rolled-back import leaves no row);
* each batch records, in ``import_ranges``, the rowid range it added to each table (``votes``, ``generations``,
  ``prompts``, ``models``, ``annotators``). Within a write transaction new rows get rowids above the current
  maximum, so "max rowid before" and "after" name exactly the rows this batch added — no column on the big
  tables, and the insert paths stay as they are;
* a failed import deletes its ranges (again in short transactions): votes and generations outright; prompts,
  models and annotators only where nothing else — e.g. a concurrent import — refers to them;
* an import killed outright (kill -9, power loss) stays ``running``: the next ``sbs`` command to open the
  database (``AppContext.open_store``) finds runs whose process is gone on this host and rolls them back.

What this does not give: other readers may see an import's rows arrive while it runs (a ``sbs rank`` during an
import counts the batches stored so far), and ``--replace`` imports, which *change* stored rows, still run in one
transaction. Category/reference filled into an existing prompt by a failed import are not cleared.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sbs_tui.core.store.base import Queries

# Tables an import adds rows to, children first (the order rows are removed in on rollback).
TRACKED = ("votes", "generations", "prompts", "models", "annotators")
_DELETE_CHUNK = 20_000

# Rows of the parent tables may only go when nothing refers to them (a concurrent import may have used them).
_UNREFERENCED = {
    "prompts": "NOT EXISTS (SELECT 1 FROM votes WHERE votes.prompt_id = prompts.id) "
               "AND NOT EXISTS (SELECT 1 FROM generations WHERE generations.prompt_id = prompts.id) "
               "AND NOT EXISTS (SELECT 1 FROM pairs WHERE pairs.prompt_id = prompts.id)",
    "models": "id NOT IN (SELECT model_a_id FROM votes UNION SELECT model_b_id FROM votes "
              "UNION SELECT model_id FROM generations)",
    "annotators": "id NOT IN (SELECT annotator_id FROM votes UNION SELECT annotator_id FROM assignments)",
}


@dataclass(frozen=True, slots=True)
class ImportRun:
    run_id: int
    kind: str
    pid: int
    host: str
    status: str


class Imports(Queries):
    """``store.imports``."""

    __slots__ = ()

    def begin(self, kind: str, sources: str) -> int:
        """Record a new running import; returns its id (a short transaction of its own)."""
        with self._cx.transaction():
            run_id = self.conn.execute(
                "INSERT INTO import_runs (kind, sources, pid, host) VALUES (?, ?, ?, ?)",
                (kind, sources, os.getpid(), socket.gethostname())).lastrowid
        assert run_id is not None  # an INSERT into a rowid table always has one
        return run_id

    @contextmanager
    def batch(self, run_id: int) -> Iterator[None]:
        """One short transaction of import ``run_id``: the rows added inside it are recorded as its own."""
        cx = self._cx
        with cx.transaction():
            self._check_cached_names()
            before = self._max_rowids()
            yield
            after = self._max_rowids()
            self.conn.executemany(
                "INSERT INTO import_ranges (run_id, tbl, lo, hi) VALUES (?, ?, ?, ?)",
                [(run_id, table, before[table] + 1, after[table]) for table in TRACKED
                 if after[table] > before[table]])

    def finish(self, run_id: int) -> None:
        """The import succeeded: its rows are ordinary rows from now on."""
        with self._cx.transaction():
            self.conn.execute("DELETE FROM import_ranges WHERE run_id = ?", (run_id,))
            self.conn.execute("UPDATE import_runs SET status = 'done', finished_at = "
                              "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?", (run_id,))

    def roll_back(self, run_id: int) -> int:
        """Remove every row import ``run_id`` added (short transactions); returns how many rows went."""
        removed = 0
        for table in TRACKED:
            ranges = self.conn.execute(
                "SELECT lo, hi FROM import_ranges WHERE run_id = ? AND tbl = ? ORDER BY lo", (run_id, table)).fetchall()
            for lo, hi in ranges:
                for start in range(lo, hi + 1, _DELETE_CHUNK):
                    end = min(hi, start + _DELETE_CHUNK - 1)
                    extra = f" AND {_UNREFERENCED[table]}" if table in _UNREFERENCED else ""
                    with self._cx.transaction():
                        removed += self.conn.execute(
                            f"DELETE FROM {table} WHERE rowid BETWEEN ? AND ?{extra}", (start, end)).rowcount
        with self._cx.transaction():
            self.conn.execute("DELETE FROM import_ranges WHERE run_id = ?", (run_id,))
            # Gone without a trace, like a rolled-back transaction (every table's row count is as before).
            self.conn.execute("DELETE FROM import_runs WHERE id = ?", (run_id,))
        return removed

    def abandoned(self) -> list[ImportRun]:
        """Runs still marked running whose process is gone (on this host: a pid elsewhere cannot be checked)."""
        host = socket.gethostname()
        runs = [ImportRun(*row) for row in self.conn.execute(
            "SELECT id, kind, pid, host, status FROM import_runs WHERE status = 'running'")]
        return [r for r in runs if r.host == host and r.pid != os.getpid() and not _alive(r.pid)]

    def recover_abandoned(self) -> int:
        """Roll back imports that were killed before they finished; returns how many runs were rolled back."""
        runs = self.abandoned()
        for run in runs:
            self.roll_back(run.run_id)
        return len(runs)

    def _check_cached_names(self) -> None:
        """Drop cached name → id entries that no longer hold. Between two batches, another import's rollback may
        have removed a model or annotator this connection had looked up (it removes rows nothing refers to), and a
        new name may since have been given the same id: a stale cache would then file votes under the wrong model.
        One query per table per batch. (A removed prompt needs no check: its text is its id, and inserting a vote
        for it fails on the foreign key — ``import_files`` then retries the batch with fresh caches.)"""
        cx = self._cx
        for table, cache in (("models", cx.model_ids), ("annotators", cx.annotator_ids)):
            if not cache:
                continue
            ids = list(cache.values())
            stored = dict(self.conn.execute(
                f"SELECT id, name FROM {table} WHERE id IN ({','.join('?' * len(ids))})", ids).fetchall())
            for name, row_id in list(cache.items()):
                if stored.get(row_id) != name:
                    del cache[name]

    def _max_rowids(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT " + ", ".join(f"(SELECT coalesce(max(rowid), 0) FROM {t})" for t in TRACKED)).fetchone()
        return dict(zip(TRACKED, row, strict=True))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    return True
