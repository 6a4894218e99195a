"""Bradley-Terry maximum likelihood on aggregated counts, with a sandwich (robust) covariance.

Model: P(j beats i) = σ(θ_j − θ_i). A vote giving j the credit s ∈ [0, 1] contributes
s·log σ(θ_j − θ_i) + (1 − s)·log σ(θ_i − θ_j): ties and both-bad (s = ½) count half a win each, and
AlpacaEval's weighted verdicts enter with their weight. The log-likelihood depends only on each pair's vote
count ``n`` and credit ``w`` (see :mod:`.outcomes`), so the fit costs O(pairs), not O(votes).

Why the plain MLE by default: it is what FastChat (an unpenalised logistic regression) and choix (α = 0)
report, and any prior moves ratings on small campaigns (N(0, 10²) moved them 0.4–0.85 Elo at 80–320 votes
per model). The MLE exists exactly when the "got credit from" graph (an edge i → j when i won at least part
of a vote against j) is strongly connected (Zermelo 1929; Ford 1957): otherwise some group of models never
lost to the rest and its θ runs off to +∞. :func:`mle_exists` checks that with scipy's strongly connected
components. Only then is the weak Gaussian prior θ ~ N(0, σ²), σ = :data:`PRIOR_SD` logits (≈ 1,737 Elo),
used — it keeps every rating finite — and :func:`fit_bt` says which models have an infinite MLE and on which
side (``unbounded``), so intervals can be one-sided. Active sampling (:mod:`sbs_tui.core.queue.annotator`) passes its own
stronger prior (models without votes must stay uncertain, not undefined).

Either way the optimum has Σθ = 0 (every vote adds to one score what it takes from the other; without a prior
we centre explicitly): ratings come out centred. Without a prior the Hessian is a graph Laplacian, singular
along the all-ones direction; covariances then use its pseudo-inverse, i.e. they are covariances of centred θ.

Elo scale: rating = 1000 + 400·log10(e)·θ (400·log10 of the odds), centred on 1000 or shifted so an
anchor model sits at 1000.
"""

from __future__ import annotations

import math
from collections.abc import Callable
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
    hessian: np.ndarray  # of the objective at θ (singular along 1 when prior == 0)
    prior_bound: list[int]  # models whose MLE is infinite: their rating is set by the prior
    iterations: int
    prior: float = PRIOR_PRECISION  # precision actually used: 0 = the plain MLE
    unbounded: tuple[int, ...] = ()  # per model: 0 finite MLE, +1 MLE +∞, −1 MLE −∞, 2 undetermined

    def hessian_inverse(self) -> np.ndarray:
        """H⁻¹, or for the MLE (H a Laplacian) its pseudo-inverse: the map for centred θ."""
        return _inverse(self.hessian, self.prior)


def _inverse(h: np.ndarray, prior: float) -> np.ndarray:
    if prior > 0:
        return np.linalg.inv(h)
    m = h.shape[0]
    ones = np.full((m, m), 1.0 / m)
    return np.linalg.inv(h + ones) - ones  # (L + 11ᵀ/m)⁻¹ − 11ᵀ/m = L⁺ for a connected Laplacian L


