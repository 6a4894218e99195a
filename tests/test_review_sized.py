"""The review app's UI thread measures no table cell and walks no startup object in a collection (issue 22).

What the stall profiler (``bench/stall_profile.py``) found in the worst stalls at 1M votes, each checked here: the
``DataTable`` measuring every added cell on the UI thread (now measured with the cells on the tab's worker,
:mod:`sbs_tui.tui.review.sized`), and full garbage collections walking the whole heap (the app's startup objects
are now frozen). The profiler itself is checked on a stall made on purpose.
"""

from __future__ import annotations

import asyncio
import gc
import time
from pathlib import Path

import pytest
from rich.text import Text
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from sbs_tui.config import Settings
from sbs_tui.tui.review.app import make_review_app
from sbs_tui.tui.review.sized import SizedTable
from sbs_tui.tui.review.table import FIRST_ROWS, clipped, grid, name, put
from tests.review_helpers import HOSTILE, build_review_db
from tests.test_review import settle
from tests.test_review_stall import drained


@pytest.fixture(scope="module")
def review_db(tmp_path_factory) -> Path:
    return build_review_db(tmp_path_factory.mktemp("sized") / "review.db")


def rows(n: int) -> list[list[object]]:
    """Cells of every kind a review table holds: hostile names, wide characters, markup-looking words (a ``str``
    cell is markup to a DataTable, as before), styled text, numbers, empty cells."""
    kinds = [name(HOSTILE), clipped("模型名 " * 9, 20), "[b]bold?[/b]", Text("⚑", style="bold red"), "",
             name("zero\u200bwidth"), clipped("🙂 emoji " * 5, 14)]
    return [[str(i * 37), kinds[i % len(kinds)], f"{i / 7:.2f}", kinds[(i * 3) % len(kinds)]]
            for i in range(n)]


class Two(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="measuring")
        yield SizedTable(id="sized")


async def test_a_sized_table_shows_exactly_what_a_measuring_table_shows() -> None:
    """Same columns, same widths, same lines on screen — the widths measured with the cells instead of by the
    table — for more rows than one slice, so the rest arrive in slices."""
    cells = grid(["Id", "Name", "Rate", "Other"], rows(FIRST_ROWS * 3))
    app = Two()
    async with app.run_test(size=(150, 60)) as pilot:
        measuring, sized = app.query_one("#measuring", DataTable), app.query_one("#sized", SizedTable)
        put(measuring, cells)
        put(sized, cells)
        await drained(pilot)
        await pilot.pause(0.1)
        assert sized.row_count == measuring.row_count == FIRST_ROWS * 3
        assert [c.content_width for c in sized.ordered_columns] == \
            [c.content_width for c in measuring.ordered_columns]
        assert sized.virtual_size == measuring.virtual_size
        lines = range(sized.size.height)
        assert [sized.render_line(y).text for y in lines] == [measuring.render_line(y).text for y in lines]
        assert sized.measured_rows == 0 and sized.widths == cells.widths


async def test_a_sized_table_without_widths_measures_as_a_datatable_does() -> None:
    app = Two()
    async with app.run_test(size=(150, 60)) as pilot:
        sized = app.query_one("#sized", SizedTable)
        sized.add_columns("a", "b")
        sized.add_rows([["x" * 30, "y"], ["z", "w" * 12]])
        await pilot.pause(0.1)
        assert [c.content_width for c in sized.ordered_columns] == [30, 12]
        assert sized.measured_rows == 2


