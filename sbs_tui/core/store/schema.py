"""The database schema: named migrations, applied in name order, each exactly once.

A database written by an older version is upgraded in place when it is opened. Migration names are numbered
``0001_…``, ``0002_…`` and run in that order; a new one goes at the end of :mod:`.schema_late` with the next number. How
they are registered and run (and :data:`~sbs_tui.core.store.migrate.LEGACY_NAMES`, the names an earlier version
recorded) is :mod:`sbs_tui.core.store.migrate`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbs_tui.core.store.migrate import migration, run_pending

if TYPE_CHECKING:  # the annotations only: importing sqlite-utils costs every process that opens a store
    from sbs_tui.core.store.lite import sqlite_utils


def apply_migrations(db: sqlite_utils.Database) -> None:
    """Bring the schema up to date. It lives with the migrations so that whoever calls it has imported, and so
    registered, every one of them."""
    run_pending(db)


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


@migration("0003_benchmark_ab_details")
def _m0003_benchmark_ab_details(db: sqlite_utils.Database) -> None:
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


@migration("0004_vote_outcome_index")
def _m0004_vote_outcome_index(db: sqlite_utils.Database) -> None:
    """A covering index for :meth:`Votes.outcomes <sbs_tui.core.store.votes.Votes.outcomes>`: with ``flagged`` (excluded by default) and
    ``annotator_id`` in the index, aggregating 1M votes reads only the index (0.1 s instead of a 1.8 s table
    scan). It supersedes ``idx_votes_models`` (its prefix), which is dropped to keep inserts as cheap."""
    db.executescript(
        """
        CREATE INDEX IF NOT EXISTS idx_votes_outcomes
            ON votes(model_a_id, model_b_id, score_b, flagged, annotator_id);
        DROP INDEX IF EXISTS idx_votes_models;
        """
    )


@migration("0005_gate_results")
def _m0005_gate_results(db: sqlite_utils.Database) -> None:
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


# Today's form of a pre-96-bit content uid is its first 26 characters (see records.current_uid).
_LEGACY_UID_GLOB = "v_" + "[0-9a-f]" * 40


@migration("0006_vote_identity")
def _m0006_vote_identity(db: sqlite_utils.Database) -> None:
    """Vote identity, for imports that never duplicate and never drop a vote.

    * Votes imported before uids were shortened to 96 bits carry the whole SHA-1 ('v_' + 40 hex digits); the same
      vote imported today gets the first 26 characters. Rewrite them, so re-importing the same file adds nothing.
      Where a database already holds both forms of one vote (imported by both versions), the later copy goes.
    * ``idx_votes_item`` (prompt, annotator) lets an import find an annotator's earlier verdict on the same item
      (a changed verdict is a conflict); it replaces ``idx_votes_prompt``, its prefix, so inserts cost the same.
    """
    db.executescript(
        f"""
        DELETE FROM votes WHERE id IN (
            SELECT max(o.id, n.id) FROM votes o JOIN votes n ON n.uid = substr(o.uid, 1, 26)
            WHERE length(o.uid) = 42 AND o.uid GLOB '{_LEGACY_UID_GLOB}');
        UPDATE votes SET uid = substr(uid, 1, 26) WHERE length(uid) = 42 AND uid GLOB '{_LEGACY_UID_GLOB}';
        UPDATE assignments SET vote_uid = substr(vote_uid, 1, 26)
            WHERE length(vote_uid) = 42 AND vote_uid GLOB '{_LEGACY_UID_GLOB}';
        CREATE INDEX idx_votes_item ON votes(prompt_id, annotator_id);
        DROP INDEX IF EXISTS idx_votes_prompt;
        """
    )


@migration("0007_annotator_tokens")
def _m0007_annotator_tokens(db: sqlite_utils.Database) -> None:
    """Sign-in tokens for the team server (``sbs annotators add``, ``sbs serve``).

    Only a SHA-256 digest of each token is stored: a token is 192 random bits, so a fast digest is as safe as a
    slow password hash here and lets every WebSocket connection be checked in microseconds. One live token per
    annotator; ``revoked_at`` keeps the record of who had access and until when.
    """
    db.executescript(
        """
        CREATE TABLE annotator_tokens (
            annotator_id INTEGER PRIMARY KEY REFERENCES annotators(id),
            token_sha256 TEXT NOT NULL UNIQUE,
            role TEXT NOT NULL DEFAULT 'annotator' CHECK (role IN ('annotator', 'lead')),
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            revoked_at TEXT
        );
        """
    )


@migration("0008_gate_language_overrides")
def _m0008_gate_language_overrides(db: sqlite_utils.Database) -> None:
    """Gates you can trust (issue 10): each generation's identified language; ``gate_hold`` = 'uncovered' while
    a generation no blocking gate can read is held for a lead (stored as ``gate_status = 'blocked'`` so it is
    never served; the CHECK on gate_status stays as it is); and the lead's overrides, per generation *and
    output* (an override lapses when ``import --replace`` swaps the text the lead judged)."""
    db.executescript(
        """
        ALTER TABLE generations ADD COLUMN language TEXT;
        ALTER TABLE generations ADD COLUMN gate_hold TEXT;
        CREATE TABLE gate_overrides (
            generation_id INTEGER PRIMARY KEY REFERENCES generations(id) ON DELETE CASCADE,
            output_sha TEXT NOT NULL,
            decision TEXT NOT NULL CHECK (decision IN ('passed', 'blocked')),
            reason TEXT NOT NULL,
            decided_by TEXT NOT NULL,
            decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        """
    )


@migration("0009_judge_verdicts")
def _m0009_judge_verdicts(db: sqlite_utils.Database) -> None:
    """``sbs judge``: each judge configuration, and its verdict on each pair in each order.

    One row per order (``a_first``), not per vote: a pair is asked twice, and a run killed between the two must
    not pay for the first again. ``config_hash`` covers what changes a verdict (model, backend, template,
    whether log-probabilities are asked), not the endpoint's address or the prices. The vote itself goes to
    ``votes`` once both orders are in (see :mod:`sbs_tui.core.judge.judging`).
    """
    db.executescript(
        """
        CREATE TABLE judge_configs (
            config_hash TEXT PRIMARY KEY,
            annotator TEXT NOT NULL,
            config TEXT NOT NULL,
            created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
        );
        CREATE TABLE judge_verdicts (
            config_hash TEXT NOT NULL REFERENCES judge_configs(config_hash),
            gen_a_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
            gen_b_id INTEGER NOT NULL REFERENCES generations(id) ON DELETE CASCADE,
            a_first INTEGER NOT NULL CHECK (a_first IN (0, 1)),
            verdict TEXT CHECK (verdict IN ('first', 'second', 'tie')),
            p_first REAL CHECK (p_first >= 0.0 AND p_first <= 1.0),
            reply TEXT,
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            judged_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            PRIMARY KEY (config_hash, gen_a_id, gen_b_id, a_first)
        );
        """
    )


@migration("0010_import_runs")
def _m0010_import_runs(db: sqlite_utils.Database) -> None:
    """Imports in short transactions that roll back as a unit (see :mod:`sbs_tui.core.store.imports`)."""
    db.executescript(
        """
        CREATE TABLE import_runs (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            sources TEXT,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'done')),
            started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
            finished_at TEXT
        );
        CREATE TABLE import_ranges (
            run_id INTEGER NOT NULL REFERENCES import_runs(id),
            tbl TEXT NOT NULL,
            lo INTEGER NOT NULL,
            hi INTEGER NOT NULL
        );
        CREATE INDEX idx_import_ranges_run ON import_ranges(run_id, tbl);
        """
    )


# Migrations 0011 onward live in .schema_late (one file of them all outgrew the 500-line rule); importing it
# here registers them after 0001–0010, in order.
from sbs_tui.core.store import schema_late  # noqa: E402,F401
