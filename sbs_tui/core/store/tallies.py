"""``store.tallies``: agreement's counts kept up to date as votes land, so ``sbs agreement``, the review app's
agreement tab and ``sbs report`` read thousands of rows instead of every vote (issue 22).

Why: agreement over 1M votes took ~30 s (85 s profiled) — every vote read into Python, grouped per item and per
annotator pair at every refresh. Its statistics depend on the votes only through integer tables
(:mod:`sbs_tui.core.analysis.agreement_counts`); the schema (``0017_agreement_tallies``,
``0019_tally_dirty_items``) keeps them:

* ``agree_items`` — per item (prompt, model pair by name) the labels of humans and of judges, and the id of each
  kind's first vote (the order the judge table lists disagreements in);
* ``agree_labels`` — per (item, annotator) the first label, its vote id, how many votes, which labels and which
  left sides were seen (order consistency), and its share of the position table (``p0``–``p3``, ``p_first``);
* ``agree_pairs`` — per annotator pair the 3×3 confusion over the items both judged; ``agree_majority`` — per
  scope (``human``, ``judge``, ``all``) and annotator the leave-one-out majority counts; ``agree_position`` — per
  (annotator, model pair) the left/winner table; ``agree_annotators`` — votes and order consistency.

**Catch-up by watermark.** ``tally_state.agreement_watermark`` is the last vote id counted. A read first counts
the committed votes above it (:meth:`Tallies.catch_up`), in short transactions of ``CHUNK`` votes (an annotator's
vote waits for one chunk at most), never past the first vote of an import still running (its votes are invisible
until it commits, :func:`~sbs_tui.core.store.imports.committed`; new rowids only grow, so nothing committed can
appear below the watermark later). Each chunk subtracts the affected items' contributions, updates their labels,
and adds them back: integer deltas, so the tallies equal a recount.

**A change costs its items.** When a counted vote is deleted (undo, withdraw, a revoked annotator's clean-up) or
changed (a flag, ``--replace``, another annotator), triggers move its hourly timeline count at once and record
its items (the old and the new prompt and model pair) in ``tally_dirty``; the next read re-derives just those
items (:mod:`sbs_tui.core.store.tallies_dirty`: their share of every table taken away, their votes counted again
from the prompt index, added back), a batch of items a transaction. A model's new name (the items' order by
name) or an annotator's new kind reads no vote either: the items they touch are relabelled
(:mod:`sbs_tui.core.store.tallies_relabel`), first thing at the next read. Only global changes recount from zero: a
vote's id changing, more dirty items than a recount from zero would cost
(:func:`~sbs_tui.core.store.tallies_dirty.pending`). An import's rollback
deletes only votes above the watermark and costs nothing. Filters the tallies do not key (``--annotator``,
``--category``, ``--include-flagged``) read the raw votes, as before.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from sbs_tui.core.store import tallies_bulk, tallies_dirty, tallies_relabel
from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.imports import UNCOMMITTED_RUNS

# Votes per catch-up transaction: at 1M votes (2-core machine) 10,000 a transaction took 175 ms median, 386 ms at
# worst, for the same total as 50,000 (909 ms median, 1.9 s worst) — an annotator's vote waits for one at most.
CHUNK = 10_000
SCOPES = {"humans": ("human",), "judges": ("judge",), "all": ("human", "judge")}
_KIND_SCOPES = {"human": ("human", "all"), "judge": ("judge", "all")}
_TABLES = ("agree_items", "agree_labels", "agree_annotators", "agree_pairs", "agree_majority", "agree_position",
           "vote_timeline", "tally_dirty", "tally_kinds_changed", "tally_renamed")
# A new vote as the tallies see it: its item (models ordered by name), label (0 first, 1 second, 2 tie) and sides.
_NEW_VOTES = """
INSERT INTO temp.tally_new (id, prompt_id, x_id, y_id, annotator_id, label, x_left, known_left)
SELECT v.id, v.prompt_id,
       CASE WHEN ma.name < mb.name THEN v.model_a_id ELSE v.model_b_id END,
       CASE WHEN ma.name < mb.name THEN v.model_b_id ELSE v.model_a_id END,
       v.annotator_id,
       CASE WHEN v.score_b = 0.5 THEN 2 WHEN (v.score_b > 0.5) = (mb.name < ma.name) THEN 0 ELSE 1 END,
       CASE WHEN v.shown_left = 'model_b' THEN mb.name < ma.name ELSE ma.name < mb.name END,
       v.shown_left IS NOT NULL
