"""A/B analysis: every variant of an experiment against its control, per metric, with honest uncertainty.

What is computed, and why:

* **Continuous metrics** (per-unit values that are not all 0/1, or aggregated ``n, mean, std``): Welch's t-test
  (``scipy.stats.ttest_ind(equal_var=False)`` on units, ``ttest_ind_from_stats`` on summaries — the two agree
  exactly) and the Welch confidence interval for the difference of means. Welch rather than Student because
  variants routinely differ in variance and size, and Welch costs nothing when they do not.
* **Binary metrics** (per-unit values all 0 or 1, or aggregated ``n, successes``): an exact test for the p-value
  — Boschloo's unconditional test, Fisher's at large n — because the pooled z-test's true level exceeds the
  nominal one at every size measured (see :func:`two_proportions`), and Newcombe's hybrid score interval
  (method 10 of Newcombe 1998) for the difference of proportions, which keeps its coverage near 0 or 1 where
  the Wald interval does not.
* **Lift** is relative: (variant − control) / control, with a delta-method interval
  (Var(m_t/m_c) ≈ Var(m_t)/m_c² + m_t²·Var(m_c)/m_c⁴). It is undefined (null) when the control's estimate is 0.
* **Several variants** against one control are a family of tests: ``p_value_adjusted`` is Holm's step-down
  adjustment within each (experiment, metric), and ``significant`` uses it whenever the family has more than
  one comparison (``p_value_adjusted < alpha``); with a single comparison it equals ``p_value``. Different
  metrics are not adjusted against each other: pick the primary metric before looking. Intervals are the
  unadjusted (1 − alpha) intervals.

The control is a property of the experiment, stored in the database (table ``ab_controls``) so that
``sbs ab``, ``sbs funnel`` and the review app always compare against the same variant: it is chosen when the
experiment is first imported (``sbs import ab --control VARIANT``, else a variant named ``control``,
``baseline`` or ``A`` — case-insensitive, in that order — else the first variant alphabetically) and changed only
explicitly (``sbs ab --control VARIANT`` stores the new choice). Databases from before the table get the same rule
applied on first analysis, and are told so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sbs_tui.core.ingest.ab_control import choose_control, store_controls

if TYPE_CHECKING:
    from sbs_tui.core.store import Store


def json_safe(value: Any) -> Any:
    """Non-finite floats (an overflow on absurd inputs) become None, so JSON output stays valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


@dataclass(slots=True)
class VariantData:
    """One variant's data for one metric: raw unit values, or summary statistics."""

    variant: str
    n: int
    mean: float
    std: float | None = None  # sample standard deviation (ddof=1); None when n < 2
    successes: float | None = None  # binary metrics
    values: Any = None  # numpy array of unit values, when imported per unit
    binary: bool = False

    def as_continuous(self) -> VariantData:
        """A binary variant seen as 0/1 values: mean p and the sample standard deviation of those values."""
        if not self.binary:
            return self
        std = math.sqrt(self.mean * (1 - self.mean) * self.n / (self.n - 1)) if self.n > 1 else None
        return VariantData(self.variant, self.n, self.mean, std, None, self.values, False)


@dataclass(slots=True)
class Comparison:
    variant: str
    n: int
    estimate: float
    control_estimate: float
    difference: float
    ci_low: float | None
    ci_high: float | None
    lift: float | None
    lift_ci_low: float | None
    lift_ci_high: float | None
    p_value: float | None
    test: str
    statistic: float | None = None
    df: float | None = None
    p_value_adjusted: float | None = None
    significant: bool = False
    note: str | None = None
    test_reason: str | None = None
    lift_ci_method: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "variant": self.variant, "n": self.n, "estimate": self.estimate,
            "control_estimate": self.control_estimate, "difference": self.difference,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "lift": self.lift, "lift_ci_low": self.lift_ci_low,
            "lift_ci_high": self.lift_ci_high, "p_value": self.p_value, "p_value_adjusted": self.p_value_adjusted,
            "significant": self.significant, "test": self.test, "statistic": self.statistic, "df": self.df,
            "note": self.note, "test_reason": self.test_reason, "lift_ci_method": self.lift_ci_method,
        }


