"""Leads see and decide: the blocked and held generations, where in the text each gate objected, and overrides.

A blocking gate is a classifier and classifiers err; a lead must be able to read every block and overrule it.
An override (pass or block, with a reason, who and when) is stored per generation *and output*: it holds
through ``sbs gate --regate`` and threshold changes, and lapses when ``import --replace`` swaps the output (the
lead judged a text that is no longer there). ``sbs gate`` applies overrides instead of its own decision, and gate
pass rates count the final decisions and how many were overridden.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sbs_tui.core.settings import QueueSettings
from sbs_tui.errors import InputError

DECISIONS = ("passed", "blocked")


def offending_spans(output: str, details_by_gate: dict[str, dict[str, Any]],
                    gates: Iterable[str] | None = None) -> list[tuple[int, int, str]]:
    """(start, end, gate) character ranges of ``output`` that gates objected to, in text order, not overlapping.

    Read from each gate's stored details: the lexicon's ``matches`` (direct uses, not quoted mentions),
    memorization's ``span``, the toxicity gate's ``worst_sentence`` (found in the text; it is a window, so the
    range may cover neighbouring sentences). ``gates`` limits which gates are asked (the failing ones).
    """
    wanted = set(gates) if gates is not None else None
    spans: list[tuple[int, int, str]] = []
    for gate, details in details_by_gate.items():
        if (wanted is not None and gate not in wanted) or not isinstance(details, dict):
            continue
        for m in details.get("matches") or []:
            if isinstance(m, dict) and not m.get("mention") and _valid(m.get("start"), m.get("end"), output):
                spans.append((m["start"], m["end"], gate))
        span = details.get("span")
        if isinstance(span, dict) and _valid(span.get("start"), span.get("end"), output):
            spans.append((span["start"], span["end"], gate))
        worst = details.get("worst_sentence")
        if isinstance(worst, str) and worst:
            at = _find_window(output, worst)
            if at is not None:
                spans.append((*at, gate))
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, gate in spans:
        if merged and start < merged[-1][1]:
            prev = merged[-1]
            merged[-1] = (prev[0], max(prev[1], end), prev[2] if gate in prev[2].split("+") else f"{prev[2]}+{gate}")
        else:
            merged.append((start, end, gate))
    return merged


def _valid(start: Any, end: Any, text: str) -> bool:
    return isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(text)


def _find_window(output: str, window: str) -> tuple[int, int] | None:
    """Where a reported window (sentences joined by single spaces) lies in the original text: found exactly, or
    by its first and last sentence pieces when line breaks were folded into spaces."""
    at = output.find(window)
    if at >= 0:
        return at, at + len(window)
    head, tail = window[:40], window[-40:]
    start = output.find(head)
    if start < 0:
        return None
    end = output.find(tail, start)
    return (start, end + len(tail)) if end >= 0 else (start, start + len(head))


def check_decision(decision: str, reason: str, who: str | None) -> tuple[str, str, str]:
    """Validate an override: decision 'passed'/'blocked' (also 'pass'/'block'), a non-empty reason, who."""
    decision = {"pass": "passed", "block": "blocked"}.get(decision, decision)
    if decision not in DECISIONS:
        raise InputError(f"must be 'pass' or 'block', got {decision!r}", field="decision")
    if not reason or not reason.strip():
        raise InputError("an override needs a reason", field="reason")
    who = (who or os.environ.get("SBS_USER") or os.environ.get("USER") or "").strip()
    if not who:
        raise InputError("who decided? (--by NAME, or $SBS_USER)", field="by")
    return decision, reason.strip(), who


def review_summary(store: Any, limit: int = 2000) -> dict[str, Any]:
    """Blocked and held generations (and overridden ones), newest first, with counts overall and per model and
    gate: what the review app's Blocked tab shows."""
    from sbs_tui.core.gates.coverage import from_store

    rows = [r.as_dict() for r in store.gates.review_rows(limit)]
    unchecked = from_store(store)
    return {"rows": rows, "counts": store.gates.review_counts(), "per_model": store.gates.review_per_model(),
            "unchecked": [u.as_dict() for u in unchecked], "unchecked_sentences": [u.sentence() for u in unchecked]}


def review_detail(store: Any, generation_id: int) -> dict[str, Any] | None:
    """One generation with every gate's stored result and the ranges of its text the failing gates objected to."""
    detail = store.gates.review_detail(generation_id)
    if detail is None:
        return None
    out = detail.as_dict()
    failing = [g for g, r in out["results"].items() if r["failed"]]
    out["spans"] = offending_spans(out["output"], {g: r["details"] for g, r in out["results"].items()}, failing)
    return out


@dataclass(frozen=True)
class Decided:
    """What a lead's override did: the decision, and the pairs a passed generation joined (one line to show)."""

    decision: str
    new_pairs: int | None  # None: no queue to add it to, or the queue could not be rebuilt (see line)
    line: str


def decide(store: Any, generation_id: int, decision: str, reason: str, who: str | None, *,
           queue_settings: QueueSettings | None = None) -> Decided:
    """``sbs gate override`` and the review app's Blocked tab: :func:`override`, then — for a pass, when the
    database has a queue — the generation's pairs at once (``sbs queue build`` with the options the queue was last
    built with, under ``queue_settings``, the ``[queue]`` settings), so a passed answer reaches annotators without a
    second command; otherwise the line says what to run."""
    from sbs_tui.core.queue.build import build_queue_from_settings

    final = override(store, generation_id, decision, reason, who)
    head = f"generation {generation_id}: {final} by override"
    if final != "passed":
        return Decided(final, None, head)
    if not store.queue.summary()["pairs"]:
        return Decided(final, None, f"{head}; no queue yet — run sbs queue build to pair it")
    try:
        report = build_queue_from_settings(store, {}, queue_settings or QueueSettings())
    except InputError as exc:
        return Decided(final, None, f"{head}; its pairs were not built ({exc}) — run sbs queue build")
    n = report.new_pairs
    return Decided(final, n, f"{head}; {n:,} new pair{'s' if n != 1 else ''} for annotators")


def override(store: Any, generation_id: int, decision: str, reason: str, who: str | None) -> str:
    """Record a lead's decision on a generation (for its current output) and apply it now; returns the
    decision. ``sbs gate`` keeps applying it until the output is replaced."""
    decision, reason, who = check_decision(decision, reason, who)
    with store.transaction():
        if not store.gates.save_override(generation_id, decision, reason, who):
            raise InputError(f"no generation with id {generation_id}", field="generation")
    return decision
