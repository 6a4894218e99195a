"""The review app's queue tab: per annotator done / remaining / pace, flagged pairs, pairs held back for identity
leaks — a :class:`~sbs_tui.core.views.queue.QueueView`, the one ``sbs queue status`` prints."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from sbs_tui.core.settings import ArenaSettings
from sbs_tui.core.views import read_on_db
from sbs_tui.core.views.queue import QueueView, queue_view
from sbs_tui.present.arena import budget_lines
from sbs_tui.present.numbers import DASH, count
from sbs_tui.present.numbers import fixed as fmt
from sbs_tui.tui.review.pane import ReviewPane
from sbs_tui.tui.review.table import SizedTable, Grid, clipped, fill, grid, name, put


class QueuePane(ReviewPane):
    """Per annotator done / remaining / pace, pairs held back for identity leaks, flagged pairs."""

    def __init__(self, db_path: str, *, gating_required: bool = True, arena: ArenaSettings | None = None,
                 **kwargs: Any) -> None:
        super().__init__(db_path, **kwargs)
        self.gating_required = gating_required
        self.arena = arena  # [arena]: the live arena's budget is shown when the campaign has one

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="queue-summary")
        yield Static("Live arena (sbs arena status)", id="queue-arena-title", classes="section")
        yield Static(id="queue-arena")
        yield Static("Annotators", classes="section")
        yield SizedTable(id="queue-annotators", cursor_type="row", zebra_stripes=True)
        yield Static(id="queue-flagged-title", classes="section")
        yield SizedTable(id="queue-flagged", cursor_type="row", zebra_stripes=True)
        yield Static(id="queue-held-title", classes="section")
        yield SizedTable(id="queue-held", cursor_type="row", zebra_stripes=True)

    def job(self) -> Callable[[], Any]:
        # read only, every vote's index entry once: a bounded page cache (its memory grew with the votes)
        return partial(read_on_db, self.db_path, queue_view, gating_required=self.gating_required,
                       arena=self.arena)

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
        self._show_arena(view)

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
        cells = self.prepared if self.prepared is not None else self.prepare(view)
        put(self.query_one("#queue-flagged", DataTable), cells["flagged"])
        self.query_one("#queue-flagged", DataTable).display = bool(flagged)

        held = view.held_back
        total = s["held_back"]
        self.query_one("#queue-held-title", Static).update(
            (f"Held back (identity leaks): {total:,} pairs" + (f", first {len(held):,} listed" if total > len(held)
                                                                else "")) if total else
            "Held back (identity leaks): none")
        put(self.query_one("#queue-held", DataTable), cells["held"])
        self.query_one("#queue-held", DataTable).display = bool(held)

    def prepare(self, view: QueueView) -> dict[str, Grid]:
        """The flagged and held-back lists (hundreds of rows of literal text), built on the worker thread."""
        return {"flagged": grid(["Pair", "Annotator", "Reason", "Status", "Prompt", "Models"],
                                [[str(f["pair_id"]), name(f["annotator"]), clipped(f["reason"], 40), f["status"],
                                  clipped(f["prompt"], 40), Text.assemble(name(f["model_a"]), " vs ",
                                                                          name(f["model_b"]))]
                                 for f in view.flagged]),
                "held": grid(["Pair", "Reason", "Models", "Prompt"],
                             [[str(h["pair_id"]), clipped(h["reason"], 50),
                               Text.assemble(name(h["model_a"]), " vs ", name(h["model_b"])), clipped(h["prompt"], 40)]
                              for h in view.held_back])}


    def _show_arena(self, view: QueueView) -> None:
        """The arena budget's lines, those of ``sbs arena status`` (yellow once it is spent); hidden without an
        arena in the campaign."""
        budget = view.arena
        for widget_id in ("#queue-arena-title", "#queue-arena"):
            self.query_one(widget_id).display = budget is not None
        if budget is not None:
            self.query_one("#queue-arena", Static).update(
                Text("\n".join(budget_lines(budget.as_json())), style="bold yellow" if budget.exhausted else ""))


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
