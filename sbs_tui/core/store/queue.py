"""The annotation queue: pairs, assignments, caps and the queue's settings (migration ``0002_queue``).

The annotator app calls these on its UI thread, once per keypress, so each is a handful of indexed statements
(``bench/bench_tui.py`` measures them).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sbs_tui.core.records import VoteRecord
from sbs_tui.core.store.arena import ARENA_SOURCE
from sbs_tui.core.store.base import Queries
from sbs_tui.core.store.errors import AccessRevokedError, AlreadyJudgedError, StoreError
from sbs_tui.core.store.imports import committed

if TYPE_CHECKING:
    from sbs_tui.core.store.connection import Connection
    from sbs_tui.core.store.votes import Votes

# Whether a pair is still served: the one rule, also applied where a deleted vote frees a slot (votes.py).
PAIR_OPEN = "CASE WHEN held_back IS NULL AND (is_gold = 1 OR taken < overlap) THEN 1 ELSE 0 END"


@dataclass(frozen=True, slots=True)
class PairKey:
    """A stored pair: its prompt, models and generations (canonical order, ``gen_a_id < gen_b_id``), votes so far."""

    pair_id: int
    prompt_id: str
    model_a_id: int
    model_b_id: int
    gen_a_id: int
    gen_b_id: int
    votes: int


@dataclass(frozen=True, slots=True)
class HeldBack:
    """A pair kept from blind judging and why (e.g. an answer names its model)."""

    pair_id: int
    reason: str


@dataclass(frozen=True, slots=True)
class Shown:
    """A pair as an annotator sees it: which side of the canonical pair is on the left."""

    pair_id: int
    shown_left: str


@dataclass(frozen=True, slots=True)
class OpenPair:
    """The next pair to serve and its priority (the walk continues below it)."""

    pair_id: int
    priority: float


class Queue(Queries):
    """``store.queue``."""

    __slots__ = ("_votes",)

    def __init__(self, cx: Connection, votes: Votes):
        super().__init__(cx)
        self._votes = votes  # an app vote is stored like an imported one

    def generations(self) -> Iterator[tuple[str, int, int, str]]:
        """(prompt_id, generation_id, model_id, output) of every generation not blocked, grouped by prompt. The
        live arena's answers are left out on purpose (docs/arena.md): their prompts are one annotator's own, already
        judged in the battle, and must not be shown to the rest of the team."""
        return iter(self.conn.execute(
            "SELECT prompt_id, id, model_id, output FROM generations g WHERE gate_status != 'blocked' "
            f"AND {committed('g')} AND coalesce(g.source, '') NOT LIKE '{ARENA_SOURCE} %' "
            "ORDER BY prompt_id, model_id"
        ))

    def insert_pairs(self, rows: Iterable[tuple[str, int, int, int, str | None, str | None, float, int]]) -> int:
        """Add pairs (prompt_id, gen_a_id, gen_b_id, is_gold, gold_winner, held_back, priority, overlap); pairs
        already stored are left alone. Returns how many were new. Call inside ``store.transaction()``."""
        first_new = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM pairs").fetchone()[0]
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT OR IGNORE INTO pairs (prompt_id, gen_a_id, gen_b_id, is_gold, gold_winner, held_back, "
            "priority, overlap) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        inserted = self.conn.total_changes - before
        # New pairs only: the trigger keeps existing pairs' gate state current.
        self.conn.execute(
            "UPDATE pairs SET gate_rank = (SELECT CASE WHEN ga.gate_status = 'blocked' OR gb.gate_status = "
            "'blocked' THEN 0 WHEN ga.gate_status = 'passed' AND gb.gate_status = 'passed' THEN 2 ELSE 1 END "
            "FROM generations ga, generations gb WHERE ga.id = pairs.gen_a_id AND gb.id = pairs.gen_b_id) "
            "WHERE id >= ?", (first_new,))
        self.conn.execute(f"UPDATE pairs SET open = {PAIR_OPEN} WHERE id >= ?", (first_new,))
        return inserted

    def generation_pairs(self) -> dict[tuple[int, int], tuple[str, int, int]]:
        """(gen_a_id, gen_b_id) → (prompt_id, gen_a_id, gen_b_id) of every stored pair (rebuilds skip them)."""
        return {(a, b): (p, a, b) for p, a, b in self.conn.execute("SELECT prompt_id, gen_a_id, gen_b_id FROM pairs")}

    def set_overlap(self, overlap: int) -> None:
        self.conn.execute(f"UPDATE pairs SET overlap = ?, open = {PAIR_OPEN.replace('overlap', '?')} "
                          "WHERE is_gold = 0 AND overlap != ?", (overlap, overlap, overlap))

    def mark_gold_pairs(self, rows: Iterable[tuple[str, int]]) -> None:
        """Turn pairs into gold (attention-check) pairs: rows of (gold_winner, pair_id), canonical orientation."""
        self.conn.executemany("UPDATE pairs SET is_gold = 1, gold_winner = ? WHERE id = ?", rows)
        self.conn.execute(f"UPDATE pairs SET open = {PAIR_OPEN}")

    def pairs(self) -> list[PairKey]:
        """Every pair with its models, generations and vote count."""
        return [PairKey(*r) for r in self.conn.execute(
            "SELECT p.id, p.prompt_id, ga.model_id, gb.model_id, p.gen_a_id, p.gen_b_id, p.votes FROM pairs p "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id"
        )]

    def set_priorities(self, rows: Iterable[tuple[float, int]]) -> None:
        """Rows of (priority, pair_id); higher is served first."""
        self.conn.executemany("UPDATE pairs SET priority = ? WHERE id = ?", rows)

    def set_config(self, config: dict[str, Any]) -> None:
        self.conn.executemany(
            "INSERT INTO queue_config (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
            "excluded.value",
            [(k, json.dumps(v)) for k, v in config.items()],
        )

    def config(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM queue_config")}

    def set_cap(self, annotator: str, max_votes: int | None) -> None:
        aid = self._cx.annotator_id(annotator)
        if max_votes is None:
            self.conn.execute("DELETE FROM annotator_caps WHERE annotator_id = ?", (aid,))
        else:
            self.conn.execute(
                "INSERT INTO annotator_caps (annotator_id, max_votes) VALUES (?, ?) ON CONFLICT(annotator_id) "
                "DO UPDATE SET max_votes = excluded.max_votes", (aid, max_votes))

    def cap(self, annotator_id: int) -> int | None:
        row = self.conn.execute("SELECT max_votes FROM annotator_caps WHERE annotator_id = ?",
                                (annotator_id,)).fetchone()
        return None if row is None else row[0]

    def summary(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(is_gold), 0), coalesce(sum(held_back IS NOT NULL), 0), "
            "coalesce(sum(gate_rank = 2), 0), coalesce(sum(gate_rank = 1), 0), coalesce(sum(gate_rank = 0), 0), "
            "coalesce(sum(open), 0), coalesce(sum(votes), 0) FROM pairs"
        ).fetchone()
        keys = ("pairs", "gold", "held_back", "gate_passed", "gate_pending", "gate_blocked", "open", "votes")
        return dict(zip(keys, row, strict=True))

    def held_back(self) -> list[HeldBack]:
        """Pairs held back from blind judging, with the reason (an identity leak), in id order."""
        return [HeldBack(*r) for r in self.conn.execute(
            "SELECT id, held_back FROM pairs WHERE held_back IS NOT NULL ORDER BY id")]

    def current_assignment(self, annotator_id: int) -> Shown | None:
        """The pair this annotator was shown and has not answered (resume)."""
        row = self.conn.execute(
            "SELECT pair_id, shown_left FROM assignments WHERE annotator_id = ? AND status = 'assigned' "
            "ORDER BY id LIMIT 1", (annotator_id,)).fetchone()
        return None if row is None else Shown(row[0], row[1])

    def next_open_pair(self, annotator_id: int, *, gold: bool, min_gate_rank: int,
                       below: float | None = None) -> OpenPair | None:
        """The highest-priority open pair this annotator has never been given (never the same pair twice).
        ``below`` starts the walk under a priority already passed (see AnnotatorQueue)."""
        best: OpenPair | None = None
        cursor = "" if below is None else " AND priority < ?"
        for rank in (2, 1) if min_gate_rank <= 1 else (2,):
            params: list[Any] = [int(gold), rank, annotator_id]
            if below is not None:
                params.append(below)
            row = self.conn.execute(
                "SELECT id, priority FROM pairs INDEXED BY idx_pairs_serve WHERE open = 1 AND is_gold = ? "
                "AND gate_rank = ? AND NOT EXISTS (SELECT 1 FROM assignments s WHERE s.annotator_id = ? "
                f"AND s.pair_id = pairs.id){cursor} ORDER BY priority DESC LIMIT 1",
                params).fetchone()
            if row is not None and (best is None or row[1] > best.priority):
                best = OpenPair(row[0], row[1])
        return best

    def count_available(self, annotator_id: int, *, min_gate_rank: int) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM pairs WHERE open = 1 AND is_gold = 0 AND gate_rank >= ? AND NOT EXISTS "
            "(SELECT 1 FROM assignments s WHERE s.annotator_id = ? AND s.pair_id = pairs.id)",
            (min_gate_rank, annotator_id)).fetchone()[0]

    def count_held(self, annotator_id: int) -> int:
        """Pairs claimed by this annotator and not answered: the one on screen, and any an undo left behind it."""
        return self.conn.execute("SELECT count(*) FROM assignments WHERE annotator_id = ? AND status = 'assigned'",
                                 (annotator_id,)).fetchone()[0]

    def assign(self, annotator_id: int, pair_id: int, shown_left: str) -> None:
        """Record that this annotator is shown this pair with this side on the left (before it is drawn)."""
        with self._cx.transaction():
            self.conn.execute(
                "INSERT INTO assignments (annotator_id, pair_id, shown_left) VALUES (?, ?, ?)",
                (annotator_id, pair_id, shown_left))
            self.conn.execute("UPDATE pairs SET taken = taken + 1 WHERE id = ?", (pair_id,))
            self.conn.execute(f"UPDATE pairs SET open = {PAIR_OPEN} WHERE id = ?", (pair_id,))

    def load_pair(self, pair_id: int) -> dict[str, Any]:
        """Everything the judging screen needs for one pair, model names included (the app keeps them hidden)."""
        row = self.conn.execute(
            "SELECT p.id, p.prompt_id, pr.text, ma.name, mb.name, ga.output, gb.output, p.is_gold, "
            "p.gold_winner, pr.category FROM pairs p JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id WHERE p.id = ?",
            (pair_id,)).fetchone()
        if row is None:
            raise StoreError(f"no pair {pair_id}")
        keys = ("pair_id", "prompt_id", "prompt", "model_a", "model_b", "output_a", "output_b", "is_gold",
                "gold_winner", "category")
        return dict(zip(keys, row, strict=True))

    def record_vote(self, vote: VoteRecord, annotator_id: int) -> None:
        """Store an app vote and close its assignment in one transaction (committed when this returns)."""
        with self._cx.transaction():
            # Checked inside the vote's own transaction: once `sbs annotators revoke` has committed, no session
            # that was already open can store another vote, whatever the team server has noticed yet.
            revoked = self.conn.execute(
                "SELECT 1 FROM annotator_tokens WHERE annotator_id = ? AND revoked_at IS NOT NULL",
                (annotator_id,)).fetchone()
            if revoked:
                raise AccessRevokedError(f"{vote.annotator}'s access was revoked (sbs annotators revoke)")
            # Only an open assignment takes a vote: the same annotator in a second window (or a stale screen)
            # must not judge one pair twice.
            cur = self.conn.execute(
                "UPDATE assignments SET status = 'done', vote_uid = ?, updated_at = ? "
                "WHERE annotator_id = ? AND pair_id = ? AND status = 'assigned'",
                (vote.uid, vote.ts, annotator_id, vote.pair_id))
            if cur.rowcount != 1:
                raise AlreadyJudgedError(f"pair {vote.pair_id} is not open for this annotator (judged or skipped)")
            counts = self._votes.insert([vote], source="annotate")
            if counts.inserted != 1:
                raise StoreError(f"vote {vote.uid} was already stored")
            self.conn.execute("UPDATE pairs SET votes = votes + 1 WHERE id = ?", (vote.pair_id,))

    def skip(self, annotator_id: int, pair_id: int, ts: str | None = None) -> None:
        """This annotator passes on the pair: it is never shown to them again and frees its slot for others."""
        with self._cx.transaction():
            cur = self.conn.execute(
                "UPDATE assignments SET status = 'skipped', updated_at = ? WHERE annotator_id = ? AND pair_id = ? "
                "AND status = 'assigned'", (ts, annotator_id, pair_id))
            if cur.rowcount:
                self.conn.execute("UPDATE pairs SET taken = max(taken - 1, 0) WHERE id = ?", (pair_id,))
                self.conn.execute(f"UPDATE pairs SET open = {PAIR_OPEN} WHERE id = ?", (pair_id,))

    def flag(self, annotator_id: int, pair_id: int, reason: str | None) -> None:
        self.conn.execute(
            "UPDATE assignments SET flagged = 1, flag_reason = ? WHERE annotator_id = ? AND pair_id = ?",
            (reason, annotator_id, pair_id))

    def undo_last_vote(self, annotator_id: int) -> Shown | None:
        """Delete this annotator's last app vote and reopen its pair for them; returns that pair as shown."""
        with self._cx.transaction():
            row = self.conn.execute(
                "SELECT id, uid, pair_id FROM votes WHERE annotator_id = ? AND pair_id IS NOT NULL "
                "ORDER BY id DESC LIMIT 1", (annotator_id,)).fetchone()
            if row is None:
                return None
            vote_id, uid, pair_id = row
            self.conn.execute("DELETE FROM votes WHERE id = ?", (vote_id,))
            self.conn.execute("UPDATE pairs SET votes = max(votes - 1, 0) WHERE id = ?", (pair_id,))
            self.conn.execute(
                "UPDATE assignments SET status = 'assigned', vote_uid = NULL, updated_at = NULL "
                "WHERE annotator_id = ? AND pair_id = ?", (annotator_id, pair_id))
            side = self.conn.execute("SELECT shown_left FROM assignments WHERE annotator_id = ? AND pair_id = ?",
                                     (annotator_id, pair_id)).fetchone()
        return Shown(pair_id, side[0] if side else "model_a")

    def withdraw_last_vote(self, annotator_id: int) -> int | None:
        """Delete this annotator's last app vote and close its pair *for them* (as a skip: never shown to them
        again, its slot freed for others). Used when the model names were revealed after the vote."""
        with self._cx.transaction():
            row = self.conn.execute(
                "SELECT id, pair_id FROM votes WHERE annotator_id = ? AND pair_id IS NOT NULL "
                "ORDER BY id DESC LIMIT 1", (annotator_id,)).fetchone()
            if row is None:
                return None
            vote_id, pair_id = row
            self.conn.execute("DELETE FROM votes WHERE id = ?", (vote_id,))
            self.conn.execute("UPDATE pairs SET votes = max(votes - 1, 0) WHERE id = ?", (pair_id,))
            cur = self.conn.execute(
                "UPDATE assignments SET status = 'skipped', vote_uid = NULL, updated_at = "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE annotator_id = ? AND pair_id = ?",
                (annotator_id, pair_id))
            if cur.rowcount:
                self.conn.execute("UPDATE pairs SET taken = max(taken - 1, 0) WHERE id = ?", (pair_id,))
                self.conn.execute(f"UPDATE pairs SET open = {PAIR_OPEN} WHERE id = ?", (pair_id,))
        return pair_id

    def done_count(self, annotator_id: int) -> int:
        """Votes this annotator has given through the queue (an index-only count)."""
        return self.conn.execute("SELECT count(*) FROM assignments WHERE annotator_id = ? AND status = 'done'",
                                 (annotator_id,)).fetchone()[0]

    def progress(self, annotator_id: int) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT coalesce(sum(s.status = 'done'), 0), coalesce(sum(s.status = 'skipped'), 0), "
            "coalesce(sum(s.status = 'done' AND p.is_gold = 1), 0) FROM assignments s "
            "JOIN pairs p ON p.id = s.pair_id WHERE s.annotator_id = ?", (annotator_id,)).fetchone()
        return {"done": row[0], "skipped": row[1], "gold_done": row[2]}
