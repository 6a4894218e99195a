"""HTML in answers is shown as the text the model wrote, in the markdown view (both panes) and the diff.

CommonMark passes HTML through for a browser; Rich's terminal renderer then drops it. On real AlpacaEval outputs
that hid whole answers (gemma-2b-it's HTML ``<form>``); these tests use those answers.
"""

from __future__ import annotations

import io
import json
import re

import pytest
from rich.console import Console
from tests.annotate_helpers import MODELS, make_store

from sbs_tui.config import Settings
from sbs_tui.tui import render
from sbs_tui.tui.annotate.app import make_app
from sbs_tui.tui.widgets.answer import AnswerPane

TAG = re.compile(r"</?[a-zA-Z][a-zA-Z0-9-]*(?:\s[^<>]*)?>")
FENCED = re.compile(r"```.*?(?:```|$)", re.S)


def drawn(renderable, width: int = 100) -> str:
    console = Console(width=width, file=io.StringIO(), color_system=None, record=True)
    console.print(renderable)
    return console.export_text()


def squeeze(text: str) -> str:
    return re.sub(r"\s+", "", text)


def gemma_form_answer(shared_alpaca) -> str:
    for line in (shared_alpaca / "outputs" / "gemma-2b-it.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        if '<form action="add_image.html"' in record["output"]:
            return record["output"]
    pytest.fail("gemma-2b-it's <form> answer is not in the shared data")


def test_the_html_form_answer_is_shown_in_full(shared_alpaca):
    answer = gemma_form_answer(shared_alpaca)
    shown = squeeze(drawn(render.markdown(answer, limit=20_000)))
    for tag in ('<form action="add_image.html" method="post">', '<input type="file" name="image">',
                '<input type="submit" value="Add Image">', "</form>"):
        assert squeeze(tag) in shown
    assert squeeze("This form should be submitted to the") in shown


def test_every_tag_outside_code_in_the_alpaca_outputs_is_shown(shared_alpaca):
    checked = 0
    for path in sorted((shared_alpaca / "outputs").glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            output = json.loads(line)["output"]
            tags = TAG.findall(FENCED.sub("", output))
            if not tags:
                continue
            checked += 1
            shown = squeeze(drawn(render.markdown(output, limit=10**7)))
            missing = [t for t in tags if squeeze(t) not in shown]
            assert not missing, f"{path.name}: {missing[:3]}"
    assert checked >= 70  # the answers that lost text before


def test_images_and_links_keep_their_text():
    shown = drawn(render.markdown('a = "![Example](https://example.com)"; b = "<i>x</i>"', limit=1000))
    assert "Example" in shown and "https://example.com" in shown and "<i>x</i>" in shown


async def test_both_panes_and_the_diff_show_the_html(tmp_path, shared_alpaca):
    answer = gemma_form_answer(shared_alpaca)
    db = tmp_path / "h.db"
    other = answer.replace("Add Image", "Upload")
    make_store(db, prompts=1, models=MODELS[:2], outputs={(0, MODELS[0]): answer, (0, MODELS[1]): other}).close()
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        judge = app.screen
        assert judge.markdown_mode  # the default view
        for mode in ("markdown", "diff"):
            if mode == "diff":
                await pilot.press("d")
                await pilot.pause()
            for pane in ("left", "right"):
                widget = judge.query_one(f"#{pane}", AnswerPane)
                shown = squeeze(drawn(widget.renderable, width=widget.content_region.width))
                assert squeeze('<form action="add_image.html" method="post">') in shown, (mode, pane)
                assert squeeze("</form>") in shown, (mode, pane)
