"""The queue: pairs, assignment rules (never twice, overlap, caps, resume, skip, undo), gates, blinding, gold."""

from __future__ import annotations

import sqlite3
from collections import Counter

import pytest
from tests.annotate_helpers import MODELS, judge_votes, make_store

from sbs_tui.config import Settings, parse_settings
from sbs_tui.core.queue.annotator import AnnotatorQueue, side_for
from sbs_tui.core.queue.build import BuildOptions, active_priorities, build_queue
from sbs_tui.core.queue.identity import IdentityDetector
from sbs_tui.core.store import Store


def drain(queue: AnnotatorQueue, choice: str = "left", limit: int = 1000) -> list[int]:
    seen = []
    for _ in range(limit):
        pair = queue.next_pair()
        if pair is None:
            return seen
        seen.append(pair.pair_id)
        queue.vote(pair, choice, ts="2026-01-01T00:00:00Z")
    raise AssertionError("queue did not run dry")


def test_pairs_are_two_different_models_of_one_prompt_in_canonical_order(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=5)
    rows = store.conn.execute(
        "SELECT p.prompt_id, ga.prompt_id, gb.prompt_id, ga.model_id, gb.model_id, p.gen_a_id, p.gen_b_id "
        "FROM pairs p JOIN generations ga ON ga.id = p.gen_a_id JOIN generations gb ON gb.id = p.gen_b_id").fetchall()
    assert len(rows) == 5 * 3  # C(3, 2) per prompt
    for prompt, pa, pb, ma, mb, ga, gb in rows:
        assert prompt == pa == pb and ma != mb and ga < gb


def test_rebuild_is_idempotent_and_adds_pairs_for_new_generations(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=3)
    assert build_queue(store, BuildOptions()).new_pairs == 0
    extra = make_store(None, prompts=4, build=False)  # the same 3 prompts + one more, for record reuse
    del extra
    from tests.annotate_helpers import answer

    from sbs_tui.core.records import GenerationRecord, prompt_id_for
    text = "Prompt number 0: explain topic 0."
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(text), text, "new-model", answer("new-model", 0))])
        store.generations.set_gate_status(store.generations.ids(), "passed")
    assert build_queue(store, BuildOptions()).new_pairs == 3  # new-model against the 3 others on prompt 0


def test_an_annotator_never_gets_the_same_pair_twice_and_runs_dry(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=4, overlap=3)
    seen = drain(AnnotatorQueue(store, "ann"))
    assert len(seen) == len(set(seen)) == 12
    assert AnnotatorQueue(store, "ann").next_pair() is None


def test_overlap_limits_votes_per_pair_across_annotators(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=4, overlap=2)
    for name in ("a", "b", "c", "d"):
        drain(AnnotatorQueue(store, name))
    per_pair = Counter(r[0] for r in store.conn.execute("SELECT pair_id FROM votes"))
    assert set(per_pair.values()) == {2} and len(per_pair) == 12


def test_two_connections_never_overfill_a_pair(tmp_path):
    path = tmp_path / "q.db"
    make_store(path, prompts=1, overlap=1).close()
    s1, s2 = Store(path), Store(path)
    q1, q2 = AnnotatorQueue(s1, "x"), AnnotatorQueue(s2, "y")
    taken = [q1.next_pair().pair_id, q2.next_pair().pair_id, q1.next_pair(), q2.next_pair()]
    assert taken[0] != taken[1]
    assert all(p is not None for p in taken[:2])


def test_cap_limits_an_annotator(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=4)
    store.queue.set_cap("capped", 3)
    assert len(drain(AnnotatorQueue(store, "capped"))) == 3
    assert AnnotatorQueue(store, "capped").available() == 0
    assert len(drain(AnnotatorQueue(store, "free"))) == 9  # capped's 3 pairs are full at overlap 1


def test_resume_returns_the_unanswered_pair_with_the_same_side(tmp_path):
    path = tmp_path / "q.db"
    store = make_store(path, prompts=3)
    first = AnnotatorQueue(store, "ann").next_pair()
    store.close()
    again = AnnotatorQueue(Store(path), "ann").next_pair()
    assert (again.pair_id, again.shown_left) == (first.pair_id, first.shown_left)


def test_skip_is_never_shown_again_and_frees_the_slot(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=2)
    q = AnnotatorQueue(store, "ann")
    skipped = q.next_pair()
    q.skip(skipped)
    assert skipped.pair_id not in drain(q)
    assert skipped.pair_id in drain(AnnotatorQueue(store, "other"))


