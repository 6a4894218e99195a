"""The counts every agreement statistic is computed from, and counting them from raw votes.

Why counts: κ, α, Fleiss, the majority (outlier) test, position bias, order consistency, judge vs humans and gold
accuracy all depend on the votes only through a few integer tables — per item the number of each label, per
annotator pair a 3×3 confusion matrix, per annotator and model pair a 2×2 left/winner table, … These tables are
small (items × 3, annotators² × 9, annotators × models² × 4) and can be kept up to date as votes land
(:mod:`sbs_tui.core.store.tallies`), so ``sbs agreement`` on 10M votes reads thousands of rows, not millions.

:func:`count_annotations` is the reference: it counts the same tables from raw votes (as ``sbs agreement
--annotator``/``--category`` still do). :func:`sbs_tui.core.analysis.agreement.report_from_counts` turns either into the
report, so the two paths agree exactly (a hypothesis test checks it, undo and rollback included).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.store import Store
    from sbs_tui.core.store.tallies import Tallies

LABELS = ("first", "second", "tie")
MAX_DISAGREEMENTS = 50
Table = list[int]  # a 2×2 position table: [x left & x won, x left & y won, y left & x won, y left & y won]


@dataclass(frozen=True)
class Annotation:
    """One vote as agreement reads it: the item is the prompt with the unordered model pair, the label names the
    winner by its place in that order (so both display orders of a pair give the same label)."""

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


@dataclass
class JudgeCounts:
    """One judge against the human majority: confusion[judge label][human label], the first disagreements."""
    confusion: list[list[int]] = field(default_factory=lambda: [[0, 0, 0] for _ in LABELS])
    disagreements: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class AgreementCounts:
    kinds: dict[str, str] = field(default_factory=dict)  # annotator → kind, for every annotator counted
    votes: dict[str, int] = field(default_factory=dict)  # annotator → votes counted
    items: int = 0  # items with at least one label
    multi: Counter[tuple[int, ...]] = field(default_factory=Counter)  # label counts of items with ≥ 2 labels
    pairs: dict[tuple[str, str], list[list[int]]] = field(default_factory=dict)  # (a, b), a < b → confusion
    majority: dict[str, tuple[int, int]] = field(default_factory=dict)  # annotator → (agrees, items with majority)
    # (annotator, x, y) with x < y → position table, in the order of each key's first decisive vote
    position: list[tuple[str, str, str, Table]] = field(default_factory=list)
    compared: list[str] = field(default_factory=list)  # the judges measured against the humans
    judges: dict[str, JudgeCounts] = field(default_factory=dict)
    consistency: dict[str, tuple[int, int]] = field(default_factory=dict)  # annotator → (consistent, both orders)
    gold_items: int | None = None  # None: no gold labels in the database
    gold: dict[str, tuple[int, int]] = field(default_factory=dict)  # annotator → (correct, gold items judged)


def label_index(label: str) -> int:
    return LABELS.index(label)


def majority(counts: Sequence[int]) -> int | None:
    """The label index with strictly the most votes (None: no votes or a tie at the top)."""
    top = max(counts)
    if top == 0 or sum(1 for c in counts if c == top) > 1:
        return None
    return list(counts).index(top)


def item_histogram(items: Iterable[Sequence[str]], labels: Sequence[str] = LABELS) -> Counter[tuple[int, ...]]:
    return Counter(tuple(it.count(k) for k in labels) for it in items)


def fleiss_from_histogram(hist: Counter[tuple[int, ...]]) -> float:
    """Fleiss' κ (variable raters) from label-count vectors of items with ≥ 2 raters, in exact arithmetic (so the
    order the items come in cannot change the last digit)."""
    hist = Counter({v: c for v, c in hist.items() if sum(v) >= 2 and c})
    if not hist:
        return float("nan")
    n_items = sum(hist.values())
    total = sum(sum(v) * c for v, c in hist.items())
    k = len(next(iter(hist)))
    p_j = [Fraction(sum(v[j] * c for v, c in hist.items()), total) for j in range(k)]
    p_bar = sum((Fraction(sum(x * x for x in v) - sum(v), sum(v) * (sum(v) - 1)) * c for v, c in hist.items()),
                Fraction(0)) / n_items
    p_e = sum(p * p for p in p_j)
    return float("nan") if p_e >= 1 else float((p_bar - p_e) / (1 - p_e))


def alpha_from_histogram(hist: Counter[tuple[int, ...]]) -> float:
    """Krippendorff's α (nominal) from label-count vectors via the coincidence matrix, in exact arithmetic."""
    hist = Counter({v: c for v, c in hist.items() if sum(v) >= 2 and c})
    if not hist:
        return float("nan")
    k = len(next(iter(hist)))
    coincidence = [[Fraction(0)] * k for _ in range(k)]
    for v, count in hist.items():
        m = sum(v)
        for c in range(k):
            for d in range(k):
                pairs = v[c] * (v[d] - (1 if c == d else 0))
                if pairs:
                    coincidence[c][d] += Fraction(pairs * count, m - 1)
    n = sum(sum(row) for row in coincidence)
    if n <= 1:
        return float("nan")
    marg = [sum(row) for row in coincidence]
    d_o = sum(coincidence[c][d] for c in range(k) for d in range(k) if c != d) / n
    d_e = sum(marg[c] * marg[d] for c in range(k) for d in range(k) if c != d) / (n * (n - 1))
    return float("nan") if d_e == 0 else float(1 - d_o / d_e)


