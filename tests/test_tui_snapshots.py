"""Snapshots of the judging screen (pytest-textual-snapshot). Update with ``pytest --snapshot-update`` after a
deliberate layout change, and look at the report before committing."""

from __future__ import annotations

import pytest
from tests.annotate_helpers import MODELS, make_store

from sbs_tui.config import Settings
from sbs_tui.tui.app import make_app

LEFT = ("Here is a **markdown** answer with [bold]Rich markup[/bold] that must stay literal,\n"
        "an escape \x1b[31mcode\x1b[0m, a zero\u200bwidth space and Cyrillic: Съешь же ещё этих мягких "
        "французских булок.\n\n```python\nprint('hello')\n```\n")
RIGHT = ("Ответ на русском языке. 日本語のテキストは二倍の幅で表示され、正しく折り返される必要があります。"
         "漢字とかなの混じった文。\n\n- a list item\n- another item with [red]markup[/red]\n")


async def settle(pilot) -> None:
    """Wait for the background count of remaining pairs, so the status line is deterministic."""
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


@pytest.fixture
def app(tmp_path):
    path = tmp_path / "snap.db"
    make_store(path, prompts=1, models=MODELS[:2], outputs={(0, MODELS[0]): LEFT, (0, MODELS[1]): RIGHT}).close()
    return make_app(path, "snapshot-annotator", Settings(), gate_watch=False)


def test_judge_80x24_stacked(app, snap_compare):
    """Guards the narrow layout: prompt, both answers stacked, footer, hostile text literal."""
    assert snap_compare(app, terminal_size=(80, 24), run_before=settle)


def test_judge_160x50_side_by_side(app, snap_compare):
    """Guards the wide layout: answers side by side with lengths; CJK wraps on cell width."""
    assert snap_compare(app, terminal_size=(160, 50), run_before=settle)


def test_judge_160x50_diff(app, snap_compare):
    """Guards word-level diff highlighting."""
    assert snap_compare(app, terminal_size=(160, 50), press=["d"], run_before=settle)


def test_help_80x24(app, snap_compare):
    """Guards the help screen listing every key."""
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"], run_before=settle)
