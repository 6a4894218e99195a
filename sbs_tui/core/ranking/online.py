"""Online Elo and TrueSkill: ratings updated vote by vote.

Both depend on the order of the votes — the same votes in another order give other ratings, and late votes
weigh more than early ones. That is right for tracking a player whose skill changes, and wrong for ranking
fixed model checkpoints; use Bradley-Terry for that (it is what online Elo converges to in spirit, without the
order effect). Offered here because leads know them: Elo with Arena's parameters (K = 4, base 10, scale 400,
initial 1000). The default rating is FastChat's: the *median* over bootstrap rounds (votes resampled with
replacement and played in random order), with the percentile interval of the same rounds — so the rating always
lies inside its interval and Rank (UB) compares like with like. The stored-order rating (``order="file"``) and
the *order-averaged* variant (mean over random permutations) stay available.

Online Elo is vectorised across orders: every step updates all R rating vectors at once, so averaging over
permutations or bootstrapping costs one Python loop over the votes, not R of them.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.report import Ranking, tallied_ratings, votes_needed

ELO_INIT = 1000.0
ELO_SCALE = 400.0
ELO_BASE = 10.0


def online_elo(a: np.ndarray, b: np.ndarray, s: np.ndarray, n_models: int, orders: np.ndarray, *,
               k: float = 4.0, scale: float = ELO_SCALE, base: float = ELO_BASE,
               init: float = ELO_INIT) -> np.ndarray:
    """Ratings after playing the votes in each order. ``orders``: (R, T) indices into the votes; returns (R, M).

    Update per vote (credit s to b): E_b = 1 / (1 + base^((R_a − R_b)/scale)); R_b += k(s − E_b);
    R_a −= k(s − E_b). Credit of ½ is a draw; weighted verdicts use their weight.
    """
    orders = np.atleast_2d(orders)
    return _play(a, b, s, n_models, orders.shape[0], orders.shape[1], lambda t: orders[:, t],
                 k=k, scale=scale, base=base, init=init)


def _play(a: np.ndarray, b: np.ndarray, s: np.ndarray, n_models: int, rounds: int, steps: int,
          pick: Callable[[int], np.ndarray], *,
          k: float, scale: float = ELO_SCALE, base: float = ELO_BASE, init: float = ELO_INIT) -> np.ndarray:
    """The Elo loop over ``steps`` votes for ``rounds`` rating vectors; ``pick(t)`` gives each round's vote."""
    ratings = np.full((rounds, n_models), init, dtype=np.float64)
    rows = np.arange(rounds)
    factor = math.log(base) / scale
    for t in range(steps):
        idx = pick(t)
        ia, ib, st = a[idx], b[idx], s[idx]
        ra, rb = ratings[rows, ia], ratings[rows, ib]
        delta = k * (st - 1.0 / (1.0 + np.exp(factor * (ra - rb))))
        ratings[rows, ib] = rb + delta
        ratings[rows, ia] = ra - delta
    return ratings


def bootstrap_elo(a: np.ndarray, b: np.ndarray, s: np.ndarray, n_models: int, rounds: int,
                  rng: np.random.Generator, *, k: float = 4.0) -> np.ndarray:
    """Each round plays T votes drawn with replacement, in random order: at every step each round draws one
    vote uniformly, which is exactly that, without holding an (R, T) index array."""
    t = len(s)
    return _play(a, b, s, n_models, rounds, t, lambda _: rng.integers(0, t, rounds), k=k)


def averaged_elo(a: np.ndarray, b: np.ndarray, s: np.ndarray, n_models: int, orders: int,
                 rng: np.random.Generator, *, k: float = 4.0, chunk: int = 16) -> np.ndarray:
    """Mean of the final ratings over ``orders`` random permutations (in chunks, to bound memory)."""
    total = np.zeros(n_models)
    done = 0
    while done < orders:
        size = min(chunk, orders - done)
        perms = np.argsort(rng.random((size, len(s))), axis=1)
        total += online_elo(a, b, s, n_models, perms, k=k).sum(axis=0)
        done += size
    return total / orders


ELO_ORDERS = ("bootstrap", "file")


