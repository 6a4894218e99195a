"""The schema's later migrations, 0011 onward: A/B controls, the frozen instruction difficulty, unchecked safety
categories, import visibility, the arena's ledger and the pair counts.

Why a second file: one file of every migration outgrew the tree's 500-line rule; :mod:`.schema` imports this one
after registering 0001–0010, so the order stays the numbers' order. A new migration goes at the end of this file
with the next number.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sbs_tui.core.store.migrate import migration

if TYPE_CHECKING:  # the annotations only (see .schema)
    from sbs_tui.core.store.lite import sqlite_utils


@migration("0011_ab_controls")
def _m0011_ab_controls(db: sqlite_utils.Database) -> None:
    """The control variant of each A/B experiment: a property of the experiment, chosen once (at import, or by
    ``sbs ab --control``) so that ``sbs ab``, ``sbs funnel`` and the review app compare against the same one."""
    db.executescript(
        """
        CREATE TABLE ab_controls (
            experiment TEXT PRIMARY KEY,
            control TEXT NOT NULL,
            chosen_by TEXT NOT NULL
        );
        """
    )


@migration("0012_instruction_difficulty")
def _m0012_instruction_difficulty(db: sqlite_utils.Database) -> None:
    """The frozen instruction difficulty of the length-controlled win rate (issue 19): fitted once per baseline's
    prompt set and kept with its date, the models and the verdicts it used, so that adding a model later never
    changes another model's LC. ``store.difficulty``."""
    db.executescript(
        """
        CREATE TABLE difficulty_fits (
            id INTEGER PRIMARY KEY,
            baseline TEXT NOT NULL,
            fitted_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%SZ', 'now')),
            models TEXT NOT NULL,
            verdicts INTEGER NOT NULL,
            method TEXT NOT NULL
        );
        CREATE INDEX idx_difficulty_fits_baseline ON difficulty_fits(baseline, id);
        CREATE TABLE prompt_difficulty (
            fit_id INTEGER NOT NULL REFERENCES difficulty_fits(id) ON DELETE CASCADE,
            position INTEGER NOT NULL,
            prompt_id TEXT NOT NULL,
            difficulty REAL NOT NULL,
            difficulty_se REAL,
            PRIMARY KEY (fit_id, prompt_id)
        );
        """
    )


@migration("0013_gate_unchecked")
def _m0013_gate_unchecked(db: sqlite_utils.Database) -> None:
    """Safety coverage you can see (issue 20): the safety categories no enabled blocking gate checked in each
    generation's language, as the gates last settled it — comma-separated names in the taxonomy's order, ``''``
    when every required category was checked, NULL before the generation is gated. One short text column on the
    row the gate pass already updates: storing it costs the gate path nothing measurable (docs/gates.md), and a
    per-(generation, category) table would multiply the writes by eight for a value that depends only on the
    language and the gate configuration."""
    db.executescript(
        """
        ALTER TABLE generations ADD COLUMN unchecked TEXT;
        """
    )


@migration("0014_import_visibility")
def _m0014_import_visibility(db: sqlite_utils.Database) -> None:
    """An import is invisible until it commits (issue 21): votes and generations carry the import run that added
    them (``run_id``, NULL for rows no import added), and every read and every writer that builds on them counts
    a row only when its run is done (:data:`sbs_tui.core.store.imports.COMMITTED`). ``import_runs.failed_at``
    marks a run whose process gave up (a rollback that could not finish, e.g. on a full disk): any later command
    may roll it back. ``import_claims`` records rows identical to what an import brings that another, still
    running, import added first: the claimant adopts them when it commits, and they survive the other's rollback.
    The outcome index gains ``run_id`` so rankings still read only the index."""
    db.executescript(
        """
        ALTER TABLE votes ADD COLUMN run_id INTEGER;
        ALTER TABLE generations ADD COLUMN run_id INTEGER;
        ALTER TABLE import_runs ADD COLUMN failed_at TEXT;
        ALTER TABLE import_runs ADD COLUMN error TEXT;
        CREATE TABLE import_claims (
            run_id INTEGER NOT NULL,
            tbl TEXT NOT NULL,
            row_id INTEGER NOT NULL,
            PRIMARY KEY (run_id, tbl, row_id)
        ) WITHOUT ROWID;
        CREATE INDEX idx_import_claims_row ON import_claims(tbl, row_id);
        CREATE INDEX idx_votes_visible_outcomes
            ON votes(model_a_id, model_b_id, score_b, flagged, annotator_id, run_id);
        DROP INDEX IF EXISTS idx_votes_outcomes;
        DROP VIEW IF EXISTS vote_details;
        DROP VIEW IF EXISTS generation_details;
        CREATE VIEW vote_details AS
            SELECT v.id, v.uid, v.prompt_id, p.text AS prompt, ma.name AS model_a, mb.name AS model_b,
                   v.winner, v.weight, v.score_b, an.name AS annotator, v.shown_left, v.ts, v.rationale,
                   v.criteria, v.flagged, v.flag_reason, v.source
            FROM votes v
            JOIN prompts p ON p.id = v.prompt_id
            JOIN models ma ON ma.id = v.model_a_id
            JOIN models mb ON mb.id = v.model_b_id
            JOIN annotators an ON an.id = v.annotator_id
            WHERE v.run_id IS NULL OR v.run_id NOT IN (SELECT id FROM import_runs WHERE status = 'running');
        CREATE VIEW generation_details AS
            SELECT g.id, g.prompt_id, p.text AS prompt, m.name AS model, g.output, g.output_chars,
                   g.gate_status, p.category, g.source
            FROM generations g
            JOIN prompts p ON p.id = g.prompt_id
            JOIN models m ON m.id = g.model_id
            WHERE g.run_id IS NULL OR g.run_id NOT IN (SELECT id FROM import_runs WHERE status = 'running');
        """
    )


