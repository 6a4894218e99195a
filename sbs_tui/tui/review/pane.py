"""The review app's tab base: each tab recomputes in a worker and shows the frozen result on the UI thread.

Each pane computes in a thread worker (``ReviewPane.recompute``) that opens its own store through
:mod:`sbs_tui.core.views` (a view function run by :func:`~sbs_tui.core.views.on_db`) and posts the frozen result
back as a message; the pane then fills its widgets on the UI thread. A result carries the token of the request that
produced it, so a slow, superseded computation (thread workers cannot be interrupted) never overwrites a newer one.
Old numbers stay on screen while new ones are computed, with "computing…" in the pane's status line.
:class:`DetailPane` adds rows that open a record in a modal (the Votes and Blocked tabs).

The tabs are one module each (``ranking``, ``agreement``, ``queue``, ``funnel``, ``votes``, ``plots``,
``blocked``); what they share to draw is in :mod:`sbs_tui.tui.review.table`.
"""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from rich.text import Text
from textual import on, work
from textual.containers import VerticalScroll
from textual.css.query import NoMatches
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static
from textual.worker import get_current_worker

from sbs_tui.tui.review.jobs import Cancelled, JobRunner
from sbs_tui.tui.review.table import name


_gc_lock = threading.Lock()
_gc_pausers = 0  # computations running now
_gc_restore = True  # whether the collector was enabled when the first of them began


