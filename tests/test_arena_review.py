"""The arena budget in the review app (issue 23): the lead's Queue tab shows the lines `sbs arena status` prints,
from the same core function (``arena_ledger.arena_budget``), and nothing about an arena when the campaign has
none."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from textual.widgets import Static

from sbs_tui.config import load_settings
from sbs_tui.core.generate import arena, arena_ledger
from sbs_tui.core.generate.generation import Answer
from sbs_tui.core.settings import Settings
from sbs_tui.core.store import Store
from sbs_tui.core.views.queue import queue_view
from sbs_tui.tui.review.app import make_review_app
from tests.test_arena_campaign import priced_config
from tests.test_review import plain, settle

SIZE = (160, 50)


def campaign(tmp_path: Path, budget: str) -> tuple[Path, Path]:
    """A priced arena campaign with three battles in its ledger: voted, gated, incomplete."""
    path = priced_config(tmp_path, {"alpha-secret": ("http://127.0.0.1:9/v1", "org/alpha"),
                                    "beta-secret": ("http://127.0.0.1:9/v1", "org/beta")}, budget)
    settings = load_settings(path)
    cfg = dataclasses.replace(arena.load_arena(settings), budget=None)  # the ledger is written whatever the budget
    specs = {s.name: s for s in cfg.models}
    db = tmp_path / "review.db"
    store = Store(db)
    for k, (a, b) in enumerate((("done", "done"), ("blocked", "done"), ("failed", "done"))):
        battle = arena.new_battle(f"prompt {k}", "alpha-secret", "beta-secret")
        arena_ledger.begin(store, battle, "ann", cfg)
        for side, status in zip(battle.sides, (a, b), strict=True):
            side.status = status
            if status != "failed":
                side.answer = Answer("ok", 10, 5 + k, 0.1, 1.0)
        arena_ledger.finish(store, battle, specs)
        if k == 0:
            arena.store_vote(store, battle, "a", "ann")
    store.close()
    return path, db


async def test_the_queue_tab_shows_the_arena_budget_as_sbs_arena_status_does(tmp_path: Path, cli) -> None:
    path, db = campaign(tmp_path, "budget = 50\n")
    status = cli("--db", str(db), "--config", str(path), "arena", "status")
    assert status.exit_code == 0, status.stderr
    expected = status.stdout.strip()
    assert "remaining" in expected and "voted 1, gated 1, incomplete 1" in expected
    app = make_review_app(db, load_settings(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        shown = app.query_one("#queue-arena", Static)
        assert shown.display and plain(shown) == expected  # one truth: the same numbers, the same words
        assert "secret" not in plain(shown)  # the lead's budget line names no model either


async def test_a_spent_budget_is_flagged_and_no_arena_shows_nothing(tmp_path: Path, cli) -> None:
    path, db = campaign(tmp_path, "budget = 0.01\n")
    app = make_review_app(db, load_settings(path))
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert "(spent: no new battles)" in plain(app.query_one("#queue-arena", Static))
    bare = tmp_path / "bare.db"
    Store(bare).close()
    app = make_review_app(bare, Settings())
    async with app.run_test(size=SIZE) as pilot:
        await settle(pilot)
        await pilot.press("3")
        await settle(pilot)
        assert not app.query_one("#queue-arena", Static).display
        assert not app.query_one("#queue-arena-title", Static).display


def test_the_view_carries_the_status_json(tmp_path: Path, cli) -> None:
    """`sbs arena status --format json` and the view the review app draws hold the same object."""
    import json

    path, db = campaign(tmp_path, "budget = 50\n")
    settings = load_settings(path)
    with Store(db) as store:
        view = queue_view(store, arena=settings.arena)
    assert view.arena is not None
    printed = json.loads(cli("--db", str(db), "--config", str(path), "arena", "status", "--format", "json").stdout)
    assert view.arena.as_json() == printed
