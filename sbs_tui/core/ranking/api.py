"""One entry point from a store and a request to a :class:`Ranking` (what ``sbs rank`` and the review app call).

The only module in the ranking package that knows about the store; it picks the query each method needs:
aggregated counts for BT and win rate (kept in the store as votes land: ``store.pair_counts``), the ordered votes for online Elo and TrueSkill,
per-vote outputs for length/style control.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any, NamedTuple

from sbs_tui.core.ranking.report import Ranking
from sbs_tui.core.ranking.request import RankRequest, VoteFilters
from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.ranking.difficulty import Difficulty
    from sbs_tui.core.store import Store

__all__ = ["RankRequest", "rank_stored", "run_ranking"]


BASELINE_RULE = "the most-compared model (most votes; ties by name), as AlpacaEval's reference is"


def default_baseline(names: list[str], rows: Sequence[tuple[int, int, float, float]]) -> str | None:
    """The win-rate baseline when none is given — one rule for ``sbs rank`` and the review app: the model with
    the most votes (ties broken by name), i.e. the reference everyone was compared with in an AlpacaEval-style
    campaign. None without votes."""
    counts = dict.fromkeys(names, 0.0)
    for ia, ib, _score, n in rows:
        counts[names[ia]] += n
        counts[names[ib]] += n
    voted = [m for m, c in counts.items() if c > 0]
    return max(voted, key=lambda m: (counts[m], m)) if voted else None


def require_lengths(names: list[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """``--control length`` needs each voted model's answer lengths: a model none of whose votes has its output
    stored (in the vote or as an imported generation) is an input error naming it — not a table without it."""
    known: dict[int, bool] = {}
    for a, b, _s, _pid, len_a, len_b, *_ in rows:
        known[a] = known.get(a, False) or len_a is not None
        known[b] = known.get(b, False) or len_b is not None
    missing = sorted(names[m] for m, ok in known.items() if not ok)
    if missing:
        shown = ", ".join(repr(m) for m in missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise InputError(f"import {shown}'s outputs so answer lengths are known (sbs import generations FILE)",
                         field="--control")


def run_ranking(store: Store, req: RankRequest) -> Ranking:
    """Raises KeyError(model) when ``baseline`` has no votes under the filters, :class:`InputError` when
    ``--annotator`` names someone without votes or ``--voters`` leaves nobody. ``--method winrate`` without a
    baseline uses :func:`default_baseline` and says so (``baseline_rule`` in the JSON, and a warning).

    The votes counted follow the one voters rule (:func:`~sbs_tui.core.scope.resolve_voters`); the result
    states it (``voters``) and how many votes it counted (``votes``), taken from the very rows it ranked — each
    method reads the store once."""
    from sbs_tui.core.scope import resolve_voters

    scope = resolve_voters(store.votes.annotator_kinds(), req.voters, req.annotators)
    filters: VoteFilters = {"annotators": scope.names, "category": req.category,
                            "include_flagged": req.include_flagged}
    if req.control != "none":
        ranked = _rank_controlled(store, req, filters)
    elif req.method in ("elo", "trueskill"):
        ranked = _rank_online(store, req, filters)
    else:
        ranked = _rank_counted(store, req, scope.voters, filters)
    ranking, names, votes, chosen, counts = ranked
    if votes == 0 and req.category is not None:
        raise InputError(f"no votes on prompts of this category (voters: {scope.voters})", field="--category")
    ranking.info.setdefault("control", req.control)
    ranking.info["filters"] = {k: v for k, v in req.filters.items() if v}
    ranking.info["voters"] = scope.voters
    ranking.info["votes"] = votes
    ranking.voted_models = list(names)
    ranking.counts = counts
    if chosen is not None:
        ranking.info["baseline_rule"] = BASELINE_RULE
        ranking.warnings.append(f"no --baseline given: win rate against {chosen!r}, {BASELINE_RULE}")
    return ranking


def read_outcomes(store: Store, req: RankRequest, voters: str,
                  filters: VoteFilters) -> tuple[list[str], list[tuple[int, int, float, int]]]:
    """The outcome cells a count-based ranking fits. A whole voter class (``--voters``, no ``--annotator``, no
    ``--category``) is read from the counts the store keeps as votes land (``store.pair_counts``: models² rows,
    whatever the number of votes); a narrower filter reads the votes. Both give the same cells."""
    from sbs_tui.core.store.pair_counts import KINDS

    if req.category is None and not req.annotators and voters in KINDS:
        return store.pair_counts.outcomes(kinds=KINDS[voters], include_flagged=req.include_flagged)
    return store.votes.outcomes(**filters)


class _Ranked(NamedTuple):
    ranking: Ranking
    names: list[str]  # the models with votes under the filters
    votes: int  # counted from the rows ranked
    chosen: str | None  # the default baseline, when none was asked for
    counts: Any  # (names, outcome counts) when the method read counts (the review app reuses them)


def _rank_controlled(store: Store, req: RankRequest, filters: VoteFilters) -> _Ranked:
    """``--control length|style``: per-vote covariates; LC win rate or style-controlled BT."""
    names, rows = store.votes.covariates(texts=req.control == "style", **filters)
    if req.control == "length":
        require_lengths(names, rows)
    chosen = None
    if req.method == "winrate" and req.baseline is None:
        chosen = _default_from_pairs(names, ((r[0], r[1]) for r in rows))
        req = replace(req, baseline=chosen)
    if req.method == "winrate":
        from sbs_tui.core.ranking.lc import length_controlled_winrate, read_gamed

        if req.baseline is None:  # no votes at all: there is no model to compare with
            raise KeyError("(no votes)")
        if req.baseline not in names:
            raise KeyError(req.baseline)
        difficulty, notes = frozen_difficulty(store, names, rows, req)
        gamed = read_gamed(req.gamed) if req.gamed is not None else None
        ranking = length_controlled_winrate(names, rows, req.baseline, difficulty, gamed)
        ranking.warnings.extend(notes)
    else:
        from sbs_tui.core.ranking.style import rank_style_controlled

        ranking = rank_style_controlled(names, rows, features=req.control, anchor=req.baseline)
    return _Ranked(ranking, names, len(rows), chosen, None)


def _rank_online(store: Store, req: RankRequest, filters: VoteFilters) -> _Ranked:
    """Elo and TrueSkill: the votes in order."""
    names, seq = store.votes.sequence(**filters)
    if req.method == "elo":
        from sbs_tui.core.ranking.online import rank_elo

        ranking = rank_elo(names, seq, k=req.k_factor, orders=req.orders, rounds=req.rounds,
                           seed=req.seed, anchor=req.baseline, order=req.elo_order)
    else:
        from sbs_tui.core.ranking.online import rank_trueskill

        ranking = rank_trueskill(names, seq, matrices=req.matrices)
    return _Ranked(ranking, names, len(seq), None, None)


def _rank_counted(store: Store, req: RankRequest, voters: str, filters: VoteFilters) -> _Ranked:
    """BT and win rate: aggregated outcome counts, read once (the default baseline and the fit share them)."""
    from sbs_tui.core.ranking.outcomes import Outcomes

    names, counted = read_outcomes(store, req, voters, filters)
    votes = int(sum(n for *_, n in counted))
    chosen = None
    if req.method == "winrate" and req.baseline is None:
        chosen = default_baseline(names, counted)
        req = replace(req, baseline=chosen)
    outcomes = Outcomes.from_rows(names, counted)
    if req.method == "winrate":
        from sbs_tui.core.ranking.winrate import rank_winrate

        ranking = rank_winrate(outcomes, req.baseline)
    else:
        from sbs_tui.core.ranking.btrank import rank_bt

        ranking = rank_bt(outcomes, ci=req.ci, rounds=req.rounds, seed=req.seed, anchor=req.baseline,
                          matrices=req.matrices, threads=req.threads)
    return _Ranked(ranking, names, votes, chosen, (names, counted))


def _default_from_pairs(names: list[str], pairs: Iterable[tuple[int, int]]) -> str | None:
    """:func:`default_baseline` over per-vote rows (the length-controlled path reads votes, not counts)."""
    counts: dict[tuple[int, int], int] = {}
    for pair in pairs:
        counts[pair] = counts.get(pair, 0) + 1
    return default_baseline(names, [(a, b, 0.0, n) for (a, b), n in counts.items()])


FEW_DIFFICULTY_MODELS = 5  # below this many models a fitted difficulty is noisy: said so


def frozen_difficulty(store: Store, names: list[str], rows: list[tuple[Any, ...]],
                      req: RankRequest) -> tuple[Difficulty, list[str]]:
    """The instruction difficulty of the length-controlled win rate, and warnings: ``--difficulty FILE``; else
    the one stored for the baseline; else (or with ``--refit-difficulty``) fitted now from the models present and
    stored, so that later rankings — with more models or fewer — reuse it (:mod:`.difficulty`)."""
    import sqlite3

    from sbs_tui.core.ranking.difficulty import Difficulty, fit_difficulty, read_difficulty_csv

    assert req.baseline is not None
    if req.difficulty is not None:
        return read_difficulty_csv(req.difficulty), []
    notes: list[str] = []
    stored = None if req.refit_difficulty else store.difficulty.latest(req.baseline)
    if stored is not None:
        record, values = stored
        info = {"source": "stored", "baseline": req.baseline, **record, "prompts": len(values)}
        se = {p: e for p, _, e in values if e is not None}
        difficulty = Difficulty({p: d for p, d, _ in values}, [p for p, _, _ in values], info, se or None)
    else:
        difficulty = fit_difficulty(names, rows, req.baseline)
        if not difficulty.values:
            return difficulty, notes
        filters = {k: v for k, v in req.filters.items() if v}
        method = "joint GLM θ_m + φ_m·tanh(Δlen/sd_m) + γ_x over the models' verdicts against the baseline" + (
            f"; vote filters {filters}" if filters else "")
        models = difficulty.info["models"]
        try:
            se = difficulty.se or {}
            fitted_at = store.difficulty.save(
                req.baseline, [(p, difficulty.values[p], se.get(p)) for p in difficulty.order], models=models,
                verdicts=difficulty.info["verdicts"], method=method)
            source = "refitted and stored" if req.refit_difficulty else "fitted now and stored"
        except sqlite3.Error as exc:
            fitted_at, source = None, "fitted now (not stored)"
            notes.append(f"the fitted difficulty could not be stored ({exc}); it holds for this run only")
        difficulty = Difficulty(difficulty.values, difficulty.order, {
            "source": source, "baseline": req.baseline, "fitted_at": fitted_at, "models": models,
            "verdicts": difficulty.info["verdicts"], "method": method, "prompts": len(difficulty.values)},
            difficulty.se)
    models = difficulty.info["models"]
    if len(models) < FEW_DIFFICULTY_MODELS:
        notes.append(f"the instruction difficulty ({difficulty.info['source']}, {difficulty.info['fitted_at']}) was "
                     f"fitted on {len(models)} model(s) only; AlpacaEval's comes from many: give --difficulty FILE, "
                     "or --refit-difficulty once more models are in")
    return difficulty, notes


def rank_stored(open_store: Callable[[], Store], req: RankRequest) -> Ranking:
    """``sbs rank`` and ``sbs export rankings`` as one call: validate the request (``InputError`` naming the
    option), open the store, rank, close. A baseline without votes is an input error too."""
    req.validate()
    store = open_store()
    try:
        ranking = run_ranking(store, req)
        if not ranking.info.get("votes"):  # an empty table with exit 0 would read as a result
            flagged = ("" if req.include_flagged or not store.votes.flagged_count()
                       else " (flagged votes are left out: --include-flagged counts them)")
            raise InputError(f"no votes to rank{flagged}; import votes (sbs import votes FILE) or let annotators "
                             "judge (sbs annotate)", file=str(store.path) if store.path else None)
        return ranking
    except KeyError as exc:
        raise InputError(f"no votes involve model {exc.args[0]!r}", field="--baseline") from None
    finally:
        store.close()
