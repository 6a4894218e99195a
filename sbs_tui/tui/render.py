"""Model outputs as Rich renderables that are always *literal*.

Model outputs are hostile data: Rich markup (``[bold]``, ``[link=...]``), ANSI escape sequences, zero-width and
bidirectional-override characters, lone surrogates, megabyte answers. Nothing here ever parses markup
(``rich.text.Text`` is built from plain strings); control and invisible format characters are replaced by visible,
dimmed stand-ins (``␛``, ``⟨U+200B⟩``) so the annotator *sees* that they are there instead of having the terminal
act on them; text beyond a limit is cut with a note saying how much is left, so a 1 MB answer cannot freeze the
screen. This module imports Rich only (no Textual), so it is cheap to test and benchmark.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.text import Text

if TYPE_CHECKING:
    from rich.markdown import Markdown

MARKER_STYLE = "reverse dim"
DIFF_STYLE = "bold underline on #5f3f00"
TRUNCATED_STYLE = "italic reverse"
DIFF_MAX_TOKENS = 4000

# C0 controls except tab and newline, DEL, C1 controls, Unicode format characters (zero-width, bidi overrides and
# isolates, BOM, soft hyphen, ...), line/paragraph separators and lone surrogates.
_HOSTILE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb"
    "\ud800-\udfff]"
)


def _stand_in(char: str) -> str:
    code = ord(char)
    if code == 0x1B:
        return "␛"
    if code < 0x20:
        return chr(0x2400 + code)  # Unicode control pictures: ␀ ␁ … ␟
    if code == 0x7F:
        return "␡"
    return f"⟨U+{code:04X}⟩"


def neutralise(text: str) -> tuple[str, list[tuple[int, int]]]:
    """Replace hostile characters with visible stand-ins; returns the new string and the stand-ins' spans."""
    text = text.replace("\r\n", "\n")
    parts: list[str] = []
    spans: list[tuple[int, int]] = []
    pos = 0
    out_len = 0
    for match in _HOSTILE.finditer(text):
        start = match.start()
        if start > pos:
            parts.append(text[pos:start])
            out_len += start - pos
        stand_in = _stand_in(match.group())
        parts.append(stand_in)
        spans.append((out_len, out_len + len(stand_in)))
        out_len += len(stand_in)
        pos = match.end()
    if not spans:
        return text, spans
    parts.append(text[pos:])
    return "".join(parts), spans


def cut(text: str, limit: int) -> tuple[str, int]:
    """The first ``limit`` characters and how many were left out (cut at a line break when one is near)."""
    if len(text) <= limit:
        return text, 0
    head = text[:limit]
    newline = head.rfind("\n", int(limit * 0.9))
    if newline > 0:
        head = head[:newline]
    return head, len(text) - len(head)


def truncation_note(hidden: int, key: str) -> str:
    return f"\n… {hidden:,} more characters — press {key} to show more"


def literal_text(text: str, *, limit: int, more_key: str = "e") -> Text:
    """A Rich Text that shows ``text`` exactly (never markup), with stand-ins for hostile characters."""
    head, hidden = cut(text, limit)
    plain, spans = neutralise(head)
    result = Text(plain, end="", no_wrap=False)
    for start, end in spans:
        result.stylize(MARKER_STYLE, start, end)
    if hidden:
        result.append(truncation_note(hidden, more_key), style=TRUNCATED_STYLE)
    return result


def markdown(text: str, *, limit: int, more_key: str = "e") -> Markdown | Text:
    """Markdown and code rendered by Rich (never Rich markup: Markdown text is inserted as plain text).

    HTML in an answer is shown as the literal text the model wrote. CommonMark passes HTML through for a browser
    to render, and Rich's terminal renderer then drops it: gemma-2b-it's answer to "write the HTML for adding an
    image" showed only its closing sentence, and 83 of 6,440 AlpacaEval answers lost text that way. With
    markdown-it's ``html`` option off, tags are ordinary text.

    Imported here, not at the top: markdown-it costs ~35 ms of start-up and raw text is the default."""
    head, hidden = cut(text, limit)
    plain, _spans = neutralise(head)
    if hidden:
        plain += "\n\n" + truncation_note(hidden, more_key).strip()
    return _literal_html_markdown()(plain, code_theme="monokai", hyperlinks=False)


@lru_cache(maxsize=1)
def _literal_html_markdown() -> type[Markdown]:
    """Rich's ``Markdown`` with a parser that treats HTML as text (built once; see :func:`markdown`)."""
    from markdown_it import MarkdownIt
    from rich.markdown import Markdown

    parser = MarkdownIt("commonmark", {"html": False}).enable("strikethrough").enable("table").disable("image")

    class LiteralHtmlMarkdown(Markdown):
        def __init__(self, markup: str, **kwargs) -> None:
            super().__init__("", **kwargs)  # Rich's own parser (with HTML on) sees nothing
            self.markup = markup
            self.parsed = parser.parse(markup)

    return LiteralHtmlMarkdown


_TOKEN = re.compile(r"\s+|\w+|[^\w\s]", re.UNICODE)


@lru_cache(maxsize=64)
def _diff_spans(left: str, right: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """Character spans of the words that differ, on each side (word-level SequenceMatcher, bounded cost)."""
    lt = [(m.start(), m.end()) for m in _TOKEN.finditer(left)][:DIFF_MAX_TOKENS]
    rt = [(m.start(), m.end()) for m in _TOKEN.finditer(right)][:DIFF_MAX_TOKENS]
    lw = [left[a:b] for a, b in lt]
    rw = [right[a:b] for a, b in rt]
    matcher = difflib.SequenceMatcher(None, lw, rw, autojunk=False)
    lspans: list[tuple[int, int]] = []
    rspans: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lspans.extend(lt[k] for k in range(i1, i2) if not lw[k].isspace())
        rspans.extend(rt[k] for k in range(j1, j2) if not rw[k].isspace())
    return tuple(lspans), tuple(rspans)


def diff_texts(left: str, right: str, *, limit: int, more_key: str = "e") -> tuple[Text, Text]:
    """Both answers as literal text with the words that differ highlighted (first DIFF_MAX_TOKENS words)."""
    lhead, lhidden = cut(left, limit)
    rhead, rhidden = cut(right, limit)
    lplain, lmarks = neutralise(lhead)
    rplain, rmarks = neutralise(rhead)
    lspans, rspans = _diff_spans(lplain, rplain)
    out = []
    for plain, marks, spans, hidden in ((lplain, lmarks, lspans, lhidden), (rplain, rmarks, rspans, rhidden)):
        text = Text(plain, end="")
        for start, end in spans:
            text.stylize(DIFF_STYLE, start, end)
        for start, end in marks:
            text.stylize(MARKER_STYLE, start, end)
        if hidden:
            text.append(truncation_note(hidden, more_key), style=TRUNCATED_STYLE)
        out.append(text)
    return out[0], out[1]


def describe_length(text: str) -> str:
    """"1,234 chars · 210 words" — shown above each answer (length is a known bias; annotators should see it)."""
    words = len(text.split()) if len(text) < 2_000_000 else len(text) // 6
    return f"{len(text):,} chars · {words:,} words"

