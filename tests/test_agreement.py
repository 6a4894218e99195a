"""Agreement statistics cross-checked against scikit-learn (Cohen's κ), krippendorff (α) and Fleiss' published
example; position bias, outliers, judge vs humans and order consistency on constructed data; the CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats
from hypothesis import given, settings
from hypothesis import strategies as st

from sbs_tui.core.analysis.agreement import (
    LABELS,
    Annotation,
    analyse,
    cohen_kappa,
    fleiss_kappa,
    krippendorff_alpha_nominal,
)
from tests.ranking_helpers import store_with, vote

label_lists = st.lists(st.sampled_from(LABELS), min_size=2, max_size=40)


@pytest.mark.filterwarnings("ignore::UserWarning")  # sklearn: κ undefined (one label) → NaN, as ours
@settings(max_examples=60, deadline=None)
@given(st.data())
def test_cohen_kappa_matches_sklearn(data) -> None:
    from sklearn.metrics import cohen_kappa_score

    x = data.draw(label_lists)
    y = data.draw(st.lists(st.sampled_from(LABELS), min_size=len(x), max_size=len(x)))
    ours = cohen_kappa(x, y)
    with np.errstate(all="ignore"):
        ref = cohen_kappa_score(x, y, labels=list(LABELS))
    if np.isnan(ref):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(ref, abs=1e-12)


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # krippendorff: 0/0 on one-valued data → NaN, as ours
@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(LABELS), min_size=2, max_size=5), min_size=2, max_size=30))
def test_krippendorff_alpha_matches_the_package(items) -> None:
    krippendorff = pytest.importorskip("krippendorff")
    width = max(len(it) for it in items)
    code = {k: i for i, k in enumerate(LABELS)}
    matrix = np.full((width, len(items)), np.nan)
    for u, it in enumerate(items):
        for r, lab in enumerate(it):
            matrix[r, u] = code[lab]
    ours = krippendorff_alpha_nominal(items)
    try:
        ref = krippendorff.alpha(reliability_data=matrix, level_of_measurement="nominal",
                                 value_domain=[0, 1, 2])
    except (ValueError, ZeroDivisionError):
        return  # the package refuses one-valued data; ours returns NaN there
    if np.isnan(ref):
        assert np.isnan(ours)
    else:
        assert ours == pytest.approx(ref, abs=1e-9)


def test_fleiss_kappa_wikipedia_example() -> None:
    """Fleiss (1971) as worked on Wikipedia: 10 items, 14 raters, 5 categories → κ = 0.210."""
    table = [[0, 0, 0, 0, 14], [0, 2, 6, 4, 2], [0, 0, 3, 5, 6], [0, 3, 9, 2, 0], [2, 2, 8, 1, 1],
             [7, 7, 0, 0, 0], [3, 2, 6, 3, 0], [2, 5, 3, 2, 2], [6, 5, 2, 1, 0], [0, 2, 2, 3, 7]]
    cats = list("12345")
    items = [[c for c, n in zip(cats, row) for _ in range(n)] for row in table]
    assert fleiss_kappa(items, cats) == pytest.approx(0.210, abs=5e-4)


def _ann(vid, prompt, a, b, s, who, kind="human", left=None):
    return Annotation(vid, prompt, a, b, s, who, kind, left)


def test_analyse_finds_position_bias_outlier_judge_and_order_consistency() -> None:
    rng = np.random.default_rng(0)
    anns = []
    vid = 0
    truth = {}
    for k in range(120):
        truth[k] = float(rng.random() < 0.6)
        for who in ("h1", "h2", "h3", "odd"):
            s = truth[k] if who != "odd" else 1.0 - truth[k]  # 'odd' always disagrees
            if who != "odd" and rng.random() < 0.1:
                s = 1.0 - s
            vid += 1
            anns.append(_ann(vid, f"p{k}", "x", "y", s, who, left="model_b" if who == "h3" else "model_a"))
        vid += 1
        anns.append(_ann(vid, f"p{k}", "x", "y", truth[k], "judge", kind="judge", left="model_a"))
        vid += 1  # the judge again, sides swapped, agreeing 90% of the time
        again = truth[k] if k % 10 else 1.0 - truth[k]
        anns.append(_ann(vid, f"p{k}", "y", "x", 1.0 - again, "judge", kind="judge", left="model_a"))
    rep = analyse(anns).to_json()
    by = {a["annotator"]: a for a in rep["annotators"]}
    assert by["odd"]["outlier"] and not by["h1"]["outlier"] and not by["h2"]["outlier"]
    judge = rep["judge_vs_humans"][0]
    assert judge["judge"] == "judge" and judge["cohen_kappa"] > 0.6
    assert sum(sum(row.values()) for row in judge["confusion"].values()) == judge["items"]
    cons = {c["annotator"]: c for c in rep["order_consistency"]}
    assert cons["judge"]["items_judged_in_both_orders"] == 120
    assert cons["judge"]["consistency"] == pytest.approx(90.0)
    bias = {p["annotator"]: p for p in rep["position_bias"]}
    # h3 always sees y on the left; y (second) wins ~60% → the binomial test flags a left-side share ≠ 50%
    assert bias["h3"]["left_share"] > 50 and bias["h1"]["left_share"] < 50
    # Issue 9.6: each of them always saw the same model on the left: that share is model strength, not bias
    assert bias["h3"]["testable"] is False and bias["h3"]["p_value"] is None and "not testable" in bias["h3"]["note"]
    assert bias["(all)"]["testable"] is True  # across annotators both orientations occur
    assert "holm" in rep["overall"]["p_adjustment"]
    assert by["odd"]["p_value_holm"] >= by["odd"]["p_value"]
    assert rep["overall"]["items_multi_annotated"] == 120
    assert rep["gold"]["available"] is False


def test_gold_accuracy_when_gold_exists() -> None:
    anns = [_ann(1, "p1", "a", "b", 1.0, "h1"), _ann(2, "p2", "a", "b", 0.0, "h1"),
            _ann(3, "p1", "a", "b", 0.0, "h2")]
    gold = {("p1", "a", "b"): "second", ("p2", "a", "b"): "second"}
    rep = analyse(anns, gold).to_json()
    acc = {g["annotator"]: g["accuracy"] for g in rep["gold"]["annotators"]}
    assert acc == {"h1": 50.0, "h2": 0.0}


def test_agreement_cli(cli, tmp_path) -> None:
    votes = []
    for k in range(30):
        w = "model_a" if k % 3 else "model_b"
        votes.append(vote("m1", "m2", w, prompt=f"q{k}", annotator="ann1", shown_left="model_a"))
        votes.append(vote("m1", "m2", w if k % 5 else "tie", prompt=f"q{k}", annotator="ann2",
                          shown_left="model_b"))
    db = store_with(tmp_path / "ag.db", votes)
    res = cli("--db", str(db), "agreement", "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    pair = doc["pairs"][0]
    assert pair["items"] == 30 and pair["percent_agreement"] == pytest.approx(80.0)
    table = cli("--db", str(db), "agreement")
    assert table.exit_code == 0 and "Cohen" in table.stdout
    only = json.loads(cli("--db", str(db), "agreement", "--format", "json", "--annotator", "ann1").stdout)
    assert only["overall"]["annotators"] == 1


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(LABELS), st.sampled_from(LABELS)), min_size=1, max_size=40),
       st.permutations(LABELS))
def test_kappa_and_alpha_are_symmetric_and_label_blind(pairs, perm) -> None:
    x, y = [p for p, _ in pairs], [q for _, q in pairs]
    rename = dict(zip(LABELS, perm))
    k = cohen_kappa(x, y)
    for other in (cohen_kappa(y, x), cohen_kappa([rename[v] for v in x], [rename[v] for v in y])):
        assert (np.isnan(k) and np.isnan(other)) or other == pytest.approx(k, abs=1e-12)
    a = krippendorff_alpha_nominal([list(p) for p in pairs])
    b = krippendorff_alpha_nominal([[rename[v] for v in p] for p in pairs])
    assert (np.isnan(a) and np.isnan(b)) or a == pytest.approx(b, abs=1e-12)


def test_position_bias_is_separated_from_model_strength_and_matches_logistic_regression() -> None:
    """Randomised sides, a strong model and a real left bias: δ in logit P(left wins) = δ + d_pair is recovered
    from the within-pair contrasts; the Mantel–Haenszel estimate agrees with an unpenalised logistic regression
    with one free intercept per model pair (scikit-learn, C=inf) to 0.01 at 3,000 votes, and the p-value is tiny
    and kept as a float."""
    from sklearn.linear_model import LogisticRegression

    from sbs_tui.core.analysis.agreement import position_bias

    rng = np.random.default_rng(5)
    strength = {"x": 1.0, "y": 0.0, "z": -0.5}
    pairs = [("x", "y"), ("x", "z"), ("y", "z")]
    anns, rows, ys = [], [], []
    for k in range(3000):
        a, b = rng.choice(list(strength), 2, replace=False)
        left_is_b = bool(rng.random() < 0.5)
        left, right = (b, a) if left_is_b else (a, b)
        p_left = 1 / (1 + np.exp(-(0.4 + strength[left] - strength[right])))
        left_won = rng.random() < p_left
        b_won = left_won == left_is_b
        anns.append(_ann(k, f"p{k}", str(a), str(b), float(b_won), "h", left="model_b" if left_is_b else "model_a"))
        x, y = sorted((str(a), str(b)))
        row = np.zeros(4)
        row[0] = 1.0  # δ: the left answer's advantage, in "first model won" terms ±1 by orientation
        row[1 + pairs.index((x, y))] = 1.0 if left == x else -1.0
        rows.append(row * (1.0 if left == x else -1.0))  # logit P(x wins) = ±δ + d_pair
        ys.append(int(left_won == (left == x)))
    entry = position_bias(anns, "h")
    design = np.array(rows)
    design[:, 1:] = np.abs(design[:, 1:])  # the pair's own intercept d_pair, sign-free
    ref = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-10, max_iter=10_000).fit(design, ys)
    assert entry["testable"] and entry["left_advantage_logit"] == pytest.approx(ref.coef_[0][0], abs=0.01)
    assert abs(entry["left_advantage_logit"] - 0.4) < 0.1
    assert 0 < entry["p_value"] < 1e-6 and entry["pairs_in_both_orientations"] == 3
    # the same model always on the left: not testable
    fixed = [_ann(k, f"q{k}", "x", "y", float(k % 3 == 0), "h", left="model_a") for k in range(50)]
    assert position_bias(fixed, "h")["testable"] is False


def _cycle_votes(both_ways: tuple[str, str] | None = None) -> list:
    """Issue 19.4: three models in a cycle (a beats b, b beats c, c beats a, each 80%), no position effect,
    600 votes; every pair always shown the same way round, except ``both_ways`` shown half each way."""
    anns, vid = [], 0
    for winner, loser in (("a", "b"), ("b", "c"), ("c", "a")):
        for k in range(200):
            won = k % 5 != 0  # 160 of 200 exactly: no noise to hide behind
            swap = both_ways is not None and {winner, loser} == set(both_ways) and k % 2 == 1
            first, second = (loser, winner) if swap else (winner, loser)
            vid += 1  # model_a = first, always shown on the left
            anns.append(_ann(vid, f"p{vid}", first, second, float(won == (second == winner)), "h", left="model_a"))
    return anns


def test_position_bias_is_not_read_from_an_intransitive_cycle_with_fixed_sides() -> None:
    """The BT "home advantage" read δ = 1.34, p printed 0.0, off this design; no pair was shown both ways round,
    so position bias is not testable."""
    from sbs_tui.core.analysis.agreement import position_bias

    entry = position_bias(_cycle_votes(), "h")
    assert entry["decisive_votes"] == 600 and entry["testable"] is False and entry["p_value"] is None
    assert entry["left_advantage_logit"] is None and entry["pairs_in_both_orientations"] == 0
    # one pair shown both ways with the same 80% either way: no position effect is measured, exactly
    entry = position_bias(_cycle_votes(both_ways=("a", "b")), "h")
    assert entry["testable"] and entry["pairs_in_both_orientations"] == 1 and entry["votes_in_both_orientations"] == 200
    assert entry["left_advantage_logit"] == pytest.approx(0.0, abs=1e-12) and entry["p_value"] == pytest.approx(1.0)


def test_within_pair_sides_must_vary_for_the_same_annotator() -> None:
    """One annotator always sees x left, another always y left: their tastes, not position, differ."""
    from sbs_tui.core.analysis.agreement import position_bias

    anns = [_ann(k, f"p{k}", "x", "y", float(k % 4 == 0), "h1", left="model_a") for k in range(40)]
    anns += [_ann(100 + k, f"p{k}", "x", "y", float(k % 4 != 0), "h2", left="model_b") for k in range(40)]
    assert position_bias(anns, "(all)")["testable"] is False


def _tables_with_margins(table: list[int]):
    a, b, c, d = table
    rows, col, n = a + b, a + c, a + b + c + d
    for x in range(max(0, col - (c + d)), min(rows, col) + 1):
        yield [x, rows - x, col - x, n - rows - col + x]


def test_exact_conditional_p_equals_fisher_for_one_pair_and_enumeration_for_several() -> None:
    from itertools import product
    from math import comb

    from sbs_tui.core.analysis.position_bias import cmh_chi2_p, exact_conditional_p, mantel_haenszel_log_odds

    one = [[7, 2, 3, 6]]
    assert exact_conditional_p(one) == pytest.approx(stats.fisher_exact([[7, 2], [3, 6]]).pvalue, rel=1e-12)
    assert mantel_haenszel_log_odds(one) == pytest.approx(math.log(7 * 6 / (2 * 3)))
    several = [[5, 1, 2, 4], [3, 3, 1, 5], [4, 0, 2, 2]]

    def prob(tables):  # product of hypergeometric probabilities, margins fixed
        out = 1.0
        for a, b, c, d in tables:
            out *= comb(a + b, a) * comb(c + d, c) / comb(a + b + c + d, a + c)
        return out

    by_sum: dict[int, float] = {}
    for combo in product(*(list(_tables_with_margins(t)) for t in several)):
        s = sum(t[0] for t in combo)
        by_sum[s] = by_sum.get(s, 0.0) + prob(combo)
    seen = by_sum[sum(t[0] for t in several)]
    brute = sum(p for p in by_sum.values() if p <= seen * (1 + 1e-7))
    assert exact_conditional_p(several) == pytest.approx(brute, rel=1e-10)
    # the large-sample test: one stratum's CMH χ² is Pearson's χ² × (n − 1)/n
    big = [[130, 70, 95, 105]]
    chi = stats.chi2_contingency([[130, 70], [95, 105]], correction=False).statistic
    stat, p = cmh_chi2_p(big)
    assert stat == pytest.approx(chi * 399 / 400, rel=1e-12) and p == pytest.approx(stats.chi2.sf(stat, 1))


def test_a_huge_position_effect_keeps_its_p_value_in_json() -> None:
    """JSON p-values are floats, never rounded to 0.0; tables print "< 1e-10"."""
    from sbs_tui.present.numbers import p_value as _p

    anns = []
    for k in range(400):
        left_is_b = k % 2 == 1
        left_won = (k // 2) % 20 != 0  # the left answer wins 95% whichever model it is
        b_won = left_won == left_is_b
        anns.append(_ann(k, f"p{k}", "x", "y", float(b_won), "h", left="model_b" if left_is_b else "model_a"))
    entry = next(p for p in analyse(anns).to_json()["position_bias"] if p["annotator"] == "h")
    assert entry["testable"] and 0.0 < entry["p_value"] < 1e-40 and 0.0 < entry["p_value_holm"] < 1e-40
    assert entry["left_advantage_logit"] == pytest.approx(math.log(19 * 19) / 2)
    assert _p(entry["p_value_holm"]) == "< 1e-10"


def test_tiny_p_values_print_as_bounds_never_zero() -> None:
    from sbs_tui.present.numbers import DASH
    from sbs_tui.present.numbers import p_value as _p

    assert _p(0.0) == "< 1e-10" and _p(1e-300) == "< 1e-10" and _p(0.0123) == "0.0123" and _p(None) == DASH


def test_the_real_reason_when_agreement_cannot_be_computed() -> None:
    """Issue 9.7: one judge (an AlpacaEval import) or annotators without overlap get a reason, not blank numbers."""
    one = analyse([_ann(1, "p1", "a", "b", 1.0, "gpt4", kind="judge"), _ann(2, "p2", "a", "b", 0.0, "gpt4",
                                                                           kind="judge")]).to_json()
    assert "only one annotator" in one["overall"]["unavailable_reason"] and "'gpt4'" in one["overall"]["unavailable_reason"]
    apart = analyse([_ann(1, "p1", "a", "b", 1.0, "h1"), _ann(2, "p2", "a", "b", 0.0, "h2")]).to_json()
    assert "no pair was judged by two" in apart["overall"]["unavailable_reason"]
    fine = analyse([_ann(1, "p1", "a", "b", 1.0, "h1"), _ann(2, "p1", "a", "b", 1.0, "h2")]).to_json()
    assert fine["overall"]["unavailable_reason"] is None


def test_a_p_value_beyond_double_precision_is_not_zero() -> None:
    """A position effect so strong that the exact tail underflows: the CMH χ² takes over, and a p below double
    precision is the smallest normal float, never 0.0."""
    from sbs_tui.core.analysis.position_bias import within_pair_test

    votes = [("h", "x", "y", True)] * 3000 + [("h", "y", "x", True)] * 3000 + [("h", "x", "y", False)]
    entry = within_pair_test(votes)
    assert entry["testable"] and 0.0 < entry["p_value"] <= 1e-300 and "Mantel" in entry["test"]
