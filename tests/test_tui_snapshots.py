"""Snapshots of the judging screen (pytest-textual-snapshot). Update with ``pytest --snapshot-update`` after a
deliberate layout change, and look at the report before committing."""

from __future__ import annotations

import pytest
from tests.annotate_helpers import MODELS, make_store

from sbs_tui.config import Settings, parse_settings
from sbs_tui.tui.annotate.app import make_app

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
    """Guards the help screen listing every key, one line each, all of it on an 80×24 screen (issue 11)."""
    assert snap_compare(app, terminal_size=(80, 24), press=["question_mark"], run_before=settle)


INSTRUCTIONS = ("Write a good Twitter bio. Cover all the main points below.\n\nName: Jane\nMain points:\n"
                "- Architect\n- Interested in [bold]tech[/bold]\nWritten in first person\nUse a casual tone")


@pytest.fixture
def long_prompt_app(tmp_path):
    from sbs_tui.core.queue.build import BuildOptions, build_queue
    from sbs_tui.core.records import GenerationRecord, prompt_id_for
    from sbs_tui.core.store import Store

    path = tmp_path / "prompt.db"
    store = Store(path)
    pid = prompt_id_for(INSTRUCTIONS)
    with store.transaction():
        store.generations.insert([GenerationRecord(pid, INSTRUCTIONS, MODELS[0], LEFT),
                                  GenerationRecord(pid, INSTRUCTIONS, MODELS[1], RIGHT)])
        store.generations.set_gate_status(store.generations.ids(), "passed")
    build_queue(store, BuildOptions())
    store.close()
    settings = parse_settings({"annotate": {"criteria": ["helpfulness", "factuality"]}})
    return make_app(path, "snapshot-annotator", settings, gate_watch=False)


def test_judge_160x50_prompt_fitted_left_focused(long_prompt_app, snap_compare):
    """Guards (issue 11) the prompt box as tall as an 8-line prompt, and focus shown without colour: the left
    answer, reached with two Tabs, has a heavy border and a ▶ in its title."""
    assert snap_compare(long_prompt_app, terminal_size=(160, 50), press=["tab", "tab"], run_before=settle)


def test_judge_80x24_footer_keeps_quit(long_prompt_app, snap_compare):
    """Guards (issue 11) the footer at 80 columns with criteria set: votes, Criteria, Help and Quit on screen
    (Flag and Rationale give way), and the prompt box capped at a third of the height."""
    assert snap_compare(long_prompt_app, terminal_size=(80, 24), run_before=settle)