@migration("0015_arena_battles")
def _m0015_arena_battles(db: sqlite_utils.Database) -> None:
    """The arena's ledger (issue 23): one row per battle an annotator started, written when it starts. Why a table
    and not the generations it leaves: a battle in which neither model answered stores no generation, yet it
    counts against the annotator's rate limit and spends tokens; and the rate limit and the campaign budget must
    hold across every arena session of a campaign (two browser tabs, a restarted app), so they are read here, in
    the same transaction that starts the battle. ``started_at`` is Unix seconds (the sliding minute);
    ``tokens_*`` and ``cost`` (in the currency of ``[models.NAME]`` prices) are added when the answers end."""
    db.executescript(
        """
        CREATE TABLE arena_battles (
            battle_id TEXT PRIMARY KEY,
            annotator_id INTEGER NOT NULL REFERENCES annotators(id),
            model_a_id INTEGER NOT NULL REFERENCES models(id),
            model_b_id INTEGER NOT NULL REFERENCES models(id),
            started_at REAL NOT NULL,
            outcome TEXT NOT NULL DEFAULT 'running'
                CHECK (outcome IN ('running', 'answered', 'voted', 'gated', 'incomplete')),
            tokens_in INTEGER NOT NULL DEFAULT 0,
            tokens_out INTEGER NOT NULL DEFAULT 0,
            cost REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX idx_arena_battles_annotator ON arena_battles(annotator_id, started_at);
        """
    )


@migration("0016_pair_counts")
def _m0016_pair_counts(db: sqlite_utils.Database) -> None:
    """The votes' outcome counts per voter class, kept in step with the votes by triggers and by the import's
    batches, so ``sbs rank`` reads models² cells instead of every vote (issue 22; :mod:`.pair_counts`)."""
    from sbs_tui.core.store import pair_counts_sql

    pair_counts_sql.create(db)


