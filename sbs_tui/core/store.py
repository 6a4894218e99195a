"""The only module that touches SQLite.

Why one module: every other part of sbs-tui (importers, ranking, gates, the annotator app) goes through the
methods here, so the schema, the transaction rules and the hot queries live in one place and can be changed
and measured together.

Rules this module keeps:

* A real file in WAL mode with a busy timeout, so the annotator app, a background gate worker and a lead's
  ``sbs rank`` can use one database at the same time.
* One connection per thread: a :class:`Store` must be used on the thread that opened it. Workers open their
  own ``Store(path)``.
* The connection runs in autocommit mode; every multi-statement write goes through :meth:`Store.transaction`,
  which is ``BEGIN IMMEDIATE`` … ``COMMIT`` (or ``ROLLBACK`` on any exception), so an import is all-or-nothing.
* The schema is built by named migrations recorded in ``_migrations``; a database written by an older version
  is upgraded in place when it is opened.
* Table names read well in ``sqlite-utils`` or Datasette: ``models``, ``prompts``, ``generations``, ``votes``,
  ``annotators``, … Model and annotator names are stored once and referenced by integer id (1M votes group
  fast on integers); the ``vote_details`` view shows them with names.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlite_utils

from sbs_tui.core.records import WINNERS, GenerationRecord, GenerationRow, VoteRecord, VoteRow, json_or_none

BUSY_TIMEOUT_MS = 10_000


class StoreError(Exception):
    """A problem with the database itself (not with an input file)."""


class AlreadyJudgedError(StoreError):
    """A vote for a pair this annotator has already judged or skipped (e.g. from a second window)."""


class ConflictError(StoreError):
    """An input row contradicts what is already stored (e.g. another output for the same prompt and model)."""

    def __init__(self, message: str, origin: str | None = None):
        super().__init__(message)
        self.origin = origin


# --------------------------------------------------------------------------------------------------------------
# Schema: named migrations, applied in order, each exactly once.
# --------------------------------------------------------------------------------------------------------------

Migration = Callable[[sqlite_utils.Database], None]
MIGRATIONS: list[tuple[str, Migration]] = []


def migration(name: str) -> Callable[[Migration], Migration]:
    """Register a schema migration. Names are permanent: never rename or edit an applied migration."""

    def register(fn: Migration) -> Migration:
        if any(existing == name for existing, _ in MIGRATIONS):
            raise ValueError(f"duplicate migration name {name!r}")
        MIGRATIONS.append((name, fn))
        return fn

    return register


@migration("0001_core")
def _m0001_core(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE models (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            meta TEXT
        );
        CREATE TABLE annotators (
            id INTEGER PRIMARY KEY,
            name TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL DEFAULT 'human' CHECK (kind IN ('human', 'judge')),
            meta TEXT
        );
        CREATE TABLE prompts (
            id TEXT PRIMARY KEY,
            text TEXT NOT NULL,
            category TEXT,
            reference TEXT,
            meta TEXT
        );
        CREATE TABLE generations (
            id INTEGER PRIMARY KEY,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model_id INTEGER NOT NULL REFERENCES models(id),
            output TEXT NOT NULL,
            output_sha TEXT NOT NULL,
            output_chars INTEGER NOT NULL,
            gate_status TEXT NOT NULL DEFAULT 'pending'
                CHECK (gate_status IN ('pending', 'passed', 'blocked')),
            meta TEXT,
            source TEXT,
            imported_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            UNIQUE (prompt_id, model_id)
        );
        CREATE INDEX idx_generations_model ON generations(model_id);
        CREATE INDEX idx_generations_gate_status ON generations(gate_status);
        CREATE TABLE votes (
            id INTEGER PRIMARY KEY,
            uid TEXT NOT NULL UNIQUE,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            model_a_id INTEGER NOT NULL REFERENCES models(id),
            model_b_id INTEGER NOT NULL REFERENCES models(id),
            winner TEXT NOT NULL CHECK (winner IN ('model_a', 'model_b', 'tie', 'both_bad')),
            weight REAL NOT NULL DEFAULT 1.0 CHECK (weight >= 0.5 AND weight <= 1.0),
            score_b REAL NOT NULL CHECK (score_b >= 0.0 AND score_b <= 1.0),
            annotator_id INTEGER NOT NULL REFERENCES annotators(id),
            shown_left TEXT CHECK (shown_left IN ('model_a', 'model_b')),
            ts TEXT,
            rationale TEXT,
            criteria TEXT,
            flagged INTEGER NOT NULL DEFAULT 0,
            flag_reason TEXT,
            output_a TEXT,
            output_b TEXT,
            pair_id INTEGER,
            meta TEXT,
            source TEXT,
            CHECK (model_a_id != model_b_id)
        );
        CREATE INDEX idx_votes_models ON votes(model_a_id, model_b_id, score_b);
        CREATE INDEX idx_votes_annotator ON votes(annotator_id);
        CREATE INDEX idx_votes_prompt ON votes(prompt_id);
        CREATE TABLE benchmarks (
            id INTEGER PRIMARY KEY,
            model_id INTEGER NOT NULL REFERENCES models(id),
            benchmark TEXT NOT NULL,
            metric TEXT NOT NULL DEFAULT '',
            score REAL NOT NULL,
            source TEXT,
            UNIQUE (model_id, benchmark, metric)
        );
        CREATE TABLE ab_units (
            id INTEGER PRIMARY KEY,
            experiment TEXT NOT NULL,
            variant TEXT NOT NULL,
            unit TEXT NOT NULL,
            metric TEXT NOT NULL,
            value REAL NOT NULL,
            source TEXT,
            UNIQUE (experiment, variant, unit, metric)
        );
        CREATE TABLE ab_aggregates (
            id INTEGER PRIMARY KEY,
            experiment TEXT NOT NULL,
            variant TEXT NOT NULL,
            metric TEXT NOT NULL,
            n INTEGER NOT NULL,
            mean REAL,
            std REAL,
            successes REAL,
            source TEXT,
            UNIQUE (experiment, variant, metric)
        );
        CREATE VIEW vote_details AS
            SELECT v.id, v.uid, v.prompt_id, p.text AS prompt, ma.name AS model_a, mb.name AS model_b,
                   v.winner, v.weight, v.score_b, an.name AS annotator, v.shown_left, v.ts, v.rationale,
                   v.criteria, v.flagged, v.flag_reason, v.source
            FROM votes v
            JOIN prompts p ON p.id = v.prompt_id
            JOIN models ma ON ma.id = v.model_a_id
            JOIN models mb ON mb.id = v.model_b_id
            JOIN annotators an ON an.id = v.annotator_id;
        CREATE VIEW generation_details AS
            SELECT g.id, g.prompt_id, p.text AS prompt, m.name AS model, g.output, g.output_chars,
                   g.gate_status, p.category, g.source
            FROM generations g
            JOIN prompts p ON p.id = g.prompt_id
            JOIN models m ON m.id = g.model_id;
        """
    )


