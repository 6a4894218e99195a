"""Issue 17 §6, the review app's last rough edges: the method picker is never cut, empty tables say why they
are empty, plot titles are readable on the dark theme."""

from __future__ import annotations

import pytest
from textual.widgets import DataTable, Select, Static

from sbs_tui.config import Settings
from sbs_tui.core.ranking.request import METHODS, RankRequest
from sbs_tui.core.store import Store
from sbs_tui.tui.review.app import make_review_app
from tests.test_review import plain, settle


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (120, 40), (140, 40)])
async def test_the_method_picker_shows_its_longest_option_whole(tmp_path, size):
    """At 120 columns the method picker had 8 columns for "trueskill" (drawn "trueskil")."""
    path = tmp_path / "empty.db"
    Store(path).close()
    longest = max(METHODS, key=len)
    app = make_review_app(path, Settings(), rank_options=RankRequest(method=longest))
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        current = app.query_one("#rank-method", Select).query_one("SelectCurrent")
        shown = current.query(Static).first()
        assert str(shown.render()) == longest
        assert shown.content_size.width >= len(longest) and shown.content_size.height == 1


EMPTY_REASONS = {
    "agreement": {"#agree-annotators": "no annotators with votes yet", "#agree-position": "no decisive votes",
                  "#agree-judges": "no items judged by both a judge and humans",
                  "#agree-pairs": "no two annotators judged the same items"},
    "queue": {"#queue-annotators": "no annotators or votes yet"},
    "funnel": {"#funnel-gates": "no gate results yet (sbs gate)", "#funnel-stages": "no stage has scores yet",
               "#funnel-corr": "fewer than two stages"},
    "blocked": {"#blocked-per-model": "no blocked or held generations"},
}


async def test_every_empty_table_says_why_it_is_empty(tmp_path):
    path = tmp_path / "empty.db"
    Store(path).close()
    app = make_review_app(path, Settings(), timestamps=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        for tab, tables in EMPTY_REASONS.items():
            app.action_tab(tab)
            await settle(pilot)
            for table_id, reason in tables.items():
                table = app.query_one(table_id, DataTable)
                assert table.row_count == 0 and not table.display, table_id
                note = app.query_one(f"{table_id}-empty", Static)
                assert note.display and reason in plain(note), (table_id, plain(note))


async def test_a_table_with_rows_hides_its_empty_reason(tmp_path):
    from tests.review_helpers import build_review_db

    path = build_review_db(tmp_path / "review.db", votes_each=6)
    app = make_review_app(path, Settings(), rank_options=RankRequest(rounds=50), timestamps=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        app.action_tab("queue")
        await settle(pilot)
        table = app.query_one("#queue-annotators", DataTable)
        assert table.row_count and table.display
        assert not app.query("#queue-annotators-empty") or not app.query_one("#queue-annotators-empty").display
        app.action_tab("blocked")
        await settle(pilot)
        assert app.query_one("#blocked-per-model", DataTable).row_count
        assert not app.query_one("#blocked-per-model-empty").display


def _contrast(a: str, b: str) -> float:
    """WCAG 2 contrast ratio between two colours."""
    from textual.color import Color

    def luminance(colour: str) -> float:
        channels = []
        for c in Color.parse(colour).rgb:
            c = c / 255
            channels.append(c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4)
        r, g, b_ = channels
        return 0.2126 * r + 0.7152 * g + 0.0722 * b_

    hi, lo = sorted((luminance(a), luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


async def test_plot_titles_are_readable_on_the_dark_theme(tmp_path):
    """The plot titles took the border's colour ($panel, #242f38) on the dark background: contrast 1.3."""
    import re

    from tests.review_helpers import build_review_db
    from sbs_tui.tui.review.plots import PLOTS

    path = build_review_db(tmp_path / "review.db", votes_each=6)
    app = make_review_app(path, Settings(), rank_options=RankRequest(rounds=50), timestamps=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        assert app.current_theme.dark
        background = app.theme_variables["background"]
        for _, title in PLOTS:
            first_word = title.split()[0]
            pattern = r'<text class="([\w-]+)"[^>]*>&#160;%s&#160;' % re.escape(first_word)
            for _ in range(50):  # the grid may still be laying out on a loaded machine
                svg = app.export_screenshot()
                if found := re.search(pattern, svg):
                    break
                await pilot.pause(0.1)
            assert found, title
            fill = re.search(r"\.%s \{[^}]*fill: (#[0-9a-fA-F]{6})" % re.escape(found.group(1)), svg)
            assert fill, title
            assert _contrast(fill.group(1), background) >= 4.5, (title, fill.group(1), background)


def _footer_descriptions(app) -> list[str]:
    from textual.widgets._footer import FooterKey

    return [key.description for key in app.query(FooterKey)]


async def test_a_served_lead_opens_the_annotator_app_with_one_key(tmp_path):
    """Issue 17 §4: the lead's annotator app is one key away in the review app that `sbs serve` runs for them."""
    path = tmp_path / "empty.db"
    Store(path).close()
    url = "http://127.0.0.1:8000/?app=annotate"
    app = make_review_app(path, Settings(), annotate_url=url)
    opened: list[str] = []
    app.open_url = lambda u, *, new_tab=True: opened.append(u)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Annotator app" in _footer_descriptions(app)
        await pilot.press("a")
        await pilot.pause()
    assert opened == [url]


async def test_without_a_server_the_annotator_key_is_absent(tmp_path):
    path = tmp_path / "empty.db"
    Store(path).close()
    app = make_review_app(path, Settings())
    opened: list[str] = []
    app.open_url = lambda u, *, new_tab=True: opened.append(u)  # type: ignore[method-assign]
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "Annotator app" not in _footer_descriptions(app)
        await pilot.press("a")
        await pilot.pause()
    assert opened == []
