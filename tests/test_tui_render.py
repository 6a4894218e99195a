"""Literal rendering of hostile model outputs (property tests: any string renders, nothing acts on the terminal)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from sbs_tui.tui import render

HOSTILE = st.text(st.characters(codec=None, exclude_categories=()), max_size=300) | st.sampled_from([
    "\x1b[31mred\x1b[0m", "[bold]x[/bold]", "[link=http://e]y[/link]", "a\u200bb", "\u202eevil\u202c", "\ud800",
    "\x00\x07\x08\r\n\x7f\x85\x9b", "漢字" * 50, ":smile: [/] [", "\ufeffBOM",
])


def plain(renderable, width: int = 40) -> str:
    console = Console(width=width, record=True, color_system=None, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(renderable)
    return console.export_text()


@settings(max_examples=100, deadline=None)
@given(HOSTILE, HOSTILE)
def test_every_mode_renders_any_text(left, right):
    for renderable in (render.literal_text(left, limit=1000), render.markdown(left, limit=1000),
                       *render.diff_texts(left, right, limit=1000)):
        shown = plain(renderable)
        assert "\x1b" not in shown and "\u202e" not in shown


def test_rich_markup_is_shown_not_applied():
    text = render.literal_text("[bold red]x[/] [link=http://e]y[/link]", limit=100)
    assert text.plain == "[bold red]x[/] [link=http://e]y[/link]" and not text.spans


def test_cut_prefers_a_line_break_and_counts_what_is_hidden():
    head, hidden = render.cut("line\n" * 1000, 2000)
    assert head.endswith("line") and hidden == 5000 - len(head)
    shown = render.literal_text("x" * 1_000_000, limit=20_000).plain
    assert len(shown) < 20_100 and "980,000 more characters" in shown


def test_diff_marks_only_the_words_that_differ():
    left, right = render.diff_texts("the cat sat on the mat", "the dog sat on the mat", limit=100)
    marked = lambda t: {t.plain[s.start:s.end] for s in t.spans}  # noqa: E731
    assert marked(left) == {"cat"} and marked(right) == {"dog"}