@contextmanager
def collection_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while any tab computes.

    Why: a full collection is stop-the-world, and a computation that builds a few hundred thousand objects (the
    agreement statistics over every vote) triggers several — each one freezes the UI thread too (measured at 200k
    votes: worst stall 112 ms with collections, 39 ms without). The objects are freed by reference counting when
    the worker finishes; the collector is re-enabled when the last computation ends (it was enabled before).
    """
    global _gc_pausers, _gc_restore
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_restore = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_restore:
                gc.enable()



class ReviewPane(VerticalScroll):
    """A tab's content: recompute in a thread, show the result on the UI thread."""

    class Loaded(Message):
        def __init__(self, token: int, result: Any, seconds: float, prepared: Any = None) -> None:
            super().__init__()
            self.token, self.result, self.seconds, self.prepared = token, result, seconds, prepared

    class Failed(Message):
        def __init__(self, token: int, error: str) -> None:
            super().__init__()
            self.token, self.error = token, error

    def __init__(self, db_path: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.db_path = db_path
        self.token = 0
        self.handled_token = 0  # the request whose result (or failure) is on screen
        self.result: Any = None
        self.prepared: Any = None  # what prepare() built from the result on the worker thread
        self.computed_at: str | None = None

    @property
    def voters(self) -> str:
        """Whose votes count — the ranking tab's picker (v), so every tab counts the same votes."""
        return str(getattr(self.app, "voters", "auto"))

    def status_widget(self) -> Static:
        return self.query_one(".pane-status", Static)

    @property
    def busy(self) -> bool:
        """A computation of this pane is still running."""
        return any(w.node is self and w.group == "review" and not w.is_finished for w in self.app.workers)

    def recompute(self) -> None:
        """Start a fresh computation; an earlier one still running is superseded."""
        if not self.is_attached:
            return
        try:
            status = self.status_widget()
        except NoMatches:  # being torn down (a timer firing as the app quits)
            return
        self.token += 1
        status.update(Text("computing…", style="italic"))
        self._work(self.token, self.job())

    def job(self) -> Callable[[], Any]:
        """What to compute: a picklable callable (a ``partial`` of :func:`on_db` and a core view) that returns
        plain data — run on the worker thread, or in a helper process for a large database (it never touches
        widgets either way; see :mod:`sbs_tui.tui.review.jobs`)."""
        raise NotImplementedError

    @work(thread=True, exclusive=True, exit_on_error=False, group="review")
    def _work(self, token: int, job: Callable[[], Any]) -> None:
        started = time.perf_counter()
        runner: JobRunner | None = getattr(self.app, "jobs", None)
        worker = get_current_worker()
        try:
            with collection_paused():
                result = runner.run(job, lambda: worker.is_cancelled, self.db_path) if runner else job()
                prepared = self.prepare(result)
        except Cancelled:
            return  # superseded, or the app is quitting: nobody waits for this result
        except Exception as exc:  # shown in the pane; the app keeps running
            self.post_message(self.Failed(token, f"{type(exc).__name__}: {exc}"))
            return
        self.post_message(self.Loaded(token, result, time.perf_counter() - started, prepared))

    def on_review_pane_loaded(self, message: Loaded) -> None:
        message.stop()
        if message.token != self.token:
            return  # superseded by a newer request
        self.handled_token = message.token
        self.result = message.result
        self.prepared = message.prepared
        self.computed_at = datetime.now().strftime("%H:%M:%S")
        try:
            self.show(message.result)
            self.status_widget().update(self.status_text(message.result, message.seconds))
            self.shown()
        except NoMatches:  # the result arrived while the app was closing
            pass

    def shown(self) -> None:
        """After a result is on screen (a hook: the detail panes move focus to their rows)."""

    @property
    def active(self) -> bool:
        """This pane's tab is the one shown."""
        from textual.widgets import TabbedContent, TabPane

        try:
            tabs = self.app.query_one(TabbedContent)
        except NoMatches:
            return False
        return any(isinstance(a, TabPane) and a.id == tabs.active for a in self.ancestors)

    def on_review_pane_failed(self, message: Failed) -> None:
        message.stop()
        if message.token != self.token:
            return
        self.handled_token = message.token
        self.status_widget().update(Text.assemble(("failed: ", "bold red"), name(message.error)))

    def note(self, selector: str, text: Text | str) -> None:
        """Fill an optional line of notes; hidden while empty, so no blank gaps open up."""
        widget = self.query_one(selector, Static)
        widget.update(text)
        widget.display = bool(text.plain if isinstance(text, Text) else text)

    def stamp(self, seconds: float) -> str:
        """When the numbers were taken and how long they took (left out where a stable screen is wanted)."""
        if not getattr(self.app, "timestamps", True):
            return "r refreshes"
        return f"as of {self.computed_at} ({seconds:.2f} s) · r refreshes"

    def status_text(self, result: Any, seconds: float) -> Text:
        return Text(self.stamp(seconds), style="dim")

    def prepare(self, result: Any) -> Any:
        """What ``show`` needs built from ``result``, built on the worker thread (it must not touch widgets):
        the cells of large tables (:func:`~sbs_tui.tui.review.table.grid`), so the UI thread only hands them over.
        ``show`` finds it in ``self.prepared`` (None where a pane builds nothing ahead)."""
        return None

    def show(self, result: Any) -> None:
        raise NotImplementedError



class DetailPane(ReviewPane):
    """A pane whose table rows open in a modal: enter on a row of ``DETAIL_TABLE`` loads that row's record (its id
    is the first cell) in a worker — the prompt and answers can be megabytes — then shows ``detail_screen``."""

    DETAIL_TABLE = ""  # the id of the table whose rows open

    class DetailLoaded(Message):
        def __init__(self, detail: dict[str, Any] | None) -> None:
            super().__init__()
            self.detail = detail

    def detail_job(self, key: int) -> Callable[[], dict[str, Any] | None]:
        """The record behind row ``key``, loaded on the worker thread (None when it is gone)."""
        raise NotImplementedError

    def detail_screen(self, detail: dict[str, Any]) -> ModalScreen[Any]:
        raise NotImplementedError

    def detail_closed(self, result: Any) -> None:
        """What the modal's result changes (nothing by default)."""

    def focus_rows(self) -> None:
        """Focus the table whose rows open, so enter opens the row under the cursor from the moment the tab is
        shown (before, focus stayed on the tab bar and enter did nothing until the table was clicked)."""
        try:
            table = self.query_one(f"#{self.DETAIL_TABLE}", DataTable)
        except NoMatches:
            return
        if table.display and table.row_count and self.app.screen is self.screen:
            table.focus()

    def shown(self) -> None:
        if self.active and not isinstance(self.app.focused, DataTable):
            self.focus_rows()

    @on(DataTable.RowSelected)
    def _row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != self.DETAIL_TABLE:
            return
        event.stop()
        self.open_detail(int(str(event.data_table.get_row_at(event.cursor_row)[0])))

    def open_detail(self, key: int) -> None:
        self._load_detail(self.detail_job(key))

    @work(thread=True, exclusive=True, exit_on_error=False, group="review-detail")
    def _load_detail(self, job: Callable[[], dict[str, Any] | None]) -> None:
        self.post_message(self.DetailLoaded(job()))

    def on_detail_pane_detail_loaded(self, message: DetailLoaded) -> None:
        message.stop()
        if message.detail is not None:
            self.app.push_screen(self.detail_screen(message.detail), self.detail_closed)
