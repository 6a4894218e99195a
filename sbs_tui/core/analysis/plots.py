"""The numbers behind the lead app's plots: ratings with intervals, the pairwise win matrix, convergence of the
ratings as votes came in, each annotator's pace, gate pass rates and the funnel's ranks per stage.

Why a core module: the same data is what a plot in the terminal, in the browser (``sbs serve``) or in a report
needs, and it must be computed off the UI thread — so it is plain data from a :class:`Store`, no Textual here.
Each part is computed independently and a part without data is simply absent (a campaign without A/B results
still gets its other plots).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.ranking.report import Ranking
    from sbs_tui.core.store import Store

CONVERGENCE_POINTS = 8  # prefixes of the vote sequence refitted for the convergence plot
# Beyond this many votes the convergence plot and the pace come from the store's hourly tallies
# (``vote_timeline``): reading 1M votes in the order they were cast took 3.6 s and the pace 2 s, the tallies 0.1 s.
# The checkpoints then fall on the ends of hours (the last one is still every vote).
EXACT_CONVERGENCE_VOTES = 100_000


@dataclass
class PlotData:
    ratings: list[tuple[str, float, float | None, float | None]] = field(default_factory=list)
    win_matrix: tuple[list[str], list[list[float | None]]] | None = None
    convergence: tuple[list[int], dict[str, list[float]]] | None = None
    activity: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    gate_rates: dict[str, dict[str, float]] = field(default_factory=dict)
    funnel_ranks: tuple[list[str], dict[str, list[float]]] | None = None
    notes: list[str] = field(default_factory=list)
    voters: str = "all"  # whose votes the ratings, convergence and the funnel's side-by-side stage counted
    votes: int = 0  # how many votes the ratings counted (each plot title says it)


def collect_plot_data(store: Store, *, voters: str = "auto", use_tallies: bool = True) -> PlotData:
    """Everything the plots tab draws, from one store (on a worker thread). Votes count as in the ranking tab
    and ``sbs funnel``: ``voters`` (auto: the humans' when the database also has judge votes). ``use_tallies``
    False reads the raw votes for the convergence and the pace (the benchmarks' baseline)."""
    from sbs_tui.core.scope import resolve_voters

    data, ranking = PlotData(), None
    if kinds := store.votes.annotator_kinds():
        scope = resolve_voters(kinds, voters)
        data.voters = scope.voters
        ranking = _ratings(store, data, voters)
        timeline = _timeline(store) if use_tallies else None
        if timeline is not None:
            data.activity = _activity(store, timeline)
        else:
            data.activity = store.review.votes_per_day()
        if timeline is not None and data.votes > EXACT_CONVERGENCE_VOTES:
            _hourly_convergence(store, data, timeline, scope.names)
        else:
            _convergence(store, data, scope.names)
    _gates(store, data)
    _funnel(store, data, voters, ranking)
    return data


def _ratings(store: Store, data: PlotData, voters: str) -> Ranking:
    """The ratings plot and the win matrix; the ranking is handed on to the funnel's side-by-side stage (the
    votes are read once per refresh)."""
    from sbs_tui.core.ranking.api import RankRequest, run_ranking

    ranking = run_ranking(store, RankRequest(method="bt", ci="sandwich", matrices=True, voters=voters))
    doc = ranking.to_json()
    data.votes = int(doc["votes"])
    data.ratings = [(m["model"], m["rating"], m.get("ci_low"), m.get("ci_high")) for m in doc["models"]]
    mats = doc.get("matrices") or {}
    if "empirical_win_rate" in mats:
        data.win_matrix = (mats["models"], mats["empirical_win_rate"])
    return ranking


def _convergence(store: Store, data: PlotData, annotators: list[str] | None) -> None:
    """BT ratings refitted on the first n votes (in the order they were cast) for a few n: a rating that still
    moves at the right edge needs more votes."""
    import numpy as np

    from sbs_tui.core.ranking.btrank import rank_bt
    from sbs_tui.core.ranking.outcomes import Outcomes

    names, votes = store.votes.sequence(annotators=annotators)
    if len(votes) < 20 or len(names) < 2:
        data.notes.append("convergence: fewer than 20 votes")
        return
    arr = np.asarray(votes, dtype=float)
    # Each vote as one integer (model a, model b, which distinct score), counted per prefix with bincount: the
    # same rows as np.unique(prefix, axis=0) in the same order, without its record-array sort per checkpoint
    # (1 s each at 1M votes, holding the GIL — the review app's screen froze meanwhile).
    scores, score_index = np.unique(arr[:, 2], return_inverse=True)
    m, k = len(names), len(scores)
    codes = (arr[:, 0].astype(np.int64) * m + arr[:, 1].astype(np.int64)) * k + score_index
    checkpoints = sorted({int(len(arr) * j / CONVERGENCE_POINTS) for j in range(1, CONVERGENCE_POINTS + 1)})
    series: dict[str, list[float]] = {n: [] for n in names}
    kept: list[int] = []
    for n in checkpoints:
        counts = np.bincount(codes[:n], minlength=m * m * k)
        present = np.flatnonzero(counts)
        rows = [(int(c // k // m), int(c // k % m), float(scores[c % k]), int(counts[c])) for c in present]
        ranking = rank_bt(Outcomes.from_rows(names, rows), ci="none", rounds=0).to_json()
        rated = {m["model"]: m["rating"] for m in ranking["models"]}
        if len(rated) < len(names):
            continue  # a model not yet seen in this prefix: skip the point rather than draw a gap as 1000
        kept.append(n)
        for name in names:
            series[name].append(rated[name])
    if kept:
        data.convergence = (kept, series)


def _timeline(store: Store) -> list[tuple[Any, ...]] | None:
    """The store's hourly vote tallies, caught up (None where this process may only read the database)."""
    import sqlite3

    from sbs_tui.core.store.tallies import is_read_only

    try:
        store.tallies.catch_up()
    except sqlite3.OperationalError as exc:
        if is_read_only(exc):
            return None
        raise
    return store.tallies.timeline()


def _activity(store: Store, timeline: list[tuple[Any, ...]], limit_days: int = 60) -> dict[str, list[tuple[str, int]]]:
    """Per annotator: (day, votes that day) over the ``limit_days`` days up to the latest vote, as
    ``store.review.votes_per_day`` counts it (flagged votes included), from the hourly tallies."""
    import datetime as dt
    from collections import Counter

    days = [hour[:10] for timed, hour, *_ in timeline if timed]
    if not days:
        return {}
    try:
        first = (dt.date.fromisoformat(max(days)) - dt.timedelta(days=limit_days)).isoformat()
    except ValueError:
        return {}
    names = {who: name for who, (name, _) in store.tallies.annotator_names().items()}
    counts: Counter[tuple[str, str]] = Counter()
    for timed, hour, who, *_, n in timeline:
        if timed and hour[:10] >= first:
            counts[(names[who], hour[:10])] += n
    activity: dict[str, list[tuple[str, int]]] = {}
    for (name, day), n in sorted(counts.items()):
        activity.setdefault(name, []).append((day, n))
    return activity


def _hourly_convergence(store: Store, data: PlotData, timeline: list[tuple[Any, ...]],
                        annotators: list[str] | None) -> None:
    """:func:`_convergence` with checkpoints on the ends of hours: the outcomes of every vote up to the end of
    the hour where about 1/8, 2/8, … of the votes had been cast."""
    from collections import Counter

    from sbs_tui.core.ranking.btrank import rank_bt
    from sbs_tui.core.ranking.outcomes import Outcomes

    names_by_id = {who: name for who, (name, _) in store.tallies.annotator_names().items()}
    keep = None if annotators is None else set(annotators)
    buckets: list[Counter[tuple[int, int, float]]] = []
    last = None
    for timed, hour, who, a, b, score, flagged, n in timeline:
        if flagged or (keep is not None and names_by_id[who] not in keep):
            continue
        if (timed, hour) != last:
            buckets.append(Counter())
            last = (timed, hour)
        buckets[-1][(a, b, score)] += n
    total = sum(sum(c.values()) for c in buckets)
    models = store.tallies.model_names()
    ids = sorted({k[0] for c in buckets for k in c} | {k[1] for c in buckets for k in c})
    if total < 20 or len(ids) < 2:
        data.notes.append("convergence: fewer than 20 votes")
        return
    index, names = {m: i for i, m in enumerate(ids)}, [models[m] for m in ids]
    targets = [total * j // CONVERGENCE_POINTS for j in range(1, CONVERGENCE_POINTS + 1)]
    prefix: Counter[tuple[int, int, float]] = Counter()
    series: dict[str, list[float]] = {n: [] for n in names}
    seen, kept = 0, []
    for i, bucket in enumerate(buckets):
        prefix.update(bucket)
        seen += sum(bucket.values())
        nxt = seen + (sum(buckets[i + 1].values()) if i + 1 < len(buckets) else 0)
        if seen < total and not any(seen <= t < nxt for t in targets):
            continue  # the next hour still ends at or before the next checkpoint
        rows = [(index[a], index[b], s, c) for (a, b, s), c in sorted(prefix.items())]
        ranking = rank_bt(Outcomes.from_rows(names, rows), ci="none", rounds=0).to_json()
        rated = {m["model"]: m["rating"] for m in ranking["models"]}
        if len(rated) < len(names):
            continue
        kept.append(seen)
        for name in names:
            series[name].append(rated[name])
    if kept:
        data.convergence = (kept, series)


def _gates(store: Store, data: PlotData) -> None:
    for model, gates in store.gates.pass_rates().items():
        data.gate_rates[model] = {g: r.passed / r.total for g, r in gates.items() if r.total}


def _funnel(store: Store, data: PlotData, voters: str, ranking: Ranking | None) -> None:
    from sbs_tui.core.analysis.funnel import build_funnel

    doc: dict[str, Any] = build_funnel(store, voters=voters, ranking=ranking).as_dict()
    stages = [s["key"] for s in doc["stages"]]
    if len(stages) < 2:
        return
    models = [m["model"] for m in doc["models"]]
    ranks = {stage: [float(m["ranks"].get(stage) or 0) for m in doc["models"]] for stage in stages}
    data.funnel_ranks = (models, ranks)
