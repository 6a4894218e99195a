"""The review app's gates & funnel tab: gate pass rates per model, the funnel's stages side by side, rank
correlations and where the stages disagree — a :class:`~sbs_tui.core.views.funnel.FunnelView`, the one
``sbs funnel`` prints."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from sbs_tui.core.views import on_db
from sbs_tui.core.views.funnel import FunnelView, funnel_view
from sbs_tui.core.scope import described
from sbs_tui.present.numbers import DASH, count, finite, percent
from sbs_tui.present.numbers import fixed as fmt
from sbs_tui.present.numbers import p_value as fmt_p
from sbs_tui.tui.review.pane import ReviewPane
from sbs_tui.tui.review.table import SizedTable, fill, name, stripped


class FunnelPane(ReviewPane):
    """Gate pass rates per model, the funnel's stages side by side, rank correlations, disagreements."""

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static("Gates — share of each model's generations that passed", classes="section")
        yield SizedTable(id="funnel-gates", cursor_type="row", zebra_stripes=True)
        yield Static(id="funnel-unchecked")
        yield Static("Funnel — each stage's score and rank per model", classes="section")
        yield SizedTable(id="funnel-stages", cursor_type="row", zebra_stripes=True)
        yield Static("Rank agreement between stages", classes="section")
        yield SizedTable(id="funnel-corr", cursor_type="row", zebra_stripes=True)
        yield Static(id="funnel-notes")

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, funnel_view, voters=self.voters)

    def status_text(self, view: FunnelView, seconds: float) -> Text:
        counted = f"side-by-side: {described(view.voters, view.votes)} · " if view.voters else ""
        return Text(f"{counted}{self.stamp(seconds)}", style="dim")

    def show(self, view: FunnelView) -> None:
        gate_names = view.gate_names
        rows = []
        for m in view.rows:
            g = m.gates
            if not g:
                continue
            cells: list[Any] = [name(m.model), count(g["passed"] + g["blocked"] + g["pending"]),
                                count(g["passed"]),
                     count(g["blocked"]), count(g["pending"]),
                     percent(g["pass_rate"])]
            for gate in gate_names:
                per = g.get("gates", {}).get(gate)
                cells.append(DASH if not per else percent(per["pass_rate"]))
            rows.append(cells)
        fill(self.query_one("#funnel-gates", DataTable),
             ["Model", "Generations", "Passed", "Blocked", "Pending", "Pass rate",
              *[Text.assemble(name(g), " %") for g in gate_names]], rows,
             empty="no gate results yet (sbs gate)")
        unchecked = self.query_one("#funnel-unchecked", Static)  # the first stage's blind spot, next to its rates
        unchecked.update(Text("\n".join(view.unchecked), style="bold yellow"))
        unchecked.display = bool(view.unchecked)

        stages = view.stages
        columns: list[Any] = ["Model"]
        for stage in stages:
            columns.append(Text.assemble(name(_short(stage.key, stage.label)), " (rank)"))
        rows = []
        for m in view.rows:
            cells = [name(m.model)]
            for stage in stages:
                d = m.stages.get(stage.key)
                cells.append(DASH if d is None else _stage_cell(stage.key, d))
            rows.append(cells)
        table = self.query_one("#funnel-stages", DataTable)
        fill(table, columns, rows if stages else [],
             empty="no stage has scores yet (import benchmarks, votes or A/B results)")

        rows = []
        for c in view.correlations:
            rows.append([name(c["labels"][0]), name(c["labels"][1]), count(c["n"]),
                         DASH if c["spearman"] is None else f"{fmt(c['spearman'], 2, signed=True)} ({fmt_p(c['spearman_p'])})",
                         DASH if c["kendall"] is None else f"{fmt(c['kendall'], 2, signed=True)} ({fmt_p(c['kendall_p'])})"])
        fill(self.query_one("#funnel-corr", DataTable),
             ["Stage", "Stage", "Shared models", "Spearman ρ (p)", "Kendall τ (p)"], rows,
             empty="fewer than two stages share models, so no rank agreement yet")

        notes = Text()
        if view.voters:
            notes.append(f"Side-by-side counts {described(view.voters, view.votes)} (v on the ranking tab "
                         "changes whose votes count).\n", style="dim")
        if not view.rows:
            notes.append("Nothing to show yet: import generations, benchmarks, votes or A/B results.", style="italic")
        elif not stages:
            notes.append("No stage has scores yet (benchmarks, votes or A/B results).", style="italic")
        for line in view.notes:
            notes.append_text(name(line))
            notes.append("\n")
        if view.disagreements:
            notes.append("Where the stages disagree:\n", style="bold")
            for sentence in view.disagreements:
                notes.append("  • ")
                notes.append_text(name(sentence))
                notes.append("\n")
        elif view.verdict:
            notes.append(view.verdict, style="green" if not view.notes else "yellow")
        self.note("#funnel-notes", stripped(notes))


def _short(key: str, label: str) -> str:
    return label if not key.startswith("ab:") else "A/B " + key[3:]


def _stage_cell(key: str, d: dict[str, Any]) -> Text:
    rank = f" ({d['rank']})"
    if key == "benchmarks":
        return Text(f"{fmt(d.get('score'), 3)}{rank}")
    if key == "side_by_side":
        if d.get("method") == "win_rate" or finite(d.get("rating")) is None:
            return Text(f"{fmt((finite(d.get('win_rate')) or 0) * 100)}%{rank}")
        return Text(f"{fmt(d.get('rating'), 0)}{rank}")
    if d.get("control"):
        return Text.assemble(fmt(d.get("estimate"), 3), (" control", "dim"), rank)
    lift = finite(d.get("lift"))
    mark = ("*", "bold green") if d.get("significant") else ""
    return Text.assemble(fmt(d.get("estimate"), 3), f" {lift * 100:+.1f}%" if lift is not None else "", mark, rank)
