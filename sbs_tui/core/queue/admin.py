"""The lead's small queue actions — a vote cap per annotator, the flagged pairs — as core functions.

Why a module of its own: ``sbs queue cap`` and ``sbs queue flags`` used to reach into the store from the click
callback, so the rules (a cap is a non-negative SQLite integer) lived in the command layer, where the review app
could not share them. Every command makes one call into the core (``tests/test_one_hop.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sbs_tui.errors import InputError

if TYPE_CHECKING:
    from sbs_tui.core.store import Store

MAX_CAP = 2**63  # SQLite's INTEGER holds values below this


def set_cap(store: Store, annotator: str, max_votes: int | None) -> None:
    """Limit ``annotator`` to ``max_votes`` votes (None removes the cap); a negative or out-of-range cap is an
    input error naming ``max_votes``."""
    if max_votes is not None and max_votes < 0:
        raise InputError("must be ≥ 0", field="max_votes")
    if max_votes is not None and max_votes >= MAX_CAP:
        raise InputError(f"must be below {MAX_CAP:,} (2**63)", field="max_votes")
    store.queue.set_cap(annotator, max_votes)


def flagged_pairs(store: Store) -> list[dict[str, Any]]:
    """Pairs annotators flagged, with their reason and whether they still voted, oldest first."""
    return store.review.flagged_pairs()
