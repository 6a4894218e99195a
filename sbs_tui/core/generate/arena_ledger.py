"""The arena's campaign rules: who may start a battle now (rate limit, budget, access), what a battle cost, and
the budget the lead sees (``sbs arena status``).

Why a ledger in the database and not counters in the app: the arena runs as one process per terminal or browser
session (``sbs serve`` starts one per tab), so a per-process counter lets two tabs double an annotator's rate and
lets every session spend the whole budget. Each battle is recorded when it starts (``store.arena``), and the rules
below run inside the same write transaction as that record.

* **Pairs.** The pair is drawn in the transaction that records the battle (:func:`draw_and_begin`), from the
  campaign's counts (``core.generate.arena.battle_counts``: votes plus the ledger's unvoted battles).
* **Rate limit.** At most ``[arena] battles_per_minute`` battle starts per annotator in any sliding minute, counted
  over all their sessions (a battle in which neither model answered counts too: it used the endpoints).
* **Budget.** ``[arena] budget`` is in the currency of the models' ``price_input_per_1k`` /
  ``price_output_per_1k`` (each arena model must declare one when a budget is set). A battle's cost is its two
  answers' tokens at those prices, as the endpoint reported them; for an answer that broke off, the endpoint
  reported nothing, so its tokens are estimated at 4 characters a token of the prompt and of the text that did
  arrive. New battles are refused once the spent cost reaches the budget; the battles already streaming finish,
  so the overshoot is at most the battles in flight when it ran out (each at most 2 × ``max_tokens`` output).
* **Access.** A revoked annotator (``sbs annotators revoke``) can start no battle and store no vote, whatever the
  team server has noticed yet (the check of ``store.queue.record_vote``).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sbs_tui.core.store.errors import AccessRevokedError
from sbs_tui.errors import SbsError

if TYPE_CHECKING:
    from sbs_tui.core.generate.arena import ArenaConfig, Battle
    from sbs_tui.core.generate.generation import ModelSpec
    from sbs_tui.core.settings import ArenaSettings, Settings
    from sbs_tui.core.store import Store

WINDOW_S = 60.0
CHARS_PER_TOKEN = 4  # the estimate for an answer that broke off before the endpoint reported its usage


class ArenaRefused(SbsError):
    """A battle the campaign's rules do not allow now; ``kind`` is ``rate`` or ``budget``. Its words never name a
    model (the arena screen shows them)."""

    def __init__(self, message: str, kind: str, wait_s: float = 0.0):
        super().__init__(message)
        self.kind = kind
        self.wait_s = wait_s


def rate_wait_s(starts: Sequence[float], per_minute: float, now: float) -> float:
    """Seconds until one more start fits ``per_minute`` in every sliding minute (0: now). ``starts``: the starts
    within the last minute, oldest first."""
    recent = [t for t in starts if now - t < WINDOW_S]
    if len(recent) < per_minute:
        return 0.0
    must_expire = len(recent) - math.ceil(per_minute) + 1  # so that len(recent) - must_expire < per_minute
    return max(0.0, recent[must_expire - 1] + WINDOW_S - now)


def begin(store: Store, battle: Battle, annotator: str, config: ArenaConfig, *, now: float | None = None) -> None:
    """Record ``battle`` as started by ``annotator``, or refuse it: :class:`AccessRevokedError` for a revoked
    annotator, :class:`ArenaRefused` past the rate limit or the budget. One write transaction: two sessions
    cannot both take the last slot."""
    now = time.time() if now is None else now
    with store.transaction():
        state = store.arena.state(annotator, since=now - WINDOW_S)
        if state.revoked:
            raise AccessRevokedError(f"{annotator}'s access was revoked (sbs annotators revoke)")
        if config.budget is not None and state.spent >= config.budget:
            raise ArenaRefused("The campaign's arena budget is spent: no new battles (the lead can raise "
                               "[arena] budget).", "budget")
        wait = rate_wait_s(state.recent_starts, config.battles_per_minute, now)
        if wait > 0:
            raise ArenaRefused(f"Rate limit: {config.battles_per_minute:g} battles a minute; next in "
                               f"{math.ceil(wait):.0f} s.", "rate", wait)
        store.arena.start(battle.battle_id, annotator, battle.a.model, battle.b.model, started_at=now)


def draw_and_begin(store: Store, prompt: str, names: Sequence[str], annotator: str, config: ArenaConfig,
                   rng: random.Random, *, source_prompt_id: str | None = None, now: float | None = None) -> Battle:
    """Draw the pair from the campaign's counts and record the battle, in one write transaction: two sessions
    starting at once see each other's battle (the second draws another pair when one has fewer battles), and
    the rules of :func:`begin` hold with the same reads."""
    from sbs_tui.core.generate import arena

    with store.transaction():
        a, b = arena.draw_pair(arena.battle_counts(store, names), rng)
        battle = arena.new_battle(prompt, a, b, source_prompt_id)
        begin(store, battle, annotator, config, now=now)
    return battle


def usage(battle: Battle, specs: Mapping[str, ModelSpec]) -> tuple[int, int, float]:
    """(tokens in, tokens out, cost) of a battle's two answers; see the module docstring for broken-off ones."""
    tokens_in = tokens_out = 0
    cost = 0.0
    for side in battle.sides:
        if side.answer is not None:
            tin, tout = side.answer.tokens_in, side.answer.tokens_out
        else:
            tin = math.ceil(len(battle.prompt) / CHARS_PER_TOKEN)
            tout = math.ceil(len(side.text) / CHARS_PER_TOKEN)
        tokens_in, tokens_out = tokens_in + tin, tokens_out + tout
        cost += specs[side.model].cost(tin, tout) or 0.0
    return tokens_in, tokens_out, cost


