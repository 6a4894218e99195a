"""The only package that touches SQLite.

Why one package: every other part of sbs-tui (importers, ranking, gates, the annotator app) goes through the
queries here, so the schema, the transaction rules and the hot queries live in one place and can be changed and
measured together. The :class:`Store` is that seam: open one per thread, and reach each concern's queries as an
attribute::

    store.generations  — prompts and generations: import, gate status, reading them to score   (generations.py)
    store.votes        — vote import and the ranking/agreement reads                            (votes.py)
    store.queue        — pairs, assignments, caps: building and serving the annotation queue    (queue.py)
    store.gates        — the gate-result cache, settling gate status, pass rates                (gates.py)
    store.results      — benchmark and A/B results                                              (results.py)
    store.review       — the lead app's summaries, vote browser and flags                        (review.py)
    store.exports      — votes in the contract format, DPO preference pairs                     (exports.py)
    store.judges       — `sbs judge`: pairs to judge, the per-order verdict cache                  (judges.py)
    store.accounts     — team sign-in tokens and roles for ``sbs serve``                         (accounts.py)
    store.imports      — imports in short transactions that roll back as a unit                  (imports.py)
    store.difficulty   — the frozen instruction difficulty of the length-controlled win rate     (difficulty.py)
    store.arena        — the live arena's battle ledger: rate limit and campaign budget          (arena.py)
    store.pair_counts  — outcome counts per voter class, kept as votes land (ranking's reads)   (pair_counts.py)
    store.tallies      — agreement's counts kept up to date as votes land (watermark catch-up)   (tallies.py)

The connection itself (pragmas, ``transaction()``, model/annotator id caches) is :mod:`.connection`; the schema and
its numbered migrations are :mod:`.schema`. Table names read well in ``sqlite-utils`` or Datasette: ``models``,
``prompts``, ``generations``, ``votes``, ``annotators``, …; the ``vote_details`` view shows votes with names.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

from sbs_tui.core.store.base import InsertCounts
from sbs_tui.core.store.connection import BUSY_TIMEOUT_MS, Connection
from sbs_tui.core.store.errors import AccessRevokedError, AlreadyJudgedError, ConflictError, StoreError
from sbs_tui.core.store.migrate import LEGACY_NAMES, MIGRATIONS

if TYPE_CHECKING:
    from sbs_tui.core.store.accounts import Accounts
    from sbs_tui.core.store.arena import Arena
    from sbs_tui.core.store.difficulty import Difficulties
    from sbs_tui.core.store.exports import Exports
    from sbs_tui.core.store.gates import Gates
    from sbs_tui.core.store.generations import Generations
    from sbs_tui.core.store.imports import Imports
    from sbs_tui.core.store.judges import Judges
    from sbs_tui.core.store.pair_counts import PairCounts
    from sbs_tui.core.store.queue import Queue
    from sbs_tui.core.store.results import Results
    from sbs_tui.core.store.review import Review
    from sbs_tui.core.store.tallies import Tallies
    from sbs_tui.core.store.votes import Votes

__all__ = [
    "BUSY_TIMEOUT_MS", "LEGACY_NAMES", "MIGRATIONS", "AccessRevokedError", "AlreadyJudgedError", "ConflictError",
    "InsertCounts", "Store", "StoreError",
]


class Store(Connection):
    """A connection to one sbs-tui database, with its queries grouped by concern. Use it on the thread that
    created it.

    Each concern's module is imported the first time its attribute is read (then kept on the instance): a command
    pays only for the query modules it uses (``sbs rank`` never loads the exports, judges or accounts queries),
    10–30 ms of every start otherwise. The query objects hold nothing but the connection, so making one late is
    the same as making it in ``__init__``."""

    @cached_property
    def generations(self) -> Generations:
        from sbs_tui.core.store.generations import Generations

        return Generations(self)

    @cached_property
    def votes(self) -> Votes:
        from sbs_tui.core.store.votes import Votes

        return Votes(self)

    @cached_property
    def queue(self) -> Queue:
        from sbs_tui.core.store.queue import Queue

        return Queue(self, self.votes)

    @cached_property
    def gates(self) -> Gates:
        from sbs_tui.core.store.gates import Gates

        return Gates(self)

    @cached_property
    def results(self) -> Results:
        from sbs_tui.core.store.results import Results

        return Results(self)

    @cached_property
    def review(self) -> Review:
        from sbs_tui.core.store.review import Review

        return Review(self)

    @cached_property
    def exports(self) -> Exports:
        from sbs_tui.core.store.exports import Exports

        return Exports(self)

    @cached_property
    def judges(self) -> Judges:
        from sbs_tui.core.store.judges import Judges

        return Judges(self)

    @cached_property
    def accounts(self) -> Accounts:
        from sbs_tui.core.store.accounts import Accounts

        return Accounts(self)

    @cached_property
    def imports(self) -> Imports:
        from sbs_tui.core.store.imports import Imports

        return Imports(self)

    @cached_property
    def difficulty(self) -> Difficulties:
        from sbs_tui.core.store.difficulty import Difficulties

        return Difficulties(self)

    @cached_property
    def arena(self) -> Arena:
        from sbs_tui.core.store.arena import Arena

        return Arena(self)

    @cached_property
    def pair_counts(self) -> PairCounts:
        from sbs_tui.core.store.pair_counts import PairCounts

        return PairCounts(self)

    @cached_property
    def tallies(self) -> Tallies:
        from sbs_tui.core.store.tallies import Tallies

        return Tallies(self)

    @classmethod
    def memory(cls) -> Store:
        return cls(memory=True)
