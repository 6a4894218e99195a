"""What every query module shares: the store's errors, the write-count result and the query-module base class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sbs_tui.errors import SbsError

if TYPE_CHECKING:
    import sqlite3

    from sbs_tui.core.store.connection import Connection


class StoreError(SbsError):
    """A problem with the database itself (not with an input file): exit 2, as for bad input."""


class AlreadyJudgedError(StoreError):
    """A vote for a pair this annotator has already judged or skipped (e.g. from a second window)."""


class AccessRevokedError(StoreError):
    """A vote from an annotator whose sign-in token was revoked (``sbs annotators revoke``): refused, so a session
    that was open when the lead revoked it stores nothing more."""


class ConflictError(StoreError):
    """An input row contradicts what is already stored (e.g. another output for the same prompt and model)."""

    def __init__(self, message: str, origin: str | None = None, field: str | None = None):
        super().__init__(message)
        self.origin = origin  # "file:line" of the input row, when it came from a file
        self.field = field  # the input field that conflicts, when one does


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
