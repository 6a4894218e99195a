"""A ``DataTable`` whose column widths are measured with its cells, off the UI thread (the review app's tables).

Why: ``DataTable`` measures every cell of the rows added since its last idle moment — on the UI thread, in
``_on_idle`` → ``_update_dimensions``: the cell turned into a renderable (markup parsed for a ``str``), then its
width. The stall profiler (``bench/stall_profile.py``, issue 22) found that measuring 50–115 ms of the worst
stalls of the review app's tour at 1M votes (the votes tab's 500 rows × 10 columns, the queue tab's lists). The
tab's worker thread builds the cells anyway (:func:`~sbs_tui.tui.review.table.grid`); :func:`widths` measures
them there, exactly as the table would (its own cell formatter, Textual's ``measure``), and :class:`SizedTable`
takes those widths instead of measuring again. Every column is as wide as its widest cell from the first frame
on (before, a column could widen as later slices of rows arrived). A table given no widths measures as usual.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from textual.widgets import DataTable
from textual.widgets._data_table import RowKey


def widths(rows: Iterable[Sequence[Any]], columns: int) -> tuple[int, ...]:
    """Per column, the widest of ``rows``' cells as a ``DataTable`` of one-line rows measures it. Pure (its own
    console): safe on a worker thread."""
    from io import StringIO

    from rich.console import Console
    from textual.render import measure
    from textual.widgets._data_table import default_cell_formatter

    console = Console(file=StringIO(), width=1000, color_system=None)
    widest = [0] * columns
    for row in rows:
        for j, cell in enumerate(row):
            if cell is None or j >= columns:
                continue
            shown = default_cell_formatter(cell, wrap=False, height=1)
            if shown:
                widest[j] = max(widest[j], measure(console, shown, 1))
    return tuple(widest)


class SizedTable(DataTable):
    """A ``DataTable`` that takes its columns' content widths from :attr:`widths` when they are given."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.widths: tuple[int, ...] | None = None  # set with the rows they were measured from; None: measure
        self.measured_rows = 0  # rows this table measured itself (the tests count them)

    def _update_dimensions(self, new_rows: Iterable[RowKey]) -> None:
        """The table's sizes after rows were added: from :attr:`widths` when they fit the columns (no cell is
        measured), else measured by ``DataTable`` as usual. Rows are one line high (no row labels, no auto
        height), so widths are all there is to measure."""
        known = self.widths
        if known is None or len(known) != len(self.columns) or self._labelled_row_exists:
            rows = list(new_rows)
            self.measured_rows += len(rows)
            super()._update_dimensions(rows)
            return
        for column, width in zip(self.ordered_columns, known, strict=True):
            column.content_width = max(column.content_width, width)
        super()._update_dimensions(())  # no new rows to measure: the virtual size from the columns' widths
