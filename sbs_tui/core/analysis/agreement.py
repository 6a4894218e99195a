"""Annotator agreement and quality: κ, α, position bias, outliers, LLM judge vs humans, gold accuracy.

Why these numbers: a ranking is only as good as the votes. Low agreement means the task is ambiguous or the
annotators are noisy (CIs from the votes alone then understate the uncertainty); a strong left-side preference
means blinding is not enough; an annotator who keeps disagreeing with everyone else should be looked at before
their votes count; a judge model is only a stand-in for people where it agrees with them.

Conventions:
* An *item* is (prompt, unordered model pair). Labels are taken in the pair's alphabetical orientation:
  ``first`` (the alphabetically first model won), ``second``, or ``tie`` (tie and both-bad, credit ½; a
  weighted verdict counts for the side with more than half the credit).
* If one annotator judged an item more than once (e.g. a judge asked in both orders) their first vote is used
  for agreement statistics; the repeats feed the order-consistency check.
* Cohen's κ per annotator pair on the items both judged; Fleiss' κ over items with ≥ 2 annotators (the
  variable-raters form); Krippendorff's α (nominal) on all items with ≥ 2 labels.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sbs_tui.core.analysis.agreement_counts import LABELS, AgreementCounts, Annotation

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

__all__ = ["Annotation", "analyse", "analyse_store", "report_from_counts"]
MIN_SHARED_ITEMS = 5


def cohen_kappa(x: Sequence[str], y: Sequence[str], labels: Sequence[str] = LABELS) -> float:
    """Cohen's κ = (p_o − p_e)/(1 − p_e); NaN when undefined (both raters constant and equal)."""
    n = len(x)
    if n == 0:
        return float("nan")
    p_o = sum(a == b for a, b in zip(x, y)) / n
    cx, cy = Counter(x), Counter(y)
    p_e = sum(cx[k] * cy[k] for k in labels) / (n * n)
    return float("nan") if p_e >= 1.0 else (p_o - p_e) / (1.0 - p_e)


def fleiss_kappa(items: Sequence[Sequence[str]], labels: Sequence[str] = LABELS) -> float:
    """Fleiss' κ for items with varying numbers of raters (each item needs ≥ 2), in exact arithmetic."""
    from sbs_tui.core.analysis.agreement_counts import fleiss_from_histogram, item_histogram

    return fleiss_from_histogram(item_histogram([it for it in items if len(it) >= 2], labels))


def krippendorff_alpha_nominal(items: Sequence[Sequence[str]]) -> float:
    """Krippendorff's α for nominal data via the coincidence matrix: α = 1 − D_o/D_e (exact arithmetic)."""
    from sbs_tui.core.analysis.agreement_counts import alpha_from_histogram, item_histogram

    labels = sorted({v for it in items for v in it})
    return alpha_from_histogram(item_histogram([it for it in items if len(it) >= 2], labels))


@dataclass
class AgreementReport:
    annotators: list[dict[str, Any]] = field(default_factory=list)
    pairs: list[dict[str, Any]] = field(default_factory=list)
    overall: dict[str, Any] = field(default_factory=dict)
    position_bias: list[dict[str, Any]] = field(default_factory=list)
    judge_vs_humans: list[dict[str, Any]] = field(default_factory=list)
    order_consistency: list[dict[str, Any]] = field(default_factory=list)
    gold: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    voters: str = "all"  # whose votes the statistics count (the one voters rule)
    votes: int = 0

    def to_json(self) -> dict[str, Any]:
        return _clean({
            "voters": self.voters, "votes": self.votes,
            "overall": self.overall, "annotators": self.annotators, "pairs": self.pairs,
            "position_bias": self.position_bias, "judge_vs_humans": self.judge_vs_humans,
            "order_consistency": self.order_consistency, "gold": self.gold, "warnings": self.warnings,
        })


def _clean(obj: Any, key: str = "") -> Any:
    """JSON-ready: non-finite → None; floats rounded to 10 decimals except p-values, which keep every digit (a
    p of 3.1e-45 must not print as 0.0)."""
    if isinstance(obj, float):
        if not math.isfinite(obj):
            return None
        return obj if key.startswith("p_value") else round(obj, 10)
    if isinstance(obj, dict):
        return {k: _clean(v, k) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_clean(v) for v in obj]
    return obj


