"""The judging screen: prompt on top, the two answers side by side (stacked when narrow), keys to vote.

Order of events on a vote key (the data-safety contract): the vote is committed to SQLite by
:meth:`AnnotatorQueue.vote` — the call returns only after COMMIT — and only then is the next pair fetched and
drawn. Killing the process at any moment loses at most a keypress that had not been committed yet, never a vote
that was shown as done.

Blinding: this screen knows the model names (they go into the vote) but never renders them before the vote;
``reveal_after_vote`` (default off) shows them in a notification *after* the commit. Once names were shown,
undo withdraws the vote but never shows that pair to this annotator again (it could be re-judged knowingly).

Someone else writing (a lead importing a million votes, the gate watcher, another annotator) must never crash
the app, lose a vote or move on before it is stored. Every write goes through :meth:`JudgeScreen._write`: it is
tried at once, polling for the write lock for at most ``UI_WAIT_SECONDS`` (so the screen never freezes for
long); if the database is still busy the screen shows "saving…", holds the keys that would act on a pair
and retries every ``RETRY_BUSY_SECONDS`` until it lands. A write that really fails (disk full, read-only,
I/O error) is kept too: a message says what is wrong, and it is retried every ``RETRY_FAILED_SECONDS`` —
the annotator can wait for space to be freed without losing the vote. A retried vote keeps its uid, so it is
stored once.

Ending the session never drops a vote that is waiting: the app's quit (a closed browser tab, the server's quit
message, SIGTERM, the server dying) goes through :meth:`JudgeScreen.save_before_exit`, which keeps trying for up
to ``EXIT_SAVE_SECONDS`` and logs the outcome on stderr (the team server's log). Only two things discard it, each
with a log line: the annotator pressing quit twice ("quit without it"), and a revoked access (the database
refuses the vote: :class:`~sbs_tui.core.store.AccessRevokedError`), which also ends the session.
"""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, ClassVar

from rich.console import RenderableType
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import ActiveBinding, Binding
from textual.containers import Container
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Static

from sbs_tui.core import dberrors
from sbs_tui.core.queue.annotator import new_vote_uid
from sbs_tui.core.store import AccessRevokedError, AlreadyJudgedError
from sbs_tui.present.text import escape  # names are user data: the one literal rule
from sbs_tui.tui import render
from sbs_tui.tui.screens.judge_keys import (
    JUDGE_KEYS,
    NAV_HELP,
    blinding_note,
    criteria_missing_message,
    criteria_note,
    footer_fit,
    undo_note,
)
from sbs_tui.tui.screens.modals import CriteriaPrompt, HelpScreen, TextPrompt
from sbs_tui.tui.widgets.answer import AnswerPane
from sbs_tui.tui.widgets.lines import SCROLL_STEPS
from sbs_tui.tui.widgets.prompt import PromptPane

if TYPE_CHECKING:
    from sbs_tui.core.settings import AnnotateSettings
    from sbs_tui.core.queue.annotator import AnnotatorQueue, Pair

UI_WAIT_SECONDS = 0.15  # each try polls for the write lock this long (every 1–4 ms), then lets the screen draw
RETRY_BUSY_SECONDS = 0.1  # the database is still busy: the next try starts this soon
RETRY_FAILED_SECONDS = 2.0  # the write failed (disk full, read-only...): try again this often
QUIT_CONFIRM_SECONDS = 5.0  # q while a vote is unsaved: a second q within this long quits anyway
EXIT_SAVE_SECONDS = 120.0  # the session is ending with a vote waiting: keep trying this long before giving up
# Keys that act on a pair (or on what goes with the next vote) are held while a write is waiting.
HELD_WHILE_SAVING = frozenset({"vote", "skip", "undo", "flag", "rationale", "criteria"})

NARROW_WIDTH = 100  # below this many columns the answers are stacked instead of side by side

# Scroll keys on the screen: they act when no pane has focus (or the focused one cannot scroll), on both answers,
# so reading never waits for the annotator to find which pane has focus. A focused pane's own keys come first.
SCROLL_KEYS = (("up", "up"), ("down", "down"), ("pageup", "page_up"), ("pagedown", "page_down"), ("home", "home"),
               ("end", "end"))