def test_undo_deletes_the_last_vote_and_returns_its_pair(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=2)
    q = AnnotatorQueue(store, "ann")
    pair = q.next_pair()
    q.vote(pair, "right", ts="t")
    nxt = q.next_pair()
    assert store.count("votes") == 1
    back = q.undo()
    assert (back.pair_id, back.shown_left) == (pair.pair_id, pair.shown_left)
    assert store.count("votes") == 0
    assert store.conn.execute("SELECT votes FROM pairs WHERE id = ?", (pair.pair_id,)).fetchone()[0] == 0
    assert q.next_pair().pair_id == pair.pair_id  # the undone pair comes first …
    q.vote(back, "left", ts="t")
    assert q.next_pair().pair_id == nxt.pair_id  # … then the one that was on screen
    assert q.undo() is not None and q.undo() is None


def test_winner_follows_the_side_shown():
    from sbs_tui.core.queue.annotator import Pair

    pair = Pair(1, "p", "prompt", "A", "B", "out a", "out b", shown_left="model_b")
    assert pair.left == "out b" and pair.left_model == "B"
    assert pair.winner_for("left") == "model_b" and pair.winner_for("right") == "model_a"
    assert pair.winner_for("tie") == "tie" and pair.winner_for("both_bad") == "both_bad"


def test_vote_row_carries_side_pair_and_fresh_uid(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=2)
    q = AnnotatorQueue(store, "ann")
    pair = q.next_pair()
    uid = q.vote(pair, "left", ts="2026-01-01T00:00:00Z", rationale="clearer", criteria={"helpful": "model_a"})
    row = sqlite3.connect(tmp_path / "q.db").execute(
        "SELECT v.uid, v.winner, v.shown_left, v.pair_id, v.rationale, v.criteria, d.model_a, d.model_b "
        "FROM votes v JOIN vote_details d ON d.uid = v.uid").fetchone()
    assert row[0] == uid and uid.startswith("v_") and len(uid) == 34
    assert row[1] == pair.shown_left and row[2] == pair.shown_left and row[3] == pair.pair_id
    assert row[4] == "clearer" and '"helpful"' in row[5]
    assert (row[6], row[7]) == (pair.model_a, pair.model_b)


def test_sides_are_seeded_and_balanced():
    sides = [side_for(7, "ann", i) for i in range(400)]
    assert sides == [side_for(7, "ann", i) for i in range(400)]
    assert 0.4 < sides.count("model_a") / 400 < 0.6
    assert sides != [side_for(7, "other", i) for i in range(400)]


def test_gates_pending_pairs_wait_blocked_never_served(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=2, gate="pending")
    assert AnnotatorQueue(store, "strict", gating_required=True).next_pair() is None
    loose = AnnotatorQueue(store, "loose", gating_required=False)
    loose_pair = loose.next_pair()
    assert loose_pair is not None
    ids = store.generations.ids()
    with store.transaction():
        store.generations.set_gate_status(ids[:1], "blocked")  # trigger: pairs with this generation become gate_rank 0
        store.generations.set_gate_status(ids[1:], "passed")
    blocked_pairs = {r[0] for r in store.conn.execute(
        "SELECT id FROM pairs WHERE gen_a_id = ? OR gen_b_id = ?", (ids[0], ids[0]))}
    served = drain(AnnotatorQueue(store, "strict", gating_required=True))
    assert served and not blocked_pairs & set(served)
    assert len(served) == 6 - len(blocked_pairs | {loose_pair.pair_id})  # overlap 1: loose holds its pair


def test_gating_setting_reads_env(monkeypatch):
    from sbs_tui.config import load_settings

    monkeypatch.setenv("SBS_GATING_REQUIRED", "0")
    assert load_settings().gating.required is False
    monkeypatch.delenv("SBS_GATING_REQUIRED")
    assert parse_settings({"gating": {"required": False}}).gating.required is False
    assert load_settings().gating.required is True and Settings().gating.required is True


@pytest.mark.parametrize("text", [
    "I'm an AI assistant created by Anthropic to be helpful.",
    "As an AI developed by OpenAI, I cannot browse.",
    "I am Claude, and I'd be glad to help.",
    "Hi! I'm Gemma, a lightweight model.",
    "As a language model AI developed by OpenAI, I don't have opinions.",
    "You can call me Vicuna, a language model.",
])
def test_identity_phrases_are_detected(text):
    assert IdentityDetector.default().reason(text, "some-model") is not None


@pytest.mark.parametrize("text", [
    "Large language models such as ChatGPT, Claude and Gemini are popular.",
    "YouTube being owned by Google changed the platform.",
    "The llama is a domesticated South American camelid.",
    "I am not as capable as ChatGPT, but here is an answer.",
])
def test_ordinary_mentions_are_not_identity_leaks(text):
    assert IdentityDetector.default().reason(text, "llama-2-70b") is None


