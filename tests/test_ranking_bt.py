"""Bradley-Terry: cross-checked against choix, the Wikipedia example and a per-round L-BFGS reference;
bootstrap and sandwich intervals; undefeated models; disconnected comparison graphs; Rank (UB)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sbs_tui.core.ranking.bootstrap import bootstrap_bt, resampled_counts
from sbs_tui.core.ranking.bt import ELO_PER_LOGIT, PRIOR_PRECISION, fit_bt, sandwich_covariance, to_elo
from sbs_tui.core.ranking.btrank import rank_bt
from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.report import rank_upper_bound
from tests.ranking_helpers import simulate

NAMES8 = [f"m{k}" for k in range(8)]


def test_wikipedia_example() -> None:
    """https://en.wikipedia.org/wiki/Bradley–Terry_model: 4 teams, 21 games → p = (0.640, 1.043, 0.660, 2.270)
    (normalised to geometric mean 1)."""
    wins = np.array([[0, 2, 0, 1], [3, 0, 5, 0], [0, 3, 0, 1], [4, 0, 3, 0]])
    rows = [(w, l, 0.0, int(wins[w, l])) for w in range(4) for l in range(4) if wins[w, l]]
    out = Outcomes.from_rows(list("ABCD"), rows)
    fit = fit_bt(out.pair_stats(), 4, prior=1e-10)
    p = np.exp(fit.theta - fit.theta.mean())
    np.testing.assert_allclose(p, [0.640, 1.043, 0.660, 2.270], atol=6e-4)


def test_matches_choix_with_the_same_penalty() -> None:
    choix = pytest.importorskip("choix")
    rng = np.random.default_rng(3)
    strength = rng.normal(0, 1, 6)
    rows = simulate(strength, 600, rng, tie_rate=0.0)
    data = [(b, a) if s == 1.0 else (a, b) for a, b, s, n in rows for _ in range(n)]
    ours = fit_bt(Outcomes.from_rows(NAMES8[:6], rows).pair_stats(), 6, PRIOR_PRECISION).theta
    # choix penalises alpha·Σθ², ours λ/2·Σθ²
    ref = choix.opt_pairwise(6, data, alpha=PRIOR_PRECISION / 2, tol=1e-12)
    np.testing.assert_allclose(ours, ref - ref.mean(), atol=1e-6)


def test_ties_count_half_a_win_each() -> None:
    """A tie is worth exactly one win and one loss at half weight: same fit as doubling decisive votes."""
    choix = pytest.importorskip("choix")
    rng = np.random.default_rng(4)
    rows = simulate(rng.normal(0, 1, 5), 400, rng, tie_rate=0.3)
    data = []
    for a, b, s, n in rows:
        for _ in range(n):
            if s == 0.5:
                data += [(a, b), (b, a)]
            else:
                data += [(b, a)] * 2 if s == 1.0 else [(a, b)] * 2
    ours = fit_bt(Outcomes.from_rows(NAMES8[:5], rows).pair_stats(), 5, PRIOR_PRECISION).theta
    ref = choix.opt_pairwise(5, data, alpha=PRIOR_PRECISION, tol=1e-12)  # likelihood doubled → penalty too
    np.testing.assert_allclose(ours, ref - ref.mean(), atol=1e-6)


def test_fractional_credit_enters_with_its_weight() -> None:
    """0.8 of a win, stored as one vote with score 0.8, equals 4 wins + 1 loss scaled by 1/5."""
    frac = Outcomes.from_rows(["a", "b"], [(0, 1, 0.8, 10), (0, 1, 0.3, 10)])
    whole = Outcomes.from_rows(["a", "b"], [(0, 1, 1.0, 8 + 3), (0, 1, 0.0, 2 + 7)])
    assert fit_bt(frac.pair_stats(), 2).theta == pytest.approx(fit_bt(whole.pair_stats(), 2).theta, abs=1e-6)


def test_bootstrap_refits_match_per_round_lbfgs_reference() -> None:
    """The vectorised fixed-Hessian refit equals an independent L-BFGS fit of each resample."""
    from scipy.optimize import minimize

    rng = np.random.default_rng(5)
    out = Outcomes.from_rows(NAMES8, simulate(rng.normal(0, 1, 8), 3000, rng))
    fit = fit_bt(out.pair_stats(), 8, PRIOR_PRECISION)  # the penalised path (active sampling, no-MLE data)
    ours = bootstrap_bt(out, fit, 30, seed=11)
    ref = []
    for block in resampled_counts(out, 30, seed=11):
        for counts in block:
            def nll(t, counts=counts):
                d = t[out.j] - t[out.i]
                return (np.sum(counts * (out.s * np.logaddexp(0, -d) + (1 - out.s) * np.logaddexp(0, d)))
                        + 0.5 * PRIOR_PRECISION * t @ t)
            x = minimize(nll, np.zeros(8), method="L-BFGS-B", options={"gtol": 1e-10, "ftol": 1e-15}).x
            ref.append(x - x.mean())
    np.testing.assert_allclose(ours * ELO_PER_LOGIT, np.array(ref) * ELO_PER_LOGIT, atol=0.01)


def test_bootstrap_is_seeded_and_independent_of_threads() -> None:
    rng = np.random.default_rng(6)
    out = Outcomes.from_rows(NAMES8, simulate(rng.normal(0, 1, 8), 2000, rng))
    fit = fit_bt(out.pair_stats(), 8)
    one = bootstrap_bt(out, fit, 120, seed=1, threads=1)
    two = bootstrap_bt(out, fit, 120, seed=1, threads=2)
    np.testing.assert_array_equal(one, two)
    assert not np.allclose(one, bootstrap_bt(out, fit, 120, seed=2, threads=2))


def test_sandwich_agrees_with_bootstrap_spread() -> None:
    rng = np.random.default_rng(7)
    out = Outcomes.from_rows(NAMES8, simulate(rng.normal(0, 1, 8), 20000, rng, tie_rate=0.2))
    fit = fit_bt(out.pair_stats(), 8)
    boot_sd = bootstrap_bt(out, fit, 400, seed=0).std(axis=0)
    c = np.eye(8) - 1 / 8
    sand_sd = np.sqrt(np.diag(c @ sandwich_covariance(fit, out) @ c.T))
    np.testing.assert_allclose(boot_sd, sand_sd, rtol=0.15)


def population_theta(strength: np.ndarray, tie_rate: float) -> np.ndarray:
    """What BT-with-ties-as-half estimates in the infinite-data limit: random ties shrink the odds, so the
    ground truth is the fit to the *expected* credit of every pair, not the generating strengths."""
    from sbs_tui.core.ranking.outcomes import PairStats

    m = len(strength)
    i, j = np.triu_indices(m, 1)
    p = 1.0 / (1.0 + np.exp(-(strength[j] - strength[i])))
    n = np.full(len(i), 1e9)
    return fit_bt(PairStats(i, j, n, n * ((1 - tie_rate) * p + tie_rate / 2)), m).theta


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_ci_coverage_on_simulated_tournaments(ci: str) -> None:
    """Intervals must mean what they say: ~95% of them contain the true (centred) rating.

    Small here (40 tournaments × 6 models = 240 intervals; binomial sd ≈ 1.4%); bench/ci_coverage.py runs more.
    """
    rng = np.random.default_rng(100)
    strength = np.array([-1.0, -0.5, 0.0, 0.2, 0.6, 1.2])
    true_elo = to_elo(population_theta(strength, tie_rate=0.15))
    hits = total = 0
    for sim in range(40):
        out = Outcomes.from_rows([f"m{k}" for k in range(6)], simulate(strength, 1500, rng, tie_rate=0.15))
        r = rank_bt(out, ci=ci, rounds=200, seed=sim)
        for m in r.models:
            k = int(m.model[1:])
            hits += m.ci_low <= true_elo[k] <= m.ci_high
            total += 1
    assert 0.91 <= hits / total <= 0.985, hits / total


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_undefeated_and_winless_models_get_one_sided_intervals(ci: str) -> None:
    """Issue 9.2: the MLE of a model that never lost is +∞; the rating shown is held by the prior (and said so)
    and its interval is open upwards (null in JSON), never a narrow finite number; the finite end is the
    profile-likelihood bound. Models inside the strongly connected core keep two-sided intervals."""
    rows = [(0, 1, 1.0, 5), (0, 1, 0.0, 3), (1, 2, 1.0, 3), (1, 2, 0.0, 4),
            (3, 1, 0.0, 6),  # d beats b six times and never loses
            (4, 0, 1.0, 2)]  # e loses to a twice and never wins
    r = rank_bt(Outcomes.from_rows(list("abcde"), rows), ci=ci, rounds=200)
    by = {m.model: m for m in r.models}
    assert by["d"].extra["set_by_prior"] and by["e"].extra["set_by_prior"]
    assert not by["a"].extra["set_by_prior"]
    assert all(np.isfinite(m.rating) for m in r.models)
    assert by["d"].ci_high == np.inf and np.isfinite(by["d"].ci_low)
    assert by["e"].ci_low == -np.inf and np.isfinite(by["e"].ci_high)
    assert all(np.isfinite([m.ci_low, m.ci_high]).all() for m in r.models if m.model in "abc")
    doc = r.to_json()
    row = {m["model"]: m for m in doc["models"]}
    assert row["d"]["ci_high"] is None and row["e"]["ci_low"] is None
    assert doc["mle"] is False
    assert r.models[0].model == "d" and r.models[-1].model == "e"
    assert any("'d' never lost" in w for w in r.warnings)
    assert any("'e' never won" in w for w in r.warnings)


def test_one_sided_bound_is_the_likelihood_ratio_bound() -> None:
    """Two models, 6–0: the LR bound on the log-odds solves 2·6·log(1 + e^−x) = χ²₁(0.95) (x ≈ 0.946 logits);
    centred ratings put the winner at +x/2 (the weak prior on the loser moves it by < 1 Elo)."""
    from scipy.optimize import brentq
    from scipy.stats import chi2

    x = brentq(lambda t: 12 * np.log1p(np.exp(-t)) - chi2.ppf(0.95, 1), 0.01, 10)
    r = rank_bt(Outcomes.from_rows(["a", "b"], [(0, 1, 0.0, 6)]), ci="sandwich")
    by = {m.model: m for m in r.models}
    assert by["a"].ci_low == pytest.approx(1000 + ELO_PER_LOGIT * x / 2, abs=1.0)
    assert by["a"].ci_high == np.inf and by["b"].ci_low == -np.inf


def test_mle_matches_choix_and_unpenalised_logistic_regression() -> None:
    """Issue 9.2: with a strongly connected comparison graph the rating is the plain MLE — what choix (alpha=0)
    and FastChat (a logistic regression without penalty) compute — to 1e-6 logits."""
    choix = pytest.importorskip("choix")
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(31)
    rows = simulate(rng.normal(0, 1, 6), 480, rng, tie_rate=0.0)  # 80 votes per model: the prior mattered here
    fit = fit_bt(Outcomes.from_rows(NAMES8[:6], rows).pair_stats(), 6)
    assert fit.prior == 0 and not fit.prior_bound
    data = [(b, a) if s == 1.0 else (a, b) for a, b, s, n in rows for _ in range(n)]
    ref = choix.opt_pairwise(6, data, alpha=0, tol=1e-12)
    np.testing.assert_allclose(fit.theta, ref - ref.mean(), atol=1e-6)
    ilsr = choix.ilsr_pairwise(6, data, alpha=0, tol=1e-12)
    np.testing.assert_allclose(fit.theta, ilsr - ilsr.mean(), atol=1e-6)
    # FastChat compute_mle_elo: X[row, a] = +1, X[row, b] = −1, y = 1 if a won, no penalty, no intercept
    x = np.zeros((len(data), 6))
    for r, (w, l) in enumerate(data):
        x[r, w], x[r, l] = 1.0, -1.0
    flip = np.arange(len(data)) % 2 == 1  # both classes present, as FastChat's a/b sides give
    x[flip] *= -1
    lr = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=10_000).fit(x, (~flip).astype(int))
    coef = lr.coef_[0]
    np.testing.assert_allclose(fit.theta, coef - coef.mean(), atol=1e-6)


def test_mle_bootstrap_marks_rounds_where_a_model_is_never_beaten() -> None:
    """A resample in which a model never lost has an infinite MLE for it: the round says +∞ for that model (not a
    prior-made number), and the percentile bound falls to ±∞ only if such rounds pass 2.5%."""
    rows = [(0, 1, 1.0, 1), (0, 1, 0.0, 1), (1, 2, 1.0, 2), (1, 2, 0.0, 1), (0, 2, 0.0, 2), (0, 2, 1.0, 1)]
    out = Outcomes.from_rows(list("abc"), rows)
    fit = fit_bt(out.pair_stats(), 3)
    assert fit.prior == 0
    boot = bootstrap_bt(out, fit, 300, seed=1)
    assert np.isinf(boot).any() and np.isfinite(boot).all(axis=1).any()
    r = rank_bt(out, ci="bootstrap", rounds=300)
    assert any(m.ci_low == -np.inf or m.ci_high == np.inf for m in r.models)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 5), st.sampled_from([0.0, 0.5, 1.0]),
                          st.integers(1, 5)), min_size=1, max_size=20))
def test_mle_exists_iff_credit_graph_is_strongly_connected(raw) -> None:
    """Cross-check of the existence test with an independent criterion: the MLE exists iff no nonempty proper
    subset S of the voted models got all the credit in its votes with the rest (Ford 1957), by brute force."""
    import itertools

    from sbs_tui.core.ranking.bt import mle_exists

    rows = [(a, (a + d) % 6, s, n) for a, d, s, n in raw]
    out = Outcomes.from_rows([f"m{k}" for k in range(6)], rows)
    comp = out.components()[0]
    sub = out.subset(comp)
    ps = sub.pair_stats()
    exists = True
    for size in range(1, len(comp)):
        for group in itertools.combinations(range(len(comp)), size):
            g = np.isin(np.arange(len(comp)), group)
            cross = g[ps.i] != g[ps.j]
            lost = np.sum(np.where(g[ps.i], ps.w, ps.n - ps.w)[cross])  # credit the others took from S
            if lost == 0:
                exists = False
    assert mle_exists(ps, len(comp)) == exists


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(1, 5), st.sampled_from([0.0, 0.25, 0.5, 1.0]),
                          st.integers(1, 50)), min_size=1, max_size=30),
       st.sampled_from([None, PRIOR_PRECISION, 0.5]))
def test_newton_fit_matches_scipy_trust_exact(raw, prior) -> None:
    """fit_bt's own Newton steps (scipy.optimize is too slow to import on the ``sbs rank`` path) land on the optimum
    scipy's exact trust-region method finds: MLE where it exists, with the weak or a strong prior otherwise."""
    from scipy.optimize import minimize

    from sbs_tui.core.ranking.bt import hessian, neg_log_likelihood

    rows = [(a, (a + d) % 6, s, n) for a, d, s, n in raw]
    out = Outcomes.from_rows([f"m{k}" for k in range(6)], rows)
    sub = out.subset(out.components()[0])
    ps, m = sub.pair_stats(), sub.n_models
    fit = fit_bt(ps, m, prior)
    used = max(fit.prior, 1e-300)  # the MLE: a vanishing ridge fixes the common shift, which centring removes
    ref = minimize(neg_log_likelihood, np.zeros(m), args=(ps, used), jac=True,
                   hess=lambda t, *_: hessian(t, ps, used) + (fit.prior == 0) * np.ones((m, m)) / m,
                   method="trust-exact", options={"gtol": 1e-10, "maxiter": 1000})
    theta = ref.x - ref.x.mean()
    np.testing.assert_allclose(fit.theta, theta, atol=1e-6)
    assert np.linalg.norm(neg_log_likelihood(fit.theta, ps, fit.prior)[1]) < 1e-8


