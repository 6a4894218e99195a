"""The lead app's plots tab (Pilot): every plot drawn from the real database, names drawn literally, and the
numbers the same as the ranking's."""

from __future__ import annotations

from pathlib import Path

import pytest

from sbs_tui.config import Settings
from sbs_tui.core.analysis.plots import collect_plot_data
from sbs_tui.core.store import Store
from sbs_tui.tui.review.app import make_review_app
from tests.review_helpers import HOSTILE, HUMANS, build_review_db
from tests.test_review import settle


@pytest.fixture(scope="module")
def plots_db(tmp_path_factory) -> Path:
    return build_review_db(tmp_path_factory.mktemp("plots") / "review.db")


def test_plot_data_matches_the_ranking_and_covers_every_plot(plots_db: Path) -> None:
    from sbs_tui.core.ranking.api import RankRequest, run_ranking

    from sbs_tui.core.scope import resolve_voters

    with Store(plots_db) as store:
        everyone = collect_plot_data(store, voters="all")
        ranking_all = run_ranking(store, RankRequest(method="bt", ci="sandwich")).to_json()
        data = collect_plot_data(store)  # auto: the humans' votes, as the ranking tab counts by default
        scope = resolve_voters(store.votes.annotator_kinds(), "auto")
        counted = scope.voters
        ranking = run_ranking(store, RankRequest(method="bt", ci="sandwich", annotators=scope.names)).to_json()
        ranking_all = run_ranking(store, RankRequest(method="bt", ci="sandwich", voters="all")).to_json()
    assert counted == data.voters == "humans" and everyone.voters == "all"
    assert data.votes == ranking["votes"] == 89 and everyone.votes == 209
    assert [r[1] for r in everyone.ratings] == pytest.approx([m["rating"] for m in ranking_all["models"]])
    assert [r[0] for r in data.ratings] == [m["model"] for m in ranking["models"]]
    assert [r[1] for r in data.ratings] == pytest.approx([m["rating"] for m in ranking["models"]])
    names, matrix = data.win_matrix
    assert len(names) == len(matrix) == len(data.ratings)
    checkpoints, series = data.convergence
    assert checkpoints == sorted(checkpoints) and checkpoints[-1] == sum(1 for _ in range(checkpoints[-1]))
    # the last convergence point is the fit on every vote: the BT point estimate itself
    final = {m: values[-1] for m, values in series.items()}
    for model, rating, *_ in data.ratings:
        assert final[model] == pytest.approx(rating, abs=1e-6)
    assert set(HUMANS) <= set(data.activity)
    assert sum(n for _, n in data.activity["alice"]) == 30


async def test_plots_tab_draws_every_plot_with_literal_names(plots_db: Path) -> None:
    from textual_plotext import PlotextPlot

    from sbs_tui.tui.review.plots import PLOTS

    app = make_review_app(plots_db, Settings(), timestamps=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        assert app.query_one("#tabs").active == "plots"
        texts = {}
        for plot_id, _ in PLOTS:
            if plot_id == "plot-matrix":
                continue
            rendered = app.query_one(f"#{plot_id}", PlotextPlot).render()
            texts[plot_id] = rendered.plain if hasattr(rendered, "plain") else str(rendered)
            assert "\x1b" not in texts[plot_id] and "\u202e" not in texts[plot_id]
        assert "gpt4_1106_previ" in texts["plot-ratings"] and HOSTILE not in texts["plot-ratings"]
        assert "votes" in texts["plot-convergence"] and "claude-2" in texts["plot-convergence"]
        assert "alice" in texts["plot-activity"] and "carol" in texts["plot-activity"]
        from textual.widgets import Static

        matrix = app.query_one("#plot-matrix", Static)
        lines = [strip.text for strip in matrix.render_lines(matrix.region.reset_offset)]
        assert any("gpt4_1106_previ" in line and "%" in line for line in lines)
        assert not any("\x1b" in line for line in lines)
        assert "no gate results yet" in texts["plot-gates"]  # this database has statuses but no gate_results
        assert "fewer than two stages" in texts["plot-funnel"]


async def test_votes_on_one_day_are_points_not_a_wall(tmp_path: Path) -> None:
    """Issue 17 §6: with one day of votes the votes-per-day plot drew one bar as wide as the plot."""
    from textual_plotext import PlotextPlot

    from sbs_tui.core.records import VoteRecord

    db = tmp_path / "oneday.db"
    with Store(db) as store, store.transaction():
        store.votes.insert([VoteRecord(prompt_id=f"p{k}", prompt=f"q{k}", model_a="a", model_b="b",
                                       winner="model_a", annotator=("ann1", "ann2")[k % 2],
                                       ts=f"2026-12-07T10:{k:02d}:00Z") for k in range(8)])
    app = make_review_app(db, Settings(), timestamps=False)
    async with app.run_test(size=(160, 60)) as pilot:
        await pilot.press("6")
        await settle(pilot)
        rendered = app.query_one("#plot-activity", PlotextPlot).render()
        text = rendered.plain if hasattr(rendered, "plain") else str(rendered)
        assert "12-07" in text and "●" in text
        assert text.count("█") < 20, text.count("█")  # the old single bar filled hundreds of cells
