"""The annotator app (``sbs annotate``): blind side-by-side judging, one keypress per vote.

``make_app`` is the one way to build it — the CLI, ``sbs serve``, ``sbs demo`` and the tests all call it — and
``run_annotator`` runs it in the terminal. The app process never imports torch or transformers: when gates are
required and generations are still pending, it starts ``sbs gate --watch`` as a *subprocess* (which loads the
scorer models there), polls the store for pairs that became available, and stops the subprocess on quit.
"""

from __future__ import annotations

import gc
import os
import sqlite3
import subprocess
from pathlib import Path

from textual import on
from textual.app import App
from textual.binding import Binding

from sbs_tui.core.settings import Settings
from sbs_tui.core.queue.annotator import AnnotatorQueue
from sbs_tui.core.store import Store
from sbs_tui.tui.crash import CrashReport
from sbs_tui.tui.annotate.judge import JudgeScreen
from sbs_tui.tui.annotate.judge_keys import JUDGE_KEYS
from sbs_tui.tui.annotate.saving import EXIT_SAVE_SECONDS

POLL_SECONDS = 2.0
# SQLite's own wait for another writer's lock on the app's connection. Kept tiny: SQLite's busy handler sleeps
# in growing steps (up to 100 ms), so it would miss the short gaps an importer leaves between its chunks; the
# judging screen polls for the lock itself instead, every few milliseconds (annotate/saving.py, UI_WAIT_SECONDS).
APP_BUSY_TIMEOUT_MS = 5

__all__ = ["APP_BUSY_TIMEOUT_MS", "EXIT_SAVE_SECONDS", "POLL_SECONDS", "AnnotatorApp", "make_app", "run_annotator"]

_KEY_DISPLAY = {"question_mark": "?", "space": "space", "escape": "esc"}


class AnnotatorApp(CrashReport, App[None]):
    CSS_PATH = "../app.tcss"  # the annotator's styles, shared with the live arena (tui/arena.py)
    TITLE = "sbs annotate"
    ENABLE_COMMAND_PALETTE = False
    # ctrl+c asks like q does while a vote is unsaved: quitting at once would drop the vote being retried.
    BINDINGS = [Binding("ctrl+c", "request_quit", "Quit", show=False, priority=True, id="app_quit")]

    def action_request_quit(self) -> None:
        """ctrl+c, from any screen: the judging screen's quit (which asks first while a vote is unsaved)."""
        judge = next((s for s in self.screen_stack if isinstance(s, JudgeScreen)), None)
        if judge is None:
            self.exit()
        else:
            judge.action_quit()

    def __init__(self, store: Store, annotator: str, settings: Settings, *, db_path: str | None = None,
                 config_path: str | None = None, gate_watch: bool = True):
        super().__init__()
        self.store = store
        self.settings = settings
        self.annotate = settings.annotate
        self.queue = AnnotatorQueue(store, annotator, gating_required=settings.gating.required)
        self.db_path = db_path
        self.config_path = config_path
        self.gate_watch = gate_watch
        self.freeze_gc = False
        self.gate_process: subprocess.Popen[bytes] | None = None  # our watcher; None while another app's runs
        self.gate_log: Path | None = None
        self.gate_failed = False
        self.gating_noted = False
        self.keymap = dict(self.annotate.keys)
        self.sub_title = annotator
        store.set_busy_timeout(APP_BUSY_TIMEOUT_MS)

    def crash_redactions(self) -> list[str]:
        """Model names, kept out of the crash log: the annotator may read it, and the pair is blind."""
        names: set[str] = set()
        judge = getattr(self, "judge", None)
        if judge is not None and judge.pair is not None:
            names |= {judge.pair.model_a, judge.pair.model_b}
        try:
            names |= set(self.store.model_names())
        except Exception:  # the crash may be the database's own; the current pair's names are the ones at risk
            pass
        return sorted(names)

    # -- keys --------------------------------------------------------------------------------------------------------

    def key_for(self, binding_id: str) -> str:
        """The key currently bound to a binding id (after remapping), as a person would type it."""
        key = self.keymap.get(binding_id)
        if key is None:
            key = next((k for k, _a, _t, bid, _s, _n in JUDGE_KEYS if bid == binding_id), binding_id)
        return ", ".join(_KEY_DISPLAY.get(part.strip(), part.strip()) for part in key.split(","))

    # -- lifecycle ---------------------------------------------------------------------------------------------------

    def on_mount(self) -> None:
        if self.keymap:
            self.set_keymap(self.keymap)
        self.judge = JudgeScreen(self.queue, self.annotate)
        pending = self.store.generations.count_pending() if self.settings.gating.required else 0
        if pending:
            self.judge.waiting_note = _waiting_note(pending)
        self.push_screen(self.judge)
        # Everything built so far (Textual, the screen, caches) lives for the whole session: moving it out of the
        # collector's reach keeps full collections — the worst keypress latencies in bench_tui — short.
        # (Only for a real session, not in test processes that build many apps: frozen objects are never freed.)
        if self.freeze_gc:
            self.call_after_refresh(gc.freeze)
        # While nothing is on screen, look for pairs that became available (gates passed, queue rebuilt).
        self.set_interval(POLL_SECONDS, self._poll_for_pairs, name="poll-pairs")
        if pending:
            self._start_gating(pending)

    def _start_gating(self, pending: int) -> None:
        """Gates required and generations pending: make sure a watcher gates them — ours, or one another app on
        this database started (one per database; torch stays out of this process). Its output goes to
        ``<database>.gate.log``; it dies with this app."""
        if not self.gate_watch or self.db_path is None or self.gate_failed:
            return
        from sbs_tui.core.gates.watcher import ensure_watcher  # imports nothing heavy

        self.gate_log = Path(f"{self.db_path}.gate.log")
        try:
            self.gate_process = ensure_watcher(self.db_path, self.config_path, log_path=self.gate_log)
        except OSError as exc:
            self.gate_failed = True
            self.notify(f"could not start background gating: {exc}", severity="error", timeout=10, markup=False)
            return
        if not self.gating_noted:
            self.gating_noted = True
            self.notify("Gating pending generations in the background…", timeout=4)

    def _poll_for_pairs(self) -> None:
        if not self.is_running:  # shutting down: the screen's widgets may be gone already
            return
        process = self.gate_process
        if process is not None and process.poll() is not None:
            self.gate_process = None
            if process.returncode:
                self.gate_failed = True  # a broken config would fail again: say so once, do not restart
                self.notify(f"Background gating stopped (exit {process.returncode}); see {self.gate_log}",
                            severity="warning", timeout=10, markup=False)
        pending = None
        try:
            if self.gate_process is None and self.gate_watch and not self.gate_failed and self.settings.gating.required:
                # The app whose watcher gated this database may have quit: whoever polls first takes over.
                from sbs_tui.core.gates.watcher import running_watcher

                if self.db_path is not None and running_watcher(self.db_path) is None:
                    pending = self.store.generations.count_pending()
                    if pending:
                        self._start_gating(pending)
            judge = self.judge
            if not judge.ready or judge.pair is not None or judge.saving or self.screen is not judge:
                return
            if pending is None:
                pending = self.store.generations.count_pending() if self.settings.gating.required else 0
        except sqlite3.Error:
            return  # the database is busy or failing: the next poll tries again
        self.judge.waiting_note = _waiting_note(pending) if pending else ""
        self.judge.fetch_next_pair(first=True)

    @on(JudgeScreen.Voted)
    def refresh_active_queue(self, event: JudgeScreen.Voted) -> None:
        """``--strategy active``: every ``active_refresh_every`` votes of this session, recompute the pair
        priorities from all votes so far in a worker thread (its own connection; numpy/scipy load there, and the
        writes go in short transactions so votes never wait long for the lock)."""
        every = self.annotate.active_refresh_every
        if not every or event.session_votes % every or self.db_path is None:
            return
        config = self.store.queue.config()
        if config.get("strategy") != "active":
            return
        db_path, seed, focus_top = self.db_path, int(config.get("seed") or 0), config.get("focus_top")

        def refresh() -> None:
            from sbs_tui.core.queue.build import refresh_active_priorities

            with Store(db_path) as store:
                refresh_active_priorities(store, seed=seed, focus_top=focus_top, chunk=2000)

        self.run_worker(refresh, thread=True, exclusive=True, group="active-refresh", exit_on_error=False)

    def stop_gating(self) -> None:
        process, self.gate_process = self.gate_process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=3)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=3)

    def on_unmount(self) -> None:
        self.stop_gating()

    async def _on_exit_app(self) -> None:
        """Every way out — q, ctrl+c, the served session's quit message (a closed browser tab), SIGTERM, the
        server dying — passes here before Textual's own handler (which runs next, in the MRO): a vote still
        waiting for the database is written first (``JudgeScreen.save_before_exit``)."""
        judge = getattr(self, "judge", None)
        if judge is not None:  # (not ``is_attached``: that is False as soon as ``exit()`` was called)
            await judge.save_before_exit()


