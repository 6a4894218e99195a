"""The review app's tabs: ranking, agreement, queue/progress, gates & funnel.

Each pane computes in a thread worker (``ReviewPane.recompute``) that opens its own store through
:mod:`sbs_tui.core.views` (a view function run by :func:`~sbs_tui.core.views.on_db`) and posts the frozen result back as a message; the pane then fills its widgets on
the UI thread. A result carries the token of the request that produced it, so a slow, superseded computation
(thread workers cannot be interrupted) never overwrites a newer one. Old numbers stay on screen while new ones
are computed, with "computing…" in the pane's status line.

Model, annotator, gate and experiment names are hostile text: every one goes through :func:`name`
(rich ``Text``, never markup; control, zero-width and bidi characters shown as stand-ins — the one rule of
:mod:`sbs_tui.present.text`); numbers are written by :mod:`sbs_tui.present.numbers`.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from functools import partial
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.worker import get_current_worker
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid, Horizontal, VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Select, Static

from sbs_tui.present.numbers import DASH, count, finite, percent
from sbs_tui.present.numbers import fixed as fmt
from sbs_tui.present.numbers import p_value as fmt_p
from sbs_tui.present.tables import rank_columns, rating_interval, votes_needed_text
from sbs_tui.present.text import literal as name
from sbs_tui.core.ranking.request import CIS, CONTROLS, METHODS, VOTERS, RankRequest
from sbs_tui.core.views import on_db
from sbs_tui.core.views import review as reviews
from sbs_tui.core.views.funnel import FunnelView, funnel_view
from sbs_tui.core.views.queue import QueueView, queue_view
from sbs_tui.core.views.ranking import RankingView, ranking_view
from sbs_tui.core.scope import described
from sbs_tui.tui.review_jobs import Cancelled, JobRunner


def clipped(text: str | None, width: int = 60) -> Text:
    """A long hostile string (a prompt) on one line: escaped first, then cut."""
    shown = name(text or "")
    if len(shown) > width:
        shown.truncate(width - 1)
        shown.append("…")
    return shown


def stripped(text: Text) -> Text:
    """``text`` without trailing whitespace (rich's ``rstrip`` works in place and returns None)."""
    text.rstrip()
    return text


def fill(table: DataTable, columns: Iterable[Any], rows: Iterable[Iterable[Any]], *, empty: str | None = None) -> None:
    """Replace a table's columns and rows, keeping the cursor row where it was when it still exists.

    ``empty``: why the table can be empty. With no rows the table is hidden and that one line shows in its place
    (a ``Static`` with id ``<table id>-empty`` next to it): a bare header row reads as "broken", not "nothing yet".
    """
    cursor = table.cursor_row
    table.clear(columns=True)
    grid = [[_justified(cell) for cell in row] for row in rows]
    labels = []
    for j, label in enumerate(columns):  # a column of numbers gets a right-aligned heading
        right = bool(grid) and isinstance(grid[0][j], Text) and grid[0][j].justify == "right"
        labels.append(Text(label, justify="right") if right and isinstance(label, str) else label)
    table.add_columns(*labels)
    for row in grid:
        table.add_row(*row)
    if table.row_count:
        table.move_cursor(row=min(cursor, table.row_count - 1))
    if empty is not None:
        table.display = bool(grid)
        _empty_note(table, empty, shown=not grid)


def _empty_note(table: DataTable, reason: str, *, shown: bool) -> None:
    """Put (or update) the one-line reason shown in place of ``table`` while it has no rows."""
    from textual.widget import Widget

    parent = table.parent
    if not isinstance(parent, Widget) or table.id is None:
        return
    found = parent.query(f"#{table.id}-empty")
    note = found.first(Static) if found else Static(id=f"{table.id}-empty", classes="empty-note")
    note.update(Text(reason, style="italic dim"))
    note.display = shown
    if not found:
        parent.mount(note, after=table)


_gc_lock = threading.Lock()
_gc_pausers = 0  # computations running now
_gc_restore = True  # whether the collector was enabled when the first of them began


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while any tab computes.

    Why: a full collection is stop-the-world, and a computation that builds a few hundred thousand objects (the
    agreement statistics over every vote) triggers several — each one freezes the UI thread too (measured at 200k
    votes: worst stall 112 ms with collections, 39 ms without). The objects are freed by reference counting when
    the worker finishes; the collector is re-enabled when the last computation ends (it was enabled before).
    """
    global _gc_pausers, _gc_restore
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_restore:
                gc.enable()


def _justified(cell: Any) -> Any:
    """Numbers (and the dash standing for none) right-aligned; names and words as they are."""
    if isinstance(cell, str) and cell and (cell[0].isdigit() or cell[0] in "+-−<×" or cell == DASH):
        return Text(cell, justify="right")
    return cell


class ReviewPane(VerticalScroll):
    """A tab's content: recompute in a thread, show the result on the UI thread."""

    class Loaded(Message):
        def __init__(self, token: int, result: Any, seconds: float) -> None:
            super().__init__()
            self.token, self.result, self.seconds = token, result, seconds

    class Failed(Message):
        def __init__(self, token: int, error: str) -> None:
            super().__init__()
            self.token, self.error = token, error

    def __init__(self, db_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db_path = db_path
        self.token = 0
        self.handled_token = 0  # the request whose result (or failure) is on screen
        self.result: Any = None
        self.computed_at: str | None = None

    @property
    def voters(self) -> str:
        """Whose votes count — the ranking tab's picker (v), so every tab counts the same votes."""
        return str(getattr(self.app, "voters", "auto"))

    def status_widget(self) -> Static:
        return self.query_one(".pane-status", Static)

    @property
    def busy(self) -> bool:
        """A computation of this pane is still running."""
        return any(w.node is self and w.group == "review" and not w.is_finished for w in self.app.workers)

    def recompute(self) -> None:
        """Start a fresh computation; an earlier one still running is superseded."""
        if not self.is_attached:
            return
        try:
            status = self.status_widget()
        except NoMatches:  # being torn down (a timer firing as the app quits)
            return
        self.token += 1
        status.update(Text("computing…", style="italic"))
        self._work(self.token, self.job())

    def job(self) -> Callable[[], Any]:
        """What to compute: a picklable callable (a ``partial`` of :func:`on_db` and a core view) that returns
        plain data — run on the worker thread, or in a helper process for a large database (it never touches
        widgets either way; see :mod:`sbs_tui.tui.review_jobs`)."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, exit_on_error=False, group="review")
    def _work(self, token: int, job: Callable[[], Any]) -> None:
        started = time.perf_counter()
        runner: JobRunner | None = getattr(self.app, "jobs", None)
        worker = get_current_worker()
        try:
            with collection_paused():
                result = runner.run(job, lambda: worker.is_cancelled, self.db_path) if runner else job()
        except Cancelled:
            return  # superseded, or the app is quitting: nobody waits for this result
        except Exception as exc:  # shown in the pane; the app keeps running
            self.post_message(self.Failed(token, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Loaded(token, result, time.perf_counter() - started))

    def on_review_pane_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.token != self.token:
            return  # superseded by a newer request
        self.handled_token = message.token
        self.result = message.result
        self.computed_at = datetime.now().strftime("%H:%M:%S")
        try:
            self.show(message.result)
            self.status_widget().update(self.status_text(message.result, message.seconds))
            self.shown()
        except NoMatches:  # the result arrived while the app was closing
            pass

    def shown(self) -> None:
        """After a result is on screen (a hook: the detail panes move focus to their rows)."""

    @property
    def active(self) -> bool:
        """This pane's tab is the one shown."""
        from textual.widgets import TabbedContent, TabPane

        try:
            tabs = self.app.query_one(TabbedContent)
        except NoMatches:
            return False
        return any(isinstance(a, TabPane) and a.id == tabs.active for a in self.ancestors)

    def on_review_pane_failed(self, message: Failed) -> None:
        message.stop()
        if message.token != self.token:
            return
        self.handled_token = message.token
        self.status_widget().update(Text.assemble(("failed: ", "bold red"), name(message.error)))

    def note(self, selector: str, text: Text | str) -> None:
        """Fill an optional line of notes; hidden while empty, so no blank gaps open up."""
        widget = self.query_one(selector, Static)
        widget.update(text)
        widget.display = bool(text.plain if isinstance(text, Text) else text)

    def stamp(self, seconds: float) -> str:
        """When the numbers were taken and how long they took (left out where a stable screen is wanted)."""
        if not getattr(self.app, "timestamps", True):
            return "r refreshes"
        return f"as of {self.computed_at} ({seconds:.2f} s) · r refreshes"

    def status_text(self, result: Any, seconds: float) -> Text:
        return Text(self.stamp(seconds), style="dim")

    def show(self, result: Any) -> None:
        raise NotImplementedError


# ----------------------------------------------------------------------------------------------------------------
# Ranking
# ----------------------------------------------------------------------------------------------------------------


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
        yield DataTable(id="rank-table", cursor_type="row", zebra_stripes=True)
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


# ----------------------------------------------------------------------------------------------------------------
# Agreement
# ----------------------------------------------------------------------------------------------------------------


class AgreementPane(ReviewPane):
    """Overall κ/α, annotators against the majority of the others (outliers in red), position bias, judges."""

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="agree-overall")
        yield Static("Annotators — agreement with the majority of the others", classes="section")
        yield DataTable(id="agree-annotators", cursor_type="row", zebra_stripes=True)
        yield Static("Position bias — decisive votes won by the answer shown on the left", classes="section")
        yield DataTable(id="agree-position", cursor_type="row", zebra_stripes=True)
        yield Static("Judges against the human majority", classes="section")
        yield DataTable(id="agree-judges", cursor_type="row", zebra_stripes=True)
        yield Static("Annotator pairs — Cohen's κ on the items both judged", classes="section")
        yield DataTable(id="agree-pairs", cursor_type="row", zebra_stripes=True)
        yield Static(id="agree-notes")

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, reviews.agreement_view, voters=self.voters)

    def status_text(self, doc: dict[str, Any], seconds: float) -> Text:
        return Text(f"{described(doc.get('voters') or 'all', doc.get('votes') or 0)} (v on the ranking tab) · "
                    f"{self.stamp(seconds)}", style="dim")

    def show(self, doc: dict[str, Any]) -> None:
        o = doc["overall"]
        overall = Text()
        if not o.get("votes"):
            overall.append("No votes yet: agreement needs votes by two or more annotators on the same pairs "
                           "(sbs queue build --overlap K).", style="italic")
        elif o.get("unavailable_reason"):
            overall.append("Agreement cannot be computed: ", style="bold yellow")
            overall.append_text(name(o["unavailable_reason"]))
            overall.append(f"\n{o['votes']:,} votes on {o['items']:,} items, {o['annotators']} annotator(s)")
        else:
            overall.append(f"{o['votes']:,} votes on {o['items']:,} items ({o['items_multi_annotated']:,} judged by "
                           f"≥ 2 annotators), {o['annotators']} annotators\n")
            overall.append("percent agreement ")
            overall.append(fmt(o.get("percent_agreement")), style="bold")
            overall.append(" · Fleiss κ ")
            overall.append(fmt(o.get("fleiss_kappa"), 3), style="bold")
            overall.append(" · Krippendorff α ")
            overall.append(fmt(o.get("krippendorff_alpha"), 3), style="bold")
            overall.append(" · majority agreement ")
            overall.append(fmt(o.get("pooled_majority_agreement")), style="bold")
        self.query_one("#agree-overall", Static).update(overall)

        rows = []
        for a in doc["annotators"]:
            style = "bold red" if a.get("outlier") else ""
            who = name(a["annotator"])
            who.stylize(style)
            rows.append([who, a["kind"], count(a["votes"]), count(a["items_with_majority"]),
                         fmt(a.get("majority_agreement")), fmt(a.get("others_majority_agreement")),
                         fmt_p(a.get("p_value_holm", a.get("p_value"))),
                         Text("OUTLIER", style="bold red") if a.get("outlier") else ""])
        fill(self.query_one("#agree-annotators", DataTable),
             ["Annotator", "Kind", "Votes", "Items", "Agree %", "Others %", "p (one-sided, Holm)", ""], rows,
             empty="no annotators with votes yet (v on the ranking tab changes whose votes count)")

        rows = []
        for p in doc["position_bias"]:
            p_adj = p.get("p_value_holm", p.get("p_value"))
            biased = (finite(p_adj) or 1.0) < 0.01
            share = Text(fmt(p["left_share"]), style="bold red" if biased else "")
            who = Text("(all)", style="italic") if p["annotator"] == "(all)" else name(p["annotator"])
            rows.append([who, count(p["decisive_votes"]), count(p["left_wins"]), share,
                         fmt_p(p_adj) if p.get("testable", True) else "not testable"])
        fill(self.query_one("#agree-position", DataTable),
             ["Annotator", "Decisive votes", "Left wins", "Left %", "p (Holm)"], rows,
             empty="no decisive votes with a known left side yet")

        rows = []
        for j in doc["judge_vs_humans"]:
            rows.append([name(j["judge"]), count(j["items"]), fmt(j["percent_agreement"]),
                         fmt(j["cohen_kappa"], 3), count(len(j.get("disagreements") or []))])
        fill(self.query_one("#agree-judges", DataTable),
             ["Judge", "Items", "Agree %", "Cohen κ", "Disagreements listed"], rows,
             empty="no items judged by both a judge and humans yet")

        pairs = sorted(doc.get("pairs", []), key=lambda p: finite(p.get("cohen_kappa")) or -2.0)  # worst first
        fill(self.query_one("#agree-pairs", DataTable), ["Annotator A", "Annotator B", "Items", "Agree %", "Cohen κ"],
             [[name(p["annotator_a"]), name(p["annotator_b"]), count(p["items"]), fmt(p["percent_agreement"]),
               fmt(p["cohen_kappa"], 3)] for p in pairs],
             empty="no two annotators judged the same items yet (sbs queue build --overlap K)")

        notes = Text()
        for c in doc.get("order_consistency", []):
            notes.append_text(name(c["annotator"]))
            notes.append(f": same verdict in both orders on {c['consistent']}/{c['items_judged_in_both_orders']} "
                         f"items ({fmt(c['consistency'])}%)\n")
        gold = doc.get("gold") or {}
        if gold.get("available"):
            for g in gold.get("annotators", []):
                notes.append("gold accuracy ")
                notes.append_text(name(g["annotator"]))
                notes.append(f": {fmt(g['accuracy'])}% on {g['items']} items\n")
        elif gold.get("note"):
            notes.append(f"gold: {gold['note']}\n", style="dim")
        for w in doc.get("warnings", []):
            notes.append("⚠ ", style="bold yellow")
            notes.append_text(name(w))
            notes.append("\n")
        self.note("#agree-notes", stripped(notes))


