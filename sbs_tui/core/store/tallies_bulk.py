"""Counting a large backlog into the agreement tallies with numpy, a range of prompts a transaction (issue 22): the
first ``sbs agreement`` after importing a million votes.

Why: the catch-up (:mod:`sbs_tui.core.store.tallies`) counts a backlog by SQL statements per range of about
``CHUNK`` votes — load the votes into a temporary table, group them per (item, annotator), take the affected items'
shares off every table, add them back — ≈ 18–23 µs of CPU a vote on the 2-core machine, 22–24 CPU-s for 1M
votes, 220 for 10M. The same work as one set of ``INSERT … SELECT … GROUP BY`` statements over every vote was no
cheaper (≈ 21 µs a vote: SQLite sorts every row for each GROUP BY, and the pair and majority tables self-join the
labels). Here each range's votes are read once (SQLite's GROUP BY sorts are replaced by numpy's: a sort and
``reduceat``) and the rows written with ``executemany``: 13–26 instead of 33–34 CPU-s for 1M votes on the loaded
machine (docs/benchmarks.md); what remains is mostly SQLite reading the scattered votes and storing the rows.

**When.** Only for a range of a pass **from zero** (watermark 0: after a global change, a mass change, or a first
read): then none of the range's items has labels yet, so every table gets plain additions — no shares to take off.
The catch-up starts a pass from zero itself (:func:`recount_from_zero`) when the backlog is so large against what
is counted that recounting everything this way costs less than counting the backlog the incremental way.

**Same transactions, same state.** Each range is one transaction of the catch-up's prompt-range pass (the
``agreement_target`` / ``agreement_cursor`` it already keeps, and the triggers read): the range's votes are read
inside it, so an annotator's vote, undo or flag lands before or after the range, never in between. The ranges
are sized by time and followed by a pause (:class:`Pace`, on the SQL path's passes too), so a waiting vote gets
the lock between two ranges instead of losing it to the next one. The hourly timeline gets the range's votes,
flagged ones too, as the SQL path's statement gives it. The tallies equal the SQL path's table for table
(``tests/test_tallies_bulk.py``), and the reports the raw votes' digit for digit.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import numpy as np

# A transaction of a pass counted here lasts about ``TXN_S`` (its votes scaled by how long the previous one took),
# from one to ``CHUNKS`` of the SQL path's chunks (``tallies.CHUNK`` votes each); the first is one chunk.
CHUNKS = 8
TXN_S = 0.1
# After each transaction of a pass, a pause of up to ``GAP_S``: a vote waiting for the write lock retries every
# 1–25 ms during its first 0.13 s (SQLite's busy handler), so a pause that long lets it in before the next range
# takes the lock. Without it the catch-up took the lock again at once and a waiting vote lost the race for seconds
# (measured at 1M votes, load 8: 2.8 s on the SQL path, 4.6 s here).
GAP_S = 0.03
# Backlogs below this many votes take the SQL path (numpy's fixed costs a transaction are not worth it).
FLOOR = 20_000
# A backlog larger than this share of every vote is counted by recounting everything from zero here, not by adding
# it to the tallies by SQL: the SQL path took 1.3–2.6× the CPU a vote of this one (1M votes from zero, 33–34 vs
# 13–26 CPU-s, same runs, load 9; docs/benchmarks.md), so recounting all is the cheaper once the backlog is about
# half of every vote. Adding to existing tallies by SQL (shares taken off and put back) was not measured apart.
SHARE = 0.5
_NONE = 1 << 62  # "no vote" in the minima (SQL's NULL)
# The votes of a prompt range: first their hourly timeline's key (flagged votes too), then id, prompt, the two
# models, annotator, outcome (0 a won, 1 b won, 2 tie) and the side shown left (0 unknown, 1 model a, 2 model b).
_VOTES = """
SELECT v.ts IS NOT NULL, coalesce(substr(v.ts, 1, 13), ''), v.annotator_id, v.model_a_id, v.model_b_id, v.score_b,
       v.flagged, v.id, p.rowid, CASE WHEN v.score_b = 0.5 THEN 2 WHEN v.score_b > 0.5 THEN 1 ELSE 0 END,
       CASE v.shown_left WHEN 'model_a' THEN 1 WHEN 'model_b' THEN 2 ELSE 0 END