def analyse(annotations: Sequence[Annotation], gold: dict[tuple[str, str, str], str] | None = None,
            *, outlier_alpha: float = 0.01, judges: Sequence[Annotation] = ()) -> AgreementReport:
    """Every agreement statistic over ``annotations`` (already filtered). ``judges``: judge votes compared with
    the human majority only (when the statistics count the humans, a judge is still measured against them)."""
    from sbs_tui.core.analysis.agreement_counts import count_annotations

    return report_from_counts(count_annotations(annotations, gold, judges=judges), outlier_alpha=outlier_alpha)


def report_from_counts(counts: AgreementCounts, *, outlier_alpha: float = 0.01) -> AgreementReport:
    """The report from its counts (:mod:`sbs_tui.core.analysis.agreement_counts`): counted from raw votes or read from the
    tallies the store keeps, the same counts give the same report, digit for digit."""
    from sbs_tui.core.analysis.agreement_counts import (
        alpha_from_histogram,
        fleiss_from_histogram,
        percent_from_histogram,
    )

    rep = AgreementReport()
    kinds = counts.kinds
    names = sorted(kinds)
    multi_items = sum(counts.multi.values())
    total_votes = sum(counts.votes.values())
    rep.overall = {
        "votes": total_votes, "items": counts.items, "items_multi_annotated": multi_items,
        "annotators": len(names), "labels": list(LABELS),
        "percent_agreement": percent_from_histogram(counts.multi),
        "fleiss_kappa": fleiss_from_histogram(counts.multi),
        "krippendorff_alpha": alpha_from_histogram(counts.multi),
    }
    rep.overall["unavailable_reason"] = unavailable_reason(total_votes, names, kinds, multi_items)
    if not multi_items:
        rep.warnings.append("no item was judged by two or more annotators: agreement needs overlap "
                            "(sbs queue build --overlap K)")
    for (a, b), conf in sorted(counts.pairs.items()):
        n = sum(map(sum, conf))
        if n:
            rep.pairs.append({"annotator_a": a, "annotator_b": b, "items": n,
                              "percent_agreement": 100.0 * _trace(conf) / n, "cohen_kappa": cohen_from_confusion(conf)})
    _majority_entries(rep, counts, names, outlier_alpha)
    _position_entries(rep, counts)

    # Holm across the family of per-annotator tests this report runs (outliers and position bias)
    family = [(entry, "p_value") for entry in rep.annotators if _is_p(entry.get("p_value"))]
    family += [(entry, "p_value") for entry in rep.position_bias if _is_p(entry.get("p_value"))]
    for (entry, key), adjusted in zip(family, holm([e[k] for e, k in family])):
        entry["p_value_holm"] = adjusted
    for entry in rep.annotators:
        if "outlier" in entry:
            entry["outlier"] = bool(_is_p(entry.get("p_value_holm")) and entry["p_value_holm"] < outlier_alpha)
    rep.overall["p_adjustment"] = (f"holm across {len(family)} tests (outlier annotators and position bias); "
                                   "outlier uses p_value_holm")

    # judges vs human majority
    for judge in counts.compared:
        jc = counts.judges.get(judge)
        n = sum(map(sum, jc.confusion)) if jc else 0
        if not jc or not n:
            continue
        confusion = {j: {h: jc.confusion[a][b] for b, h in enumerate(LABELS)} for a, j in enumerate(LABELS)}
        rep.judge_vs_humans.append({"judge": judge, "items": n, "cohen_kappa": cohen_from_confusion(jc.confusion),
                                    "percent_agreement": 100.0 * _trace(jc.confusion) / n,
                                    "confusion": confusion, "disagreements": list(jc.disagreements)})
    if not any(k == "human" for k in kinds.values()) or not counts.compared:
        rep.warnings.append("judge vs humans: needs both judge and human annotators on the same items")

    # the same annotator on the same item more than once, shown in different orders
    for who, (same, n) in sorted(counts.consistency.items()):
        if n:
            rep.order_consistency.append({"annotator": who, "items_judged_in_both_orders": n,
                                          "consistent": same, "consistency": 100.0 * same / n})
    if counts.gold_items is None:
        rep.gold = {"available": False, "note": "no gold labels in this database; gold accuracy skipped"}
    else:
        rep.gold = {"available": True, "items": counts.gold_items, "annotators": [
            {"annotator": who, "items": n, "accuracy": 100.0 * ok / n}
            for who, (ok, n) in sorted(counts.gold.items()) if n]}
    return rep


def _trace(conf: Sequence[Sequence[int]]) -> int:
    return sum(conf[i][i] for i in range(len(conf)))