@migration("0017_agreement_tallies")
def _m0017_agreement_tallies(db: sqlite_utils.Database) -> None:
    """Agreement's counts kept as votes land (issue 22, :mod:`sbs_tui.core.store.tallies`): per item the labels
    of each kind, per (item, annotator) the first label, per annotator pair the confusion, per scope and annotator
    the majority test's counts, per (annotator, model pair) the position table; ``vote_timeline`` counts votes per
    hour, annotator and outcome (the plots' convergence and pace). ``tally_state`` holds the
    watermark (the last vote id counted; while a large backlog is counted by ranges of prompts, the target and the
    prompt cursor) and a change counter the triggers bump when a counted vote is deleted or
    changed, or an annotator's kind or a model's name changes: the tallies are then rebuilt."""
    db.executescript(
        """
        CREATE TABLE tally_state (key TEXT PRIMARY KEY, value INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO tally_state (key, value) VALUES ('agreement_watermark', 0), ('agreement_changes', 0),
            ('agreement_built', 0), ('agreement_target', 0), ('agreement_cursor', 0);
        CREATE TABLE agree_items (
            id INTEGER PRIMARY KEY, prompt_id TEXT NOT NULL, x_id INTEGER NOT NULL, y_id INTEGER NOT NULL,
            h0 INTEGER NOT NULL DEFAULT 0, h1 INTEGER NOT NULL DEFAULT 0, h2 INTEGER NOT NULL DEFAULT 0,
            j0 INTEGER NOT NULL DEFAULT 0, j1 INTEGER NOT NULL DEFAULT 0, j2 INTEGER NOT NULL DEFAULT 0,
            h_first INTEGER, j_first INTEGER, UNIQUE (prompt_id, x_id, y_id));
        CREATE TABLE agree_labels (
            item_id INTEGER NOT NULL, annotator_id INTEGER NOT NULL, label INTEGER NOT NULL,
            first_id INTEGER NOT NULL, n INTEGER NOT NULL, labels_mask INTEGER NOT NULL, lefts_mask INTEGER NOT NULL,
            PRIMARY KEY (item_id, annotator_id)) WITHOUT ROWID;
        CREATE INDEX idx_agree_labels_annotator ON agree_labels(annotator_id);
        CREATE TABLE agree_annotators (
            annotator_id INTEGER PRIMARY KEY, votes INTEGER NOT NULL DEFAULT 0,
            both_orders INTEGER NOT NULL DEFAULT 0, consistent INTEGER NOT NULL DEFAULT 0);
        CREATE TABLE agree_pairs (
            a_id INTEGER NOT NULL, b_id INTEGER NOT NULL, la INTEGER NOT NULL, lb INTEGER NOT NULL,
            n INTEGER NOT NULL, PRIMARY KEY (a_id, b_id, la, lb)) WITHOUT ROWID;
        CREATE TABLE agree_majority (
            scope TEXT NOT NULL, annotator_id INTEGER NOT NULL, agree INTEGER NOT NULL, seen INTEGER NOT NULL,
            PRIMARY KEY (scope, annotator_id)) WITHOUT ROWID;
        CREATE TABLE agree_position (
            annotator_id INTEGER NOT NULL, x_id INTEGER NOT NULL, y_id INTEGER NOT NULL,
            c0 INTEGER NOT NULL, c1 INTEGER NOT NULL, c2 INTEGER NOT NULL, c3 INTEGER NOT NULL,
            first_id INTEGER NOT NULL, PRIMARY KEY (annotator_id, x_id, y_id)) WITHOUT ROWID;
        CREATE TABLE vote_timeline (
            timed INTEGER NOT NULL, hour TEXT NOT NULL, annotator_id INTEGER NOT NULL, model_a_id INTEGER NOT NULL,
            model_b_id INTEGER NOT NULL, score_b REAL NOT NULL, flagged INTEGER NOT NULL, n INTEGER NOT NULL,
            PRIMARY KEY (timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged)) WITHOUT ROWID;
        CREATE TRIGGER tally_votes_deleted AFTER DELETE ON votes
            WHEN old.id <= (SELECT max(value) FROM tally_state
                            WHERE key IN ('agreement_watermark', 'agreement_target'))
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        CREATE TRIGGER tally_votes_changed AFTER UPDATE OF id, prompt_id, model_a_id, model_b_id, winner, score_b,
            annotator_id, shown_left, flagged, ts ON votes
            WHEN old.id <= (SELECT max(value) FROM tally_state
                            WHERE key IN ('agreement_watermark', 'agreement_target'))
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        CREATE TRIGGER tally_annotators_changed AFTER UPDATE OF kind, name ON annotators
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        CREATE TRIGGER tally_models_changed AFTER UPDATE OF name ON models
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        """
    )


@migration("0018_arena_unvoted_index")
def _m0018_arena_unvoted_index(db: sqlite_utils.Database) -> None:
    """The arena draws its pair from the campaign's battles (issue 23): the votes between two models plus the
    ledger's battles that have no vote (running, answered, gated, incomplete), of every session and annotator.
    This covering index answers the second part from the unvoted rows alone (``store.arena.unvoted_pairs``), so
    the draw stays one index range however many battles were voted."""
    db.executescript(
        "CREATE INDEX idx_arena_battles_unvoted ON arena_battles(outcome, model_a_id, model_b_id);")


# Whether a vote (``old``) is in the agreement tallies: at or below the watermark, or, while a backlog is counted
# by ranges of prompts, at or below the target in a prompt range already passed.
_COUNTED = """(old.id <= (SELECT value FROM tally_state WHERE key = 'agreement_watermark')
    OR old.id <= (SELECT value FROM tally_state WHERE key = 'agreement_target')
       AND (SELECT rowid FROM prompts WHERE id = old.prompt_id)
           <= (SELECT value FROM tally_state WHERE key = 'agreement_cursor'))"""
