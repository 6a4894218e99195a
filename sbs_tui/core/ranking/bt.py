"""Bradley-Terry maximum likelihood on aggregated counts, with a sandwich (robust) covariance.

Model: P(j beats i) = σ(θ_j − θ_i). A vote giving j the credit s ∈ [0, 1] contributes
s·log σ(θ_j − θ_i) + (1 − s)·log σ(θ_i − θ_j): ties and both-bad (s = ½) count half a win each, and
AlpacaEval's weighted verdicts enter with their weight. The log-likelihood depends only on each pair's vote
count ``n`` and credit ``w`` (see :mod:`.outcomes`), so the fit costs O(pairs), not O(votes).

Why a weak prior: a model that never lost (or never won) has no finite MLE — its θ runs off to ±∞. We add a
Gaussian prior θ ~ N(0, σ²) with σ = :data:`PRIOR_SD` logits (≈ 1,737 Elo points), i.e. the penalty
λ/2·‖θ‖² with λ = 1/σ². With a few hundred votes per model it moves ratings by far less than 0.01 Elo; for an
undefeated model it keeps the rating finite (and large), and :func:`fit_bt` reports which models it affects.
Because every vote adds as much to one model's score as it takes from the other's, the penalised optimum has
Σθ = 0 exactly: ratings come out centred.

Elo scale: rating = 1000 + 400·log10(e)·θ (400·log10 of the odds), centred on 1000 or shifted so an
anchor model sits at 1000.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sbs_tui.core.ranking.outcomes import Outcomes, PairStats

PRIOR_SD = 10.0
PRIOR_PRECISION = 1.0 / PRIOR_SD**2
ELO_PER_LOGIT = 400.0 / math.log(10.0)
ELO_CENTRE = 1000.0


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # stable for large |x|


def neg_log_likelihood(theta: np.ndarray, ps: PairStats, prior: float = PRIOR_PRECISION) -> tuple[float, np.ndarray]:
    """Penalised negative log-likelihood and its gradient."""
    d = theta[ps.j] - theta[ps.i]
    # log σ(d) = -logaddexp(0, -d)
    nll = float(np.sum(ps.w * np.logaddexp(0.0, -d) + (ps.n - ps.w) * np.logaddexp(0.0, d)))
    resid = ps.w - ps.n * sigmoid(d)  # d nll/d d = -resid
    m = len(theta)
    grad = np.bincount(ps.i, resid, m) - np.bincount(ps.j, resid, m)
    nll += 0.5 * prior * float(theta @ theta)
    return nll, grad + prior * theta


def hessian(theta: np.ndarray, ps: PairStats, prior: float = PRIOR_PRECISION) -> np.ndarray:
    """Observed (= expected) information: a weighted graph Laplacian plus the prior precision."""
    m = len(theta)
    p = sigmoid(theta[ps.j] - theta[ps.i])
    wt = ps.n * p * (1.0 - p)
    return _laplacian(ps.i, ps.j, wt, m) + prior * np.eye(m)


def _laplacian(i: np.ndarray, j: np.ndarray, wt: np.ndarray, m: int) -> np.ndarray:
    """Σ_pairs wt·(e_j − e_i)(e_j − e_i)ᵀ for unique pairs (i, j)."""
    lap = np.zeros((m, m))
    lap[i, j] = -wt
    lap[j, i] = -wt
    lap[np.diag_indices(m)] = np.bincount(i, wt, m) + np.bincount(j, wt, m)
    return lap


@dataclass(frozen=True)
class BTFit:
    theta: np.ndarray  # logits, Σθ = 0
    hessian: np.ndarray
    prior_bound: list[int]  # models whose rating is set by the prior (never lost or never won)
    iterations: int


def fit_bt(ps: PairStats, n_models: int, prior: float = PRIOR_PRECISION) -> BTFit:
    """Penalised MLE with scipy's exact trust-region Newton method (quadratic convergence; M ≤ a few 1000)."""
    from scipy.optimize import minimize

    if prior <= 0:
        raise ValueError("the prior precision must be positive (it keeps undefeated models finite)")
    x0 = np.zeros(n_models)
    res = minimize(
        neg_log_likelihood, x0, args=(ps, prior), jac=True,
        hess=lambda t, *_: hessian(t, ps, prior), method="trust-exact",
        options={"gtol": 1e-9, "maxiter": 500},
    )
    theta = res.x - res.x.mean()
    m = n_models
    won = np.bincount(ps.j, ps.w, m) + np.bincount(ps.i, ps.n - ps.w, m)
    played = np.bincount(ps.j, ps.n, m) + np.bincount(ps.i, ps.n, m)
    prior_bound = [k for k in range(m) if played[k] > 0 and (won[k] <= 0 or won[k] >= played[k])]
    return BTFit(theta, hessian(theta, ps, prior), prior_bound, int(res.nit))


def sandwich_covariance(fit: BTFit, outcomes: Outcomes) -> np.ndarray:
    """Robust covariance H⁻¹ M H⁻¹ of θ, M = Σ_votes score·scoreᵀ (the empirical "meat").

    Why sandwich: ties and weighted verdicts make a vote's outcome less variable than a Bernoulli trial, and real
    votes are not independent draws from the model; the model-based H⁻¹ would be wrong in both cases.
    A vote (i, j, s) has score (s − p_ij)(e_j − e_i), so M is a Laplacian with pair weights Σ n·(s − p)².
    """
    theta = fit.theta
    m = len(theta)
    p = sigmoid(theta[outcomes.j] - theta[outcomes.i])
    pi, pj, inverse = outcomes.pair_index()
    wt = np.bincount(inverse, outcomes.n * (outcomes.s - p) ** 2, len(pi))
    meat = _laplacian(pi, pj, wt, m)
    h_inv = np.linalg.inv(fit.hessian)
    return h_inv @ meat @ h_inv


def to_elo(theta: np.ndarray, anchor: int | None = None) -> np.ndarray:
    """Logits → Elo scale; centred on 1000, or shifted so model ``anchor`` is at 1000. Works on (R, M) too."""
    theta = np.asarray(theta)
    ref = theta[..., [anchor]] if anchor is not None else theta.mean(axis=-1, keepdims=True)
    return ELO_CENTRE + ELO_PER_LOGIT * (theta - ref)


def contrast(m: int, anchor: int | None) -> np.ndarray:
    """The linear map θ → (θ − reference), reference = mean or the anchor model; for covariances."""
    c = np.eye(m)
    if anchor is None:
        c -= 1.0 / m
    else:
        c[:, anchor] -= 1.0
    return c


def predicted_win_matrix(theta: np.ndarray) -> np.ndarray:
    """P(row beats column) under the fitted model."""
    return sigmoid(theta[:, None] - theta[None, :])
