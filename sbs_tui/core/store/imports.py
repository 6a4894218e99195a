"""Imports in short transactions that still commit and roll back as a unit, invisible until they commit.

Why: an import used to be one transaction. SQLite has one writer at a time, so a lead importing a million votes
(~20 s) held every annotator's vote and every other import for those 20 s — annotators' apps crashed on the busy
timeout and half of twelve concurrent imports died with ``database is locked``. Now each batch of rows is its own
short transaction (a fraction of a second), and the contract "an import is all-or-nothing" is kept by
bookkeeping instead of by one transaction:

* an import is a row in ``import_runs`` (status ``running`` → ``done``, with the importing process's pid and host;
  a rolled-back import leaves no row). Flipping that one row is the import's commit;
* every vote and generation it adds carries its run (``run_id``), and every read and every writer that builds on
  votes or generations counts a row only when its run is done (:data:`COMMITTED`, :func:`committed`): ``sbs rank``
  never counts half an import, and ``sbs queue build``, the gates and the judge never build on one — so nothing
  another writer does can pin an uncommitted row and stop its rollback (issue 21);
* each batch records, in ``import_ranges``, the rowid range it added to each table (``votes``, ``generations``,
  ``prompts``, ``models``, ``annotators``): within a write transaction new rows get rowids above the current
  maximum, so "max rowid before" and "after" name exactly the rows this batch added;
* a failed import deletes its votes and generations (those still carrying its run) and then the prompts, models
  and annotators it created that nothing refers to — whatever refers to them (a concurrent import's votes, a
  token from ``sbs annotators add``, a cap) keeps them, found from the schema's foreign keys, so a table added
  later is covered too;
* a row identical to one that another, still running, import added first is *claimed* (``import_claims``): the
  claimant adopts it when it commits, and the first import's rollback hands it over instead of deleting it;
* an import killed outright (kill -9, power loss) stays ``running``, invisible; the next ``sbs`` command to open
  the database finds runs whose process is gone on this host (or that gave up: ``failed_at``) and rolls them back.
  A rollback that fails (the disk is still full) is retried by the next command; it never blocks other imports.

``--replace`` imports, which *change* stored rows, still run in one transaction. Category/reference filled into an
existing prompt by a failed import are not cleared.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.errors import StoreError
from sbs_tui.core.store.pair_counts import PairCounts

# Tables an import adds rows to, children first (the order rows are removed in on rollback).
TRACKED = ("votes", "generations", "prompts", "models", "annotators")
# The tables whose rows carry the import run that added them, and are invisible until it commits.
OWNED = ("votes", "generations")
_DELETE_CHUNK = 20_000

# A row of ``votes`` or ``generations`` is counted only when this holds (its run, if any, is not still running).
# Every read of those tables and every writer that builds on them (pairs, gates, the judge) filters with it.
# The first term is a constant SQLite computes once per statement: with no import running (nearly always) every row
# passes without the per-row lookup (a ranking of 300,000 votes: 0.06 s, as with no filter; 0.10 s without it).
UNCOMMITTED_RUNS = "SELECT id FROM import_runs WHERE status = 'running'"
COMMITTED = (f"(NOT EXISTS ({UNCOMMITTED_RUNS}) OR run_id IS NULL OR run_id NOT IN ({UNCOMMITTED_RUNS}))")


def committed(alias: str) -> str:
    """:data:`COMMITTED` for a table aliased ``alias`` in a query (``committed('v')``)."""
    return (f"(NOT EXISTS ({UNCOMMITTED_RUNS}) OR {alias}.run_id IS NULL "
            f"OR {alias}.run_id NOT IN ({UNCOMMITTED_RUNS}))")


@dataclass(frozen=True, slots=True)
class ImportRun:
    run_id: int
    kind: str
    pid: int
    host: str
    status: str
    failed_at: str | None = None
    started_at: str | None = None


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
        """One short transaction of import ``run_id``: the rows added inside it are recorded as its own, and the
        votes and generations written inside it carry the run (``Connection.import_run_id``)."""
        cx = self._cx
        with cx.transaction():
            self._check_cached_names()
            before = self._max_rowids()
            cx.import_run_id = run_id
            try:
                yield
            finally:
                cx.import_run_id = None
            after = self._max_rowids()
            self.conn.executemany(
                "INSERT INTO import_ranges (run_id, tbl, lo, hi) VALUES (?, ?, ?, ?)",
                [(run_id, table, before[table] + 1, after[table]) for table in TRACKED
                 if after[table] > before[table]])

    def claim(self, table: str, where: str, params: list[object]) -> None:
        """Rows of ``table`` (``votes`` or ``generations``) matching ``where`` that another still running import
        added: the current import needs them too. Call inside :meth:`batch`."""
        run_id = self._cx.import_run_id
        if run_id is None:
            return
        self.conn.execute(
            f"INSERT OR IGNORE INTO import_claims (run_id, tbl, row_id) SELECT ?, '{table}', id FROM {table} "
            f"WHERE ({where}) AND run_id IS NOT NULL AND run_id != ? AND run_id IN ({UNCOMMITTED_RUNS})",
            [run_id, *params, run_id])

    def finish(self, run_id: int) -> None:
        """The import succeeded: one transaction makes its rows (and rows it claimed) visible to everyone."""
        with self._cx.transaction():
            for table in OWNED:
                self.conn.execute(
                    f"UPDATE {table} SET run_id = ? WHERE id IN (SELECT row_id FROM import_claims WHERE run_id = ? "
                    f"AND tbl = '{table}') AND run_id IN ({UNCOMMITTED_RUNS}) AND run_id != ?",
                    (run_id, run_id, run_id))
            self.conn.execute("DELETE FROM import_claims WHERE run_id = ?", (run_id,))
            self.conn.execute("DELETE FROM import_ranges WHERE run_id = ?", (run_id,))
            PairCounts(self._cx).fold(run_id)  # its counts become visible with its votes
            self.conn.execute("UPDATE import_runs SET status = 'done', finished_at = "
                              "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE id = ?", (run_id,))

    def mark_failed(self, run_id: int, error: str) -> None:
        """The import failed and could not roll back now: any later command may roll it back (its rows stay
        invisible meanwhile)."""
        with self._cx.transaction():
            self.conn.execute("UPDATE import_runs SET failed_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now'), "
                              "error = ? WHERE id = ? AND status = 'running'", (error[:500], run_id))

    def roll_back(self, run_id: int) -> int:
        """Remove every row import ``run_id`` added (short transactions); returns how many rows went.

        Votes and generations go when they still carry this run (a row another running import claimed is handed
        to it instead); prompts, models and annotators go only when no row of any table refers to them."""
        removed = 0
        with self._cx.transaction():  # ending: it will never commit (store.pair_counts drops its counts whole)
            self.conn.execute("UPDATE import_runs SET error = coalesce(error, 'rolled back') WHERE id = ?",
                              (run_id,))
        for table in OWNED:
            with self._cx.transaction():
                self.conn.execute(
                    f"UPDATE {table} SET run_id = (SELECT min(c.run_id) FROM import_claims c WHERE c.tbl = "
                    f"'{table}' AND c.row_id = {table}.id AND c.run_id != :run AND c.run_id IN "
                    f"({UNCOMMITTED_RUNS})) WHERE run_id = :run AND id IN (SELECT c.row_id FROM import_claims c "
                    f"WHERE c.tbl = '{table}' AND c.run_id != :run AND c.run_id IN ({UNCOMMITTED_RUNS}))",
                    {"run": run_id})
        for table in OWNED:  # rows handed to this run by another's rollback lie outside its ranges
            keep = self._referenced_clause(table, owned=True)
            with self._cx.transaction():
                removed += self.conn.execute(
                    f"DELETE FROM {table} WHERE run_id = :run AND id IN (SELECT row_id FROM import_claims WHERE "
                    f"run_id = :run AND tbl = '{table}'){keep}", {"run": run_id}).rowcount
        for table in TRACKED:
            extra = " AND run_id = :run" if table in OWNED else ""
            keep = self._referenced_clause(table, owned=table in OWNED)
            ranges = self.conn.execute(
                "SELECT lo, hi FROM import_ranges WHERE run_id = ? AND tbl = ? ORDER BY lo", (run_id, table)).fetchall()
            for lo, hi in ranges:
                for start in range(lo, hi + 1, _DELETE_CHUNK):
                    end = min(hi, start + _DELETE_CHUNK - 1)
                    with self._cx.transaction():
                        removed += self.conn.execute(
                            f"DELETE FROM {table} WHERE rowid BETWEEN :lo AND :hi{extra}{keep}",
                            {"lo": start, "hi": end, "run": run_id}).rowcount
        self._bequeath(run_id)
        with self._cx.transaction():
            left = {t: self.conn.execute(f"SELECT count(*) FROM {t} WHERE run_id = ?", (run_id,)).fetchone()[0]
                    for t in OWNED}
            if any(left.values()):
                # Only a writer that does not filter with COMMITTED can pin them; keep the run (its rows stay
                # invisible) and say so, rather than let them appear.
                what = ", ".join(f"{n:,} {t}" for t, n in left.items() if n)
                raise StoreError(f"import #{run_id} could not be fully rolled back: {what} are still referred to "
                                 "by other rows; they stay uncounted")
            self.conn.execute("DELETE FROM import_ranges WHERE run_id = ?", (run_id,))
            self.conn.execute("DELETE FROM import_claims WHERE run_id = ?", (run_id,))
            PairCounts(self._cx).drop(run_id)
            # Gone without a trace, like a rolled-back transaction (every table's row count is as before).
            self.conn.execute("DELETE FROM import_runs WHERE id = ?", (run_id,))
        self._cx.model_ids.clear()
        self._cx.annotator_ids.clear()
        self._cx.known_prompt_ids.clear()
        return removed

    def _bequeath(self, run_id: int) -> None:
        """The prompts, models and annotators this run created that stay only because rows it handed to a running
        claimant refer to them become that claimant's too: its own rollback removes them once unreferenced."""
        ranges = self.conn.execute("SELECT tbl, lo, hi FROM import_ranges WHERE run_id = ?", (run_id,)).fetchall()
        heirs: set[int] = set()
        for table, lo, hi in ranges:
            if table in OWNED:
                heirs.update(r[0] for r in self.conn.execute(
                    f"SELECT DISTINCT run_id FROM {table} WHERE rowid BETWEEN ? AND ? AND run_id != ? "
                    f"AND run_id IN ({UNCOMMITTED_RUNS})", (lo, hi, run_id)))
        if not heirs:
            return
        with self._cx.transaction():
            for table, lo, hi in ranges:
                if table in OWNED:
                    continue
                kept = [r[0] for r in self.conn.execute(
                    f"SELECT rowid FROM {table} WHERE rowid BETWEEN ? AND ?", (lo, hi))]
                self.conn.executemany("INSERT INTO import_ranges (run_id, tbl, lo, hi) VALUES (?, ?, ?, ?)",
                                      [(heir, table, row, row) for heir in heirs for row in kept])

    def abandoned(self) -> list[ImportRun]:
        """Runs still marked running that will never finish: their process gave up (``failed_at``) or is gone
        (on this host; a pid elsewhere cannot be checked, see :meth:`elsewhere`)."""
        host = socket.gethostname()
        return [r for r in self._running()
                if r.failed_at is not None
                or (r.host == host and r.pid != os.getpid() and not _alive(r.pid, r.started_at))]

    def elsewhere(self) -> list[ImportRun]:
        """Running imports started on another host: uncounted until they finish; this host cannot tell whether
        their process still lives."""
        host = socket.gethostname()
        return [r for r in self._running() if r.failed_at is None and r.host != host]

    def _running(self) -> list[ImportRun]:
        return [ImportRun(*row) for row in self.conn.execute(
            "SELECT id, kind, pid, host, status, failed_at, started_at FROM import_runs WHERE status = 'running'")]

    def recover_abandoned(self) -> int:
        """Roll back imports that were killed (or gave up) before they finished; returns how many were."""
        runs = self.abandoned()
        for run in runs:
            self.roll_back(run.run_id)
        return len(runs)

    def _referenced_clause(self, table: str, *, owned: bool) -> str:
        """`` AND NOT EXISTS (…)`` for every foreign key that refers to ``table``, read from the schema, so that a
        rollback never removes a row something else refers to (and never fails on a foreign key). For votes and
        generations, references that cascade (gate results, judge verdicts) do not keep a row."""
        clauses = []
        for other in self._cx.db.table_names():
            for fk in self.conn.execute(f"PRAGMA foreign_key_list([{other}])").fetchall():
                _id, _seq, parent, child_col, parent_col, _upd, on_delete, _match = fk
                if parent != table or (owned and on_delete.upper() == "CASCADE"):
                    continue
                parent_col = parent_col or "id"
                if self._leads_an_index(other, child_col):  # a lookup per row
                    clauses.append(f"NOT EXISTS (SELECT 1 FROM [{other}] r WHERE r.[{child_col}] = "
                                   f"{table}.[{parent_col}])")
                else:  # one pass over the referring table per statement
                    clauses.append(f"{table}.[{parent_col}] NOT IN (SELECT [{child_col}] FROM [{other}] "
                                   f"WHERE [{child_col}] IS NOT NULL)")
        return "".join(f" AND {c}" for c in clauses)

    def _leads_an_index(self, table: str, column: str) -> bool:
        """Whether an index of ``table`` starts with ``column`` (sqlite-utils reads the indexes)."""
        return any(index.columns[:1] == [column] for index in self._cx.db.table(table).indexes)
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


def _alive(pid: int, started_at: str | None = None) -> bool:
    """Whether the importing process still runs: its pid exists and (on Linux) that process is not a newer one
    that was given the same pid after the importer died — else a reused pid would keep a dead import forever."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # another user's process: alive
    began = _process_start(pid)
    if began is not None and started_at:
        from datetime import datetime

        try:
            run_began = datetime.fromisoformat(started_at.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return True
        return began <= run_began + 1.0  # the importer began before it recorded its run
    return True


def _process_start(pid: int) -> float | None:
    """A process's start time (Unix seconds) from /proc; None where there is no /proc."""
    try:
        stat = open(f"/proc/{pid}/stat", encoding="ascii", errors="replace").read()
        ticks = int(stat.rsplit(")", 1)[1].split()[19])
        boot = next(float(line.split()[1]) for line in open("/proc/stat", encoding="ascii")
                    if line.startswith("btime "))
        return boot + ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, StopIteration):
        return None