_TIMELINE_KEY = """timed = ({v}.ts IS NOT NULL) AND hour = coalesce(substr({v}.ts, 1, 13), '')
    AND annotator_id = {v}.annotator_id AND model_a_id = {v}.model_a_id AND model_b_id = {v}.model_b_id
    AND score_b = {v}.score_b AND flagged = {v}.flagged"""
_DIRTY = ("INSERT OR IGNORE INTO tally_dirty (prompt_id, m1, m2) VALUES ({v}.prompt_id, "
          "min({v}.model_a_id, {v}.model_b_id), max({v}.model_a_id, {v}.model_b_id));")


@migration("0019_tally_dirty_items")
def _m0019_tally_dirty_items(db: sqlite_utils.Database) -> None:
    """An undo, flag or ``--replace`` of a counted vote re-counts its item, not the database (issue 22,
    :mod:`sbs_tui.core.store.tallies_dirty`). The triggers now record the changed vote's items (prompt, model pair
    by id) in ``tally_dirty`` and move its hourly timeline count at once; the next read re-derives just those
    items. Undoing the newest votes lowers the watermark to the newest vote left (the next vote gets the freed
    id). ``agree_labels`` gains what an item gives the position tables (``p0``–``p3``, ``p_first``, keyed by
    ``x_id``, ``y_id``) so the item's share can be taken away; an index on it finds a position table's first
    vote in one seek. Only an annotator's kind, a model's name (the items' order) or a vote's id changing (or its
    prompt, while a backlog is counted by prompt ranges) still bumps ``agreement_changes``: a full recount. An
    annotator's name is not in the tallies (they key ids): renaming one recounts nothing any more. The tallies
    are recounted once, from zero."""
    counted_old = _COUNTED
    # A backlog counted by prompt ranges: a vote moved to another prompt might be counted twice (recount instead).
    passing = "(SELECT value FROM tally_state WHERE key = 'agreement_target') != 0"
    # The newest votes gone (undone, or a rolled-back import's): SQLite gives the next vote a freed id, which
    # must not pass for counted — the watermark (and a backlog's target) come down to the newest vote left.
    top_gone = ("(SELECT coalesce(max(id), 0) FROM votes) < (SELECT max(value) FROM tally_state "
                "WHERE key IN ('agreement_watermark', 'agreement_target'))")
    db.executescript(
        f"""
        DROP TRIGGER IF EXISTS tally_votes_deleted;
        DROP TRIGGER IF EXISTS tally_votes_changed;
        DROP TRIGGER IF EXISTS tally_annotators_changed;
        DROP TRIGGER IF EXISTS tally_models_changed;
        DROP TABLE agree_labels;
        CREATE TABLE agree_labels (
            item_id INTEGER NOT NULL, annotator_id INTEGER NOT NULL, label INTEGER NOT NULL,
            first_id INTEGER NOT NULL, n INTEGER NOT NULL, labels_mask INTEGER NOT NULL, lefts_mask INTEGER NOT NULL,
            x_id INTEGER NOT NULL, y_id INTEGER NOT NULL, p0 INTEGER NOT NULL, p1 INTEGER NOT NULL,
            p2 INTEGER NOT NULL, p3 INTEGER NOT NULL, p_first INTEGER,
            PRIMARY KEY (item_id, annotator_id)) WITHOUT ROWID;
        CREATE INDEX idx_agree_labels_position ON agree_labels(annotator_id, x_id, y_id, p_first);
        DELETE FROM agree_items;
        DELETE FROM agree_annotators;
        DELETE FROM agree_pairs;
        DELETE FROM agree_majority;
        DELETE FROM agree_position;
        DELETE FROM vote_timeline;
        UPDATE tally_state SET value = 0;
        CREATE TABLE tally_dirty (
            prompt_id TEXT NOT NULL, m1 INTEGER NOT NULL, m2 INTEGER NOT NULL,
            PRIMARY KEY (prompt_id, m1, m2)) WITHOUT ROWID;
        CREATE TRIGGER tally_votes_deleted AFTER DELETE ON votes
            WHEN {counted_old} OR {top_gone}
            BEGIN
                INSERT OR IGNORE INTO tally_dirty (prompt_id, m1, m2) SELECT old.prompt_id,
                    min(old.model_a_id, old.model_b_id), max(old.model_a_id, old.model_b_id) WHERE {counted_old};
                UPDATE vote_timeline SET n = n - 1 WHERE {_TIMELINE_KEY.format(v="old")} AND {counted_old};
                DELETE FROM vote_timeline WHERE {_TIMELINE_KEY.format(v="old")} AND n <= 0;
                UPDATE tally_state SET value = min(value, (SELECT coalesce(max(id), 0) FROM votes))
                    WHERE key IN ('agreement_watermark', 'agreement_target');
            END;
        CREATE TRIGGER tally_votes_moved AFTER UPDATE OF id, prompt_id ON votes
            WHEN (old.id != new.id OR old.prompt_id != new.prompt_id AND {passing}) AND {counted_old}
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        CREATE TRIGGER tally_votes_changed AFTER UPDATE OF prompt_id, model_a_id, model_b_id, winner, score_b,
            annotator_id, shown_left, flagged, ts ON votes
            WHEN old.id = new.id AND (old.prompt_id = new.prompt_id OR NOT {passing}) AND {counted_old}
            BEGIN
                {_DIRTY.format(v="old")}
                {_DIRTY.format(v="new")}
                UPDATE vote_timeline SET n = n - 1 WHERE {_TIMELINE_KEY.format(v="old")};
                INSERT INTO vote_timeline (timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged, n)
                    VALUES (new.ts IS NOT NULL, coalesce(substr(new.ts, 1, 13), ''), new.annotator_id,
                            new.model_a_id, new.model_b_id, new.score_b, new.flagged, 1)
                    ON CONFLICT (timed, hour, annotator_id, model_a_id, model_b_id, score_b, flagged)
                    DO UPDATE SET n = n + 1;
                DELETE FROM vote_timeline WHERE {_TIMELINE_KEY.format(v="old")} AND n <= 0;
            END;
        CREATE TRIGGER tally_annotators_changed AFTER UPDATE OF kind ON annotators WHEN old.kind IS NOT new.kind
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        CREATE TRIGGER tally_models_changed AFTER UPDATE OF name ON models WHEN old.name IS NOT new.name
            BEGIN UPDATE tally_state SET value = value + 1 WHERE key = 'agreement_changes'; END;
        """
    )


