"""Re-deriving the agreement tallies of the items whose counted votes changed (issue 22): an undo, a flag or a
``--replace`` costs the items it touches, not the database.

Why: the tallies (:mod:`sbs_tui.core.store.tallies`) used to be recounted from zero after any change to a counted
vote — 25–40 s at 1M votes, and annotators undo all the time. Every tally is a sum over items (labels, pair
confusions, majority counts, order consistency, votes per annotator, position cells) or a minimum over them (a
position table's first vote), so one item can be taken out and put back: the triggers of migration
``0019_tally_dirty_items`` record the changed vote's item (prompt, model pair by id) in ``tally_dirty`` (and
move its hourly timeline count themselves); :func:`recount` then, for a batch of those items, takes away what
they give every table (their stored ``agree_labels``), deletes their labels, counts their votes again from the
votes' prompt index and adds them back — the same integer deltas a new vote's catch-up uses, so the tallies stay
equal to a recount from zero. A position table's first vote is a minimum: it is looked up again, one index seek
per table the items touch (``idx_agree_labels_position``).

A mass change (a revoked annotator's votes deleted, say) would make item-by-item recounting slower than starting
over: past :func:`pending`'s threshold the caller recounts from zero instead.
"""

from __future__ import annotations

import sqlite3
from typing import Protocol


class Tallies(Protocol):
    """What :class:`sbs_tui.core.store.tallies.Tallies` lends the recount (named here: the two modules import one
    way): its connection and its steps for counting ``temp.tally_new``'s votes in."""

    @property
    def conn(self) -> sqlite3.Connection: ...

    def _temp(self) -> None: ...

    def _load(self, where: str, params: tuple[int, ...]) -> int: ...

    def _add(self) -> None: ...

    def _share(self, sign: int) -> None: ...

# Dirty items recounted one by one at most; beyond it and a quarter of the prompts, a recount from zero is cheaper
# (each dirty item reads every vote of its prompt).
FLOOR = 2_000
TOO_MANY = -1
# The votes of the items in ``temp.tally_redo`` (the prompt index finds them; ``+v.id`` keeps the planner on it).
_ITEM_VOTES = ("+v.id <= ? AND v.prompt_id IN (SELECT prompt_id FROM temp.tally_redo) AND EXISTS (SELECT 1 FROM "
               "temp.tally_redo r WHERE r.prompt_id = v.prompt_id AND r.m1 = min(v.model_a_id, v.model_b_id) AND "
               "r.m2 = max(v.model_a_id, v.model_b_id))")
_AFFECTED = """
INSERT INTO temp.tally_affected (item_id)
SELECT i.id FROM temp.tally_redo r JOIN models a ON a.id = r.m1 JOIN models b ON b.id = r.m2
JOIN agree_items i ON i.prompt_id = r.prompt_id AND i.x_id = CASE WHEN a.name < b.name THEN r.m1 ELSE r.m2 END
    AND i.y_id = CASE WHEN a.name < b.name THEN r.m2 ELSE r.m1 END
"""
_IN_AFFECTED = "item_id IN (SELECT item_id FROM temp.tally_affected)"
_KEYS_IN = "(annotator_id, x_id, y_id) IN (SELECT annotator_id, x_id, y_id FROM temp.tally_keys)"


def pending(conn: sqlite3.Connection) -> int:
    """How many items wait to be recounted (:data:`TOO_MANY`: so many that a recount from zero is cheaper)."""
    n = conn.execute("SELECT count(*) FROM (SELECT 1 FROM tally_dirty LIMIT ?)", (FLOOR + 1,)).fetchone()[0]
    if n <= FLOOR:
        return n
    prompts = conn.execute("SELECT coalesce(max(rowid), 0) FROM prompts").fetchone()[0]
    n = conn.execute("SELECT count(*) FROM tally_dirty").fetchone()[0]
    return TOO_MANY if n > prompts // 4 else n


def recount(tallies: Tallies, watermark: int, *, items: int) -> int:
    """Recount up to ``items`` dirty items from their votes at or below ``watermark`` (inside the caller's
    transaction); returns how many votes were read."""
    conn = tallies.conn
    tallies._temp()
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS tally_redo (prompt_id TEXT, m1 INT, m2 INT, "
                 "PRIMARY KEY (prompt_id, m1, m2))")
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS tally_keys (annotator_id INT, x_id INT, y_id INT, "
                 "PRIMARY KEY (annotator_id, x_id, y_id))")
    for table in ("tally_affected", "tally_redo", "tally_keys"):
        conn.execute(f"DELETE FROM temp.{table}")
    conn.execute("INSERT INTO temp.tally_redo SELECT prompt_id, m1, m2 FROM tally_dirty LIMIT ?", (items,))
    conn.execute("DELETE FROM tally_dirty WHERE (prompt_id, m1, m2) IN (SELECT prompt_id, m1, m2 FROM temp.tally_redo)")
    conn.execute(_AFFECTED)
    _take_out(tallies)
    n = tallies._load(_ITEM_VOTES, (watermark,))
    if n:
        tallies._add()
    conn.execute("INSERT OR IGNORE INTO temp.tally_keys SELECT DISTINCT annotator_id, x_id, y_id FROM temp.tally_new "
                 "WHERE known_left AND label != 2")
    conn.execute(f"DELETE FROM agree_items WHERE id IN (SELECT item_id FROM temp.tally_affected) "
                 "AND NOT EXISTS (SELECT 1 FROM agree_labels l WHERE l.item_id = agree_items.id)")
    conn.execute(f"DELETE FROM agree_position WHERE {_KEYS_IN} AND c0 + c1 + c2 + c3 = 0")
    conn.execute(
        "UPDATE agree_position SET first_id = (SELECT min(l.p_first) FROM agree_labels l WHERE "
        "l.annotator_id = agree_position.annotator_id AND l.x_id = agree_position.x_id "
        f"AND l.y_id = agree_position.y_id) WHERE {_KEYS_IN}")
    return n


def _take_out(tallies: Tallies) -> None:
    """Take what the affected items give every table away, and their labels with it."""
    conn = tallies.conn
    tallies._share(-1)
    conn.execute(
        f"INSERT INTO agree_annotators (annotator_id, votes) SELECT annotator_id, -sum(n) FROM agree_labels "
        f"WHERE {_IN_AFFECTED} GROUP BY annotator_id "
        "ON CONFLICT (annotator_id) DO UPDATE SET votes = votes + excluded.votes")
    conn.execute("INSERT INTO temp.tally_keys SELECT DISTINCT annotator_id, x_id, y_id FROM agree_labels "
                 f"WHERE {_IN_AFFECTED} AND p_first IS NOT NULL")
    conn.execute(
        "INSERT INTO agree_position (annotator_id, x_id, y_id, c0, c1, c2, c3, first_id) "
        "SELECT annotator_id, x_id, y_id, -sum(p0), -sum(p1), -sum(p2), -sum(p3), 0 FROM agree_labels "
        f"WHERE {_IN_AFFECTED} AND p_first IS NOT NULL GROUP BY annotator_id, x_id, y_id "
        "ON CONFLICT (annotator_id, x_id, y_id) DO UPDATE SET c0 = c0 + excluded.c0, c1 = c1 + excluded.c1, "
        "c2 = c2 + excluded.c2, c3 = c3 + excluded.c3")
    conn.execute(f"DELETE FROM agree_labels WHERE {_IN_AFFECTED}")
