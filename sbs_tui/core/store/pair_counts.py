"""``store.pair_counts``: the votes' outcome counts per voter class, kept in step with the votes as they land.

Why: Bradley-Terry and the win rate need the votes only through their outcome cells (model pair × score, with a
count: :mod:`sbs_tui.core.ranking.outcomes`). Counting them with ``GROUP BY`` over the votes' covering index
(dropped since, migration 0020) cost time in proportion to the votes (1M votes: 0.1 s; 10M: ~1.5 s of every
``sbs rank``). This table holds those counts, so a ranking reads a few thousand rows whatever the number of
votes: its cost grows with models², not votes.

A row is one cell of one *bucket*: (bucket, annotator kind, model_a_id, model_b_id, score_b, flagged) → ``n``.
The key holds what the count-based rankings filter on — the voter class (``--voters``) and the flag
(``--include-flagged``); the flagged count (``store.votes.flagged_count``) is read here too. ``--annotator``
and ``--category`` filters read the votes themselves through their own indexes
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
from typing import Any

from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.pair_counts_sql import ENDING, KEY, KINDS, RUNNING, tally_sql

class PairCounts(Queries):
    """``store.pair_counts``."""

    __slots__ = ()

    def add_inserted(self, after_id: int) -> None:
        """Count the votes with ``id > after_id`` that carry an import run (the batch just inserted them; the
        insert trigger skipped them). Call in the batch's transaction."""
        self.conn.execute(
            f"INSERT INTO pair_counts (bucket, {KEY}, n) {tally_sql(' WHERE v.id > ? AND v.run_id IS NOT NULL')} "
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
            f"INSERT INTO pair_counts (bucket, {KEY}, n) VALUES (?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET n = n + excluded.n",
            [(run_id, kinds.get(ann, "human"), a, b, s, f, n) for (ann, a, b, s, f), n in tally.items()])

    def fold(self, run_id: int) -> None:
        """Import ``run_id`` commits: its bucket joins bucket 0 (call in the transaction that marks it done)."""
        self.conn.execute(
            f"INSERT INTO pair_counts (bucket, {KEY}, n) SELECT 0, {KEY}, n FROM pair_counts WHERE bucket = ? "
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
        kept = {tuple(r[:6]): r[6] for r in self.conn.execute(f"SELECT bucket, {KEY}, n FROM pair_counts")
                if r[0] not in ending}
        counted = {tuple(r[:6]): r[6] for r in self.conn.execute(tally_sql("")) if r[0] not in ending}
        return sorted((*key, kept.get(key, 0), counted.get(key, 0)) for key in kept.keys() | counted.keys()
                      if kept.get(key, 0) != counted.get(key, 0))

    def rebuild(self) -> None:
        """Recount every cell from the votes (one pass over them; call inside a transaction)."""
        self.conn.execute("DELETE FROM pair_counts")
        self.conn.execute(f"INSERT INTO pair_counts (bucket, {KEY}, n) {tally_sql('')}")