def outcome(battle: Battle) -> str:
    """How a battle whose answers are in ended: answered (a vote may come), gated, or incomplete."""
    if battle.votable:
        return "answered"
    return "gated" if any(s.status == "blocked" for s in battle.sides) else "incomplete"


def finish(store: Store, battle: Battle, specs: Mapping[str, ModelSpec]) -> None:
    """Book what the battle's answers used, once both ended and the gates decided."""
    tokens_in, tokens_out, cost = usage(battle, specs)
    with store.transaction():
        store.arena.finish(battle.battle_id, outcome=outcome(battle), tokens_in=tokens_in, tokens_out=tokens_out,
                           cost=cost)


@dataclass(frozen=True, slots=True)
class ArenaBudget:
    """What ``sbs arena status`` shows the lead (the JSON contract in docs/arena.md)."""

    budget: float | None
    spent: float
    battles: int
    outcomes: dict[str, int]
    tokens_in: int
    tokens_out: int
    web: bool

    @property
    def remaining(self) -> float | None:
        return None if self.budget is None else max(0.0, self.budget - self.spent)

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.spent >= self.budget

    def as_json(self) -> dict[str, Any]:
        return {"budget": self.budget, "spent": round(self.spent, 6),
                "remaining": None if self.remaining is None else round(self.remaining, 6),
                "exhausted": self.exhausted, "battles": self.battles,
                "outcomes": {k: self.outcomes.get(k, 0) for k in ("running", "answered", "voted", "gated",
                                                                  "incomplete")},
                "tokens_in": self.tokens_in, "tokens_out": self.tokens_out, "web": self.web}


def budget_status(store: Store, settings: Settings) -> ArenaBudget:
    """The campaign's arena spending against ``[arena] budget``, for the lead (``sbs arena status``)."""
    return arena_budget(store, settings.arena)


def arena_budget(store: Store, arena: ArenaSettings) -> ArenaBudget:
    """The one computation both of the lead's surfaces show — ``sbs arena status`` and the review app's Queue
    tab (through ``core.views.queue``) — from the ledger and ``[arena]`` (a picklable section: the review app
    may compute it in a helper process)."""
    totals = store.arena.totals()
    return ArenaBudget(arena.budget, totals.cost, totals.battles, totals.by_outcome, totals.tokens_in,
                       totals.tokens_out, arena.web)
