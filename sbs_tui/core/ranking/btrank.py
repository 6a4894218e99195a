"""``sbs rank --method bt``: Bradley-Terry ratings with bootstrap or sandwich intervals, per component.

Why per component: ratings of models that were never compared, directly or through a chain of other models,
have no common scale — any offset between the groups fits the votes equally well. Printing one list would
rank them by an artefact of the prior, so each connected component is fitted and ranked on its own, flagged in
the output (``component``) and warned about.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sbs_tui.core.ranking.bootstrap import bootstrap_bt
from sbs_tui.core.ranking.bt import (
    ELO_PER_LOGIT, PRIOR_PRECISION, PRIOR_SD, contrast, fit_bt, sandwich_covariance, to_elo,
)
from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.report import Z95, Ranking, pair_matrices, tallied_ratings, votes_needed


def rank_bt(outcomes: Outcomes, *, ci: str = "bootstrap", rounds: int = 1000, seed: int = 0,
            anchor: str | None = None, matrices: bool = False, prior: float = PRIOR_PRECISION,
            threads: int | None = None) -> Ranking:
    """BT ratings on the Elo scale with 95% intervals (``ci``: bootstrap, sandwich or none), Rank (UB),
    tallies and votes-needed, fitted per connected component; ``anchor`` (a model name) sits at 1000.
    Raises KeyError(anchor) if the anchor has no votes."""
    if ci not in ("bootstrap", "sandwich", "none"):
        raise ValueError(f"unknown ci {ci!r}")
    if anchor is not None and anchor not in outcomes.names:
        raise KeyError(anchor)
    info: dict[str, Any] = {
        "scale": "elo (1000 + 400·log10 odds)", "ci": ci, "confidence": 0.95,
        "anchor": anchor, "prior_sd_logits": PRIOR_SD if prior == PRIOR_PRECISION else prior ** -0.5,
    }
    if ci == "bootstrap":
        info.update(bootstrap=rounds, seed=seed)
    ranking = Ranking("bt", [], info)
    if outcomes.total_votes == 0:
        ranking.warnings.append("no votes match the filters")
        info["components"] = []
        return ranking

    components = outcomes.components()
    info["components"] = [[outcomes.names[k] for k in comp] for comp in components]
    in_components = {k for comp in components for k in comp}
    no_votes = [name for k, name in enumerate(outcomes.names) if k not in in_components]
    if no_votes:
        ranking.warnings.append(f"no votes for: {', '.join(no_votes)} (left out)")
    if len(components) > 1:
        ranking.warnings.append(
            f"the comparison graph is disconnected ({len(components)} components: "
            + "; ".join(", ".join(outcomes.names[k] for k in comp) for comp in components)
            + "). Ratings are comparable only within a component; each is ranked separately."
        )
    theta_all: dict[str, float] = {}
    for c, comp in enumerate(components):
        sub = outcomes.subset(comp)
        local_anchor = sub.names.index(anchor) if anchor in sub.names else None
        if anchor is not None and local_anchor is None:
            ranking.warnings.append(f"component {c + 1} does not contain the anchor {anchor!r}; centred on 1000")
        fit = fit_bt(sub.pair_stats(), sub.n_models, prior)
        rating = to_elo(fit.theta, local_anchor)
        if ci == "bootstrap" and rounds > 0:
            boot = to_elo(bootstrap_bt(sub, fit, rounds, seed, prior=prior, threads=threads), local_anchor)
            low, high = np.percentile(boot, [2.5, 97.5], axis=0)
        elif ci == "sandwich":
            cmat = contrast(sub.n_models, local_anchor)
            cov = cmat @ sandwich_covariance(fit, sub) @ cmat.T
            half = Z95 * ELO_PER_LOGIT * np.sqrt(np.clip(np.diag(cov), 0, None))
            low, high = rating - half, rating + half
        else:
            low = high = np.full(sub.n_models, np.nan)
        if local_anchor is not None:  # the anchor is fixed by definition
            low[local_anchor] = high[local_anchor] = rating[local_anchor]
        bound = set(fit.prior_bound)
        extra = [{"component": c + 1, "set_by_prior": k in bound} for k in range(sub.n_models)]
        for k in fit.prior_bound:
            ranking.warnings.append(
                f"{sub.names[k]!r} never {'lost' if _won_all(sub, k) else 'won'}: "
                "its MLE is infinite; the rating shown is held finite by the weak prior "
                f"(sd {PRIOR_SD:g} logits) and is only a bound"
            )
        ranking.models.extend(tallied_ratings(outcomes, comp, rating, low, high, extra))
        theta_all.update(zip(sub.names, fit.theta))
    ranking.votes_needed = votes_needed(ranking.models)
    if matrices:
        component_of = {m.model: m.extra["component"] for m in ranking.models}
        ranking.matrices = pair_matrices(outcomes, [m.model for m in ranking.models], theta_all, component_of)
    return ranking


def _won_all(sub: Outcomes, k: int) -> bool:
    t = sub.tallies()
    return bool(t["credit"][k] >= t["votes"][k])
