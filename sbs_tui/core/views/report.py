"""``sbs report``: the whole funnel as one document to share — what each stage says, and the commands that said it.

Whose votes: one rule for the whole document. The voters are resolved once (``--voters``, default ``auto``: the
humans' when the database also has judge votes) and every section — ranking, win rate, agreement, funnel —
counts those votes and says so (``voters``, ``votes``); a report never ranks everyone while its funnel counts
the humans.

Why a document of the same JSON the commands print: a report that computed its numbers another way would drift
from ``sbs rank``/``agreement``/``ab``/``funnel``; here each section *is* that command's ``--format json`` output
(the contract), and the report lists those commands so a reader can reproduce every figure. The renderers
(:mod:`sbs_tui.present.report_html`, :mod:`sbs_tui.present.report_md`) only lay it out.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sbs_tui.core.store import Store


@dataclass(frozen=True)
class ReportRequest:
    bootstrap: int = 1000
    baseline: str | None = None
    alpha: float = 0.05
    seed: int = 0
    voters: str = "auto"  # the one voters rule (core.scope), for every section


def _section(build: Callable[[], Any]) -> dict[str, Any]:
    """One stage's document, or why there is none (a report of a campaign without A/B data is still a report)."""
    try:
        return {"ok": True, "doc": build()}
    except (KeyError, ValueError) as exc:
        return {"ok": False, "why": str(exc)}


def collect_report(store: Store, request: ReportRequest, *, db_path: str | Path,
                   config_text: str | None = None) -> dict[str, Any]:
    """Every stage's document from one database, plus provenance (commands, config, time) and whose votes every
    section counted (``counted``: voters and votes, the same in each section)."""
    from sbs_tui.core.analysis.abtest import analyse_store as analyse_ab
    from sbs_tui.core.analysis.agreement import analyse_store as analyse_agreement
    from sbs_tui.core.ranking.api import RankRequest, run_ranking
    from sbs_tui.core.scope import resolve_voters
    from sbs_tui.core.views.funnel import funnel_view

    kinds = store.votes.annotator_kinds()
    voters = resolve_voters(kinds, request.voters).voters if kinds else None  # an input error before any work
    sections: dict[str, Any] = {}
    counted = None
    if kinds:
        sections["ranking"] = _section(lambda: run_ranking(store, RankRequest(
            method="bt", rounds=request.bootstrap, seed=request.seed, matrices=True, voters=voters or "all"))
            .to_json())
        if sections["ranking"]["ok"]:
            counted = {"voters": sections["ranking"]["doc"]["voters"], "votes": sections["ranking"]["doc"]["votes"]}
        if request.baseline:
            sections["winrate"] = _section(lambda: run_ranking(store, RankRequest(
                method="winrate", baseline=request.baseline, voters=voters or "all")).to_json())
        sections["agreement"] = _section(lambda: analyse_agreement(store, voters=voters or "all").to_json())
    sections["gates"] = _section(lambda: _gates(store))
    sections["ab"] = _section(lambda: analyse_ab(store, alpha=request.alpha).as_dict())
    sections["funnel"] = _section(lambda: _funnel(funnel_view(store, alpha=request.alpha, voters=voters or "all")))
    who = f" --voters {voters}" if voters else ""
    commands = [f"sbs --db {db_path} rank --method bt --bootstrap {request.bootstrap}{who} --format json"]
    if request.baseline:
        commands.append(f"sbs --db {db_path} rank --method winrate --baseline {request.baseline}{who} --format json")
    commands += [f"sbs --db {db_path} agreement{who} --format json", f"sbs --db {db_path} ab --format json",
                 f"sbs --db {db_path} funnel{who} --format json"]
    return {
        "title": f"sbs report — {Path(db_path).name}",
        "generated_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "database": str(db_path),
        "counts": {t: store.count(t) for t in ("generations", "votes", "annotators", "pairs")},
        "counted": counted,
        "sections": sections,
        "commands": commands,
        "config": config_text,
    }


def _funnel(view: Any) -> dict[str, Any]:
    """The funnel's JSON plus what the funnel view says about it (its closing sentence, its notes): the report
    words the result exactly as ``sbs funnel`` and the review app do."""
    return {**view.doc, "verdict": view.verdict, "notes": list(view.notes),
            "stage_labels": {s.key: s.label for s in view.stages}}


def _gates(store: Store) -> dict[str, Any]:
    from sbs_tui.core.gates.coverage import from_store

    rates = store.gates.pass_rates()
    unchecked = from_store(store)
    return {
        "status": store.gates.status_counts(),
        "pass_rates": {model: {gate: {"passed": r.passed, "total": r.total} for gate, r in gates.items()}
                       for model, gates in rates.items()},
        # What "passed" did not mean: safety categories no blocking gate checked (sbs_tui.core.gates.coverage).
        "unchecked": [{**u.as_dict(), "sentence": u.sentence()} for u in unchecked],
    }


def write_report(store: Store, request: ReportRequest, target: str | Path | None,
                 render: Callable[[dict[str, Any]], str], *, db_path: str | Path,
                 config_text: str | None = None) -> None:
    """``sbs report`` as one call: :func:`collect_report`, rendered by ``render`` (the presentation layer's HTML or
    Markdown), written to ``target`` only whole (a temporary file renamed; stdout when None). A folder that cannot
    be written is an input error naming the file."""
    from sbs_tui.core.io.export import atomic_output
    from sbs_tui.errors import InputError

    report = collect_report(store, request, db_path=db_path, config_text=config_text)
    try:
        with atomic_output(target) as fh:
            fh.write(render(report))
    except OSError as exc:
        raise InputError(f"cannot write: {exc.strerror}", file=str(target)) from exc
