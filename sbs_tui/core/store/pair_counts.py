"""``store.pair_counts``: the votes' outcome counts per voter class, kept in step with the votes as they land.

Why: Bradley-Terry and the win rate need the votes only through their outcome cells (model pair × score, with a
count: :mod:`sbs_tui.core.ranking.outcomes`). Counting them with ``GROUP BY`` over the votes' covering index
costs time in proportion to the votes (1M votes: 0.1 s; 10M: ~1.5 s of every ``sbs rank``). This table holds
those counts, so a ranking reads a few thousand rows whatever the number of votes: its cost grows with
models², not votes.

A row is one cell of one *bucket*: (bucket, annotator kind, model_a_id, model_b_id, score_b, flagged) → ``n``.
The key holds what the count-based rankings filter on — the voter class (``--voters``) and the flag
(``--include-flagged``). ``--annotator`` and ``--category`` filters read the votes themselves
(:meth:`~sbs_tui.core.store.votes.Votes.outcomes`), as do the methods that need each vote (online Elo,
TrueSkill, length and style control).

Visibility follows the import contract (:mod:`.imports`): the bucket of a vote is its import run while that run
is still running, else 0. A ranking counts bucket 0 and the buckets of runs that are done (:func:`committed`),
so half an import is never counted; when a run finishes, its bucket is folded into bucket 0 in the same
transaction that makes its votes visible, and a rolled-back run's bucket is dropped with its votes.

Who keeps it true:

* triggers on ``votes`` for every single-row writer — an annotator's vote, undo, withdraw, ``--replace``, a claim
  handed from one import to another (``UPDATE OF run_id``) — so no writer can forget it;
* an import's batches add their rows in bulk, one ``GROUP BY`` over the rows the batch inserted (a trigger per
  row would cost the import ~1 µs a vote): the insert trigger skips rows that carry an import run;
* a rollback first marks its run as ending (``import_runs.error``); deleting an ending run's votes skips the
  trigger, and the rollback drops the run's whole bucket at the end.

:meth:`PairCounts.check` recomputes the counts from the votes and says where they differ (tests, and
``rebuild`` should a database ever be written by a version without this table).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sbs_tui.core.store.base import Queries

if TYPE_CHECKING:
    from sbs_tui.core.store.lite import sqlite_utils

RUNNING = "SELECT id FROM import_runs WHERE status = 'running'"
# Runs being rolled back (or given up: ``error`` set): they never commit, so their buckets are dropped whole and
# deleting their votes one by one need not count them down (a 10M-vote rollback would pay a trigger per vote).
ENDING = "SELECT id FROM import_runs WHERE status = 'running' AND error IS NOT NULL"
KINDS = {"humans": ("human",), "judges": ("judge",), "all": None}  # --voters → annotator kinds (None: every kind)

_KEY = "kind, model_a_id, model_b_id, score_b, flagged"


def _bucket(row: str) -> str:
    """The bucket of a vote (``NEW`` or ``OLD`` in a trigger): its run while that run is running, else 0."""
    return f"(CASE WHEN {row}.run_id IN ({RUNNING}) THEN {row}.run_id ELSE 0 END)"


def _kind(row: str) -> str:
    return f"coalesce((SELECT kind FROM annotators WHERE id = {row}.annotator_id), 'human')"


def _add(row: str, sign: str) -> str:
    """One trigger statement: add (``sign`` '+') or take away ('-') the vote ``row`` from its cell."""
    return (f"INSERT INTO pair_counts (bucket, {_KEY}, n) VALUES ({_bucket(row)}, {_kind(row)}, "
            f"{row}.model_a_id, {row}.model_b_id, {row}.score_b, {row}.flagged, {sign}1) "
            f"ON CONFLICT DO UPDATE SET n = n {sign} 1;")


def create(db: sqlite_utils.Database) -> None:
    """The table, its triggers, and the counts of the votes already stored (the migration)."""
    db.executescript(
        f"""
        CREATE TABLE pair_counts (
            bucket INTEGER NOT NULL,
            kind TEXT NOT NULL,
            model_a_id INTEGER NOT NULL,
            model_b_id INTEGER NOT NULL,
            score_b REAL NOT NULL,
            flagged INTEGER NOT NULL,
            n INTEGER NOT NULL,
            -- in the order a ranking groups by: its GROUP BY walks the key, no sort (a few thousand rows)
            PRIMARY KEY (model_a_id, model_b_id, score_b, kind, flagged, bucket)
        ) WITHOUT ROWID;
        CREATE TRIGGER pair_counts_insert AFTER INSERT ON votes WHEN NEW.run_id IS NULL BEGIN
            {_add("NEW", "+")}
        END;
        CREATE TRIGGER pair_counts_delete AFTER DELETE ON votes
            WHEN OLD.run_id IS NULL OR OLD.run_id NOT IN ({ENDING}) BEGIN
            {_add("OLD", "-")}
        END;
        CREATE TRIGGER pair_counts_update AFTER UPDATE OF model_a_id, model_b_id, score_b, flagged, annotator_id,
            run_id ON votes BEGIN
            {_add("OLD", "-")}
            {_add("NEW", "+")}
        END;
        """
    )
    db.execute(f"INSERT INTO pair_counts (bucket, {_KEY}, n) {_tally_sql('')}")


def _tally_sql(where: str) -> str:
    """Counts of the votes matching ``where`` (a clause on ``v``, or ''), per bucket and cell."""
    return (f"SELECT {_bucket('v')}, {_kind('v')}, v.model_a_id, v.model_b_id, v.score_b, v.flagged, count(*) "
            f"FROM votes v{where} GROUP BY 1, 2, 3, 4, 5, 6")


class PairCounts(Queries):
    """``store.pair_counts``."""

    __slots__ = ()

    def add_inserted(self, after_id: int) -> None:
        """Count the votes with ``id > after_id`` that carry an import run (the batch just inserted them; the
        insert trigger skipped them). Call in the batch's transaction."""
        self.conn.execute(
            f"INSERT INTO pair_counts (bucket, {_KEY}, n) {_tally_sql(' WHERE v.id > ? AND v.run_id IS NOT NULL')} "
            "ON CONFLICT DO UPDATE SET n = n + excluded.n", (after_id,))

    def add_rows(self, run_id: int, cells: Iterable[tuple[int, int, int, float, int]]) -> None:
        """Count votes import ``run_id`` just inserted, given as (annotator_id, model_a_id, model_b_id, score_b,
        flagged) — from the batch's own rows, when every one of them was inserted (the common case: no second
        pass over the votes). Call in the batch's transaction."""
        tally = Counter(cells)
        ids = list({c[0] for c in tally})
        kinds = dict(self.conn.execute(f"SELECT id, kind FROM annotators WHERE id IN ({','.join('?' * len(ids))})",
                                       ids).fetchall())
        self.conn.executemany(
            f"INSERT INTO pair_counts (bucket, {_KEY}, n) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET n = n + excluded.n",
            [(run_id, kinds.get(ann, "human"), a, b, s, f, n) for (ann, a, b, s, f), n in tally.items()])

    def fold(self, run_id: int) -> None:
        """Import ``run_id`` commits: its bucket joins bucket 0 (call in the transaction that marks it done)."""
        self.conn.execute(
            f"INSERT INTO pair_counts (bucket, {_KEY}, n) SELECT 0, {_KEY}, n FROM pair_counts WHERE bucket = ? "
            "ON CONFLICT DO UPDATE SET n = n + excluded.n", (run_id,))
        self.drop(run_id)

    def drop(self, run_id: int) -> None:
        """Import ``run_id`` was rolled back: its bucket goes with its votes."""
        self.conn.execute("DELETE FROM pair_counts WHERE bucket = ?", (run_id,))

    def outcomes(self, *, kinds: Sequence[str] | None = None, include_flagged: bool = False,
                 ) -> tuple[list[str], list[tuple[int, int, float, int]]]:
        """What :meth:`Votes.outcomes <sbs_tui.core.store.votes.Votes.outcomes>` returns for the votes of these
        annotator kinds (None: all), read from the counts: model names and rows (index_a, index_b, score_b,
        count) — the same cells, so the same fit."""
        clauses = [f"(bucket = 0 OR bucket NOT IN ({RUNNING}))"]
        params: list[Any] = []
        if kinds is not None:
            clauses.append(f"kind IN ({','.join('?' * len(kinds))})")
            params.extend(kinds)
        if not include_flagged:
            clauses.append("flagged = 0")
        rows = self.conn.execute(
            f"SELECT model_a_id, model_b_id, score_b, sum(n) FROM pair_counts WHERE {' AND '.join(clauses)} "
            "GROUP BY model_a_id, model_b_id, score_b HAVING sum(n) > 0", params).fetchall()
        ids = sorted({r[0] for r in rows} | {r[1] for r in rows})
        names = self._cx.model_names_by_id()
        index = {mid: k for k, mid in enumerate(ids)}
        return [names[i] for i in ids], [(index[a], index[b], s, n) for a, b, s, n in rows]

    def check(self) -> list[tuple[Any, ...]]:
        """Cells where the kept counts differ from the votes: (bucket, kind, a, b, score_b, flagged, kept,
        counted). Empty when they agree. Buckets of runs being rolled back are left out."""
        ending = {r[0] for r in self.conn.execute(ENDING)}  # dropped whole when their rollback ends
        kept = {tuple(r[:6]): r[6] for r in self.conn.execute(f"SELECT bucket, {_KEY}, n FROM pair_counts")
                if r[0] not in ending}
        counted = {tuple(r[:6]): r[6] for r in self.conn.execute(_tally_sql("")) if r[0] not in ending}
        return sorted((*key, kept.get(key, 0), counted.get(key, 0)) for key in kept.keys() | counted.keys()
                      if kept.get(key, 0) != counted.get(key, 0))

    def rebuild(self) -> None:
        """Recount every cell from the votes (one pass over them; call inside a transaction)."""
        self.conn.execute("DELETE FROM pair_counts")
        self.conn.execute(f"INSERT INTO pair_counts (bucket, {_KEY}, n) {_tally_sql('')}")
