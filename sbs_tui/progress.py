"""Progress reporting for long CLI operations: a rich bar on stderr when it is a terminal, nothing otherwise.

Why a small adapter: the core reports progress through a few calls (``start``/``advance``/``advance_to``) and
never imports rich, so pipelines that redirect stderr get clean logs and the core stays testable. Two shapes, one
module: bytes per file (imports) and items of a counted total (gate, score, judge).
"""

from __future__ import annotations

import sys
import time
from typing import Any


class FileProgress:
    """Byte-based progress per file, rendered with rich.progress (rate and ETA)."""

    def __init__(self, description: str, *, console: Any = None):
        from rich.console import Console
        from rich.progress import (BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn,
                                   TransferSpeedColumn)

        self._progress = Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            TimeRemainingColumn(), console=console or Console(stderr=True), transient=True,
        )
        self._description = description
        self._task: Any = None

    def __enter__(self) -> FileProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def start(self, path: str, total: int) -> None:
        from rich.markup import escape

        label = escape(f"{self._description} {path}")
        self._task = self._progress.add_task(label, total=total or None)

    def advance_to(self, done: int) -> None:
        if self._task is not None:
            self._progress.update(self._task, completed=done)

    def finish(self) -> None:
        if self._task is not None:
            task = self._progress.tasks[-1]
            self._progress.update(self._task, completed=task.total or task.completed)


class CountProgress:
    """Item-count progress — done of a total, rate, elapsed, time left — for ``sbs gate``, ``sbs score`` and
    ``sbs judge`` (the ``start``/``advance``/``stop`` calls of ``sbs_tui.core.gates.scoring.ScoreProgress``). It always
    counts (``done``, :attr:`remaining`, for the summary and the line an interruption prints) and draws a rich bar
    on stderr only when ``enabled``."""

    def __init__(self, label: str, *, unit: str = "gen", enabled: bool = True, console: Any = None):
        self.label = label
        self.unit = unit
        self.enabled = enabled
        self.total = 0
        self.done = 0
        self.started = time.perf_counter()
        self._console = console
        self._bar: Any = None
        self._task: Any = None

    def start(self, total: int) -> None:
        """Called once the work is counted: the clock (and the bar) start here."""
        self.total, self.started = total, time.perf_counter()
        if not self.enabled:
            return
        from rich.console import Console
        from rich.markup import escape
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn,
                                   TimeRemainingColumn)

        self._bar = Progress(TextColumn(escape(self.label)), BarColumn(), MofNCompleteColumn(),
                             TextColumn(f"{{task.fields[rate]}} {escape(self.unit)}/s"), TimeElapsedColumn(),
                             TimeRemainingColumn(), console=self._console or Console(stderr=True), transient=True)
        self._bar.start()
        self._task = self._bar.add_task(self.label, total=total or None, rate="-")

    def advance(self, n: int) -> None:
        self.done += n
        if self._bar is not None:
            speed = self._bar.tasks[0].speed
            self._bar.update(self._task, advance=n, rate=f"{speed:,.0f}" if speed else "-")

    def stop(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None

    def __enter__(self) -> CountProgress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def remaining(self) -> int:
        return max(self.total - self.done, 0)

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started

    @property
    def task(self) -> Any:
        """The rich task (its ``total`` and ``completed``), for tests and summaries."""
        return self._bar.tasks[0] if self._bar is not None else None


def count_progress(label: str, *, enabled: bool | None = None) -> CountProgress | None:
    """A count progress bar if stderr is a terminal (or ``enabled``), else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return CountProgress(label) if enabled else None


def file_progress(description: str, *, enabled: bool | None = None) -> FileProgress | None:
    """A progress bar if stderr is a terminal (or ``enabled``), else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return FileProgress(description) if enabled else None