@migration("0020_tally_relabel")
def _m0020_tally_relabel(db: sqlite_utils.Database) -> None:
    """A model's new name or an annotator's new kind no longer recounts the agreement tallies from zero: the
    triggers record the renamed model and the annotator's kind before its first change, and the next catch-up
    relabels just the items they touch (:mod:`sbs_tui.core.store.tallies_relabel`). The tallies stay as they are."""
    db.executescript(
        """
        CREATE TABLE tally_renamed (model_id INTEGER PRIMARY KEY);
        CREATE TABLE tally_kinds_changed (annotator_id INTEGER PRIMARY KEY, old_kind TEXT NOT NULL);
        DROP TRIGGER IF EXISTS tally_annotators_changed;
        DROP TRIGGER IF EXISTS tally_models_changed;
        CREATE TRIGGER tally_annotators_changed AFTER UPDATE OF kind ON annotators WHEN old.kind IS NOT new.kind
            BEGIN INSERT OR IGNORE INTO tally_kinds_changed (annotator_id, old_kind) VALUES (old.id, old.kind); END;
        CREATE TRIGGER tally_models_changed AFTER UPDATE OF name ON models WHEN old.name IS NOT new.name
            BEGIN INSERT OR IGNORE INTO tally_renamed (model_id) VALUES (old.id); END;
        """
    )


@migration("0021_drop_outcome_index")
def _m0021_drop_outcome_index(db: sqlite_utils.Database) -> None:
    """The six-column covering index over the votes' outcomes goes (issue 22, import at scale). Whole-class
    rankings, the queue's and the arena's pair draws read the kept ``pair_counts``; the ``--annotator`` and
    ``--category`` rankings were already planned on ``idx_votes_annotator`` / ``idx_votes_item`` (EXPLAIN QUERY
    PLAN, 1M votes: the same 37 ms / 235 ms with or without it); the flagged count now reads ``pair_counts``
    too. What the index still cost was every import: keyed by model pair, each vote dirtied a page of it of its
    own, ~25% of SQLite's insert work per vote (docs/benchmarks.md)."""
    db.executescript("DROP INDEX IF EXISTS idx_votes_visible_outcomes;")
