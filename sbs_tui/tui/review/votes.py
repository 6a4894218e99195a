"""The review app's votes tab: the latest votes, newest first; enter opens one in full (prompt, both answers,
rationale), every text literal."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from sbs_tui.core.views import on_db
from sbs_tui.core.views import review as reviews
from sbs_tui.present.numbers import DASH, finite
from sbs_tui.tui.review.pane import DetailPane
from sbs_tui.tui.review.table import SizedTable, Grid, clipped, grid, name, put


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



class VotesPane(DetailPane):
    """The latest votes, newest first; enter opens one with its prompt, both answers and the rationale."""

    LIMIT = 500
    DETAIL_TABLE = "votes-table"

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="votes-summary")
        yield SizedTable(id="votes-table", cursor_type="row", zebra_stripes=True)

    def job(self) -> Callable[[], Any]:
        return partial(on_db, self.db_path, reviews.votes_view, self.LIMIT)

    def show(self, view: reviews.VotesView) -> None:
        votes = view.votes
        self.query_one("#votes-summary", Static).update(
            Text("No votes yet.", style="italic") if not votes else
            f"{view.total:,} votes; the latest {len(votes):,} below, newest first — enter opens one")
        table = self.query_one("#votes-table", DataTable)
        cells = self.prepared if self.prepared is not None else self.prepare(view)
        put(table, cells)
        table.display = bool(cells.rows)

    def prepare(self, view: reviews.VotesView) -> Grid:
        """The table's 500 rows of literal text, built on the worker thread."""
        rows = []
        for v in view.votes:
            left = DASH if v["shown_left"] is None else name(v[v["shown_left"]])
            rows.append([str(v["id"]), name((v["ts"] or "")[:16].replace("T", " ")), clipped(v["annotator"], 24),
                         winner_text(v), clipped(v["model_a"], 24), clipped(v["model_b"], 24), left,
                         Text("⚑", style="bold red") if v["flagged"] else "", clipped(v["rationale"], 30),
                         clipped(v["prompt"], 40)])
        return grid(["Vote", "When", "Annotator", "Winner", "Model A", "Model B", "Shown left", "Flag",
                     "Rationale", "Prompt"], rows)

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