FROM votes v JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id
WHERE {where} AND v.flagged = 0
"""
_RECOUNT_ITEMS = """
UPDATE agree_items SET (h0, h1, h2, j0, j1, j2, h_first, j_first) = (
    SELECT coalesce(sum(an.kind = 'human' AND l.label = 0), 0), coalesce(sum(an.kind = 'human' AND l.label = 1), 0),
           coalesce(sum(an.kind = 'human' AND l.label = 2), 0), coalesce(sum(an.kind = 'judge' AND l.label = 0), 0),
           coalesce(sum(an.kind = 'judge' AND l.label = 1), 0), coalesce(sum(an.kind = 'judge' AND l.label = 2), 0),
           min(CASE WHEN an.kind = 'human' THEN l.first_id END), min(CASE WHEN an.kind = 'judge' THEN l.first_id END)
    FROM agree_labels l JOIN annotators an ON an.id = l.annotator_id WHERE l.item_id = agree_items.id)
WHERE id IN (SELECT item_id FROM temp.tally_affected)
"""
# Leave-one-out majority per (scope, annotator): the label counts of the others on the item (o0, o1, o2), the
# majority the label with strictly the most (none when tied at the top or nobody else), as agreement.py counts it.
# A vote's cell of its (annotator, model pair) position table: x left and x won, x left and y won, y left and x
# won, y left and y won (decisive votes with a known left side).
_CELLS = ("sum(x_left AND label = 0), sum(x_left AND label = 1), sum(NOT x_left AND label = 0), "
          "sum(NOT x_left AND label = 1)")
_ADD_LABELS = f"""
INSERT INTO agree_labels (item_id, annotator_id, label, first_id, n, labels_mask, lefts_mask, x_id, y_id,
                          p0, p1, p2, p3, p_first)
SELECT item_id, annotator_id, min(id * 4 + label) % 4, min(id), count(*),
       max(label = 0) | (max(label = 1) << 1) | (max(label = 2) << 2), max(x_left) | (max(NOT x_left) << 1),
       min(x_id), min(y_id), sum(known_left AND x_left AND label = 0),
       sum(known_left AND x_left AND label = 1), sum(known_left AND NOT x_left AND label = 0),
       sum(known_left AND NOT x_left AND label = 1),
       min(CASE WHEN known_left AND label != 2 THEN id END)
FROM temp.tally_new GROUP BY item_id, annotator_id
ON CONFLICT (item_id, annotator_id) DO UPDATE SET n = n + excluded.n,
    labels_mask = labels_mask | excluded.labels_mask, lefts_mask = lefts_mask | excluded.lefts_mask,
    p0 = p0 + excluded.p0, p1 = p1 + excluded.p1, p2 = p2 + excluded.p2, p3 = p3 + excluded.p3,
    p_first = coalesce(p_first, excluded.p_first)
