"""What each tab of the review app shows, computed from a database path as plain data (no Textual here).

Why a module apart from the widgets: every function opens its *own* :class:`Store` on the calling thread (the
app calls them from worker threads; SQLite connections belong to one thread), returns dicts and lists only,
and closes the store again — so the numbers can be tested without a screen, and a worker never touches a
widget. The statistics themselves live in the core (ranking, agreement, funnel); this only gathers them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sbs_tui.core.ranking.request import CIS, CONTROLS, METHODS, VOTERS, RankRequest  # noqa: F401 - the panes' pickers
from sbs_tui.core.ranking.request import voter_filter
from sbs_tui.core.store import Store

SESSION_GAP_S = 600  # a pause longer than this ends an annotator's working session (for their pace)

# The ranking tab's pickers are a RankRequest: the same rules and defaults as `sbs rank` (rounds is the bootstrap
# size, voters whose votes count).


@dataclass
class RankingView:
    doc: dict[str, Any] | None  # Ranking.to_json(): what `sbs rank --format json` prints
    models: list[str] = field(default_factory=list)  # models with votes (the baseline picker's choices)
    baseline: str | None = None  # the baseline actually used
    note: str | None = None  # why there is no table, or how the baseline was chosen
    votes: int = 0
    voters: str = "all"  # whose votes were counted: humans, judges or all
    seconds: float = 0.0


def _open(path: str) -> Store:
    return Store(path)


def _vote_counts(store: Store, annotators: list[str] | None = None) -> dict[str, float]:
    """Votes per model (unflagged), from the aggregated outcome rows."""
    names, rows = store.votes.outcomes(annotators=annotators)
    counts = dict.fromkeys(names, 0.0)
    for ia, ib, _score_b, n in rows:
        counts[names[ia]] += n
        counts[names[ib]] += n
    return counts


def ranking_view(path: str, options: RankRequest) -> RankingView:
    """The ranking under ``options``. Win rate without a baseline uses the most-compared model (as AlpacaEval's
    reference is) and says so."""
    started = time.perf_counter()
    store = _open(path)
    try:
        view = _ranking(store, options)
    finally:
        store.close()
    view.seconds = time.perf_counter() - started
    return view


def _ranking(store: Store, options: RankRequest) -> RankingView:
    from sbs_tui.core.ranking.api import run_ranking
    from sbs_tui.errors import InputError

    annotators, voters = voter_filter(store.votes.annotator_kinds(), options.voters)
    counts = _vote_counts(store, annotators)
    models = sorted(counts)
    view = RankingView(None, models, votes=int(round(sum(counts.values()) / 2)), voters=voters)
    if not counts:
        view.note = ("No votes yet. Import votes (sbs import votes FILE) or let annotators judge (sbs annotate)."
                     if voters == "all" else f"No votes by {voters}; press v to count other votes.")
        return view
    if (problem := options.problem()) is not None:
        view.note = problem
        return view
    baseline = options.baseline if options.baseline in counts else None
    if options.baseline is not None and baseline is None:
        view.note = f"baseline {options.baseline!r} has no votes; showing without it"
    if options.method == "winrate" and baseline is None:
        from sbs_tui.core.ranking.api import default_baseline

        baseline = default_baseline(*store.votes.outcomes(annotators=annotators))  # the rule `sbs rank` uses
        view.note = f"win rate against the most-compared model {baseline!r} (press b to pick another)"
    view.baseline = baseline
    request = replace(options, baseline=baseline, annotators=annotators)
    try:
        view.doc = run_ranking(store, request).to_json()
    except KeyError as exc:
        view.note = f"no votes involve model {exc.args[0]!r}"
    except (ValueError, ArithmeticError) as exc:  # e.g. style control without stored texts
        view.note = f"cannot rank with these settings: {exc}"
    except InputError as exc:  # e.g. length control without a model's outputs
        view.note = f"cannot rank with these settings: {exc.message}"
    return view


def agreement_view(path: str) -> dict[str, Any]:
    """``sbs agreement --format json`` over every unflagged vote, gold labels included when the queue has any."""
    from sbs_tui.core.agreement import analyse_store

    store = _open(path)
    try:
        return analyse_store(store).to_json()
    finally:
        store.close()


def _parse_ts(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        ts = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def session_pace(timestamps: list[str]) -> float | None:
    """Votes per minute over the annotator's latest working session (newest first; a pause longer than
    SESSION_GAP_S ends it). None until a session has two votes a measurable time apart."""
    times = [t for t in (_parse_ts(v) for v in timestamps) if t is not None]
    if len(times) < 2:
        return None
    session = [times[0]]
    for t in times[1:]:
        if (session[-1] - t).total_seconds() > SESSION_GAP_S:
            break
        session.append(t)
    span = (session[0] - session[-1]).total_seconds()
    if len(session) < 2 or span <= 0:
        return None
    return 60.0 * (len(session) - 1) / span


def queue_view(path: str, *, gating_required: bool = True, now: datetime | None = None) -> dict[str, Any]:
    """The queue's state: pair counts, per-annotator progress and pace, held-back pairs, flags."""
    now = now or datetime.now(UTC)
    min_gate_rank = 2 if gating_required else 1
    store = _open(path)
    try:
        summary = store.queue.summary()
        config = store.queue.config()
        default_cap = config.get("default_cap")
        annotators = []
        for row in store.review.annotators():
            uses_queue = row["done"] or row["skipped"] or row["open"] or row["kind"] == "human"
            if not uses_queue:  # imported judges: votes only, no queue progress
                row.update(remaining=None, pace=None, eta_min=None, idle_min=None)
                annotators.append(row)
                continue
            cap = row["cap"] if row["cap"] is not None else default_cap
            remaining = store.queue.count_available(row["id"], min_gate_rank=min_gate_rank)
            if cap is not None:
                remaining = min(remaining, max(0, int(cap) - row["done"]))
            pace = session_pace(store.review.recent_vote_times(row["id"]))
            last = _parse_ts(row["last_vote"])
            row.update(cap=cap, remaining=remaining, pace=pace,
                       eta_min=(remaining / pace) if pace and remaining else None,
                       idle_min=(now - last).total_seconds() / 60.0 if last else None)
            annotators.append(row)
        return {"summary": summary, "config": config, "annotators": annotators,
                "held_back": store.review.held_back(), "flagged": store.review.flagged_pairs(),
                "flagged_votes": store.votes.flagged_count(), "gating_required": gating_required}
    finally:
        store.close()