def cohen_from_confusion(conf: Sequence[Sequence[int]]) -> float:
    """Cohen's κ from a confusion matrix (rows: rater x's label, columns: rater y's), as :func:`cohen_kappa`."""
    n = sum(map(sum, conf))
    if n == 0:
        return float("nan")
    p_o = _trace(conf) / n
    rows = [sum(r) for r in conf]
    cols = [sum(r[j] for r in conf) for j in range(len(conf))]
    p_e = sum(r * c for r, c in zip(rows, cols)) / (n * n)
    return float("nan") if p_e >= 1.0 else (p_o - p_e) / (1.0 - p_e)


def _majority_entries(rep: AgreementReport, counts: AgreementCounts, names: Sequence[str],
                      outlier_alpha: float) -> None:
    """Leave-one-out agreement with the majority of the others → outliers (a binomial test per annotator)."""

    agree_all = sum(a for a, _ in counts.majority.values())
    seen_all = sum(s for _, s in counts.majority.values())
    for who in names:
        agree, seen = counts.majority.get(who, (0, 0))
        entry: dict[str, Any] = {"annotator": who, "kind": counts.kinds[who], "votes": counts.votes.get(who, 0),
                                 "items_with_majority": seen}
        if seen:
            rate = agree / seen
            others = (agree_all - agree) / max(seen_all - seen, 1)
            p = binom_less(agree, seen, min(max(others, 1e-9), 1 - 1e-9)) if seen >= MIN_SHARED_ITEMS else float("nan")
            entry.update(majority_agreement=100.0 * rate, others_majority_agreement=100.0 * others,
                         p_value=p, outlier=bool(p < outlier_alpha))
        rep.annotators.append(entry)
    rep.overall["pooled_majority_agreement"] = 100.0 * agree_all / seen_all if seen_all else None


def binom_less(k: int, n: int, p: float) -> float:
    """One-sided binomial test p-value P(X ≤ k), X ~ Bin(n, p): ``scipy.stats.binomtest(..., alternative="less")``
    to the last bit (a test checks it), from the Boost ufunc behind it — importing ``scipy.stats`` costs ~1 s of a
    cold ``sbs agreement``; ``scipy.special`` half that."""
    try:
        from scipy.special._ufuncs import _binom_cdf
    except ImportError:  # a SciPy without it: the public test
        from scipy.stats import binomtest

        return float(binomtest(k, n, p, alternative="less").pvalue)
    return float(_binom_cdf(k, n, p))


def _position_entries(rep: AgreementReport, counts: AgreementCounts) -> None:
    """Position bias per annotator and for everyone, from the decisive votes' left/winner tables."""
    by_annot: dict[str, list[tuple[tuple[str, str, str], list[int]]]] = defaultdict(list)
    for who, x, y, table in counts.position:
        for key in (who, "(all)"):
            by_annot[key].append(((who, x, y), table))
    for who in sorted(by_annot, key=lambda k: (k != "(all)", k)):
        rep.position_bias.append(position_bias_tables(by_annot[who], who))
    if not by_annot:
        rep.warnings.append("position bias: no votes record which model was shown on the left")


def unavailable_reason(votes: int, names: Sequence[str], kinds: dict[str, str], multi_items: int) -> str | None:
    """Why agreement cannot be computed, in the user's terms (None when it can): the review app and
    ``sbs agreement`` say this instead of showing empty numbers."""
    if votes == 0:
        return "no votes yet (or none match the filters)"
    if len(names) == 1:
        who = names[0]
        return (f"only one annotator has votes ({who!r}, a {kinds.get(who, 'human')}): agreement needs two or more "
                "annotators judging the same pairs")
    if multi_items == 0:
        return (f"{len(names)} annotators, but no pair was judged by two of them: agreement needs overlap "
                "(sbs queue build --overlap K)")
    return None


def _is_p(x: Any) -> bool:
    return isinstance(x, float | int) and math.isfinite(x)


def holm(p_values: Sequence[float]) -> list[float]:
    from sbs_tui.core.analysis.abtest import holm as _holm

    return [float(p) if p is not None else math.nan for p in _holm(list(p_values))]


def position_bias(anns: Sequence[Annotation], who: str) -> dict[str, Any]:
    """Share of decisive votes won by the left answer, and a test of a left-side advantage δ that is *not* model
    strength, from the within-pair contrasts only (:mod:`sbs_tui.core.analysis.position_bias`): logit P(left wins) =
    δ + d_pair, compared between the two orientations of each model pair shown both ways round by the same
    annotator. Where no pair was, the entry says "not testable" and carries no p-value."""
    from sbs_tui.core.analysis.agreement_counts import position_cells

    tables: dict[tuple[str, str, str], list[int]] = {}
    for a in anns:
        left, right = (a.model_b, a.model_a) if a.shown_left == "model_b" else (a.model_a, a.model_b)
        won = a.score_b > 0.5 if a.shown_left == "model_b" else a.score_b < 0.5
        position_cells(tables.setdefault((a.annotator, min(left, right), max(left, right)), [0, 0, 0, 0]),
                       left < right, won)
    return position_bias_tables(list(tables.items()), who)


