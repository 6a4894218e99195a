"""Win rate against a baseline, exactly as AlpacaEval computes it, and its length-controlled variant.

Win rate = 100 · mean over verdicts of the credit won against the baseline (AlpacaEval: mean(preference − 1),
a draw — preference 1.5, or 0 in old files — counts ½; no verdict is skipped at import). The standard error is
the standard error of that mean (ddof = 1, as pandas' ``sem``); the interval is ±1.96 SE, clipped to
[0, 100] (a win rate cannot leave that range; near the edges the normal interval is only a rough guide).

The length-controlled variant (``--control length``) is :mod:`.lc`: each model fitted on its own against the
baseline, with the instruction difficulty frozen (:mod:`.difficulty`), as AlpacaEval computes it.
"""

from __future__ import annotations

import math

import numpy as np

from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.report import Z95, ModelRating, Ranking


def baseline_row(name: str, others: list[ModelRating]) -> ModelRating:
    """The baseline at 50% by definition; its W/L/T are the other models' L/W/T against it."""
    votes = sum(m.votes for m in others)
    return ModelRating(name, 50.0, 50.0, 50.0, votes, sum(m.losses for m in others),
                       sum(m.wins for m in others), sum(m.ties for m in others), 50.0, extra={"baseline": True})


def rank_winrate(outcomes: Outcomes, baseline: str | None) -> Ranking:
    """AlpacaEval win rate of every model that has verdicts against ``baseline``."""
    if baseline is None or baseline not in outcomes.names:
        raise KeyError(baseline)
    base = outcomes.names.index(baseline)
    ranking = Ranking("winrate", [], {"baseline": baseline, "control": "none", "scale": "percent",
                                      "ci": "normal (±1.96 standard error)", "confidence": 0.95})
    # credit to the *other* model, per cell involving the baseline
    per_model: dict[int, list[tuple[float, float]]] = {}
    for i, j, s, n in zip(outcomes.i, outcomes.j, outcomes.s, outcomes.n):
        if i == base:
            per_model.setdefault(int(j), []).append((s, n))
        elif j == base:
            per_model.setdefault(int(i), []).append((1.0 - s, n))
    for m, cells in per_model.items():
        credit = np.array([c for c, _ in cells])
        n = np.array([k for _, k in cells])
        total = n.sum()
        mean = float((credit * n).sum() / total)
        var = float((n * (credit - mean) ** 2).sum() / (total - 1)) if total > 1 else float("nan")
        se = 100.0 * math.sqrt(var / total) if total > 1 else float("nan")
        rate = 100.0 * mean
        wins, losses = float(n[credit > 0.5].sum()), float(n[credit < 0.5].sum())
        ties = float(n[credit == 0.5].sum())
        ranking.models.append(ModelRating(
            outcomes.names[m], rate, max(0.0, rate - Z95 * se), min(100.0, rate + Z95 * se), total, wins, losses, ties, rate,
            extra={"standard_error": se, "n_wins": wins, "n_wins_base": losses, "n_draws": ties},
        ))
    missing = [outcomes.names[k] for k in range(outcomes.n_models) if k != base and k not in per_model]
    if missing:
        ranking.warnings.append(f"no verdicts against {baseline!r} for: {', '.join(missing)} (left out)")
    ranking.models.append(baseline_row(baseline, ranking.models))
    finish(ranking)
    return ranking


def finish(ranking: Ranking) -> None:
    from sbs_tui.core.ranking.report import rank_upper_bound, votes_needed

    ranking.models.sort(key=lambda r: (-r.rating, r.model))
    ranks = rank_upper_bound([m.ci_low for m in ranking.models], [m.ci_high for m in ranking.models])
    for m, r in zip(ranking.models, ranks):
        m.rank = int(r)
    ranking.votes_needed = votes_needed([m for m in ranking.models if not m.extra.get("baseline")])