@dataclass(slots=True)
class MetricResult:
    experiment: str
    metric: str
    kind: str  # 'binary' | 'continuous'
    control: str
    control_n: int
    control_estimate: float
    comparisons: list[Comparison] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "experiment": self.experiment, "metric": self.metric, "kind": self.kind, "control": self.control,
            "control_n": self.control_n, "control_estimate": self.control_estimate,
            "comparisons": [c.as_dict() for c in self.comparisons], "warnings": self.warnings,
        }


# --------------------------------------------------------------------------------------------------------------
# Statistics (pure functions of summary numbers; scipy is imported lazily)
# --------------------------------------------------------------------------------------------------------------

def welch(treatment: VariantData, control: VariantData, alpha: float) -> Comparison:
    """Welch's t-test and interval for mean(treatment) − mean(control)."""
    from scipy import stats

    t, c = treatment.as_continuous(), control.as_continuous()
    diff = t.mean - c.mean
    base = _comparison(t, c, diff, test="welch_t")
    if t.std is None or c.std is None:
        base.note = "needs at least 2 units per variant for a t-test"
        return base
    try:
        vt, vc = t.std ** 2 / t.n, c.std ** 2 / c.n
        se = math.sqrt(vt + vc)
    except OverflowError:
        vt = vc = se = math.inf
    if not math.isfinite(se) or not math.isfinite(diff):
        base.note = "values too large for a t-test in double precision"
        return base
    quantile = None
    if se == 0.0:
        if diff == 0:  # both constant at the same value: no difference, exactly
            base.p_value = 1.0
            base.ci_low = base.ci_high = diff
            base.note = "no variation within either variant"
        else:  # a t statistic of ±∞ at any n: no honest p-value or interval exists
            base.note = (f"no variation within either variant (n = {t.n} and {c.n}): the values differ but a "
                         "test needs variation; no p-value")
            return base
    else:
        share = vt / (vt + vc)  # Welch–Satterthwaite df, written scale-free so tiny variances do not underflow
        df = 1.0 / (share ** 2 / (t.n - 1) + (1.0 - share) ** 2 / (c.n - 1))
        if t.values is not None and c.values is not None:
            res = stats.ttest_ind(t.values, c.values, equal_var=False)
        else:
            res = stats.ttest_ind_from_stats(t.mean, t.std, t.n, c.mean, c.std, c.n, equal_var=False)
        statistic, p_value = float(res.statistic), float(res.pvalue)
        if not (math.isfinite(statistic) and math.isfinite(p_value)):  # extreme scales: same test by hand
            statistic = diff / se
            p_value = float(2 * stats.t.sf(abs(statistic), df))
        quantile = float(stats.t.ppf(1 - alpha / 2, df))
        half = quantile * se
        base.statistic, base.p_value, base.df = statistic, p_value, df
        base.ci_low, base.ci_high = diff - half, diff + half
    _add_lift(base, t.mean, c.mean, vt, vc, alpha, quantile)
    return base


