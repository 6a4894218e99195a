"""The annotator app (``sbs annotate``): blind side-by-side judging, one keypress per vote.

``make_app`` is the one way to build it — the CLI, ``sbs serve``, ``sbs demo`` and the tests all call it — and
``run_annotator`` runs it in the terminal. The app process never imports torch or transformers: when gates are
required and generations are still pending, it starts ``sbs gate --watch`` as a *subprocess* (which loads the
scorer models there), polls the store for pairs that became available, and stops the subprocess on quit.
"""

from __future__ import annotations

import gc
import os
import subprocess
from pathlib import Path

from textual import on
from textual.app import App
from textual.binding import Binding

from sbs_tui.config import Settings, annotate_settings
from sbs_tui.core.queue import AnnotatorQueue
from sbs_tui.core.store import Store
from sbs_tui.tui.screens.judge import JUDGE_KEYS, JudgeScreen

POLL_SECONDS = 2.0

_KEY_DISPLAY = {"question_mark": "?", "space": "space", "escape": "esc"}


class AnnotatorApp(App[None]):
    CSS_PATH = "app.tcss"
    TITLE = "sbs annotate"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [Binding("ctrl+c", "quit", "Quit", show=False, priority=True, id="app_quit")]

    def __init__(self, store: Store, annotator: str, settings: Settings, *, db_path: str | None = None,
                 config_path: str | None = None, gate_watch: bool = True):
        super().__init__()
        self.store = store
        self.settings = settings
        self.annotate = annotate_settings(settings)
        self.queue = AnnotatorQueue(store, annotator, gating_required=settings.gating_required)
        self.db_path = db_path
        self.config_path = config_path
        self.gate_watch = gate_watch
        self.freeze_gc = False
        self.gate_process: subprocess.Popen[bytes] | None = None
        self.gate_log: Path | None = None
        self.keymap = dict(self.annotate.keys)
        self.sub_title = annotator

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
        pending = self.store.generations.count_pending() if self.settings.gating_required else 0
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
        """Gates required and generations pending: gate them in a subprocess (torch stays out of this process).
        Its output goes to ``<database>.gate.log``."""
        if not self.gate_watch or self.db_path is None:
            return
        from sbs_tui.cli import COMMANDS

        if "gate" not in COMMANDS:
            self.notify(f"{pending:,} generations wait for gates, but this installation has no `sbs gate` "
                        "command; run the gates elsewhere or set SBS_GATING_REQUIRED=0.",
                        severity="warning", timeout=10)
            return
        from sbs_tui.core.gating import watcher_command  # the gates' own argv builder (imports nothing heavy)

        command = watcher_command(str(self.db_path), self.config_path)
        try:
            self.gate_log = Path(f"{self.db_path}.gate.log")
            with self.gate_log.open("ab") as log:
                self.gate_process = subprocess.Popen(
                    command, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
        except OSError as exc:
            self.notify(f"could not start background gating: {exc}", severity="error", timeout=10, markup=False)
            return
        self.notify("Gating pending generations in the background…", timeout=4)

    def _poll_for_pairs(self) -> None:
        process = self.gate_process
        if process is not None and process.poll() is not None:
            self.gate_process = None
            if process.returncode:
                self.notify(f"Background gating stopped (exit {process.returncode}); see {self.gate_log}",
                            severity="warning", timeout=10, markup=False)
        if self.judge.pair is not None or self.screen is not self.judge:
            return
        pending = self.store.generations.count_pending() if self.settings.gating_required else 0
        self.judge.waiting_note = _waiting_note(pending) if pending else ""
        pair = self.queue.next_pair()
        if pair is not None:
            self.judge.show_pair(pair)
            self.judge.count_remaining()
        else:
            self.judge.show_pair(None)

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
            from sbs_tui.core.queue import refresh_active_priorities

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
        store = Store(db_path)
    return AnnotatorApp(store, annotator.strip(), settings or Settings(),
                        db_path=str(db_path) if db_path is not None else None, config_path=config_path,
                        gate_watch=gate_watch)


def run_annotator(db_path: str | os.PathLike[str], annotator: str, settings: Settings | None = None, *,
                  config_path: str | None = None, gate_watch: bool = True) -> None:
    """Run the annotator app in this terminal until the annotator quits (``sbs annotate``, ``sbs demo``)."""
    if not Path(db_path).exists():
        raise FileNotFoundError(db_path)
    app = make_app(db_path, annotator, settings, config_path=config_path, gate_watch=gate_watch)
    app.freeze_gc = True
    try:
        app.run()
    finally:
        app.stop_gating()
        app.store.close()
