"""Profile-likelihood intervals for Bradley-Terry ratings: the small-sample interval of ``--ci auto``.

Why: with few votes per model the Wald intervals (sandwich, and the bootstrap percentile, whose resamples often
leave a model undefeated) are too narrow — at 100 votes over 10 models the bootstrap covered 0.915–0.937 and the
sandwich 0.932–0.943 (issue 19). The likelihood-ratio interval follows the skewed logistic likelihood instead of a
normal approximation: the set of t where the profile deviance of t = θ_k − reference stays under χ²₁(0.95), the
other ratings re-fitted at each t. Ties and weighted verdicts make votes less variable than coin flips, so the
deviance is divided by the Pearson dispersion φ̂ = Σ n·(s − p)²/(p(1 − p)) / (N − (m − 1)) (quasi-likelihood);
without that, 30% ties over-cover at 0.976.

``--ci auto`` then takes, at small n, at each end the wider of this interval and the sandwich's: where either
holds its level the union does (measured in ``bench/ci_coverage.py``; the grid is in docs/ranking.md).
"""

from __future__ import annotations

import numpy as np

from sbs_tui.core.ranking.bt import hessian, neg_log_likelihood, newton_minimize, sigmoid
from sbs_tui.core.ranking.outcomes import Outcomes, PairStats

CHI2_1_95 = 3.841458820694124  # the 95% quantile of χ²(1)
MAX_LOGITS = 50.0  # a bound farther than this from the estimate is reported as unbounded


def dispersion(outcomes: Outcomes, theta: np.ndarray) -> float:
    """Pearson's φ̂ of the fitted BT model (1 for coin-flip votes; below 1 with ties), 1 when undefined."""
    p = sigmoid(theta[outcomes.j] - theta[outcomes.i])
    dof = outcomes.total_votes - (outcomes.n_models - 1)
    if dof <= 0:
        return 1.0
    pearson = float(np.sum(outcomes.n * (outcomes.s - p) ** 2 / np.maximum(p * (1 - p), 1e-300)))
    return pearson / dof if pearson > 0 else 1.0


def profile_interval(ps: PairStats, theta: np.ndarray, k: int, phi: float = 1.0,
                     anchor: int | None = None) -> tuple[float, float]:
    """95% quasi-profile-likelihood interval of θ_k − reference (the mean of θ, or θ_anchor), in logits, for the
    plain MLE ``theta`` (centred). ±∞ where the deviance never reaches the threshold within :data:`MAX_LOGITS`."""
    from scipy.optimize import brentq

    m = len(theta)
    others = np.flatnonzero(np.arange(m) != k)
    # θ_k = a·x + r·t with x the other ratings: keeps θ_k − reference = t
    a = np.full(m - 1, 1.0 / (m - 1)) if anchor is None else (others == anchor).astype(float)
    r = m / (m - 1) if anchor is None else 1.0
    jac = np.zeros((m, m - 1))
    jac[others, np.arange(m - 1)] = 1.0
    jac[k] = a
    pin = np.full((m - 1, m - 1), 1.0 / (m - 1))  # the objective is flat along a common shift: pin it
    nll_hat = neg_log_likelihood(theta, ps, 0.0)[0]
    t_hat = float(theta[k] - (theta.mean() if anchor is None else theta[anchor]))
    start = {"x": theta[others].copy()}

    def deviance_gap(t: float) -> float:
        def full(x: np.ndarray) -> np.ndarray:
            th = np.empty(m)
            th[others], th[k] = x, a @ x + r * t
            return th

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            nll, grad = neg_log_likelihood(full(x), ps, 0.0)
            return nll, jac.T @ grad

        x, _ = newton_minimize(fun, lambda x: jac.T @ hessian(full(x), ps, 0.0) @ jac + pin, start["x"], gtol=1e-9)
        return 2.0 * (fun(x)[0] - nll_hat) / phi - CHI2_1_95

    bounds = []
    for side in (-1.0, 1.0):
        step = 0.25
        while deviance_gap(t_hat + side * step) < 0:
            step *= 2
            if step > MAX_LOGITS:
                break
        if step > MAX_LOGITS:
            bounds.append(side * np.inf)
            continue
        far = t_hat + side * step
        bounds.append(brentq(deviance_gap, min(far, t_hat), max(far, t_hat), xtol=1e-7))
    return bounds[0], bounds[1]
