"""``sbs rank --method bt``: Bradley-Terry ratings with intervals chosen by the data (``--ci auto``: profile
likelihood ∪ sandwich at small n, else sandwich) or asked for (bootstrap, sandwich, profile), per component.

Why per component: ratings of models that were never compared, directly or through a chain of other models,
have no common scale — any offset between the groups fits the votes equally well. Printing one list would
rank them by an artefact of the prior, so each connected component is fitted and ranked on its own, flagged in
the output (``component``) and warned about.

Within a component the rating is the plain MLE whenever it exists (see :mod:`.bt`). When it does not (a model
never lost or never won), the weak prior keeps the ratings finite, the output says so (``"mle": false`` in the
JSON's ``prior`` entry, ``set_by_prior`` per model, a warning), and the affected models get a one-sided interval:
the side the MLE runs off to is unbounded (``null`` in JSON, ∞ in tables); the other side is a profile
likelihood bound (the likelihood-ratio test at 95%), because resamples of a never-beaten model are all
never-beaten and the bootstrap cannot bound it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sbs_tui.core.ranking.bootstrap import bootstrap_bt, percentile_interval
from sbs_tui.core.ranking.bt import (
    ELO_CENTRE, ELO_PER_LOGIT, PRIOR_PRECISION, PRIOR_SD, BTFit, contrast, fit_bt, hessian, neg_log_likelihood,
    newton_minimize, sandwich_covariance, to_elo,
)
from sbs_tui.core.ranking.outcomes import Outcomes, PairStats
from sbs_tui.core.ranking.report import Z95, Ranking, pair_matrices, tallied_ratings, votes_needed


SMALL_VOTES_PER_MODEL = 150  # --ci auto: below this many votes per model the profile ∪ sandwich interval, else sandwich
CI_METHODS = ("auto", "bootstrap", "sandwich", "profile", "none")


def choose_ci(outcomes: Outcomes, ci: str) -> tuple[str, str | None]:
    """The interval method ``--ci auto`` picks for these data, and why (None when not auto).

    Measured on the grid of ``bench/ci_coverage.py`` (10 models; 100 / 300 / 3,000 votes; with and without ties;
    one-sided cases; 200 sims each): the bootstrap percentile interval (200 rounds) covers 0.92–0.94; the
    sandwich holds 0.943–0.951; the quasi-profile-likelihood ∪ sandwich interval 0.95–0.96 where votes are few
    and models go undefeated. So: profile ∪ sandwich below :data:`SMALL_VOTES_PER_MODEL` votes per model (its
    cost, two root searches per model, is small there), the sandwich above (instant at any size)."""
    if ci != "auto":
        return ci, None
    t = outcomes.tallies()["votes"]
    voted = t[t > 0]
    per_model = float(voted.mean()) if len(voted) else 0.0
    if per_model < SMALL_VOTES_PER_MODEL:
        return "profile", (f"auto: {per_model:,.0f} votes per model (< {SMALL_VOTES_PER_MODEL}): profile likelihood "
                           "∪ sandwich, which holds 95% coverage at small n where the bootstrap does not")
    return "sandwich", f"auto: {per_model:,.0f} votes per model (≥ {SMALL_VOTES_PER_MODEL}): sandwich"


def rank_bt(outcomes: Outcomes, *, ci: str = "auto", rounds: int = 1000, seed: int = 0,
            anchor: str | None = None, matrices: bool = False, prior: float | None = None,
            threads: int | None = None) -> Ranking:
    """BT ratings on the Elo scale with 95% intervals (``ci``: auto, bootstrap, sandwich, profile or none), Rank
    (UB), tallies and votes-needed, fitted per connected component; ``anchor`` (a model name) sits at 1000.
    ``prior``: None — the MLE where it exists, else the weak prior (said so); a number — that precision always.
    Raises KeyError(anchor) if the anchor has no votes."""
    if ci not in CI_METHODS:
        raise ValueError(f"unknown ci {ci!r}")
    if anchor is not None and anchor not in outcomes.names:
        raise KeyError(anchor)
    ci, rule = choose_ci(outcomes, ci)
    info: dict[str, Any] = {
        "scale": "elo (1000 + 400·log10 odds)", "ci": ci, "confidence": 0.95,
        "anchor": anchor,
        "prior_sd_logits": None if prior == 0 else PRIOR_SD if prior in (None, PRIOR_PRECISION) else prior ** -0.5,
    }
    if rule is not None:
        info["ci_rule"] = rule
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
    mle_everywhere = True
    for c, comp in enumerate(components):
        sub = outcomes.subset(comp)
        fit, rating, low, high, extra = _rank_component(c, sub, anchor=anchor, ci=ci, rounds=rounds, seed=seed,
                                                        prior=prior, threads=threads, info=info,
                                                        warnings=ranking.warnings)
        mle_everywhere = mle_everywhere and fit.prior == 0
        ranking.models.extend(tallied_ratings(outcomes, comp, rating, low, high, extra))
        theta_all.update(zip(sub.names, fit.theta))
    info["mle"] = mle_everywhere
    ranking.votes_needed = votes_needed(ranking.models)
    if matrices:
        component_of = {m.model: m.extra["component"] for m in ranking.models}
        ranking.matrices = pair_matrices(outcomes, [m.model for m in ranking.models], theta_all, component_of)
    return ranking


def _rank_component(c: int, sub: Outcomes, *, anchor: str | None, ci: str, rounds: int, seed: int,
                    prior: float | None, threads: int | None, info: dict[str, Any],
                    warnings: list[str]) -> tuple[BTFit, Any, Any, Any, list[dict[str, Any]]]:
    """One connected component (``c``, numbered from 0) of :func:`rank_bt`: its fit, Elo ratings, interval bounds
    and per-model extras; what the reader must know is appended to ``warnings``."""
    local_anchor = sub.names.index(anchor) if anchor in sub.names else None
    if anchor is not None and local_anchor is None:
        warnings.append(f"component {c + 1} does not contain the anchor {anchor!r}; centred on 1000")
    ps = sub.pair_stats()
    fit = fit_bt(ps, sub.n_models, prior)
    finite = [k for k in range(sub.n_models) if fit.unbounded[k] == 0]
    if prior is None and fit.prior > 0 and 0 < len(finite) < sub.n_models:
        # Some MLEs are infinite. The others' ratings are the MLE's limit: the fit of the votes among them
        # alone (votes against a model at ±∞ carry no information in the limit), centred on them — a mean
        # over a placeholder the prior made up would shift every rating (coverage ~0.80, issue 19).
        ref = local_anchor if local_anchor in finite else None
        core = sub.subset(finite)
        core_fit = fit_bt(core.pair_stats(), len(finite))
        core_anchor = finite.index(ref) if ref is not None else None
        core_rating = to_elo(core_fit.theta, core_anchor)
        core_low, core_high = _intervals(core, core_fit, ci, rounds, seed, core_anchor, threads, core_rating,
                                         boot_prior=fit.prior)
        shift = fit.theta[ref] if ref is not None else fit.theta[finite].mean()
        rating = ELO_CENTRE + ELO_PER_LOGIT * (fit.theta - shift)
        low = np.full(sub.n_models, np.nan)
        high = np.full(sub.n_models, np.nan)
        rating[finite], low[finite], high[finite] = core_rating, core_low, core_high
        centre: list[int] | None = finite if ref is None else None
        if ref is None:
            info["centre"] = "the models with a finite MLE"
    else:
        ref = local_anchor
        rating = to_elo(fit.theta, local_anchor)
        low, high = _intervals(sub, fit, ci, rounds, seed, local_anchor, threads, rating)
        centre = None
    low, high = np.array(low, dtype=float), np.array(high, dtype=float)
    if ci != "none":
        for k, side in enumerate(fit.unbounded):
            if side == 1:
                high[k], low[k] = np.inf, profile_bound(ps, fit, k, +1, ref, centre)
            elif side == -1:
                low[k], high[k] = -np.inf, profile_bound(ps, fit, k, -1, ref, centre)
            elif side == 2:
                low[k], high[k] = -np.inf, np.inf
    if ref is not None:  # the anchor is fixed by definition
        low[ref] = high[ref] = rating[ref]
    extra = [{"component": c + 1, "set_by_prior": k in set(fit.prior_bound)} for k in range(sub.n_models)]
    warnings.extend(_prior_warnings(sub, fit, centre))
    return fit, rating, low, high, extra


def _prior_warnings(sub: Outcomes, fit: BTFit, centre: list[int] | None) -> list[str]:
    """Why a rating is held finite by the weak prior: which model never lost (or won), said once each."""
    warnings: list[str] = []
    for k in fit.prior_bound:
        what = {1: "never lost to the others", -1: "never won against the others",
                2: "is not comparable with the rest"}[fit.unbounded[k]]
        if fit.unbounded[k] == 1 and _won_all(sub, k):
            what = "never lost"
        elif fit.unbounded[k] == -1 and _lost_all(sub, k):
            what = "never won"
        warnings.append(
            f"{sub.names[k]!r} {what}: its MLE is infinite; the rating shown is held finite by the weak prior "
            f"(sd {PRIOR_SD:g} logits) and its interval is one-sided (open towards "
            f"{'+∞' if fit.unbounded[k] == 1 else '−∞' if fit.unbounded[k] == -1 else '±∞'})"
            + ("; the other ratings are centred on the models with a finite MLE" if centre else "")
        )
    return warnings


def _intervals(sub: Outcomes, fit: BTFit, ci: str, rounds: int, seed: int, anchor: int | None,
               threads: int | None, rating: np.ndarray, boot_prior: float | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Elo-scale 95% bounds of one component's models (finite MLE side; one-sided models are set by the caller).
    ``boot_prior``: the bootstrap's prior (the models beside a one-sided one keep the weak prior's resamples, as
    the whole component did before their ratings were fitted on their own)."""
    m = sub.n_models
    if ci == "bootstrap" and rounds > 0:
        boot = bootstrap_bt(sub, fit, rounds, seed, prior=boot_prior, threads=threads)
        if anchor is not None:
            with np.errstate(invalid="ignore"):
                boot = boot - boot[:, [anchor]]
        return percentile_interval(ELO_CENTRE + ELO_PER_LOGIT * boot)  # rows are centred already
    if ci in ("sandwich", "profile") and m > 1:
        cmat = contrast(m, anchor)
        cov = cmat @ sandwich_covariance(fit, sub) @ cmat.T
        half = Z95 * ELO_PER_LOGIT * np.sqrt(np.clip(np.diag(cov), 0, None))
        low, high = rating - half, rating + half
        if ci == "profile" and fit.prior == 0:
            from sbs_tui.core.ranking.profile import dispersion, profile_interval

            ps, phi = sub.pair_stats(), dispersion(sub, fit.theta)
            centre = ELO_CENTRE if anchor is None else rating[anchor]
            for k in range(m):
                if k == anchor:
                    continue
                lo, hi = profile_interval(ps, fit.theta, k, phi, anchor)
                low[k] = min(low[k], centre + ELO_PER_LOGIT * lo)
                high[k] = max(high[k], centre + ELO_PER_LOGIT * hi)
        return low, high
    if m == 1:
        return rating.copy(), rating.copy()
    return np.full(m, np.nan), np.full(m, np.nan)


