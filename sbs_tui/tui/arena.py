"""The live arena app (``sbs arena``): write a prompt, watch two blinded models answer it side by side, vote.

The decisions (which pair, streaming, gating, what is stored) are :mod:`sbs_tui.core.generate.arena`'s; this module draws
them with the annotator screen's widgets (prompt pane, answer panes, markdown / diff rendering, synced scroll),
its literal rendering of hostile text, and its blinding rule: the panes are "Model A" and "Model B", and no model
name reaches the screen before the vote is stored (then only with ``[annotate] reveal_after_vote``). Everything
that waits — streaming, gating, and every database call (drawing a pair, which reads the battle counts and writes
the ledger; storing a vote) — runs in worker threads, each with its own connection (a store is used on its own
thread), so a slow or locked database never freezes the screen: it says "Drawing a pair…" / "Saving your vote…"
and keeps redrawing. The campaign's rules (rate limit, budget, revoked access) are :mod:`sbs_tui.core.generate.arena_ledger`'s.
"""

from __future__ import annotations

import random
import sqlite3
import subprocess
import threading
import time
from typing import Any

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Container
from textual.widgets import Footer, Input, Static

from sbs_tui.config import Settings
from sbs_tui.core.generate import arena, arena_ledger
from sbs_tui.core.store import AccessRevokedError, Store
from sbs_tui.errors import InputError
from sbs_tui.tui import render
from sbs_tui.tui.crash import CrashReport
from sbs_tui.tui.annotate.pair_view import NARROW_WIDTH
from sbs_tui.tui.annotate.saving import log_line
from sbs_tui.tui.widgets.answer import AnswerPane
from sbs_tui.tui.widgets.prompt import PromptPane

REDRAW_SECONDS = 0.1  # streamed text is redrawn at most this often
GATE_POLL_SECONDS = 0.5  # the background watcher's interval, and how often the arena looks at its decision


