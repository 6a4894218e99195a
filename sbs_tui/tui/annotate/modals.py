"""Small modal screens of the annotator app: a one-line text prompt (flag reason, rationale), per-criterion
ratings, and the key help. Each returns its result through ``dismiss`` — no database access here."""

from __future__ import annotations

from collections.abc import Sequence

from rich.table import Table
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from sbs_tui.present.text import literal


class TextPrompt(ModalScreen[str | None]):
    """Ask for one line of text; Enter accepts, Escape cancels (returns None)."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt_cancel")]

    def __init__(self, title: str, *, placeholder: str = "", value: str = "", prompt_id: str = "text-prompt"):
        super().__init__(id=prompt_id)
        self.title_text = title
        self.placeholder = placeholder
        self.value = value

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(Text(self.title_text), classes="dialog-title")
            yield Input(value=self.value, placeholder=self.placeholder, id="prompt-input")
            yield Label("Enter to save · Escape to cancel", classes="dialog-hint")

    @on(Input.Submitted)
    def accept(self, event: Input.Submitted) -> None:
        self.dismiss(event.value.strip())

    def action_cancel(self) -> None:
        self.dismiss(None)


class CriteriaPrompt(ModalScreen[dict[str, str] | None]):
    """Judge each configured criterion with the vote keys: 1 left, 2 right, 3 tie, 4 both bad (blank = not
    rated). Tab moves on, Enter saves. Returns {criterion: "1".."4"}; the screen maps them to model_a/model_b.

    One row per criterion (its name beside its field), in a dialog that scrolls: at 80×24 five criteria stacked
    as label-over-field no longer fitted, and the ones below the edge could be tabbed to but not seen. The dialog
    itself takes no focus, so the first key typed goes to the first criterion, and Tab keeps the field in view."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="criteria_cancel")]

    def __init__(self, criteria: Sequence[str], current: dict[str, str]):
        super().__init__(id="criteria-prompt")
        self.criteria = list(criteria)
        self.current = dict(current)

    def compose(self) -> ComposeResult:
        with VerticalScroll(classes="dialog criteria-dialog", can_focus=False):
            yield Label("Per criterion: 1 left better · 2 right better · 3 tie · 4 both bad",
                        classes="dialog-title")
            for i, name in enumerate(self.criteria):
                with Horizontal(classes="criterion"):
                    yield Label(literal(name), classes="criterion-name")
                    yield Input(value=str(self.current.get(name, "")), restrict=r"[1-4]?", max_length=1,
                                placeholder="1-4", id=f"criterion-{i}", classes="criterion-input")
            yield Label("Tab: next · Enter: save · Escape: cancel", classes="dialog-hint")

    @on(Input.Changed)
    def next_field(self, event: Input.Changed) -> None:
        """A digit typed into a criterion moves on to the next one (each field takes one digit)."""
        last = f"criterion-{len(self.criteria) - 1}"
        if event.value and event.input.has_focus and event.input.id != last:
            self.focus_next()

    @on(Input.Submitted)
    def accept(self, _event: Input.Submitted) -> None:
        ratings: dict[str, str] = {}
        for i, name in enumerate(self.criteria):
            value = self.query_one(f"#criterion-{i}", Input).value.strip()
            if value:
                ratings[name] = value
        self.dismiss(ratings)

    def action_cancel(self) -> None:
        self.dismiss(None)


class HelpScreen(ModalScreen[None]):
    """What every key does, with the keys in effect (after any remapping from the config), and what happens to
    the names and votes (``note``, written by the judging screen from the settings in force).

    One line per key at 80 columns (no header, no title row: the title is on the border); a terminal too short
    for all of it scrolls the dialog, which has focus, so the arrow keys work at once — the border says so."""

    BINDINGS = [Binding("escape,q,question_mark", "dismiss_help", "Close", id="help_close")]

    def __init__(self, rows: Sequence[tuple[str, str, str]], note: str = ""):
        super().__init__(id="help")
        self.rows = rows
        self.note = note

    def compose(self) -> ComposeResult:
        table = Table(expand=True, show_edge=False, show_header=False, box=None)
        table.add_column("key", style="bold", no_wrap=True)
        table.add_column("action", no_wrap=True)
        table.add_column("notes", style="dim", ratio=1)
        for key, description, note in self.rows:
            table.add_row(Text(key), Text(description), Text(note))
        with VerticalScroll(classes="dialog help-dialog", id="help-body") as body:
            body.border_title = "Keys"
            body.border_subtitle = "esc closes"
            yield Static(table)
            if self.note:
                yield Static(Text(self.note), classes="dialog-hint")

    def on_mount(self) -> None:
        self.call_after_refresh(self._show_scroll_hint)

    def on_resize(self) -> None:
        self.call_after_refresh(self._show_scroll_hint)

    def _show_scroll_hint(self) -> None:
        body = self.query_one("#help-body", VerticalScroll)
        hint = "↑↓ more · esc closes" if body.max_scroll_y > 0 else "esc closes"
        if body.border_subtitle != hint:
            body.border_subtitle = hint

    def action_dismiss_help(self) -> None:
        self.dismiss(None)