def two_proportions(treatment: VariantData, control: VariantData, alpha: float) -> Comparison:
    """An exact test of p_treatment = p_control (Boschloo's, or Fisher's at large n); Newcombe's hybrid score
    interval for p_treatment − p_control.

    Why exact at every size: the pooled z-test's true level, enumerated exactly over every outcome
    (``bench/ab_test_size.py``, table in docs/ab-and-funnel.md), is above nominal at every balanced size from 20
    to 500 units per arm (6.5% at 18 per arm, 5.7% at 50, 5.4% at 500, nominal 5%) — also with Fisher's test for
    expected counts below 5 — so no size was found above which it holds its level. Boschloo's exact unconditional test
    (``scipy.stats.boschloo_exact``) is never anti-conservative and more powerful than Fisher's; above
    :data:`BOSCHLOO_MAX_TABLES` outcomes its cost grows (~1 s at 300 per arm) and Fisher's exact test, equally
    never anti-conservative and less conservative as n grows (true level 4.0% at 200 per arm), takes over. Only successes that are not whole
    counts (aggregates of weighted conversions) get the z-test, named as approximate."""
    x1, n1 = treatment.successes, treatment.n
    x2, n2 = control.successes, control.n
    assert x1 is not None and x2 is not None
    p1, p2 = x1 / n1, x2 / n2
    diff = p1 - p2
    base = _comparison(treatment, control, diff, test=exact_test_for(n1, n2))
    whole = _whole(x1) and _whole(x2)
    if not whole:
        base.test = "two_proportion_z"
        base.test_reason = ("successes are not whole counts, so no exact test applies: the pooled z-test, whose "
                            "level is only approximate (up to 9.2% at nominal 5% for whole counts up to 100 per arm)")
        base.statistic, base.p_value = pooled_z(x1, n1, x2, n2)
    elif (x1 + x2) in (0, n1 + n2):
        base.p_value = 1.0  # all successes or all failures in both: no difference, whichever test
        base.test_reason = "no variation: every unit succeeded, or none did"
    else:
        k1, k2 = int(round(x1)), int(round(x2))
        base.p_value = exact_two_proportion_p(k1, n1, k2, n2, base.test)
        base.test_reason = (f"exact unconditional test ({(n1 + 1) * (n2 + 1):,} possible outcomes ≤ "
                            f"{BOSCHLOO_MAX_TABLES:,})" if base.test == "boschloo_exact" else
                            f"exact conditional test: {(n1 + 1) * (n2 + 1):,} possible outcomes > "
                            f"{BOSCHLOO_MAX_TABLES:,} make Boschloo's test slow")
        base.test_reason += "; the pooled z-test exceeds its nominal level at these sizes"
    base.ci_low, base.ci_high = newcombe_interval(x1, n1, x2, n2, alpha)
    _add_lift(base, p1, p2, p1 * (1 - p1) / n1, p2 * (1 - p2) / n2, alpha)
    return base


# Boschloo's test while the outcomes (n1 + 1)·(n2 + 1) number at most this (≈ 200 units per arm, ~0.3 s per
# comparison on a laptop core); Fisher's beyond.
BOSCHLOO_MAX_TABLES = 201 * 201


def exact_test_for(n1: int, n2: int) -> str:
    """Which exact test a comparison of n1 against n2 units gets: ``boschloo_exact`` or ``fisher_exact``."""
    return "boschloo_exact" if (n1 + 1) * (n2 + 1) <= BOSCHLOO_MAX_TABLES else "fisher_exact"


def exact_two_proportion_p(x1: int, n1: int, x2: int, n2: int, test: str) -> float:
    """Two-sided p-value of x1/n1 against x2/n2 by ``test``. scipy's Boschloo takes the two binomial samples as
    the table's *columns*: [[x1, x2], [n1 − x1, n2 − x2]] (8/12 against 2/12: 0.0169; the transposed table, a
    different question, gives 0.0151)."""
    from scipy import stats

    table = [[x1, x2], [n1 - x1, n2 - x2]]
    if test == "boschloo_exact":
        p = float(stats.boschloo_exact(table, alternative="two-sided").pvalue)
    else:
        p = float(stats.fisher_exact(table, alternative="two-sided").pvalue)
    return min(1.0, p)


def pooled_z(x1: float, n1: int, x2: float, n2: int) -> tuple[float, float]:
    """The pooled two-proportion z statistic and its two-sided normal p-value (1 when there is no variation)."""
    from scipy import stats

    pooled = (x1 + x2) / (n1 + n2)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if se0 == 0.0:
        return 0.0, 1.0
    z = (x1 / n1 - x2 / n2) / se0
    return z, float(2 * stats.norm.sf(abs(z)))


def _whole(x: float) -> bool:
    return abs(x - round(x)) < 1e-9


