"""Serving one annotator: the next pair (resumed, gold interleaved, never twice), its side, the vote, undo.

The rules of what may be served and how sides are drawn are listed once in the package's docstring
(``queue/__init__.py``); building what is served is :mod:`sbs_tui.core.queue.build`.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from typing import Any

from sbs_tui.core.store import Store


RESCAN_EVERY = 50  # see AnnotatorQueue._next_ordinary_pair


def side_for(seed: int, annotator: str, pair_id: int) -> str:
    """The side shown on the left: a seeded, reproducible coin per (annotator, pair)."""
    digest = hashlib.sha256(f"{seed}\x1f{annotator}\x1f{pair_id}".encode()).digest()
    return "model_a" if digest[0] & 1 == 0 else "model_b"


@dataclass(slots=True)
class Pair:
    """One pair as the judging screen needs it. ``left``/``right`` are what the annotator sees."""

    pair_id: int
    prompt_id: str
    prompt: str
    model_a: str
    model_b: str
    output_a: str
    output_b: str
    shown_left: str
    is_gold: bool = False
    gold_winner: str | None = None
    category: str | None = None

    @property
    def left(self) -> str:
        return self.output_a if self.shown_left == "model_a" else self.output_b

    @property
    def right(self) -> str:
        return self.output_b if self.shown_left == "model_a" else self.output_a

    @property
    def left_model(self) -> str:
        return self.model_a if self.shown_left == "model_a" else self.model_b

    @property
    def right_model(self) -> str:
        return self.model_b if self.shown_left == "model_a" else self.model_a

    def winner_for(self, choice: str) -> str:
        """Map what the annotator pressed ('left', 'right', 'tie', 'both_bad') to the vote's winner."""
        if choice == "left":
            return self.shown_left
        if choice == "right":
            return "model_b" if self.shown_left == "model_a" else "model_a"
        if choice in ("tie", "both_bad"):
            return choice
        raise ValueError(f"unknown choice {choice!r}")


def remaining(store: Store, annotator_id: int, *, min_gate_rank: int, cap: int | None,
              held: int | None = None, done: int | None = None) -> int:
    """Pairs still to do for one annotator — one rule for the annotator's header and the lead's Queue tab: the
    open pairs never claimed by them plus the ones they claimed and have not answered (the pair on screen, and any
    an undo left behind it), at most ``cap`` less the votes they cast in the queue."""
    if held is None:
        held = store.queue.count_held(annotator_id)
    n = store.queue.count_available(annotator_id, min_gate_rank=min_gate_rank) + held
    if cap is not None:
        if done is None:
            done = store.queue.done_count(annotator_id)
        n = min(n, max(0, int(cap) - done))
    return n


