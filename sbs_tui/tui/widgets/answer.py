"""One answer of the pair: a scrollable pane whose border shows its side, its key and its length.

The pane never sees a model name — it is handed a renderable and a label. Scrolling by the reader is reported up
as a message (``AnswerPane.Scrolled``) so the screen can mirror it on the other side when synchronised scrolling
is on. Drawing is ``TextPane``'s: rendered once per answer, no layout beyond the pane itself.
"""

from __future__ import annotations

from rich.console import RenderableType
from rich.style import Style
from textual.message import Message
from textual.strip import Strip

from sbs_tui.tui.widgets.lines import TextPane


class AnswerPane(TextPane):
    DEFAULT_CSS = """
    AnswerPane { border: round $secondary; padding: 0 1; }
    AnswerPane:focus { border: heavy $accent; }
    """

    class Scrolled(Message):
        """The pane was scrolled by the user; ``fraction`` is how far down it is (0..1)."""

        def __init__(self, pane: AnswerPane, fraction: float) -> None:
            super().__init__()
            self.pane = pane
            self.fraction = fraction

    def __init__(self, side_label: str, *, id: str | None = None) -> None:
        super().__init__(side_label, id=id)
        self.side_label = side_label
        self.length_note = ""

    def show_answer(self, renderable: RenderableType, length_note: str, *, lines: list[Strip] | None = None,
                    key: tuple[int, Style] | None = None) -> None:
        self.length_note = length_note
        self.show(renderable, lines=lines, key=key)

    def position_changed(self) -> None:
        note = self.scroll_note()
        subtitle = f"{self.length_note} · {note}" if note else self.length_note
        if subtitle != (self.border_subtitle or ""):
            self.border_subtitle = subtitle

    def mirror_to(self, fraction: float) -> None:
        """Scroll to the same relative position as the other pane without echoing a Scrolled message back.
        Whole lines: at the end (fraction 1.0) this pane is at its own end too."""
        self.scroll_silently(float(round(fraction * self.max_scroll_y)))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)  # also updates the border's position note
        if not self._programmatic_scroll and old != new:
            fraction = new / self.max_scroll_y if self.max_scroll_y else 0.0
            self.post_message(self.Scrolled(self, fraction))