async def test_the_ui_thread_measures_no_cell_of_the_review_tables(review_db: Path, monkeypatch) -> None:
    """Before, every table measured each cell of its rows on the UI thread (the votes tab alone: hundreds of
    rows × 10 columns on each refresh)."""
    measured: list[int] = []
    original = DataTable._update_dimensions

    def counted(self, new_rows):
        new_rows = list(new_rows)
        measured.append(len(new_rows))
        return original(self, new_rows)

    monkeypatch.setattr(DataTable, "_update_dimensions", counted)
    app = make_review_app(review_db, Settings(), timestamps=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        for key in "35r":
            await pilot.press(key)
            await settle(pilot)
        await drained(pilot)
        assert app.query_one("#votes-table", DataTable).row_count > 60
        assert measured and sum(measured) == 0, measured


async def test_the_objects_alive_at_start_are_out_of_the_collectors_sight(review_db: Path) -> None:
    """A full collection walked the whole heap (Textual, every widget, every module) on the UI thread, and came
    every 10 gen-1 collections."""
    from sbs_tui.tui.review.app import FULL_COLLECTION_EVERY

    before = gc.get_threshold()
    app = make_review_app(review_db, Settings(), timestamps=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert gc.get_freeze_count() > 10_000
        assert gc.get_threshold() == (*before[:2], FULL_COLLECTION_EVERY) and FULL_COLLECTION_EVERY > before[2]
    assert gc.get_freeze_count() == 0 and gc.get_threshold() == before  # given back when the app ends


def test_the_stall_profiler_names_what_held_the_loop() -> None:
    """A stall made on purpose: the profiler finds it, about as long as it was, with the function on the stack."""
    from bench.stall_profile import StallProfiler

    def hold_the_loop() -> None:
        end = time.thread_time() + 0.3  # CPU time: on a loaded machine the wall clock runs on without it
        while time.thread_time() < end:  # Python running on the loop's thread, as a slow redraw does
            pass

    async def run() -> StallProfiler:
        profiler = StallProfiler(threshold=0.05, step=lambda: "held")
        profiler.start()
        await asyncio.sleep(0.05)
        hold_the_loop()
        await asyncio.sleep(0.05)
        profiler.stop()
        return profiler

    report = asyncio.run(run()).report(top=10_000)  # every function: a stall under pytest has deep stacks
    worst = report["worst"][0]
    assert worst["step"] == "held" and 290 <= worst["ms"] <= 10_000
    assert worst["ui_cpu_ms"] >= 280  # it ran: the UI thread's own CPU, told from the machine's
    held = dict(report["inclusive_ms"])
    assert any("hold_the_loop" in function for function in held)
    assert max(ms for f, ms in held.items() if "hold_the_loop" in f) >= 200


async def test_a_tab_shown_draws_each_cell_once(review_db: Path, monkeypatch) -> None:
    """Switching to the queue tab drew every visible cell twice: before and after the scrollbar it then needed
    narrowed it. (The votes tab still draws twice, before and after its table takes focus: drawing it once, in
    one frame, showed no gain in the stall bench.)"""
    from collections import Counter

    drawn: Counter[tuple[str | None, int, int]] = Counter()
    original = DataTable._render_cell

    def counted(self, row_index, column_index, *args, **kwargs):
        drawn[(self.id, row_index, column_index)] += 1
        return original(self, row_index, column_index, *args, **kwargs)

    monkeypatch.setattr(DataTable, "_render_cell", counted)
    app = make_review_app(review_db, Settings(), timestamps=False)
    async with app.run_test(size=(120, 16)) as pilot:  # short: each tab needs its scrollbar
        await settle(pilot)
        for key, table in (("3", "queue-annotators"), ("4", "funnel-gates")):
            drawn.clear()
            await pilot.press(key)
            await settle(pilot)
            await pilot.pause(0.2)
            ours = {cell: n for cell, n in drawn.items() if cell[0] == table}
            assert ours, f"tab {key} drew nothing of {table}"
            assert max(ours.values()) == 1, (key, Counter(ours.values()))


def page_cache(store) -> int:
    return store.conn.execute("PRAGMA cache_size").fetchone()[0]


def test_the_queue_tab_reads_with_a_bounded_page_cache(review_db: Path) -> None:
    """The queue tab's helper grew 82 → 307 MB from 1M to 10M votes: SQLite's page cache (256 MB, the store's
    ceiling for imports) filled by one scan of every vote's index entry. Its view now reads with 32 MB at most."""
    from sbs_tui.core.views import READ_CACHE_KIB, on_db, read_on_db
    from sbs_tui.tui.review.queue import QueuePane

    job = QueuePane(str(review_db)).job()
    assert job.func is read_on_db
    assert read_on_db(str(review_db), page_cache) == -READ_CACHE_KIB
    assert on_db(str(review_db), page_cache) < -READ_CACHE_KIB  # the store's own ceiling, larger
    assert job().summary == on_db(str(review_db), job.args[1], **job.keywords).summary  # the same numbers