def percent_from_histogram(hist: Counter[tuple[int, ...]]) -> float:
    """Share of agreeing rater pairs over all rater pairs within items."""
    agree = sum(sum(x * (x - 1) // 2 for x in v) * c for v, c in hist.items())
    total = sum(sum(v) * (sum(v) - 1) // 2 * c for v, c in hist.items())
    return 100.0 * agree / total if total else float("nan")


def position_cells(table: Table, x_left: bool, left_won: bool) -> None:
    """Count one decisive vote into its (annotator, x, y) table (x < y by name)."""
    if x_left:
        table[0 if left_won else 1] += 1
    else:
        table[3 if left_won else 2] += 1


def count_annotations(annotations: Sequence[Annotation], gold: dict[tuple[str, str, str], str] | None = None,
                      *, judges: Sequence[Annotation] = ()) -> AgreementCounts:
    """The counts of ``annotations`` (already filtered to the voters counted); ``judges``: judge votes compared
    with the human majority only. Items and first labels as :mod:`sbs_tui.core.analysis.agreement` defines them."""
    out = AgreementCounts()
    first: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    repeats: dict[tuple[str, tuple[str, str, str]], list[Annotation]] = defaultdict(list)
    position: dict[tuple[str, str, str], Table] = {}
    for ann in sorted(annotations, key=lambda a: a.vote_id):
        out.kinds[ann.annotator] = ann.kind
        out.votes[ann.annotator] = out.votes.get(ann.annotator, 0) + 1
        first[ann.item].setdefault(ann.annotator, ann.label)
        repeats[(ann.annotator, ann.item)].append(ann)
        if ann.shown_left is not None and ann.score_b != 0.5:
            left, right = ((ann.model_b, ann.model_a) if ann.shown_left == "model_b" else (ann.model_a, ann.model_b))
            won = ann.score_b > 0.5 if ann.shown_left == "model_b" else ann.score_b < 0.5
            key = (ann.annotator, min(left, right), max(left, right))
            position_cells(position.setdefault(key, [0, 0, 0, 0]), left < right, won)
    out.position = [(*key, table) for key, table in position.items()]
    out.items = len(first)
    multi = {item: labs for item, labs in first.items() if len(labs) >= 2}
    out.multi = item_histogram(list(labs.values()) for labs in multi.values())
    _count_pairs_and_majority(out, multi)
    _count_judges(out, first, judges)
    for (who, _), anns in repeats.items():
        lefts = {a.model_a if a.shown_left in (None, "model_a") else a.model_b for a in anns}
        if len(anns) >= 2 and len(lefts) >= 2:
            same, n = out.consistency.get(who, (0, 0))
            out.consistency[who] = (same + (len({a.label for a in anns}) == 1), n + 1)
    if gold is not None:
        out.gold_items = len(gold)
        for item, labs in first.items():
            if item in gold:
                for who, lab in labs.items():
                    ok, n = out.gold.get(who, (0, 0))
                    out.gold[who] = (ok + (lab == gold[item]), n + 1)
    return out


def _count_pairs_and_majority(out: AgreementCounts, multi: dict[tuple[str, str, str], dict[str, str]]) -> None:
    for labs in multi.values():
        names = sorted(labs)
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                conf = out.pairs.setdefault((a, b), [[0, 0, 0] for _ in LABELS])
                conf[label_index(labs[a])][label_index(labs[b])] += 1
        counts = [0, 0, 0]
        for lab in labs.values():
            counts[label_index(lab)] += 1
        for who, lab in labs.items():
            mine = label_index(lab)
            others = [c - (j == mine) for j, c in enumerate(counts)]
            maj = majority(others)
            if maj is not None:
                agree, seen = out.majority.get(who, (0, 0))
                out.majority[who] = (agree + (maj == mine), seen + 1)


def _count_judges(out: AgreementCounts, first: dict[tuple[str, str, str], dict[str, str]],
                  judges: Sequence[Annotation]) -> None:
    humans = {n for n, k in out.kinds.items() if k == "human"}
    judge_label: dict[tuple[str, str, str], dict[str, str]] = defaultdict(dict)
    for ann in sorted(judges, key=lambda a: a.vote_id):
        judge_label[ann.item].setdefault(ann.annotator, ann.label)
    out.compared = sorted({n for n, k in out.kinds.items() if k == "judge"} | {a.annotator for a in judges})
    for judge in out.compared:
        entry = JudgeCounts()
        for item, labs in first.items():
            verdict = labs.get(judge, judge_label.get(item, {}).get(judge))
            if verdict is None:
                continue
            counts = [0, 0, 0]
            for who, lab in labs.items():
                if who in humans:
                    counts[label_index(lab)] += 1
            maj = majority(counts)
            if maj is None:
                continue
            add_judged(entry, item, label_index(verdict), maj)
        if sum(map(sum, entry.confusion)):
            out.judges[judge] = entry


def add_judged(entry: JudgeCounts, item: tuple[str, str, str], verdict: int, human: int) -> None:
    """One item a judge and a human majority both decided (items in the order of their first vote)."""
    entry.confusion[verdict][human] += 1
    if verdict != human and len(entry.disagreements) < MAX_DISAGREEMENTS:
        entry.disagreements.append({"prompt_id": item[0], "first": item[1], "second": item[2],
                                    "judge": LABELS[verdict], "humans": LABELS[human]})


def counts_from_tallies(store: Store, voters: str, *, compare_judges: bool,
                        gold: dict[tuple[str, str, str], str] | None) -> AgreementCounts:
    """The counts of ``voters``' votes (``humans``, ``judges`` or ``all``; flagged votes left out) from the tallies
    the store keeps (:mod:`sbs_tui.core.store.tallies`, caught up first). ``compare_judges``: the judges are
    measured against the human majority though their votes are not counted (``--voters humans``)."""
    from sbs_tui.core.store.tallies import SCOPES

    tallies = store.tallies
    tallies.catch_up()
    kinds = SCOPES[voters]
    names, models = tallies.annotator_names(), tallies.model_names()
    out = AgreementCounts()
    voted = set()
    for who, votes, both, same in tallies.annotators():
        name, kind = names[who]
        voted.add(name)
        if kind in kinds:
            out.kinds[name], out.votes[name] = kind, votes
            if both:
                out.consistency[name] = (same, both)
    out.items, hist = tallies.item_histogram(kinds)
    out.multi = Counter({(a, b, c): n for a, b, c, n in hist})
    for a, b, la, lb, n in tallies.pairs():
        (na, ka), (nb, kb) = names[a], names[b]
        if ka in kinds and kb in kinds:
            key, (i, j) = ((na, nb), (la, lb)) if na < nb else ((nb, na), (lb, la))
            out.pairs.setdefault(key, [[0, 0, 0] for _ in LABELS])[i][j] += n
    scope = "all" if len(kinds) == 2 else kinds[0]
    out.majority = {names[who][0]: (agree, seen) for who, agree, seen in tallies.majority(scope)}
    out.position = [(names[who][0], models[x], models[y], [c0, c1, c2, c3])
                    for who, x, y, c0, c1, c2, c3 in tallies.position() if names[who][1] in kinds]
    judge_ids = sorted((n, i) for i, (n, k) in names.items() if k == "judge")
    out.compared = [n for n, _ in judge_ids if n in out.kinds or compare_judges and n in voted]
    if "human" in kinds:
        ids = dict(judge_ids)
        for judge in out.compared:
            entry = JudgeCounts()
            for prompt_id, x, y, label, h0, h1, h2 in tallies.judged(ids[judge], with_judges="judge" in kinds):
                maj = majority((h0, h1, h2))
                if maj is not None:
                    add_judged(entry, (prompt_id, models[x], models[y]), label, maj)
            if sum(map(sum, entry.confusion)):
                out.judges[judge] = entry
    if gold is not None:
        _gold_from_tallies(out, tallies, gold, names, kinds)
    return out


def _gold_from_tallies(out: AgreementCounts, tallies: Tallies, gold: dict[tuple[str, str, str], str],
                       names: dict[int, tuple[str, str]], kinds: Sequence[str]) -> None:
    out.gold_items = len(gold)
    ids = {name: i for i, name in tallies.model_names().items()}
    for (prompt_id, x, y), truth in gold.items():
        if x not in ids or y not in ids:
            continue
        for who, label in tallies.labels_of(prompt_id, ids[x], ids[y]):
            name, kind = names[who]
            if kind in kinds:
                ok, n = out.gold.get(name, (0, 0))
                out.gold[name] = (ok + (LABELS[label] == truth), n + 1)