@pytest.mark.parametrize("text", [
    "I'm Cl\u200baude, and I'd be glad to help.",  # a zero-width space inside the name
    "I am \uff23laude, an assistant.",  # fullwidth C
    "I\u2019M CLAUDE. Happy to help.",  # curly apostrophe, capitals
    "I was created by OpenAI to answer questions.",
    "Anthropic trained me to be helpful.",
    "(Claude here) Sure, the answer is 4.",
    "I'm an AI assistant made by Ant\u00adhropic.",  # a soft hyphen
    "I'm Ｇｅｍｉｎｉ.",
])
def test_identity_hold_back_normalises_text_and_knows_creator_phrasings(text):
    """Issue 21: these all read as a leak to a person, and all slipped through before."""
    assert IdentityDetector.default().reason(text, "some-model") is not None


@pytest.mark.parametrize("text", [
    "The Gemini here refers to the constellation.",
    "OpenAI trained models are widely used.",
    "I was created a new account by the admin.",
])
def test_creator_phrasings_do_not_catch_ordinary_text(text):
    assert IdentityDetector.default().reason(text, "llama-2-70b") is None


def test_own_model_name_hidden_by_invisible_characters_is_a_leak():
    assert IdentityDetector.default().reason("Sure \u2014 gem\u200bma-2b-it here.", "gemma-2b-it") is not None


def test_own_model_name_is_a_leak():
    detector = IdentityDetector.default()
    assert detector.reason("Sure — gemma-2b-it here. The answer is 4.", "gemma-2b-it") is not None
    assert "names its model" in detector.reason("I'm Gemma and the answer is 4.", "gemma-2b-it")


def test_leaking_outputs_are_held_back_unless_disabled(tmp_path):
    leaky = {(0, MODELS[0]): "As an AI developed by OpenAI, I think the answer is 4."}
    store = make_store(tmp_path / "q.db", prompts=2, outputs=leaky)
    assert store.queue.summary()["held_back"] == 2  # both pairs with model 0 on prompt 0
    served = drain(AnnotatorQueue(store, "ann"))
    assert len(served) == 4
    open_store = make_store(tmp_path / "r.db", prompts=2, outputs=leaky,
                            identity=IdentityDetector(IdentityDetector.default().patterns, enabled=False))
    assert len(drain(AnnotatorQueue(open_store, "ann"))) == 6


def test_identity_patterns_configurable():
    from sbs_tui.core.settings import QueueSettings

    detector = IdentityDetector.from_settings(QueueSettings(identity_patterns=(r"\bwidgetbot\b",),
                                                            replace_identity_patterns=True))
    assert detector.reason("I am widgetBot.", "m") is not None
    assert detector.reason("As an AI developed by OpenAI", "m") is None


def test_gold_pairs_take_the_judges_answer_and_are_interleaved(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=40, build=False)
    a, b, c = MODELS
    winners = {(i, b, a): "model_a" for i in range(40)}  # judge says b beats a, written in (b, a) order
    judge_votes(store, "judge", winners)
    report = build_queue(store, BuildOptions(gold_rate=0.1, gold_from="judge", overlap=1))
    assert report.gold == 20  # at least 20 when enough verdicts exist
    rows = store.conn.execute(
        "SELECT gold_winner, ma.name, mb.name FROM pairs p JOIN generations ga ON ga.id = p.gen_a_id "
        "JOIN generations gb ON gb.id = p.gen_b_id JOIN models ma ON ma.id = ga.model_id "
        "JOIN models mb ON mb.id = gb.model_id WHERE is_gold = 1").fetchall()
    for gold_winner, ma, mb in rows:  # canonical orientation: whichever side is b must be the winner
        assert (ma, mb, gold_winner) in {(b, a, "model_a"), (a, b, "model_b")}
    q = AnnotatorQueue(store, "ann")
    kinds = []
    for _ in range(50):
        pair = q.next_pair()
        kinds.append(pair.is_gold)
        q.vote(pair, "left", ts="t")
    assert 4 <= sum(kinds) <= 6 and not kinds[0]


def test_active_priorities_prefer_uncertain_close_pairs():
    # models 0 and 1 are close with few votes; 0 vs 2 is settled by many lopsided votes.
    outcomes = [(0, 1, 1.0, 3), (0, 1, 0.0, 3), (0, 2, 0.0, 200), (1, 2, 0.0, 200)]
    prio = active_priorities(3, outcomes)
    assert prio[(0, 1)] > prio[(0, 2)] and prio[(0, 1)] > prio[(1, 2)]
    empty = active_priorities(3, [])
    assert len(set(round(v, 9) for v in empty.values())) == 1  # no votes: every pair equally useful