@migration("0002_queue")
def _m0002_queue(db: sqlite_utils.Database) -> None:
    """Pairs to judge and who was shown what.

    ``pairs.gate_rank`` mirrors the gate status of both generations (2 = both passed, 1 = none blocked but some
    pending, 0 = some blocked); triggers keep it in step with ``generations.gate_status`` whoever changes that,
    so the serving query needs no join. ``pairs.open`` is 1 while a pair still wants votes (taken < overlap and
    not held back); a partial index on open pairs ordered by priority makes "the next pair" an index walk.
    """
    db.executescript(
        """
        CREATE TABLE pairs (
            id INTEGER PRIMARY KEY,
            prompt_id TEXT NOT NULL REFERENCES prompts(id),
            gen_a_id INTEGER NOT NULL REFERENCES generations(id),
            gen_b_id INTEGER NOT NULL REFERENCES generations(id),
            is_gold INTEGER NOT NULL DEFAULT 0,
            gold_winner TEXT CHECK (gold_winner IN ('model_a', 'model_b', 'tie', 'both_bad')),
            held_back TEXT,
            priority REAL NOT NULL DEFAULT 0,
            overlap INTEGER NOT NULL DEFAULT 1,
            taken INTEGER NOT NULL DEFAULT 0,
            votes INTEGER NOT NULL DEFAULT 0,
            gate_rank INTEGER NOT NULL DEFAULT 1,
            open INTEGER NOT NULL DEFAULT 1,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            CHECK (gen_a_id < gen_b_id),
            UNIQUE (gen_a_id, gen_b_id)
        );
        CREATE INDEX idx_pairs_serve ON pairs(is_gold, gate_rank, priority DESC) WHERE open = 1;
        CREATE INDEX idx_pairs_gen_b ON pairs(gen_b_id);
        CREATE INDEX idx_pairs_prompt ON pairs(prompt_id);
        CREATE TABLE assignments (
            id INTEGER PRIMARY KEY,
            annotator_id INTEGER NOT NULL REFERENCES annotators(id),
            pair_id INTEGER NOT NULL REFERENCES pairs(id) ON DELETE CASCADE,
            status TEXT NOT NULL DEFAULT 'assigned' CHECK (status IN ('assigned', 'done', 'skipped')),
            shown_left TEXT NOT NULL CHECK (shown_left IN ('model_a', 'model_b')),
            vote_uid TEXT,
            flagged INTEGER NOT NULL DEFAULT 0,
            flag_reason TEXT,
            assigned_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            updated_at TEXT,
            UNIQUE (annotator_id, pair_id)
        );
        CREATE INDEX idx_assignments_status ON assignments(annotator_id, status, updated_at);
        CREATE INDEX idx_votes_pair ON votes(pair_id) WHERE pair_id IS NOT NULL;
        CREATE TABLE queue_config (
            key TEXT PRIMARY KEY,
            value TEXT NOT NULL
        );
        CREATE TABLE annotator_caps (
            annotator_id INTEGER PRIMARY KEY REFERENCES annotators(id),
            max_votes INTEGER NOT NULL CHECK (max_votes >= 0)
        );
        CREATE TRIGGER pairs_gate_a AFTER UPDATE OF gate_status ON generations BEGIN
            UPDATE pairs SET gate_rank = (
                SELECT CASE WHEN ga.gate_status = 'blocked' OR gb.gate_status = 'blocked' THEN 0
                            WHEN ga.gate_status = 'passed' AND gb.gate_status = 'passed' THEN 2 ELSE 1 END
                FROM generations ga, generations gb WHERE ga.id = pairs.gen_a_id AND gb.id = pairs.gen_b_id)
            WHERE gen_a_id = NEW.id OR gen_b_id = NEW.id;
        END;
        """
    )


@migration("0050_benchmark_ab_details")
def _m0050_benchmark_ab_details(db: sqlite_utils.Database) -> None:
    """Benchmark standard errors and direction (lm-evaluation-harness reports both); kept metadata for results."""
    db.executescript(
        """
        ALTER TABLE benchmarks ADD COLUMN stderr REAL;
        ALTER TABLE benchmarks ADD COLUMN higher_is_better INTEGER;
        ALTER TABLE benchmarks ADD COLUMN meta TEXT;
        ALTER TABLE ab_units ADD COLUMN meta TEXT;
        ALTER TABLE ab_aggregates ADD COLUMN meta TEXT;
        """
    )


# -- ranking queries: schema ------------------------------------------------------------------------------------


