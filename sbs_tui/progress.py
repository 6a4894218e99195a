"""Progress reporting for long CLI operations: a rich bar on stderr when it is a terminal, nothing otherwise.

Why a small adapter: the core reports progress through two calls (``start``/``advance_to``) and never imports
rich, so pipelines that redirect stderr get clean logs and the core stays testable.
"""

from __future__ import annotations

import sys
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


def file_progress(description: str, *, enabled: bool | None = None) -> FileProgress | None:
    """A progress bar if stderr is a terminal (or ``enabled``), else None."""
    if enabled is None:
        enabled = sys.stderr.isatty()
    return FileProgress(description) if enabled else None
