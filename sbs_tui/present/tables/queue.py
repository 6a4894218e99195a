"""``sbs queue status`` and ``sbs queue flags``, and ``sbs annotators list``'s team accounts."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sbs_tui.present.numbers import DASH, count, finite
from sbs_tui.present.tables.console import console
from sbs_tui.present.text import literal


QUEUE_STATUS_LABELS = {
    "pairs": "pairs", "open": "open (still collecting votes)", "gold": "gold (attention checks)",
    "held_back": "held back (identity leaks)", "votes": "queue votes", "gate_passed": "gates: pairs passed",
    "gate_pending": "gates: pairs pending", "gate_blocked": "gates: pairs blocked",
}


def print_queue_status(view: Any) -> None:
    """``sbs queue status``: the queue's counts, the settings it was last built with, and each annotator's
    progress — a :class:`~sbs_tui.core.views.queue.QueueView`, the one the review app's Queue tab draws."""
    from rich.table import Table
    from rich.text import Text

    out = console()
    config = view.config or {}
    counts = Table(title=Text("queue", style="bold"), title_justify="left", box=None, show_header=False)
    counts.add_column("what")
    counts.add_column("count", justify="right")
    for key, value in view.summary.items():
        label = QUEUE_STATUS_LABELS.get(key, key.replace("_", " "))
        counts.add_row(literal(label), count(value) if finite(value) is not None else literal(_plain(value)))
    out.print(counts)
    out.print()
    if config:
        built = Table(title=Text("built with", style="bold"), title_justify="left", box=None, show_header=False)
        built.add_column("setting")
        built.add_column("value")
        for key, value in config.items():
            built.add_row(literal(key.replace("_", " ")), literal(_plain(value)))
        out.print(built)
    else:
        out.print(Text("no queue built yet: run `sbs queue build`", style="dim"))
    people = [a for a in view.annotators if a.remaining is not None]
    if people:
        table = Table(title=Text("annotators", style="bold"), title_justify="left")
        for col in ("annotator", "done", "skipped", "remaining", "cap"):
            table.add_column(col, justify="left" if col == "annotator" else "right")
        for a in people:
            table.add_row(literal(a.annotator), count(a.done), count(a.skipped), count(a.remaining),
                          DASH if a.cap is None else count(a.cap))
        out.print()
        out.print(table)


def _plain(value: Any) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (list, tuple)):
        return ", ".join(_plain(v) for v in value) or DASH
    if isinstance(value, dict):
        return ", ".join(f"{k}={_plain(v)}" for k, v in value.items()) or DASH
    return str(value)


def print_accounts(rows: list[dict[str, Any]]) -> None:
    """``sbs annotators list``: name, role, issued, revoked."""
    from rich.table import Table

    table = Table(title="team accounts (sbs serve)")
    for column in ("annotator", "role", "token issued", "revoked"):
        table.add_column(column)
    for row in rows:
        table.add_row(literal(row["name"]), literal(row["role"]), literal(row["created_at"]),
                      literal(row["revoked_at"] or ""))
    console().print(table)


def print_flags(flagged: Iterable[dict[str, Any]]) -> None:
    """``sbs queue flags``: pairs annotators flagged, with their reasons."""
    from rich.table import Table

    rows = list(flagged)
    table = Table("pair", "annotator", "reason", "status", "prompt", "models", title=f"{len(rows)} flagged")
    for row in rows:
        table.add_row(str(row["pair_id"]), literal(row["annotator"]), literal(row["reason"] or ""),
                      literal(row["status"]), literal(row["prompt"][:60]),
                      literal(f"{row['model_a']} vs {row['model_b']}"))
    console().print(table)