def funnel_view(path: str) -> dict[str, Any]:
    """Gate pass rates per model and the funnel's stages, rank correlations and disagreements."""
    from sbs_tui.core.funnel import build_funnel

    store = _open(path)
    try:
        report = build_funnel(store)
    finally:
        store.close()
    by_key = {s.key: s for s in report.stages}
    ranks = {s.key: s.ranks() for s in report.stages}
    rows = []
    for model in report.models():
        entry: dict[str, Any] = {"model": model, "gates": report.gates.get(model), "stages": {}}
        for stage in report.stages:
            if model in stage.scores:
                entry["stages"][stage.key] = {**stage.details.get(model, {}), "rank": ranks[stage.key][model]}
        rows.append(entry)
    labels = {s.key: s.label for s in report.stages}
    return {
        "stages": [{"key": s.key, "label": s.label, "models": len(s.scores)} for s in report.stages],
        "models": rows,
        "gate_names": sorted({g for e in report.gates.values() for g in e.get("gates", {})}),
        "correlations": [{**c.as_dict(), "labels": [labels[c.stages[0]], labels[c.stages[1]]]}
                         for c in report.correlations],
        "disagreements": list(report.disagreements),
        "side_by_side_voters": report.voters,
        "side_by_side_method": next((d.get("method") for d in by_key["side_by_side"].details.values()), None)
        if "side_by_side" in by_key else None,
    }


def plots_view(path: str) -> Any:
    """The plots tab's numbers (:func:`sbs_tui.core.plots.collect_plot_data`)."""
    from sbs_tui.core.plots import collect_plot_data

    store = _open(path)
    try:
        return collect_plot_data(store)
    finally:
        store.close()


def votes_view(path: str, limit: int = 500) -> dict[str, Any]:
    """The latest ``limit`` votes (newest first) and how many there are in all."""
    store = _open(path)
    try:
        return {"votes": store.review.recent_votes(limit), "total": store.count("votes")}
    finally:
        store.close()


def vote_detail(path: str, vote_id: int) -> dict[str, Any] | None:
    store = _open(path)
    try:
        return store.review.vote_detail(vote_id)
    finally:
        store.close()


def blocked_view(path: str, limit: int = 2000) -> dict[str, Any]:
    """The Blocked tab: blocked and held generations with counts per model and gate."""
    from sbs_tui.core.gate_review import review_summary

    store = _open(path)
    try:
        return review_summary(store, limit)
    finally:
        store.close()


def blocked_detail(path: str, generation_id: int) -> dict[str, Any] | None:
    from sbs_tui.core.gate_review import review_detail

    store = _open(path)
    try:
        return review_detail(store, generation_id)
    finally:
        store.close()


def save_override(path: str, generation_id: int, decision: str, reason: str, who: str) -> str:
    from sbs_tui.core.gate_review import override

    store = _open(path)
    try:
        return override(store, generation_id, decision, reason, who)
    finally:
        store.close()
