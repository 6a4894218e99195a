"""The review app's ranking tab: ratings with 95% intervals and Rank (UB), pickers for method, baseline, interval
and control — the same ``run_ranking`` document ``sbs rank`` prints, with its headers (:mod:`sbs_tui.present`)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from functools import partial
from typing import Any

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.containers import Grid, Horizontal
from textual.widgets import DataTable, Select, Static

from sbs_tui.core.ranking.request import CIS, CONTROLS, METHODS, VOTERS, RankRequest
from sbs_tui.core.views import on_db
from sbs_tui.core.views.ranking import RankingView, ranking_view
from sbs_tui.present.numbers import count
from sbs_tui.present.numbers import fixed as fmt
from sbs_tui.present.tables.rank import rank_columns, rating_interval, votes_needed_text
from sbs_tui.tui.review.pane import ReviewPane
from sbs_tui.tui.review.table import SizedTable, fill, name, stripped


# The ranking tab's pickers in their order on screen: (name, label, options).
PICKERS = (("method", "method (m)", METHODS), ("baseline", "baseline (b)", ()), ("ci", "CI (c)", CIS),
           ("control", "control (l)", CONTROLS))


def picker_width(label: str, options: Iterable[str]) -> int:
    """Columns a picker needs so neither its label nor its longest option is cut: the label with its padding
    (1 each side), the option and a compact Select's arrow and margins (3)."""
    return len(label) + 2 + max((len(o) for o in options), default=4) + 3


