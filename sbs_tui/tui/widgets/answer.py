"""One answer of the pair: a scrollable pane whose border shows its side, its key and its length.

The pane never sees a model name — it is handed text and a label. Scrolling is reported up as a message
(``AnswerPane.Scrolled``) so the screen can mirror it on the other side when synchronised scrolling is on.
"""

from __future__ import annotations

from rich.console import RenderableType
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static


class AnswerPane(VerticalScroll, can_focus=True):
    DEFAULT_CSS = """
    /* A stable gutter: the scrollbar appearing for a long answer must not re-wrap the text (a second layout). */
    AnswerPane { border: round $secondary; padding: 0 1; scrollbar-gutter: stable; }
    AnswerPane:focus { border: round $accent; }
    AnswerPane > Static { width: 100%; }
    """

    class Scrolled(Message):
        """The pane was scrolled by the user; ``fraction`` is how far down it is (0..1)."""

        def __init__(self, pane: AnswerPane, fraction: float) -> None:
            super().__init__()
            self.pane = pane
            self.fraction = fraction

    def __init__(self, side_label: str, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.side_label = side_label
        self._mirroring = False
        self.border_title = side_label
        self.renderable: RenderableType = ""

    def compose(self):
        yield Static("", classes="answer-body", markup=False)

    @property
    def body(self) -> Static:
        return self.query_one(".answer-body", Static)

    def show(self, renderable: RenderableType, length_note: str) -> None:
        self.border_title = self.side_label
        self.border_subtitle = length_note
        self.renderable = renderable
        self.body.update(renderable)
        if self.scroll_y:
            # A programmatic jump to the top is not a user scroll: don't echo it to the other pane.
            self._mirroring = True
            self.scroll_home(animate=False, immediate=True)
            self._mirroring = False

    def mirror_to(self, fraction: float) -> None:
        """Scroll to the same relative position as the other pane without echoing a Scrolled message back."""
        self._mirroring = True
        self.scroll_to(y=fraction * self.max_scroll_y, animate=False, immediate=True)
        self._mirroring = False

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        if not self._mirroring and old != new:
            fraction = new / self.max_scroll_y if self.max_scroll_y else 0.0
            self.post_message(self.Scrolled(self, fraction))
