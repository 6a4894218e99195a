"""The funnel view: what ``sbs funnel``'s table, the review app's funnel tab and ``sbs report`` show.

One frozen record built from :func:`~sbs_tui.core.analysis.funnel.build_funnel`, so the three surfaces cannot word the
result differently — in particular the closing sentence (:func:`verdict`): "the stages agree" is said only when
every rank correlation the funnel reports is established, never after "agreement not established".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.analysis.funnel import FunnelReport
    from sbs_tui.core.store import Store

AGREE = "The stages agree on the models they share."
UNSETTLED = "Agreement between the stages is not established (see the notes above); no disagreement was found either."


@dataclass(frozen=True)
class FunnelStage:
    key: str  # 'benchmarks', 'side_by_side', 'ab:EXPERIMENT/METRIC'
    label: str
    models: int


@dataclass(frozen=True)
class FunnelRow:
    model: str
    gates: dict[str, Any] | None  # pass rate, passed/blocked/pending and per gate (core.analysis.funnel.gate_summary)
    stages: dict[str, dict[str, Any]]  # stage key → the stage's details for this model plus its "rank"


@dataclass(frozen=True)
class FunnelView:
    stages: tuple[FunnelStage, ...]
    rows: tuple[FunnelRow, ...]
    gate_names: tuple[str, ...]
    correlations: tuple[dict[str, Any], ...]  # Correlation.as_dict() plus the two stages' "labels"
    disagreements: tuple[str, ...]
    notes: tuple[str, ...]  # per correlation: "A vs B: why it says little"
    verdict: str | None  # the closing sentence when nothing disagrees (None: nothing to compare)
    voters: str | None  # whose votes the side-by-side stage counted; None: no votes
    votes: int
    side_by_side_method: str | None  # 'bt' or 'win_rate' (disconnected comparisons)
    doc: dict[str, Any]  # `sbs funnel --format json` (FunnelReport.as_dict(), the contract)
    unchecked: tuple[str, ...] = ()  # the first stage's blind spot: safety categories no blocking gate checked

    def stage(self, key: str) -> FunnelStage | None:
        return next((s for s in self.stages if s.key == key), None)


def verdict(report: FunnelReport) -> str | None:
    """The one closing sentence: None without correlations or with disagreements (they are listed instead)."""
    if report.disagreements or not report.correlations:
        return None
    return UNSETTLED if any(c.note for c in report.correlations) else AGREE


def from_report(report: FunnelReport) -> FunnelView:
    """The view of a computed funnel (``sbs report`` builds one funnel and shows it this way too)."""
    ranks = {s.key: s.ranks() for s in report.stages}
    labels = {s.key: s.label for s in report.stages}
    rows = []
    for model in report.models():
        stages = {s.key: {**s.details.get(model, {}), "rank": ranks[s.key][model]}
                  for s in report.stages if model in s.scores}
        rows.append(FunnelRow(model, report.gates.get(model), stages))
    sbs = next((s for s in report.stages if s.key == "side_by_side"), None)
    method = next((d.get("method") for d in sbs.details.values()), None) if sbs else None
    return FunnelView(
        tuple(FunnelStage(s.key, s.label, len(s.scores)) for s in report.stages), tuple(rows),
        tuple(sorted({g for e in report.gates.values() for g in e.get("gates", {})})),
        tuple({**c.as_dict(), "labels": [labels[c.stages[0]], labels[c.stages[1]]]} for c in report.correlations),
        tuple(report.disagreements),
        tuple(f"{labels[c.stages[0]]} vs {labels[c.stages[1]]}: {c.note}" for c in report.correlations if c.note),
        verdict(report), report.voters, report.votes, method, report.as_dict(),
        tuple(u.sentence() for u in report.unchecked))


def funnel_view(store: Store, *, voters: str = "auto", alpha: float = 0.05,
                lower_better: tuple[str, ...] = ()) -> FunnelView:
    """The funnel over ``voters``' votes (the one voters rule)."""
    from sbs_tui.core.analysis.funnel import build_funnel

    return from_report(build_funnel(store, alpha=alpha, lower_better=lower_better, voters=voters))
