"""What every query module shares: the write-count result and the query-module base class (errors: :mod:`.errors`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import sqlite3

    from sbs_tui.core.store.connection import Connection


@dataclass(frozen=True, slots=True)
class InsertCounts:
    """What one batch write did: rows newly inserted, rows already present (idempotent re-import), and rows that
    replaced a different stored one (only when the caller asked to replace)."""

    inserted: int
    already_stored: int
    replaced: int = 0


class Queries:
    """One concern's queries over a shared :class:`Connection` (``store.votes``, ``store.queue``, …).

    Query modules hold no state of their own: the connection, its transaction and its id caches belong to the
    :class:`~sbs_tui.core.store.Store`, so every module writes inside the same transaction.
    """

    __slots__ = ("_cx",)

    def __init__(self, cx: Connection):
        self._cx = cx

    @property
    def conn(self) -> sqlite3.Connection:
        return self._cx.conn


def format_values(values: Sequence[Any]) -> str:
    """Stored values for a conflict message (``0.5, null``)."""
    return ", ".join("null" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)