FROM prompts p JOIN votes v ON v.prompt_id = p.id
WHERE p.rowid > ? AND p.rowid <= ? AND +v.id <= ?
"""


class Tallies(Protocol):
    """What :class:`sbs_tui.core.store.tallies.Tallies` lends: its connection."""

    @property
    def conn(self) -> sqlite3.Connection: ...


class Pace:
    """The pacing of one catch-up's pass: how many votes the next range gets, and the pause after each range."""

    __slots__ = ("_began", "_votes", "_next")

    def __init__(self) -> None:
        self._began, self._votes, self._next = 0.0, -1, 0

    def begin(self) -> None:
        """A transaction of the catch-up began (it holds the write lock from here)."""
        self._began, self._votes = time.perf_counter(), -1

    def ranged(self, votes: int) -> None:
        """The transaction counted a range of a pass: ``votes`` votes."""
        self._votes = votes

    def votes(self, least: int, most: int) -> int:
        """Votes for the next range counted here: scaled by how far the last one was from ``TXN_S``, between
        ``least`` (where it starts: smaller transactions each rewrite the same index and timeline pages, so they
        cost more a vote) and ``most``."""
        return min(most, max(least, self._next))

    def gap(self) -> None:
        """After a range's transaction (committed): size the next one, pause for waiting writers."""
        if self._votes < 0:
            return
        took = time.perf_counter() - self._began
        self._next = int(self._votes * min(2.0, max(0.5, TXN_S / max(took, 1e-6))))
        self._votes = -1
        time.sleep(min(GAP_S, took))


def applies(low: int, target: int) -> bool:
    """Whether a pass from ``low`` (the watermark) to ``target`` is counted here: from zero, and large."""
    return low == 0 and target >= FLOOR


def recount_from_zero(low: int, high: int) -> bool:
    """Whether a backlog of the votes in (``low``, ``high``] is cheaper counted by recounting every vote here than
    added by SQL (ids stand for counts: rowids grow one by one)."""
    return low > 0 and high - low >= FLOOR and high - low > SHARE * high


def count_range(tallies: Tallies, target: int, first: int, last: int) -> int:
    """Count the votes up to ``target`` of the prompts with rowid in (``first``, ``last``] — none of whose items
    has labels yet — into every table (inside the caller's transaction); returns how many unflagged votes."""
    import numpy as np

    conn = tallies.conn
    rows = conn.execute(_VOTES, (first, last, target)).fetchall()
    if not rows:
        return 0
    conn.executemany(
        "INSERT INTO vote_timeline (timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged, n) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (timed, hour, annotator_id, model_a_id, model_b_id, score_b, "
        "flagged) DO UPDATE SET n = n + excluded.n", ((*key, n) for key, n in Counter(r[:7] for r in rows).items()))
    columns = list(zip(*rows))
    votes = np.array([columns[i] for i in (7, 8, 3, 4, 2, 9, 10)], dtype=np.int64).T[np.array(columns[6]) == 0]
    if not len(votes):
        return 0
    rank = _ranks(conn)
    kinds = dict(conn.execute("SELECT id, kind FROM annotators"))
    labels = _labels(votes, rank)
    human = np.array([kinds[a] == "human" for a in labels["ann"].tolist()], dtype=bool)
    items = _items(labels, human)
    _store_items(conn, items, labels, first, last)
    _store_shares(conn, labels, items, human)
    return len(votes)


def _ranks(conn: sqlite3.Connection) -> np.ndarray:
    """Each model id's place in name order (the items order their two models by name, as SQL's ``<`` does)."""
    import numpy as np

    ids = [i for (i,) in conn.execute("SELECT id FROM models ORDER BY name")]
    rank = np.zeros(max(ids) + 1, dtype=np.int64)
    rank[ids] = np.arange(len(ids))
    return rank