assert {how for _key, how in SCROLL_KEYS} == set(SCROLL_STEPS)


@dataclass(slots=True)
class PendingWrite:
    """A database write the screen waits for: ``attempt`` until it succeeds, then ``then(result)``."""

    what: str  # "your vote", "the skip", "the next pair"... (for the status line and messages)
    attempt: Callable[[], Any]
    then: Callable[[Any], None]
    since: float
    attempts: int = 0
    problem: str | None = None  # why the last attempt failed, when it was not just "busy"
    record: dict[str, Any] | None = None  # a vote's identity, logged if it can never be written


class JudgeScreen(Screen[None]):
    class Voted(Message):
        """A vote was committed (sent after the commit, for whoever keeps the queue fresh)."""

        def __init__(self, pair_id: int, session_votes: int) -> None:
            super().__init__()
            self.pair_id = pair_id
            self.session_votes = session_votes

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        *(Binding(key, action, text, id=bid, show=show, tooltip=note)
          for key, action, text, bid, show, note in JUDGE_KEYS),
        Binding("tab", "app.focus_next", "Next pane", show=False, id="focus_next_pane"),
        Binding("shift+tab", "app.focus_previous", "Previous pane", show=False, id="focus_previous_pane"),
        Binding("escape", "unfocus", "Scroll both", show=False, id="unfocus_pane"),
        *(Binding(key, f"scroll_answers('{how}')", show=False) for key, how in SCROLL_KEYS),
    ]
    # Nothing has focus at first: the scroll keys move both answers (what an annotator reads first), and the
    # first Tab goes to the prompt.
    AUTO_FOCUS = ""  # not None: None means "the app's" ("*", the first focusable widget)

    def __init__(self, queue: AnnotatorQueue, settings: AnnotateSettings):
        super().__init__(id="judge")
        self.queue = queue
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
        self._pending: PendingWrite | None = None
        self._quit_armed_at: float | None = None
        self.discard_on_exit = False  # the annotator chose "quit without it"
        self.exiting = False
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

    def on_mount(self) -> None:
        self._apply_size(*self.app.size)
        self.ready = True

        def started(done: int) -> None:
            self.done = done
            self.fetch_next_pair(first=True)

        # A first-time annotator is created by this read (a write, then): it waits for a busy database like a
        # vote does, on the same "waiting for the database" screen.
        self._write("your place in the queue", lambda: self.queue.progress()["done"], started)

    def count_remaining(self) -> None:
        """Count the pairs left for this annotator off the UI thread (a scan of the open pairs: tens of ms on a
        large queue, which the first pair should not wait for). A worker thread opens its own connection."""
        db_path = self.queue.store.path
        if db_path is None:  # an in-memory store cannot be shared with another thread
            self._set_remaining(self.queue.available())
            return

        def count() -> None:
            from sbs_tui.core.queue.annotator import AnnotatorQueue
            from sbs_tui.core.store import Store

            with Store(db_path) as store:
                queue = self.queue
                other = AnnotatorQueue(store, queue.annotator, gating_required=queue.min_gate_rank == 2,
                                       cap=queue.cap)
                n = other.available()
            self.app.call_from_thread(self._set_remaining, n)

        self.run_worker(count, thread=True, exclusive=True, group="remaining", exit_on_error=False)

    def _set_remaining(self, n: int) -> None:
        # Pairs claimed since the count started were already subtracted by the count itself.
        self.remaining = n
        self.refresh_status()

    def on_resize(self, event) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        self.query_one("#pair").set_class(width < NARROW_WIDTH, "stacked")
        self.query_one("#prompt-box", PromptPane).fit_screen(height)
        self._fit_footer(width)

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
                                f"every {RETRY_FAILED_SECONDS:g} s")
            else:
                parts.insert(0, f"saving {write.what}… (the database is busy, {waited:.0f} s)")
        status.set_class(write is not None and write.attempts > 0 and not write.problem, "saving")
        status.set_class(write is not None and bool(write.problem), "failed")
        # One line of fixed height: no layout pass needed (each one costs a frame per vote).
        status.update(Text(" · ".join(parts)), layout=False)

    # -- writes that wait for the database ---------------------------------------------------------------------

    @property
    def saving(self) -> bool:
        """A write (a vote, a skip, the next pair...) is waiting for the database."""
        return self._pending is not None

    def _write(self, what: str, attempt: Callable[[], Any], then: Callable[[Any], None], *,
               record: dict[str, Any] | None = None) -> None:
        """Run a database write now, or keep it and retry until it lands (see the module docstring)."""
        self._pending = PendingWrite(what, attempt, then, time.monotonic(), record=record)
        self._attempt_pending()

    def _attempt_pending(self) -> None:
        write = self._pending
        if write is None or not self.is_attached or self.exiting:
            return
        try:
            # Polling every few ms catches the short gaps a chunked import leaves between its transactions.
            result = dberrors.retry_busy(write.attempt, timeout=UI_WAIT_SECONDS, first_delay=0.001,
                                         max_delay=0.004)
        except sqlite3.Error as exc:
            first = write.attempts == 0
            write.attempts += 1
            problem = None if dberrors.is_busy(exc) else dberrors.describe(exc)
            if problem and problem != write.problem:
                self.notify(f"Could not save {write.what}: {problem}. Nothing is lost: it is kept and retried "
                            f"every {RETRY_FAILED_SECONDS:g} s. Tell your lead if this persists.",
                            title="Not saved yet", severity="error", timeout=30, markup=False)
            write.problem = problem
            if first:
                self.refresh_bindings()  # hold the keys that act on a pair
                if self.pair is None and self.ready:
                    self.show_pair(None)
            self.refresh_status()
            self.set_timer(RETRY_FAILED_SECONDS if problem else RETRY_BUSY_SECONDS, self._attempt_pending,
                           name="retry-write")
            return
        self._pending = None
        self._quit_armed_at = None
        if write.attempts:
            self.refresh_bindings()
            if write.problem:
                self.notify(f"Saved {write.what}.", timeout=3)
        write.then(result)
        if write.attempts:
            self.refresh_status()

    def fetch_next_pair(self, *, first: bool = False) -> None:
        """Claim and show the next pair (claiming is a write: it waits like a vote does)."""
        if self._pending is not None:
            return

        def shown(pair: Pair | None) -> None:
            if not first and pair is not None and self.remaining is not None and (
                    self.pair is None or pair.pair_id != self.pair.pair_id):
                self.remaining = max(0, self.remaining - 1)
            self.show_pair(pair)
            if first:
                self.count_remaining()

        self._write("the next pair", self.queue.next_pair, shown)

    def _key_for(self, binding_id: str) -> str:
        key_for: Callable[[str], str] = getattr(self.app, "key_for")  # AnnotatorApp's (the screen's only app)
        return key_for(binding_id)

    # -- actions ---------------------------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        needs_pair = {"vote", "skip", "flag", "rationale", "criteria", "toggle_markdown", "toggle_diff",
                      "show_more", "toggle_sync", "scroll_answers"}
        if action in needs_pair and self.pair is None:
            return None  # shown greyed out
        if action in HELD_WHILE_SAVING and self._pending is not None:
            return None  # held until the write waiting for the database lands
        return True

    def action_vote(self, choice: str) -> None:
        pair = self.pair
        if pair is None or self._pending is not None:
            return
        # Criteria were answered as left/right; stored like the vote, in model_a/model_b terms.
        criteria = {name: pair.winner_for(_CRITERIA_CHOICE[value]) for name, value in self.criteria.items()}
        # Fixed now, so every retry stores the same vote (one uid: a retry can never store it twice).
        uid, ts = new_vote_uid(), _now()
        rationale, flagged, flag_reason = self.rationale, self.flagged, self.flag_reason

        def attempt() -> str:
            try:
                self.queue.vote(pair, choice, ts=ts, rationale=rationale, criteria=criteria or None,
                                flagged=flagged, flag_reason=flag_reason, uid=uid)
            except AlreadyJudgedError:
                return "already"
            except AccessRevokedError:
                return "revoked"
            return "stored"

        def landed(outcome: str) -> None:
            self._reset_pending()
            if outcome == "revoked":
                self.access_revoked(pair.pair_id)
                return
            if outcome == "already":
                self.notify("This pair was already judged or skipped (in another window?); moving on.",
                            severity="warning")
                self._advance()
                return
            # Committed: only now move on.
            self.session_votes += 1
            self.post_message(self.Voted(pair.pair_id, self.session_votes))
            self.done += 1
            if self.settings.reveal_after_vote:
                self.notify(f"Left was {escape(pair.left_model)}; right was {escape(pair.right_model)}",
                            timeout=2, markup=False)
            self._advance()

        self._write("your vote", attempt, landed,
                    record={"uid": uid, "ts": ts, "pair_id": pair.pair_id, "winner": pair.winner_for(choice),
                            "shown_left": pair.shown_left})

    def _advance(self) -> None:
        self.fetch_next_pair()

    def access_revoked(self, pair_id: int) -> None:
        """The lead revoked this annotator: the vote was refused; say so, log it, end the session."""
        log_line(f"{self.queue.annotator}'s access was revoked: their unsaved vote on pair {pair_id} was "
                 "discarded")
        self.notify("Your access was revoked by the lead: this vote was not stored.", severity="error",
                    timeout=10)
        self.app.exit()

    async def save_before_exit(self, timeout: float | None = None) -> str:
        """The session is ending: write the vote that is waiting for the database (see the module docstring).
        Returns what happened: 'none', 'stored', 'already', 'revoked', 'discarded' or 'lost'."""
        import asyncio

        write = self._pending
        if write is None or write.what != "your vote":
            return "none"  # a skip, an undo or the next pair: nothing an annotator decided is lost
        self.exiting = True  # the screen's own retry timer stands down
        who = self.queue.annotator
        timeout = EXIT_SAVE_SECONDS if timeout is None else timeout
        pair_id = (write.record or {}).get("pair_id")
        if self.discard_on_exit:
            log_line(f"{who} quit without their unsaved vote on pair {pair_id} (pressed quit twice)")
            return "discarded"
        deadline = time.monotonic() + timeout
        log_line(f"{who}'s session is ending with a vote waiting for the database: saving it first")
        while True:
            try:
                outcome = dberrors.retry_busy(write.attempt, timeout=UI_WAIT_SECONDS, first_delay=0.001,
                                              max_delay=0.004)
            except sqlite3.Error as exc:
                if time.monotonic() >= deadline:
                    import json

                    log_line(f"{who}'s vote could NOT be saved ({dberrors.describe(exc)}) after {timeout:g} s; "
                             f"it was {json.dumps(write.record, sort_keys=True)}")
                    self._pending = None
                    return "lost"
                await asyncio.sleep(RETRY_BUSY_SECONDS if dberrors.is_busy(exc) else RETRY_FAILED_SECONDS)
                continue
            self._pending = None
            if outcome == "revoked":
                log_line(f"{who}'s access was revoked: their unsaved vote on pair {pair_id} was discarded")
            else:
                log_line(f"{who}'s waiting vote was {'saved' if outcome == 'stored' else 'already stored'} "
                         "before the session ended")
            return outcome

    def _reset_pending(self) -> None:
        """The pair is done with (voted or skipped): what was pending for it goes, and so do its toasts — a
        "Flagged" or "Everything is shown" must not sit over the next pair."""
        self.app.clear_notifications()
        self.rationale = None
        self.criteria = {}
        self.flag_reason = None
        self.flagged = False

    def action_undo(self) -> None:
        if self._pending is not None:
            return
        if self.settings.reveal_after_vote:
            # The names of the last pair were shown: judging it again would not be blind.
            self._write("the undo", self.queue.withdraw, self._withdrawn)
        else:
            self._write("the undo", self.queue.undo, self._undone)

    def _undone(self, pair: Pair | None) -> None:
        if pair is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        if self.pair is not None and self.remaining is not None:
            # The pair on screen stays claimed and comes back after this one: it is still to do, but no longer
            # the one shown (which ``refresh_status`` adds), and the next pair shown will take it off again.
            self.remaining += 1
        self._count_undo()
        self.notify("Last vote deleted — judge this pair again.")
        self.show_pair(pair)

    def _withdrawn(self, pair_id: int | None) -> None:
        if pair_id is None:
            self.notify("Nothing to undo.", severity="warning")
            return
        self._count_undo()
        self.notify("Last vote withdrawn. Its model names were shown, so that pair will not come back to you.")
        self.refresh_status()

    def _count_undo(self) -> None:
        self.session_votes = max(0, self.session_votes - 1)
        self.done = max(0, self.done - 1)
        self._reset_pending()

    def action_skip(self) -> None:
        pair = self.pair
        if pair is None or self._pending is not None:
            return
        ts = _now()

        def skipped(_result: object) -> None:
            self._reset_pending()
            self._advance()

        self._write("the skip", lambda: self.queue.skip(pair, ts=ts), skipped)

    def action_flag(self) -> None:
        if self.pair is None:
            return

        def flagged(reason: str | None) -> None:
            pair = self.pair
            if reason is None or pair is None or self._pending is not None:
                return
            self.flagged = True
            self.flag_reason = reason or None

            def saved(_result: object) -> None:
                self.notify("Flagged. Vote or skip to move on.")
                self.refresh_status()

            flag_reason = self.flag_reason
            self._write("the flag", lambda: self.queue.flag(pair, flag_reason), saved)

        self.app.push_screen(TextPrompt("Why flag this pair? (e.g. broken prompt, offensive, leaks the model)",
                                        value=self.flag_reason or "", prompt_id="flag-prompt"), flagged)

    def action_rationale(self) -> None:
        if self.pair is None:
            return

        def saved(text: str | None) -> None:
            if text is not None:
                self.rationale = text or None
                self.refresh_status()

        self.app.push_screen(TextPrompt("Rationale for your next vote on this pair", value=self.rationale or "",
                                        prompt_id="rationale-prompt"), saved)

    def action_criteria(self) -> None:
        if self.pair is None:
            return
        if not self.settings.criteria:
            self.notify(criteria_missing_message(self._key_for("criteria")), title="No criteria",
                        severity="warning", timeout=10, markup=False)
            return

        def saved(ratings: dict[str, str] | None) -> None:
            if ratings is not None:
                self.criteria = ratings
                self.refresh_status()

        self.app.push_screen(CriteriaPrompt(self.settings.criteria, self.criteria), saved)

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

    def action_help(self) -> None:
        notes = {"criteria": criteria_note(self.settings.criteria),
                 "undo": undo_note(self.settings.reveal_after_vote)}
        rows = [(self._key_for(bid), text, notes.get(bid, note))
                for _key, _action, text, bid, _show, note in JUDGE_KEYS] + NAV_HELP
        note = blinding_note(self.settings.reveal_after_vote, self._key_for("undo"))
        self.app.push_screen(HelpScreen(rows, note))

    def action_scroll_answers(self, how: str) -> None:
        """A scroll key with no pane to take it: both answers move by the same step (each within its own length)."""
        for side in ("#left", "#right"):
            self.query_one(side, AnswerPane).scroll_step(how)

    def action_unfocus(self) -> None:
        self.set_focus(None)

    def action_quit(self) -> None:
        write = self._pending
        now = time.monotonic()
        if write is not None and write.what == "your vote" and (
                self._quit_armed_at is None or now - self._quit_armed_at > QUIT_CONFIRM_SECONDS):
            self._quit_armed_at = now
            self.notify(f"Your vote is not saved yet. Press {self._key_for('quit')} again to quit without it, or "
                        "wait: it is saved as soon as the database lets it.", severity="warning", timeout=6)
            return
        if write is not None and write.what == "your vote":
            self.discard_on_exit = True
        self.app.exit()

    @on(AnswerPane.Scrolled)
    def mirror_scroll(self, event: AnswerPane.Scrolled) -> None:
        if not self.sync_scroll:
            return
        other = self.query_one("#right" if event.pane.id == "left" else "#left", AnswerPane)
        other.mirror_to(event.fraction)


_CRITERIA_CHOICE = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}


def log_line(text: str) -> None:
    """One line on the process's real stderr (the team server's log for a served session; Textual redirects
    ``sys.stderr`` while it runs, and stdout is the served app's protocol channel)."""
    import sys

    stream = sys.__stderr__
    if stream is not None:
        try:
            stream.write(f"sbs annotate: {escape(text)}\n")
            stream.flush()
        except (OSError, ValueError):
            pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
