"""`m` and `d` on a fully expanded, very long answer do bounded work (issue 13: 5–6 s stalls on 100k lines)."""

from __future__ import annotations

import difflib
import re
import time

from rich.console import Group

from sbs_tui.tui import render
from tests.test_render_html import drawn, squeeze

LONG = "\n".join(f"line {i} with some words here" for i in range(100_000))


def test_markdown_is_parsed_for_a_bounded_prefix_and_the_rest_is_raw_text():
    shown = render.markdown(LONG, limit=10**8)
    assert isinstance(shown, Group)
    document = shown.renderables[0]
    assert len(document.markup) <= render.MARKDOWN_MAX_CHARS
    # nothing is lost: every line is there, in order (checked on a shorter text to keep the test fast)
    text = LONG[: render.MARKDOWN_MAX_CHARS * 2]
    shown = drawn(render.markdown(text, limit=10**8), width=200)
    assert "the rest as raw text" in shown
    assert squeeze(text) == squeeze(re.sub(r"— markdown shown for the first .* as raw text —", "", shown))


def test_markdown_of_an_ordinary_answer_is_one_document():
    assert not isinstance(render.markdown("# Title\n\n- a\n- b\n", limit=1000), Group)


def test_word_diff_of_repetitive_answers_is_bounded(monkeypatch):
    seen = []
    real = difflib.SequenceMatcher

    def spy(*args, **kwargs):
        seen.append(kwargs.get("autojunk"))
        return real(*args, **kwargs)

    monkeypatch.setattr(difflib, "SequenceMatcher", spy)
    render._diff_spans.cache_clear()
    started = time.monotonic()
    left, right = render._diff_spans(LONG, LONG.replace("words", "wordz"))
    assert time.monotonic() - started < 30  # exact matching took minutes
    assert seen == [True]
    assert left and all(LONG[a:b] == "words" for a, b in left)
    # an ordinary pair is still matched exactly
    render.diff_texts("the cat sat on the mat", "the dog sat on the mat", limit=100)
    assert seen[-1] is False