# ----------------------------------------------------------------------------------------------------------------
# Queue and progress
# ----------------------------------------------------------------------------------------------------------------


class QueuePane(ReviewPane):
    """Per annotator done / remaining / pace, pairs held back for identity leaks, flagged pairs."""

    def __init__(self, db_path: str, *, gating_required: bool = True, **kwargs: Any) -> None:
        super().__init__(db_path, **kwargs)
        self.gating_required = gating_required

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="queue-summary")
        yield Static("Annotators", classes="section")
        yield DataTable(id="queue-annotators", cursor_type="row", zebra_stripes=True)
        yield Static(id="queue-flagged-title", classes="section")
        yield DataTable(id="queue-flagged", cursor_type="row", zebra_stripes=True)
        yield Static(id="queue-held-title", classes="section")
        yield DataTable(id="queue-held", cursor_type="row", zebra_stripes=True)

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, queue_view, gating_required=self.gating_required)

    def show(self, view: QueueView) -> None:
        s = view.summary
        summary = Text()
        if not s["pairs"]:
            summary.append("No queue yet: run sbs queue build (pairs for every prompt) so annotators can judge.",
                           style="italic")
        else:
            summary.append(f"{s['pairs']:,} pairs · {s['open']:,} open · {s['votes']:,} queue votes · "
                           f"{s['gold']:,} gold · {s['held_back']:,} held back\n")
            summary.append(f"gates: {s['gate_passed']:,} pairs passed, {s['gate_pending']:,} pending, "
                           f"{s['gate_blocked']:,} blocked"
                           + ("" if view.gating_required else " (gating not required)"))
        if view.flagged_votes:
            n = view.flagged_votes
            summary.append(f"\n{n:,} flagged vote{'s are' if n != 1 else ' is'} left out of rankings",
                           style="yellow")
        self.query_one("#queue-summary", Static).update(summary)

        rows = []
        for a in view.annotators:
            queue = a.remaining is not None
            rows.append([name(a.annotator), a.kind, count(a.votes),
                         count(a.done) if queue else DASH, count(a.skipped) if queue else DASH,
                         count(a.remaining) if a.remaining is not None else DASH,
                         count(a.cap) if a.cap is not None else DASH, fmt(a.pace) if a.pace else DASH,
                         _minutes(a.eta_min), _minutes(a.idle_min, suffix=" ago"),
                         count(a.flagged) if a.flagged else ""])
        fill(self.query_one("#queue-annotators", DataTable),
             ["Annotator", "Kind", "Votes", "Done", "Skipped", "Remaining", "Cap", "Pace /min", "ETA",
              "Last vote", "Flags"], rows, empty="no annotators or votes yet (sbs annotators add NAME)")

        flagged = view.flagged
        self.query_one("#queue-flagged-title", Static).update(
            f"Flagged pairs ({len(flagged):,})" if flagged else "Flagged pairs: none")
        fill(self.query_one("#queue-flagged", DataTable),
             ["Pair", "Annotator", "Reason", "Status", "Prompt", "Models"],
             [[str(f["pair_id"]), name(f["annotator"]), clipped(f["reason"], 40), f["status"],
               clipped(f["prompt"], 40), Text.assemble(name(f["model_a"]), " vs ", name(f["model_b"]))]
              for f in flagged])
        self.query_one("#queue-flagged", DataTable).display = bool(flagged)

        held = view.held_back
        total = s["held_back"]
        self.query_one("#queue-held-title", Static).update(
            (f"Held back (identity leaks): {total:,} pairs" + (f", first {len(held):,} listed" if total > len(held)
                                                                else "")) if total else
            "Held back (identity leaks): none")
        fill(self.query_one("#queue-held", DataTable), ["Pair", "Reason", "Models", "Prompt"],
             [[str(h["pair_id"]), clipped(h["reason"], 50),
               Text.assemble(name(h["model_a"]), " vs ", name(h["model_b"])), clipped(h["prompt"], 40)]
              for h in held])
        self.query_one("#queue-held", DataTable).display = bool(held)


