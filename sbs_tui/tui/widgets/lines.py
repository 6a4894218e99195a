"""A scrollable pane of literal, pre-rendered lines whose own size never depends on what it shows.

Why a line-API ``ScrollView`` and not a ``Static`` in a ``VerticalScroll``: a new pair every keypress must cost one
layout pass at most. A ``Static`` whose height follows its text makes Textual re-lay out its container (the
container's virtual size changed) one frame after the first layout, and renders the text twice (once to measure
its height, once to draw it). A ``TextPane`` is sized by the stylesheet alone (a fixed height or ``1fr``); its
content is rendered to lines once, at the pane's width, and drawing is handing those lines over. A new text
changes only the virtual height, which moves no other widget.

No scrollbar widgets: redrawing two 40-row scrollbars (their thumbs change with every pair) cost as much as drawing
both answers (measured: ~6 ms of the ~11 ms a frame took). Where the reader is shows in the border instead
(``scroll_note``: "lines 1–42 of 120 ↓"); the wheel, the arrow and page keys scroll as usual.

Focus is shown without relying on colour: the focused pane's border turns heavy (┏━┓ instead of ╭─╮) and its title
gets a ``▶`` marker, so it reads the same on a monochrome terminal or to a colour-blind annotator.
"""

from __future__ import annotations

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.style import Style
from textual.geometry import Region, Size
from textual.scroll_view import ScrollView
from textual.strip import Strip


def render_strips(console: Console, options: ConsoleOptions, renderable: RenderableType, width: int,
                  style: Style) -> list[Strip]:
    """``renderable`` wrapped at ``width`` cells, on the pane's ``style``, each line padded to ``width``: strips
    ready to draw as they are. Rich only, and the console is only read, so it may run off the UI thread (to render
    the next pair ahead of time)."""
    segments = console.render(renderable, options.update(width=width, height=None, highlight=False))
    lines = Segment.split_and_crop_lines(Segment.apply_style(segments, style), width, style, pad=True,
                                         include_new_lines=False)
    return [Strip(line, width) for line in lines]


FOCUS_MARKER = "▶ "  # before the focused pane's title (the heavy border is the other, colour-free cue)

# How the keys move a pane, as a function of (current top line, lines shown, last possible top line).
_SCROLL_STEPS = {
    "up": lambda y, page, end: y - 1,
    "down": lambda y, page, end: y + 1,
    "page_up": lambda y, page, end: y - page,
    "page_down": lambda y, page, end: y + page,
    "home": lambda y, page, end: 0,
    "end": lambda y, page, end: end,
}
SCROLL_STEPS = tuple(_SCROLL_STEPS)


