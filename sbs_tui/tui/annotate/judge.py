"""The judging screen's keys: vote, skip, undo, flag, rationale, criteria, help, quit — and the queue behind them.

Order of events on a vote key (the data-safety contract): the vote is committed to SQLite by
:meth:`AnnotatorQueue.vote` — the call returns only after COMMIT — and only then is the next pair fetched and
drawn. Killing the process at any moment loses at most a keypress that had not been committed yet, never a vote
that was shown as done. Every write waits for a busy database without losing anything
(:mod:`sbs_tui.tui.annotate.saving`); what is drawn is :class:`~sbs_tui.tui.annotate.pair_view.PairScreen`'s.

Blinding: this screen knows the model names (they go into the vote) but never renders them before the vote;
``reveal_after_vote`` (default off) shows them in a notification *after* the commit. Once names were shown,
undo withdraws the vote but never shows that pair to this annotator again (it could be re-judged knowingly).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, ClassVar

from textual.binding import Binding
from textual.message import Message

from sbs_tui.core.queue.annotator import new_vote_uid
from sbs_tui.core.store import AccessRevokedError, AlreadyJudgedError
from sbs_tui.present.text import escape  # names are user data: the one literal rule
from sbs_tui.tui.annotate.judge_keys import (
    JUDGE_KEYS,
    NAV_HELP,
    blinding_note,
    criteria_missing_message,
    criteria_note,
    undo_note,
)
from sbs_tui.tui.annotate.modals import CriteriaPrompt, HelpScreen, TextPrompt
from sbs_tui.tui.annotate.pair_view import SCROLL_KEYS, PairScreen
from sbs_tui.tui.annotate.saving import HELD_WHILE_SAVING, QUIT_CONFIRM_SECONDS, log_line

if TYPE_CHECKING:
    from sbs_tui.core.queue.annotator import AnnotatorQueue, Pair
    from sbs_tui.core.settings import AnnotateSettings


class JudgeScreen(PairScreen):
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
        super().__init__(queue, settings, id="judge")

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

    def action_help(self) -> None:
        notes = {"criteria": criteria_note(self.settings.criteria),
                 "undo": undo_note(self.settings.reveal_after_vote)}
        rows = [(self._key_for(bid), text, notes.get(bid, note))
                for _key, _action, text, bid, _show, note in JUDGE_KEYS] + NAV_HELP
        note = blinding_note(self.settings.reveal_after_vote, self._key_for("undo"))
        self.app.push_screen(HelpScreen(rows, note))

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


_CRITERIA_CHOICE = {"1": "left", "2": "right", "3": "tie", "4": "both_bad"}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