def _minutes(value: float | None, suffix: str = "") -> str:
    if value is None:
        return DASH
    if value < 1:
        return f"<1 min{suffix}"
    if value < 90:
        return f"{value:.0f} min{suffix}"
    if value < 48 * 60:
        return f"{value / 60:.1f} h{suffix}"
    return f"{value / 1440:.0f} d{suffix}"


# ----------------------------------------------------------------------------------------------------------------
# Gates and funnel
# ----------------------------------------------------------------------------------------------------------------


class FunnelPane(ReviewPane):
    """Gate pass rates per model, the funnel's stages side by side, rank correlations, disagreements."""

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static("Gates — share of each model's generations that passed", classes="section")
        yield DataTable(id="funnel-gates", cursor_type="row", zebra_stripes=True)
        yield Static(id="funnel-unchecked")
        yield Static("Funnel — each stage's score and rank per model", classes="section")
        yield DataTable(id="funnel-stages", cursor_type="row", zebra_stripes=True)
        yield Static("Rank agreement between stages", classes="section")
        yield DataTable(id="funnel-corr", cursor_type="row", zebra_stripes=True)
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


# ----------------------------------------------------------------------------------------------------------------
# Votes
# ----------------------------------------------------------------------------------------------------------------


def winner_text(vote: dict[str, Any]) -> Text:
    """The winner as the model's name (tie and both-bad as words), literal."""
    winner = vote["winner"]
    if winner in ("model_a", "model_b"):
        text = name(vote[winner])
        weight = finite(vote.get("weight"))
        if weight is not None and weight < 1.0:
            text.append(f" ({weight:.2f})", style="dim")
        return text
    return Text(winner.replace("_", " "), style="italic")


