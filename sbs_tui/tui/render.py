"""Model outputs as Rich renderables: raw (literal) text, markdown, and the word-level diff.

Model outputs are hostile data; which characters are hostile and how they are shown is the one rule of
:mod:`sbs_tui.present.text` (re-exported here as ``neutralise`` for the answer panes). Nothing here ever parses
Rich markup; text beyond a limit is cut with a note saying how much is left, so a 1 MB answer cannot freeze the
screen. This module imports Rich only (no Textual), so it is cheap to test and benchmark.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import TYPE_CHECKING

from rich.text import Text

from sbs_tui.present.text import MARKER_STYLE, marked, neutralise

if TYPE_CHECKING:
    from rich.markdown import Markdown

DIFF_STYLE = "bold underline on #5f3f00"
TRUNCATED_STYLE = "italic reverse"
DIFF_MAX_TOKENS = 4000


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


def markdown(text: str, *, limit: int, more_key: str = "e") -> Markdown | Text:
    """Markdown and code rendered by Rich (never Rich markup: Markdown text is inserted as plain text).

    Imported here, not at the top: markdown-it costs ~35 ms of start-up and raw text is the default."""
    from rich.markdown import Markdown

    head, hidden = cut(text, limit)
    plain, _spans = neutralise(head)
    if hidden:
        plain += "\n\n" + truncation_note(hidden, more_key).strip()
    return Markdown(plain, code_theme="monokai", hyperlinks=False)


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