def test_disconnected_graph_is_reported_per_component() -> None:
    rows = [(0, 1, 1.0, 10), (0, 1, 0.0, 5), (2, 3, 1.0, 7), (2, 3, 0.0, 7)]
    r = rank_bt(Outcomes.from_rows(["a", "b", "c", "d"], rows), ci="sandwich", matrices=True)
    doc = r.to_json()
    order = doc["matrices"]["models"]
    pred = doc["matrices"]["predicted_win_rate"]
    same = {(x, y) for x in "ab" for y in "ab"} | {(x, y) for x in "cd" for y in "cd"}
    for i, x in enumerate(order):
        for j, y in enumerate(order):
            assert (pred[i][j] is not None) == ((x, y) in same and x != y)
    assert sorted(map(sorted, doc["components"])) == [["a", "b"], ["c", "d"]]
    assert {m["component"] for m in doc["models"]} == {1, 2}
    assert any("disconnected" in w for w in r.warnings)
    for comp in (1, 2):  # each component centred on its own
        ratings = [m["rating"] for m in doc["models"] if m["component"] == comp]
        assert np.mean(ratings) == pytest.approx(1000.0)


def test_anchor_sits_at_1000() -> None:
    rng = np.random.default_rng(8)
    out = Outcomes.from_rows(NAMES8, simulate(rng.normal(0, 1, 8), 3000, rng))
    r = rank_bt(out, ci="bootstrap", rounds=50, anchor="m3")
    m3 = next(m for m in r.models if m.model == "m3")
    assert m3.rating == pytest.approx(1000.0) and m3.ci_low == m3.ci_high == pytest.approx(1000.0)
    centred = rank_bt(out, ci="none")
    diff = {m.model: m.rating for m in r.models}
    base = {m.model: m.rating for m in centred.models}
    shifts = {round(diff[k] - base[k], 6) for k in diff}
    assert len(shifts) == 1  # anchoring only shifts the scale


