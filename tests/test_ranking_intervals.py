"""Issue 19 §6: intervals at small n. The default (``--ci auto``) picks the interval by the data and says which;
at small n it is the quasi-profile-likelihood interval widened to the sandwich; ratings beside a model whose MLE
is infinite are the MLE's limit, centred on the models with a finite MLE. The coverage grid itself is
``bench/ci_coverage.py`` (docs/ranking.md)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from sbs_tui.core.ranking.bt import ELO_PER_LOGIT, fit_bt
from sbs_tui.core.ranking.btrank import SMALL_VOTES_PER_MODEL, rank_bt
from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.profile import dispersion, profile_interval
from tests.ranking_helpers import simulate


def test_profile_interval_is_the_likelihood_ratio_interval_of_two_models() -> None:
    """Two models, a won 7 of 10: the centred rating is d/2 with d the log-odds, and the LR interval of d solves
    2·[ℓ(d̂) − ℓ(d)] = χ²₁(0.95) for the binomial likelihood ℓ(d) = 7·log σ(d) + 3·log σ(−d) (scipy)."""
    from scipy.optimize import brentq
    from scipy.stats import binom, chi2

    def ll(d: float) -> float:
        return float(binom.logpmf(7, 10, 1 / (1 + np.exp(-d))))

    d_hat = np.log(7 / 3)
    gap = lambda d: 2 * (ll(d_hat) - ll(d)) - chi2.ppf(0.95, 1)  # noqa: E731
    ref = (brentq(gap, d_hat - 10, d_hat), brentq(gap, d_hat, d_hat + 10))
    out = Outcomes.from_rows(["a", "b"], [(1, 0, 1.0, 7), (1, 0, 0.0, 3)])
    fit = fit_bt(out.pair_stats(), 2)
    low, high = profile_interval(out.pair_stats(), fit.theta, 0, 1.0)
    assert (low, high) == pytest.approx((ref[0] / 2, ref[1] / 2), abs=1e-6)
    # anchored on b: the interval of d itself
    assert profile_interval(out.pair_stats(), fit.theta, 0, 1.0, anchor=1) == pytest.approx(ref, abs=1e-6)


def test_ties_scale_the_deviance_by_the_pearson_dispersion() -> None:
    """Ties make votes less variable than coin flips: φ̂ < 1 and the quasi-profile interval is narrower than the
    plain LR one (which over-covers at 0.976 with 30% ties); coin-flip votes give φ̂ ≈ 1."""
    rng = np.random.default_rng(4)
    strength = np.linspace(-1, 1, 5)
    tied = Outcomes.from_rows([f"m{k}" for k in range(5)], simulate(strength, 2000, rng, 0.3))
    hard = Outcomes.from_rows([f"m{k}" for k in range(5)], simulate(strength, 2000, rng, 0.0))
    phi_tied = dispersion(tied, fit_bt(tied.pair_stats(), 5).theta)
    phi_hard = dispersion(hard, fit_bt(hard.pair_stats(), 5).theta)
    assert phi_tied < 0.85 and abs(phi_hard - 1) < 0.1
    fit = fit_bt(tied.pair_stats(), 5)
    lo_q, hi_q = profile_interval(tied.pair_stats(), fit.theta, 2, phi_tied)
    lo_lr, hi_lr = profile_interval(tied.pair_stats(), fit.theta, 2, 1.0)
    assert lo_lr < lo_q < hi_q < hi_lr


def test_auto_interval_is_chosen_by_the_data_and_the_json_says_which(tmp_path, cli) -> None:
    rng = np.random.default_rng(1)
    names = [f"m{k}" for k in range(10)]
    small = Outcomes.from_rows(names, simulate(np.linspace(-1.2, 1.2, 10), 100, rng, 0.3))
    r = rank_bt(small)  # the default
    assert r.info["ci"] == "profile" and r.info["ci_rule"].startswith("auto: 20 votes per model")
    # the union: never narrower than the sandwich or the profile interval
    sandwich = {m.model: m for m in rank_bt(small, ci="sandwich").models}
    fit = fit_bt(small.pair_stats(), 10)
    phi = dispersion(small, fit.theta)
    for m in r.models:
        k = int(m.model[1:])
        lo, hi = profile_interval(small.pair_stats(), fit.theta, k, phi)
        assert m.ci_low <= min(sandwich[m.model].ci_low, 1000 + ELO_PER_LOGIT * lo) + 1e-6
        assert m.ci_high >= max(sandwich[m.model].ci_high, 1000 + ELO_PER_LOGIT * hi) - 1e-6
    big = Outcomes.from_rows(names, simulate(np.linspace(-1.2, 1.2, 10), 100 * SMALL_VOTES_PER_MODEL // 2 + 500,
                                             rng, 0.3))
    r = rank_bt(big, rounds=50)
    assert r.info["ci"] == "sandwich" and "sandwich" in r.info["ci_rule"] and "bootstrap" not in r.info
    asked = rank_bt(big, ci="bootstrap", rounds=50)
    assert asked.info.get("ci_rule") is None and asked.info["bootstrap"] == 50  # asked for: no rule to explain

    # through the CLI: the JSON says which interval ran
    votes = tmp_path / "v.jsonl"
    votes.write_text("".join(json.dumps({"prompt": f"q{k}", "model_a": f"m{k % 3}", "model_b": f"m{(k + 1) % 3}",
                                         "winner": ["model_a", "model_b", "tie"][k % 4 % 3], "annotator": "a"})
                             + "\n" for k in range(40)))
    db = str(tmp_path / "x.db")
    assert cli("--db", db, "import", "votes", str(votes)).exit_code == 0
    doc = json.loads(cli("--db", db, "rank", "--format", "json").stdout)
    assert doc["ci"] == "profile" and doc["ci_rule"].startswith("auto:")


def test_ratings_beside_an_undefeated_model_are_the_mle_of_the_others_centred_on_them() -> None:
    """A model that never lost has an infinite MLE; in the limit the votes against it carry no information, so
    the others' ratings are the plain MLE of their votes among themselves (an unpenalised logistic regression,
    scikit-learn), centred on them — not shifted by the placeholder the prior gives the undefeated model."""
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(8)
    strength = np.r_[np.linspace(-1, 1, 5), 4.0]
    names = [f"m{k}" for k in range(6)]
    for _ in range(200):
        rows = simulate(strength, 150, rng, 0.0)
        out = Outcomes.from_rows(names, rows)
        fit = fit_bt(out.pair_stats(), 6)
        if fit.unbounded == (0, 0, 0, 0, 0, 1):
            break
    else:
        pytest.fail("no tournament with m5 undefeated")
    r = rank_bt(out, ci="sandwich")
    by = {m.model: m for m in r.models}
    assert r.info["centre"] == "the models with a finite MLE"
    assert np.mean([by[f"m{k}"].rating for k in range(5)]) == pytest.approx(1000, abs=1e-6)
    assert by["m5"].ci_high == np.inf and np.isfinite(by["m5"].ci_low)
    # reference: unpenalised logistic regression on the votes among m0..m4
    x, y, w = [], [], []
    for a, b, s, n in rows:
        if a < 5 and b < 5:
            row = np.zeros(5)
            row[b], row[a] = 1.0, -1.0
            x += [row, row]
            y += [1, 0]
            w += [n * s, n * (1 - s)]
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=10_000)
    lr.fit(np.array(x), np.array(y), sample_weight=np.array(w))
    beta = lr.coef_[0] - lr.coef_[0].mean()
    for k in range(5):
        assert by[f"m{k}"].rating == pytest.approx(1000 + ELO_PER_LOGIT * beta[k], abs=0.05)