def credit_graph_sccs(ps: PairStats, n_models: int) -> tuple[int, np.ndarray]:
    """Strongly connected components of the graph with an edge i → j when i got credit from j."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    to_j = ps.w > 0  # j got credit from i: j → i
    to_i = ps.n - ps.w > 0
    rows = np.r_[ps.j[to_j], ps.i[to_i]]
    cols = np.r_[ps.i[to_j], ps.j[to_i]]
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_models, n_models)).tocsr()
    return connected_components(graph, directed=True, connection="strong")


def unbounded_sides(ps: PairStats, n_models: int) -> np.ndarray:
    """Per model, where its MLE goes relative to the largest strongly connected group of the credit graph (the
    reference, whose differences stay finite): 0 finite, +1 → +∞ (its group beat the reference, directly or
    through others, and was never beaten back), −1 → −∞ (the reverse), 2 undetermined (neither). All zeros
    exactly when the MLE exists. Models without votes are 0 (they are not fitted)."""
    played = np.bincount(ps.i, ps.n, n_models) + np.bincount(ps.j, ps.n, n_models)
    voted = played > 0
    if _strongly_connected(ps, voted):
        return np.zeros(n_models, dtype=np.int64)  # the common case, answered without importing scipy.sparse
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import breadth_first_order

    _count, labels = credit_graph_sccs(ps, n_models)
    out = np.zeros(n_models, dtype=np.int64)
    groups = sorted(set(labels[voted].tolist()), key=lambda g: (-int(np.sum(labels[voted] == g)), g))
    if len(groups) <= 1:
        return out
    ref = int(np.flatnonzero(voted & (labels == groups[0]))[0])
    if np.sum(labels == labels[ref]) == 1:  # no strongly connected core: every rating runs off somewhere
        won = np.bincount(ps.j, ps.w, n_models) + np.bincount(ps.i, ps.n - ps.w, n_models)
        side = np.where(won >= played, 1, np.where(won <= 0, -1, 2))
        out[voted] = side[voted]
        return out
    to_j = ps.w > 0
    to_i = ps.n - ps.w > 0
    rows = np.r_[ps.j[to_j], ps.i[to_i]]  # winner → loser
    cols = np.r_[ps.i[to_j], ps.j[to_i]]
    beat = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(n_models, n_models)).tocsr()
    below = np.zeros(n_models, dtype=bool)  # the reference beat them (through a chain)
    below[breadth_first_order(beat, ref, directed=True, return_predecessors=False)] = True
    above = np.zeros(n_models, dtype=bool)  # they beat the reference (through a chain)
    above[breadth_first_order(beat.T.tocsr(), ref, directed=True, return_predecessors=False)] = True
    in_ref = labels == labels[ref]
    out[voted & ~in_ref] = np.where(above & ~below, 1, np.where(below & ~above, -1, 2))[voted & ~in_ref]
    return out


def _strongly_connected(ps: PairStats, voted: np.ndarray) -> bool:
    """Whether every model with votes reaches every other in the credit graph (the MLE exists): a search forwards
    and one backwards from one model, a level at a time over the edge arrays. Why not scipy's strongly connected
    components here: importing scipy.sparse costs 0.2–0.4 s of every ``sbs rank``, and this yes/no is all the
    usual campaign (every model won and lost something) needs; the rest goes to :func:`credit_graph_sccs`."""
    if not voted.any():
        return True
    to_j = ps.w > 0
    to_i = ps.n - ps.w > 0
    src = np.r_[ps.j[to_j], ps.i[to_i]]  # an edge src → dst: src got credit from dst
    dst = np.r_[ps.i[to_j], ps.j[to_i]]
    start = int(np.argmax(voted))
    for a, b in ((src, dst), (dst, src)):
        seen = np.zeros(len(voted), dtype=bool)
        seen[start] = True
        frontier = seen.copy()
        while frontier.any():
            nxt = np.zeros(len(voted), dtype=bool)
            nxt[b[frontier[a]]] = True
            frontier = nxt & ~seen
            seen |= frontier
        if not seen[voted].all():
            return False
    return True


def mle_exists(ps: PairStats, n_models: int) -> bool:
    """True when the unpenalised MLE is finite: the credit graph among the models with votes is strongly
    connected (assumes the comparison graph is connected; :mod:`.btrank` fits each component on its own)."""
    return not unbounded_sides(ps, n_models).any()


def fit_bt(ps: PairStats, n_models: int, prior: float | None = None) -> BTFit:
    """Bradley-Terry fit by Newton's method with a backtracking line search (:func:`newton_minimize`).

    ``prior``: None (default) — the plain MLE when it exists, else the weak prior :data:`PRIOR_PRECISION`
    (``fit.prior`` says which, ``fit.unbounded`` which models are infinite in the MLE); a positive number — that
    Gaussian precision, always (MAP); 0 — the MLE, ValueError when it does not exist."""
    sides = unbounded_sides(ps, n_models)
    if prior is None:
        prior = PRIOR_PRECISION if sides.any() else 0.0
    elif prior < 0 or (prior == 0 and sides.any()):
        raise ValueError("the MLE does not exist (some models never lost or never won); use a positive prior")
    m = n_models
    if prior > 0:
        x, nit = newton_minimize(lambda t: neg_log_likelihood(t, ps, prior), lambda t: hessian(t, ps, prior),
                                 np.zeros(m), gtol=1e-9)
        theta = x - x.mean()
    else:
        # The likelihood is invariant to a common shift: fix θ_0 = 0 (free parameters θ_1..θ_{m−1}), then centre.
        played = np.bincount(ps.i, ps.n, m) + np.bincount(ps.j, ps.n, m)
        free = np.flatnonzero(np.arange(m) != int(np.argmax(played > 0)))

        def fun(x: np.ndarray) -> tuple[float, np.ndarray]:
            t = np.zeros(m)
            t[free] = x
            nll, grad = neg_log_likelihood(t, ps, 0.0)
            return nll, grad[free]

        def hess(x: np.ndarray) -> np.ndarray:
            t = np.zeros(m)
            t[free] = x
            return hessian(t, ps, 0.0)[np.ix_(free, free)] + np.diag((played[free] <= 0).astype(float))

        x, nit = newton_minimize(fun, hess, np.zeros(len(free)), gtol=1e-10)
        theta = np.zeros(m)
        theta[free] = x
        theta -= theta.mean()
    bound = [k for k in range(m) if sides[k] != 0]
    return BTFit(theta, hessian(theta, ps, prior), bound, nit, float(prior),
                 tuple(int(x) for x in sides))


def newton_minimize(fun: Callable[[np.ndarray], tuple[float, np.ndarray]], hess: Callable[[np.ndarray], np.ndarray],
                    x0: np.ndarray, *, gtol: float, maxiter: int = 500) -> tuple[np.ndarray, int]:
    """Minimise a smooth strictly convex function (``fun`` → value and gradient, ``hess`` → Hessian) by Newton's
    method with a backtracking (Armijo) line search; stops when ‖gradient‖₂ < ``gtol``. Returns (x, iterations).

    Why not scipy.optimize (``trust-exact``, which this replaced with the same optimum to ~1e-10): importing it
    costs 0.6 s, half of ``sbs rank --ci sandwich`` end to end, and for the BT objective — convex, with an exact
    positive-definite Hessian of at most a few thousand rows — a damped Newton step is all trust-exact did.
    """
    x = np.array(x0, dtype=float)
    f, g = fun(x)
    nit = 0
    while nit < maxiter and float(np.linalg.norm(g)) >= gtol:
        h = hess(x)
        try:
            step = -np.linalg.solve(h, g)
        except np.linalg.LinAlgError:
            step = -np.linalg.lstsq(h, g, rcond=None)[0]
        slope = float(g @ step)
        if not slope < 0:  # not a descent direction (a numerically singular Hessian): steepest descent instead
            step, slope = -g, -float(g @ g)
        t = 1.0
        while True:
            x_new = x + t * step
            f_new, g_new = fun(x_new)
            if f_new <= f + 1e-4 * t * slope:
                break
            # At the optimum the value stops changing in floating point: accept a step that still shrinks the
            # gradient rather than halve for ever.
            if f_new - f <= 1e-12 * max(1.0, abs(f)) and np.linalg.norm(g_new) < np.linalg.norm(g):
                break
            t *= 0.5
            if t < 1e-12:
                return x, nit  # no progress possible in floating point
        x, f, g = x_new, f_new, g_new
        nit += 1
    return x, nit


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
    h_inv = fit.hessian_inverse()
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