def _waiting_note(pending: int) -> str:
    return (f"{pending:,} generations are waiting for the automatic gates; pairs appear here as soon as both "
            "answers pass. Press q to quit.")


def make_app(db_path: str | os.PathLike[str] | None, annotator: str, settings: Settings | None = None, *,
             config_path: str | None = None, store: Store | None = None, gate_watch: bool = True) -> AnnotatorApp:
    """Build the annotator app over a database file (or an open ``store``, e.g. ``Store.memory()`` in tests)."""
    if not annotator or not annotator.strip():
        raise ValueError("annotator name must not be empty")
    if store is None:
        if db_path is None:
            raise ValueError("give db_path or store")
        store = Store(Path(db_path))
    return AnnotatorApp(store, annotator.strip(), settings or Settings(),
                        db_path=str(db_path) if db_path is not None else None, config_path=config_path,
                        gate_watch=gate_watch)


def run_annotator(db_path: str | os.PathLike[str], annotator: str, settings: Settings | None = None, *,
                  config_path: str | None = None, gate_watch: bool = True) -> int:
    """Run the annotator app in this terminal until the annotator quits (``sbs annotate``, ``sbs demo``).
    Returns the app's exit code: 0, or 1 after an unexpected error (reported as one line and a log file)."""
    if not Path(db_path).exists():
        raise FileNotFoundError(db_path)
    app = make_app(db_path, annotator, settings, config_path=config_path, gate_watch=gate_watch)
    app.freeze_gc = True
    try:
        app.run()
        if app.return_code in (0, None):
            _say_where_the_votes_are(app, db_path)
    finally:
        app.stop_gating()
        app.store.close()
    return app.return_code or 0


def _say_where_the_votes_are(app: AnnotatorApp, db_path: str | os.PathLike[str]) -> None:
    """On quitting: one line on stderr naming the database the votes are in (each was saved as it was cast)."""
    import sys

    from sbs_tui.present.text import escape

    who = app.queue.annotator
    done = sum(row["done"] for row in app.store.review.annotators() if row["annotator"] == who)
    print(f"{done:,} vote(s) by {escape(who)} are saved in {Path(db_path).resolve()}"
          " (each vote is saved as it is cast)", file=sys.stderr)