def test_rank_upper_bound_is_arena_definition() -> None:
    low = np.array([10, 8, 1, 0.5])
    high = np.array([12, 11, 9, 2])
    # model 2: models 0 (low 10 > 9) → rank 2; model 3: 0, 1 (8 > 2) and... 2 (1 > 2? no) → rank 3
    assert rank_upper_bound(low, high).tolist() == [1, 1, 2, 3]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(1, 4), st.sampled_from([0.0, 0.25, 0.5, 1.0]),
                          st.integers(1, 30)), min_size=4, max_size=25),
       st.permutations(range(5)))
def test_ratings_invariant_to_model_order_and_vote_orientation(raw, perm) -> None:
    rows = [(a, (a + d) % 5, s, n) for a, d, s, n in raw]
    names = [f"m{k}" for k in range(5)]
    base = {m.model: m.rating for m in rank_bt(Outcomes.from_rows(names, rows), ci="none").models}
    # relabel models and swap every vote's sides (a, b, s) → (b, a, 1 − s)
    inv = {old: new for new, old in enumerate(perm)}
    names2 = [names[perm[k]] for k in range(5)]
    rows2 = [(inv[b], inv[a], 1.0 - s, n) for a, b, s, n in rows]
    other = {m.model: m.rating for m in rank_bt(Outcomes.from_rows(names2, rows2), ci="none").models}
    assert other.keys() == base.keys()
    for k in base:
        assert other[k] == pytest.approx(base[k], abs=1e-3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.integers(1, 3), st.sampled_from([0.0, 0.5, 1.0]),
                          st.integers(1, 20)), min_size=3, max_size=15))
