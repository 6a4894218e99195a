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

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

LABELS = ("first", "second", "tie")
MIN_SHARED_ITEMS = 5


@dataclass(frozen=True)
class Annotation:
    vote_id: int
    prompt_id: str
    model_a: str
    model_b: str
    score_b: float
    annotator: str
    kind: str  # 'human' | 'judge'
    shown_left: str | None  # 'model_a' | 'model_b' | None

    @property
    def item(self) -> tuple[str, str, str]:
        x, y = sorted((self.model_a, self.model_b))
        return (self.prompt_id, x, y)

    @property
    def label(self) -> str:
        if self.score_b == 0.5:
            return "tie"
        b_won = self.score_b > 0.5
        winner = self.model_b if b_won else self.model_a
        return "first" if winner == min(self.model_a, self.model_b) else "second"


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
    """Fleiss' κ for items with varying numbers of raters (each item needs ≥ 2)."""
    items = [it for it in items if len(it) >= 2]
    if not items:
        return float("nan")
    total = sum(len(it) for it in items)
    p_j = {k: sum(it.count(k) for it in items) / total for k in labels}
    p_bar = sum(
        (sum(it.count(k) ** 2 for k in labels) - len(it)) / (len(it) * (len(it) - 1)) for it in items
    ) / len(items)
    p_e = sum(v * v for v in p_j.values())
    return float("nan") if p_e >= 1.0 else (p_bar - p_e) / (1.0 - p_e)


def krippendorff_alpha_nominal(items: Sequence[Sequence[str]]) -> float:
    """Krippendorff's α for nominal data via the coincidence matrix: α = 1 − D_o/D_e."""
    units = [it for it in items if len(it) >= 2]
    coincidence: defaultdict[tuple[str, str], float] = defaultdict(float)
    for it in units:
        m = len(it)
        counts = Counter(it)
        for c, nc in counts.items():
            for k, nk in counts.items():
                pairs = nc * (nk - (1 if c == k else 0))
                if pairs:
                    coincidence[(c, k)] += pairs / (m - 1)
    n = sum(coincidence.values())
    if n <= 1:
        return float("nan")
    marg: defaultdict[str, float] = defaultdict(float)
    for (c, _), v in coincidence.items():
        marg[c] += v
    d_o = sum(v for (c, k), v in coincidence.items() if c != k) / n
    d_e = sum(marg[c] * marg[k] for c in marg for k in marg if c != k) / (n * (n - 1))
    return float("nan") if d_e == 0 else 1.0 - d_o / d_e


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


def _majority(labels: Sequence[str]) -> str | None:
    if not labels:
        return None
    counts = Counter(labels).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None  # no majority
    return counts[0][0]


def analyse(annotations: Sequence[Annotation], gold: dict[tuple[str, str, str], str] | None = None,
            *, max_disagreements: int = 50, outlier_alpha: float = 0.01,
            judges: Sequence[Annotation] = ()) -> AgreementReport:
    """Every agreement statistic over ``annotations`` (already filtered). ``judges``: judge votes compared with
    the human majority only (when the statistics count the humans, a judge is still measured against them)."""
    rep = AgreementReport()
    first_label: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    repeats: dict[tuple[str, tuple[str, str, str]], list[Annotation]] = defaultdict(list)
    kinds: dict[str, str] = {}
    for ann in sorted(annotations, key=lambda a: a.vote_id):
        kinds[ann.annotator] = ann.kind
        first_label[ann.item].setdefault(ann.annotator, ann.label)
        repeats[(ann.annotator, ann.item)].append(ann)
    names = sorted(kinds)
    multi = {item: labs for item, labs in first_label.items() if len(labs) >= 2}
    rep.overall = {
        "votes": len(annotations), "items": len(first_label), "items_multi_annotated": len(multi),
        "annotators": len(names), "labels": list(LABELS),
        "percent_agreement": _percent_agreement(multi.values()),
        "fleiss_kappa": fleiss_kappa([list(labs.values()) for labs in multi.values()]),
        "krippendorff_alpha": krippendorff_alpha_nominal([list(labs.values()) for labs in multi.values()]),
    }
    rep.overall["unavailable_reason"] = unavailable_reason(len(annotations), names, kinds, len(multi))
    if not multi:
        rep.warnings.append("no item was judged by two or more annotators: agreement needs overlap "
                            "(sbs queue build --overlap K)")

    _pairwise_kappa(rep, names, multi)
    _outliers(rep, annotations, names, kinds, multi, outlier_alpha)
    _position_bias(rep, annotations)
    _holm_family(rep, outlier_alpha)
    _judges_vs_humans(rep, names, kinds, first_label, judges, max_disagreements)
    _order_consistency(rep, repeats)
    _gold_accuracy(rep, gold, first_label)
    return rep