class AnnotatorQueue:
    """One annotator's view of the queue. Use on the thread that opened ``store``."""

    def __init__(self, store: Store, annotator: str, *, gating_required: bool = True,
                 cap: int | None = None, gold_rate: float | None = None, seed: int | None = None):
        self.store = store
        self.annotator = annotator
        # A first-time annotator is created on first use, not here: creating is a write, and an app starting
        # while someone else holds the write lock must show its "busy" screen and retry, not fail to start.
        self._annotator_id = store.annotator_id(annotator, create=False)
        config = store.queue.config()
        self.seed = int(config.get("seed", 0) if seed is None else seed)
        self.gold_rate = float(config.get("gold_rate", 0.0) if gold_rate is None else gold_rate)
        stored_cap = store.queue.cap(self._annotator_id) if self._annotator_id is not None else None
        self.cap = cap if cap is not None else stored_cap if stored_cap is not None else config.get("default_cap")
        self.min_gate_rank = 2 if gating_required else 1
        self._cursor: float | None = None
        self._since_rescan = RESCAN_EVERY

    @property
    def annotator_id(self) -> int:
        """This annotator's id, creating them on first use (a write: it may raise "database is locked")."""
        if self._annotator_id is None:
            annotator_id = self.store.annotator_id(self.annotator)
            assert annotator_id is not None  # create=True (the default) always returns an id
            self._annotator_id = annotator_id
        return self._annotator_id

    def progress(self) -> dict[str, int]:
        return self.store.queue.progress(self.annotator_id)

    def available(self) -> int:
        """Pairs this annotator could still be given besides the one on screen: :func:`remaining` less the pair
        on screen (the header adds it back, so it shows :func:`remaining` — the lead's Queue tab's number)."""
        held = self.store.queue.count_held(self.annotator_id)
        total = remaining(self.store, self.annotator_id, min_gate_rank=self.min_gate_rank, cap=self.cap,
                          held=held)
        return max(0, total - min(held, 1))

    def next_pair(self) -> Pair | None:
        """The pair to show now: an unanswered one first (resume, undo), else a fresh assignment."""
        current = self.store.queue.current_assignment(self.annotator_id)
        if current is not None:
            return self._load(current.pair_id, current.shown_left)
        progress = None
        if self.gold_rate > 0:
            progress = self.progress()
        if self.cap is not None:
            done = progress["done"] if progress else self.store.queue.done_count(self.annotator_id)
            if done >= self.cap:
                return None
        # Choosing and claiming in one write transaction: two annotators never both take a pair's last slot.
        with self.store.transaction():
            pair_id = None
            if progress is not None and self._gold_due(progress):
                found = self.store.queue.next_open_pair(self.annotator_id, gold=True, min_gate_rank=self.min_gate_rank)
                pair_id = found.pair_id if found else None
            if pair_id is None:
                pair_id = self._next_ordinary_pair()
            if pair_id is None:
                return None
            side = side_for(self.seed, self.annotator, pair_id)
            self.store.queue.assign(self.annotator_id, pair_id, side)
        return self._load(pair_id, side)

    def _next_ordinary_pair(self) -> int | None:
        """Walk the open pairs from the priority last served down, so the pairs this annotator already judged
        (still open for others while overlap > 1) are not re-scanned on every keypress — that scan grows with
        every vote. Every RESCAN_EVERY claims, and whenever the walk runs dry, start again from the top, so that
        pairs freed by skips, passed by the gates or re-prioritised come back into reach."""
        below = self._cursor if self._since_rescan < RESCAN_EVERY else None
        found = self.store.queue.next_open_pair(self.annotator_id, gold=False, min_gate_rank=self.min_gate_rank,
                                          below=below)
        if found is None and below is not None:
            below = None
            found = self.store.queue.next_open_pair(self.annotator_id, gold=False, min_gate_rank=self.min_gate_rank)
        if found is None:
            return None
        self._since_rescan = 1 if below is None else self._since_rescan + 1
        self._cursor = found.priority
        return found.pair_id

    def _gold_due(self, progress: dict[str, int]) -> bool:
        """Gold pairs spread evenly: the next one is due once gold would fall below ``gold_rate`` of the done."""
        if self.gold_rate <= 0:
            return False
        return progress["gold_done"] < self.gold_rate * progress["done"]

    def _load(self, pair_id: int, shown_left: str) -> Pair:
        row = self.store.queue.load_pair(pair_id)
        return Pair(shown_left=shown_left, is_gold=bool(row.pop("is_gold")), **row)

    def vote(self, pair: Pair, choice: str, *, ts: str, rationale: str | None = None,
             criteria: dict[str, Any] | None = None, flagged: bool = False, flag_reason: str | None = None,
             uid: str | None = None) -> str:
        """Commit the vote (returns its uid). When this returns the vote is durable in SQLite."""
        from sbs_tui.core.records import VoteRecord

        vote = VoteRecord(
            prompt_id=pair.prompt_id, prompt=None, model_a=pair.model_a, model_b=pair.model_b,
            winner=pair.winner_for(choice), annotator=self.annotator, shown_left=pair.shown_left, ts=ts,
            rationale=rationale or None, criteria=criteria or None, flagged=flagged, flag_reason=flag_reason,
            pair_id=pair.pair_id, uid=uid or new_vote_uid(),
            meta={"gold_winner": pair.gold_winner} if pair.is_gold else {},
        )
        self.store.queue.record_vote(vote, self.annotator_id)
        return vote.uid

    def skip(self, pair: Pair, *, ts: str | None = None) -> None:
        self.store.queue.skip(self.annotator_id, pair.pair_id, ts)

    def flag(self, pair: Pair, reason: str | None) -> None:
        self.store.queue.flag(self.annotator_id, pair.pair_id, reason)

    def undo(self) -> Pair | None:
        """Delete the last vote and return its pair, to be judged again (same side on the left)."""
        result = self.store.queue.undo_last_vote(self.annotator_id)
        return None if result is None else self._load(result.pair_id, result.shown_left)

    def withdraw(self) -> int | None:
        """Delete the last vote *without* judging its pair again (its model names were shown); returns the pair
        id, or None when there was nothing to withdraw. The pair's slot goes back to the other annotators."""
        return self.store.queue.withdraw_last_vote(self.annotator_id)


def new_vote_uid() -> str:
    """A fresh uid for a vote cast in the app (random: two votes on the same pair are two votes)."""
    import uuid

    return f"v_{uuid.uuid4().hex}"