def test_tallies_and_win_rates_are_consistent(raw) -> None:
    rows = [(a, (a + d) % 4, s, n) for a, d, s, n in raw]
    out = Outcomes.from_rows(list("abcd"), rows)
    t = out.tallies()
    assert t["votes"].sum() == pytest.approx(2 * sum(n for *_, n in rows))
    np.testing.assert_allclose(t["wins"] + t["losses"] + t["ties"], t["votes"])
    assert t["wins"].sum() == pytest.approx(t["losses"].sum())
    assert t["credit"].sum() == pytest.approx(sum(n for *_, n in rows))


def test_votes_needed_power_estimate() -> None:
    from sbs_tui.core.ranking.report import ModelRating, votes_needed

    def mr(name, rating, half, votes):
        return ModelRating(name, rating, rating - half, rating + half, votes, 0, 0, 0, 50.0)

    models = [mr("a", 1050, 20, 400), mr("b", 1030, 20, 600), mr("c", 900, 10, 500)]
    out = votes_needed(models)
    # a vs b: gap 20, spread 40 → factor (40/20)² = 4 → 3 × the mean 500 votes more per model
    assert out[0] == {"better": "a", "worse": "b", "gap": 20.0, "separated": False, "factor": 4.0,
                      "more_votes_per_model": 1500}
    assert out[1]["separated"] is True and out[1]["more_votes_per_model"] == 0