class DetailPane(ReviewPane):
    """A pane whose table rows open in a modal: enter on a row of ``DETAIL_TABLE`` loads that row's record (its id
    is the first cell) in a worker — the prompt and answers can be megabytes — then shows ``detail_screen``."""

    DETAIL_TABLE = ""  # the id of the table whose rows open

    class DetailLoaded(Message):
        def __init__(self, detail: dict[str, Any] | None) -> None:
            super().__init__()
            self.detail = detail

    def detail_job(self, key: int) -> Callable[[], dict[str, Any] | None]:
        """The record behind row ``key``, loaded on the worker thread (None when it is gone)."""
        raise NotImplementedError

    def detail_screen(self, detail: dict[str, Any]) -> ModalScreen[Any]:
        raise NotImplementedError

    def detail_closed(self, result: Any) -> None:
        """What the modal's result changes (nothing by default)."""

    def focus_rows(self) -> None:
        """Focus the table whose rows open, so enter opens the row under the cursor from the moment the tab is
        shown (before, focus stayed on the tab bar and enter did nothing until the table was clicked)."""
        try:
            table = self.query_one(f"#{self.DETAIL_TABLE}", DataTable)
        except NoMatches:
            return
        if table.display and table.row_count and self.app.screen is self.screen:
            table.focus()

    def shown(self) -> None:
        if self.active and not isinstance(self.app.focused, DataTable):
            self.focus_rows()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != self.DETAIL_TABLE:
            return
        event.stop()
        self.open_detail(int(str(event.data_table.get_row_at(event.cursor_row)[0])))

    def open_detail(self, key: int) -> None:
        self._load_detail(self.detail_job(key))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-detail")
    def _load_detail(self, job: Callable[[], dict[str, Any] | None]) -> None:
        self.post_message(self.DetailLoaded(job()))

    def on_detail_pane_detail_loaded(self, message: DetailLoaded) -> None:
        message.stop()
        if message.detail is not None:
            self.app.push_screen(self.detail_screen(message.detail), self.detail_closed)