def position_bias_tables(tables: Sequence[tuple[tuple[str, str, str], list[int]]], who: str) -> dict[str, Any]:
    """:func:`position_bias` from the decisive votes' tables per (annotator, x, y), x < y (cells: x left & x won,
    x left & y won, y left & x won, y left & y won), in the order of their first vote."""
    from sbs_tui.core.analysis.position_bias import tables_test

    n = sum(sum(t) for _, t in tables)
    k = sum(t[0] + t[3] for _, t in tables)
    entry: dict[str, Any] = {"annotator": who, "decisive_votes": n, "left_wins": k, "left_share": 100.0 * k / n}
    entry.update(tables_test({key: list(t) for key, t in tables if t[0] + t[1] > 0 and t[2] + t[3] > 0}))
    return entry


def analyse_store(store: Store, *, annotators: Sequence[str] | None = None, category: str | None = None,
                  include_flagged: bool = False, voters: str = "auto", use_tallies: bool = True) -> AgreementReport:
    """:func:`analyse` over the store's votes, with the queue's gold labels when it has any (``sbs agreement``
    and the lead app both call this, so they always report the same numbers).

    Without ``--annotator``, ``--category`` or ``--include-flagged`` the counts come from the tallies the store
    keeps as votes land (:mod:`sbs_tui.core.store.tallies`; 1M votes: seconds → a fraction of one); the same
    report as from the raw votes, digit for digit (``use_tallies=False`` counts those, for the tests).

    The statistics count ``voters``' votes (the one voters rule, :mod:`sbs_tui.core.scope`); when that is
    the humans', the judges are still compared with the human majority (that table exists to measure them)."""
    from sbs_tui.core.scope import resolve_voters
    from sbs_tui.errors import InputError

    kinds = store.votes.annotator_kinds()
    scope = resolve_voters(kinds, voters, annotators) if kinds else None
    gold = _gold(store)
    if use_tallies and scope is not None and not annotators and category is None and not include_flagged:
        counts = _tallied(store, scope.voters, gold, compare_judges="judge" in kinds.values())
        if counts is not None:
            report = report_from_counts(counts)
            report.voters, report.votes = scope.voters, report.overall["votes"]
            return report
    names = scope.names if scope is not None else None
    rows = store.votes.annotations(annotators=names, category=category, include_flagged=include_flagged)
    if category is not None and not rows and kinds:
        raise InputError("no votes on prompts of this category", field="--category")
    judge_rows = []
    if scope is not None and scope.voters == "humans" and not annotators:
        judges = [n for n, k in kinds.items() if k == "judge"]
        if judges:
            judge_rows = store.votes.annotations(annotators=judges, category=category,
                                                 include_flagged=include_flagged)
    report = analyse([Annotation(*row) for row in rows], gold, judges=[Annotation(*row) for row in judge_rows])
    report.voters, report.votes = (scope.voters if scope else "all"), len(rows)
    return report


def _gold(store: Store) -> dict[tuple[str, str, str], str] | None:
    """The queue's gold labels by item, or None when it has none."""
    from sbs_tui.core.records import score_b

    gold_rows = store.votes.gold_labels()
    if gold_rows is None:
        return None
    gold = {}
    for g in gold_rows:
        ann = Annotation(0, g.prompt_id, g.model_a, g.model_b, score_b(g.winner, 1.0), "", "human", None)
        gold[ann.item] = ann.label
    return gold


def _tallied(store: Store, voters: str, gold: dict[tuple[str, str, str], str] | None,
             *, compare_judges: bool) -> AgreementCounts | None:
    """The counts from the store's tallies; None when they cannot catch up here (a database this process may
    only read): the caller counts the raw votes instead."""
    import sqlite3

    from sbs_tui.core.analysis.agreement_counts import counts_from_tallies
    from sbs_tui.core.store.tallies import is_read_only

    try:
        return counts_from_tallies(store, voters, compare_judges=compare_judges and voters == "humans", gold=gold)
    except sqlite3.OperationalError as exc:
        if is_read_only(exc):
            return None
        raise