def _labels(votes: np.ndarray, rank: np.ndarray) -> dict[str, np.ndarray]:
    """Per (item, annotator), in item then annotator order: what ``agree_labels`` keeps (the first label and its
    vote, how many votes, the labels and sides seen, the position cells and their first vote)."""
    import numpy as np

    vid, prompt, a, b, ann, outcome, shown = votes.T
    swap = rank[b] < rank[a]  # model b comes first by name: it is the item's x
    x, y = np.where(swap, b, a), np.where(swap, a, b)
    label = np.where(outcome == 2, 2, np.where((outcome == 1) == swap, 0, 1))
    x_left = np.where(shown == 2, swap, ~swap)
    known = shown != 0
    order = np.lexsort((vid, ann, y, x, prompt))
    vid, prompt, x, y, ann, label, x_left, known = (c[order] for c in (vid, prompt, x, y, ann, label, x_left, known))
    key = np.stack((prompt, x, y, ann))
    starts = np.flatnonzero(np.concatenate(([True], (key[:, 1:] != key[:, :-1]).any(axis=0))))
    decisive = known & (label != 2)
    cells = [known & x_left & (label == 0), known & x_left & (label == 1), known & ~x_left & (label == 0),
             known & ~x_left & (label == 1)]
    p_first = np.minimum.reduceat(np.where(decisive, vid, _NONE), starts)
    return {
        "prompt": prompt[starts], "x": x[starts], "y": y[starts], "ann": ann[starts], "label": label[starts],
        "first": vid[starts], "n": np.diff(np.append(starts, len(vid))),
        "labels_mask": np.bitwise_or.reduceat(np.left_shift(1, label), starts),
        "lefts_mask": np.bitwise_or.reduceat(np.where(x_left, 1, 2), starts),
        **{f"p{j}": np.add.reduceat(cell.astype(np.int64), starts) for j, cell in enumerate(cells)},
        "p_first": p_first,
    }


def _items(labels: dict[str, np.ndarray], human: np.ndarray) -> dict[str, np.ndarray]:
    """Per item: where its labels start, its label counts by kind and each kind's first vote."""
    import numpy as np

    key = np.stack((labels["prompt"], labels["x"], labels["y"]))
    starts = np.flatnonzero(np.concatenate(([True], (key[:, 1:] != key[:, :-1]).any(axis=0))))
    out: dict[str, np.ndarray] = {"starts": starts, "of": np.cumsum(np.isin(np.arange(len(human)), starts)) - 1}
    for kind, mine in (("h", human), ("j", ~human)):
        for j in range(3):
            out[f"{kind}{j}"] = np.add.reduceat((mine & (labels["label"] == j)).astype(np.int64), starts)
        out[f"{kind}_first"] = np.minimum.reduceat(np.where(mine, labels["first"], _NONE), starts)
    return out


def _null(values: np.ndarray) -> list[Any]:
    return [None if v == _NONE else v for v in values.tolist()]


