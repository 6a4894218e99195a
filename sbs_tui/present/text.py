"""The one literal-text rule: user data (model outputs, model/annotator/gate names) is shown exactly, never acted on.

User data is hostile: Rich markup (``[bold]``, ``[link=...]``), ANSI escape sequences, zero-width and
bidirectional-override characters, line/paragraph separators, lone surrogates. Two rules used to exist (the
annotator's, which escaped U+2028/U+2029, and the tables', which did not); this is the stricter of the two and the
only one. Every C0/C1 control (ESC included), every Unicode *format* character (zero-width, bidi overrides and
isolates, BOM, soft hyphen, tag characters), U+2028/U+2029 and lone surrogates are replaced by a visible stand-in
(``␛``, ``␀``…``␟``, ``␡``, ``⟨U+200B⟩``), so a reader *sees* that they are there; Rich markup is never parsed
(:func:`literal` builds a ``rich.text.Text`` from the plain string). Long answers keep tab and newline
(``multiline=True``); a name on one table row does not.

The character class is written out (a regular expression, ~20 ms per megabyte answer) rather than computed with
``unicodedata`` per character; ``tests/test_present_text.py`` checks that it covers every code point of the
categories Cc, Cf, Cs, Zl and Zp in the running Python's Unicode database.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from rich.text import Text

# Unicode 14/15 categories Cc (C0, DEL, C1), Cf (format: soft hyphen, Arabic/Syriac marks, zero-width, bidi
# embeddings/overrides/isolates, invisible operators, BOM, interlinear annotation, tag characters), Cs (lone
# surrogates), Zl and Zp (U+2028, U+2029). Tab and newline are removed from the class in multi-line mode.
_CLASS = (
    "\x00-\x1f\x7f-\x9f\u00ad\u0600-\u0605\u061c\u06dd\u070f\u0890\u0891\u08e2\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ud800-\udfff\ufeff\ufff9-\ufffb\U000110bd\U000110cd\U00013430-\U0001343f\U0001bca0-\U0001bca3"
    "\U0001d173-\U0001d17a\U000e0001\U000e0020-\U000e007f"
)
_HOSTILE_LINE = re.compile(f"[{_CLASS}]")
_HOSTILE_MULTILINE = re.compile(f"(?![\t\n])[{_CLASS}]")

MARKER_STYLE = "reverse dim"


def stand_in(char: str) -> str:
    """The visible stand-in for one hostile character: ``␛`` for ESC, control pictures for the other C0
    controls, ``␡`` for DEL, ``⟨U+XXXX⟩`` for everything else."""
    code = ord(char)
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␀ ␁ … ␟
    if code == 0x7F:
        return "␡"
    return f"⟨U+{code:04X}⟩"


def neutralise(text: str, *, multiline: bool = True) -> tuple[str, list[tuple[int, int]]]:
    """``text`` with hostile characters replaced by stand-ins, and the stand-ins' spans (to dim them).

    ``multiline`` keeps tab and newline (answers); CRLF becomes LF first. Without it (names, table cells) every
    control is replaced, so a name stays on its row."""
    if multiline:
        text = text.replace("\r\n", "\n")
    pattern = _HOSTILE_MULTILINE if multiline else _HOSTILE_LINE
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    out_len = 0
    for match in pattern.finditer(text):
        start = match.start()
        if start > pos:
            parts.append(text[pos:start])
            out_len += start - pos
        shown = stand_in(match.group())
        parts.append(shown)
        spans.append((out_len, out_len + len(shown)))
        out_len += len(shown)
        pos = match.end()
    if not spans:
        return text, spans
    parts.append(text[pos:])
    return "".join(parts), spans


def escape(text: object) -> str:
    """One line of user data as a plain string that is safe to print: every control and invisible character
    replaced by its stand-in (also what CSV cells and stderr warnings carry)."""
    return neutralise(str(text), multiline=False)[0]


def literal(text: object) -> Text:
    """A name (model, annotator, gate, experiment) as Rich text shown exactly: markup is not parsed, hostile
    characters are stand-ins, and the text carries no style, so it can neither restyle the terminal nor shift a
    table's columns."""
    from rich.text import Text

    return Text(escape(text))


def marked(text: str) -> Text:
    """Multi-line user data (an answer) as Rich text with the stand-ins dimmed, so a reader can tell a stand-in
    from text that merely looks like one."""
    from rich.text import Text

    plain, spans = neutralise(text)
    result = Text(plain, end="", no_wrap=False)
    for start, end in spans:
        result.stylize(MARKER_STYLE, start, end)
    return result
