"""How numbers are written, everywhere: ratings, intervals, p-values, percentages and counts.

One module because the same number used to be written four ways (the rank table, the agreement tables, the A/B
and funnel tables, the review app). The rules:

* a missing or non-finite value is ``—`` (never ``nan``, never an empty cell);
* an interval bound that is ``None`` is *unbounded* (a model that never lost has no upper bound; the statistics
  return ``None`` there, see DESIGN.md) and shows as ``∞`` (upper) or ``−∞`` (lower);
* a p-value below 1e-10 is ``< 1e-10`` — floating point cannot tell such p-values apart, and ``0.0000`` would
  claim certainty; between 1e-10 and 1e-4 it has two significant digits, above that four decimals;
* counts carry thousands separators; weighted (fractional) counts one decimal.

Pure functions over the standard library only: cheap enough for ``sbs --help`` paths and the apps' UI thread.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

DASH = "—"
INFINITY = "∞"
MINUS_INFINITY = "−∞"
P_FLOOR = 1e-10


def finite(x: Any) -> float | None:
    """A number that can be printed, or None (NaN/inf/missing/not a number)."""
    if x is None or isinstance(x, bool):
        return None
    try:
        value = float(x)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def fixed(x: Any, digits: int = 1, *, signed: bool = False) -> str:
    """``x`` with ``digits`` decimals (``+`` sign when ``signed``): ratings, kappas, percentages already ×100."""
    value = finite(x)
    if value is None:
        return DASH
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def significant(x: Any, digits: int = 4, *, signed: bool = False) -> str:
    """``x`` with ``digits`` significant digits: A/B estimates, whose scale (a rate, seconds, revenue) is unknown."""
    value = finite(x)
    if value is None:
        return DASH
    return f"{value:+.{digits}g}" if signed else f"{value:.{digits}g}"


def percent(share: Any, digits: int = 1, *, signed: bool = False) -> str:
    """A share in [0, 1] as a percentage: ``0.4567`` → ``45.7%``."""
    value = finite(share)
    if value is None:
        return DASH
    return f"{fixed(value * 100, digits, signed=signed)}%"


def count(x: Any) -> str:
    """A count with thousands separators; a weighted (fractional) count with one decimal."""
    value = finite(x)
    if value is None:
        return DASH
    return f"{int(value):,}" if value.is_integer() else f"{value:,.1f}"


def p_value(p: Any) -> str:
    """A p-value: ``0.0123``; two significant digits below 1e-4 (``3.2e-07``); ``< 1e-10`` below that (never
    ``0.0``)."""
    value = finite(p)
    if value is None:
        return DASH
    if value < P_FLOOR:
        return f"< {P_FLOOR:.0e}"
    if value < 1e-4:
        return f"{value:.2g}"
    return f"{value:.4f}"


def bound(x: Any, fmt: Callable[[Any], str], *, upper: bool) -> str:
    """One interval bound: ``None`` is unbounded on that side (``∞`` / ``−∞``)."""
    if x is None:
        return INFINITY if upper else MINUS_INFINITY
    return fmt(x)


def interval(low: Any, high: Any, fmt: Callable[[Any], str] = fixed, *, brackets: bool = False) -> str:
    """An interval ``low – high`` (or ``[low, high]``); ``—`` when there is none at all (both bounds missing),
    ``∞``/``−∞`` on a side that is unbounded."""
    if low is None and high is None:
        return DASH
    lo, hi = bound(low, fmt, upper=False), bound(high, fmt, upper=True)
    return f"[{lo}, {hi}]" if brackets else f"{lo} – {hi}"
