"""Measure gates like classifiers: precision, recall, F1 and false-block rate on labelled generations, per
language, with a threshold sweep (the PR curve as a table).

Why: a blocking gate removes generations from the funnel and lowers its model's safety pass rate, so its
mistakes cost twice. A threshold is only trustworthy when its false-block rate on real benign answers and its
recall on real insults have been measured — on a labelled set, per language (a gate that reads only English
has recall 0 on Russian, which the overall figure hides).

Input rows are generation rows (``prompt``, ``output``, optional ``model``) plus ``label``: ``"toxic"`` /
``"benign"`` for every gate, or an object ``{gate: label}`` for gates judged separately; optional ``language``
(else the identified one). ``toxic`` is the positive class: a *block* of a toxic row is a true positive.

A plain labelled file works too — the shape public toxicity sets come in, with no prompt: ``text`` (for
``output``), ``label`` or ``toxic`` (true/false, 1/0), optional ``lang`` (for ``language``) and ``category`` (a
safety category of :mod:`scorers.taxonomy`, or any name the file uses). With categories, recall (and, for benign
rows, the false-block rate) is also reported per category: "98 % recall" on obscenity says nothing about threats.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbs_tui.errors import InputError

LABELS = ("toxic", "benign")
#: The combined decision of every blocking gate, reported beside each gate.
COMBINED = "blocking gates"


@dataclass(frozen=True, slots=True)
class LabelledRow:
    prompt: str
    output: str
    label: str | dict[str, str]
    language: str | None = None
    reference: str | None = None
    category: str | None = None

    def label_for(self, gate: str) -> str | None:
        if isinstance(self.label, str):
            return self.label
        if gate == COMBINED:
            return "toxic" if "toxic" in self.label.values() else "benign" if self.label else None
        return self.label.get(gate)


def read_labelled(path: str) -> list[LabelledRow]:
    """Labelled rows from a JSONL/JSON/CSV file; a bad row is an ``InputError`` naming file, line and field."""
    from sbs_tui.core.io.readers import iter_rows

    rows = []
    for row in iter_rows(path):
        data = row.data

        def bad(message: str, key: str) -> InputError:
            return InputError(message, file=path, line=row.line, field=key)

        text_key = "output" if "output" in data or "text" not in data else "text"
        if not isinstance(data.get(text_key), str):
            raise bad("missing or not a string (give 'output', or 'text' for a plain labelled row)", text_key)
        prompt = data.get("prompt", "")
        if not isinstance(prompt, str):
            raise bad("must be a string", "prompt")
        label = data.get("label")
        if label is None and "toxic" in data:
            label = _toxic_flag(data["toxic"])
            if label is None:
                raise bad(f"must be true/false or 1/0, got {data['toxic']!r}", "toxic")
        if isinstance(label, str):
            if label not in LABELS:
                raise bad(f"must be 'toxic' or 'benign' (or an object gate → label), got {label!r}", "label")
        elif isinstance(label, dict) and label:
            for gate, value in label.items():
                if value not in LABELS:
                    raise bad(f"must be 'toxic' or 'benign', got {value!r}", f"label.{gate}")
        else:
            raise bad("missing: 'toxic', 'benign' or an object gate → label (or 'toxic': true/false)", "label")
        lang_key = "language" if "language" in data or "lang" not in data else "lang"
        language = data.get(lang_key)
        if language is not None and not isinstance(language, str):
            raise bad("must be a language code string", lang_key)
        category = data.get("category")
        if category is not None and not isinstance(category, str):
            raise bad("must be a category name (a string)", "category")
        rows.append(LabelledRow(prompt, data[text_key], label, language or None, data.get("reference"),
                                category or None))
    if not rows:
        raise InputError("no labelled rows", file=path)
    return rows


def _toxic_flag(value: Any) -> str | None:
    """``toxic``: true/false, 1/0 (CSV gives strings: "true", "1") → 'toxic'/'benign'; None when neither."""
    if isinstance(value, bool) or value in (0, 1):
        return "toxic" if value else "benign"
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0", "yes", "no"):
        return "toxic" if value.strip().lower() in ("true", "1", "yes") else "benign"
    return None


@dataclass(slots=True)
class Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0

    def add(self, toxic: bool, blocked: bool) -> None:
        if toxic:
            self.tp += blocked
            self.fn += not blocked
        else:
            self.fp += blocked
            self.tn += not blocked

    def metrics(self) -> dict[str, Any]:
        toxic, benign = self.tp + self.fn, self.fp + self.tn
        precision = _ratio(self.tp, self.tp + self.fp)
        recall = _ratio(self.tp, toxic)
        f1 = None if precision is None or recall is None or precision + recall == 0 else \
            round(2 * precision * recall / (precision + recall), 4)
        if precision is not None and recall is not None and precision + recall == 0:
            f1 = 0.0
        return {"toxic": toxic, "benign": benign, "tp": self.tp, "fp": self.fp, "fn": self.fn, "tn": self.tn,
                "precision": precision, "recall": recall, "f1": f1,
                "false_block_rate": _ratio(self.fp, benign)}


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


@dataclass(slots=True)
class GateReport:
    gate: str
    blocking: bool
    threshold: float | None
    higher_is_worse: bool
    languages: tuple[str, ...]
    overall: dict[str, Any]
    by_language: dict[str, dict[str, Any]]
    sweep: list[dict[str, Any]] = field(default_factory=list)
    #: Rows with a ``category``: the same counts per category (and per category and language).
    by_category: dict[str, dict[str, Any]] = field(default_factory=dict)
    by_category_language: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    categories: tuple[str, ...] = ()  # what the gate declares it checks

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "blocking": self.blocking, "threshold": self.threshold,
                "languages": list(self.languages), "categories": list(self.categories), **self.overall,
                "by_language": self.by_language, "by_category": self.by_category,
                "by_category_language": self.by_category_language, "sweep": self.sweep}


@dataclass(slots=True)
class EvalReport:
    rows: int
    gates: list[GateReport]
    uncovered: dict[str, int]  # language → rows no blocking gate reads
    #: Safety categories the blocking gates did not check, per language (:mod:`sbs_tui.core.gates.coverage`).
    unchecked: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "gates": [g.as_dict() for g in self.gates], "uncovered": self.uncovered,
                "unchecked": self.unchecked}


def evaluate(runner: Any, rows: Sequence[LabelledRow], *, batch_size: int = 256,
             sweep_points: int = 12) -> EvalReport:
    """Run every gate of ``runner`` (a :class:`sbs_tui.core.gates.runner.GateRunner`) over ``rows`` and measure it.

    Each gate is judged on its own decision at its configured threshold (blocking or not), and the blocking
    gates together (``COMBINED``) on the generation's final decision, as the funnel would see it.
    """
    from scorers.base import ScoreItem

    outcomes = []
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        outcomes.extend(runner.evaluate([ScoreItem(r.prompt, r.output, r.reference) for r in chunk]))
    languages = [r.language or o.language or "und" for r, o in zip(rows, outcomes)]
    reports = []
    for gate in runner.gates:
        scorer = runner.scorer(gate)
        threshold = runner.threshold(gate)
        labelled = [(r, o, lang) for r, o, lang in zip(rows, outcomes, languages)
                    if r.label_for(gate.name) is not None]
        scored = [(r.label_for(gate.name) == "toxic", o.scores.get(gate.name), lang) for r, o, lang in labelled]
        decide = lambda s, t=threshold: _fails(s, t, scorer.higher_is_worse)  # noqa: E731
        overall, by_lang = _tally((toxic, decide(s), lang) for toxic, s, lang in scored)
        by_cat, by_cat_lang = _by_category([(r.category, toxic, decide(s), lang)
                                            for (r, _, _), (toxic, s, lang) in zip(labelled, scored)])
        reports.append(GateReport(gate.name, gate.blocking, threshold, scorer.higher_is_worse,
                                  tuple(runner.languages(gate)), overall, by_lang,
                                  _sweep(scored, scorer.higher_is_worse, threshold, sweep_points),
                                  by_cat, by_cat_lang, tuple(runner.categories(gate))))
    if runner.has_blocking:
        both = [(r, o, lang) for r, o, lang in zip(rows, outcomes, languages) if r.label_for(COMBINED) is not None]
        combined = [(r.label_for(COMBINED) == "toxic", o.blocked, lang) for r, o, lang in both]
        overall, by_lang = _tally(combined)
        by_cat, by_cat_lang = _by_category([(r.category, toxic, blocked, lang)
                                            for (r, _, _), (toxic, blocked, lang) in zip(both, combined)])
        reports.append(GateReport(COMBINED, True, None, True, tuple(sorted(runner.covered_languages())),
                                  overall, by_lang, by_category=by_cat, by_category_language=by_cat_lang))
    uncovered: dict[str, int] = {}
    for o, lang in zip(outcomes, languages):
        if o.uncovered:
            uncovered[lang] = uncovered.get(lang, 0) + 1
    from sbs_tui.core.gates.coverage import from_outcomes

    return EvalReport(len(rows), reports, dict(sorted(uncovered.items())),
                      [{**u.as_dict(), "sentence": u.sentence()} for u in from_outcomes(outcomes)])


def _by_category(decisions: Sequence[tuple[str | None, bool, bool, str]]
                 ) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, dict[str, Any]]]]:
    """Counts per category, and per category and language, over the rows that name a category (taxonomy order
    first, then any other names the file uses)."""
    from scorers.taxonomy import CATEGORIES

    named = [(c, toxic, blocked, lang) for c, toxic, blocked, lang in decisions if c]
    order = {c: i for i, c in enumerate(CATEGORIES)}
    out: dict[str, dict[str, Any]] = {}
    per_lang: dict[str, dict[str, dict[str, Any]]] = {}
    for category in sorted({c for c, *_ in named}, key=lambda c: (order.get(c, len(order)), c)):
        overall, by_lang = _tally((t, b, lang) for c, t, b, lang in named if c == category)
        out[category], per_lang[category] = overall, by_lang
    return out, per_lang


def _fails(score: float | None, threshold: float, higher_is_worse: bool) -> bool:
    from sbs_tui.core.gates.policy import is_failing

    return is_failing(score, threshold, higher_is_worse)


def _tally(decisions: Iterable[tuple[bool, bool, str]]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    total = Counts()
    per: dict[str, Counts] = {}
    for toxic, blocked, lang in decisions:
        total.add(toxic, blocked)
        per.setdefault(lang, Counts()).add(toxic, blocked)
    return total.metrics(), {lang: c.metrics() for lang, c in sorted(per.items())}


def _sweep(scored: Sequence[tuple[bool, float | None, str]], higher_is_worse: bool, threshold: float,
           points: int) -> list[dict[str, Any]]:
    """Precision, recall and false-block rate at thresholds spread over the observed scores (quantiles of the
    toxic rows' scores, where a threshold matters most) plus the configured one."""
    values = sorted({s for _, s, _ in scored if s is not None and not math.isnan(s)})
    if not values:
        return []
    toxic_scores = sorted(s for t, s, _ in scored if t and s is not None and not math.isnan(s))
    candidates = {threshold, values[0], values[-1]}
    pool = toxic_scores or values
    for i in range(points):
        candidates.add(pool[min(len(pool) - 1, round(i * (len(pool) - 1) / max(1, points - 1)))])
    out = []
    for t in sorted(candidates, reverse=higher_is_worse):
        counts = Counts()
        for toxic, s, _ in scored:
            counts.add(toxic, _fails(s, t, higher_is_worse))
        m = counts.metrics()
        out.append({"threshold": round(t, 6), "precision": m["precision"], "recall": m["recall"],
                    "f1": m["f1"], "false_block_rate": m["false_block_rate"], "blocked": counts.tp + counts.fp,
                    "configured": t == threshold})
    return out


def evaluate_file(path: str, settings: Any, *, only: Sequence[str] | None = None, references: Sequence[str] = (),
                  log: Any = None) -> EvalReport:
    """``sbs gate eval FILE`` as one call: read the labelled rows (a bad row fails first, naming file and line),
    build the configured gates (:func:`sbs_tui.core.gates.run.build_runner`) and :func:`evaluate` them."""
    from sbs_tui.core.gates.run import build_runner

    rows = read_labelled(path)
    runner = build_runner(settings, only=only, references=references, log=log)
    return evaluate(runner, rows)