class VotesPane(DetailPane):
    """The latest votes, newest first; enter opens one with its prompt, both answers and the rationale."""

    LIMIT = 500
    DETAIL_TABLE = "votes-table"

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="votes-summary")
        yield DataTable(id="votes-table", cursor_type="row", zebra_stripes=True)

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, reviews.votes_view, self.LIMIT)

    def show(self, view: reviews.VotesView) -> None:
        votes = view.votes
        self.query_one("#votes-summary", Static).update(
            Text("No votes yet.", style="italic") if not votes else
            f"{view.total:,} votes; the latest {len(votes):,} below, newest first — enter opens one")
        rows = []
        for v in votes:
            left = DASH if v["shown_left"] is None else name(v[v["shown_left"]])
            rows.append([str(v["id"]), name((v["ts"] or "")[:16].replace("T", " ")), clipped(v["annotator"], 24),
                         winner_text(v), clipped(v["model_a"], 24), clipped(v["model_b"], 24), left,
                         Text("⚑", style="bold red") if v["flagged"] else "", clipped(v["rationale"], 30),
                         clipped(v["prompt"], 40)])
        table = self.query_one("#votes-table", DataTable)
        fill(table, ["Vote", "When", "Annotator", "Winner", "Model A", "Model B", "Shown left", "Flag",
                     "Rationale", "Prompt"], rows)
        table.display = bool(rows)

    def detail_job(self, key: int) -> Callable[[], dict[str, Any] | None]:
        return partial(on_db, self.db_path, reviews.vote_detail, key)

    def detail_screen(self, detail: dict[str, Any]) -> ModalScreen[Any]:
        return VoteDetail(detail)