Items = dict[tuple[str, str, str], dict[str, str]]  # item → annotator → that annotator's first label


def _pairwise_kappa(rep: AgreementReport, names: list[str], multi: Items) -> None:
    """Cohen's κ for every pair of annotators over the items both judged."""
    # Cohen's κ per pair, over the items both judged: walk the smaller of the two annotators' items (in the order
    # of `multi`, as before) rather than every item once per pair — at 1M votes, 20 annotators, the per-pair scan
    # was 26 s of the 38 s agreement took.
    labels_by: dict[str, dict[tuple[str, str, str], str]] = defaultdict(dict)
    for item, labs in multi.items():
        for who, lab in labs.items():
            labels_by[who][item] = lab
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            mine, theirs = labels_by.get(a, {}), labels_by.get(b, {})
            walk = mine if len(mine) <= len(theirs) else theirs
            shared = [(mine[item], theirs[item]) for item in walk if item in mine and item in theirs]
            if not shared:
                continue
            x, y = zip(*shared)
            rep.pairs.append({"annotator_a": a, "annotator_b": b, "items": len(shared),
                              "percent_agreement": 100.0 * sum(p == q for p, q in shared) / len(shared),
                              "cohen_kappa": cohen_kappa(x, y)})


def _outliers(rep: AgreementReport, annotations: Sequence[Annotation], names: list[str], kinds: dict[str, str],
              multi: Items, outlier_alpha: float) -> None:
    """Each annotator's agreement with the majority of the others, and whether it is an outlier (binomial)."""
    from scipy.stats import binomtest

    # leave-one-out agreement with the majority of the others → outliers
    agree: Counter[str] = Counter()
    seen: Counter[str] = Counter()
    for labs in multi.values():
        for who, lab in labs.items():
            maj = _majority([v for k, v in labs.items() if k != who])
            if maj is None:
                continue
            seen[who] += 1
            agree[who] += lab == maj
    pooled = sum(agree.values()) / sum(seen.values()) if seen else float("nan")
    votes_by: Counter[str] = Counter(a.annotator for a in annotations)
    for who in names:
        entry: dict[str, Any] = {"annotator": who, "kind": kinds[who], "votes": votes_by[who],
                                 "items_with_majority": seen[who]}
        if seen[who]:
            rate = agree[who] / seen[who]
            others = (sum(agree.values()) - agree[who]) / max(sum(seen.values()) - seen[who], 1)
            p = binomtest(agree[who], seen[who], min(max(others, 1e-9), 1 - 1e-9),
                          alternative="less").pvalue if seen[who] >= MIN_SHARED_ITEMS else float("nan")
            entry.update(majority_agreement=100.0 * rate, others_majority_agreement=100.0 * others,
                         p_value=p, outlier=bool(p < outlier_alpha))
        rep.annotators.append(entry)
    rep.overall["pooled_majority_agreement"] = 100.0 * pooled if seen else None


def _position_bias(rep: AgreementReport, annotations: Sequence[Annotation]) -> None:
    # position bias: decisive votes with a known left side, tested only where the design allows it
    by_annot: dict[str, list[Annotation]] = defaultdict(list)
    for ann in annotations:
        if ann.shown_left is None or ann.score_b == 0.5:
            continue
        for key in (ann.annotator, "(all)"):
            by_annot[key].append(ann)
    for who in sorted(by_annot, key=lambda k: (k != "(all)", k)):
        rep.position_bias.append(position_bias(by_annot[who], who))
    if not by_annot:
        rep.warnings.append("position bias: no votes record which model was shown on the left")


def _holm_family(rep: AgreementReport, outlier_alpha: float) -> None:
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


def _judges_vs_humans(rep: AgreementReport, names: list[str], kinds: dict[str, str], first_label: Items,
                      judges: Sequence[Annotation], max_disagreements: int) -> None:
    # judges vs human majority
    humans = {n for n in names if kinds[n] == "human"}
    judge_label: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for ann in sorted(judges, key=lambda a: a.vote_id):
        judge_label[ann.item].setdefault(ann.annotator, ann.label)
    compared = sorted({n for n in names if kinds[n] == "judge"} | {a.annotator for a in judges})
    for judge in compared:
        pairs_jh: list[tuple[str, str]] = []
        disagreements: list[dict[str, Any]] = []
        for item, labs in first_label.items():
            verdict = labs.get(judge, judge_label.get(item, {}).get(judge))
            if verdict is None:
                continue
            maj = _majority([v for k, v in labs.items() if k in humans])
            if maj is None:
                continue
            pairs_jh.append((verdict, maj))
            if verdict != maj and len(disagreements) < max_disagreements:
                disagreements.append({"prompt_id": item[0], "first": item[1], "second": item[2],
                                      "judge": verdict, "humans": maj})
        if not pairs_jh:
            continue
        x, y = zip(*pairs_jh)
        confusion = {j: {h: sum(1 for p, q in pairs_jh if p == j and q == h) for h in LABELS} for j in LABELS}
        rep.judge_vs_humans.append({"judge": judge, "items": len(pairs_jh), "cohen_kappa": cohen_kappa(x, y),
                                    "percent_agreement": 100.0 * sum(p == q for p, q in pairs_jh) / len(pairs_jh),
                                    "confusion": confusion, "disagreements": disagreements})
    if not humans or not compared:
        rep.warnings.append("judge vs humans: needs both judge and human annotators on the same items")


