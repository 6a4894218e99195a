"""The arena budget in words: the lines ``sbs arena status`` prints and the review app's Queue tab shows.

Why one function: the lead reads the budget on two surfaces, and two formattings of one number drift (a rounding,
a word). Both take :meth:`ArenaBudget.as_json() <sbs_tui.core.generate.arena_ledger.ArenaBudget.as_json>` — the
``sbs arena status --format json`` contract — and hand it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def budget_lines(doc: Mapping[str, Any]) -> list[str]:
    """Budget / spent / remaining (and whether new battles are refused), battles by outcome and tokens, and
    whether ``sbs serve`` opens the arena."""
    if doc["budget"] is None:
        first = f"budget: none set ([arena] budget); spent {doc['spent']:.4f}"
    else:
        state = "spent: no new battles" if doc["exhausted"] else "open"
        first = f"budget: {doc['budget']:g}, spent {doc['spent']:.4f}, remaining {doc['remaining']:.4f} ({state})"
    outcomes = ", ".join(f"{k} {v}" for k, v in doc["outcomes"].items())
    return [first,
            f"battles: {doc['battles']} ({outcomes}); tokens in {doc['tokens_in']:,}, out {doc['tokens_out']:,}",
            f"browser arena (sbs serve, [arena] web): {'on' if doc['web'] else 'off'}"]
