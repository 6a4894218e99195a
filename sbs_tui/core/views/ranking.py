"""The ranking view: the review app's ranking tab and ``sbs rank`` show the same :class:`Ranking` document.

The review app asks with a :class:`RankRequest` too (its pickers are one); the differences are only in how a
problem is told — the app shows a note where the CLI exits 2 — never in the rule: the voters rule, the default
baseline (:func:`~sbs_tui.core.ranking.api.default_baseline`) and the vote count all come from
:func:`~sbs_tui.core.ranking.api.run_ranking`, which reads the votes once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store


@dataclass(frozen=True)
class RankingView:
    doc: dict[str, Any] | None  # Ranking.to_json(): what `sbs rank --format json` prints; None: see note
    models: tuple[str, ...] = ()  # models in the ranking (the baseline picker's choices)
    baseline: str | None = None  # the baseline actually used
    note: str | None = None  # why there is no table, or how the baseline was chosen
    votes: int = 0  # votes counted
    voters: str = "all"  # whose: humans, judges or all
    warnings: tuple[str, ...] = field(default_factory=tuple)
    seconds: float = 0.0


def ranking_view(store: Store, options: RankRequest) -> RankingView:
    """The ranking under ``options`` (a baseline without votes is dropped with a note, as a picker may be stale)."""
    started = time.perf_counter()
    view = _ranking(store, options)
    return replace(view, seconds=time.perf_counter() - started)


def _ranking(store: Store, options: RankRequest) -> RankingView:
    from sbs_tui.core.ranking.api import run_ranking
    from sbs_tui.core.scope import resolve_voters

    kinds = store.votes.annotator_kinds()
    if not kinds:
        return RankingView(None, note="No votes yet. Import votes (sbs import votes FILE) or let annotators "
                                      "judge (sbs annotate).")
    try:
        voters = resolve_voters(kinds, options.voters, options.annotators).voters
    except InputError as exc:
        return RankingView(None, note=f"{exc.message}; press v to count other votes", voters=options.voters)
    if (problem := options.problem()) is not None:
        return RankingView(None, note=problem, voters=voters)
    note = None
    try:
        try:
            ranking = run_ranking(store, options)
        except KeyError:
            if options.baseline is None:
                raise
            note = f"baseline {options.baseline!r} has no votes; showing without it"
            ranking = run_ranking(store, replace(options, baseline=None))
    except KeyError as exc:
        return RankingView(None, note=f"no votes involve model {exc.args[0]!r}", voters=voters)
    except (ValueError, ArithmeticError, InputError) as exc:  # e.g. style control without stored texts
        return RankingView(None, note=f"cannot rank with these settings: {exc}", voters=voters)
    doc = ranking.to_json()
    baseline = doc.get("baseline") if doc.get("baseline") is not None else options.baseline
    if baseline is not None and baseline not in ranking.voted_models:  # a method that ignores its anchor
        note, baseline = f"baseline {baseline!r} has no votes; showing without it", None
    if doc.get("baseline_rule"):
        chosen = f"win rate against the most-compared model {baseline!r} (press b to pick another)"
        note = f"{note}; {chosen}" if note else chosen
    return RankingView(doc, tuple(sorted(ranking.voted_models)), baseline, note,
                       int(doc["votes"]), doc["voters"], tuple(doc.get("warnings") or ()))