def test_votes_needed_shrinks_as_predicted_on_simulated_data() -> None:
    """Quadrupling the votes halves the interval width (the 1/√n the estimate assumes)."""
    rng = np.random.default_rng(11)
    strength = np.array([0.0, 0.1, 0.5])
    widths = []
    for n in (2000, 8000):
        r = rank_bt(Outcomes.from_rows(["x", "y", "z"], simulate(strength, n, rng)), ci="sandwich")
        widths.append(np.mean([m.ci_high - m.ci_low for m in r.models]))
    assert widths[0] / widths[1] == pytest.approx(2.0, rel=0.1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=25))
def test_components_match_scipy_connected_components(edges) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    edges = [(a, b) for a, b in edges if a != b]
    rows = [(a, b, 1.0, 1) for a, b in edges]
    names = [f"m{k}" for k in range(10)]
    ours = Outcomes.from_rows(names, rows).components() if rows else []
    if not rows:
        return
    present = sorted({a for e in edges for a in e})
    graph = coo_matrix((np.ones(len(edges)), ([a for a, _ in edges], [b for _, b in edges])), shape=(10, 10))
    _, labels = connected_components(graph, directed=False)
    ref = {}
    for k in present:
        ref.setdefault(labels[k], []).append(k)
    assert {frozenset(c) for c in ours} == {frozenset(c) for c in ref.values()}
    assert [len(c) for c in ours] == sorted((len(c) for c in ours), reverse=True)  # largest first


def test_bootstrap_on_sparse_data_matches_exact_refits() -> None:
    """Tiny data: many resamples leave a model undefeated, so the fixed-Hessian iteration hands them to the
    batched damped Newton; every round must still equal an exact fit of its resample."""
    rows = [(0, 1, 1.0, 3), (1, 2, 0.0, 2), (2, 3, 1.0, 1), (0, 3, 0.5, 1), (0, 2, 1.0, 2), (3, 1, 0.0, 2)]
    out = Outcomes.from_rows(list("abcd"), rows)
    fit = fit_bt(out.pair_stats(), 4, PRIOR_PRECISION)
    boot = bootstrap_bt(out, fit, 200, seed=3)
    exact = [fit_bt(out.pair_stats(c), 4, PRIOR_PRECISION).theta
             for block in resampled_counts(out, 200, seed=3) for c in block.astype(float)]
    np.testing.assert_allclose(boot, np.array(exact), atol=1e-5)
