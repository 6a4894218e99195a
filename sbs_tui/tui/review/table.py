"""What the review app's tabs share to draw: hostile text on one line, tables refilled in place.

Model, annotator, gate and experiment names are hostile text: every one goes through :func:`name` (rich ``Text``,
never markup; control, zero-width and bidi characters shown as stand-ins — the one rule of
:mod:`sbs_tui.present.text`); numbers are written by :mod:`sbs_tui.present.numbers`, and a column of them is
right-aligned by :func:`fill`.

A table's cells are built where they cost nothing to the screen: :func:`grid` is pure (a tab's worker thread calls
it, see ``ReviewPane.prepare``), and :func:`put` only hands the rows to the table — the first screenful at once,
the rest in slices of a few milliseconds between frames (issue 22: 500 votes added in one go held the UI thread
for 0.3–1 s on the loaded 2-core machine). The table ends up with exactly the rows it got before, in order.
:func:`grid` measures each column's width too, so a :class:`~sbs_tui.tui.review.sized.SizedTable` measures no
cell on the UI thread.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static

from sbs_tui.present.numbers import DASH
from sbs_tui.present.text import literal as name
from sbs_tui.tui.review.sized import SizedTable, widths

__all__ = ["DASH", "Grid", "SizedTable", "clipped", "fill", "grid", "name", "put", "stripped"]

FIRST_ROWS = 40  # rows added at once: more than a review table shows (24 lines), so what is seen comes at once
SLICE_SECONDS = 0.008  # UI-thread time one slice of the remaining rows may take before the screen gets a turn


def clipped(text: str | None, width: int = 60) -> Text:
    """A long hostile string (a prompt) on one line: escaped first, then cut."""
    shown = name(text or "")
    if len(shown) > width:
        shown.truncate(width - 1)
        shown.append("…")
    return shown


def stripped(text: Text) -> Text:
    """``text`` without trailing whitespace (rich's ``rstrip`` works in place and returns None)."""
    text.rstrip()
    return text


@dataclass(frozen=True)
class Grid:
    """A table's headings and cells, built off the UI thread (:func:`grid`), handed over by :func:`put`."""

    labels: list[Any]
    rows: list[list[Any]]
    widths: tuple[int, ...] | None = None  # per column, its widest cell (:func:`~sbs_tui.tui.review.sized.widths`)


def grid(columns: Iterable[Any], rows: Iterable[Iterable[Any]]) -> Grid:
    """The cells of a table, numbers right-aligned (a column of numbers gets a right-aligned heading too), and
    each column's width. Pure: safe on a worker thread, where the rich ``Text`` of a few thousand cells is built
    and measured without stalling the UI (a :class:`~sbs_tui.tui.review.sized.SizedTable` then measures none)."""
    cells = [[_justified(cell) for cell in row] for row in rows]
    labels = []
    for j, label in enumerate(columns):
        right = bool(cells) and isinstance(cells[0][j], Text) and cells[0][j].justify == "right"
        labels.append(Text(label, justify="right") if right and isinstance(label, str) else label)
    return Grid(labels, cells, widths(cells, len(labels)))


def fill(table: DataTable, columns: Iterable[Any], rows: Iterable[Iterable[Any]], *, empty: str | None = None) -> None:
    """Replace a table's columns and rows (cells built here; :func:`grid` + :func:`put` builds them elsewhere)."""
    put(table, grid(columns, rows), empty=empty)


def put(table: DataTable, cells: Grid, *, empty: str | None = None) -> None:
    """Show ``cells`` in ``table``, keeping the cursor row where it was when it still exists.

    The first :data:`FIRST_ROWS` rows are added now, the rest by a worker on the UI loop in slices of
    :data:`SLICE_SECONDS`, so keys and frames are served in between; a newer ``put`` cancels an unfinished one.

    ``empty``: why the table can be empty. With no rows the table is hidden and that one line shows in its place
    (a ``Static`` with id ``<table id>-empty`` next to it): a bare header row reads as "broken", not "nothing yet".
    """
    table.workers.cancel_group(table, "fill")
    cursor = table.cursor_row
    if isinstance(table, SizedTable):
        table.widths = cells.widths  # every row's, measured with the cells: the table measures none
    table.clear(columns=True)
    table.add_columns(*cells.labels)
    head, rest = cells.rows[:FIRST_ROWS], cells.rows[FIRST_ROWS:]
    table.add_rows(head)
    if cursor < len(head):
        table.move_cursor(row=cursor)
    if rest:
        async def add_rest() -> None:
            await _add_rest(table, rest, cursor)

        # textual's stub wants Coroutine[None, None, ...]; an async def is Coroutine[Any, Any, ...]
        table.run_worker(add_rest, group="fill", exclusive=True, exit_on_error=False)  # type: ignore[arg-type]
    elif table.row_count:
        table.move_cursor(row=min(cursor, table.row_count - 1))
    if empty is not None:
        table.display = bool(cells.rows)
        _empty_note(table, empty, shown=not cells.rows)


async def _add_rest(table: DataTable, rows: list[list[Any]], cursor: int) -> None:
    """Add ``rows`` in slices of :data:`SLICE_SECONDS`, yielding to the event loop between slices."""
    done = 0
    while done < len(rows):
        await asyncio.sleep(0)  # a cancelled fill (a newer put) stops here, before adding another row
        started = time.perf_counter()
        while done < len(rows) and time.perf_counter() - started < SLICE_SECONDS:
            table.add_row(*rows[done])
            done += 1
    if cursor >= FIRST_ROWS:
        table.move_cursor(row=min(cursor, table.row_count - 1))


def _empty_note(table: DataTable, reason: str, *, shown: bool) -> None:
    """Put (or update) the one-line reason shown in place of ``table`` while it has no rows."""
    from textual.widget import Widget

    parent = table.parent
    if not isinstance(parent, Widget) or table.id is None:
        return
    found = parent.query(f"#{table.id}-empty")
    note = found.first(Static) if found else Static(id=f"{table.id}-empty", classes="empty-note")
    note.update(Text(reason, style="italic dim"))
    note.display = shown
    if not found:
        parent.mount(note, after=table)



def _justified(cell: Any) -> Any:
    """Numbers (and the dash standing for none) right-aligned; names and words as they are."""
    if isinstance(cell, str) and cell and (cell[0].isdigit() or cell[0] in "+-−<×" or cell == DASH):
        return Text(cell, justify="right")
    return cell
