"""The evaluation funnel side by side: benchmarks, gates, annotators and A/B results per model, and how far
the stages agree.

Why show the stages together rather than one combined score: they measure different things (benchmarks are
fixed tasks; annotators are not the user population; an A/B test measures users but only for the variants
that shipped), so they often disagree. The funnel states the disagreement — rank correlations over the models
two stages share, and plain sentences such as "benchmarks rank X first, side-by-side ranks Y first" — instead
of averaging it away.

Stages and the score each ranks models by (higher is better):

* ``benchmarks`` — for each benchmark one primary metric (the one most models have; ties prefer acc_norm,
  acc, exact_match, then alphabetical), each min–max normalised over the models that have it (1 = best,
  0 = worst; metrics marked lower-is-better are flipped); a model's score is the mean over its benchmarks.
  Benchmarks where every model scores the same carry no ranking information and are left out of the mean.
* ``side_by_side`` — :func:`side_by_side_scores`: the mean credit per vote (a win 1, a tie or both-bad ½, a
  weighted vote its weight), over the unflagged votes of the chosen voters — by default the humans' when the
  database also holds an LLM judge's votes (a judge answers another question), as the review app ranks;
  ``voters`` picks judges or everyone, and the report says which were counted.
* ``ab:EXPERIMENT/METRIC`` — the variant's estimate (mean or rate) in that experiment, with its lift over the
  control; variants name models. Metrics where lower is better (latency, errors) are given with
  ``lower_better``.
* gates (not ranked) — the share of each model's gated generations that passed (``generations.gate_status``),
  and per gate when a ``gate_results`` table exists.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.ranking.report import Ranking
    from sbs_tui.core.store import Store

PREFERRED_METRICS = ("acc_norm", "acc", "exact_match", "f1", "mc2", "em", "pass@1", "")
MIN_SHARED_FOR_CORRELATION = 3


@dataclass(slots=True)
class Stage:
    key: str  # 'benchmarks', 'side_by_side', 'ab:exp/metric'
    label: str  # how sentences name it
    scores: dict[str, float]  # model -> score, higher is better
    details: dict[str, dict[str, Any]] = field(default_factory=dict)  # model -> what the JSON shows
    votes: int | None = None  # side-by-side: the votes counted (each vote once)

    def ranks(self) -> dict[str, int]:
        """Competition ranks (1 = best; equal scores share a rank)."""
        ordered = sorted(self.scores.values(), reverse=True)
        return {model: 1 + ordered.index(score) for model, score in self.scores.items()}

    def first(self, among: Iterable[str]) -> list[str]:
        among = [m for m in among if m in self.scores]
        if not among:
            return []
        best = max(self.scores[m] for m in among)
        return sorted(m for m in among if self.scores[m] == best)


# --------------------------------------------------------------------------------------------------------------
# Stage scores
# --------------------------------------------------------------------------------------------------------------

SIDE_BY_SIDE_METHOD = "bt"  # the stage's score: a Bradley-Terry rating (Elo scale); the win rate rides along


def side_by_side_scores(store: Store, annotators: list[str] | None = None) -> dict[str, tuple[float, int]]:
    """Per model: (mean credit per vote, number of votes) from unflagged votes — a plain win rate, ties as half.

    Kept behind this one function so a Bradley-Terry rating (sbs_tui.core.ranking) can replace it: the funnel
    only needs a score per model where higher is better. When it does, set ``SIDE_BY_SIDE_METHOD`` to the
    method's name, and the table prints the score as a rating instead of a percentage.
    """
    return credit_shares(*store.votes.outcomes(annotators=annotators))


def credit_shares(names: list[str], rows: list[tuple[int, int, float, int]]) -> dict[str, tuple[float, int]]:
    """:func:`side_by_side_scores` over outcome rows already read (the funnel's ranking hands them on)."""
    credit = [0.0] * len(names)
    votes = [0] * len(names)
    for ia, ib, score_b, count in rows:
        credit[ib] += score_b * count
        credit[ia] += (1.0 - score_b) * count
        votes[ia] += count
        votes[ib] += count
    return {name: (credit[i] / votes[i], votes[i]) for i, name in enumerate(names) if votes[i] > 0}


def _primary_metric(metrics: dict[str, int]) -> str:
    """The metric most models have; ties go to the conventional headline metric, then alphabetical."""
    def preference(metric: str) -> int:
        base = metric.partition(",")[0]
        return PREFERRED_METRICS.index(base) if base in PREFERRED_METRICS else len(PREFERRED_METRICS)

    return min(metrics, key=lambda m: (-metrics[m], preference(m), m))


def benchmark_stage(store: Store) -> Stage | None:
    rows = store.results.benchmarks()
    if not rows:
        return None
    per_benchmark: dict[str, dict[str, int]] = {}
    for row in rows:
        counts = per_benchmark.setdefault(row["benchmark"], {})
        counts[row["metric"]] = counts.get(row["metric"], 0) + 1
    primary = {bench: _primary_metric(metrics) for bench, metrics in per_benchmark.items()}
    columns: dict[str, dict[str, float]] = {}
    lower_better: set[str] = set()
    for row in rows:
        if row["metric"] != primary[row["benchmark"]]:
            continue
        columns.setdefault(row["benchmark"], {})[row["model"]] = row["score"]
        if row["higher_is_better"] is False:
            lower_better.add(row["benchmark"])
    normalised: dict[str, list[float]] = {}
    details: dict[str, dict[str, Any]] = {}
    for bench, scores in sorted(columns.items()):
        low, high = min(scores.values()), max(scores.values())
        for model, score in scores.items():
            entry = details.setdefault(model, {"scores": {}, "benchmarks": 0})
            label = bench if not primary[bench] else f"{bench} ({primary[bench]})"
            entry["scores"][label] = score
            entry["benchmarks"] += 1
            if high > low:
                norm = (score - low) / (high - low)
                normalised.setdefault(model, []).append(1.0 - norm if bench in lower_better else norm)
    scores = {model: sum(vals) / len(vals) for model, vals in normalised.items()}
    for model, entry in details.items():
        entry["score"] = scores.get(model)
    return Stage("benchmarks", "benchmarks", scores, details)


def votes_stage(store: Store, voters: str = "auto", ranking: Ranking | None = None) -> Stage | None:
    """The side-by-side stage over ``voters``' votes (the one voters rule, :mod:`sbs_tui.core.scope`;
    ``auto``: the humans' when the database also has judge votes), scored by Bradley-Terry rating.

    A raw win rate depends on whom each model happened to meet (AlpacaEval's votes all face one reference
    model); BT adjusts for the opponents. When the comparison graph is disconnected, BT ratings of different
    components are not comparable, so the stage falls back to the win rate and says so in ``method``. One
    ranking (sandwich intervals: the funnel needs the order, not the intervals) gives the ratings, the win rates
    and the vote counts — the votes are read once, exactly as ``sbs rank --voters`` reads them.
    """
    from sbs_tui.core.ranking.api import RankRequest, run_ranking

    if ranking is None:  # a caller that already ranked these votes (the plots) passes its ranking
        ranking = run_ranking(store, RankRequest(method="bt", ci="sandwich", voters=voters))
    if not ranking.models:
        return None
    connected = len(ranking.info.get("components") or [None]) <= 1
    method = SIDE_BY_SIDE_METHOD if connected else "win_rate"
    counted = ranking.info["voters"]
    scores, details = {}, {}
    assert ranking.counts is not None  # a BT ranking keeps the outcome rows it fitted
    shares = credit_shares(*ranking.counts)
    ratings = {m.model: m.rating for m in ranking.models}
    for model, (share, n) in shares.items():
        scores[model] = ratings[model] if connected else share
        details[model] = {"score": scores[model], "rating": ratings.get(model), "win_rate": share, "votes": n,
                          "method": method, "voters": counted}
    stage = Stage("side_by_side", "side-by-side", scores, details)
    stage.votes = int(ranking.info["votes"])
    return stage


def ab_stages(store: Store, *, alpha: float = 0.05, lower_better: Iterable[str] = ()) -> list[Stage]:
    from sbs_tui.core.analysis.abtest import analyse_store

    lower = set(lower_better)
    stages = []
    for result in analyse_store(store, alpha=alpha).results:
        sign = -1.0 if result.metric in lower else 1.0
        key = f"ab:{result.experiment}/{result.metric}"
        stage = Stage(key, f"A/B {result.experiment}/{result.metric}", {}, {})
        stage.scores[result.control] = sign * result.control_estimate
        stage.details[result.control] = {"estimate": result.control_estimate, "lift": 0.0, "control": True,
                                         "significant": None}
        for comp in result.comparisons:
            stage.scores[comp.variant] = sign * comp.estimate
            stage.details[comp.variant] = {"estimate": comp.estimate, "lift": comp.lift, "control": False,
                                           "significant": comp.significant, "p_value": comp.p_value}
        stages.append(stage)
    return stages


def gate_summary(store: Store) -> dict[str, dict[str, Any]]:
    """Per model: pass rate over gated generations (passed / (passed + blocked)) and, if recorded, per gate."""
    summary: dict[str, dict[str, Any]] = {}
    for model, counts in store.gates.status_counts().items():
        decided = counts["passed"] + counts["blocked"]
        summary[model] = {"pass_rate": counts["passed"] / decided if decided else None, **counts, "gates": {}}
    for model, gates in store.gates.pass_rates().items():
        entry = summary.setdefault(model, {"pass_rate": None, "pending": 0, "passed": 0, "blocked": 0,
                                           "gates": {}})
        entry["gates"] = {gate: {"pass_rate": r.passed / r.total if r.total else None, "passed": r.passed,
                                 "total": r.total} for gate, r in sorted(gates.items())}
    return summary


# --------------------------------------------------------------------------------------------------------------
# Comparing stages
# --------------------------------------------------------------------------------------------------------------

@dataclass(slots=True)
class Correlation:
    stages: tuple[str, str]
    models: list[str]
    spearman: float | None = None
    spearman_p: float | None = None
    kendall: float | None = None
    kendall_p: float | None = None
    kendall_p_method: str | None = None  # "exact" (scipy, no ties), "exact permutation" (ties) or "asymptotic"
    note: str | None = None
    spearman_p_method: str | None = None  # "exact permutation" (n ≤ EXACT_MAX_N) or "t approximation"
    spearman_ci: tuple[float, float] | None = None  # 95%, Fisher z with the Bonett–Wright standard error
    spearman_p_holm: float | None = None  # Holm-adjusted across all the funnel's correlations

    def as_dict(self) -> dict[str, Any]:
        return {"stages": list(self.stages), "n": len(self.models), "models": self.models,
                "spearman": self.spearman, "spearman_p": self.spearman_p, "kendall": self.kendall,
                "kendall_p": self.kendall_p, "kendall_p_method": self.kendall_p_method, "note": self.note, "spearman_p_method": self.spearman_p_method,
                "spearman_ci_low": self.spearman_ci[0] if self.spearman_ci else None,
                "spearman_ci_high": self.spearman_ci[1] if self.spearman_ci else None,
                "spearman_p_holm": self.spearman_p_holm}


def _finite(x: Any) -> float | None:
    import math

    x = float(x)
    return x if math.isfinite(x) else None


EXACT_MAX_N = 9  # up to 9! = 362,880 permutations: the exact null distribution is cheap
KENDALL_SCIPY_EXACT_MAX_N = 33  # scipy's own choice for kendalltau(method="auto") without ties
ALPHA = 0.05


def spearman_exact_p(xa: list[float], xb: list[float]) -> float:
    """Two-sided permutation p-value of Spearman's ρ over all n! pairings (scipy.stats.permutation_test with
    every permutation enumerated). Why: scipy's default p comes from a t approximation that is badly off at
    small n — 4 models in the same order give ρ = 1 and p ≈ 0, while only 2 of the 24 orders are that extreme
    (p = 0.083)."""
    return _exact_permutation_p(xa, xb, "spearmanr")


def kendall_exact_p(xa: list[float], xb: list[float]) -> float:
    """Two-sided permutation p-value of Kendall's τ-b over all n! pairings, as for Spearman. Why: with tied
    scores scipy's ``kendalltau`` has no exact method and falls back to the normal approximation, which is
    anti-conservative at funnel sizes (6 models with ties: 0.080 against the exact 0.117)."""
    return _exact_permutation_p(xa, xb, "kendalltau")


def _exact_permutation_p(xa: list[float], xb: list[float], statistic: str) -> float:
    from scipy import stats

    corr = getattr(stats, statistic)
    res = stats.permutation_test((xa,), lambda x: corr(x, xb).statistic,
                                 permutation_type="pairings", n_resamples=float("inf"), alternative="two-sided")
    return float(res.pvalue)


def spearman_interval(rho: float, n: int) -> tuple[float, float] | None:
    """95% interval for ρ: Fisher's z with Bonett & Wright's (2000) standard error √((1 + ρ²/2)/(n − 3));
    undefined for n < 4."""
    import math

    if n < 4:
        return None
    r = max(min(rho, 1 - 1e-12), -1 + 1e-12)
    half = 1.959963984540054 * math.sqrt((1 + r * r / 2) / (n - 3))
    z = math.atanh(r)
    return math.tanh(z - half), math.tanh(z + half)


def correlate(a: Stage, b: Stage) -> Correlation:
    """Spearman's rho and Kendall's tau-b (scipy.stats) over the models both stages score; Spearman's p exact
    (permutations) for up to :data:`EXACT_MAX_N` models; Kendall's exact from scipy without ties, by permutations
    with ties (up to :data:`EXACT_MAX_N` models), scipy's asymptotic one only beyond."""
    from scipy import stats

    shared = sorted(set(a.scores) & set(b.scores))
    corr = Correlation((a.key, b.key), shared)
    if len(shared) < MIN_SHARED_FOR_CORRELATION:
        corr.note = f"{len(shared)} shared models; a rank correlation needs at least {MIN_SHARED_FOR_CORRELATION}"
        return corr
    xa = [a.scores[m] for m in shared]
    xb = [b.scores[m] for m in shared]
    if len(set(xa)) == 1 or len(set(xb)) == 1:
        corr.note = "one stage scores every shared model the same"
        return corr
    rho = stats.spearmanr(xa, xb)
    ties = len(set(xa)) < len(xa) or len(set(xb)) < len(xb)
    if not ties and len(shared) <= KENDALL_SCIPY_EXACT_MAX_N:
        corr.kendall_p_method = "exact"  # scipy's exact null distribution of τ without ties
    elif ties and len(shared) <= EXACT_MAX_N:
        corr.kendall_p_method = "exact permutation"
    else:
        corr.kendall_p_method = "asymptotic"
    tau = stats.kendalltau(xa, xb, method="exact" if corr.kendall_p_method == "exact" else "asymptotic")
    corr.spearman, corr.kendall, corr.kendall_p = _finite(rho.statistic), _finite(tau.statistic), _finite(tau.pvalue)
    if corr.kendall_p_method == "exact permutation":
        corr.kendall_p = kendall_exact_p(xa, xb)
    if len(shared) <= EXACT_MAX_N:
        corr.spearman_p, corr.spearman_p_method = spearman_exact_p(xa, xb), "exact permutation"
    else:
        corr.spearman_p, corr.spearman_p_method = _finite(rho.pvalue), "t approximation"
    if corr.spearman is not None:
        corr.spearman_ci = spearman_interval(corr.spearman, len(shared))
    return corr


def _clear(corr: Correlation) -> bool:
    """Whether the data show the stages are related at all: the (Holm-adjusted) p below α and the interval
    clear of 0."""
    p = corr.spearman_p_holm if corr.spearman_p_holm is not None else corr.spearman_p
    ci = corr.spearman_ci
    return p is not None and p < ALPHA and ci is not None and (ci[0] > 0 or ci[1] < 0)


def _p_text(p: float | None) -> str:
    if p is None:
        return "–"
    return "< 1e-10" if p < 1e-10 else f"{p:.2g}"


def _names(models: list[str]) -> str:
    return " and ".join(repr(m) for m in models) if len(models) <= 3 else f"{len(models)} models tied"


def disagreements(a: Stage, b: Stage, corr: Correlation) -> list[str]:
    """Plain sentences about where two stages part ways (empty when they agree on the shared models)."""
    shared = corr.models
    if len(shared) < 2:
        return []
    lines = []
    first_a, first_b = a.first(shared), b.first(shared)
    if first_a != first_b:
        lines.append(f"{a.label} rank{'s' if len(first_a) == 1 else ''} {_names(first_a)} first, "
                     f"{b.label} rank{'s' if len(first_b) == 1 else ''} {_names(first_b)} first "
                     f"(among {len(shared)} shared models)")
    if corr.spearman is not None and corr.spearman < 0.5:
        # The wording follows the evidence, not the sign: "opposite" only when the interval lies below 0.
        ci = corr.spearman_ci
        stats_text = (f"Spearman {corr.spearman:+.2f}"
                      + (f", 95% CI {ci[0]:+.2f} to {ci[1]:+.2f}" if ci else "")
                      + f", p {_p_text(corr.spearman_p_holm if corr.spearman_p_holm is not None else corr.spearman_p)}"
                      + f", Kendall {corr.kendall:+.2f} over {len(shared)} models")
        if _clear(corr):
            strength = "opposite" if corr.spearman < 0 else "weakly related"
            lines.append(f"{a.label} and {b.label} rankings are {strength} ({stats_text})")
        else:
            lines.append(f"{a.label} and {b.label} rankings are not clearly related either way ({stats_text})")
    elif len(shared) == 2 and a.scores[shared[0]] != a.scores[shared[1]]:
        order_a = a.scores[shared[0]] > a.scores[shared[1]]
        order_b = b.scores[shared[0]] > b.scores[shared[1]]
        if order_a != order_b and not lines:
            lines.append(f"{a.label} and {b.label} order {shared[0]!r} and {shared[1]!r} differently")
    return lines


@dataclass(slots=True)
class FunnelReport:
    stages: list[Stage]
    gates: dict[str, dict[str, Any]]
    correlations: list[Correlation]
    disagreements: list[str]
    voters: str | None = None  # whose votes the side-by-side stage counted (humans, judges, all); None: no votes
    votes: int = 0  # how many votes it counted
    #: The first stage's blind spot: safety categories no blocking gate checked (:mod:`sbs_tui.core.gates.coverage`).
    unchecked: list[Any] = field(default_factory=list)

    def models(self) -> list[str]:
        """Every model any stage knows, ordered by side-by-side score, then benchmarks, then name."""
        names = {m for s in self.stages for m in s.scores} | set(self.gates)
        by_key = {s.key: s for s in self.stages}

        def order(model: str) -> tuple[float, float, str]:
            sbs = by_key.get("side_by_side")
            bench = by_key.get("benchmarks")
            return (-(sbs.scores.get(model, float("-inf")) if sbs else 0.0),
                    -(bench.scores.get(model, float("-inf")) if bench else 0.0), model)

        return sorted(names, key=order)

    def as_dict(self) -> dict[str, Any]:
        ranks = {s.key: s.ranks() for s in self.stages}
        models = []
        for model in self.models():
            entry: dict[str, Any] = {"model": model}
            for stage in self.stages:
                if stage.key in ("benchmarks", "side_by_side"):
                    entry[stage.key] = stage.details.get(model)
            entry["ab"] = {s.key[3:]: s.details[model] for s in self.stages
                           if s.key.startswith("ab:") and model in s.details}
            entry["gates"] = self.gates.get(model)
            entry["ranks"] = {key: r[model] for key, r in ranks.items() if model in r}
            models.append(entry)
        from sbs_tui.core.analysis.abtest import json_safe

        return json_safe({
            "stages": [{"key": s.key, "label": s.label, "models": len(s.scores)} for s in self.stages],
            "models": models,
            "correlations": [c.as_dict() for c in self.correlations],
            "p_adjustment": "holm across the correlations listed (spearman_p_holm)",
            "disagreements": self.disagreements,
            "side_by_side_voters": self.voters,
            "voters": self.voters,
            "votes": self.votes,
            "unchecked": [u.as_dict() for u in self.unchecked],
        })


def build_funnel(store: Store, *, alpha: float = 0.05, lower_better: Iterable[str] = (),
                 voters: str = "auto", ranking: Ranking | None = None) -> FunnelReport:
    """Every stage, their rank correlations and disagreements; the side-by-side stage counts ``voters``
    (``ranking``: their sandwich-interval BT ranking, when the caller has it already)."""
    stages: list[Stage] = []
    for stage in (benchmark_stage(store), votes_stage(store, voters, ranking)):
        if stage is not None:
            stages.append(stage)
    stages.extend(ab_stages(store, alpha=alpha, lower_better=lower_better))
    correlations: list[tuple[Correlation, Stage, Stage]] = []
    sentences: list[str] = []
    for i, a in enumerate(stages):
        for b in stages[i + 1:]:
            if a.key.startswith("ab:") and b.key.startswith("ab:"):
                continue  # two experiments are not two stages
            corr = correlate(a, b)
            if not corr.models:
                continue
            correlations.append((corr, a, b))
    # Holm across every correlation the funnel reports: several stage pairs are tested at once.
    from sbs_tui.core.analysis.abtest import holm

    for (corr, _a, _b), p_adj in zip(correlations, holm([c.spearman_p for c, _, _ in correlations])):
        corr.spearman_p_holm = p_adj
        if corr.spearman is not None and not _clear(corr) and corr.spearman >= 0.5:
            corr.note = (f"not significant over {len(corr.models)} models (Holm-adjusted p "
                         f"{_p_text(corr.spearman_p_holm)}): agreement not established")
    for corr, a, b in correlations:
        sentences.extend(disagreements(a, b, corr))
    sbs = next((s for s in stages if s.key == "side_by_side"), None)
    counted = next(iter(sbs.details.values()))["voters"] if sbs and sbs.details else None
    from sbs_tui.core.gates.coverage import from_store

    return FunnelReport(stages, gate_summary(store), [c for c, _, _ in correlations], sentences, counted,
                        sbs.votes or 0 if sbs else 0, unchecked=from_store(store))