"""
_MAJORITY_SCOPES = (("'human'", "i.h{j}", "an.kind = 'human'"), ("'judge'", "i.j{j}", "an.kind = 'judge'"),
                    ("'all'", "i.h{j} + i.j{j}", "1"))
_MAJORITY = """
INSERT INTO agree_majority (scope, annotator_id, agree, seen)
SELECT {scope}, annotator_id, ? * coalesce(sum(maj = label), 0), ? * count(maj) FROM (
    SELECT annotator_id, label, CASE WHEN m = 0 OR (o0 = m) + (o1 = m) + (o2 = m) > 1 THEN NULL
        WHEN o0 = m THEN 0 WHEN o1 = m THEN 1 ELSE 2 END AS maj
    FROM (SELECT annotator_id, label, o0, o1, o2, max(o0, o1, o2) AS m FROM (
        SELECT l.annotator_id, l.label, {c0} - (l.label = 0) AS o0, {c1} - (l.label = 1) AS o1,
               {c2} - (l.label = 2) AS o2
        FROM agree_labels l JOIN agree_items i ON i.id = l.item_id JOIN {annotators} an ON an.id = l.annotator_id
        WHERE l.item_id IN (SELECT item_id FROM temp.tally_affected) AND {kinds})))
GROUP BY annotator_id
ON CONFLICT (scope, annotator_id) DO UPDATE SET agree = agree + excluded.agree, seen = seen + excluded.seen
"""


class Tallies(Queries):
    """``store.tallies``."""

    __slots__ = ()

    # -- maintenance -------------------------------------------------------------------------------------------

    def catch_up(self, *, chunk: int = CHUNK) -> int:
        """Count every committed vote above the watermark (first the dirty items again, or everything from zero
        after a global change); returns how many votes were counted (recounted items' votes included).

        A backlog of at most ``chunk`` votes is one transaction. A larger one (a rebuild, a big import) is counted
        in passes over ranges of prompts — each item's new votes all in one pass, so no item is counted twice —
        each a transaction of about ``chunk`` votes (:mod:`.tallies_bulk`: by numpy, sized by time, when counting
        from zero), with a pause after each for waiting writers, resumable (``agreement_target``,
        ``agreement_cursor``)."""
        counted = 0
        pace = tallies_bulk.Pace()
        while True:
            pace.gap()
            with self._cx.transaction():
                pace.begin()
                state = self._state()
                if state["agreement_changes"] != state["agreement_built"]:
                    self._clear(state["agreement_changes"])
                    state = self._state()
                if tallies_relabel.apply(self):
                    continue
                low, target = state["agreement_watermark"], state["agreement_target"]
                if not target and (dirty := tallies_dirty.pending(self.conn)):
                    if dirty == tallies_dirty.TOO_MANY:
                        self._clear(state["agreement_changes"])
                    else:
                        counted += tallies_dirty.recount(self, low, items=max(1, chunk // 50))
                    continue
                if not target:
                    high = self._safe_high()
                    if high <= low:
                        return counted
                    if high - low <= chunk:
                        counted += self._count("v.id > ? AND v.id <= ?", (low, high))
                        self._set(agreement_watermark=high)
                        continue
                    if tallies_bulk.recount_from_zero(low, high):  # a large backlog: everything, by numpy
                        self._clear(state["agreement_changes"])
                        continue
                    target = high
                    self._set(agreement_target=target, agreement_cursor=0)
                cursor = state["agreement_cursor"] if state["agreement_target"] else 0
                last = self.conn.execute("SELECT coalesce(max(rowid), 0) FROM prompts").fetchone()[0]
                bulk = tallies_bulk.applies(low, target)
                votes = pace.votes(chunk, chunk * tallies_bulk.CHUNKS) if bulk else chunk
                step = max(1, votes * last // max(target - low, 1))
                if bulk:
                    n = tallies_bulk.count_range(self, target, cursor, cursor + step)
                else:
                    n = self._count("+v.id > ? AND +v.id <= ? AND v.prompt_id IN (SELECT id FROM prompts WHERE "
                                    "rowid > ? AND rowid <= ?)", (low, target, cursor, cursor + step))
                pace.ranged(n)
                counted += n
                if cursor + step >= last:
                    self._set(agreement_watermark=target, agreement_target=0, agreement_cursor=0)
                else:
                    self._set(agreement_cursor=cursor + step)

    def _set(self, **values: int) -> None:
        self.conn.executemany("UPDATE tally_state SET value = ? WHERE key = ?", [(v, k) for k, v in values.items()])

    def _state(self) -> dict[str, int]:
        return dict(self.conn.execute("SELECT key, value FROM tally_state"))

    def _safe_high(self) -> int:
        """The highest vote id below every vote of an import still running."""
        top = self.conn.execute("SELECT coalesce(max(id), 0) FROM votes").fetchone()[0]
        if self.conn.execute(f"SELECT NOT EXISTS ({UNCOMMITTED_RUNS})").fetchone()[0]:
            return top
        pending = self.conn.execute(
            f"SELECT min(id) FROM votes WHERE run_id IN ({UNCOMMITTED_RUNS})").fetchone()[0]
        return top if pending is None else min(top, pending - 1)

    def _clear(self, changes: int) -> None:
        for table in _TABLES:
            self.conn.execute(f"DELETE FROM {table}")
        self._set(agreement_built=changes, agreement_watermark=0, agreement_target=0, agreement_cursor=0)

    def _count(self, where: str, params: tuple[int, ...]) -> int:
        """The votes ``where`` selects into the tallies (inside the caller's transaction)."""
        conn = self.conn
        self._temp()
        conn.execute("DELETE FROM temp.tally_affected")
        conn.execute(
            "INSERT INTO vote_timeline (timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged, n) "
            "SELECT v.ts IS NOT NULL, coalesce(substr(v.ts, 1, 13), ''), v.annotator_id, v.model_a_id, v.model_b_id, "
            f"v.score_b, v.flagged, count(*) FROM votes v WHERE {where} GROUP BY 1, 2, 3, 4, 5, 6, 7 "
            "ON CONFLICT (timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged) "
            "DO UPDATE SET n = n + excluded.n", params)
        n = self._load(where, params)
        if n:
            self._add()
        return n

    def _temp(self) -> None:
        conn = self.conn
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS tally_new (id INTEGER PRIMARY KEY, prompt_id TEXT, x_id INT, "
                     "y_id INT, annotator_id INT, label INT, x_left INT, known_left INT, item_id INT)")
        conn.execute("CREATE TEMP TABLE IF NOT EXISTS tally_affected (item_id INTEGER PRIMARY KEY)")

    def _load(self, where: str, params: tuple[int, ...]) -> int:
        """The unflagged votes ``where`` selects, as the tallies see them, into ``temp.tally_new``."""
        self.conn.execute("DELETE FROM temp.tally_new")
        self.conn.execute(_NEW_VOTES.format(where=where), params)
        return self.conn.execute("SELECT count(*) FROM temp.tally_new").fetchone()[0]

    def _add(self) -> None:
        """Add ``temp.tally_new``'s votes: their items' shares come off, the labels are updated, the shares go back
        on (the items are added to ``temp.tally_affected``)."""
        conn = self.conn
        conn.execute("INSERT OR IGNORE INTO agree_items (prompt_id, x_id, y_id) "
                     "SELECT DISTINCT prompt_id, x_id, y_id FROM temp.tally_new")
        conn.execute("UPDATE temp.tally_new SET item_id = (SELECT i.id FROM agree_items i WHERE i.prompt_id = "
                     "tally_new.prompt_id AND i.x_id = tally_new.x_id AND i.y_id = tally_new.y_id)")
        conn.execute("INSERT OR IGNORE INTO temp.tally_affected SELECT DISTINCT item_id FROM temp.tally_new")
        self._share(-1)
        conn.execute(_ADD_LABELS)
        self._recount_items()
        self._share(+1)
        conn.execute(
            "INSERT INTO agree_annotators (annotator_id, votes) SELECT annotator_id, count(*) FROM temp.tally_new "
            "GROUP BY annotator_id ON CONFLICT (annotator_id) DO UPDATE SET votes = votes + excluded.votes")
        conn.execute(
            "INSERT INTO agree_position (annotator_id, x_id, y_id, c0, c1, c2, c3, first_id) "
            f"SELECT annotator_id, x_id, y_id, {_CELLS}, min(id) FROM temp.tally_new "
            "WHERE known_left AND label != 2 GROUP BY annotator_id, x_id, y_id "
            "ON CONFLICT (annotator_id, x_id, y_id) DO UPDATE SET c0 = c0 + excluded.c0, c1 = c1 + excluded.c1, "
            "c2 = c2 + excluded.c2, c3 = c3 + excluded.c3, first_id = min(first_id, excluded.first_id)")

    def _recount_items(self) -> None:
        """The affected items' label counts per kind and each kind's first vote, from their labels."""
        self.conn.execute(_RECOUNT_ITEMS)

    def _majority(self, sign: int, annotators: str = "annotators", *, by_kind_only: bool = False) -> None:
        """Add (+1) or take away (−1) the affected items' share of the majority counts, with the annotators' kinds
        read from ``annotators`` (a table of ``id``, ``kind``: the kinds the tallies were counted with);
        ``by_kind_only``: the ``human`` and ``judge`` scopes only (``all`` does not depend on kinds)."""
        for scope, counts, kinds in _MAJORITY_SCOPES[:2] if by_kind_only else _MAJORITY_SCOPES:
            self.conn.execute(_MAJORITY.format(scope=scope, kinds=kinds, annotators=annotators,
                                               c0=counts.format(j=0), c1=counts.format(j=1), c2=counts.format(j=2)),
                              (sign, sign))

    def _share(self, sign: int) -> None:
        """Add (+1) or take away (−1) what the affected items contribute to the pair confusions, the majority
        counts and order consistency (integer deltas: the tallies stay equal to a recount)."""
        self._pairs(sign)
        self._majority(sign)
        self.conn.execute(
            "INSERT INTO agree_annotators (annotator_id, both_orders, consistent) "
            "SELECT annotator_id, ? * count(*), ? * sum(labels_mask IN (1, 2, 4)) FROM agree_labels "
            "WHERE item_id IN (SELECT item_id FROM temp.tally_affected) AND n >= 2 AND lefts_mask = 3 "
            "GROUP BY annotator_id ON CONFLICT (annotator_id) DO UPDATE SET "
            "both_orders = both_orders + excluded.both_orders, consistent = consistent + excluded.consistent",
            (sign, sign))

    def _pairs(self, sign: int) -> None:
        """Add (+1) or take away (−1) the affected items' share of the annotator pairs' confusions."""
        self.conn.execute(
            "INSERT INTO agree_pairs (a_id, b_id, la, lb, n) "
            "SELECT a.annotator_id, b.annotator_id, a.label, b.label, ? * count(*) FROM agree_labels a "
            "JOIN agree_labels b ON b.item_id = a.item_id AND b.annotator_id > a.annotator_id "
            "WHERE a.item_id IN (SELECT item_id FROM temp.tally_affected) GROUP BY 1, 2, 3, 4 "
            "ON CONFLICT (a_id, b_id, la, lb) DO UPDATE SET n = n + excluded.n", (sign,))

    # -- reads (after catch_up) ---------------------------------------------------------------------------------

    def item_histogram(self, kinds: Sequence[str]) -> tuple[int, list[tuple[int, int, int, int]]]:
        """Items with at least one label of ``kinds``, and the label-count vectors (with how many items have each,
        in ascending vector order) of the items with two or more.

        Why one scan counted in Python: on 10M votes (3M items) SQLite's GROUP BY sorts every row (2.5 s, more
        with the store's large page cache) and the item count was a second scan; streaming the vectors into a
        ``Counter`` (a hash, C-implemented) is one scan and no sort, and exact by construction."""
        cols = [" + ".join(f"{k[0]}{j}" for k in kinds) for j in range(3)]
        counted = Counter(self.conn.execute(f"SELECT {cols[0]}, {cols[1]}, {cols[2]} FROM agree_items "
                                            f"WHERE {' + '.join(cols)} >= 1"))
        hist = [(a, b, c, n) for (a, b, c), n in sorted(counted.items()) if a + b + c >= 2]
        return sum(counted.values()), hist

    def annotators(self) -> list[tuple[int, int, int, int]]:
        """(annotator id, votes, items judged in both orders, of which consistent) per annotator counted."""
        return self.conn.execute(
            "SELECT annotator_id, votes, both_orders, consistent FROM agree_annotators WHERE votes > 0").fetchall()

    def pairs(self) -> list[tuple[int, int, int, int, int]]:
        """(annotator a, annotator b, a's label, b's label, items) with a's id below b's."""
        return self.conn.execute("SELECT a_id, b_id, la, lb, n FROM agree_pairs WHERE n > 0").fetchall()

    def majority(self, scope: str) -> list[tuple[int, int, int]]:
        """(annotator id, agrees, items with a majority of the others) among ``scope``'s (human, judge, all)."""
        return self.conn.execute("SELECT annotator_id, agree, seen FROM agree_majority WHERE scope = ? AND seen > 0",
                                 (scope,)).fetchall()

    def position(self) -> list[tuple[int, int, int, int, int, int, int]]:
        """(annotator id, x id, y id, c0, c1, c2, c3) in the order of each table's first vote."""
        return self.conn.execute(
            "SELECT annotator_id, x_id, y_id, c0, c1, c2, c3 FROM agree_position ORDER BY first_id").fetchall()

    def judged(self, judge_id: int, with_judges: bool) -> list[tuple[str, int, int, int, int, int, int]]:
        """One judge's first labels on items humans labelled: (prompt id, x id, y id, label, human label counts),
        in the order of the items' first vote (the humans' and, ``with_judges``, the judges' too)."""
        first = "min(coalesce(i.h_first, i.j_first), coalesce(i.j_first, i.h_first))" if with_judges else "i.h_first"
        return self.conn.execute(
            "SELECT i.prompt_id, i.x_id, i.y_id, l.label, i.h0, i.h1, i.h2 FROM agree_labels l "
            "JOIN agree_items i ON i.id = l.item_id WHERE l.annotator_id = ? AND i.h0 + i.h1 + i.h2 > 0 "
            f"ORDER BY {first}", (judge_id,)).fetchall()

    def labels_of(self, prompt_id: str, x_id: int, y_id: int) -> list[tuple[int, int]]:
        """(annotator id, first label) on one item."""
        return self.conn.execute(
            "SELECT l.annotator_id, l.label FROM agree_items i JOIN agree_labels l ON l.item_id = i.id "
            "WHERE i.prompt_id = ? AND i.x_id = ? AND i.y_id = ?", (prompt_id, x_id, y_id)).fetchall()

    def timeline(self) -> list[tuple[int, str, int, int, int, float, int, int]]:
        """(timed, hour, annotator id, model a id, model b id, score_b, flagged, votes) in the order votes were
        cast (hours in order, votes without a time stamp last)."""
        return self.conn.execute(
            "SELECT timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged, n FROM vote_timeline "
            "ORDER BY timed DESC, hour").fetchall()

    def annotator_names(self) -> dict[int, tuple[str, str]]:
        return {i: (n, k) for i, n, k in self.conn.execute("SELECT id, name, kind FROM annotators")}

    def model_names(self) -> dict[int, str]:
        return self._cx.model_names_by_id()


def is_read_only(exc: sqlite3.Error) -> bool:
    """A database this process may read but not write (the tallies cannot catch up: count from the votes)."""
    return "readonly" in str(exc).lower() or "read-only" in str(exc).lower()
