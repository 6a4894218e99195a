"""Bootstrap of Bradley-Terry ratings: resample the aggregated counts, refit every round at once.

Why this is the same bootstrap as resampling votes: drawing N votes with replacement from N votes is a
multinomial draw of the distinct outcome cells with probabilities count/N. So each round is one multinomial
draw over ~15k cells instead of 1M index draws (sampled exactly, by Poisson counts with a fix-up: see _draw).

Why it is fast: rounds are refitted together, as (rounds × pairs) array operations. Each round's solution is
close to the full-data estimate θ̂, so a Newton iteration with the *fixed* Hessian H(θ̂) converges linearly at a
rate of roughly the sampling noise (a few %), i.e. to 1e-7 logits (2e-5 Elo) in about five iterations; rounds
that converge slowly (a resample that leaves a model undefeated, say) are refitted by a batched damped Newton
method with their own Hessians. Rounds are processed
in fixed blocks, each with its own child seed of ``seed``, on a small thread pool (numpy releases the GIL), so
results depend on the seed only — not on the number of threads.

Plain MLE (``fit.prior == 0``): a resample can leave a model undefeated or winless, and then *its* MLE is
infinite. Such rounds are fitted with the weak prior (so the other models get a value) and the model's θ is
recorded as ±∞ — never a finite number the prior made up — so a percentile bound that falls among them is
infinite (``null`` in JSON). Other resamples without an MLE (rarer: a group that never lost to the rest) are
refitted exactly with :func:`fit_bt`'s automatic choice and the same ±∞ marking (NaN where undetermined).

Why numpy's ``bincount`` and not sparse matrices for the sums (cells → pairs, pairs → models): importing
scipy.sparse cost 0.16 s of CPU on the main thread before any round ran, a tenth of ``sbs rank --bootstrap
1000`` end to end. The sums themselves cost about that much more than CSR products (measured: the process's CPU
time is the same), but they run in the worker threads. ``bincount`` adds its terms one after another in the
order given — the order a CSR product adds them (:class:`_Sums`) — so the ratings are the same to the last bit
as those of the sparse version this replaced (checked against it on the AlpacaEval data and 1M votes).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any  # scipy sparse matrices (scipy ships no types)

import numpy as np

from sbs_tui.core.ranking.bt import PRIOR_PRECISION, BTFit, fit_bt, sigmoid
from sbs_tui.core.ranking.outcomes import Outcomes, PairStats

BLOCK_ROUNDS = 50
BLOCK_CELLS = 2_000_000  # at most this many resampled counts per block (bounds memory for many distinct cells)
TOLERANCE = 1e-7  # logits; 1e-7 logits ≈ 2e-5 Elo
MAX_FIXED_ITERATIONS = 60


def block_rounds(cells: int) -> int:
    """Rounds per block: 50, fewer when the data has so many distinct cells (e.g. 1M weighted verdicts, each its
    own cell) that 50 rounds of counts would take too much memory. Depends on the data only, never on threads."""
    return max(1, min(BLOCK_ROUNDS, BLOCK_CELLS // max(cells, 1)))


def _block_seeds(rounds: int, seed: int, per_block: int = BLOCK_ROUNDS) -> list[tuple[np.random.SeedSequence, int]]:
    children = np.random.SeedSequence(seed).spawn((rounds + per_block - 1) // per_block)
    return [(child, min(per_block, rounds - b * per_block)) for b, child in enumerate(children)]


def _draw(outcomes: Outcomes, child: np.random.SeedSequence, size: int) -> np.ndarray:
    """``size`` exact Multinomial(total, n / Σn) draws, about 40% faster than ``Generator.multinomial``.

    numpy draws a multinomial as one binomial per cell in sequence; at 1M votes over ~15k cells that is most of
    the bootstrap's time. Instead: independent Poisson(total·p) counts (one vectorised call), then fix each
    round's sum. Given their sum T the Poisson counts are Multinomial(T, p), so removing T − total units chosen
    uniformly at random (T > total), or adding total − T independent categorical draws (T < total), yields
    exactly Multinomial(total, p). |T − total| is about √total, so the fix-up is cheap.
    """
    total = int(round(outcomes.total_votes))
    pvals = outcomes.n / outcomes.n.sum()
    rng = np.random.Generator(np.random.PCG64(child))
    k = len(pvals)
    counts = rng.poisson(total * pvals, size=(size, k))
    cdf = np.cumsum(pvals)
    sums = counts.sum(axis=1)
    for r in range(size):
        excess = int(sums[r]) - total
        if excess > 0:
            units = rng.choice(int(sums[r]), size=excess, replace=False, shuffle=False)
            cells = np.searchsorted(np.cumsum(counts[r]), units, side="right")
            counts[r] -= np.bincount(cells, minlength=k)
        elif excess < 0:
            cells = np.minimum(np.searchsorted(cdf, rng.random(-excess), side="right"), k - 1)
            counts[r] += np.bincount(cells, minlength=k)
    return counts


def resampled_counts(outcomes: Outcomes, rounds: int, seed: int) -> Iterator[np.ndarray]:
    """Blocks of multinomially resampled cell counts, shape (block_rounds, cells); deterministic in ``seed``.

    :func:`bootstrap_bt` uses exactly these draws, so a reference implementation can refit the same resamples.
    """
    for child, size in _block_seeds(rounds, seed, block_rounds(len(outcomes.n))):
        yield _draw(outcomes, child, size)


class _Sums:
    """The bootstrap's sums as ``np.bincount`` over flat indices: resampled cells → per-pair votes and credit,
    per-pair residuals → per-model gradient, per-pair counts → per-model votes and credit won.

    Each sum adds its terms from zero in the order a CSR product with the matrices this replaced adds them —
    cells in their (pair-sorted) order; for a model, its pairs in pair order, which (pairs sorted by (i, j),
    i < j) puts the pairs where it is j, (i, k) with i < k, before those where it is i — so the floating-point
    results are the same to the last bit. Index arrays are built once per block size: rows are rounds."""

    def __init__(self, outcomes: Outcomes, rounds: int):
        self.pi, self.pj, self.inverse = outcomes.pair_index()
        self.s = outcomes.s
        self.m, self.p, self.k = outcomes.n_models, len(self.pi), len(outcomes.n)
        row = np.arange(rounds, dtype=np.int64)[:, None]
        self.cell_bins = (row * self.p + self.inverse[None, :]).ravel()
        self.grad_bins = (row * self.m + np.r_[self.pj, self.pi][None, :]).ravel()
        self.i_bins = (row * self.m + self.pi[None, :]).ravel()
        self.j_bins = (row * self.m + self.pj[None, :]).ravel()

    def _sum(self, bins: np.ndarray, weights: np.ndarray, rows: int, width: int) -> np.ndarray:
        return np.bincount(bins[:weights.size], weights.ravel(), rows * width).reshape(rows, width)

    def per_pair(self, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(rounds, cells) counts → per pair (n, w): votes and credit to j."""
        counts = counts.astype(np.float64)
        rows = counts.shape[0]
        return (self._sum(self.cell_bins, counts, rows, self.p),
                self._sum(self.cell_bins, self.s * counts, rows, self.p))

    def gradient(self, resid: np.ndarray) -> np.ndarray:
        """Σ over each model's pairs of ±resid (+ where it is i): the log-likelihood gradient, (rounds, models)."""
        return self._sum(self.grad_bins, np.concatenate([-resid, resid], axis=1), resid.shape[0], self.m)

    def played_won(self, n: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per round and model: votes played, and credit won."""
        rows = n.shape[0]
        played = self._sum(self.i_bins, n, rows, self.m) + self._sum(self.j_bins, n, rows, self.m)
        won = self._sum(self.j_bins, w, rows, self.m) + self._sum(self.i_bins, n - w, rows, self.m)
        return played, won


def refit_rounds(theta_hat: np.ndarray, h_inv: np.ndarray, sums: _Sums, n: np.ndarray, w: np.ndarray,
                 prior: float) -> tuple[np.ndarray, np.ndarray]:
    """Fixed-Hessian Newton for many rounds at once. n, w: (rounds, pairs). Returns θ and a converged mask.

    A round whose steps shrink by less than half per iteration (a resample far from the data: a model that
    never lost in it, say) is given up early and left to :func:`newton_rounds`. The rounds still iterating are
    gathered anew only when one stops (not every iteration)."""
    rounds = n.shape[0]
    pi, pj = sums.pi, sums.pj
    theta = np.repeat(theta_hat[None, :], rounds, axis=0)
    converged = np.zeros(rounds, dtype=bool)
    idx = np.arange(rounds)
    t, n_a, w_a = theta, n, w
    last = np.full(rounds, np.inf)
    for it in range(MAX_FIXED_ITERATIONS):
        if idx.size == 0:
            break
        resid = w_a - n_a * sigmoid(t[:, pj] - t[:, pi])
        grad = sums.gradient(resid) + prior * t
        step = grad @ h_inv
        t = t - step
        size = np.abs(step).max(axis=1)
        done = size < TOLERANCE
        slow = ~done & ((size > 0.5 * last) | ~np.isfinite(size)) & (it >= 1)
        theta[idx] = t
        converged[idx[done]] = True
        last = size
        stop = done | slow
        if stop.any():
            keep = ~stop
            idx, t, n_a, w_a, last = idx[keep], t[keep], n_a[keep], w_a[keep], last[keep]
    return theta, converged


def newton_rounds(theta_hat: np.ndarray, pi: np.ndarray, pj: np.ndarray, n: np.ndarray, w: np.ndarray,
                  prior: float, max_iter: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Damped Newton with each round's own Hessian, batched over rounds (for the few that the fixed-Hessian
    iteration does not settle). The penalised objective is strictly convex, so backtracking on it converges."""
    rounds, m = n.shape[0], len(theta_hat)

    def objective(th: np.ndarray, rows: np.ndarray) -> np.ndarray:
        d = th[:, pj] - th[:, pi]
        return (np.sum(w[rows] * np.logaddexp(0, -d) + (n[rows] - w[rows]) * np.logaddexp(0, d), axis=1)
                + 0.5 * prior * np.sum(th * th, axis=1))

    theta = np.repeat(theta_hat[None, :], rounds, axis=0)
    active = np.ones(rounds, dtype=bool)
    diag = np.arange(m)
    for _ in range(max_iter):
        idx = np.flatnonzero(active)
        if idx.size == 0:
            break
        t = theta[idx]
        p = sigmoid(t[:, pj] - t[:, pi])
        resid = w[idx] - n[idx] * p
        grad = np.zeros((idx.size, m))
        np.add.at(grad.T, pi, resid.T)
        np.add.at(grad.T, pj, -resid.T)
        grad += prior * t
        wt = n[idx] * p * (1 - p)
        hess = np.zeros((idx.size, m, m))
        hess[:, pi, pj] = -wt
        hess[:, pj, pi] = -wt
        hess[:, diag, diag] = -hess.sum(axis=2) + prior
        if prior == 0:  # the Laplacian is singular along 1; the gradient is ⟂ 1, so this pins only the mean
            hess += 1.0 / m
        try:
            step = np.linalg.solve(hess, grad[:, :, None])[:, :, 0]
        except np.linalg.LinAlgError:  # a resample that disconnects the graph (MLE only): least squares
            step = np.stack([np.linalg.lstsq(h, g, rcond=None)[0] for h, g in zip(hess, grad)])
        f0 = objective(t, idx)
        slope = np.sum(grad * step, axis=1)
        alpha = np.ones(idx.size)
        for _ in range(40):  # backtracking (Armijo), vectorised over rounds
            f1 = objective(t - alpha[:, None] * step, idx)
            bad = f1 > f0 - 1e-4 * alpha * slope
            if not bad.any():
                break
            alpha[bad] *= 0.5
        theta[idx] = t - alpha[:, None] * step
        active[idx[np.abs(alpha[:, None] * step).max(axis=1) < TOLERANCE]] = False
    return theta, ~active


def bootstrap_bt(outcomes: Outcomes, fit: BTFit, rounds: int, seed: int = 0, *,
                 prior: float | None = None, threads: int | None = None) -> np.ndarray:
    """θ for each bootstrap round, shape (rounds, models), each row centred (Σθ = 0).

    ``prior`` defaults to the one the full-data fit used (``fit.prior``): 0 for the plain MLE, where rounds in
    which a model's MLE is infinite carry ±∞ for it (see the module docstring)."""
    if prior is None:
        prior = fit.prior
    if rounds <= 0:
        return np.zeros((0, outcomes.n_models))
    specs = _block_seeds(rounds, seed, block_rounds(len(outcomes.n)))
    sums = _Sums(outcomes, max(size for _, size in specs))
    pi, pj = sums.pi, sums.pj
    h_inv = fit.hessian_inverse() if prior == fit.prior else np.linalg.inv(
        fit.hessian + (prior - fit.prior) * np.eye(outcomes.n_models))
    m = outcomes.n_models

    def one_block(counts: np.ndarray) -> np.ndarray:
        n, w = sums.per_pair(counts)
        theta = np.empty((n.shape[0], m))
        sides = np.zeros((n.shape[0], m))
        regular: np.ndarray = np.ones(n.shape[0], dtype=bool)
        if prior == 0:
            played, won = sums.played_won(n, w)  # per round and model: votes, credit won
            sides = np.where(played > 0, np.where(won >= played, 1, np.where(won <= 0, -1, 0)), 0)
            regular = np.asarray(~sides.any(axis=1), dtype=bool)
            odd = np.flatnonzero(~regular)
            if odd.size:  # some model never lost / never won in this resample: prior fit, then ±∞ for it
                theta[odd], settled = newton_rounds(np.zeros(m), pi, pj, n[odd], w[odd], PRIOR_PRECISION)
                for r in odd[~settled]:
                    theta[r] = fit_bt(PairStats(pi, pj, n[r], w[r]), m, PRIOR_PRECISION).theta
        idx = np.flatnonzero(regular)
        if idx.size:
            every = idx.size == n.shape[0]  # the usual block: no copy of its counts
            th, converged = refit_rounds(fit.theta, h_inv, sums, n if every else n[idx], w if every else w[idx],
                                         prior)
            rest = np.flatnonzero(~converged)
            if rest.size:
                th[rest], settled = newton_rounds(fit.theta, pi, pj, n[idx[rest]], w[idx[rest]], prior)
                for r in rest[~settled]:  # last resort: a resample without an MLE (or never seen in practice)
                    exact = fit_bt(PairStats(pi, pj, n[idx[r]], w[idx[r]]), m, None if prior == 0 else prior)
                    th[r] = exact.theta
                    sides[idx[r]] = exact.unbounded
            theta[idx] = th - th.mean(axis=1, keepdims=True)
        if prior == 0 and np.any(sides):
            theta = np.where(sides == 1, np.inf, np.where(sides == -1, -np.inf, np.where(sides == 2, np.nan, theta)))
        return theta

    def run(spec: tuple[np.random.SeedSequence, int]) -> np.ndarray:
        return one_block(_draw(outcomes, *spec))  # drawing runs in the worker too

    threads = threads or min(4, os.cpu_count() or 1)
    if threads <= 1 or len(specs) == 1:
        return np.vstack([run(spec) for spec in specs])
    with ThreadPoolExecutor(threads) as pool:
        return np.vstack(list(pool.map(run, specs)))  # map keeps block order


def percentile_interval(draws: np.ndarray, level: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Per-column percentile interval of draws that may hold ±∞ (rounds where the MLE was infinite): a bound
    that falls among infinite rounds is ±∞; NaN rounds (undetermined) are left out."""
    big = 1e300
    finite = np.where(np.isposinf(draws), big, np.where(np.isneginf(draws), -big, draws))
    tail = 100 * (1 - level) / 2
    low, high = np.nanpercentile(finite, [tail, 100 - tail], axis=0)
    fix = lambda x: np.where(x > 1e250, np.inf, np.where(x < -1e250, -np.inf, x))  # noqa: E731
    return fix(low), fix(high)
