"""Ratings, intervals and ranks assembled into what ``sbs rank`` prints (the JSON contract).

Rank is Arena's "Rank (UB)": 1 + the number of models whose lower bound lies above this model's upper bound,
so models whose intervals overlap share a rank and a rank never claims more than the data shows.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sbs_tui.core.ranking.outcomes import Outcomes

Z95 = 1.959963984540054


@dataclass
class ModelRating:
    model: str
    rating: float
    ci_low: float
    ci_high: float
    votes: float
    wins: float
    losses: float
    ties: float
    win_rate: float  # percent of credit won (ties half)
    rank: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {
            "model": self.model, "rating": _num(self.rating), "ci_low": _num(self.ci_low),
            "ci_high": _num(self.ci_high), "rank": self.rank, "votes": _count(self.votes),
            "wins": _count(self.wins), "losses": _count(self.losses), "ties": _count(self.ties),
            "win_rate": _num(self.win_rate),
        }
        out.update(self.extra)
        return out


@dataclass
class Ranking:
    """Result of one ranking method; ``models`` sorted best first (within each comparison component)."""

    method: str
    models: list[ModelRating]
    info: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    matrices: dict[str, Any] | None = None
    votes_needed: list[dict[str, Any]] = field(default_factory=list)
    voted_models: list[str] = field(default_factory=list)  # every model with counted votes (not in the JSON)
    counts: tuple[list[str], list[tuple[int, int, float, int]]] | None = None  # the outcome rows ranked (BT, win rate)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"method": self.method, "models": [m.to_json() for m in self.models]}
        out.update(self.info)
        out["warnings"] = list(self.warnings)
        if self.votes_needed:
            out["votes_needed"] = self.votes_needed
        if self.matrices is not None:
            out["matrices"] = self.matrices
        return finite_json(out)


def finite_json(obj: Any) -> Any:
    """NaN/inf (an undefined standard error, say) become null: the output stays valid JSON."""
    if isinstance(obj, float | np.floating):
        return float(obj) if math.isfinite(obj) else None
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, dict):
        return {k: finite_json(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [finite_json(v) for v in obj]
    return obj


def _num(x: float | None) -> float | None:
    if x is None or not math.isfinite(x):
        return None
    return round(float(x), 10)


def _count(x: float) -> int | float:
    x = float(x)
    return int(round(x)) if abs(x - round(x)) < 1e-9 else round(x, 10)


def rank_upper_bound(ci_low: ArrayLike, ci_high: ArrayLike) -> np.ndarray:
    """Arena's Rank (UB): 1 + #{models whose ci_low > this model's ci_high}."""
    ci_low = np.asarray(ci_low, dtype=float)
    ci_high = np.asarray(ci_high, dtype=float)
    return 1 + (ci_low[None, :] > ci_high[:, None]).sum(axis=1)


def tallied_ratings(outcomes: Outcomes, idx: list[int], rating: np.ndarray, low: np.ndarray,
                    high: np.ndarray, extra: list[dict[str, Any]] | None = None) -> list[ModelRating]:
    """ModelRatings for models ``idx`` (indices into outcomes.names), ranked by Rank (UB) and sorted."""
    t = outcomes.tallies()
    ranks = rank_upper_bound(low, high)
    out = []
    for k, m in enumerate(idx):
        votes = t["votes"][m]
        out.append(ModelRating(
            outcomes.names[m], float(rating[k]), float(low[k]), float(high[k]), votes, t["wins"][m],
            t["losses"][m], t["ties"][m], 100.0 * t["credit"][m] / votes if votes else float("nan"),
            int(ranks[k]), dict(extra[k]) if extra else {},
        ))
    out.sort(key=lambda r: (-r.rating, r.model))
    return out


def votes_needed(models: list[ModelRating]) -> list[dict[str, Any]]:
    """For each adjacent pair (best first): how many more votes until their intervals separate.

    A power estimate, not a promise: it assumes every interval shrinks like 1/√n as the votes of both models
    grow by the same factor k, and that the gap stays what it is now. Separation needs
    gap > (lower half-width of the better model + upper half-width of the worse), so k = (sum/gap)².
    """
    out = []
    for hi, lo in zip(models, models[1:]):
        if hi.extra.get("component") != lo.extra.get("component"):
            continue
        gap = hi.rating - lo.rating
        spread = (hi.rating - hi.ci_low) + (lo.ci_high - lo.rating)
        entry: dict[str, Any] = {"better": hi.model, "worse": lo.model, "gap": _num(gap)}
        if not (math.isfinite(spread) and math.isfinite(gap)):
            continue
        if gap <= 0:
            entry.update(separated=False, factor=None, more_votes_per_model=None)
        elif spread < gap:
            entry.update(separated=True, factor=1.0, more_votes_per_model=0)
        else:
            factor = (spread / gap) ** 2
            per_model = (hi.votes + lo.votes) / 2.0
            entry.update(separated=False, factor=round(factor, 3),
                         more_votes_per_model=int(math.ceil((factor - 1.0) * per_model)))
        out.append(entry)
    return out


def pair_matrices(outcomes: Outcomes, order: list[str], theta: dict[str, float] | None,
                  component_of: dict[str, int] | None = None) -> dict[str, Any]:
    """Votes per pair, empirical win rate (row's credit share vs column) and, given θ, the predicted one
    (null across comparison components, whose ratings share no scale)."""
    pos = {name: k for k, name in enumerate(order)}
    m = len(order)
    votes = np.zeros((m, m))
    credit = np.zeros((m, m))
    for i, j, s, n in zip(outcomes.i, outcomes.j, outcomes.s, outcomes.n):
        a, b = outcomes.names[i], outcomes.names[j]
        if a not in pos or b not in pos:
            continue
        pa, pb = pos[a], pos[b]
        votes[pa, pb] += n
        votes[pb, pa] += n
        credit[pb, pa] += n * s
        credit[pa, pb] += n * (1 - s)
    with np.errstate(invalid="ignore", divide="ignore"):
        empirical = np.where(votes > 0, credit / votes, np.nan)
    out: dict[str, Any] = {
        "models": order,
        "votes": [[_count(x) for x in row] for row in votes],
        "empirical_win_rate": [[_num(x) for x in row] for row in empirical],
    }
    if theta is not None:
        from sbs_tui.core.ranking.bt import sigmoid

        th = np.array([theta.get(name, np.nan) for name in order])
        pred = sigmoid(th[:, None] - th[None, :])
        np.fill_diagonal(pred, np.nan)
        if component_of is not None:
            comp = np.array([component_of.get(name, -1) for name in order])
            pred[comp[:, None] != comp[None, :]] = np.nan
        out["predicted_win_rate"] = [[_num(x) for x in row] for row in pred]
    return out