class VoteDetail(ModalScreen[None]):
    """One vote in full: who, when, the verdict, the prompt and both answers — every text literal."""

    BINDINGS = [Binding("escape,q,enter", "dismiss", "Close", id="detail_close")]
    LIMIT = 20_000  # characters per text, as the judging screen cuts them

    def __init__(self, vote: dict[str, Any]) -> None:
        super().__init__()
        self.vote = vote

    def compose(self) -> ComposeResult:
        from sbs_tui.tui.render import literal_text

        v = self.vote
        head = Text.assemble(("vote ", "bold"), str(v["id"]), " · ", name(v["annotator"]), " · ",
                             name(v["ts"] or "no time"), "\n", ("winner: ", "bold"), winner_text(v))
        if v["shown_left"]:
            head.append_text(Text.assemble(" · shown left: ", name(v[v["shown_left"]])))
        if v["flagged"]:
            head.append_text(Text.assemble(("\nflagged: ", "bold red"), name(v["flag_reason"] or "")))
        if v["rationale"]:
            head.append_text(Text.assemble(("\nrationale: ", "bold"), literal_text(v["rationale"], limit=2000)))
        if v["criteria"]:
            head.append_text(Text.assemble(("\ncriteria: ", "bold"), name(", ".join(
                f"{k}: {val}" for k, val in v["criteria"].items()))))
        with VerticalScroll(classes="dialog", id="vote-detail"):
            yield Static(head)
            yield Static(Text("Prompt", style="bold"), classes="section")
            yield Static(literal_text(v["prompt"] or "", limit=self.LIMIT))
            for side in ("a", "b"):
                yield Static(Text.assemble((f"Model {side.upper()}: ", "bold"), name(v[f"model_{side}"])),
                             classes="section")
                output = v[f"output_{side}"]
                yield Static(literal_text(output, limit=self.LIMIT) if output is not None
                             else Text("(answer not stored)", style="italic"))
            yield Static("escape closes", classes="dialog-hint")
