"""``store.arena``: the arena's battle ledger — who started which battle when, and what its answers cost.

The rules (how many battles a minute, when the budget is spent) are :mod:`sbs_tui.core.generate.arena_ledger`'s; this module
only reads and writes the ``arena_battles`` table, so the rules run inside one ``store.transaction()`` (BEGIN
IMMEDIATE) with the reads they depend on, and two arena sessions of one campaign cannot both slip past a limit.
"""

from __future__ import annotations

from dataclasses import dataclass

from sbs_tui.core.store.base import Queries

#: The ``source`` of every generation the arena stores (``sbs arena <battle id>``): ``sbs queue build`` skips them.
ARENA_SOURCE = "sbs arena"
#: The ledger's outcomes of a battle with no vote (``voted`` is the one other).
UNVOTED = ("running", "answered", "gated", "incomplete")


@dataclass(frozen=True, slots=True)
class LedgerState:
    """What starting a battle depends on, read in the starting transaction."""

    revoked: bool  # the annotator has a revoked sign-in token (``sbs annotators revoke``)
    recent_starts: tuple[float, ...]  # this annotator's battle starts since the window began (Unix seconds)
    spent: float  # the campaign's arena cost so far


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    battles: int
    by_outcome: dict[str, int]
    tokens_in: int
    tokens_out: int
    cost: float


class Arena(Queries):
    """``store.arena``."""

    __slots__ = ()

    def revoked(self, annotator: str) -> bool:
        """The annotator's sign-in token was revoked (the rule of ``store.queue.record_vote``)."""
        aid = self._cx.annotator_id(annotator, create=False)
        return aid is not None and self.conn.execute(
            "SELECT 1 FROM annotator_tokens WHERE annotator_id = ? AND revoked_at IS NOT NULL", (aid,)
        ).fetchone() is not None

    def state(self, annotator: str, *, since: float) -> LedgerState:
        aid = self._cx.annotator_id(annotator, create=False)
        starts: tuple[float, ...] = ()
        if aid is not None:
            starts = tuple(r[0] for r in self.conn.execute(
                "SELECT started_at FROM arena_battles WHERE annotator_id = ? AND started_at > ? ORDER BY started_at",
                (aid, since)))
        (spent,) = self.conn.execute("SELECT coalesce(sum(cost), 0) FROM arena_battles").fetchone()
        return LedgerState(self.revoked(annotator), starts, float(spent))

    def start(self, battle_id: str, annotator: str, model_a: str, model_b: str, *, started_at: float) -> None:
        """Record a battle as started; call inside ``store.transaction()``."""
        self.conn.execute(
            "INSERT INTO arena_battles (battle_id, annotator_id, model_a_id, model_b_id, started_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (battle_id, self._cx.annotator_id(annotator), self._cx.model_id(model_a), self._cx.model_id(model_b),
             started_at))

    def finish(self, battle_id: str, *, outcome: str, tokens_in: int, tokens_out: int, cost: float) -> None:
        """What a battle's answers used, once both ended, and how it ended (gated, incomplete, or still votable:
        'running' until :meth:`voted`)."""
        self.conn.execute(
            "UPDATE arena_battles SET outcome = ?, tokens_in = ?, tokens_out = ?, cost = ? WHERE battle_id = ?",
            (outcome, tokens_in, tokens_out, cost, battle_id))

    def voted(self, battle_id: str) -> None:
        self.conn.execute("UPDATE arena_battles SET outcome = 'voted' WHERE battle_id = ?", (battle_id,))

    def unvoted_pairs(self) -> dict[frozenset[str], int]:
        """Battles without a vote per unordered pair of model names, of every session and annotator: running
        (streaming, being gated), answered (no vote yet), gated and incomplete. A voted battle is left out: its
        vote is counted with the votes. One range of ``idx_arena_battles_unvoted``."""
        names = self._cx.model_names_by_id()
        counts: dict[frozenset[str], int] = {}
        for a, b, n in self.conn.execute(
                "SELECT model_a_id, model_b_id, count(*) FROM arena_battles "
                f"WHERE outcome IN ({', '.join(repr(o) for o in UNVOTED)}) GROUP BY outcome, model_a_id, model_b_id"):
            key = frozenset((names[a], names[b]))
            counts[key] = counts.get(key, 0) + n
        return counts

    def totals(self) -> LedgerTotals:
        by_outcome = {o: n for o, n in self.conn.execute(
            "SELECT outcome, count(*) FROM arena_battles GROUP BY outcome ORDER BY outcome")}
        n, tin, tout, cost = self.conn.execute(
            "SELECT count(*), coalesce(sum(tokens_in), 0), coalesce(sum(tokens_out), 0), coalesce(sum(cost), 0) "
            "FROM arena_battles").fetchone()
        return LedgerTotals(int(n), by_outcome, int(tin), int(tout), float(cost))
