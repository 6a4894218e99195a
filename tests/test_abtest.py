"""A/B statistics cross-checked against scipy and published figures, plus `sbs ab` end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from sbs_tui.cli import main
from sbs_tui.core.analysis.abtest import (
    VariantData,
    analyse_metric,
    holm,
    newcombe_interval,
    two_proportions,
    welch,
    wilson_interval,
)
from sbs_tui.core.ingest.ab_control import choose_control


def units(name: str, values) -> VariantData:
    arr = np.asarray(values, dtype=float)
    binary = bool(np.all((arr == 0) | (arr == 1)))
    return VariantData(name, arr.size, float(arr.mean()), float(arr.std(ddof=1)) if arr.size > 1 else None,
                       float(arr.sum()) if binary else None, arr, binary)


def summary(name: str, n: int, mean: float, std: float) -> VariantData:
    return VariantData(name, n, mean, std)


def proportion(name: str, successes: int, n: int) -> VariantData:
    return VariantData(name, n, successes / n, None, successes, None, True)


# -- Welch -----------------------------------------------------------------------------------------------------

def test_welch_matches_scipy_test_and_interval():
    rng = np.random.default_rng(7)
    a, b = rng.normal(10, 1, 40), rng.normal(10.6, 3, 90)
    comp = welch(units("B", b), units("A", a), alpha=0.05)
    ref = stats.ttest_ind(b, a, equal_var=False)
    ci = ref.confidence_interval(0.95)
    assert comp.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert comp.statistic == pytest.approx(ref.statistic, rel=1e-12)
    assert comp.df == pytest.approx(ref.df, rel=1e-10)
    assert (comp.ci_low, comp.ci_high) == (pytest.approx(ci.low, rel=1e-10), pytest.approx(ci.high, rel=1e-10))
    comp90 = welch(units("B", b), units("A", a), alpha=0.10)
    ci90 = ref.confidence_interval(0.90)
    assert comp90.ci_low == pytest.approx(ci90.low, rel=1e-10)


def test_welch_from_summary_equals_welch_from_units():
    rng = np.random.default_rng(3)
    a, b = rng.exponential(2.0, 200), rng.exponential(2.3, 150)
    from_units = welch(units("B", b), units("A", a), 0.05)
    from_stats = welch(summary("B", b.size, b.mean(), b.std(ddof=1)), summary("A", a.size, a.mean(),
                                                                              a.std(ddof=1)), 0.05)
    ref = stats.ttest_ind_from_stats(b.mean(), b.std(ddof=1), b.size, a.mean(), a.std(ddof=1), a.size,
                                     equal_var=False)
    assert from_stats.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    for key in ("p_value", "ci_low", "ci_high", "lift", "lift_ci_low", "lift_ci_high"):
        assert getattr(from_stats, key) == pytest.approx(getattr(from_units, key), rel=1e-9)


def test_welch_by_hand_from_the_textbook_formulas():
    # t = (m1 - m2) / sqrt(s1²/n1 + s2²/n2); Welch–Satterthwaite df; two-sided p from Student's t.
    comp = welch(summary("B", 10, 22.5, 6.0), summary("A", 15, 20.0, 4.0), 0.05)
    se = math.sqrt(16 / 15 + 36 / 10)
    assert comp.statistic == pytest.approx(2.5 / se, rel=1e-12)
    df = (16 / 15 + 36 / 10) ** 2 / ((16 / 15) ** 2 / 14 + (36 / 10) ** 2 / 9)
    assert comp.df == pytest.approx(df)
    assert comp.p_value == pytest.approx(2 * stats.t.sf(2.5 / se, df), rel=1e-12)


def test_lift_fieller_interval_and_its_large_sample_agreement_with_the_delta_method():
    """Issue 9.6: the lift interval is Fieller's (t quantile, Welch df); at large n it is the delta method's."""
    t, c = summary("B", 400, 11.0, 4.0), summary("A", 500, 10.0, 3.0)
    comp = welch(t, c, 0.05)
    assert comp.lift == pytest.approx(0.1) and comp.lift_ci_method == "fieller"
    vt, vc = 16 / 400, 9 / 500
    q = stats.t.ppf(0.975, comp.df)
    # Fieller by brute force: the ratios R whose t statistic (11 − 10R)/sqrt(vt + R²vc) is within ±q
    grid = np.linspace(0.95, 1.3, 350_001)
    inside = grid[np.abs(11 - 10 * grid) / np.sqrt(vt + grid ** 2 * vc) <= q]
    assert comp.lift_ci_low == pytest.approx(inside.min() - 1, abs=2e-6)
    assert comp.lift_ci_high == pytest.approx(inside.max() - 1, abs=2e-6)
    var = (16 / 400) / 100 + 121 * (9 / 500) / 10 ** 4  # the former delta-method interval, normal quantile
    half = stats.norm.ppf(0.975) * math.sqrt(var)
    assert comp.lift_ci_low == pytest.approx(0.1 - half, abs=2e-3) and comp.lift_ci_high == pytest.approx(0.1 + half, abs=2e-3)


def test_lift_interval_is_unbounded_for_a_noisy_control_near_zero():
    """A heavy-tailed control whose mean is not clearly away from 0: no finite ratio interval exists."""
    comp = welch(summary("B", 20, 5.0, 3.0), summary("A", 20, 1.0, 10.0), 0.05)
    assert comp.lift == pytest.approx(4.0)
    assert comp.lift_ci_low is None and comp.lift_ci_high is None and "unbounded" in comp.note


def test_small_counts_use_an_exact_test():
    """Issue 9.6: 1/5 vs 4/4 — z says 0.016; issue 19.2: Boschloo's exact unconditional test (scipy, the two
    arms as the table's columns), never anti-conservative and more powerful than Fisher's (0.048)."""
    comp = two_proportions(proportion("B", 4, 4), proportion("A", 1, 5), 0.05)
    ref = stats.boschloo_exact([[4, 1], [0, 4]])
    assert comp.test == "boschloo_exact" and "exact unconditional" in comp.test_reason
    assert comp.p_value == pytest.approx(ref.pvalue, rel=1e-12)
    assert comp.p_value < stats.fisher_exact([[4, 0], [1, 4]]).pvalue and comp.statistic is None
    tiny = two_proportions(proportion("B", 3, 3), proportion("A", 0, 3), 0.05)
    # the most extreme of 16 outcomes: at most max π³(1 − π)³ = 1/64 per side, for every π
    assert tiny.test == "boschloo_exact" and tiny.p_value == pytest.approx(2 / 64)


def test_the_issues_moderate_counts_get_boschloo_not_the_z_test():
    """8/12 vs 2/12: every expected count is ≥ 5, so the former rule used the z-test (p 0.0130). Boschloo's p,
    by an independent enumeration over a grid of π (bench/ab_test_size.py) and by scipy: 0.0169."""
    bench = _bench()
    comp = two_proportions(proportion("B", 8, 12), proportion("A", 2, 12), 0.05)
    assert comp.test == "boschloo_exact"
    assert comp.p_value == pytest.approx(stats.boschloo_exact([[8, 2], [4, 10]]).pvalue, rel=1e-12)
    assert comp.p_value == pytest.approx(bench.boschloo_p(12, 12)[8, 2], abs=1e-6)
    assert comp.p_value == pytest.approx(0.01689, abs=1e-5)
    assert bench.z_p(12, 12)[8, 2] == pytest.approx(0.0130, abs=1e-4)  # what sbs ab printed before


def test_large_experiments_get_fishers_exact_test():
    comp = two_proportions(proportion("B", 130, 1000), proportion("A", 100, 1000), 0.05)
    assert comp.test == "fisher_exact" and "exact conditional" in comp.test_reason
    assert comp.p_value == pytest.approx(stats.fisher_exact([[130, 100], [870, 900]]).pvalue, rel=1e-12)
    assert comp.lift == pytest.approx(0.3)
    edge = 200  # (200 + 1)² outcomes: the last size Boschloo's test is run at
    assert two_proportions(proportion("B", 30, edge), proportion("A", 20, edge), 0.05).test == "boschloo_exact"
    assert two_proportions(proportion("B", 30, edge + 1), proportion("A", 20, edge), 0.05).test == "fisher_exact"


def _bench():
    import importlib.util

    path = Path(__file__).resolve().parents[1] / "bench" / "ab_test_size.py"
    spec = importlib.util.spec_from_file_location("ab_test_size", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("n1, n2", [(18, 18), (16, 18)])
def test_sbs_ab_holds_its_level_where_the_former_rule_did_not(n1, n2):
    """Issue 19.2, a fast check of bench/ab_test_size.py on two grid points: the worst-case false-positive rate
    over π, enumerated exactly over every outcome, was 6.5% and 5.7% at nominal 5% for the former rule (z-test,
    Fisher below expected counts of 5); sbs ab's decisions now keep it ≤ 5%. Outcomes near the boundary are
    decided by two_proportions itself (scipy's Boschloo), the rest by the bench's enumeration of the same test
    (which agrees with scipy to 1e-6 on all those checked)."""
    bench = _bench()
    former = bench.level(bench.former_p(n1, n2) <= 0.05, n1, n2)[0]
    assert former > 0.055
    p = bench.boschloo_p(n1, n2)
    for x1, x2 in zip(*np.nonzero(np.abs(p - 0.05) < 0.02)):
        comp = two_proportions(proportion("B", int(x1), n1), proportion("A", int(x2), n2), 0.05)
        assert comp.test == "boschloo_exact" and comp.p_value == pytest.approx(p[x1, x2], abs=1e-6)
        p[x1, x2] = comp.p_value
    assert bench.level(p <= 0.05, n1, n2)[0] <= 0.05


def test_successes_that_are_not_counts_get_the_z_test_named_approximate():
    comp = two_proportions(VariantData("B", 100, 0.305, None, 30.5, None, True),
                           VariantData("A", 100, 0.2, None, 20.0, None, True), 0.05)
    pooled = 50.5 / 200
    z = 0.105 / math.sqrt(pooled * (1 - pooled) * (2 / 100))
    assert comp.test == "two_proportion_z" and "not whole counts" in comp.test_reason
    assert comp.statistic == pytest.approx(z) and comp.p_value == pytest.approx(2 * stats.norm.sf(z))
    # the z-test is the chi-square test of the 2×2 table without continuity correction
    chi2 = stats.chi2_contingency([[30.5, 69.5], [20, 80]], correction=False)
    assert comp.p_value == pytest.approx(chi2.pvalue, rel=1e-10)


def test_lift_undefined_when_control_is_zero():
    comp = welch(summary("B", 10, 1.0, 1.0), summary("A", 10, 0.0, 1.0), 0.05)
    assert comp.lift is None and comp.lift_ci_low is None and comp.p_value is not None


def test_constant_variants_and_tiny_samples():
    same = welch(units("B", [3, 3, 3]), units("A", [3, 3, 3, 3]), 0.05)
    assert same.p_value == 1.0 and same.ci_low == same.ci_high == 0.0
    differ = welch(units("B", [4, 4]), units("A", [3, 3]), 0.05)
    # Issue 9.6: formerly p = 0 ("significant" at n = 2); a zero-variance difference has no valid test
    assert differ.p_value is None and differ.ci_low is None and "no variation" in differ.note
    assert not analyse_metric("e", "m", [units("B", [4, 4, 4]), units("A", [3, 3, 3])]).comparisons[0].significant
    single = welch(units("B", [4.0]), units("A", [3.0, 1.0]), 0.05)
    assert single.p_value is None and "2 units" in single.note


# -- proportions -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("x1, n1, x2, n2, low, high", [
    # Newcombe (1998), Statistics in Medicine 17:873-890, Table II, method 10.
    (56, 70, 48, 80, 0.0524, 0.3339),
    (9, 10, 3, 10, 0.1705, 0.8090),
    (0, 10, 0, 20, -0.1611, 0.2775),
    (10, 10, 0, 20, 0.6791, 1.0),
])
def test_newcombe_published_intervals(x1, n1, x2, n2, low, high):
    lo, hi = newcombe_interval(x1, n1, x2, n2, 0.05)
    assert lo == pytest.approx(low, abs=6e-5) and hi == pytest.approx(high, abs=6e-5)


def test_wilson_published_interval():
    # Newcombe (1998, Statistics in Medicine 17:857-872) Table I: 81/263 -> 0.2553 to 0.3662.
    lo, hi = wilson_interval(81, 263, 0.05)
    assert lo == pytest.approx(0.2553, abs=6e-5) and hi == pytest.approx(0.3662, abs=6e-5)


def test_proportions_all_successes_everywhere():
    comp = two_proportions(proportion("B", 10, 10), proportion("A", 20, 20), 0.05)
    assert comp.p_value == 1.0 and comp.difference == 0.0


# -- families and controls -------------------------------------------------------------------------------------

def test_holm_matches_hand_computation():
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None]) == [0.5, None]


def test_significance_uses_holm_with_several_variants():
    rng = np.random.default_rng(11)
    control = units("control", rng.normal(0, 1, 200))
    variants = [control] + [units(f"v{i}", rng.normal(0.0, 1, 200)) for i in range(3)]
    variants.append(units("v_big", rng.normal(0.6, 1, 200)))
    result = analyse_metric("e", "m", variants, alpha=0.05)
    assert result.control == "control" and len(result.comparisons) == 4
    expected = holm([c.p_value for c in result.comparisons])
    for comp, adj in zip(result.comparisons, expected):
        assert comp.p_value_adjusted == adj
        assert comp.significant == (adj < 0.05)
    assert next(c for c in result.comparisons if c.variant == "v_big").significant


def test_single_comparison_uses_raw_p():
    result = analyse_metric("e", "m", [proportion("A", 100, 1000), proportion("B", 130, 1000)])
    (comp,) = result.comparisons
    assert comp.p_value_adjusted == comp.p_value and comp.significant == (comp.p_value < 0.05)
    assert result.kind == "binary"


@pytest.mark.parametrize("names, requested, expected", [
    (["x", "Control", "y"], None, "Control"),
    (["b", "baseline", "a"], None, "baseline"),
    (["B", "A"], None, "A"),
    (["m2", "m1"], None, "m1"),
    (["m2", "m1"], "m2", "m2"),
    (["m2", "m1"], "absent", "m1"),
])
def test_choose_control(names, requested, expected):
    assert choose_control(names, requested) == expected


# -- properties ------------------------------------------------------------------------------------------------

samples = st.lists(st.floats(-1e3, 1e3, allow_nan=False), min_size=2, max_size=30)


@given(samples, samples)
@settings(max_examples=40, deadline=None)
def test_swapping_variants_negates_the_difference(a, b):
    ab = welch(units("B", b), units("A", a), 0.05)
    ba = welch(units("A", a), units("B", b), 0.05)
    assert ba.difference == pytest.approx(-ab.difference, abs=1e-9)
    if ab.p_value is not None:
        assert ba.p_value == pytest.approx(ab.p_value, abs=1e-9)
        assert ba.ci_low == pytest.approx(-ab.ci_high, abs=1e-6)
        assert ba.ci_high == pytest.approx(-ab.ci_low, abs=1e-6)


@given(samples)
@settings(max_examples=40, deadline=None)
def test_identical_samples_give_p_one(a):
    comp = welch(units("B", a), units("A", a), 0.05)
    assert comp.difference == 0
    assert comp.p_value == pytest.approx(1.0)
    assert comp.ci_low <= 0 <= comp.ci_high


_ARM = st.one_of(st.integers(1, 25), st.integers(1000, 3000))  # Boschloo's sizes and Fisher's


@given(_ARM, _ARM, st.data())
@settings(max_examples=40, deadline=None)
def test_proportion_interval_contains_estimate_and_swaps(n1, n2, data):
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    ab = two_proportions(proportion("B", x1, n1), proportion("A", x2, n2), 0.05)
    ba = two_proportions(proportion("A", x2, n2), proportion("B", x1, n1), 0.05)
    assert -1 <= ab.ci_low <= ab.difference <= ab.ci_high <= 1
    assert ba.ci_low == pytest.approx(-ab.ci_high) and ba.p_value == pytest.approx(ab.p_value)
    assert 0 <= ab.p_value <= 1


# -- CLI -------------------------------------------------------------------------------------------------------

def run(capsys, db: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


@pytest.fixture
def ab_db(tmp_path, capsys) -> Path:
    rng = np.random.default_rng(5)
    lines = ["experiment,variant,unit,metric,value"]
    for variant, mu, p in (("baseline", 10.0, 0.10), ("model-x", 11.0, 0.16), ("[red]model-y", 10.0, 0.10)):
        for i in range(400):
            lines.append(f"exp,{variant},{variant}-{i},revenue,{rng.normal(mu, 3):.6f}")
            lines.append(f"exp,{variant},{variant}-{i},converted,{int(rng.random() < p)}")
    f = tmp_path / "units.csv"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    agg = tmp_path / "agg.csv"
    agg.write_text("experiment,variant,metric,n,successes\nsolo,A,ctr,100,5\n", encoding="utf-8")
    db = tmp_path / "ab.db"
    assert run(capsys, db, "import", "ab", str(f), str(agg))[0] == 0
    return db


def test_sbs_ab_json_contract(ab_db, capsys):
    code, out, err = run(capsys, ab_db, "ab", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert report["alpha"] == 0.05
    by_metric = {r["metric"]: r for r in report["experiments"]}
    assert set(by_metric) == {"revenue", "converted"}
    assert by_metric["converted"]["kind"] == "binary" and by_metric["revenue"]["kind"] == "continuous"
    for result in report["experiments"]:
        assert result["control"] == "baseline"
        for comp in result["comparisons"]:
            for key in ("n", "estimate", "lift", "ci_low", "ci_high", "p_value", "significant",
                        "p_value_adjusted"):
                assert key in comp
    x = next(c for c in by_metric["revenue"]["comparisons"] if c["variant"] == "model-x")
    assert x["significant"] and x["ci_low"] > 0 and x["n"] == 400
    assert "one variant" in err  # 'solo' has a single variant


def test_sbs_ab_table_renders_names_literally(ab_db, capsys):
    code, out, _ = run(capsys, ab_db, "ab", "--control", "model-x")
    assert code == 0
    assert "[red]model-y" in out and "model-x (control)" in out and "Welch" in out


def test_sbs_ab_unknown_control_is_a_usage_error(ab_db, capsys):
    code, _, err = run(capsys, ab_db, "ab", "--control", "nobody")
    assert code == 2 and "nobody" in err


def test_sbs_ab_bad_alpha(ab_db, capsys):
    assert run(capsys, ab_db, "ab", "--alpha", "1.5")[0] == 2


def test_sbs_ab_mixed_units_and_aggregates(tmp_path, capsys):
    db = tmp_path / "t.db"
    u = tmp_path / "u.csv"
    u.write_text("experiment,variant,unit,metric,value\n" + "".join(
        f"e,A,u{i},t,{v}\n" for i, v in enumerate([1.0, 2.0, 3.0, 4.0])), encoding="utf-8")
    a = tmp_path / "a.csv"
    a.write_text("experiment,variant,metric,n,mean,std\ne,B,t,50,3.5,1.2\n", encoding="utf-8")
    assert run(capsys, db, "import", "ab", str(u), str(a))[0] == 0
    _, out, _ = run(capsys, db, "ab", "--format", "json")
    (comp,) = json.loads(out)["experiments"][0]["comparisons"]
    ref = stats.ttest_ind_from_stats(3.5, 1.2, 50, 2.5, np.std([1, 2, 3, 4], ddof=1), 4, equal_var=False)
    assert comp["p_value"] == pytest.approx(ref.pvalue)


def test_absurd_magnitudes_still_give_valid_json(tmp_path, capsys):
    db = tmp_path / "t.db"
    a = tmp_path / "a.csv"
    a.write_text("experiment,variant,metric,n,mean,std\ne,A,t,10,1e300,1e300\ne,B,t,10,-1e300,1e300\n",
                 encoding="utf-8")
    assert run(capsys, db, "import", "ab", str(a))[0] == 0
    code, out, _ = run(capsys, db, "ab", "--format", "json")
    assert code == 0
    json.loads(out)  # strict JSON: no NaN or Infinity


def test_hostile_names_are_shown_as_escapes():
    """One literal rule everywhere (sbs_tui.present.text): the stand-ins the annotator app shows, not Python
    escapes (changed on purpose when the two rules were merged)."""
    from rich.console import Console

    from sbs_tui.present.text import literal

    console = Console(width=200, force_terminal=False, record=True)
    console.print(literal("[bold]x\x1b[2J\u200by\u202e"))
    text = console.export_text()
    assert "[bold]x␛[2J⟨U+200B⟩y⟨U+202E⟩" in text and "\x1b" not in text


def test_control_is_stored_per_experiment_and_shared_by_ab_funnel_and_review(tmp_path, cli):
    """Issue 9.7: the control is chosen once at import and is the same in sbs ab, sbs funnel and the review app;
    a later variant named 'control' does not silently take over; sbs ab --control changes it for everyone."""
    from sbs_tui.core.analysis.funnel import build_funnel
    from sbs_tui.core.store import Store
    from sbs_tui.core.views import on_db
    from sbs_tui.core.views.funnel import funnel_view

    db = tmp_path / "ab.db"
    first = tmp_path / "first.csv"
    first.write_text("experiment,variant,metric,n,successes\nexp,m-b,ctr,100,12\nexp,m-a,ctr,100,10\n")
    assert cli("--db", str(db), "import", "ab", str(first), "--control", "m-b").exit_code == 0
    later = tmp_path / "later.csv"
    later.write_text("experiment,variant,metric,n,successes\nexp,control,ctr,100,11\n")
    assert cli("--db", str(db), "import", "ab", str(later)).exit_code == 0

    def controls() -> tuple[str, str, str]:
        doc = json.loads(cli("--db", str(db), "ab", "--format", "json").stdout)
        with Store(db) as store:
            funnel = build_funnel(store)
        ab_stage = next(s for s in funnel.stages if s.key.startswith("ab:"))
        funnel_control = next(m for m, d in ab_stage.details.items() if d["control"])
        view = on_db(str(db), funnel_view)
        review = next(m.model for m in view.rows
                      if any(k.startswith("ab:") and v.get("control") for k, v in m.stages.items()))
        return doc["experiments"][0]["control"], funnel_control, review

    assert controls() == ("m-b", "m-b", "m-b")
    res = cli("--db", str(db), "ab", "--control", "control", "--format", "json")
    assert res.exit_code == 0 and "now 'control'" in res.stderr
    assert controls() == ("control", "control", "control")