def wilson_interval(x: float, n: int, alpha: float) -> tuple[float, float]:
    """Wilson score interval for a proportion x/n."""
    from scipy import stats

    z = float(stats.norm.ppf(1 - alpha / 2))
    p = x / n
    centre = p + z * z / (2 * n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    denom = 1 + z * z / n
    return max(0.0, (centre - half) / denom), min(1.0, (centre + half) / denom)


def newcombe_interval(x1: float, n1: int, x2: float, n2: int, alpha: float) -> tuple[float, float]:
    """Newcombe (1998) method 10: the difference p1 − p2 from the two Wilson intervals."""
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson_interval(x1, n1, alpha)
    l2, u2 = wilson_interval(x2, n2, alpha)
    d = p1 - p2
    low = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return max(-1.0, low), min(1.0, high)  # rounding can step a hair outside [-1, 1]


def holm(p_values: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (missing p-values stay missing and do not count)."""
    indexed = sorted((p, i) for i, p in enumerate(p_values) if p is not None)
    m = len(indexed)
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(indexed):
        running = max(running, min(1.0, (m - rank) * p))
        adjusted[i] = running
    return adjusted


def _comparison(t: VariantData, c: VariantData, diff: float, *, test: str) -> Comparison:
    return Comparison(variant=t.variant, n=t.n, estimate=t.mean, control_estimate=c.mean, difference=diff,
                      ci_low=None, ci_high=None, lift=None, lift_ci_low=None, lift_ci_high=None, p_value=None,
                      test=test)


def _add_lift(comp: Comparison, mt: float, mc: float, vt: float, vc: float, alpha: float,
              quantile: float | None = None) -> None:
    """Relative lift mt/mc − 1 with Fieller's interval (independent means); undefined when mc is 0.

    Fieller: the ratios R with (mt − R·mc)² ≤ q²·(vt + R²·vc), i.e. a·R² − 2·mt·mc·R + (mt² − q²·vt) ≤ 0 with
    a = mc² − q²·vc. Bounded only when a > 0 (the control's mean is clearly away from 0); otherwise the set is
    unbounded and the ends are null, which is the honest answer for a small or heavy-tailed control."""
    from scipy import stats

    if mc == 0:
        return
    try:
        ratio = mt / mc
        q = quantile if quantile is not None else float(stats.norm.ppf(1 - alpha / 2))
        a = mc * mc - q * q * vc
        disc = mt * mt * vc + mc * mc * vt - q * q * vt * vc
    except (ZeroDivisionError, OverflowError):
        return
    if not all(math.isfinite(x) for x in (ratio, a, disc)):
        return  # a control estimate so close to 0 that the relative change means nothing
    comp.lift = ratio - 1.0
    comp.lift_ci_method = "fieller"
    if a <= 0 or disc < 0:
        note = "the control's mean is not clearly away from 0: the lift's interval is unbounded (Fieller)"
        comp.note = f"{comp.note}; {note}" if comp.note else note
        return
    half = q * math.sqrt(disc)
    comp.lift_ci_low = (mt * mc - half) / a - 1.0
    comp.lift_ci_high = (mt * mc + half) / a - 1.0


# --------------------------------------------------------------------------------------------------------------
# Choosing the control and analysing a store
# --------------------------------------------------------------------------------------------------------------

def analyse_metric(experiment: str, metric: str, variants: Sequence[VariantData], *, alpha: float = 0.05,
                   control: str | None = None) -> MetricResult:
    """Every variant against the control for one (experiment, metric)."""
    by_name = {v.variant: v for v in variants}
    control_name = choose_control(by_name, control)
    ctrl = by_name[control_name]
    binary = all(v.binary for v in variants)
    kind = "binary" if binary else "continuous"
    result = MetricResult(experiment, metric, kind, control_name, ctrl.n, ctrl.mean)
    if not binary and any(v.binary for v in variants):
        result.warnings.append("some variants are binary and some continuous; compared as means (Welch)")
    for name in sorted(by_name):
        if name == control_name:
            continue
        test = two_proportions if binary else welch
        result.comparisons.append(test(by_name[name], ctrl, alpha))
    adjusted = holm([c.p_value for c in result.comparisons])
    several = len(result.comparisons) > 1
    for comp, p_adj in zip(result.comparisons, adjusted):
        comp.p_value_adjusted = p_adj
        decisive = p_adj if several else comp.p_value
        comp.significant = decisive is not None and decisive < alpha
    return result


def variant_data_from_store(store: Store) -> dict[tuple[str, str], list[VariantData]]:
    """Per (experiment, metric): each variant's data, per-unit values preferred over aggregates."""
    import numpy as np

    data: dict[tuple[str, str], dict[str, VariantData]] = {}
    current: tuple[str, str, str] | None = None
    values: list[float] = []

    def flush() -> None:
        if current is None or not values:
            return
        arr = np.asarray(values, dtype=float)
        binary = bool(np.all((arr == 0) | (arr == 1)))
        std = float(arr.std(ddof=1)) if arr.size > 1 else None
        data.setdefault(current[:2], {})[current[2]] = VariantData(
            current[2], int(arr.size), float(arr.mean()), std, float(arr.sum()) if binary else None, arr, binary)

    for experiment, metric, variant, value in store.results.ab_unit_values():
        key = (experiment, metric, variant)
        if key != current:
            flush()
            current, values = key, []
        values.append(value)
    flush()
    # Binary per metric, not per variant: one variant all 0/1 by chance does not make a continuous metric binary.
    for variants in data.values():
        if not all(v.binary for v in variants.values()):
            for name, v in variants.items():
                if v.binary:
                    variants[name] = v.as_continuous()
    for row in store.results.ab_aggregates():
        per_metric = data.setdefault((row["experiment"], row["metric"]), {})
        if row["variant"] in per_metric and per_metric[row["variant"]].values is not None:
            continue  # per-unit data for this variant wins over a summary of it
        if row["successes"] is not None:
            per_metric[row["variant"]] = VariantData(row["variant"], row["n"], row["successes"] / row["n"],
                                                     None, row["successes"], None, True)
        else:
            per_metric[row["variant"]] = VariantData(row["variant"], row["n"], row["mean"],
                                                     row["std"] if row["n"] > 1 else None, None, None, False)
    return {key: list(variants.values()) for key, variants in sorted(data.items())}


@dataclass(slots=True)
class ABReport:
    alpha: float
    results: list[MetricResult]
    single_variant: list[tuple[str, str]]  # (experiment, metric) with one variant: nothing to compare

    def as_dict(self) -> dict[str, Any]:
        return json_safe({"alpha": self.alpha, "experiments": [r.as_dict() for r in self.results],
                          "single_variant": [{"experiment": e, "metric": m} for e, m in self.single_variant]})


def analyse_store(store: Store, *, alpha: float = 0.05, control: str | None = None) -> ABReport:
    """Every (experiment, metric) in the database with at least two variants, each against its experiment's
    stored control (``control``: only for experiments without a stored one — set it with :func:`~sbs_tui.core.ingest.ab_control.store_controls`)."""
    if not 0 < alpha < 1:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    shared = {(s.experiment, s.metric): s.units for s in store.results.ab_shared_units()}
    stored = store.results.ab_controls()
    report = ABReport(alpha, [], [])
    for (experiment, metric), variants in variant_data_from_store(store).items():
        if len(variants) < 2:
            report.single_variant.append((experiment, metric))
            continue
        names = {v.variant for v in variants}
        fixed = stored.get(experiment)
        result = analyse_metric(experiment, metric, variants, alpha=alpha,
                                control=fixed if fixed in names else control)
        if shared.get((experiment, metric)):
            result.warnings.append(f"{shared[(experiment, metric)]} units appear in more than one variant "
                                   "(broken randomisation?)")
        if fixed is not None and fixed not in names:
            result.warnings.append(f"the experiment's control {fixed!r} has no {metric!r} results; "
                                   f"compared against {result.control!r}")
        elif fixed is None:
            result.warnings.append(f"no stored control for this experiment; {result.control!r} by the naming rule "
                                   "(sbs ab --control VARIANT stores one)")
        if control is not None and result.control != control:
            result.warnings.append(f"no variant {control!r} in this experiment; control is {result.control!r}")
        report.results.append(result)
    return report


def analyse_with_control(store: Store, *, alpha: float = 0.05, control: str | None = None,
                         chosen_by: str = "sbs ab --control") -> tuple[ABReport, dict[str, str]]:
    """``sbs ab`` as one call: with ``control``, first store it as the control of every experiment that has it
    (one transaction; ``sbs funnel`` and the review app then use it too), then analyse. Returns the report and
    the experiments whose stored control changed."""
    changed: dict[str, str] = {}
    if control is not None:
        with store.transaction():
            changed = store_controls(store, control, replace=True, chosen_by=chosen_by)
    return analyse_store(store, alpha=alpha, control=control), changed
