"""The bootstrap's resampler must be an exact multinomial: every round sums to the vote count, and the cell
counts have multinomial moments (means n·p, variances n·p(1−p), covariances −n·p_i·p_j)."""

from __future__ import annotations

import numpy as np

from sbs_tui.core.ranking.bootstrap import _draw
from sbs_tui.core.ranking.outcomes import Outcomes


def _outcomes(counts: list[int]) -> Outcomes:
    # cells of a 3-model tournament: (a, b, credit to b, count)
    cells = [(0, 1, 1.0), (0, 1, 0.0), (0, 1, 0.5), (1, 2, 1.0), (1, 2, 0.0), (0, 2, 1.0)]
    return Outcomes.from_rows(["a", "b", "c"], [(i, j, s, n) for (i, j, s), n in zip(cells, counts)])


def test_rounds_sum_to_the_vote_count_and_stay_non_negative():
    out = _outcomes([40, 3, 7, 120, 1, 9])
    draws = _draw(out, np.random.SeedSequence(1), 500)
    assert draws.shape == (500, 6)
    assert (draws.sum(axis=1) == 180).all() and (draws >= 0).all()


def test_moments_match_the_multinomial():
    out = _outcomes([40, 3, 7, 120, 1, 9])
    counts = out.n  # cells in the order Outcomes keeps them
    n, p = counts.sum(), counts / counts.sum()
    draws = _draw(out, np.random.SeedSequence(7), 40_000).astype(float)
    se_mean = np.sqrt(n * p * (1 - p) / len(draws))
    assert (np.abs(draws.mean(axis=0) - n * p) < 5 * se_mean).all()
    ratio = draws.var(axis=0) / (n * p * (1 - p))
    assert (np.abs(ratio - 1) < 0.05).all(), ratio
    cov = np.cov(draws[:, 0], draws[:, 3])[0, 1]
    assert abs(cov - (-n * p[0] * p[3])) < 0.1 * n * p[0] * p[3]


def test_same_seed_same_draws():
    out = _outcomes([5, 5, 5, 5, 5, 5])
    assert (_draw(out, np.random.SeedSequence(3), 10) == _draw(out, np.random.SeedSequence(3), 10)).all()
