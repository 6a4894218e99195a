"""One entry point from a store and a request to a :class:`Ranking` (what ``sbs rank`` and the review app call).

The only module in the ranking package that knows about the store; it picks the query each method needs:
aggregated counts for BT and win rate (fast at 1M votes), the ordered votes for online Elo and TrueSkill,
per-vote outputs for length/style control.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ranking.report import Ranking
from sbs_tui.core.ranking.request import RankRequest
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


def require_lengths(names: list[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """``--control length`` needs each voted model's answer lengths: a model none of whose votes has its output
    stored (in the vote or as an imported generation) is an input error naming it — not a table without it."""
    known: dict[int, bool] = {}
    for a, b, _s, _pid, len_a, len_b, *_ in rows:
        known[a] = known.get(a, False) or len_a is not None
        known[b] = known.get(b, False) or len_b is not None
    missing = sorted(names[m] for m, ok in known.items() if not ok)
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(f"import {shown}'s outputs so answer lengths are known (sbs import generations FILE)",
                         field="--control")


def run_ranking(store: Store, req: RankRequest) -> Ranking:
    """Raises KeyError(model) when ``baseline`` has no votes under the filters. ``--method winrate`` without a
    baseline uses :func:`default_baseline` and says so (``baseline_rule`` in the JSON, and a warning)."""
    filters = req.filters
    chosen = None
    if req.method == "winrate" and req.baseline is None:
        chosen = default_baseline(*store.votes.outcomes(**filters))
        if chosen is not None:
            from dataclasses import replace

            req = replace(req, baseline=chosen)
    if req.control != "none":
        names, rows = store.votes.covariates(texts=req.control == "style", **filters)
        if req.control == "length":
            require_lengths(names, rows)
        if req.method == "winrate":
            from sbs_tui.core.ranking.winrate import length_controlled_winrate

            if req.baseline is None:  # no votes at all: there is no model to compare with
                raise KeyError("(no votes)")
            ranking = length_controlled_winrate(names, rows, req.baseline)
        else:
            from sbs_tui.core.ranking.style import rank_style_controlled

            ranking = rank_style_controlled(names, rows, features=req.control, anchor=req.baseline)
    elif req.method in ("elo", "trueskill"):
        names, votes = store.votes.sequence(**filters)
        if req.method == "elo":
            from sbs_tui.core.ranking.online import rank_elo

            ranking = rank_elo(names, votes, k=req.k_factor, orders=req.orders, rounds=req.rounds,
                               seed=req.seed, anchor=req.baseline, order=req.elo_order)
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
    if chosen is not None:
        ranking.info["baseline_rule"] = BASELINE_RULE
        ranking.warnings.append(f"no --baseline given: win rate against {chosen!r}, {BASELINE_RULE}")
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