class RankingPane(ReviewPane):
    """The ranking with 95% intervals and Rank (UB); pickers for method, baseline, interval and control."""

    def __init__(self, db_path: str, options: RankRequest | None = None, **kwargs: Any) -> None:
        super().__init__(db_path, **kwargs)
        self.options = options or RankRequest()
        self.models: list[str] = []

    def compose(self) -> ComposeResult:
        o = self.options
        with Grid(id="rank-controls"):
            with Horizontal(classes="picker"):
                yield Static("method (m)", classes="picker-label")
                yield Select([(m, m) for m in METHODS], value=o.method, allow_blank=False, compact=True,
                             id="rank-method")
            with Horizontal(classes="picker"):
                yield Static("baseline (b)", classes="picker-label")
                yield Select([], prompt="none", allow_blank=True, compact=True, id="rank-baseline")
            with Horizontal(classes="picker"):
                yield Static("CI (c)", classes="picker-label")
                yield Select([(c, c) for c in CIS], value=o.ci, allow_blank=False, compact=True, id="rank-ci")
            with Horizontal(classes="picker"):
                yield Static("control (l)", classes="picker-label")
                yield Select([(c, c) for c in CONTROLS], value=o.control, allow_blank=False, compact=True,
                             id="rank-control")
        yield Static(classes="pane-status")
        yield Static(id="rank-note")
        yield SizedTable(id="rank-table", cursor_type="row", zebra_stripes=True)
        yield Static(id="rank-warnings")
        yield Static(id="rank-needed")

    def on_resize(self) -> None:
        """Narrow terminals (under 110 columns) get the four pickers on two rows. On one row the method, CI and
        control pickers are as wide as their label and longest option ("trueskill" was cut to "trueskil" at
        120 columns when each took a fraction of the row); the baseline picker takes the rest."""
        narrow = self.size.width < 110
        self.set_class(narrow, "narrow")
        controls = self.query_one("#rank-controls", Grid)
        if narrow:
            controls.styles.grid_columns = "1fr 1fr"
        else:
            controls.styles.grid_columns = " ".join(
                "1fr" if picker == "baseline" else str(picker_width(label, options))
                for picker, label, options in PICKERS)

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, ranking_view, self.options)

    def set_options(self, **changes: Any) -> None:
        """Change the pickers (from a key or a Select) and recompute."""
        self.options = replace(self.options, **changes)
        self._sync_selects()
        self.recompute()

    def cycle(self, field: str) -> None:
        """The next value of one picker (keys m, b, c, l)."""
        choices: tuple[Any, ...] = {"method": METHODS, "ci": CIS, "control": CONTROLS,
                                    "voters": VOTERS}.get(field) or (None, *self.models)
        current = getattr(self.options, field)
        nxt = choices[(choices.index(current) + 1) % len(choices)] if current in choices else choices[0]
        self.set_options(**{field: nxt})

    def _sync_selects(self) -> None:
        o = self.options
        for select_id, value in (("#rank-method", o.method), ("#rank-ci", o.ci), ("#rank-control", o.control),
                                 ("#rank-baseline", o.baseline if o.baseline in self.models else Select.NULL)):
            select = self.query_one(select_id, Select)
            if select.value != value:
                with select.prevent(Select.Changed):
                    select.value = value

    @on(Select.Changed)
    def _picked(self, event: Select.Changed) -> None:
        event.stop()
        field = {"rank-method": "method", "rank-ci": "ci", "rank-control": "control",
                 "rank-baseline": "baseline"}.get(event.select.id or "")
        if field is None:
            return
        value = None if event.value is Select.NULL else event.value
        if getattr(self.options, field) != value:
            self.set_options(**{field: value})

    def show(self, view: RankingView) -> None:
        if list(view.models) != self.models:
            self.models = list(view.models)
            select = self.query_one("#rank-baseline", Select)
            with select.prevent(Select.Changed):
                select.set_options([(name(m), m) for m in self.models])
                if self.options.baseline in self.models:
                    select.value = self.options.baseline
        self.note("#rank-note", Text.assemble(("note: ", "bold yellow"), name(view.note)) if view.note else "")
        table = self.query_one("#rank-table", DataTable)
        doc = view.doc
        if doc is None:
            fill(table, [], [])
            table.display = False
            self.note("#rank-warnings", "")
            self.note("#rank-needed", "")
            return
        table.display = True
        pct = doc["method"] == "winrate"
        multi = len(doc.get("components") or []) > 1
        digits = 2 if pct else 0
        columns, lc = rank_columns(doc)  # the headers `sbs rank` prints (LC: the raw verdicts named raw)
        columns[0] = "Rank (UB)"
        if multi:
            columns.append("Component")
        rows = []
        for m in doc["models"]:
            prior = m.get("set_by_prior")
            model = name(m["model"])
            if prior:
                model.append(" (prior)", style="yellow")
            if m.get("baseline"):
                model.append(" (baseline: 50 by definition)", style="dim")
            ci = rating_interval(m, digits)
            last = m.get("raw_win_rate", m["win_rate"]) if lc else m["win_rate"]
            row = [str(m["rank"]), model, fmt(m["rating"], digits + 1 if pct else 1), ci, count(m["votes"]),
                   count(m["wins"]), count(m["losses"]), count(m["ties"]), fmt(last, 1)]
            if multi:
                row.append(str(m.get("component", "")))
            rows.append(row)
        fill(table, columns, rows)
        warnings = Text()
        for w in doc.get("warnings", []):
            warnings.append("⚠ ", style="bold yellow")
            warnings.append_text(name(w))
            warnings.append("\n")
        self.note("#rank-warnings", stripped(warnings))
        needed = [v for v in doc.get("votes_needed", []) if not v.get("separated") and v.get("factor")]
        hint = Text()
        if needed:
            hint.append("Votes needed to separate adjacent models (power estimate, ≈ per model):\n", style="dim")
            for v in needed[:8]:
                hint.append("  ")
                hint.append_text(name(str(v["better"])))
                hint.append(" vs ")
                hint.append_text(name(str(v["worse"])))
                hint.append(f": {votes_needed_text(v)}\n")
        self.note("#rank-needed", stripped(hint))

    def status_text(self, view: RankingView, seconds: float) -> Text:
        o = self.options
        what = o.method + (f" vs {view.baseline}" if view.baseline else "")
        if view.doc is not None:
            if view.doc.get("ci"):
                what += f" · 95% CI {view.doc['ci']}"
            if o.control != "none":
                what += f" · {o.control}-controlled"
        what += f" · votes by {view.voters} (v)"
        text = name(what)
        text.stylize("bold")
        text.append(f" · {view.votes:,} votes · {self.stamp(seconds)}", style="dim")
        return text
