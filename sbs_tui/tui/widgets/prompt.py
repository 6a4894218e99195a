"""The prompt of the pair, in a box of fixed height above the answers.

Fixed, not fitted to the prompt: a box that grew and shrank with every prompt would move both answer panes on
every keypress (a second layout pass, and the answers jumping under the annotator's eyes). A prompt longer than
the box scrolls (tab to it, then the arrow keys, or the wheel) and its border says which lines are shown.
"""

from __future__ import annotations

from sbs_tui.tui.widgets.lines import TextPane


class PromptPane(TextPane):
    DEFAULT_CSS = """
    PromptPane { height: 5; border: round $primary; padding: 0 1; }
    PromptPane.short { height: 4; }
    PromptPane:focus { border: round $accent; }
    """

    def on_mount(self) -> None:
        super().on_mount()
        self.border_title = "Prompt"

    def position_changed(self) -> None:
        note = self.scroll_note()
        if note and self.scroll_y == 0:
            note += " (tab here to scroll)"
        if note != (self.border_subtitle or ""):
            self.border_subtitle = note
