"""The review app's "Blocked" tab: every generation a gate blocked or held, read literally, and overruled.

Why its own tab: a blocking gate removes a generation from the funnel and lowers its model's pass rate, so a
lead must be able to read each block — the model's text exactly as written (hostile text stays literal), the
window the gate objected to highlighted — and overrule it (pass or block) with a reason, stored with who and
when. ``sbs gate`` applies the lead's decision from then on (until the output is replaced).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from functools import partial
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Input, Static

from sbs_tui.core.views import on_db
from sbs_tui.core.views import review as reviews
from sbs_tui.tui.review.pane import DetailPane
from sbs_tui.tui.review.table import SizedTable, DASH, Grid, clipped, fill, grid, name, put

HIGHLIGHT = "bold black on yellow"
STATUS_STYLE = {"blocked": "bold red", "held": "bold yellow", "passed": "green"}


def highlighted(text: str, spans: list[tuple[int, int, str]], *, limit: int = 20_000) -> Text:
    """``text`` shown literally (control, bidi and zero-width characters as visible stand-ins, never markup),
    with the ``spans`` a gate objected to highlighted; cut at ``limit`` characters."""
    from sbs_tui.tui.render import MARKER_STYLE, neutralise

    head = text[:limit]
    out = Text(end="", no_wrap=False)
    pos = 0
    marks = [(s, min(e, len(head))) for s, e, _gate in spans if s < len(head)]
    for start, end in [*marks, (len(head), len(head))]:  # the last one flushes the tail
        start = max(start, pos)
        for piece, style in ((head[pos:start], None), (head[start:end], HIGHLIGHT)):
            if not piece:
                continue
            plain, markers = neutralise(piece)
            offset = len(out.plain)
            out.append(plain, style=style)
            for a, b in markers:
                out.stylize(MARKER_STYLE, offset + a, offset + b)
        pos = max(pos, end)
    if len(text) > limit:
        out.append(f"\n… {len(text) - limit:,} more characters not shown", style="italic")
    return out


def status_text(row: dict[str, Any]) -> Text:
    status = row["status"]
    label = f"held ({row.get('hold') or 'uncovered'})" if status == "held" else status
    if row.get("override"):
        label += f" · overridden by {row['decided_by']}"
    return Text(label, style=STATUS_STYLE.get(status, ""))


class BlockedPane(DetailPane):
    """Blocked and held generations per model and gate; enter opens one, where p passes and x blocks it."""

    LIMIT = 2000
    DETAIL_TABLE = "blocked-table"

    def compose(self) -> ComposeResult:
        yield Static(classes="pane-status")
        yield Static(id="blocked-unchecked")
        yield Static(id="blocked-summary")
        yield SizedTable(id="blocked-per-model", cursor_type="row", zebra_stripes=True)
        yield SizedTable(id="blocked-table", cursor_type="row", zebra_stripes=True)

    def job(self):
        return partial(on_db, self.db_path, reviews.blocked_view, self.LIMIT)

    def show(self, view: dict[str, Any]) -> None:
        rows = view["rows"]
        c = view["counts"]
        # What no gate checked comes first: "passed" says nothing about the categories nobody looked at.
        unchecked = self.query_one("#blocked-unchecked", Static)
        unchecked.update(Text("\n".join(view.get("unchecked_sentences", [])), style="bold yellow"))
        unchecked.display = bool(view.get("unchecked_sentences"))
        self.query_one("#blocked-summary", Static).update(
            Text("Nothing blocked or held.", style="italic") if not rows else Text.assemble(
                f"{c['blocked']:,} blocked, {c['held']:,} held for review (a language no blocking gate reads, or "
                f"unchecked safety categories under [policy] unchecked = \"hold\"), "
                f"{c['overridden']:,} overridden — enter opens one; there ", ("p", "bold"), " passes, ",
                ("x", "bold"), " blocks (with a reason)"))
        fill(self.query_one("#blocked-per-model", DataTable),
             ["Model", "Gate", "Blocked", "Held", "Overridden"],
             [[name(r["model"]), name(r["gate"]), str(r["blocked"]), str(r["held"]), str(r["overridden"])]
              for r in view["per_model"]], empty="no blocked or held generations")
        table = self.query_one("#blocked-table", DataTable)
        cells = self.prepared if self.prepared is not None else self.prepare(view)
        put(table, cells)
        table.display = bool(cells.rows)

    def prepare(self, view: dict[str, Any]) -> Grid:
        """Up to ``LIMIT`` rows of literal text, built on the worker thread."""
        rows = [[str(r["generation_id"]), clipped(r["model"], 24), status_text(r), name(", ".join(r["failing"]) or DASH),
                 name(r["language"] or DASH), clipped(r["reason"], 30) if r.get("reason") else DASH,
                 clipped(r["prompt"], 50)] for r in view["rows"]]
        return grid(["Generation", "Model", "Status", "Failing gates", "Language", "Override reason", "Prompt"], rows)

    def detail_job(self, key: int) -> Callable[[], dict[str, Any] | None]:
        return partial(on_db, self.db_path, reviews.blocked_detail, key)

    def detail_screen(self, detail: dict[str, Any]) -> ModalScreen[Any]:
        return GateDetail(self.db_path, detail)

    def detail_closed(self, changed: Any) -> None:
        if changed:  # an override was saved: the counts and the row's status changed
            self.recompute()


class GateDetail(ModalScreen[bool]):
    """One blocked or held generation: gates, scores, the prompt and the answer with the offending window
    highlighted; p / x override it (a reason is asked for)."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="gate-detail.close"),
                Binding("p", "override('passed')", "Pass", id="gate-detail.pass"),
                Binding("x", "override('blocked')", "Block", id="gate-detail.block")]

    class Saved(Message):
        def __init__(self, ok: bool, error: str | None = None, line: str | None = None) -> None:
            super().__init__()
            self.ok, self.error, self.line = ok, error, line

    def __init__(self, db_path: str, detail: dict[str, Any]) -> None:
        super().__init__()
        self.db_path = db_path
        self.detail = detail

    def compose(self) -> ComposeResult:
        from sbs_tui.tui.render import literal_text

        d = self.detail
        head = Text.assemble(("generation ", "bold"), str(d["generation_id"]), " · ", name(d["model"]), " · ",
                             status_text(d), " · language ", name(d["language"] or DASH))
        for gate, r in d["results"].items():
            score = DASH if r["score"] is None else f"{r['score']:.4g}"
            label = name(gate)
            label.stylize("bold")
            head.append_text(Text.assemble("\n", label, f": score {score}",
                                           (" — failed", "red") if r["failed"] else ""))
        if d.get("unchecked"):
            head.append_text(Text.assemble(("\nnot checked: ", "bold yellow"),
                                           name(d["unchecked"].replace(",", ", "))))
        if d.get("override"):
            head.append_text(Text.assemble(("\noverride: ", "bold"), d["override"], " by ", name(d["decided_by"]),
                                           " at ", name(d["decided_at"]), " — ", name(d["reason"] or "")))
        with VerticalScroll(classes="dialog", id="gate-detail"):
            yield Static(head)
            yield Static(Text("Prompt", style="bold"), classes="section")
            yield Static(literal_text(d["prompt"] or "", limit=5000))
            yield Static(Text("Answer (highlighted: what the failing gates objected to)", style="bold"),
                         classes="section")
            yield Static(highlighted(d["output"], [tuple(s) for s in d["spans"]]), id="gate-detail-output")
            yield Static(id="gate-detail-status")
            yield Static("p passes · x blocks · escape closes", classes="dialog-hint")

    def action_close(self) -> None:
        self.dismiss(False)

    def action_override(self, decision: str) -> None:
        def done(reason: str | None) -> None:
            if reason:
                self._save(decision, reason)

        self.app.push_screen(OverrideDialog(decision), done)

    @work(thread=True, exclusive=True, exit_on_error=False, group="gate-override")
    def _save(self, decision: str, reason: str) -> None:
        try:
            line = on_db(self.db_path, reviews.save_override, self.detail["generation_id"], decision, reason,
                         os.environ.get("SBS_USER") or os.environ.get("USER") or "lead",
                         self.app.settings.queue if hasattr(self.app, "settings") else None)
        except Exception as exc:  # shown in the dialog; the app keeps running
            self.post_message(self.Saved(False, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Saved(True, line=line))

    def on_gate_detail_saved(self, message: Saved) -> None:
        if message.ok:
            if message.line:  # what the override did, in one line ("… 4 new pairs for annotators")
                self.app.notify(message.line, markup=False, timeout=8)
            self.dismiss(True)
        else:
            self.query_one("#gate-detail-status", Static).update(Text(message.error or "failed", style="red"))


class OverrideDialog(ModalScreen[str | None]):
    """Ask for the reason of an override (required); enter saves, escape cancels."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="override.cancel")]

    def __init__(self, decision: str) -> None:
        super().__init__()
        self.decision = decision

    def compose(self) -> ComposeResult:
        verb = "Pass" if self.decision == "passed" else "Block"
        with VerticalScroll(classes="dialog", id="override-dialog"):
            yield Static(Text(f"{verb} this generation — why?", style="bold"))
            yield Input(placeholder="reason (required)", id="override-reason")
            yield Static("enter saves · escape cancels", classes="dialog-hint")

    def on_mount(self) -> None:
        self.query_one("#override-reason", Input).focus()

    @on(Input.Submitted, "#override-reason")
    def _submit(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)
