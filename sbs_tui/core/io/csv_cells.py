"""Spreadsheet-safe CSV text cells (OWASP, "CSV Injection"), and the way back on import.

A rationale, a prompt or a model name can begin like a spreadsheet formula (``=HYPERLINK(...)``); opened in a
spreadsheet, a CSV export would run it. Every CSV writer puts its text cells through :func:`csv_text`, every CSV
reader through :func:`csv_text_back`, so what is exported re-imports unchanged. Standard library only: the
presentation layer (``sbs rank --format csv``) uses it as well as the core's exports and readers.
"""

from __future__ import annotations

from typing import Any

#: What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: Any) -> Any:
    """A text cell made safe to open in a spreadsheet (OWASP "CSV Injection"): one that would start a formula
    (``=HYPERLINK(...)`` in a rationale, a model named ``@SUM(...)``) gets a leading apostrophe, which spreadsheets
    show as text. Reversible (:func:`csv_text_back`, which CSV imports apply): an apostrophe already in front of
    such a start gets one more. Numbers are not text and are left alone; JSON exports keep every value as is."""
    if isinstance(value, str) and value.lstrip("'")[:1] in FORMULA_START:
        return "'" + value
    return value


def csv_text_back(value: str) -> str:
    """:func:`csv_text` undone: what was exported is what is imported."""
    if value[:1] == "'" and value.lstrip("'")[:1] in FORMULA_START:
        return value[1:]
    return value
