"""Model outputs as Rich renderables: raw (literal) text, markdown, and the word-level diff.

Model outputs are hostile data; which characters are hostile and how they are shown is the one rule of
:mod:`sbs_tui.present.text` (re-exported here as ``neutralise`` for the answer panes). Nothing here ever parses
Rich markup; text beyond a limit is cut with a note saying how much is left, so a 1 MB answer cannot freeze the
screen. This module imports Rich only (no Textual), so it is cheap to test and benchmark.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from functools import lru_cache
from itertools import islice
from typing import TYPE_CHECKING

from rich.text import Text

from sbs_tui.present.text import MARKER_STYLE, marked, neutralise

if TYPE_CHECKING:
    from rich.console import Group
    from rich.markdown import Markdown

DIFF_STYLE = "bold underline on #5f3f00"
TRUNCATED_STYLE = "italic reverse"
DIFF_MAX_TOKENS = 4000
# Beyond this many comparisons (estimated), the word diff lets difflib treat very frequent words as junk: exact
# matching of a 4,000-word answer whose lines repeat ("line 1 with some words", "line 2 with ...") took minutes.
DIFF_WORK_LIMIT = 200_000
# Markdown is parsed and laid out for this many characters; beyond, the answer goes on as raw text. A fully
# expanded 100,000-line answer made `m` stall for seconds; past this size the raw view costs the same as markdown
# would, and structure (headers, lists) matters less than seeing everything.
MARKDOWN_MAX_CHARS = 50_000


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
    result = marked(head)
    if hidden:
        result.append(truncation_note(hidden, more_key), style=TRUNCATED_STYLE)
    return result


def markdown(text: str, *, limit: int, more_key: str = "e") -> Markdown | Text | Group:
    """Markdown and code rendered by Rich (never Rich markup: Markdown text is inserted as plain text).

    HTML in an answer is shown as the literal text the model wrote. CommonMark passes HTML through for a browser
    to render, and Rich's terminal renderer then drops it: gemma-2b-it's answer to "write the HTML for adding an
    image" showed only its closing sentence, and 83 of 6,440 AlpacaEval answers lost text that way. With
    markdown-it's ``html`` option off, tags are ordinary text.

    Imported here, not at the top: markdown-it costs ~35 ms of start-up and raw text is the default."""
    head, hidden = cut(text, limit)
    if len(head) <= MARKDOWN_MAX_CHARS:
        plain, _spans = neutralise(head)
        if hidden:
            plain += "\n\n" + truncation_note(hidden, more_key).strip()
        return _literal_html_markdown()(plain, code_theme="monokai", hyperlinks=False)
    # Very long: markdown for the first MARKDOWN_MAX_CHARS, then the rest as raw text (bounded work).
    from rich.console import Group

    md_part, _ = cut(head, MARKDOWN_MAX_CHARS)
    raw_part = head[len(md_part):].lstrip("\n")
    plain, _spans = neutralise(md_part)
    raw = literal_text(raw_part, limit=len(raw_part) + 1)
    if hidden:
        raw.append(truncation_note(hidden, more_key), style=TRUNCATED_STYLE)
    note = Text(f"— markdown shown for the first {len(md_part):,} characters; the rest as raw text —",
                style=TRUNCATED_STYLE)
    return Group(_literal_html_markdown()(plain, code_theme="monokai", hyperlinks=False), Text(""), note,
                 Text(""), raw)


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


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


@lru_cache(maxsize=64)
def _diff_spans(left: str, right: str) -> tuple[tuple[tuple[int, int], ...], tuple[tuple[int, int], ...]]:
    """Character spans of the words that differ, on each side (word-level SequenceMatcher, bounded cost)."""
    lt = list(islice(((m.start(), m.end()) for m in _WORD.finditer(left)), DIFF_MAX_TOKENS))
    rt = list(islice(((m.start(), m.end()) for m in _WORD.finditer(right)), DIFF_MAX_TOKENS))
    lw = [left[a:b] for a, b in lt]
    rw = [right[a:b] for a, b in rt]
    # Whitespace is not a token (it was half of them, each matching every other: quadratic work for nothing);
    # beyond DIFF_WORK_LIMIT estimated comparisons, frequent words become difflib's junk (bounded work).
    counts = Counter(rw)
    work = sum(counts[w] for w in lw)
    matcher = difflib.SequenceMatcher(None, lw, rw, autojunk=work > DIFF_WORK_LIMIT)
    lspans: list[tuple[int, int]] = []
    rspans: list[tuple[int, int]] = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        lspans.extend(lt[i1:i2])
        rspans.extend(rt[j1:j2])
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
    chars = len(text)
    return f"{chars:,} char{'' if chars == 1 else 's'} · {words:,} word{'' if words == 1 else 's'}"