def rank_elo(names: list[str], votes: list[tuple[int, int, float]], *, k: float = 4.0, orders: int = 1,
             rounds: int = 1000, seed: int = 0, anchor: str | None = None, order: str = "bootstrap") -> Ranking:
    """Online Elo with percentile intervals over ``rounds`` bootstrap rounds (votes resampled with replacement
    and played in random order, as FastChat does).

    ``order``: "bootstrap" (default, FastChat's) — the rating is the median of those rounds, so it lies inside
    its interval; "file" — the rating after playing the votes in stored order (``orders`` > 1: the mean over
    that many random permutations instead), reported next to the bootstrap median (``bootstrap_median``)."""
    if order not in ELO_ORDERS:
        raise ValueError(f"unknown Elo order {order!r}")
    if anchor is not None and anchor not in names:
        raise KeyError(anchor)
    arr = np.asarray(votes, dtype=np.float64).reshape(-1, 3)
    a, b, s = arr[:, 0].astype(np.int64), arr[:, 1].astype(np.int64), arr[:, 2]
    m, t = len(names), len(s)
    rng = np.random.default_rng(seed)
    if order == "bootstrap" and rounds <= 0:
        order = "file"  # no rounds to take a median of
    point_kind = ("median of bootstrap rounds (FastChat)" if order == "bootstrap"
                  else "stored order" if orders == 1 else f"mean over {orders} random orders")
    info: dict[str, Any] = {"scale": "elo", "k_factor": k, "orders": orders, "elo_order": order,
                            "rating_is": point_kind, "ci": "bootstrap percentile", "bootstrap": rounds,
                            "seed": seed, "anchor": anchor, "order_dependent": True}
    ranking = Ranking("elo", [], info)
    if t == 0:
        ranking.warnings.append("no votes match the filters")
        return ranking
    anchor_idx = names.index(anchor) if anchor is not None else None
    point = None
    if order == "file":
        if orders == 1:
            point = online_elo(a, b, s, m, np.arange(t)[None, :], k=k)[0]
            ranking.warnings.append("online Elo depends on vote order (stored order used, --elo-order file); "
                                    "the default is the median over shuffled bootstrap rounds; "
                                    "--method bt has no order effect")
        else:
            point = averaged_elo(a, b, s, m, orders, rng, k=k)
        if anchor_idx is not None:
            point = point - point[anchor_idx] + ELO_INIT
    else:
        ranking.warnings.append(f"online Elo depends on vote order: the rating is the median over {rounds} "
                                "shuffled bootstrap rounds (FastChat's); --method bt has no order effect")
    if rounds > 0:
        boot = bootstrap_elo(a, b, s, m, rounds, rng, k=k)
        if anchor_idx is not None:
            boot = boot - boot[:, [anchor_idx]] + ELO_INIT
        low, median, high = np.percentile(boot, [2.5, 50, 97.5], axis=0)
    else:
        low = median = high = np.full(m, np.nan)
    if point is None:
        point = median
    outcomes = Outcomes.from_rows(names, [(x, y, z, 1.0) for x, y, z in zip(a, b, s)])
    # With --elo-order file the interval still comes from resamples played in random order; a stored-order
    # rating near or outside its edge is the order effect showing (recent votes weigh more).
    extra = [{"bootstrap_median": float(median[k])} if rounds > 0 else {} for k in range(m)]
    ranking.models = tallied_ratings(outcomes, list(range(m)), point, low, high, extra)
    ranking.votes_needed = votes_needed(ranking.models)
    return ranking


def trueskill_win_probability(mu_a: float, sigma_a: float, mu_b: float, sigma_b: float, beta: float) -> float:
    """P(a beats b) = Φ((μa − μb) / √(2β² + σa² + σb²)); the trueskill package has no such function."""
    denom = math.sqrt(2.0 * beta * beta + sigma_a * sigma_a + sigma_b * sigma_b)
    return 0.5 * (1.0 + math.erf((mu_a - mu_b) / (denom * math.sqrt(2.0))))


def rank_trueskill(names: list[str], votes: list[tuple[int, int, float]], *, draw_probability: float | None = None,
                   matrices: bool = False) -> Ranking:
    """TrueSkill (``trueskill`` package, default μ=25, σ=25/3, β=σ/2), votes in stored order.

    A vote is a win for the side with more than half the credit, a draw at exactly half (weights are not used:
    TrueSkill has no notion of a partial win). The draw probability defaults to the observed share of draws.
    Rating = μ, interval μ ± 1.96σ (the posterior, not a sampling CI).
    """
    import trueskill

    m = len(names)
    ranking = Ranking("trueskill", [], {"scale": "trueskill mu", "ci": "posterior mu ± 1.96 sigma",
                                        "order_dependent": True})
    if not votes:
        ranking.warnings.append("no votes match the filters")
        return ranking
    draws = sum(1 for _, _, s in votes if s == 0.5)
    p_draw = draw_probability if draw_probability is not None else min(max(draws / len(votes), 1e-4), 0.9)
    env = trueskill.TrueSkill(draw_probability=p_draw)
    ratings = [env.create_rating() for _ in range(m)]
    for a, b, s in votes:
        if s > 0.5:
            ratings[b], ratings[a] = trueskill.rate_1vs1(ratings[b], ratings[a], env=env)
        elif s < 0.5:
            ratings[a], ratings[b] = trueskill.rate_1vs1(ratings[a], ratings[b], env=env)
        else:
            ratings[a], ratings[b] = trueskill.rate_1vs1(ratings[a], ratings[b], drawn=True, env=env)
    mu = np.array([r.mu for r in ratings])
    sigma = np.array([r.sigma for r in ratings])
    ranking.info.update(draw_probability=p_draw, beta=env.beta)
    ranking.warnings.append("TrueSkill depends on vote order (stored order used)")
    outcomes = Outcomes.from_rows(names, [(x, y, z, 1.0) for x, y, z in votes])
    extra = [{"mu": float(mu[k]), "sigma": float(sigma[k]), "conservative": float(mu[k] - 3 * sigma[k])}
             for k in range(m)]
    ranking.models = tallied_ratings(outcomes, list(range(m)), mu, mu - 1.96 * sigma, mu + 1.96 * sigma, extra)
    if matrices:
        order = [r.model for r in ranking.models]
        pos = {n: names.index(n) for n in order}
        ranking.matrices = {
            "models": order,
            "predicted_win_rate": [[None if x == y else round(trueskill_win_probability(
                mu[pos[x]], sigma[pos[x]], mu[pos[y]], sigma[pos[y]], env.beta), 10) for y in order]
                for x in order],
        }
    return ranking
