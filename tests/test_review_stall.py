"""The review app keeps the UI thread for drawing only (issue 22): plot figures and table cells are built in
workers, plots are not redrawn for unchanged data or while their tab is hidden, and a large table is handed to the
screen in slices, so keys and frames are served while it fills."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from textual.app import App, ComposeResult
from textual.widgets import DataTable

from sbs_tui.config import Settings
from sbs_tui.tui.review.app import make_review_app
from sbs_tui.tui.review.table import fill
from tests.review_helpers import build_review_db
from tests.test_review import settle


@pytest.fixture(scope="module")
def review_db(tmp_path_factory) -> Path:
    return build_review_db(tmp_path_factory.mktemp("stall") / "review.db")


def ui_thread_calls(monkeypatch, owner: object, attribute: str) -> list[bool]:
    """Wrap ``owner.attribute`` to record, per call, whether it ran on the UI (main) thread."""
    calls: list[bool] = []
    original = getattr(owner, attribute)

    def recorded(*args, **kwargs):
        calls.append(threading.current_thread() is threading.main_thread())
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, attribute, recorded)
    return calls


async def test_plots_are_built_off_the_ui_thread_once_per_data(review_db: Path, monkeypatch) -> None:
    """Before, every plot's figure was built in ``render`` on the UI thread — on every layout pass too, and for a
    refresh whose data had not changed."""
    from textual_plotext.plot import Plot

    builds = ui_thread_calls(monkeypatch, Plot, "build")
    app = make_review_app(review_db, Settings(), timestamps=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        assert builds == []  # the plots tab is hidden: nothing drawn for it yet
        await pilot.press("6")
        await settle(pilot)
        assert len(builds) == 5 and not any(builds), builds  # five plotext plots, each built once, in a worker
        await pilot.press("r")
        await settle(pilot)
        assert len(builds) == 5  # the same data again: the drawings are kept
        await pilot.resize_terminal(140, 60)
        await settle(pilot)
        assert len(builds) == 10 and not any(builds)  # a new size is drawn anew, off the UI thread


async def test_table_cells_are_built_on_the_worker_thread(review_db: Path, monkeypatch) -> None:
    """The votes tab's literal cells (hundreds of rich Texts) were built on the UI thread in ``show``."""
    import sbs_tui.tui.review.votes as votes

    cells = ui_thread_calls(monkeypatch, votes, "clipped")
    app = make_review_app(review_db, Settings(), timestamps=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await settle(pilot)
        table = app.query_one("#votes-table", DataTable)
        assert table.row_count > 60 and cells and not any(cells)


async def drained(pilot) -> None:
    """Every worker done (a fill replaced by a newer one ends cancelled)."""
    from textual.worker import WorkerCancelled

    while True:
        try:
            await pilot.app.workers.wait_for_complete()
            break
        except WorkerCancelled:
            continue
    await pilot.pause()


class TableApp(App[None]):
    def compose(self) -> ComposeResult:
        yield DataTable(id="t")


async def test_a_large_table_is_filled_in_slices_while_the_app_stays_responsive() -> None:
    """Before, ``fill`` added every row in one go: 500 votes held the UI thread 0.3–1 s on a loaded machine."""
    rows = [[str(k), f"name {k}", f"{k * 1.5:.1f}"] for k in range(3000)]
    app = TableApp()
    async with app.run_test() as pilot:
        table = app.query_one(DataTable)
        seen: list[int] = []
        app.set_interval(0.001, lambda: seen.append(table.row_count))
        fill(table, ["Id", "Name", "Score"], rows)
        assert 0 < table.row_count < len(rows)  # the first screenful now, the rest later
        await drained(pilot)
        assert table.row_count == len(rows)
        assert [table.get_row_at(k)[1] for k in (0, 1500, 2999)] == ["name 0", "name 1500", "name 2999"]
        assert any(0 < n < len(rows) for n in seen)  # a timer ran while the table was still filling
        # a newer fill replaces an unfinished one: the old rows never come back
        fill(table, ["Id", "Name", "Score"], rows)
        fill(table, ["Id"], [["only"]])
        await drained(pilot)
        assert table.row_count == 1 and str(table.get_row_at(0)[0]) == "only"