def _won_all(sub: Outcomes, k: int) -> bool:
    t = sub.tallies()
    return bool(t["credit"][k] >= t["votes"][k])


def _lost_all(sub: Outcomes, k: int) -> bool:
    return bool(sub.tallies()["credit"][k] <= 0)


CHI2_1_95 = 3.841458820694124  # the 95% quantile of χ²(1)


def profile_bound(ps: PairStats, fit: BTFit, k: int, side: int, anchor: int | None,
                  centre: list[int] | None = None) -> float:
    """The finite end of a one-sided interval for a model whose MLE is infinite (towards ``side``), on the Elo
    scale: with t = θ_k − mean(θ of the others), the t at which the profile deviance 2·(min over the others of
    the objective at t − its infimum as t → ±∞) reaches χ²₁(0.95), i.e. the likelihood-ratio interval's finite
    end. The objective is the fitted one without the prior on θ_k itself (on the others its pull is negligible
    at finite ratings and keeps other never-beaten models finite)."""
    from scipy.optimize import brentq

    m = len(fit.theta)
    others = np.flatnonzero(np.arange(m) != k)
    cache: dict[float, np.ndarray] = {}
    jac = np.zeros((m, m - 1))  # x (the others) → θ, with θ_k = mean(x) + t
    jac[others, np.arange(m - 1)] = 1.0
    jac[k] = 1.0 / (m - 1)
    pin = np.zeros((m - 1, m - 1)) if fit.prior > 0 else np.full((m - 1, m - 1), 1.0 / (m - 1))
    no_prior_on_k = np.zeros((m, m))
    no_prior_on_k[k, k] = fit.prior
    start = {"x": fit.theta[others].copy()}

    def objective(t: float) -> float:
        def full(x: np.ndarray) -> np.ndarray:
            th = np.empty(m)
            th[others], th[k] = x, x.mean() + t
            return th

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            th = full(x)
            nll, grad = neg_log_likelihood(th, ps, fit.prior)
            grad[k] -= fit.prior * th[k]
            return nll - 0.5 * fit.prior * th[k] ** 2, jac.T @ grad

        def hess(x: np.ndarray) -> np.ndarray:
            return jac.T @ (hessian(full(x), ps, fit.prior) - no_prior_on_k) @ jac + pin

        # Newton (the objective is convex in x), warm-started from the last t: ~20× faster than L-BFGS-B here
        x, _ = newton_minimize(fun, hess, start["x"], gtol=1e-10)
        start["x"] = x
        cache[t] = full(x)
        return fun(x)[0]

    t_hat = float(fit.theta[k] - fit.theta[others].mean())
    f_inf = objective(t_hat + side * 40.0)
    deviance = lambda t: 2.0 * (objective(t) - f_inf) - CHI2_1_95  # noqa: E731
    step = 1.0
    far = t_hat - side * step
    while deviance(far) < 0 and step < 1e3:
        step *= 2
        far = t_hat - side * step
    t = brentq(deviance, min(far, t_hat), max(far, t_hat), xtol=1e-8)
    objective(t)
    if centre is not None:  # on the scale centred on these models (the ones with a finite MLE)
        return float(ELO_CENTRE + ELO_PER_LOGIT * (cache[t][k] - cache[t][centre].mean()))
    return float(to_elo(cache[t], anchor)[k])
