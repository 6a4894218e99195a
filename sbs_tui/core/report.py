"""``sbs report``: the whole funnel as one document to share — what each stage says, and the commands that said it.

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


def _section(build: Callable[[], Any]) -> dict[str, Any]:
    """One stage's document, or why there is none (a report of a campaign without A/B data is still a report)."""
    try:
        return {"ok": True, "doc": build()}
    except (KeyError, ValueError) as exc:
        return {"ok": False, "why": str(exc)}


def collect_report(store: Store, request: ReportRequest, *, db_path: str | Path,
                   config_text: str | None = None) -> dict[str, Any]:
    """Every stage's document from one database, plus provenance (commands, config, time)."""
    from sbs_tui.core.abtest import analyse_store as analyse_ab
    from sbs_tui.core.agreement import analyse_store as analyse_agreement
    from sbs_tui.core.funnel import build_funnel
    from sbs_tui.core.ranking.api import RankRequest, run_ranking

    has_votes = store.count("votes") > 0
    sections: dict[str, Any] = {}
    if has_votes:
        sections["ranking"] = _section(lambda: run_ranking(store, RankRequest(
            method="bt", rounds=request.bootstrap, seed=request.seed, matrices=True)).to_json())
        if request.baseline:
            sections["winrate"] = _section(lambda: run_ranking(store, RankRequest(
                method="winrate", baseline=request.baseline)).to_json())
        sections["agreement"] = _section(lambda: analyse_agreement(store).to_json())
    sections["gates"] = _section(lambda: _gates(store))
    sections["ab"] = _section(lambda: analyse_ab(store, alpha=request.alpha).as_dict())
    sections["funnel"] = _section(lambda: build_funnel(store, alpha=request.alpha).as_dict())
    commands = [f"sbs --db {db_path} rank --method bt --bootstrap {request.bootstrap} --format json"]
    if request.baseline:
        commands.append(f"sbs --db {db_path} rank --method winrate --baseline {request.baseline} --format json")
    commands += [f"sbs --db {db_path} agreement --format json", f"sbs --db {db_path} ab --format json",
                 f"sbs --db {db_path} funnel --format json"]
    return {
        "title": f"sbs report — {Path(db_path).name}",
        "generated_at": _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "database": str(db_path),
        "counts": {t: store.count(t) for t in ("generations", "votes", "annotators", "pairs")},
        "sections": sections,
        "commands": commands,
        "config": config_text,
    }


def _gates(store: Store) -> dict[str, Any]:
    from sbs_tui.core.coverage import from_store

    rates = store.gates.pass_rates()
    unchecked = from_store(store)
    return {
        "status": store.gates.status_counts(),
        "pass_rates": {model: {gate: {"passed": r.passed, "total": r.total} for gate, r in gates.items()}
                       for model, gates in rates.items()},
        # What "passed" did not mean: safety categories no blocking gate checked (sbs_tui.core.coverage).
        "unchecked": [{**u.as_dict(), "sentence": u.sentence()} for u in unchecked],
    }