def _order_consistency(rep: AgreementReport,
                       repeats: dict[tuple[str, tuple[str, str, str]], list[Annotation]]) -> None:
    # the same annotator on the same item more than once, shown in different orders
    consistency: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (who, _), anns in repeats.items():
        # the model shown on the left (first); without a record, model_a (AlpacaEval's output_1) is assumed
        lefts = {a.model_a if a.shown_left in (None, "model_a") else a.model_b for a in anns}
        if len(anns) < 2 or len(lefts) < 2:
            continue
        consistency[who][0] += len({a.label for a in anns}) == 1
        consistency[who][1] += 1
    for who, (same, n) in sorted(consistency.items()):
        rep.order_consistency.append({"annotator": who, "items_judged_in_both_orders": n,
                                      "consistent": same, "consistency": 100.0 * same / n})


def _gold_accuracy(rep: AgreementReport, gold: dict[tuple[str, str, str], str] | None, first_label: Items) -> None:
    # gold
    if gold is None:
        rep.gold = {"available": False, "note": "no gold labels in this database; gold accuracy skipped"}
    else:
        per: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for item, labs in first_label.items():
            if item not in gold:
                continue
            for who, lab in labs.items():
                per[who][0] += lab == gold[item]
                per[who][1] += 1
        rep.gold = {"available": True, "items": len(gold), "annotators": [
            {"annotator": who, "items": n, "accuracy": 100.0 * ok / n} for who, (ok, n) in sorted(per.items())]}


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
    from sbs_tui.core.analysis.position_bias import within_pair_test

    n = len(anns)
    votes = [(a.annotator, a.model_b, a.model_a, a.score_b > 0.5) if a.shown_left == "model_b"
             else (a.annotator, a.model_a, a.model_b, a.score_b < 0.5) for a in anns]  # (who, left, right, left won)
    k = sum(v[3] for v in votes)
    entry: dict[str, Any] = {"annotator": who, "decisive_votes": n, "left_wins": k, "left_share": 100.0 * k / n}
    entry.update(within_pair_test(votes))
    return entry


def _percent_agreement(item_labels: Iterable[dict[str, str]]) -> float:
    """Share of agreeing rater pairs over all rater pairs within items (pairwise percent agreement)."""
    agree = total = 0
    for labs in item_labels:
        values = list(labs.values())
        for i in range(len(values)):
            for j in range(i + 1, len(values)):
                total += 1
                agree += values[i] == values[j]
    return 100.0 * agree / total if total else float("nan")


def analyse_store(store: Store, *, annotators: Sequence[str] | None = None, category: str | None = None,
                  include_flagged: bool = False, voters: str = "auto") -> AgreementReport:
    """:func:`analyse` over the store's votes, with the queue's gold labels when it has any (``sbs agreement``
    and the lead app both call this, so they always report the same numbers).

    The statistics count ``voters``' votes (the one voters rule, :mod:`sbs_tui.core.scope`); when that is
    the humans', the judges are still compared with the human majority (that table exists to measure them)."""
    from sbs_tui.core.records import score_b
    from sbs_tui.core.scope import resolve_voters
    from sbs_tui.errors import InputError

    kinds = store.votes.annotator_kinds()
    scope = resolve_voters(kinds, voters, annotators) if kinds else None
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
    gold_rows = store.votes.gold_labels()
    gold = None
    if gold_rows is not None:
        gold = {}
        for g in gold_rows:
            ann = Annotation(0, g.prompt_id, g.model_a, g.model_b, score_b(g.winner, 1.0), "", "human", None)
            gold[ann.item] = ann.label
    report = analyse([Annotation(*row) for row in rows], gold, judges=[Annotation(*row) for row in judge_rows])
    report.voters, report.votes = (scope.voters if scope else "all"), len(rows)
    return report
