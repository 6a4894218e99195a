"""The queue view: what the review app's Queue tab shows — pair counts, each annotator's progress and pace,
held-back and flagged pairs.

"Remaining" is :func:`sbs_tui.core.queue.annotator.remaining`, the number the annotator's own header shows. Leads who
have not voted are not annotators here (they sign in to review, not to judge).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.generate.arena_ledger import ArenaBudget
    from sbs_tui.core.settings import ArenaSettings
    from sbs_tui.core.store import Store

SESSION_GAP_S = 600  # a pause longer than this ends an annotator's working session (for their pace)


@dataclass(frozen=True)
class AnnotatorProgress:
    annotator: str
    kind: str  # 'human' | 'judge'
    votes: int  # every vote stored (imported or judged)
    done: int
    skipped: int
    flagged: int
    remaining: int | None  # None: no queue use (an imported judge)
    cap: int | None
    pace: float | None  # votes per minute over the latest session
    eta_min: float | None
    idle_min: float | None


@dataclass(frozen=True)
class QueueView:
    summary: dict[str, int]  # store.queue.summary(): pairs, open, votes, gold, held_back, gate_* counts
    config: dict[str, Any]  # the settings the queue was last built with
    annotators: tuple[AnnotatorProgress, ...]
    held_back: tuple[dict[str, Any], ...]
    flagged: tuple[dict[str, Any], ...]
    flagged_votes: int
    gating_required: bool
    arena: ArenaBudget | None = None  # the live arena's budget and battles (None: no arena in this campaign)


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def session_pace(timestamps: list[str]) -> float | None:
    """Votes per minute over the annotator's latest working session (newest first; a pause longer than
    SESSION_GAP_S ends it). None until a session has two votes a measurable time apart."""
    times = [t for t in (_parse_ts(v) for v in timestamps) if t is not None]
    if len(times) < 2:
        return None
    session = [times[0]]
    for t in times[1:]:
        if (session[-1] - t).total_seconds() > SESSION_GAP_S:
            break
        session.append(t)
    span = (session[0] - session[-1]).total_seconds()
    if len(session) < 2 or span <= 0:
        return None
    return 60.0 * (len(session) - 1) / span


def queue_view(store: Store, *, gating_required: bool = True, arena: ArenaSettings | None = None,
               now: datetime | None = None) -> QueueView:
    """The queue's state; ``gating_required`` as the annotators' app runs (pairs must have passed their gates).
    With ``arena`` (``[arena]``), the live arena's budget too — ``arena_ledger.arena_budget``, the function
    ``sbs arena status`` reads — when the campaign has an arena (models set, or battles in the ledger)."""
    from sbs_tui.core.queue.annotator import remaining as remaining_for

    now = now or datetime.now(UTC)
    min_gate_rank = 2 if gating_required else 1
    config = store.queue.config()
    default_cap = config.get("default_cap")
    leads = {a.name for a in store.accounts.all() if a.role == "lead"}
    annotators = []
    for row in store.review.annotators():
        used = row["votes"] or row["done"] or row["skipped"] or row["open"]
        if row["annotator"] in leads and not used:
            continue  # a lead who only reviews is not an annotator
        common = dict(annotator=row["annotator"], kind=row["kind"], votes=row["votes"], done=row["done"],
                      skipped=row["skipped"], flagged=row["flagged"])
        if not (row["done"] or row["skipped"] or row["open"] or row["kind"] == "human"):
            annotators.append(AnnotatorProgress(**common, remaining=None, cap=None, pace=None, eta_min=None,
                                                idle_min=None))  # imported judges: votes only
            continue
        cap = row["cap"] if row["cap"] is not None else default_cap
        left = remaining_for(store, row["id"], min_gate_rank=min_gate_rank, cap=cap, held=row["open"],
                             done=row["done"])
        pace = session_pace(store.review.recent_vote_times(row["id"]))
        last = _parse_ts(row["last_vote"])
        annotators.append(AnnotatorProgress(
            **common, remaining=left, cap=cap, pace=pace, eta_min=(left / pace) if pace and left else None,
            idle_min=(now - last).total_seconds() / 60.0 if last else None))
    return QueueView(store.queue.summary(), config, tuple(annotators), tuple(store.review.held_back()),
                     tuple(store.review.flagged_pairs()), store.votes.flagged_count(), gating_required,
                     _arena(store, arena))


def _arena(store: Store, arena: ArenaSettings | None) -> ArenaBudget | None:
    if arena is None:
        return None
    from sbs_tui.core.generate.arena_ledger import arena_budget

    budget = arena_budget(store, arena)
    return budget if arena.models or budget.battles else None