@migration("rank_0001_outcome_index")
def _m_rank_0001_outcome_index(db: sqlite_utils.Database) -> None:
    """A covering index for :meth:`Store.vote_outcomes`: with ``flagged`` (excluded by default) and
    ``annotator_id`` in the index, aggregating 1M votes reads only the index (0.1 s instead of a 1.8 s table
    scan). It supersedes ``idx_votes_models`` (its prefix), which is dropped to keep inserts as cheap."""
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS idx_votes_outcomes
            ON votes(model_a_id, model_b_id, score_b, flagged, annotator_id);
        DROP INDEX IF EXISTS idx_votes_models;
        """
    )


# -- gate results (migration) ------------------------------------------------------------------------------------

@migration("0003_gate_results")
def _m0003_gate_results(db: sqlite_utils.Database) -> None:
    """One scorer result per (generation, gate, scorer configuration).

    ``config_hash`` covers what changes a score (scorer, backend, model, options) but not the threshold or
    whether the gate blocks, so re-thresholding never re-scores; a new configuration's result replaces the old
    one (one current row per generation and gate). ``blocked`` says the score failed the gate's
    threshold when it was decided (for an informational gate that blocks nothing, it still feeds the per-gate
    pass rate). ``output_sha`` is the output that was scored:
    a result for an output that ``import --replace`` has since swapped is never reused.
    """
    db.executescript(
        """
        CREATE TABLE gate_results (
            generation_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
            gate TEXT NOT NULL,
            config_hash TEXT NOT NULL,
            output_sha TEXT NOT NULL,
            score REAL,
            blocked INTEGER NOT NULL DEFAULT 0,
            details TEXT,
            scored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (generation_id, gate, config_hash)
        );
        CREATE INDEX idx_gate_results_gate ON gate_results(gate, config_hash);
        """
    )


def _apply_migrations(db: sqlite_utils.Database) -> None:
    db.execute(
        "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL "
        "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    applied = {row[0] for row in db.execute("SELECT name FROM _migrations").fetchall()}
    for name, fn in MIGRATIONS:
        if name in applied:
            continue
        db.execute("BEGIN IMMEDIATE")
        try:
            # Another process may have migrated while we waited for the write lock.
            if db.execute("SELECT 1 FROM _migrations WHERE name = ?", [name]).fetchone():
                db.execute("COMMIT")
                continue
            fn(db)
            db.execute("INSERT INTO _migrations (name) VALUES (?)", [name])
            db.execute("COMMIT")
        except BaseException:
            if db.conn.in_transaction:
                db.execute("ROLLBACK")
            raise


def _format_values(values: Sequence[Any]) -> str:
    return ", ".join("null" if v is None else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


@dataclass(frozen=True, slots=True)
class InsertCounts:
    """What one batch write did: rows newly inserted and rows already present (idempotent re-import)."""

    inserted: int
    already_stored: int


class Store:
    """A connection to one sbs-tui database. Use it on the thread that created it."""

    def __init__(self, path: str | Path | None = None, *, memory: bool = False):
        if memory or path is None or str(path) == ":memory:":
            conn = sqlite3.connect(":memory:", isolation_level=None)
            self.path: Path | None = None
        else:
            self.path = Path(path)
            if self.path.parent and not self.path.parent.exists():
                raise StoreError(f"directory for database does not exist: {self.path.parent}")
            conn = sqlite3.connect(str(self.path), isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        self._thread = threading.get_ident()
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        if self.path is not None:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StoreError(f"could not switch {self.path} to WAL mode (got {mode})")
            # WAL + NORMAL is durable against process crashes (a vote committed survives kill -9);
            # only an OS crash / power loss may lose the last transactions.
            conn.execute("PRAGMA synchronous = NORMAL")
            # Random-key index inserts (vote uids) thrash the default 2 MB page cache on large imports; this is a
            # ceiling, not an allocation: pages are cached only as they are touched.
            conn.execute("PRAGMA cache_size = -262144")
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self._model_ids: dict[str, int] = {}
        self._annotator_ids: dict[str, int] = {}
        # Prompt ids this connection has written or seen in this process: votes repeat prompts many times, and
        # skipping their upserts is a third of a large vote import.
        self._known_prompt_ids: set[str] = set()
        _apply_migrations(self.db)

    @classmethod
    def memory(cls) -> Store:
        return cls(memory=True)

    # -- lifecycle ---------------------------------------------------------------------------------------------

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[Store]:
        """All-or-nothing block: BEGIN IMMEDIATE (takes the write lock up front), COMMIT or ROLLBACK.

        Nested use joins the outer transaction through a savepoint.
        """
        if self.conn.in_transaction:
            with self.db.atomic():
                yield self
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self
        except BaseException:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            # Cached ids may name rows that the rollback removed.
            self._model_ids.clear()
            self._annotator_ids.clear()
            self._known_prompt_ids.clear()
            raise
        else:
            try:
                self.conn.execute("COMMIT")
            except BaseException:
                # A COMMIT that fails (disk full, I/O error) can leave the transaction open: roll it back so the
                # caller may simply try again, and nothing half-done is kept.
                if self.conn.in_transaction:
                    self.conn.execute("ROLLBACK")
                self._model_ids.clear()
                self._annotator_ids.clear()
                self._known_prompt_ids.clear()
                raise

    def set_busy_timeout(self, milliseconds: int) -> None:
        """How long a statement on this connection waits for another connection's lock before failing "busy".

        The default (``BUSY_TIMEOUT_MS``) suits commands; the annotator app sets a short one and retries itself,
        so its screen never freezes while someone else holds the write lock."""
        self.conn.execute(f"PRAGMA busy_timeout = {int(milliseconds)}")

    # -- names → ids ----------------------------------------------------------------------------------------------

    def model_id(self, name: str, *, create: bool = True) -> int | None:
        cached = self._model_ids.get(name)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT id FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return None
            row = (self.conn.execute("INSERT INTO models (name) VALUES (?)", (name,)).lastrowid,)
        self._model_ids[name] = row[0]
        return row[0]

    def annotator_id(self, name: str, *, kind: str | None = None, create: bool = True) -> int | None:
        cached = self._annotator_ids.get(name)
        if cached is not None:
            return cached
        row = self.conn.execute("SELECT id FROM annotators WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return None
            row = (
                self.conn.execute(
                    "INSERT INTO annotators (name, kind) VALUES (?, ?)", (name, kind or "human")
                ).lastrowid,
            )
        self._annotator_ids[name] = row[0]
        return row[0]

    def model_names(self) -> list[str]:
        return [r[0] for r in self.conn.execute("SELECT name FROM models ORDER BY name")]

    # -- prompts and generations -----------------------------------------------------------------------------------

    def _ensure_prompts(self, rows: Iterable[tuple[str, str, str | None, str | None, str | None]]) -> None:
        """Insert prompts that are new; fill in category/reference that earlier files did not have."""
        rows = list(rows)
        self.conn.executemany(
            "INSERT INTO prompts (id, text, category, reference, meta) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET category = coalesce(prompts.category, excluded.category), "
            "reference = coalesce(prompts.reference, excluded.reference)",
            rows,
        )

    def insert_generations(self, batch: Sequence[GenerationRecord], *, source: str | None = None,
                           replace: bool = False) -> InsertCounts:
        """Store a batch of generations; call inside :meth:`transaction`. See :meth:`insert_generation_rows`."""
        return self.insert_generation_rows([g.as_row() for g in batch], source=source, replace=replace)

    def insert_generation_rows(self, rows: Sequence[GenerationRow], *, source: str | None = None,
                               replace: bool = False) -> InsertCounts:
        """Store generations given as ``GenerationRecord.as_row()`` tuples; call inside :meth:`transaction`.

        A generation is identified by (prompt, model). The same output again is skipped (idempotent import);
        a *different* output for a stored (prompt, model) raises :class:`ConflictError` unless ``replace`` —
        silently swapping an answer that annotators may already have judged would corrupt their votes.
        """
        if not rows:
            return InsertCounts(0, 0)
        self._ensure_prompts((r[0], r[1], r[5], r[6], None) for r in rows)
        model_id = self.model_id
        params = [(r[0], model_id(r[2]), r[3], r[4], len(r[3]), r[7], source) for r in rows]
        before = self.conn.total_changes
        if replace:
            self.conn.executemany(
                "INSERT INTO generations (prompt_id, model_id, output, output_sha, output_chars, meta, source) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(prompt_id, model_id) DO UPDATE SET "
                "output = excluded.output, output_sha = excluded.output_sha, "
                "output_chars = excluded.output_chars, meta = excluded.meta, source = excluded.source, "
                "gate_status = 'pending' WHERE generations.output_sha != excluded.output_sha",
                params,
            )
            inserted = self.conn.total_changes - before
            return InsertCounts(inserted, len(rows) - inserted)
        self.conn.executemany(
            "INSERT INTO generations (prompt_id, model_id, output, output_sha, output_chars, meta, "
            "source) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(prompt_id, model_id) DO NOTHING",
            params,
        )
        inserted = self.conn.total_changes - before
        if inserted < len(rows):
            self._check_generation_conflicts(rows)
        return InsertCounts(inserted, len(rows) - inserted)

    def _check_generation_conflicts(self, rows: Sequence[GenerationRow]) -> None:
        for prompt_id, _prompt, model, _output, output_sha, *_rest, origin in rows:
            row = self.conn.execute(
                "SELECT output_sha FROM generations WHERE prompt_id = ? AND model_id = ?",
                (prompt_id, self.model_id(model)),
            ).fetchone()
            if row is not None and row[0] != output_sha:
                raise ConflictError(
                    f"model {model!r} already has a different output for prompt {prompt_id}; "
                    "use --replace to overwrite stored outputs",
                    origin=origin,
                )

    def set_gate_status(self, generation_ids: Iterable[int], status: str) -> None:
        """Mark generations 'pending', 'passed' or 'blocked'. Only 'passed' generations reach annotators."""
        self.conn.executemany("UPDATE generations SET gate_status = ? WHERE id = ?",
                              [(status, gid) for gid in generation_ids])

    def generation_ids(self, *, gate_status: str | None = None) -> list[int]:
        if gate_status is None:
            return [r[0] for r in self.conn.execute("SELECT id FROM generations ORDER BY id")]
        return [r[0] for r in self.conn.execute(
            "SELECT id FROM generations WHERE gate_status = ? ORDER BY id", (gate_status,))]

    def count(self, table: str) -> int:
        return self.conn.execute(f"SELECT count(*) FROM [{table}]").fetchone()[0]

    # -- votes ------------------------------------------------------------------------------------------------------

    def insert_votes(self, batch: Sequence[VoteRecord], *, source: str | None = None) -> InsertCounts:
        """Store a batch of votes; call inside :meth:`transaction`. Votes are keyed by ``uid`` (idempotent)."""
        return self.insert_vote_rows([v.as_row() for v in batch], source=source)

    def insert_vote_rows(self, rows: Sequence[VoteRow], *, source: str | None = None) -> InsertCounts:
        """Store votes given as ``VoteRecord.as_row()`` tuples; call inside :meth:`transaction`."""
        if not rows:
            return InsertCounts(0, 0)
        known = self._known_prompt_ids
        prompts = {r[1]: (r[1], r[2], None, None, None) for r in rows if r[2] is not None and r[1] not in known}
        if prompts:
            self.conn.executemany(
                "INSERT INTO prompts (id, text, category, reference, meta) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(id) DO NOTHING",
                list(prompts.values()),
            )
            known.update(prompts)
        missing = self._missing_prompt_ids({r[1] for r in rows if r[2] is None} - known)
        if missing:
            first = next(r for r in rows if r[1] in missing)
            raise ConflictError(
                f"unknown prompt_id {first[1]!r}: import its generations first or give the prompt text",
                origin=first[-1],
            )
        # Resolve each distinct name once, then plain dict lookups: this loop runs once per vote.
        # (in order of first appearance, so ids do not depend on hash order)
        for name in dict.fromkeys(name for r in rows for name in (r[3], r[4])):
            self.model_id(name)
        for name, kind in dict.fromkeys((r[8], r[9]) for r in rows):
            self.annotator_id(name, kind=kind)
        models, annotators = self._model_ids, self._annotator_ids
        params = [(r[0], r[1], models[r[3]], models[r[4]], r[5], r[6], r[7], annotators[r[8]], *r[10:20], source)
                  for r in rows]
        before = self.conn.total_changes
        self.conn.executemany(
            # ON CONFLICT(uid), not INSERT OR IGNORE: OR IGNORE would also swallow CHECK violations.
            "INSERT INTO votes (uid, prompt_id, model_a_id, model_b_id, winner, weight, score_b, "
            "annotator_id, shown_left, ts, rationale, criteria, flagged, flag_reason, output_a, output_b, "
            "pair_id, meta, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT(uid) DO NOTHING",
            params,
        )
        inserted = self.conn.total_changes - before
        return InsertCounts(inserted, len(rows) - inserted)

    def _missing_prompt_ids(self, ids: set[str]) -> set[str]:
        if not ids:
            return set()
        found: set[str] = set()
        id_list = list(ids)
        for i in range(0, len(id_list), 500):
            chunk = id_list[i:i + 500]
            q = f"SELECT id FROM prompts WHERE id IN ({','.join('?' * len(chunk))})"
            found.update(r[0] for r in self.conn.execute(q, chunk))
        self._known_prompt_ids.update(found)
        return ids - found

    def iter_votes(self) -> Iterator[dict[str, Any]]:
        """Every vote in insertion order, in the contract vote format (what ``sbs export votes`` writes)."""
        cur = self.conn.execute(
            "SELECT v.uid, v.prompt_id, p.text, ma.name, mb.name, v.winner, v.weight, an.name, an.kind, "
            "v.shown_left, v.ts, v.rationale, v.criteria, v.flagged, v.flag_reason, v.output_a, v.output_b, "
            "v.meta FROM votes v JOIN prompts p ON p.id = v.prompt_id "
            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
            "JOIN annotators an ON an.id = v.annotator_id ORDER BY v.id"
        )
        for (uid, prompt_id, prompt, model_a, model_b, winner, weight, annotator, kind, shown_left, ts,
             rationale, criteria, flagged, flag_reason, output_a, output_b, meta) in cur:
            record: dict[str, Any] = {
                "vote_id": uid,
                "prompt_id": prompt_id,
                "prompt": prompt,
                "model_a": model_a,
                "model_b": model_b,
                "winner": winner,
                "annotator": annotator,
            }
            if weight != 1.0:
                record["weight"] = weight
            if kind != "human":
                record["annotator_kind"] = kind
            if shown_left is not None:
                record["left"] = model_a if shown_left == "model_a" else model_b
            optional = {"ts": ts, "rationale": rationale, "output_a": output_a, "output_b": output_b,
                        "flag_reason": flag_reason}
            record.update({k: val for k, val in optional.items() if val is not None})
            if criteria:
                record["criteria"] = json.loads(criteria)
            if flagged:
                record["flagged"] = True
            if meta:
                record["meta"] = json.loads(meta)
            yield record

    def vote_outcomes(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                      include_flagged: bool = False) -> tuple[list[str], list[tuple[int, int, float, int]]]:
        """Votes aggregated for ranking: model names and rows (index_a, index_b, score_b, count).

        Aggregating in SQL (one row per distinct outcome of a model pair) is what keeps ranking 1M votes fast:
        statistics then work on a few thousand rows, never on the raw votes.
        """
        where, params = self._vote_filter(annotators, category, include_flagged)
        rows = self.conn.execute(
            "SELECT model_a_id, model_b_id, score_b, count(*) FROM votes v"
            f"{where} GROUP BY model_a_id, model_b_id, score_b",
            params,
        ).fetchall()
        ids = sorted({r[0] for r in rows} | {r[1] for r in rows})
        names = dict(self.conn.execute("SELECT id, name FROM models").fetchall())
        index = {mid: i for i, mid in enumerate(ids)}
        return [names[i] for i in ids], [(index[a], index[b], s, n) for a, b, s, n in rows]

    # -- ranking queries ----------------------------------------------------------------------------------------

    def _indexed_models(self, rows: list[tuple[Any, ...]]) -> tuple[list[str], dict[int, int]]:
        ids = sorted({r[0] for r in rows} | {r[1] for r in rows})
        names = dict(self.conn.execute("SELECT id, name FROM models").fetchall())
        return [names[i] for i in ids], {mid: k for k, mid in enumerate(ids)}

    def vote_sequence(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                      include_flagged: bool = False) -> tuple[list[str], list[tuple[int, int, float]]]:
        """Votes one by one in the order they were cast (``ts``, then insertion order; votes without a time
        stamp last): model names and rows (index_a, index_b, score_b). For the order-dependent online Elo and
        TrueSkill."""
        where, params = self._vote_filter(annotators, category, include_flagged)
        rows = self.conn.execute(
            f"SELECT model_a_id, model_b_id, score_b FROM votes v{where} ORDER BY (v.ts IS NULL), v.ts, v.id",
            params,
        ).fetchall()
        names, index = self._indexed_models(rows)
        return names, [(index[a], index[b], s) for a, b, s in rows]

    def vote_covariates(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                        include_flagged: bool = False, texts: bool = False,
                        ) -> tuple[list[str], list[tuple[Any, ...]]]:
        """Per vote, for length/style control: model names and rows (index_a, index_b, score_b, prompt_id,
        chars_a, chars_b[, text_a, text_b]). The judged text is the vote's own ``output_a``/``output_b`` when
        stored, else the model's generation for the prompt; NULL when neither exists."""
        where, params = self._vote_filter(annotators, category, include_flagged)
        text_cols = (", coalesce(v.output_a, ga.output), coalesce(v.output_b, gb.output)" if texts else "")
        rows = self.conn.execute(
            "SELECT v.model_a_id, v.model_b_id, v.score_b, v.prompt_id, "
            "coalesce(length(v.output_a), ga.output_chars), coalesce(length(v.output_b), gb.output_chars)"
            f"{text_cols} FROM votes v "
            "LEFT JOIN generations ga ON ga.prompt_id = v.prompt_id AND ga.model_id = v.model_a_id "
            "LEFT JOIN generations gb ON gb.prompt_id = v.prompt_id AND gb.model_id = v.model_b_id"
            f"{where} ORDER BY v.id",
            params,
        ).fetchall()
        names, index = self._indexed_models(rows)
        return names, [(index[r[0]], index[r[1]], *r[2:]) for r in rows]

    def annotations(self, *, annotators: Sequence[str] | None = None, category: str | None = None,
                    include_flagged: bool = False) -> list[tuple[int, str, str, str, float, str, str, str | None]]:
        """Per vote, for agreement statistics: (vote id, prompt_id, model_a, model_b, score_b, annotator,
        annotator kind, shown_left), in insertion order."""
        where, params = self._vote_filter(annotators, category, include_flagged)
        return self.conn.execute(
            "SELECT v.id, v.prompt_id, ma.name, mb.name, v.score_b, an.name, an.kind, v.shown_left FROM votes v "
            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
            f"JOIN annotators an ON an.id = v.annotator_id{where} ORDER BY v.id",
            params,
        ).fetchall()

    def gold_labels(self) -> list[tuple[str, str, str, str]] | None:
        """Gold verdicts as (prompt_id, model_a, model_b, winner), or None when the database has none.

        Reads the annotation queue's ``pairs`` table (``gen_a_id``/``gen_b_id`` → generations → models,
        ``gold_winner`` naming the winner as a vote does, on pairs with ``is_gold = 1``). Returns None when
        the table or those columns do not exist (no queue in this database)."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "pairs" not in tables:
            return None
        cols = {r[1] for r in self.conn.execute("PRAGMA table_info(pairs)")}
        if not {"prompt_id", "gen_a_id", "gen_b_id", "gold_winner"} <= cols:
            return None
        gold_only = " AND p.is_gold = 1" if "is_gold" in cols else ""
        rows = self.conn.execute(
            "SELECT p.prompt_id, ma.name, mb.name, p.gold_winner FROM pairs p "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            f"WHERE p.gold_winner IS NOT NULL{gold_only}"
        ).fetchall()
        return rows or None  # the queue's tables exist in every database (0002_queue); no gold pairs = none

    def _vote_filter(self, annotators: Sequence[str] | None, category: str | None,
                     include_flagged: bool) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if annotators:
            clauses.append(
                f"v.annotator_id IN (SELECT id FROM annotators WHERE name IN ({','.join('?' * len(annotators))}))"
            )
            params.extend(annotators)
        if category is not None:
            clauses.append("v.prompt_id IN (SELECT id FROM prompts WHERE category = ?)")
            params.append(category)
        if not include_flagged:
            clauses.append("v.flagged = 0")
        return (" WHERE " + " AND ".join(clauses) if clauses else ""), params

    # -- benchmarks and A/B --------------------------------------------------------------------------------------
    # Results of the offline (benchmark) and online (A/B) stages. Keys are natural: (model, benchmark, metric),
    # (experiment, variant, unit, metric), (experiment, variant, metric). Re-importing the same value is a no-op;
    # a different value for a stored key is a ConflictError unless ``replace`` — a silently changed score would
    # change the funnel without anyone noticing.

    def insert_benchmarks(self, batch: Sequence[Any], *, source: str | None = None,
                          replace: bool = False) -> InsertCounts:
        """Store benchmark records (``model, benchmark, metric, score, stderr, higher_is_better, meta``)."""
        params = [
            (self.model_id(b.model), b.benchmark, b.metric, b.score, b.stderr,
             None if b.higher_is_better is None else int(b.higher_is_better), json_or_none(b.meta), source)
            for b in batch
        ]
        sql = ("INSERT INTO benchmarks (model_id, benchmark, metric, score, stderr, higher_is_better, meta, "
               "source) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        select = "SELECT score FROM benchmarks WHERE model_id = ? AND benchmark = ? AND metric = ?"
        return self._insert_results(
            batch, params, sql, "ON CONFLICT(model_id, benchmark, metric) DO UPDATE SET score = excluded.score, "
            "stderr = excluded.stderr, higher_is_better = excluded.higher_is_better, meta = excluded.meta, "
            "source = excluded.source WHERE benchmarks.score != excluded.score "
            "OR benchmarks.stderr IS NOT excluded.stderr",
            select, key=lambda b, p: p[:3], stored=lambda b: (b.score,),
            describe=lambda b: f"model {b.model!r} benchmark {b.benchmark!r} metric {b.metric!r}",
            replace=replace,
        )

    def insert_ab_units(self, batch: Sequence[Any], *, source: str | None = None,
                        replace: bool = False) -> InsertCounts:
        """Store per-unit A/B observations (``experiment, variant, unit, metric, value, meta``)."""
        params = [(u.experiment, u.variant, u.unit, u.metric, u.value, json_or_none(u.meta), source)
                  for u in batch]
        return self._insert_results(
            batch, params,
            "INSERT INTO ab_units (experiment, variant, unit, metric, value, meta, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            "ON CONFLICT(experiment, variant, unit, metric) DO UPDATE SET value = excluded.value, "
            "meta = excluded.meta, source = excluded.source WHERE ab_units.value != excluded.value",
            "SELECT value FROM ab_units WHERE experiment = ? AND variant = ? AND unit = ? AND metric = ?",
            key=lambda u, p: p[:4], stored=lambda u: (u.value,),
            describe=lambda u: (f"experiment {u.experiment!r} variant {u.variant!r} unit {u.unit!r} "
                                f"metric {u.metric!r}"),
            replace=replace,
        )

    def insert_ab_aggregates(self, batch: Sequence[Any], *, source: str | None = None,
                             replace: bool = False) -> InsertCounts:
        """Store aggregated A/B results (``experiment, variant, metric, n`` and ``mean, std`` or ``successes``)."""
        params = [(a.experiment, a.variant, a.metric, a.n, a.mean, a.std, a.successes, json_or_none(a.meta),
                   source) for a in batch]
        return self._insert_results(
            batch, params,
            "INSERT INTO ab_aggregates (experiment, variant, metric, n, mean, std, successes, meta, source) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            "ON CONFLICT(experiment, variant, metric) DO UPDATE SET n = excluded.n, mean = excluded.mean, "
            "std = excluded.std, successes = excluded.successes, meta = excluded.meta, source = excluded.source "
            "WHERE ab_aggregates.n != excluded.n OR ab_aggregates.mean IS NOT excluded.mean "
            "OR ab_aggregates.std IS NOT excluded.std OR ab_aggregates.successes IS NOT excluded.successes",
            "SELECT n, mean, std, successes FROM ab_aggregates WHERE experiment = ? AND variant = ? AND metric = ?",
            key=lambda a, p: p[:3], stored=lambda a: (a.n, a.mean, a.std, a.successes),
            describe=lambda a: f"experiment {a.experiment!r} variant {a.variant!r} metric {a.metric!r}",
            replace=replace,
        )

    def _insert_results(self, batch: Sequence[Any], params: list[tuple[Any, ...]], insert_sql: str,
                        upsert_clause: str, select_sql: str, *, key: Callable[[Any, tuple[Any, ...]], Any],
                        stored: Callable[[Any], tuple[Any, ...]], describe: Callable[[Any], str],
                        replace: bool) -> InsertCounts:
        """Insert-or-ignore, then explain any row that was not new: identical (counted) or conflicting (error).

        With ``replace`` a differing stored row is overwritten (and counted as inserted); within one import the
        later row wins.
        """
        if not batch:
            return InsertCounts(0, 0)
        before = self.conn.total_changes
        if replace:
            self.conn.executemany(f"{insert_sql} {upsert_clause}", params)
            inserted = self.conn.total_changes - before
            return InsertCounts(inserted, len(batch) - inserted)
        self.conn.executemany(insert_sql.replace("INSERT INTO", "INSERT OR IGNORE INTO", 1), params)
        inserted = self.conn.total_changes - before
        if inserted < len(batch):
            for record, row in zip(batch, params):
                found = self.conn.execute(select_sql, key(record, row)).fetchone()
                if found is not None and tuple(found) != stored(record):
                    raise ConflictError(
                        f"{describe(record)} is already stored with a different value "
                        f"({_format_values(found)}, now {_format_values(stored(record))}); "
                        "use --replace to overwrite",
                        origin=record.origin,
                    )
        return InsertCounts(inserted, len(batch) - inserted)

    def benchmark_rows(self) -> list[dict[str, Any]]:
        """Every stored benchmark result with the model's name, ordered by model, benchmark and metric."""
        cur = self.conn.execute(
            "SELECT m.name, b.benchmark, b.metric, b.score, b.stderr, b.higher_is_better FROM benchmarks b "
            "JOIN models m ON m.id = b.model_id ORDER BY m.name, b.benchmark, b.metric"
        )
        return [
            {"model": model, "benchmark": bench, "metric": metric, "score": score, "stderr": stderr,
             "higher_is_better": None if hib is None else bool(hib)}
            for model, bench, metric, score, stderr, hib in cur
        ]

    def iter_ab_units(self) -> Iterator[tuple[str, str, str, float]]:
        """(experiment, metric, variant, value) for every unit, grouped by experiment, metric and variant."""
        yield from self.conn.execute(
            "SELECT experiment, metric, variant, value FROM ab_units ORDER BY experiment, metric, variant"
        )

    def ab_aggregate_rows(self) -> list[dict[str, Any]]:
        cur = self.conn.execute(
            "SELECT experiment, metric, variant, n, mean, std, successes FROM ab_aggregates "
            "ORDER BY experiment, metric, variant"
        )
        return [dict(zip(("experiment", "metric", "variant", "n", "mean", "std", "successes"), row))
                for row in cur]

    def ab_shared_units(self) -> list[tuple[str, str, int]]:
        """(experiment, metric, units seen in more than one variant): a broken randomisation to warn about."""
        return self.conn.execute(
            "SELECT experiment, metric, count(*) FROM (SELECT experiment, metric, unit FROM ab_units "
            "GROUP BY experiment, metric, unit HAVING count(DISTINCT variant) > 1) GROUP BY experiment, metric"
        ).fetchall()

    def table_columns(self, table: str) -> list[str]:
        """Column names of a table or view; empty when it does not exist (for optional tables of other features)."""
        return [row[1] for row in self.conn.execute(f"PRAGMA table_info([{table}])")]

    def gate_status_counts(self) -> dict[str, dict[str, int]]:
        """Per model: how many generations are 'pending', 'passed' and 'blocked' by the gates."""
        counts: dict[str, dict[str, int]] = {}
        for model, status, n in self.conn.execute(
            "SELECT m.name, g.gate_status, count(*) FROM generations g JOIN models m ON m.id = g.model_id "
            "GROUP BY m.name, g.gate_status"
        ):
            counts.setdefault(model, {"pending": 0, "passed": 0, "blocked": 0})[status] = n
        return counts

    def gate_result_pass_rates(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Per model and gate: (passed, total) from a ``gate_results`` table, if the gating feature created one.

        Probed defensively: the table is optional and owned by the gating feature, so only a shape with
        ``generation_id``, a gate name column and a pass/block column is read; anything else gives ``{}``.
        """
        columns = set(self.table_columns("gate_results"))
        if "generation_id" not in columns:
            return {}
        gate_col = next((c for c in ("gate", "gate_name", "scorer", "name") if c in columns), None)
        if gate_col is None:
            return {}
        if "passed" in columns:
            passed_expr = "sum(CASE WHEN r.passed THEN 1 ELSE 0 END)"
        elif "blocked" in columns:
            passed_expr = "sum(CASE WHEN r.blocked THEN 0 ELSE 1 END)"
        elif "status" in columns:
            passed_expr = "sum(CASE WHEN r.status IN ('passed', 'pass', 'ok') THEN 1 ELSE 0 END)"
        else:
            return {}
        try:
            rows = self.conn.execute(
                f"SELECT m.name, r.[{gate_col}], {passed_expr}, count(*) FROM gate_results r "
                "JOIN generations g ON g.id = r.generation_id JOIN models m ON m.id = g.model_id "
                f"GROUP BY m.name, r.[{gate_col}]"
            ).fetchall()
        except sqlite3.Error:
            return {}
        result: dict[str, dict[str, tuple[int, int]]] = {}
        for model, gate, passed, total in rows:
            result.setdefault(model, {})[str(gate)] = (int(passed or 0), int(total))
        return result

    def iter_preference_pairs(self, *, min_weight: float = 0.75,
                              skipped: dict[str, int] | None = None) -> Iterator[dict[str, Any]]:
        """Votes with a clear winner as (prompt, chosen, rejected) pairs, for DPO-style training data.

        Left out (and counted in ``skipped``): ties and both-bad, flagged votes, votes whose winner's share is
        below ``min_weight``, and votes with no output for either side (neither on the vote nor as a stored
        generation of that model for that prompt).
        """
        cur = self.conn.execute(
            "SELECT v.uid, v.prompt_id, p.text, ma.name, mb.name, v.winner, v.weight, v.flagged, an.name, "
            "coalesce(v.output_a, ga.output), coalesce(v.output_b, gb.output) FROM votes v "
            "JOIN prompts p ON p.id = v.prompt_id JOIN models ma ON ma.id = v.model_a_id "
            "JOIN models mb ON mb.id = v.model_b_id JOIN annotators an ON an.id = v.annotator_id "
            "LEFT JOIN generations ga ON ga.prompt_id = v.prompt_id AND ga.model_id = v.model_a_id "
            "LEFT JOIN generations gb ON gb.prompt_id = v.prompt_id AND gb.model_id = v.model_b_id "
            "ORDER BY v.id"
        )
        skipped = skipped if skipped is not None else {}

        def skip(reason: str) -> None:
            skipped[reason] = skipped.get(reason, 0) + 1

        for (uid, prompt_id, prompt, model_a, model_b, winner, weight, flagged, annotator, output_a,
             output_b) in cur:
            if winner not in ("model_a", "model_b"):
                skip("no clear winner (tie or both bad)")
            elif flagged:
                skip("flagged")
            elif weight < min_weight:
                skip(f"weight below {min_weight:g}")
            elif output_a is None or output_b is None:
                skip("no output stored for one side")
            else:
                a_wins = winner == "model_a"
                yield {
                    "prompt": prompt,
                    "chosen": output_a if a_wins else output_b,
                    "rejected": output_b if a_wins else output_a,
                    "prompt_id": prompt_id,
                    "chosen_model": model_a if a_wins else model_b,
                    "rejected_model": model_b if a_wins else model_a,
                    "weight": weight,
                    "annotator": annotator,
                    "vote_id": uid,
                }


    # -- queue ------------------------------------------------------------------------------------------------------
    # Pairs, assignments and the queue's settings (migration 0002_queue). The annotator app calls these on its UI
    # thread, once per keypress, so each is a handful of indexed statements (bench/bench_tui.py measures them).

    _PAIR_OPEN = "CASE WHEN held_back IS NULL AND (is_gold = 1 OR taken < overlap) THEN 1 ELSE 0 END"

    def queue_generations(self) -> Iterator[tuple[str, int, int, str]]:
        """(prompt_id, generation_id, model_id, output) of every generation not blocked, grouped by prompt."""
        return iter(self.conn.execute(
            "SELECT prompt_id, id, model_id, output FROM generations WHERE gate_status != 'blocked' "
            "ORDER BY prompt_id, model_id"
        ))

    def model_names_by_id(self) -> dict[int, str]:
        return dict(self.conn.execute("SELECT id, name FROM models").fetchall())

    def insert_pairs(self, rows: Iterable[tuple[str, int, int, int, str | None, str | None, float, int]]) -> int:
        """Add pairs (prompt_id, gen_a_id, gen_b_id, is_gold, gold_winner, held_back, priority, overlap); pairs
        already stored are left alone. Returns how many were new. Call inside :meth:`transaction`."""
        first_new = self.conn.execute("SELECT coalesce(max(id), 0) + 1 FROM pairs").fetchone()[0]
        before = self.conn.total_changes
        self.conn.executemany(
            "INSERT OR IGNORE INTO pairs (prompt_id, gen_a_id, gen_b_id, is_gold, gold_winner, held_back, "
            "priority, overlap) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
        inserted = self.conn.total_changes - before
        # New pairs only: the trigger keeps existing pairs' gate state current.
        self.conn.execute(
            "UPDATE pairs SET gate_rank = (SELECT CASE WHEN ga.gate_status = 'blocked' OR gb.gate_status = "
            "'blocked' THEN 0 WHEN ga.gate_status = 'passed' AND gb.gate_status = 'passed' THEN 2 ELSE 1 END "
            "FROM generations ga, generations gb WHERE ga.id = pairs.gen_a_id AND gb.id = pairs.gen_b_id) "
            "WHERE id >= ?", (first_new,))
        self.conn.execute(f"UPDATE pairs SET open = {self._PAIR_OPEN} WHERE id >= ?", (first_new,))
        return inserted

    def pair_generation_keys(self) -> dict[tuple[int, int], tuple[str, int, int]]:
        """(gen_a_id, gen_b_id) → (prompt_id, gen_a_id, gen_b_id) of every stored pair (rebuilds skip them)."""
        return {(a, b): (p, a, b) for p, a, b in self.conn.execute("SELECT prompt_id, gen_a_id, gen_b_id FROM pairs")}

    def set_pairs_overlap(self, overlap: int) -> None:
        self.conn.execute(f"UPDATE pairs SET overlap = ?, open = {self._PAIR_OPEN.replace('overlap', '?')} "
                          "WHERE is_gold = 0 AND overlap != ?", (overlap, overlap, overlap))

    def mark_gold_pairs(self, rows: Iterable[tuple[str, int]]) -> None:
        """Turn pairs into gold (attention-check) pairs: rows of (gold_winner, pair_id), canonical orientation."""
        self.conn.executemany("UPDATE pairs SET is_gold = 1, gold_winner = ? WHERE id = ?", rows)
        self.conn.execute(f"UPDATE pairs SET open = {self._PAIR_OPEN}")

    def pair_keys(self) -> list[tuple[int, str, int, int, int, int, int]]:
        """(pair_id, prompt_id, model_a_id, model_b_id, gen_a_id, gen_b_id, votes) of every pair."""
        return self.conn.execute(
            "SELECT p.id, p.prompt_id, ga.model_id, gb.model_id, p.gen_a_id, p.gen_b_id, p.votes FROM pairs p "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id"
        ).fetchall()

    def set_pair_priorities(self, rows: Iterable[tuple[float, int]]) -> None:
        """Rows of (priority, pair_id); higher is served first."""
        self.conn.executemany("UPDATE pairs SET priority = ? WHERE id = ?", rows)

    def annotator_votes_on(self, annotator: str) -> list[tuple[str, int, int, str, float]]:
        """(prompt_id, model_a_id, model_b_id, winner, weight) of one annotator's votes (gold answers)."""
        return self.conn.execute(
            "SELECT v.prompt_id, v.model_a_id, v.model_b_id, v.winner, v.weight FROM votes v "
            "JOIN annotators a ON a.id = v.annotator_id WHERE a.name = ?",
            (annotator,),
        ).fetchall()

    def set_queue_config(self, config: dict[str, Any]) -> None:
        self.conn.executemany(
            "INSERT INTO queue_config (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = "
            "excluded.value",
            [(k, json.dumps(v)) for k, v in config.items()],
        )

    def queue_config(self) -> dict[str, Any]:
        return {k: json.loads(v) for k, v in self.conn.execute("SELECT key, value FROM queue_config")}

    def set_annotator_cap(self, annotator: str, max_votes: int | None) -> None:
        aid = self.annotator_id(annotator)
        if max_votes is None:
            self.conn.execute("DELETE FROM annotator_caps WHERE annotator_id = ?", (aid,))
        else:
            self.conn.execute(
                "INSERT INTO annotator_caps (annotator_id, max_votes) VALUES (?, ?) ON CONFLICT(annotator_id) "
                "DO UPDATE SET max_votes = excluded.max_votes", (aid, max_votes))

    def annotator_cap(self, annotator_id: int) -> int | None:
        row = self.conn.execute("SELECT max_votes FROM annotator_caps WHERE annotator_id = ?",
                                (annotator_id,)).fetchone()
        return None if row is None else row[0]

    def queue_summary(self) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT count(*), coalesce(sum(is_gold), 0), coalesce(sum(held_back IS NOT NULL), 0), "
            "coalesce(sum(gate_rank = 2), 0), coalesce(sum(gate_rank = 1), 0), coalesce(sum(gate_rank = 0), 0), "
            "coalesce(sum(open), 0), coalesce(sum(votes), 0) FROM pairs"
        ).fetchone()
        keys = ("pairs", "gold", "held_back", "gate_passed", "gate_pending", "gate_blocked", "open", "votes")
        return dict(zip(keys, row, strict=True))

    def held_back_pairs(self) -> list[tuple[int, str]]:
        return self.conn.execute("SELECT id, held_back FROM pairs WHERE held_back IS NOT NULL ORDER BY id").fetchall()

    def current_assignment(self, annotator_id: int) -> tuple[int, str] | None:
        """The pair this annotator was shown and has not answered (resume), as (pair_id, shown_left)."""
        row = self.conn.execute(
            "SELECT pair_id, shown_left FROM assignments WHERE annotator_id = ? AND status = 'assigned' "
            "ORDER BY id LIMIT 1", (annotator_id,)).fetchone()
        return None if row is None else (row[0], row[1])

    def next_open_pair(self, annotator_id: int, *, gold: bool, min_gate_rank: int,
                       below: float | None = None) -> tuple[int, float] | None:
        """The highest-priority open pair this annotator has never been given (never the same pair twice), as
        (pair_id, priority). ``below`` starts the walk under a priority already passed (see AnnotatorQueue)."""
        best: tuple[int, float] | None = None
        cursor = "" if below is None else " AND priority < ?"
        for rank in (2, 1) if min_gate_rank <= 1 else (2,):
            params: list[Any] = [int(gold), rank, annotator_id]
            if below is not None:
                params.append(below)
            row = self.conn.execute(
                "SELECT id, priority FROM pairs INDEXED BY idx_pairs_serve WHERE open = 1 AND is_gold = ? "
                "AND gate_rank = ? AND NOT EXISTS (SELECT 1 FROM assignments s WHERE s.annotator_id = ? "
                f"AND s.pair_id = pairs.id){cursor} ORDER BY priority DESC LIMIT 1",
                params).fetchone()
            if row is not None and (best is None or row[1] > best[1]):
                best = (row[0], row[1])
        return best

    def count_available_pairs(self, annotator_id: int, *, min_gate_rank: int) -> int:
        return self.conn.execute(
            "SELECT count(*) FROM pairs WHERE open = 1 AND is_gold = 0 AND gate_rank >= ? AND NOT EXISTS "
            "(SELECT 1 FROM assignments s WHERE s.annotator_id = ? AND s.pair_id = pairs.id)",
            (min_gate_rank, annotator_id)).fetchone()[0]

    def count_pending_generations(self) -> int:
        return self.conn.execute("SELECT count(*) FROM generations WHERE gate_status = 'pending'").fetchone()[0]

    def assign_pair(self, annotator_id: int, pair_id: int, shown_left: str) -> None:
        """Record that this annotator is shown this pair with this side on the left (before it is drawn)."""
        with self.transaction():
            self.conn.execute(
                "INSERT INTO assignments (annotator_id, pair_id, shown_left) VALUES (?, ?, ?)",
                (annotator_id, pair_id, shown_left))
            self.conn.execute(f"UPDATE pairs SET taken = taken + 1 WHERE id = ?", (pair_id,))
            self.conn.execute(f"UPDATE pairs SET open = {self._PAIR_OPEN} WHERE id = ?", (pair_id,))

    def load_pair(self, pair_id: int) -> dict[str, Any]:
        """Everything the judging screen needs for one pair, model names included (the app keeps them hidden)."""
        row = self.conn.execute(
            "SELECT p.id, p.prompt_id, pr.text, ma.name, mb.name, ga.output, gb.output, p.is_gold, "
            "p.gold_winner, pr.category FROM pairs p JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id WHERE p.id = ?",
            (pair_id,)).fetchone()
        if row is None:
            raise StoreError(f"no pair {pair_id}")
        keys = ("pair_id", "prompt_id", "prompt", "model_a", "model_b", "output_a", "output_b", "is_gold",
                "gold_winner", "category")
        return dict(zip(keys, row, strict=True))

    def record_pair_vote(self, vote: VoteRecord, annotator_id: int) -> None:
        """Store an app vote and close its assignment in one transaction (committed when this returns)."""
        with self.transaction():
            # Only an open assignment takes a vote: the same annotator in a second window (or a stale screen)
            # must not judge one pair twice.
            cur = self.conn.execute(
                "UPDATE assignments SET status = 'done', vote_uid = ?, updated_at = ? "
                "WHERE annotator_id = ? AND pair_id = ? AND status = 'assigned'",
                (vote.uid, vote.ts, annotator_id, vote.pair_id))
            if cur.rowcount != 1:
                raise AlreadyJudgedError(f"pair {vote.pair_id} is not open for this annotator (judged or skipped)")
            counts = self.insert_votes([vote], source="annotate")
            if counts.inserted != 1:
                raise StoreError(f"vote {vote.uid} was already stored")
            self.conn.execute("UPDATE pairs SET votes = votes + 1 WHERE id = ?", (vote.pair_id,))

    def skip_pair(self, annotator_id: int, pair_id: int, ts: str | None = None) -> None:
        """This annotator passes on the pair: it is never shown to them again and frees its slot for others."""
        with self.transaction():
            cur = self.conn.execute(
                "UPDATE assignments SET status = 'skipped', updated_at = ? WHERE annotator_id = ? AND pair_id = ? "
                "AND status = 'assigned'", (ts, annotator_id, pair_id))
            if cur.rowcount:
                self.conn.execute("UPDATE pairs SET taken = max(taken - 1, 0) WHERE id = ?", (pair_id,))
                self.conn.execute(f"UPDATE pairs SET open = {self._PAIR_OPEN} WHERE id = ?", (pair_id,))

    def flag_assignment(self, annotator_id: int, pair_id: int, reason: str | None) -> None:
        self.conn.execute(
            "UPDATE assignments SET flagged = 1, flag_reason = ? WHERE annotator_id = ? AND pair_id = ?",
            (reason, annotator_id, pair_id))

    def undo_last_vote(self, annotator_id: int) -> tuple[int, str] | None:
        """Delete this annotator's last app vote and reopen its pair for them; returns (pair_id, shown_left)."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id, uid, pair_id FROM votes WHERE annotator_id = ? AND pair_id IS NOT NULL "
                "ORDER BY id DESC LIMIT 1", (annotator_id,)).fetchone()
            if row is None:
                return None
            vote_id, uid, pair_id = row
            self.conn.execute("DELETE FROM votes WHERE id = ?", (vote_id,))
            self.conn.execute("UPDATE pairs SET votes = max(votes - 1, 0) WHERE id = ?", (pair_id,))
            self.conn.execute(
                "UPDATE assignments SET status = 'assigned', vote_uid = NULL, updated_at = NULL "
                "WHERE annotator_id = ? AND pair_id = ?", (annotator_id, pair_id))
            side = self.conn.execute("SELECT shown_left FROM assignments WHERE annotator_id = ? AND pair_id = ?",
                                     (annotator_id, pair_id)).fetchone()
        return pair_id, (side[0] if side else "model_a")

    def withdraw_last_vote(self, annotator_id: int) -> int | None:
        """Delete this annotator's last app vote and close its pair *for them* (as a skip: never shown to them
        again, its slot freed for others). Used when the model names were revealed after the vote."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id, pair_id FROM votes WHERE annotator_id = ? AND pair_id IS NOT NULL "
                "ORDER BY id DESC LIMIT 1", (annotator_id,)).fetchone()
            if row is None:
                return None
            vote_id, pair_id = row
            self.conn.execute("DELETE FROM votes WHERE id = ?", (vote_id,))
            self.conn.execute("UPDATE pairs SET votes = max(votes - 1, 0) WHERE id = ?", (pair_id,))
            cur = self.conn.execute(
                "UPDATE assignments SET status = 'skipped', vote_uid = NULL, updated_at = "
                "strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE annotator_id = ? AND pair_id = ?",
                (annotator_id, pair_id))
            if cur.rowcount:
                self.conn.execute("UPDATE pairs SET taken = max(taken - 1, 0) WHERE id = ?", (pair_id,))
                self.conn.execute(f"UPDATE pairs SET open = {self._PAIR_OPEN} WHERE id = ?", (pair_id,))
        return pair_id

    def flagged_pairs(self) -> list[dict[str, Any]]:
        """Pairs annotators flagged (with their reason and whether they still voted), for the lead to review."""
        rows = self.conn.execute(
            "SELECT s.pair_id, an.name, s.flag_reason, s.status, p.prompt_id, pr.text, ma.name, mb.name, "
            "s.updated_at FROM assignments s JOIN annotators an ON an.id = s.annotator_id "
            "JOIN pairs p ON p.id = s.pair_id JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            "WHERE s.flagged = 1 ORDER BY s.id").fetchall()
        keys = ("pair_id", "annotator", "reason", "status", "prompt_id", "prompt", "model_a", "model_b", "ts")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def annotator_done(self, annotator_id: int) -> int:
        """Votes this annotator has given through the queue (an index-only count)."""
        return self.conn.execute("SELECT count(*) FROM assignments WHERE annotator_id = ? AND status = 'done'",
                                 (annotator_id,)).fetchone()[0]

    def annotator_progress(self, annotator_id: int) -> dict[str, int]:
        row = self.conn.execute(
            "SELECT coalesce(sum(s.status = 'done'), 0), coalesce(sum(s.status = 'skipped'), 0), "
            "coalesce(sum(s.status = 'done' AND p.is_gold = 1), 0) FROM assignments s "
            "JOIN pairs p ON p.id = s.pair_id WHERE s.annotator_id = ?", (annotator_id,)).fetchone()
        return {"done": row[0], "skipped": row[1], "gold_done": row[2]}

    # -- review (the lead app) -----------------------------------------------------------------------------------
    # Read-only summaries for `sbs review`; called from its worker threads, each on its own connection.

    def annotator_overview(self) -> list[dict[str, Any]]:
        """Per annotator: kind, every vote stored (imported or judged), queue done/skipped/open assignments,
        flags, cap and the time of their last queue vote — one row each, in name order."""
        rows = self.conn.execute(
            "SELECT an.id, an.name, an.kind, "
            "(SELECT count(*) FROM votes v WHERE v.annotator_id = an.id), "
            "coalesce(sum(s.status = 'done'), 0), coalesce(sum(s.status = 'skipped'), 0), "
            "coalesce(sum(s.status = 'assigned'), 0), coalesce(sum(s.flagged), 0), "
            "(SELECT max_votes FROM annotator_caps c WHERE c.annotator_id = an.id), "
            "max(CASE WHEN s.status = 'done' THEN s.updated_at END) "
            "FROM annotators an LEFT JOIN assignments s ON s.annotator_id = an.id "
            "GROUP BY an.id ORDER BY an.name").fetchall()
        keys = ("id", "annotator", "kind", "votes", "done", "skipped", "open", "flagged", "cap", "last_vote")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def recent_vote_times(self, annotator_id: int, limit: int = 50) -> list[str]:
        """Timestamps of this annotator's latest queue votes, newest first (their pace)."""
        return [r[0] for r in self.conn.execute(
            "SELECT updated_at FROM assignments WHERE annotator_id = ? AND status = 'done' "
            "AND updated_at IS NOT NULL ORDER BY updated_at DESC LIMIT ?", (annotator_id, limit))]

    def held_back_details(self, limit: int = 500) -> list[dict[str, Any]]:
        """Pairs held back from blind judging (identity leaks), with their prompt and models, first ``limit``."""
        rows = self.conn.execute(
            "SELECT p.id, p.held_back, pr.text, ma.name, mb.name FROM pairs p "
            "JOIN prompts pr ON pr.id = p.prompt_id "
            "JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id "
            "JOIN models ma ON ma.id = ga.model_id JOIN models mb ON mb.id = gb.model_id "
            "WHERE p.held_back IS NOT NULL ORDER BY p.id LIMIT ?", (limit,)).fetchall()
        keys = ("pair_id", "reason", "prompt", "model_a", "model_b")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def recent_votes(self, limit: int = 500) -> list[dict[str, Any]]:
        """The latest votes, newest first, without their texts (the vote browser's list)."""
        rows = self.conn.execute(
            "SELECT v.id, v.ts, an.name, an.kind, ma.name, mb.name, v.winner, v.weight, v.shown_left, v.flagged, "
            "v.rationale, substr(p.text, 1, 200) FROM votes v JOIN prompts p ON p.id = v.prompt_id "
            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
            "JOIN annotators an ON an.id = v.annotator_id ORDER BY v.id DESC LIMIT ?", (limit,)).fetchall()
        keys = ("id", "ts", "annotator", "kind", "model_a", "model_b", "winner", "weight", "shown_left", "flagged",
                "rationale", "prompt")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def vote_detail(self, vote_id: int) -> dict[str, Any] | None:
        """One vote with its prompt and both answers: the vote's stored outputs, else the stored generations."""
        row = self.conn.execute(
            "SELECT v.id, v.ts, an.name, ma.name, mb.name, v.winner, v.weight, v.shown_left, v.flagged, "
            "v.flag_reason, v.rationale, v.criteria, p.text, "
            "coalesce(v.output_a, (SELECT g.output FROM generations g WHERE g.prompt_id = v.prompt_id "
            "AND g.model_id = v.model_a_id)), "
            "coalesce(v.output_b, (SELECT g.output FROM generations g WHERE g.prompt_id = v.prompt_id "
            "AND g.model_id = v.model_b_id)) "
            "FROM votes v JOIN prompts p ON p.id = v.prompt_id JOIN models ma ON ma.id = v.model_a_id "
            "JOIN models mb ON mb.id = v.model_b_id JOIN annotators an ON an.id = v.annotator_id WHERE v.id = ?",
            (vote_id,)).fetchone()
        if row is None:
            return None
        keys = ("id", "ts", "annotator", "model_a", "model_b", "winner", "weight", "shown_left", "flagged",
                "flag_reason", "rationale", "criteria", "prompt", "output_a", "output_b")
        detail = dict(zip(keys, row, strict=True))
        detail["criteria"] = json.loads(detail["criteria"]) if detail["criteria"] else None
        return detail

    def flagged_vote_count(self) -> int:
        """Votes stored with the flag set (excluded from rankings unless asked for)."""
        return self.conn.execute("SELECT count(*) FROM votes WHERE flagged = 1").fetchone()[0]

    # -- gate results ------------------------------------------------------------------------------------------

    def pending_generations(self, *, limit: int, after_id: int = 0) -> list[dict[str, Any]]:
        """The next ``limit`` generations with gate_status 'pending' (id order), with what scorers need."""
        cur = self.conn.execute(
            "SELECT g.id, g.prompt_id, p.text, m.name, g.output, g.output_sha, p.reference, p.category "
            "FROM generations g JOIN prompts p ON p.id = g.prompt_id JOIN models m ON m.id = g.model_id "
            "WHERE g.gate_status = 'pending' AND g.id > ? ORDER BY g.id LIMIT ?", (after_id, limit))
        return [self._generation_row(r) for r in cur]

    def iter_generations_for_scoring(self, *, batch: int = 1000) -> Iterator[dict[str, Any]]:
        """Every generation (id order), read in pages so a large database streams."""
        last = 0
        while True:
            rows = self.conn.execute(
                "SELECT g.id, g.prompt_id, p.text, m.name, g.output, g.output_sha, p.reference, p.category "
                "FROM generations g JOIN prompts p ON p.id = g.prompt_id JOIN models m ON m.id = g.model_id "
                "WHERE g.id > ? ORDER BY g.id LIMIT ?", (last, batch)).fetchall()
            if not rows:
                return
            for r in rows:
                yield self._generation_row(r)
            last = rows[-1][0]

    @staticmethod
    def _generation_row(r: Sequence[Any]) -> dict[str, Any]:
        return {"id": r[0], "prompt_id": r[1], "prompt": r[2], "model": r[3], "output": r[4],
                "output_sha": r[5], "reference": r[6], "category": r[7]}

    def cached_gate_results(self, generation_ids: Sequence[int], gate: str,
                            config_hash: str) -> dict[int, tuple[float | None, dict[str, Any]]]:
        """Stored results for these generations under this gate configuration, if their output is unchanged."""
        found: dict[int, tuple[float | None, dict[str, Any]]] = {}
        ids = list(generation_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            rows = self.conn.execute(
                "SELECT r.generation_id, r.score, r.details FROM gate_results r "
                "JOIN generations g ON g.id = r.generation_id AND g.output_sha = r.output_sha "
                f"WHERE r.gate = ? AND r.config_hash = ? AND r.generation_id IN ({','.join('?' * len(chunk))})",
                [gate, config_hash, *chunk]).fetchall()
            for gid, score, details in rows:
                found[gid] = (score, json.loads(details) if details else {})
        return found

    def save_gate_results(self, rows: Iterable[tuple[int, str, str, str, float | None, bool, dict[str, Any]]]
                          ) -> None:
        """Upsert (generation_id, gate, config_hash, output_sha, score, blocked, details); call in a transaction.

        A result replaces that generation's results for the same gate under other configurations, so the table
        holds one current row per (generation, gate) and per-gate summaries (the funnel) never count twice.
        """
        rows = list(rows)
        self.conn.executemany(
            "DELETE FROM gate_results WHERE generation_id = ? AND gate = ? AND config_hash != ?",
            [(gid, gate, h) for gid, gate, h, *_ in rows])
        self.conn.executemany(
            "INSERT INTO gate_results (generation_id, gate, config_hash, output_sha, score, blocked, details) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(generation_id, gate, config_hash) DO UPDATE SET "
            "output_sha = excluded.output_sha, score = excluded.score, blocked = excluded.blocked, "
            "details = excluded.details, scored_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')",
            [(gid, gate, h, sha, score, int(blocked), json_or_none(details))
             for gid, gate, h, sha, score, blocked, details in rows])

    def settle_gate_status(self, decisions: Sequence[tuple[int, str, str]]) -> int:
        """Apply (generation_id, output_sha, 'passed'|'blocked') to generations still pending with that output.

        A generation whose output was replaced while it was being scored stays pending (it is scored again).
        Returns how many rows changed; call inside a transaction.
        """
        before = self.conn.total_changes
        self.conn.executemany(
            "UPDATE generations SET gate_status = ? WHERE id = ? AND output_sha = ? AND gate_status = 'pending'",
            [(status, gid, sha) for gid, sha, status in decisions])
        return self.conn.total_changes - before

    def gate_result_counts(self, gate: str, config_hash: str) -> dict[str, tuple[int, int]]:
        """model → (generations scored, generations blocked) by one gate configuration (current outputs only)."""
        return {model: (n, blocked) for model, n, blocked in self.conn.execute(
            "SELECT m.name, count(*), sum(r.blocked) FROM gate_results r "
            "JOIN generations g ON g.id = r.generation_id AND g.output_sha = r.output_sha "
            "JOIN models m ON m.id = g.model_id WHERE r.gate = ? AND r.config_hash = ? GROUP BY m.name",
            (gate, config_hash))}

assert set(WINNERS) == {"model_a", "model_b", "tie", "both_bad"}
