"""The console every results table prints on.

Piped output (stdout not a terminal) is not squeezed into 80 columns: tables take the width they need and
lines do not wrap, so ``sbs rank | less -S`` or a file keeps one row per line (``$COLUMNS`` still wins when set).
"""

from __future__ import annotations

import os
from typing import IO, Any

PIPED_WIDTH = 10_000  # "no wrapping": wider than any table, and Rich pads nothing beyond a table's own width


def console(file: IO[str] | None = None) -> Any:
    """A Rich console for results: highlighting off (numbers and names are not re-coloured), and, when not
    writing to a terminal, as wide as the content needs."""
    from rich.console import Console

    class ResultConsole(Console):
        def on_broken_pipe(self) -> None:
            """Rich exits 1 on a closed pipe; ``sbs rank | head -2`` is a success (the CLI exits 0 quietly)."""
            raise BrokenPipeError()

    out = ResultConsole(highlight=False, file=file)
    if not out.is_terminal and "COLUMNS" not in os.environ:
        out = ResultConsole(highlight=False, file=file, width=PIPED_WIDTH)
    return out
