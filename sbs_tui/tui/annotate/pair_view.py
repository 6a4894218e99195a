"""What the judging screen shows: the prompt on top, the two answers side by side (stacked when narrow), the status
line and a footer fitted to the width, and the keys that change how the answers read (markdown, diff, sync, more).

Blinding: this layer never draws a model name; it holds the pair (the names go into the vote) and draws its prompt
and answers only. What the voting keys do is :class:`~sbs_tui.tui.annotate.judge.JudgeScreen`'s; how a write
waits for the database is :class:`~sbs_tui.tui.annotate.saving.SavingScreen`'s.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding
from textual.containers import Container
from textual.widgets import Footer, Static

from sbs_tui.present.text import escape  # names are user data: the one literal rule
from sbs_tui.tui import render
from sbs_tui.tui.annotate import saving
from sbs_tui.tui.annotate.judge_keys import footer_fit
from sbs_tui.tui.annotate.saving import SavingScreen
from sbs_tui.tui.widgets.answer import AnswerPane
from sbs_tui.tui.widgets.lines import SCROLL_STEPS
from sbs_tui.tui.widgets.prompt import PromptPane

if TYPE_CHECKING:
    from sbs_tui.core.queue.annotator import AnnotatorQueue, Pair
    from sbs_tui.core.settings import AnnotateSettings

NARROW_WIDTH = 100  # below this many columns the answers are stacked instead of side by side

# Scroll keys on the screen: they act when no pane has focus (or the focused one cannot scroll), on both answers,
# so reading never waits for the annotator to find which pane has focus. A focused pane's own keys come first.
SCROLL_KEYS = (("up", "up"), ("down", "down"), ("pageup", "page_up"), ("pagedown", "page_down"), ("home", "home"),
               ("end", "end"))
assert {how for _key, how in SCROLL_KEYS} == set(SCROLL_STEPS)


class PairScreen(SavingScreen):
    """The pair on screen and how it reads; the judging screen's keys act on it."""

    def __init__(self, queue: AnnotatorQueue, settings: AnnotateSettings, **kwargs: Any) -> None:
        super().__init__(queue, **kwargs)
        self.settings = settings
        self.pair: Pair | None = None
        self.markdown_mode = settings.markdown
        self.sync_scroll = settings.sync_scroll
        self.diff_mode = False
        self.limit = settings.truncate_chars
        self.rationale: str | None = None
        self.criteria: dict[str, str] = {}
        self.flag_reason: str | None = None
        self.flagged = False
        self.session_votes = 0
        self.session_started = time.monotonic()
        self.done = 0
        self.remaining: int | None = None
        self.waiting_note = ""
        self._bindings_fresh = False
        self._showing_pair: bool | None = None
        # The footer at this width: compact or not, and the keys left out (see judge_keys.footer_fit).
        self._footer_plan: tuple[bool, frozenset[str]] = (False, frozenset())
        self.ready = False  # composed and mounted: the app's poll may draw on it

    # -- layout ----------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        # One grid for the prompt and both answers (app.tcss): its own size never changes, so a prompt of another
        # height costs one layout pass. (With the answers in a container of their own, that container's size
        # changed with the prompt's height, and Textual lays out a resized container once more, a frame later.)
        with Container(id="pair"):
            yield PromptPane(id="prompt-box")
            yield AnswerPane("Left · 1", id="left")
            yield AnswerPane("Right · 2", id="right")
        yield Static("", id="empty", markup=False)
        yield Footer()

    def on_resize(self, event) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        self.query_one("#pair").set_class(width < NARROW_WIDTH, "stacked")
        self.query_one("#prompt-box", PromptPane).fit_screen(height)
        self._fit_footer(width)

    def write_held(self) -> None:
        """A write waits for the database: its keys are held, and with no pair on screen (the first pair or the
        next one being claimed) the waiting message takes the empty state's place."""
        super().write_held()  # hold the keys that act on a pair
        if self.pair is None and self.ready:
            self.show_pair(None)

    # -- footer ----------------------------------------------------------------------------------------------------

    def _footer_always_hidden(self) -> frozenset[str]:
        # The c key stays bound without criteria (it says how to set them up) but takes no room in the footer.
        return frozenset() if self.settings.criteria else frozenset({"criteria"})

    def _fit_footer(self, width: int) -> None:
        """Choose what the footer shows at ``width`` so that Help and Quit are always on screen."""
        always = self._footer_always_hidden()
        shown = [(b.binding.id or "", self.app.get_key_display(b.binding), b.binding.description)
                 for b in super().active_bindings.values()
                 if b.binding.show and b.binding.id not in always]
        plan = footer_fit(width, shown)
        if plan == self._footer_plan:
            return
        self._footer_plan = plan
        self.query_one(Footer).compact = plan[0]
        self.refresh_bindings()

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        """Textual's, less the keys the footer has no room for (they still work; the help lists them)."""
        bindings = super().active_bindings
        hidden = self._footer_plan[1] | self._footer_always_hidden()
        return {key: active._replace(binding=dataclasses.replace(active.binding, show=False))
                if active.binding.show and active.binding.id in hidden else active
                for key, active in bindings.items()}

    # -- drawing ---------------------------------------------------------------------------------------------------

    def show_pair(self, pair: Pair | None) -> None:
        """Draw ``pair`` (or the empty state). Model names are never part of what is drawn."""
        had_pair = self.pair is not None
        self.pair = pair
        self.limit = self.settings.truncate_chars
        has_pair = pair is not None
        empty = self.query_one("#empty", Static)
        if has_pair != self._showing_pair:
            # Only when it changes: toggling display or bindings re-lays out the screen and rebuilds the footer.
            self.query_one("#pair").display = has_pair
            empty.display = not has_pair
            self._showing_pair = has_pair
        if pair is None:
            empty.update(Text(self._empty_message()))
        else:
            self.query_one("#prompt-box", PromptPane).show(render.literal_text(pair.prompt, limit=self.limit))
            self._draw_answers()
        self.refresh_status()
        if had_pair != has_pair or not self._bindings_fresh:
            self._bindings_fresh = True
            self.refresh_bindings()

    def _draw_answers(self) -> None:
        pair = self.pair
        if pair is None:
            return
        left, right = pair.left, pair.right
        more = self._key_for("show_more")
        left_r: RenderableType
        right_r: RenderableType
        if self.diff_mode:
            left_r, right_r = render.diff_texts(left, right, limit=self.limit, more_key=more)
        elif self.markdown_mode:
            left_r = render.markdown(left, limit=self.limit, more_key=more)
            right_r = render.markdown(right, limit=self.limit, more_key=more)
        else:
            left_r = render.literal_text(left, limit=self.limit, more_key=more)
            right_r = render.literal_text(right, limit=self.limit, more_key=more)
        self.query_one("#left", AnswerPane).show_answer(left_r, render.describe_length(left))
        self.query_one("#right", AnswerPane).show_answer(right_r, render.describe_length(right))

    def _empty_message(self) -> str:
        if self._pending is not None:
            return "Waiting for the database (another program is writing to it)… Press q to quit."
        if self.queue.cap is not None and self.done >= self.queue.cap:
            return f"You have reached your limit of {self.queue.cap} votes. Thank you! Press q to quit."
        if self.waiting_note:
            return self.waiting_note
        return ("No pairs to judge right now. Thank you! New pairs appear here when the lead adds them "
                "(sbs queue build). Press q to quit.")

    def refresh_status(self) -> None:
        minutes = max((time.monotonic() - self.session_started) / 60.0, 1e-9)
        pace = self.session_votes / minutes if self.session_votes else 0.0
        parts = [escape(self.queue.annotator), f"done {self.done}",
                 f"remaining {'…' if self.remaining is None else self.remaining + (self.pair is not None)}"]
        # What goes with the next vote comes before the pace and the view modes: on a narrow terminal the line is
        # cut at the right edge, and a pending flag or rationale must stay in sight.
        pending = []
        if self.flagged:
            pending.append("⚑ flagged")
        if self.rationale:
            pending.append("✎ rationale")
        if self.criteria:
            pending.append(f"criteria {len(self.criteria)}/{len(self.settings.criteria)}")
        if pending:
            parts.append(", ".join(pending))
        parts.append(f"{pace:.1f}/min")
        modes = ["diff" if self.diff_mode else "markdown" if self.markdown_mode else "raw"]  # what is shown
        if self.sync_scroll:
            modes.append("sync")
        parts.append(" ".join(modes))
        status = self.query_one("#status", Static)
        write = self._pending
        if write is not None and write.attempts:
            waited = time.monotonic() - write.since
            if write.problem:
                parts.insert(0, f"NOT SAVED: {write.problem} — {write.what} is kept and retried "
                                f"every {saving.RETRY_FAILED_SECONDS:g} s")
            else:
                parts.insert(0, f"saving {write.what}… (the database is busy, {waited:.0f} s)")
        status.set_class(write is not None and write.attempts > 0 and not write.problem, "saving")
        status.set_class(write is not None and bool(write.problem), "failed")
        # One line of fixed height: no layout pass needed (each one costs a frame per vote).
        status.update(Text(" · ".join(parts)), layout=False)

    def _key_for(self, binding_id: str) -> str:
        key_for: Callable[[str], str] = getattr(self.app, "key_for")  # AnnotatorApp's (the screen's only app)
        return key_for(binding_id)

    # -- how the answers read ----------------------------------------------------------------------------------

    def action_toggle_markdown(self) -> None:
        self.markdown_mode = not self.markdown_mode
        if self.diff_mode:  # m leaves the diff: say so, or the answers change for no visible reason
            self.diff_mode = False
            self.notify(f"Diff off: {'markdown' if self.markdown_mode else 'raw text'} "
                        f"({self._key_for('toggle_diff')} shows the diff again).", timeout=3)
        self._draw_answers()
        self.refresh_status()

    def action_toggle_diff(self) -> None:
        self.diff_mode = not self.diff_mode
        self._draw_answers()
        self.refresh_status()

    def action_toggle_sync(self) -> None:
        self.sync_scroll = not self.sync_scroll
        self.refresh_status()

    def action_show_more(self) -> None:
        if self.pair is None:
            return
        longest = max(len(self.pair.left), len(self.pair.right), len(self.pair.prompt))
        if self.limit >= longest:
            self.notify("Everything is shown.")
            return
        self.limit *= 4
        self._draw_answers()

    def action_scroll_answers(self, how: str) -> None:
        """A scroll key with no pane to take it: both answers move by the same step (each within its own length)."""
        for side in ("#left", "#right"):
            self.query_one(side, AnswerPane).scroll_step(how)

    def action_unfocus(self) -> None:
        self.set_focus(None)

    @on(AnswerPane.Scrolled)
    def mirror_scroll(self, event: AnswerPane.Scrolled) -> None:
        if not self.sync_scroll:
            return
        other = self.query_one("#right" if event.pane.id == "left" else "#left", AnswerPane)
        other.mirror_to(event.fraction)
