"""One entry point from a store and a request to a :class:`Ranking` (what ``sbs rank`` and the review app call).

The only module in the ranking package that knows about the store; it picks the query each method needs:
aggregated counts for BT and win rate (fast at 1M votes), the ordered votes for online Elo and TrueSkill,
per-vote outputs for length/style control.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ranking.report import Ranking
from sbs_tui.core.ranking.request import RankRequest, VoteFilters
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

__all__ = ["RankRequest", "rank_stored", "run_ranking"]


BASELINE_RULE = "the most-compared model (most votes; ties by name), as AlpacaEval's reference is"


def default_baseline(names: list[str], rows: Sequence[tuple[int, int, float, float]]) -> str | None:
    """The win-rate baseline when none is given — one rule for ``sbs rank`` and the review app: the model with
    the most votes (ties broken by name), i.e. the reference everyone was compared with in an AlpacaEval-style
    campaign. None without votes."""
    counts = dict.fromkeys(names, 0.0)
    for ia, ib, _score, n in rows:
        counts[names[ia]] += n
        counts[names[ib]] += n
    voted = [m for m, c in counts.items() if c > 0]
    return max(voted, key=lambda m: (counts[m], m)) if voted else None


def run_ranking(store: Store, req: RankRequest) -> Ranking:
    """Raises KeyError(model) when ``baseline`` has no votes under the filters, :class:`InputError` when
    ``--annotator`` names someone without votes or ``--voters`` leaves nobody. ``--method winrate`` without a
    baseline uses :func:`default_baseline` and says so (``baseline_rule`` in the JSON, and a warning).

    The votes counted follow the one voters rule (:func:`~sbs_tui.core.views.scope.resolve_voters`); the result
    states it (``voters``) and how many votes it counted (``votes``), taken from the very rows it ranked — each
    method reads the store once."""
    from dataclasses import replace

    from sbs_tui.core.views.scope import resolve_voters

    scope = resolve_voters(store.votes.annotator_kinds(), req.voters, req.annotators)
    counts = None
    filters: VoteFilters = {"annotators": scope.names, "category": req.category,
                            "include_flagged": req.include_flagged}
    chosen = None
    if req.control != "none":
        names, rows = store.votes.covariates(texts=req.control == "style", **filters)
        if req.method == "winrate" and req.baseline is None:
            chosen = _default_from_pairs(names, ((r[0], r[1]) for r in rows))
            req = replace(req, baseline=chosen)
        votes = len(rows)
        if req.method == "winrate":
            from sbs_tui.core.ranking.winrate import length_controlled_winrate

            if req.baseline is None:  # no votes at all: there is no model to compare with
                raise KeyError("(no votes)")
            ranking = length_controlled_winrate(names, rows, req.baseline)
        else:
            from sbs_tui.core.ranking.style import rank_style_controlled

            ranking = rank_style_controlled(names, rows, features=req.control, anchor=req.baseline)
    elif req.method in ("elo", "trueskill"):
        names, seq = store.votes.sequence(**filters)
        votes = len(seq)
        if req.method == "elo":
            from sbs_tui.core.ranking.online import rank_elo

            ranking = rank_elo(names, seq, k=req.k_factor, orders=req.orders, rounds=req.rounds,
                               seed=req.seed, anchor=req.baseline, order=req.elo_order)
        else:
            from sbs_tui.core.ranking.online import rank_trueskill

            ranking = rank_trueskill(names, seq, matrices=req.matrices)
    else:
        from sbs_tui.core.ranking.outcomes import Outcomes

        names, counted = store.votes.outcomes(**filters)  # read once: the default baseline and the fit share it
        counts = (names, counted)
        votes = int(sum(n for *_, n in counted))
        if req.method == "winrate" and req.baseline is None:
            chosen = default_baseline(names, counted)
            req = replace(req, baseline=chosen)
        outcomes = Outcomes.from_rows(names, counted)
        if req.method == "winrate":
            from sbs_tui.core.ranking.winrate import rank_winrate

            ranking = rank_winrate(outcomes, req.baseline)
        else:
            from sbs_tui.core.ranking.btrank import rank_bt

            ranking = rank_bt(outcomes, ci=req.ci, rounds=req.rounds, seed=req.seed, anchor=req.baseline,
                              matrices=req.matrices, threads=req.threads)
    if votes == 0 and req.category is not None:
        raise InputError(f"no votes on prompts of this category (voters: {scope.voters})", field="--category")
    ranking.info.setdefault("control", req.control)
    ranking.info["filters"] = {k: v for k, v in req.filters.items() if v}
    ranking.info["voters"] = scope.voters
    ranking.info["votes"] = votes
    ranking.voted_models = list(names)
    ranking.counts = counts
    if chosen is not None:
        ranking.info["baseline_rule"] = BASELINE_RULE
        ranking.warnings.append(f"no --baseline given: win rate against {chosen!r}, {BASELINE_RULE}")
    return ranking


def _default_from_pairs(names: list[str], pairs: Iterable[tuple[int, int]]) -> str | None:
    """:func:`default_baseline` over per-vote rows (the length-controlled path reads votes, not counts)."""
    counts: dict[tuple[int, int], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    return default_baseline(names, [(a, b, 0.0, n) for (a, b), n in counts.items()])


def rank_stored(open_store: Callable[[], Store], req: RankRequest) -> Ranking:
    """``sbs rank`` and ``sbs export rankings`` as one call: validate the request (``InputError`` naming the
    option), open the store, rank, close. A baseline without votes is an input error too."""
    req.validate()
    store = open_store()
    try:
        ranking = run_ranking(store, req)
        if not ranking.info.get("votes"):  # an empty table with exit 0 would read as a result
            flagged = ("" if req.include_flagged or not store.votes.flagged_count()
                       else " (flagged votes are left out: --include-flagged counts them)")
            raise InputError(f"no votes to rank{flagged}; import votes (sbs import votes FILE) or let annotators "
                             "judge (sbs annotate)", file=str(store.path) if store.path else None)
        return ranking
    except KeyError as exc:
        raise InputError(f"no votes involve model {exc.args[0]!r}", field="--baseline") from None
    finally:
        store.close()