class ArenaApp(CrashReport, App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "sbs arena"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("1", "vote('a')", "A wins"), Binding("2", "vote('b')", "B wins"),
        Binding("3", "vote('tie')", "Tie"), Binding("4", "vote('both_bad')", "Both bad"),
        Binding("n", "new_battle", "New prompt"), Binding("p", "stored_prompt", "Stored prompt"),
        Binding("m", "toggle_markdown", "Markdown"), Binding("d", "toggle_diff", "Diff"),
        Binding("q", "quit", "Quit"), Binding("escape", "unfocus", show=False),
    ]

    def __init__(self, db_path: str, annotator: str, settings: Settings, config: arena.ArenaConfig, *,
                 runner: Any = None, seed: int | None = None, config_path: str | None = None):
        super().__init__()
        self.db_path = db_path
        self.annotator = annotator
        self.settings = settings
        self.annotate = settings.annotate
        self.config = config
        self.specs = {s.name: s for s in config.models}
        self.runner = runner  # gates run in this process with it (tests); None: by the background watcher
        self.config_path = config_path
        self.gate_process: subprocess.Popen[bytes] | None = None
        self.rng = random.Random(seed)
        self.busy = ""  # what a database worker is doing now ("drawing", "saving"); "" when none is
        self.battle: arena.Battle | None = None
        self.stop = threading.Event()
        self.markdown_mode = self.annotate.markdown
        self.diff_mode = False
        self.note = "Write a prompt and press Enter (p: take a stored prompt)."
        self.votes = 0
        self._dirty = False
        self.sub_title = annotator

    def crash_redactions(self) -> list[str]:
        """Every arena model's name and served name, kept out of the crash report: the battle on screen is blind."""
        return sorted({n for spec in self.config.models for n in (spec.name, spec.served)})

    # -- layout -------------------------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield Static("", id="status", markup=False)
        yield Input(placeholder="Your prompt (Enter sends it to two blinded models)", id="prompt-input")
        with Container(id="pair"):
            yield PromptPane(id="prompt-box")
            yield AnswerPane("Model A · 1", id="left")
            yield AnswerPane("Model B · 2", id="right")
        yield Footer()

    def on_resize(self, event: Any) -> None:
        self._apply_size(event.size.width, event.size.height)

    def _apply_size(self, width: int, height: int) -> None:
        """As the annotator screen: the answers stacked below ``NARROW_WIDTH`` columns, the prompt box fitted."""
        self.query_one("#pair").set_class(width < NARROW_WIDTH, "stacked")
        self.query_one("#prompt-box", PromptPane).fit_screen(height)

    def on_mount(self) -> None:
        self._apply_size(*self.size)
        self.set_interval(REDRAW_SECONDS, self._redraw_if_dirty)
        self.query_one("#prompt-input", Input).focus()
        self.refresh_status()

    def refresh_status(self) -> None:
        parts = [self.annotator, f"votes {self.votes}", self.note]
        self.query_one("#status", Static).update(Text(" · ".join(parts)))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "vote":
            return (self.battle is not None and self.battle.finished and self.battle.votable and self.battle.gated
                    and not self.busy)
        return True

    # -- starting a battle --------------------------------------------------------------------------------------

    @on(Input.Submitted, "#prompt-input")
    def submitted(self, event: Input.Submitted) -> None:
        self.start_battle(event.value)

    def action_stored_prompt(self) -> None:
        self.start_battle(None)

    def action_new_battle(self) -> None:
        field = self.query_one("#prompt-input", Input)
        field.value = ""
        field.focus()

    def action_unfocus(self) -> None:
        self.set_focus(None)

    def start_battle(self, prompt: str | None) -> None:
        """Draw a pair for ``prompt`` (None: one of the campaign's stored prompts) in a database worker."""
        if prompt is not None and not prompt.strip():
            self.note = "Write a prompt first."
        elif self.battle is not None and not self.battle.finished:
            self.note = "Wait for both answers (or their gates) first."
        elif self.busy:
            self.note = "Wait a moment: the database is still busy with your last step."
        else:
            self.busy = "drawing"
            self.note = "Drawing a pair…"
            self._begin(prompt)
        self.refresh_status()
        self.refresh_bindings()

    @work(thread=True, group="db")
    def _begin(self, prompt: str | None) -> None:
        """The pair among the campaign's fewest battles, recorded in the ledger if the campaign's rules allow it
        (one transaction: ``arena_ledger.draw_and_begin``)."""
        store = Store(self.db_path)
        try:
            source = None
            if prompt is None:
                prompts = arena.stored_prompts(store)
                if not prompts:
                    self.call_from_thread(self._refused, "No stored prompts: write one.")
                    return
                source, prompt = self.rng.choice(prompts)
            battle = arena_ledger.draw_and_begin(store, prompt, list(self.specs), self.annotator, self.config,
                                                 self.rng, source_prompt_id=source)
        except AccessRevokedError:
            self.call_from_thread(self._revoked, "no battle was started")
        except (arena_ledger.ArenaRefused, InputError) as exc:  # a rule, or a stored prompt that is blank
            self.call_from_thread(self._refused, str(exc))
        except sqlite3.Error as exc:  # busy past the store's wait, disk full: nothing was started
            self.call_from_thread(self._refused, f"The database did not answer ({exc}); try again.")
        else:
            self.call_from_thread(self._started, battle)
        finally:
            store.close()

    def _refused(self, note: str) -> None:
        self.busy = ""
        self.note = note
        self.refresh_status()
        self.refresh_bindings()

    def _revoked(self, what: str) -> None:
        """The lead revoked this annotator: say so, log it, end the session (as the annotator app does)."""
        self.busy = ""
        log_line(f"{self.annotator}'s access was revoked: {what} (sbs arena)")
        self.note = f"Your access was revoked by the lead: {what}."
        self.refresh_status()
        self.notify(self.note, severity="error", timeout=10, markup=False)
        self.stop.set()
        self.exit(return_code=1)

    def _started(self, battle: arena.Battle) -> None:
        self.busy = ""
        self.battle = battle
        self.query_one("#prompt-input", Input).value = ""  # the prompt is shown (literally) in its pane
        self.note = "Both models are answering…"
        self.query_one("#prompt-box", PromptPane).show(render.literal_text(battle.prompt,
                                                                           limit=self.annotate.truncate_chars))
        self._draw()
        self.set_focus(None)
        self.refresh_status()
        self.refresh_bindings()
        for side in battle.sides:
            self._stream(battle, side)

    @work(thread=True, group="stream")
    def _stream(self, battle: arena.Battle, side: arena.Side) -> None:
        spec = self.specs[side.model]

        def on_text(chunk: str) -> None:
            side.text += chunk
            self._dirty = True

        outcome = arena.stream_answer(spec, battle.prompt, on_text, stop=self.stop, timeout=self.config.timeout,
                                      stall_timeout=self.config.stall_timeout)
        if isinstance(outcome, arena.Failure):
            side.status, side.error = "failed", outcome.error
            side.reason = f"Model {side.label} did not answer ({outcome.error})."
        else:
            side.answer, side.text, side.status = outcome, outcome.text, "done"
        self._dirty = True
        if battle.finished:
            self.call_from_thread(self._answers_in, battle)

    def _answers_in(self, battle: arena.Battle) -> None:
        if battle is self.battle and not battle.gating:
            battle.gating = True
            self.note = "Checking the answers with the gates…"
            self.refresh_status()
            self._gate(battle)

    @work(thread=True, group="gate")
    def _gate(self, battle: arena.Battle) -> None:
        """Gate the answers: in this thread with a given runner (tests), otherwise by the background watcher
        (``sbs gate --watch``, a subprocess: scorer models never load in this process), polled until it decided."""
        error = None
        store = Store(self.db_path)
        try:
            if self.runner is not None:
                arena.gate_battle(store, self.runner, battle, self.specs)
            else:
                arena.store_answers(store, battle, self.specs)
                self.call_from_thread(self._ensure_gating)
                deadline = time.monotonic() + self.config.gate_timeout
                while not arena.settle_from_store(store, battle):
                    if time.monotonic() > deadline or self.stop.is_set():
                        raise TimeoutError(f"the gates did not finish within {self.config.gate_timeout:g} s")
                    time.sleep(GATE_POLL_SECONDS)
        except Exception as exc:  # a gate that cannot run: no vote on ungated answers
            error = str(exc)
            for side in battle.sides:
                if side.status == "done":
                    side.status, side.reason = "blocked", "hidden: the gates could not check it"
        try:
            arena_ledger.finish(store, battle, self.specs)  # what the answers cost, against the budget
        except sqlite3.Error as exc:
            log_line(f"the cost of arena battle {battle.battle_id} was not booked: {exc}")
        finally:
            store.close()
        self.call_from_thread(self._gated, battle, error)

    def _ensure_gating(self) -> None:
        from sbs_tui.core.gates.watcher import ensure_watcher  # imports nothing heavy

        if self.gate_process is None or self.gate_process.poll() is not None:
            self.gate_process = ensure_watcher(self.db_path, self.config_path, interval=GATE_POLL_SECONDS,
                                               log_path=f"{self.db_path}.gate.log")

    def on_unmount(self) -> None:
        self.stop.set()
        process, self.gate_process = self.gate_process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=3)
            except Exception:
                process.kill()

    def _gated(self, battle: arena.Battle, error: str | None) -> None:
        battle.gated = True
        for name in self.crash_redactions():  # a gate's error is shown: it must not name a model either
            error = error.replace(name, "a model") if error else error
        if not battle.votable:
            what = "gated" if any(s.status == "blocked" for s in battle.sides) else "incomplete"
            self.note = f"This battle is {what}: no vote. Press n for a new prompt."
            if error:
                self.note += f" ({error.splitlines()[0][:120]})"
        else:
            self.note = "Vote: 1 A wins · 2 B wins · 3 tie · 4 both bad."
        self._draw()
        self.refresh_status()
        self.refresh_bindings()

    # -- drawing ------------------------------------------------------------------------------------------------

    def _redraw_if_dirty(self) -> None:
        if self._dirty:
            self._dirty = False
            self._draw()

    def _side_renderable(self, side: arena.Side) -> Any:
        if side.status == "failed":
            return Text(side.reason)
        if side.status == "blocked":
            return Text(f"Model {side.label}: {side.reason}")
        limit = self.annotate.truncate_chars
        return render.markdown(side.text, limit=limit) if self.markdown_mode and side.status == "done" \
            else render.literal_text(side.text, limit=limit)

    def _draw(self) -> None:
        battle = self.battle
        if battle is None:
            return
        a, b = battle.a, battle.b
        if self.diff_mode and a.status == b.status == "done":
            left, right = render.diff_texts(a.text, b.text, limit=self.annotate.truncate_chars)
        else:
            left, right = self._side_renderable(a), self._side_renderable(b)
        for pane_id, side, shown in (("#left", a, left), ("#right", b, right)):
            note = "answering…" if side.status == "streaming" else render.describe_length(side.text) \
                if side.status == "done" else ""
            self.query_one(pane_id, AnswerPane).show_answer(shown, note)

    @on(AnswerPane.Scrolled)
    def mirror_scroll(self, event: AnswerPane.Scrolled) -> None:
        """Synced scroll (``[annotate] sync_scroll``), as on the annotator screen."""
        if self.annotate.sync_scroll:
            other = self.query_one("#right" if event.pane.id == "left" else "#left", AnswerPane)
            other.mirror_to(event.fraction)

    def action_toggle_markdown(self) -> None:
        self.markdown_mode = not self.markdown_mode
        self._draw()

    def action_toggle_diff(self) -> None:
        self.diff_mode = not self.diff_mode
        self._draw()

    # -- voting -------------------------------------------------------------------------------------------------

    def action_vote(self, choice: str) -> None:
        battle = self.battle
        if battle is None or not self.check_action("vote", ()):
            return
        self.busy = "saving"
        self.note = "Saving your vote…"
        self.refresh_status()
        self.refresh_bindings()
        self._save_vote(battle, choice)

    @work(thread=True, group="db")
    def _save_vote(self, battle: arena.Battle, choice: str) -> None:
        store = Store(self.db_path)
        try:
            vote = arena.store_vote(store, battle, choice, self.annotator)
        except AccessRevokedError:
            self.call_from_thread(self._revoked, "this vote was not stored")
        except sqlite3.Error as exc:  # busy past the store's wait, disk full, read-only: the battle stays
            self.call_from_thread(self._refused, f"The vote was not stored ({exc}); nothing is lost: press the "
                                                 "key again.")
        else:
            self.call_from_thread(self._voted, vote)
        finally:
            store.close()

    def _voted(self, vote: Any) -> None:
        self.busy = ""
        self.votes += 1
        self.battle = None
        self.note = "Vote stored. Write the next prompt (p: a stored prompt)."
        if self.annotate.reveal_after_vote:
            self.notify(f"A was {vote.model_a}, B was {vote.model_b}", timeout=4, markup=False)  # names: literal
        for pane_id in ("#left", "#right"):
            self.query_one(pane_id, AnswerPane).show_answer(Text(""), "")
        self.query_one("#prompt-box", PromptPane).show(Text(""))
        self.refresh_status()
        self.refresh_bindings()
        self.action_new_battle()

    async def action_quit(self) -> None:
        self.stop.set()
        self.exit()


def run_arena(db_path: str, annotator: str, settings: Settings, *, config_path: str | None = None) -> int:
    config = arena.load_arena(settings)
    app = ArenaApp(db_path, annotator, settings, config, config_path=config_path)
    try:
        app.run()
    finally:
        app.stop.set()
    return app.return_code or 0