def test_active_strategy_orders_the_served_pairs(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=10, build=False)
    a, b, c = MODELS
    judge_votes(store, "old", {(i, a, c): "model_a" for i in range(10)} | {(i, b, c): "model_a" for i in range(10)})
    build_queue(store, BuildOptions(strategy="active"))
    first = AnnotatorQueue(store, "ann").next_pair()
    assert {first.model_a, first.model_b} == {a, b}  # the one pair nobody has judged yet


def test_pairs_above_the_walk_come_back_after_a_rescan(tmp_path, monkeypatch):
    import sbs_tui.core.queue.annotator as queue_module

    monkeypatch.setattr(queue_module, "RESCAN_EVERY", 3)
    store = make_store(tmp_path / "q.db", prompts=6, overlap=2)
    top = store.conn.execute("SELECT id FROM pairs ORDER BY priority DESC LIMIT 1").fetchone()[0]
    store.conn.execute("UPDATE pairs SET gate_rank = 1 WHERE id = ?", (top,))  # not yet passed
    q = AnnotatorQueue(store, "ann")
    served = [q.next_pair()]
    q.vote(served[0], "left", ts="t")
    store.conn.execute("UPDATE pairs SET gate_rank = 2 WHERE id = ?", (top,))  # passed: highest priority now
    for _ in range(3):
        pair = q.next_pair()
        served.append(pair)
        q.vote(pair, "left", ts="t")
    assert top in [p.pair_id for p in served]  # within RESCAN_EVERY claims, not at the end of the queue


def test_walk_that_runs_dry_rescans_from_the_top(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=2, overlap=1)
    a, b = AnnotatorQueue(store, "a"), AnnotatorQueue(store, "b")
    first_b = b.next_pair()  # b holds the top pair
    first_a = a.next_pair()
    a.vote(first_a, "left", ts="t")  # a's walk is now below b's pair
    b.skip(first_b)  # … which is free again, above a's walk
    served = [first_a.pair_id, *drain(a)]
    assert first_b.pair_id in served and len(served) == 6


def test_active_order_interleaves_model_pairs_by_value(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=10, strategy="active")
    q = AnnotatorQueue(store, "ann")
    first = []
    for _ in range(3):
        pair = q.next_pair()
        first.append(frozenset((pair.model_a, pair.model_b)))
        q.vote(pair, "left", ts="t")
    assert len(set(first)) == 3  # equal value (no votes yet): one prompt of each model pair in turn


def test_same_annotator_in_two_windows_cannot_judge_a_pair_twice(tmp_path):
    from sbs_tui.core.store import AlreadyJudgedError

    path = tmp_path / "q.db"
    make_store(path, prompts=2).close()
    one, two = AnnotatorQueue(Store(path), "ann"), AnnotatorQueue(Store(path), "ann")
    pair = one.next_pair()
    assert two.next_pair().pair_id == pair.pair_id  # resume: the same open pair
    one.vote(pair, "left", ts="t")
    with pytest.raises(AlreadyJudgedError):
        two.vote(pair, "right", ts="t")
    assert one.store.count("votes") == 1


def test_max_pairs_per_prompt_holds_across_rebuilds(tmp_path):
    store = make_store(tmp_path / "q.db", prompts=3, models=("m1", "m2", "m3", "m4"), max_pairs_per_prompt=2)
    assert store.count("pairs") == 6
    build_queue(store, BuildOptions(max_pairs_per_prompt=2, seed=5))
    assert store.count("pairs") == 6


def test_active_sampling_uses_the_one_bt_fitter_with_its_prior() -> None:
    """Issue 8.5: active sampling's strengths are ranking.bt's fit with precision-1 regularisation — equal to
    choix's MAP with the same penalty (choix penalises alpha·Σθ², i.e. alpha = prior / 2)."""
    import numpy as np

    from sbs_tui.core.queue.build import fit_bradley_terry

    choix = pytest.importorskip("choix")
    rows = [(0, 1, 1.0, 4), (0, 1, 0.0, 2), (1, 2, 1.0, 3), (2, 3, 0.0, 5)]  # model 4 has no votes
    theta, cov = fit_bradley_terry(5, rows, prior=1.0)
    data = [(b, a) if s == 1.0 else (a, b) for a, b, s, n in rows for _ in range(n)]
    ref = choix.opt_pairwise(5, data, alpha=0.5, tol=1e-12)
    np.testing.assert_allclose(theta, ref - ref.mean(), atol=1e-6)
    assert cov[4, 4] > cov[1, 1]  # the model without votes is the most uncertain
