"""The store's ranking queries: the filters' indexes, vote order for online methods, outputs for length/style."""

from __future__ import annotations

from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.core.store.votes import GoldLabel
from tests.ranking_helpers import vote


def test_vote_outcomes_filters_read_their_own_indexes(tmp_path) -> None:
    """``--annotator`` and ``--category`` rankings seek their votes by index; the covering outcome index they
    never used is gone (issue 22: it cost every import a page write per vote), whole-class rankings read the kept
    ``pair_counts``."""
    with Store(tmp_path / "s.db") as store:
        by_annotator = "v.annotator_id IN (SELECT id FROM annotators WHERE name IN ('a'))"
        by_category = "v.prompt_id IN (SELECT id FROM prompts WHERE category = 'c')"
        for where, index in ((by_annotator, "idx_votes_annotator"), (by_category, "idx_votes_item")):
            plan = " ".join(str(r) for r in store.conn.execute(
                "EXPLAIN QUERY PLAN SELECT model_a_id, model_b_id, score_b, count(*) FROM votes v "
                f"WHERE v.flagged = 0 AND {where} GROUP BY model_a_id, model_b_id, score_b"))
            assert f"INDEX {index}" in plan


def test_vote_sequence_is_in_time_order_then_import_order(tmp_path) -> None:
    with Store(tmp_path / "s.db") as store:
        with store.transaction():
            store.votes.insert([
                vote("a", "b", "model_a", prompt="1", ts="2024-01-02T00:00:00Z"),
                vote("a", "b", "model_b", prompt="2"),
                vote("b", "c", "tie", prompt="3", ts="2024-01-01T00:00:00Z"),
                vote("c", "a", "both_bad", prompt="4", flagged=True),
            ])
        names, seq = store.votes.sequence()
        named = [(names[a], names[b], s) for a, b, s in seq]
        assert named == [("b", "c", 0.5), ("a", "b", 0.0), ("a", "b", 1.0)]
        assert len(store.votes.sequence(include_flagged=True)[1]) == 4


def test_vote_covariates_prefer_the_votes_own_outputs(tmp_path) -> None:
    with Store(tmp_path / "s.db") as store:
        with store.transaction():
            store.generations.insert([
                GenerationRecord(prompt_id_for("q"), "q", "a", "stored answer of a"),
                GenerationRecord(prompt_id_for("q"), "q", "b", "b"),
            ])
            store.votes.insert([vote("a", "b", "model_a", prompt="q"),
                                vote("a", "b", "model_b", prompt="q", annotator="x", output_a="shown",
                                     output_b="**shown b**")])
        names, rows = store.votes.covariates(texts=True)
        assert [(r[4], r[5], r[6], r[7]) for r in rows] == [
            (18, 1, "stored answer of a", "b"), (5, 11, "shown", "**shown b**")]
        _, no_text = store.votes.covariates()
        assert len(no_text[0]) == 6


def test_gold_labels_from_the_queue_pairs_table(tmp_path) -> None:
    with Store(tmp_path / "s.db") as store:
        assert store.votes.gold_labels() is None  # no queue in this database
        with store.transaction():
            store.generations.insert([GenerationRecord(prompt_id_for("q"), "q", m, f"answer {m}") for m in "abc"])
        # the shape the annotation queue creates (its migration lives on another branch)
        store.conn.execute(
            "CREATE TABLE IF NOT EXISTS pairs (id INTEGER PRIMARY KEY, prompt_id TEXT, gen_a_id INTEGER, "
            "gen_b_id INTEGER, is_gold INTEGER NOT NULL DEFAULT 0, gold_winner TEXT)")
        ga, gb, gc = store.generations.ids()
        store.conn.execute("INSERT INTO pairs (prompt_id, gen_a_id, gen_b_id, is_gold, gold_winner) "
                           "VALUES (?, ?, ?, 1, 'model_b')", (prompt_id_for("q"), ga, gb))
        store.conn.execute("INSERT INTO pairs (prompt_id, gen_a_id, gen_b_id, is_gold, gold_winner) "
                           "VALUES (?, ?, ?, 0, NULL)", (prompt_id_for("q"), ga, gc))
        assert store.votes.gold_labels() == [GoldLabel(prompt_id_for("q"), "a", "b", "model_b")]
