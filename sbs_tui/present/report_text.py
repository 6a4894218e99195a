"""Cell formatting shared by the HTML and Markdown reports (numbers, percentages, literal names)."""

from __future__ import annotations

import math
from typing import Any

from sbs_tui.present.numbers import DASH, INFINITY, MINUS_INFINITY, percent
from sbs_tui.present.numbers import p_value as p_text  # re-exported: "< 1e-10", never 0.0000
from sbs_tui.present.text import escape


def literal_text(value: Any) -> str:
    """A user-supplied value as plain text under the one literal rule (:mod:`sbs_tui.present.text`); the HTML
    and Markdown writers escape their own syntax on top."""
    return escape("" if value is None else value)


def fmt(value: Any, digits: int = 2, *, lower: bool = False, upper: bool = False) -> str:
    """A number with ``digits`` decimals; ``None`` is "—", or "−∞"/"∞" for an unbounded interval side."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return MINUS_INFINITY if lower else INFINITY if upper else DASH
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return literal_text(value)
    return f"{value:,.{digits}f}"


def pct(value: Any, *, signed: bool = False) -> str:
    """A share in [0, 1] as a percentage."""
    return percent(value, 1, signed=signed)


def points(value: Any) -> str:
    """A value already in percentage points (``win_rate`` in the rank JSON) with its % sign."""
    text = fmt(value, 1)
    return text if text == DASH else f"{text}%"


MIN_CELL_VOTES = 10  # a win-rate cell over fewer votes is shown greyed: a share of 3 votes says little
TEST_NAMES = {"welch_t": "Welch's t-test", "two_proportion_z": "two-proportion z-test"}


def whole(value: Any) -> str:
    """A count (votes, wins, losses, ties) as an integer with thousands separators."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return DASH
    return f"{int(round(float(value))):,}"


def test_name(test: Any) -> str:
    """A statistical test's identifier (``two_proportion_z``) as a reader names it."""
    return TEST_NAMES.get(str(test), literal_text(test).replace("_", " ")) if test else ""


def counted(doc: dict[str, Any] | None) -> str:
    """Whose votes a section counted, as its heading says it ("49 votes by humans"); empty when unknown."""
    if not doc or doc.get("voters") is None:
        return ""
    from sbs_tui.core.scope import described

    return described(str(doc["voters"]), int(doc.get("votes") or 0))
