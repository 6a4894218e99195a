"""One entry point from a store and a request to a :class:`Ranking` (what ``sbs rank`` and the review app call).

The only module in the ranking package that knows about the store; it picks the query each method needs:
aggregated counts for BT and win rate (fast at 1M votes), the ordered votes for online Elo and TrueSkill,
per-vote outputs for length/style control.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ranking.report import Ranking
from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

__all__ = ["RankRequest", "rank_stored", "run_ranking"]


def run_ranking(store: Store, req: RankRequest) -> Ranking:
    """Raises KeyError(model) when ``baseline`` has no votes under the filters."""
    filters = req.filters
    if req.control != "none":
        names, rows = store.votes.covariates(texts=req.control == "style", **filters)
        if req.method == "winrate":
            from sbs_tui.core.ranking.winrate import length_controlled_winrate

            ranking = length_controlled_winrate(names, rows, req.baseline)
        else:
            from sbs_tui.core.ranking.style import rank_style_controlled

            ranking = rank_style_controlled(names, rows, features=req.control, anchor=req.baseline)
    elif req.method in ("elo", "trueskill"):
        names, votes = store.votes.sequence(**filters)
        if req.method == "elo":
            from sbs_tui.core.ranking.online import rank_elo

            ranking = rank_elo(names, votes, k=req.k_factor, orders=req.orders, rounds=req.rounds,
                               seed=req.seed, anchor=req.baseline)
        else:
            from sbs_tui.core.ranking.online import rank_trueskill

            ranking = rank_trueskill(names, votes, matrices=req.matrices)
    else:
        from sbs_tui.core.ranking.outcomes import Outcomes

        outcomes = Outcomes.from_rows(*store.votes.outcomes(**filters))
        if req.method == "winrate":
            from sbs_tui.core.ranking.winrate import rank_winrate

            ranking = rank_winrate(outcomes, req.baseline)
        else:
            from sbs_tui.core.ranking.btrank import rank_bt

            ranking = rank_bt(outcomes, ci=req.ci, rounds=req.rounds, seed=req.seed, anchor=req.baseline,
                              matrices=req.matrices, threads=req.threads)
    ranking.info.setdefault("control", req.control)
    ranking.info["filters"] = {k: v for k, v in filters.items() if v}
    return ranking


def rank_stored(open_store: Callable[[], Store], req: RankRequest) -> Ranking:
    """``sbs rank`` and ``sbs export rankings`` as one call: validate the request (``InputError`` naming the
    option), open the store, rank, close. A baseline without votes is an input error too."""
    req.validate()
    store = open_store()
    try:
        return run_ranking(store, req)
    except KeyError as exc:
        raise InputError(f"no votes involve model {exc.args[0]!r}", field="--baseline") from None
    finally:
        store.close()