def _store_items(conn: sqlite3.Connection, items: dict[str, np.ndarray], labels: dict[str, np.ndarray],
                 first: int, last: int) -> None:
    """Insert the range's items (new ids after the last one) and their labels."""
    import numpy as np

    base = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM agree_items").fetchone()[0]
    prompt_ids = dict(conn.execute("SELECT rowid, id FROM prompts WHERE rowid > ? AND rowid <= ?", (first, last)))
    starts = items["starts"]
    ids = np.arange(base, base + len(starts))
    conn.executemany(
        "INSERT INTO agree_items (id, prompt_id, x_id, y_id, h0, h1, h2, j0, j1, j2, h_first, j_first) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        zip(ids.tolist(), [prompt_ids[p] for p in labels["prompt"][starts].tolist()],
            labels["x"][starts].tolist(), labels["y"][starts].tolist(),
            *(items[c].tolist() for c in ("h0", "h1", "h2", "j0", "j1", "j2")),
            _null(items["h_first"]), _null(items["j_first"])))
    columns = ("ann", "label", "first", "n", "labels_mask", "lefts_mask", "x", "y", "p0", "p1", "p2", "p3")
    conn.executemany(
        "INSERT INTO agree_labels (item_id, annotator_id, label, first_id, n, labels_mask, lefts_mask, x_id, y_id, "
        "p0, p1, p2, p3, p_first) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        zip(ids[items["of"]].tolist(), *(labels[c].tolist() for c in columns), _null(labels["p_first"])))


def _store_shares(conn: sqlite3.Connection, labels: dict[str, np.ndarray], items: dict[str, np.ndarray],
                  human: np.ndarray) -> None:
    """Add what the range's items give the pair confusions, the majority counts, the annotators and the position
    tables (their rows may exist: other ranges' items)."""
    import numpy as np

    ann, label, of = labels["ann"], labels["label"], items["of"]
    # pairs: the labels of one item are in annotator order, so each later one pairs with each earlier one
    pairs = []
    for d in range(1, int(np.diff(np.append(items["starts"], len(of))).max())):
        same = np.flatnonzero(of[d:] == of[:-d])
        pairs.append(np.stack((ann[same], ann[same + d], label[same], label[same + d])))
    if pairs:
        keys, counts = _unique(np.concatenate(pairs, axis=1))
        conn.executemany("INSERT INTO agree_pairs (a_id, b_id, la, lb, n) VALUES (?, ?, ?, ?, ?) "
                         "ON CONFLICT (a_id, b_id, la, lb) DO UPDATE SET n = n + excluded.n",
                         zip(*keys.tolist(), counts.tolist()))
    for scope, mine, kinds in (("human", human, ("h",)), ("judge", ~human, ("j",)),
                               ("all", np.ones_like(human), ("h", "j"))):
        others = np.stack([sum(items[f"{k}{j}"][of] for k in kinds) - (label == j) for j in range(3)])
        top = others.max(axis=0)
        clear = (top > 0) & ((others == top).sum(axis=0) == 1)
        agree = clear & (others.argmax(axis=0) == label)
        who, at = np.unique(ann[mine], return_inverse=True)
        conn.executemany(
            "INSERT INTO agree_majority (scope, annotator_id, agree, seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (scope, annotator_id) DO UPDATE SET agree = agree + excluded.agree, "
            "seen = seen + excluded.seen",
            ((scope, w, int(g), int(s)) for w, g, s in zip(who.tolist(), np.bincount(at, agree[mine]).tolist(),
                                                          np.bincount(at, clear[mine]).tolist())))
    twice = (labels["n"] >= 2) & (labels["lefts_mask"] == 3)
    consistent = twice & np.isin(labels["labels_mask"], (1, 2, 4))
    who, at = np.unique(ann, return_inverse=True)
    conn.executemany(
        "INSERT INTO agree_annotators (annotator_id, votes, both_orders, consistent) VALUES (?, ?, ?, ?) "
        "ON CONFLICT (annotator_id) DO UPDATE SET votes = votes + excluded.votes, "
        "both_orders = both_orders + excluded.both_orders, consistent = consistent + excluded.consistent",
        ((w, int(v), int(t), int(c)) for w, v, t, c in zip(
            who.tolist(), *(np.bincount(at, col).tolist() for col in (labels["n"], twice, consistent)))))
    _store_position(conn, labels)


def _store_position(conn: sqlite3.Connection, labels: dict[str, np.ndarray]) -> None:
    """Add the range's position cells per (annotator, model pair), keeping each table's first vote the least."""
    import numpy as np

    has = labels["p_first"] != _NONE
    if not has.any():
        return
    keys, at = _unique(np.stack((labels["ann"][has], labels["x"][has], labels["y"][has])), inverse=True)
    cells = [np.bincount(at, labels[f"p{j}"][has]).astype(np.int64).tolist() for j in range(4)]
    firsts = np.full(keys.shape[1], _NONE, dtype=np.int64)
    np.minimum.at(firsts, at, labels["p_first"][has])
    conn.executemany(
        "INSERT INTO agree_position (annotator_id, x_id, y_id, c0, c1, c2, c3, first_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (annotator_id, x_id, y_id) DO UPDATE SET "
        "c0 = c0 + excluded.c0, c1 = c1 + excluded.c1, c2 = c2 + excluded.c2, c3 = c3 + excluded.c3, "
        "first_id = min(first_id, excluded.first_id)", zip(*keys.tolist(), *cells, firsts.tolist()))


def _unique(columns: np.ndarray, *, inverse: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """The distinct columns of a 2-D array of non-negative integers (in order), with how many of each or, with
    ``inverse``, which one each column is: one integer key a column (``np.unique(axis=1)`` sorts row views, 10×
    slower)."""
    import numpy as np

    sizes = columns.max(axis=1) + 1
    if float(np.prod(sizes.astype(float))) >= 2**62:  # ids too large to pack into one integer
        distinct, first, at, counts = np.unique(columns, axis=1, return_index=True, return_inverse=True,
                                                return_counts=True)
        return distinct, (at.ravel() if inverse else counts)
    key = np.zeros(columns.shape[1], dtype=np.int64)
    for row, size in zip(columns, sizes.tolist()):
        key = key * size + row
    distinct, first, at, counts = np.unique(key, return_index=True, return_inverse=True, return_counts=True)
    return columns[:, first], (at if inverse else counts)
