"""The annotator app says what it does (issue 17 §6): `m` says when it leaves the diff, the status names the view
shown (diff, not "markdown" under a diff), toasts about one pair do not sit over the next, a digit in the criteria
dialog moves to the next field, and quitting says where the votes are."""

from __future__ import annotations

import pytest
from tests.annotate_helpers import make_store

from sbs_tui.config import Settings, parse_settings
from sbs_tui.tui.annotate.app import _say_where_the_votes_are, make_app


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sbs.db"
    make_store(path, prompts=6).close()
    return path


def _status(app) -> str:
    return str(app.screen.query_one("#status").render())


def _messages(app) -> list[str]:
    return [n.message for n in app._notifications]


async def test_diff_is_named_in_the_status_and_m_says_it_leaves_the_diff(db) -> None:
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "markdown" in _status(app).split(" · ")[-1]
        await pilot.press("d")
        modes = _status(app).split(" · ")[-1]
        assert modes.startswith("diff") and "markdown" not in modes, modes  # was "markdown sync diff"
        await pilot.press("m")
        await pilot.pause()
        assert any(m.startswith("Diff off: raw text") for m in _messages(app)), _messages(app)
        assert "diff" not in _status(app).split(" · ")[-1]


async def test_toasts_about_a_pair_do_not_carry_over_to_the_next(db) -> None:
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("e")  # short answers: "Everything is shown."
        assert "Everything is shown." in _messages(app)
        first = app.screen.pair.pair_id
        await pilot.press("1")
        await pilot.pause()
        assert app.screen.pair.pair_id != first
        assert "Everything is shown." not in _messages(app)


async def test_a_reveal_after_a_vote_still_shows(db) -> None:
    app = make_app(db, "ann", parse_settings({"annotate": {"reveal_after_vote": True}}), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        assert any(m.startswith("Left was ") for m in _messages(app))


async def test_a_digit_in_the_criteria_dialog_moves_to_the_next_field(db) -> None:
    app = make_app(db, "ann", parse_settings({"annotate": {"criteria": ["helpfulness", "honesty", "style"]}}),
                   gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("c")
        await pilot.pause()
        assert app.focused is not None and app.focused.id == "criterion-0"
        await pilot.press("1")
        await pilot.pause()
        assert app.focused.id == "criterion-1"
        await pilot.press("2", "3")
        await pilot.pause()
        assert app.focused.id == "criterion-2"  # the last field keeps the focus: Enter saves
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.criteria == {"helpfulness": "left", "honesty": "right", "style": "tie"} or \
            len(app.screen.criteria) == 3


async def test_quitting_says_where_the_votes_are(db, capsys) -> None:
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        await pilot.press("1")
        await pilot.pause()
        await pilot.press("2")
        await pilot.pause()
    _say_where_the_votes_are(app, db)
    assert capsys.readouterr().err.strip() == (f"2 vote(s) by ann are saved in {db.resolve()} (each vote is saved "
                                               "as it is cast)")