class TextPane(ScrollView, can_focus=True):
    DEFAULT_CSS = """
    TextPane { overflow-x: hidden; overflow-y: hidden; }
    """

    def __init__(self, title: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.title = title
        self.border_title = title
        self.renderable: RenderableType = ""
        self._lines: list[Strip] = []
        self._lines_width = -1  # the width _lines were rendered at (-1: not rendered yet)
        self._lines_style = Style()  # the style they were rendered on
        self._rendered_width = -1  # the width of the last rendering (unlike _lines_width, kept when not laid out)
        self._blank = Strip.blank(0)
        self._programmatic_scroll = False

    @property
    def text_width(self) -> int:
        """Cells available to the text (inside border, padding and scrollbar); 0 before the first layout."""
        return self.scrollable_content_region.width

    @property
    def line_count(self) -> int:
        return len(self._lines)

    @property
    def allow_vertical_scroll(self) -> bool:
        # Scrollable whenever the text is taller than the pane, although no scrollbar is drawn.
        return not self._check_disabled() and self.max_scroll_y > 0

    @property
    def top_line(self) -> int:
        """The first line shown. Rounded as Textual rounds its own scroll offset: an eased or mirrored scroll can
        stop at 168.9999, and cutting that down to 168 would leave the pane one line short of its end."""
        return self.scroll_offset.y

    def scroll_note(self) -> str:
        """Where the reader is, for the border: "lines 1–42 of 120 ↓" ("" when the whole text fits)."""
        height = self.scrollable_content_region.height
        total = len(self._lines)
        if height <= 0 or total <= height:
            return ""
        top = max(0, min(self.top_line, total - height))
        bottom = top + height
        return f"lines {top + 1:,}–{bottom:,} of {total:,}" + (" ↓" if bottom < total else "")

    def position_changed(self) -> None:
        """Hook: new text, scrolled or resized (to update the border's ``scroll_note``)."""

    def _draw_title(self) -> None:
        title = f"{FOCUS_MARKER}{self.title}" if self.has_focus else self.title
        if title != self.border_title:
            self.border_title = title

    def set_title(self, title: str) -> None:
        self.title = title
        self._draw_title()

    def watch_has_focus(self, has_focus: bool) -> None:
        # Not on_focus/on_blur: those run before Widget's own handler has set ``has_focus``.
        super().watch_has_focus(has_focus)
        self._draw_title()
        self.position_changed()

    def scroll_step(self, how: str) -> None:
        """Scroll by a key's step (one of ``SCROLL_STEPS``) at once, as the screen does for a key pressed while no
        pane has focus. Not reported as the reader's own scroll: the screen moves both answers itself."""
        page = max(1, self.scrollable_content_region.height)
        target = _SCROLL_STEPS[how](self.top_line, page, self.max_scroll_y)
        self.scroll_silently(float(max(0, min(target, self.max_scroll_y))))

    def watch_scroll_y(self, old: float, new: float) -> None:
        super().watch_scroll_y(old, new)
        self.position_changed()

    def show(self, renderable: RenderableType, *, lines: list[Strip] | None = None,
             key: tuple[int, Style] | None = None) -> None:
        """Show ``renderable`` from the top. ``lines`` rendered ahead of time (``key``: the width and style they
        were rendered at, see ``render_key``) are used when the pane still has that width and style; otherwise it
        is rendered here."""
        self.renderable = renderable
        if lines is not None and key == self.render_key:
            self._set_lines(lines, *key)
        else:
            self._rewrap()
        if self.scroll_y:
            self.scroll_silently(0.0)
        self.refresh()

    def scroll_silently(self, y: float) -> None:
        """Scroll without it counting as the reader's scroll (see ``AnswerPane``)."""
        self._programmatic_scroll = True
        try:
            self.scroll_to(y=y, animate=False, immediate=True)
        finally:
            self._programmatic_scroll = False

    @property
    def render_key(self) -> tuple[int, Style]:
        """What rendered lines depend on besides the text: the width and the pane's style."""
        return self.text_width, self.rich_style

    def _rewrap(self) -> None:
        width, style = self.render_key
        if width <= 0:  # not laid out yet: rendered on the first resize
            self._lines, self._lines_width = [], -1
            return
        # The same text rewrapped at a new width (a resize): line 120 of the old wrapping is not where the reader
        # was, so keep the same share of the text above the pane. (A new text is shown from the top by ``show``.)
        before, top = len(self._lines), self.top_line
        lines = render_strips(self.app.console, self.app.console_options, self.renderable, width, style)
        self._set_lines(lines, width, style)
        if top and before and width != self._rendered_width:
            self.scroll_silently(float(round(top / before * len(lines))))
        self._rendered_width = width

    def _set_lines(self, lines: list[Strip], width: int, style: Style) -> None:
        self._lines, self._lines_width, self._lines_style = lines, width, style
        size = Size(width, len(lines))
        if size != self.virtual_size:
            self.virtual_size = size  # a layout pass, but nothing outside this pane moves (see the module doc)
        self.position_changed()

    def on_resize(self) -> None:
        if self.render_key != (self._lines_width, self._lines_style):
            self._rewrap()
            self.refresh()
        # Taller or shorter with the same width: no new lines, but "lines 1–7 of 200" must follow the new height.
        self.position_changed()

    def render_lines(self, crop: Region) -> list[Strip]:
        # Checked once per frame, not per line (computing the style is the costly part of drawing a line here).
        width, style = self.render_key
        if (width, style) != (self._lines_width, self._lines_style):
            self._rewrap()  # the style changed (theme) or the width did before the resize event came
        self._blank = Strip.blank(max(width, 0), style)
        return super().render_lines(crop)

    def render_line(self, y: int) -> Strip:
        index = y + self.top_line
        return self._lines[index] if index < len(self._lines) else self._blank
