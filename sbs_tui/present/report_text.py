"""Cell formatting shared by the HTML and Markdown reports (numbers, percentages, literal names)."""

from __future__ import annotations

import math
from typing import Any

from sbs_tui.results_render import escape_controls


def literal_text(value: Any) -> str:
    """A user-supplied value as plain text with control/format characters shown as escapes."""
    return escape_controls("" if value is None else str(value))


def fmt(value: Any, digits: int = 2, *, lower: bool = False, upper: bool = False) -> str:
    """A number with ``digits`` decimals; ``None`` is "—", or "−∞"/"∞" for an unbounded interval side."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "−∞" if lower else "∞" if upper else "—"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return literal_text(value)
    return f"{value:,.{digits}f}"


def pct(value: Any, *, signed: bool = False) -> str:
    """A share in [0, 1] as a percentage."""
    if value is None or not isinstance(value, (int, float)) or not math.isfinite(value):
        return "—"
    return f"{value * 100:+.1f}%" if signed else f"{value * 100:.1f}%"


def points(value: Any) -> str:
    """A value already in percentage points (``win_rate`` in the rank JSON) with its % sign."""
    text = fmt(value, 1)
    return text if text == "—" else f"{text}%"
