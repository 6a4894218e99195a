"""A model's new name or an annotator's new kind, carried into the agreement tallies without counting a vote again.

Why: both used to recount the tallies from zero (25–40 s at 1M votes) though neither changes a vote. What each one
changes is known exactly:

* **A model's name** orders an item's two models (``x`` is the one whose name sorts first, labels and left sides
  are told from ``x``'s side). A new name flips the order of the pairs where it now sorts on the other side of the
  other model, and nothing else: their items swap ``x`` and ``y``, labels 0 and 1, the position cells (x left and
  x won ↔ y left and y won, x left and y won ↔ y left and x won) and the per-kind label counts. The pair confusions
  see the swapped labels, so the flipped items' share of them is taken away before the swap and added back after
  — the same integer deltas a new vote's catch-up uses. The majority counts (does a label match the others'
  strict majority) and order consistency (one label in both orders) do not change when labels 0 and 1 swap.
* **An annotator's kind** decides which per-kind counts (``h``/``j``) its labels go to and which majority scope
  counts it and the others on its items. Those items' share of the majority counts is taken away with the kinds
  the tallies were counted with (the trigger keeps each annotator's kind before its first change), their per-kind
  counts re-derived from their labels, and their share added back with the kinds now. Pair confusions, votes,
  order consistency and the ``all`` scope's majority counts do not depend on kinds.

Migration ``0020_tally_relabel`` replaced the triggers that forced the recount with ones that record the
renamed model (``tally_renamed``) and the annotator's earlier kind (``tally_kinds_changed``); the next catch-up
applies them first, before any vote is counted with the new names or kinds. Each is one transaction whose cost
is the affected items' labels (read through ``idx_agree_labels_position``, which leads with annotator, x, y).
"""

from __future__ import annotations

import sqlite3
from typing import Protocol


class Tallies(Protocol):
    """What :class:`sbs_tui.core.store.tallies.Tallies` lends the relabelling (the two modules import one way)."""

    @property
    def conn(self) -> sqlite3.Connection: ...

    def _temp(self) -> None: ...

    def _pairs(self, sign: int) -> None: ...

    def _majority(self, sign: int, annotators: str = "annotators", *, by_kind_only: bool = False) -> None: ...

    def _recount_items(self) -> None: ...


_AFFECTED = "SELECT item_id FROM temp.tally_affected"
# Pairs stored in an order their models' names no longer have (x's name now sorts after y's), among the renamed
# models' pairs; the labels of their items, one index range per (annotator, pair).
_FLIPPED_PAIRS = """
INSERT INTO temp.tally_flip (x_id, y_id)
SELECT a.id, b.id FROM models a JOIN models b ON a.name > b.name
WHERE a.id IN (SELECT model_id FROM tally_renamed) OR b.id IN (SELECT model_id FROM tally_renamed)
"""
_FLIPPED_ITEMS = """
INSERT OR IGNORE INTO temp.tally_affected (item_id)
SELECT l.item_id FROM agree_annotators aa CROSS JOIN temp.tally_flip f
JOIN agree_labels l ON l.annotator_id = aa.annotator_id AND l.x_id = f.x_id AND l.y_id = f.y_id
"""
_SWAP = "CASE {c} WHEN 0 THEN 1 WHEN 1 THEN 0 ELSE {c} END"
_SWAP_BITS = "(({m} & 1) << 1) | (({m} & 2) >> 1) | ({m} & ~3)"


def apply(tallies: Tallies) -> bool:
    """Carry pending renames and kind changes into the tallies (inside the caller's transaction); whether there
    were any."""
    kinds = _kinds(tallies)  # first: the renames' deltas then read per-kind counts that match the kinds now
    return _renames(tallies) or kinds


def _renames(tallies: Tallies) -> bool:
    conn = tallies.conn
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM tally_renamed)").fetchone()[0]:
        return False
    tallies._temp()
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS tally_flip (x_id INT, y_id INT, PRIMARY KEY (x_id, y_id))")
    conn.execute("DELETE FROM temp.tally_flip")
    conn.execute("DELETE FROM temp.tally_affected")
    conn.execute(_FLIPPED_PAIRS)
    conn.execute(_FLIPPED_ITEMS)
    tallies._pairs(-1)  # the majority counts and order consistency do not change when labels 0 and 1 swap
    conn.execute(f"UPDATE agree_labels SET label = {_SWAP.format(c='label')}, x_id = y_id, y_id = x_id, p0 = p3, "
                 f"p1 = p2, p2 = p1, p3 = p0, labels_mask = {_SWAP_BITS.format(m='labels_mask')}, "
                 f"lefts_mask = {_SWAP_BITS.format(m='lefts_mask')} WHERE item_id IN ({_AFFECTED})")
    conn.execute("UPDATE agree_items SET x_id = y_id, y_id = x_id, h0 = h1, h1 = h0, j0 = j1, j1 = j0 "
                 f"WHERE id IN ({_AFFECTED})")
    conn.execute("UPDATE agree_position SET x_id = y_id, y_id = x_id, c0 = c3, c1 = c2, c2 = c1, c3 = c0 "
                 "WHERE (x_id, y_id) IN (SELECT x_id, y_id FROM temp.tally_flip)")
    tallies._pairs(+1)
    conn.execute("DELETE FROM tally_renamed")
    return True


def _kinds(tallies: Tallies) -> bool:
    conn = tallies.conn
    if conn.execute("SELECT NOT EXISTS (SELECT 1 FROM tally_kinds_changed)").fetchone()[0]:
        return False
    tallies._temp()
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS tally_kinds_then (id INTEGER PRIMARY KEY, kind TEXT NOT NULL)")
    conn.execute("DELETE FROM temp.tally_kinds_then")
    conn.execute("INSERT INTO temp.tally_kinds_then (id, kind) SELECT a.id, coalesce(c.old_kind, a.kind) "
                 "FROM annotators a LEFT JOIN tally_kinds_changed c ON c.annotator_id = a.id")
    conn.execute("DELETE FROM temp.tally_affected")
    conn.execute("INSERT OR IGNORE INTO temp.tally_affected (item_id) SELECT l.item_id FROM tally_kinds_changed c "
                 "JOIN agree_labels l ON l.annotator_id = c.annotator_id")
    tallies._majority(-1, "temp.tally_kinds_then", by_kind_only=True)
    tallies._recount_items()
    tallies._majority(+1, by_kind_only=True)
    conn.execute("DELETE FROM tally_kinds_changed")
    return True
