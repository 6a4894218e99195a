"""The prompt of the pair, in a box as tall as the prompt, up to a third of the screen.

Fitted, because a fixed box hid long instructions ("lines 1–3 of 8") while the answers below had rows to spare.
Capped, because the answers are what is judged: a prompt longer than a third of the screen scrolls inside its box
(Tab to it, then the arrow keys, or the wheel) and its border says which lines are shown. The height comes from
the stylesheet (``height: auto`` on a line-API pane is its line count): a new prompt of another height costs one
layout pass, and the answers below only change height, never width, so they are not rendered again.
"""

from __future__ import annotations

from sbs_tui.tui.widgets.lines import TextPane

PROMPT_SHARE = 3  # the box, border included, takes at most 1/PROMPT_SHARE of the screen's rows
BORDER_ROWS = 2


class PromptPane(TextPane):
    DEFAULT_CSS = """
    PromptPane { height: auto; min-height: 3; border: round $primary; padding: 0 1; }
    PromptPane:focus { border: heavy $accent; }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__("Prompt", id=id)

    def fit_screen(self, screen_rows: int) -> None:
        """Cap the box at a share of a screen ``screen_rows`` tall (in cells: a percentage would be of the grid
        row the box sits in, whose height is the box's own)."""
        cap = max(BORDER_ROWS + 1, screen_rows // PROMPT_SHARE)
        if self.styles.max_height is None or self.styles.max_height.value != cap:
            self.styles.max_height = cap

    def position_changed(self) -> None:
        note = self.scroll_note()
        if note and self.top_line == 0 and not self.has_focus:
            note += " (tab here to scroll)"
        if note != (self.border_subtitle or ""):
            self.border_subtitle = note
