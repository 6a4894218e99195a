"""The one literal-text rule (sbs_tui.present.text): nothing hostile survives, nothing is styled, markup is text."""

from __future__ import annotations

import sys
import unicodedata

from hypothesis import given, settings
from hypothesis import strategies as st
from rich.console import Console

from sbs_tui.present import text as rule
from sbs_tui.tui import render

HOSTILE = st.text(st.characters(codec=None, exclude_categories=()), max_size=300) | st.sampled_from([
    "\x1b[31mred\x1b[0m", "[bold]x[/bold]", "[link=http://e]y[/link]", "a\u200bb", "\u202eevil\u202c", "\ud800",
    "\x00\x07\x08\r\n\x7f\x85\x9b", "漢字" * 50, ":smile: [/] [", "\ufeffBOM", "a\u2028b\u2029c",
    "\u2066iso\u2069\u2067late\u2068", "tag\U000e0041\U000e0062", "soft\u00adhyphen", "[bold]x\x1b[2J\u200by\u202e",
])
DANGEROUS = ("Cc", "Cf", "Cs", "Zl", "Zp")


def _dangerous(ch: str) -> bool:
    return unicodedata.category(ch) in DANGEROUS


def test_the_class_covers_every_control_format_and_separator_code_point():
    """The written-out class is checked against the Unicode database of the running Python."""
    missed = [f"U+{c:04X}" for c in range(sys.maxunicode + 1)
              if unicodedata.category(chr(c)) in DANGEROUS and not rule._HOSTILE_LINE.match(chr(c))]
    assert missed == []
    # multi-line mode keeps exactly tab and newline
    assert not rule._HOSTILE_MULTILINE.match("\t") and not rule._HOSTILE_MULTILINE.match("\n")
    assert rule._HOSTILE_MULTILINE.match("\r") and rule._HOSTILE_MULTILINE.match("\u2028")


@settings(max_examples=200, deadline=None)
@given(HOSTILE)
def test_escaped_text_holds_no_control_or_bidi_character_and_renders_unstyled(text):
    out = rule.escape(text)
    assert not any(_dangerous(ch) for ch in out)
    shown = rule.literal(text)
    assert shown.plain == out and shown.spans == [] and not shown.style
    console = Console(width=400, record=True, color_system="truecolor", force_terminal=True,
                      file=open("/dev/null", "w"))  # noqa: SIM115
    segments = list(console.render(shown))
    assert all(seg.style is None or not seg.style for seg in segments if seg.text.strip())
    assert "".join(seg.text for seg in segments).rstrip("\n") == out


@settings(max_examples=150, deadline=None)
@given(HOSTILE)
def test_neutralised_text_has_no_control_or_invisible_characters(text):
    out, spans = rule.neutralise(text)
    assert not rule._HOSTILE_MULTILINE.search(out)
    assert not any(_dangerous(ch) for ch in out if ch not in "\t\n")
    for start, end in spans:
        assert out[start:end].startswith(("⟨U+", "␛", "␡")) or 0x2400 <= ord(out[start]) <= 0x241F


def test_one_rule_for_names_and_answers():
    """The tables' names and the annotator's answers escape the same characters the same way (they had
    diverged: U+2028/U+2029 reached every CLI table raw)."""
    hostile = "[bold]x\x1b[2J\u200by\u202e\u2028z\u2029"
    assert rule.escape(hostile) == "[bold]x␛[2J⟨U+200B⟩y⟨U+202E⟩⟨U+2028⟩z⟨U+2029⟩"
    assert render.literal_text(hostile, limit=100).plain == rule.escape(hostile)
    assert render.neutralise is rule.neutralise
    # a name stays on its row; an answer keeps its lines and tabs
    assert rule.escape("a\nb\tc\r") == "a␊b␉c␍"
    assert rule.neutralise("a\r\nb\tc")[0] == "a\nb\tc"


def test_marked_dims_only_the_stand_ins():
    shown = rule.marked("ok\x1bok")
    assert shown.plain == "ok␛ok" and [(s.start, s.end, str(s.style)) for s in shown.spans] == [
        (2, 3, rule.MARKER_STYLE)]
