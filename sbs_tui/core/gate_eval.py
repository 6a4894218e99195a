"""Measure gates like classifiers: precision, recall, F1 and false-block rate on labelled generations, per
language, with a threshold sweep (the PR curve as a table).

Why: a blocking gate removes generations from the funnel and lowers its model's safety pass rate, so its
mistakes cost twice. A threshold is only trustworthy when its false-block rate on real benign answers and its
recall on real insults have been measured — on a labelled set, per language (a gate that reads only English
has recall 0 on Russian, which the overall figure hides).

Input rows are generation rows (``prompt``, ``output``, optional ``model``) plus ``label``: ``"toxic"`` /
``"benign"`` for every gate, or an object ``{gate: label}`` for gates judged separately; optional ``language``
(else the identified one). ``toxic`` is the positive class: a *block* of a toxic row is a true positive.
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

    def label_for(self, gate: str) -> str | None:
        if isinstance(self.label, str):
            return self.label
        if gate == COMBINED:
            return "toxic" if "toxic" in self.label.values() else "benign" if self.label else None
        return self.label.get(gate)


def read_labelled(path: str) -> list[LabelledRow]:
    """Labelled rows from a JSONL/JSON/CSV file; a bad row is an ``InputError`` naming file, line and field."""
    from sbs_tui.core.readers import iter_rows

    rows = []
    for row in iter_rows(path):
        data = row.data

        def bad(message: str, key: str) -> InputError:
            return InputError(message, file=path, line=row.line, field=key)

        for key in ("prompt", "output"):
            if not isinstance(data.get(key), str):
                raise bad("missing or not a string", key)
        label = data.get("label")
        if isinstance(label, str):
            if label not in LABELS:
                raise bad(f"must be 'toxic' or 'benign' (or an object gate → label), got {label!r}", "label")
        elif isinstance(label, dict) and label:
            for gate, value in label.items():
                if value not in LABELS:
                    raise bad(f"must be 'toxic' or 'benign', got {value!r}", f"label.{gate}")
        else:
            raise bad("missing: 'toxic', 'benign' or an object gate → label", "label")
        language = data.get("language")
        if language is not None and not isinstance(language, str):
            raise bad("must be a language code string", "language")
        rows.append(LabelledRow(data["prompt"], data["output"], label, language or None, data.get("reference")))
    if not rows:
        raise InputError("no labelled rows", file=path)
    return rows


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

    def as_dict(self) -> dict[str, Any]:
        return {"gate": self.gate, "blocking": self.blocking, "threshold": self.threshold,
                "languages": list(self.languages), **self.overall, "by_language": self.by_language,
                "sweep": self.sweep}


@dataclass(slots=True)
class EvalReport:
    rows: int
    gates: list[GateReport]
    uncovered: dict[str, int]  # language → rows no blocking gate reads

    def as_dict(self) -> dict[str, Any]:
        return {"rows": self.rows, "gates": [g.as_dict() for g in self.gates], "uncovered": self.uncovered}


def evaluate(runner: Any, rows: Sequence[LabelledRow], *, batch_size: int = 256,
             sweep_points: int = 12) -> EvalReport:
    """Run every gate of ``runner`` (a :class:`sbs_tui.core.gating.GateRunner`) over ``rows`` and measure it.

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
        scored = [(r.label_for(gate.name) == "toxic", o.scores.get(gate.name), lang)
                  for r, o, lang in zip(rows, outcomes, languages) if r.label_for(gate.name) is not None]
        decide = lambda s, t=threshold: _fails(s, t, scorer.higher_is_worse)  # noqa: E731
        overall, by_lang = _tally((toxic, decide(s), lang) for toxic, s, lang in scored)
        reports.append(GateReport(gate.name, gate.blocking, threshold, scorer.higher_is_worse,
                                  tuple(runner.languages(gate)), overall, by_lang,
                                  _sweep(scored, scorer.higher_is_worse, threshold, sweep_points)))
    if runner.has_blocking:
        combined = [(r.label_for(COMBINED) == "toxic", o.blocked, lang)
                    for r, o, lang in zip(rows, outcomes, languages) if r.label_for(COMBINED) is not None]
        overall, by_lang = _tally(combined)
        reports.append(GateReport(COMBINED, True, None, True, tuple(sorted(runner.covered_languages())),
                                  overall, by_lang))
    uncovered: dict[str, int] = {}
    for o, lang in zip(outcomes, languages):
        if o.uncovered:
            uncovered[lang] = uncovered.get(lang, 0) + 1
    return EvalReport(len(rows), reports, dict(sorted(uncovered.items())))


def _fails(score: float | None, threshold: float, higher_is_worse: bool) -> bool:
    from sbs_tui.core.gating import is_failing

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
