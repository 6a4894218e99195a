"""What the review app's tabs share to draw: hostile text on one line, tables refilled in place.

Model, annotator, gate and experiment names are hostile text: every one goes through :func:`name` (rich ``Text``,
never markup; control, zero-width and bidi characters shown as stand-ins — the one rule of
:mod:`sbs_tui.present.text`); numbers are written by :mod:`sbs_tui.present.numbers`, and a column of them is
right-aligned by :func:`fill`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.text import Text
from textual.widgets import DataTable, Static

from sbs_tui.present.numbers import DASH
from sbs_tui.present.text import literal as name

__all__ = ["DASH", "clipped", "fill", "name", "stripped"]


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


def fill(table: DataTable, columns: Iterable[Any], rows: Iterable[Iterable[Any]], *, empty: str | None = None) -> None:
    """Replace a table's columns and rows, keeping the cursor row where it was when it still exists.

    ``empty``: why the table can be empty. With no rows the table is hidden and that one line shows in its place
    (a ``Static`` with id ``<table id>-empty`` next to it): a bare header row reads as "broken", not "nothing yet".
    """
    cursor = table.cursor_row
    table.clear(columns=True)
    grid = [[_justified(cell) for cell in row] for row in rows]
    labels = []
    for j, label in enumerate(columns):  # a column of numbers gets a right-aligned heading
        right = bool(grid) and isinstance(grid[0][j], Text) and grid[0][j].justify == "right"
        labels.append(Text(label, justify="right") if right and isinstance(label, str) else label)
    table.add_columns(*labels)
    for row in grid:
        table.add_row(*row)
    if table.row_count:
        table.move_cursor(row=min(cursor, table.row_count - 1))
    if empty is not None:
        table.display = bool(grid)
        _empty_note(table, empty, shown=not grid)


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
