"""The vote import's fast path (ingest/fast_votes.py) against the rules (rows.vote_from_row): the same tuple for
every row it takes, and every other row left to the rules, which word the error; files import to the same rows
and fail with the same error either way."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core.ingest.fast_votes import fast_vote_row, iter_vote_rows, slow_vote_row
from sbs_tui.core.ingest.importer import ParseTally, _row_batches_inline
from sbs_tui.core.ingest.rows import SkipRow, iter_vote_records
from sbs_tui.core.records import _UID_ENCODER, uid_digest
from sbs_tui.errors import InputError

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

# Values that hit every branch of the rules: names, winner spellings, blanks, padding, wrong types.
_texts = st.one_of(
    st.sampled_from(["m1", "m2", " m1 ", "model_a", "model_b", "a", "B", "tie", " Draw ", "both bad", "x", "human",
                     "judge", " judge", "p1", "2026-11-01T10:00:00Z", "", " ", "\u200b", "Ünï", "v_" + "0" * 40]),
    st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=6),
)
_values = st.one_of(_texts, _texts, _texts, st.none(), st.booleans(), st.integers(-2, 2),
                    st.floats(allow_nan=True), st.just({}), st.just({"k": 1}), st.just([1]))
_keys = st.sampled_from(["prompt", "prompt_id", "model_a", "model_b", "winner", "annotator", "annotator_kind",
                         "left", "ts", "rationale", "flag_reason", "output_a", "output_b", "vote_id", "flagged",
                         "weight", "criteria", "meta", "extra_field", "generator_1"])
_common = st.fixed_dictionaries(
    {"prompt": _texts, "model_a": st.sampled_from(["m1", " m1", "m2", "m3"]),
     "model_b": st.sampled_from(["m2", "m3 ", "m1"]), "winner": st.sampled_from(["a", "model_b", "tie", "m1"]),
     "annotator": st.sampled_from(["ann", " ann ", "judge-1", ""])},
    optional={"ts": _texts, "left": st.sampled_from(["model_a", "m1", "m2", "m3", "", "x"]),
              "flagged": st.one_of(st.booleans(), st.none(), st.just(1)), "output_a": _texts, "output_b": _texts,
              "vote_id": _texts, "annotator_kind": _texts, "prompt_id": _texts, "rationale": _texts},
)
_rows = st.one_of(_common, _common, _common, st.dictionaries(_keys, _values, max_size=9), _common.flatmap(
    lambda row: st.dictionaries(_keys, _values, max_size=3).map(lambda more: {**row, **more})))


def _slow(row):
    """The rules' answer: a tuple, or the error (kind, message, field) they raise."""
    try:
        return slow_vote_row(row, "f.jsonl:7")
    except InputError as exc:
        return ("error", exc.message, exc.field)
    except SkipRow as skip:
        return ("skip", skip.reason)


@SETTINGS
@given(row=_rows)
def test_the_fast_path_gives_the_rules_tuple_or_steps_aside(row):
    fast = fast_vote_row(row, "f.jsonl:7")
    if fast is not None:
        assert fast == _slow(row)


def test_common_rows_take_the_fast_path():
    """The shapes a large import is made of are taken (else the property above would hold vacuously)."""
    rows = [{"prompt": "Say hi", "model_a": "m1", "model_b": "m2", "winner": "model_a", "annotator": "ann"},
            {"prompt_id": "p7", "model_a": " m1", "model_b": "m2", "winner": "Tie", "annotator": "j",
             "annotator_kind": "judge", "left": "m2", "ts": "2026-11-01", "vote_id": "v-1", "flagged": True,
             "flag_reason": "odd", "output_a": "", "output_b": "B", "rationale": "r"}]
    for row in rows:
        fast = fast_vote_row(row, "f.jsonl:7")
        assert fast is not None and fast == _slow(row)


@pytest.mark.parametrize("row", [
    {"prompt": "p", "model_a": "m1", "model_b": "m2", "winner": "m1", "annotator": "a"},  # winner by name
    {"prompt": "p", "model_a": "m1", "model_b": "m2", "winner": "a", "annotator": "a", "weight": 0.7},
    {"prompt": "p", "model_a": "m1", "model_b": "m1 ", "winner": "a", "annotator": "a"},  # same model: an error
    {"prompt": "", "model_a": "m1", "model_b": "m2", "winner": "a", "annotator": "a"},  # no prompt: an error
])
def test_unusual_rows_are_left_to_the_rules(row):
    assert fast_vote_row(row, "f.jsonl:1") is None


@settings(max_examples=300, deadline=None)
@given(payload=st.lists(st.one_of(st.none(), st.booleans(), st.text(alphabet=st.characters(blacklist_categories=(
    "Cs",))), st.floats(allow_nan=True), st.integers(), st.dictionaries(st.text(max_size=3), st.integers() | st.text(
        max_size=3), max_size=3)), max_size=15))
def test_the_uid_digest_is_the_encoders(payload):
    expected = hashlib.sha1(_UID_ENCODER.encode(payload).encode("utf-8", "surrogatepass")).hexdigest()
    assert uid_digest(payload) == expected


def _old_rows(path):
    """The import's rows as before the fast path: every row through the rules."""
    return [r.as_row() for r in iter_vote_records(path, skipped=Counter())]


def _outcome(fn):
    try:
        return fn()
    except InputError as exc:
        return ("error", exc.message, exc.file, exc.line, exc.field)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(_rows, min_size=1, max_size=6))
def test_files_import_the_same_rows_and_errors_either_way(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("fast") / "votes.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    new = _outcome(lambda: list(iter_vote_rows(path, skipped=Counter(), count_identical=lambda key: None)))
    assert new == _outcome(lambda: _old_rows(path))


def test_identical_rows_and_skips_are_counted_as_before(tmp_path):
    alpaca = {"instruction": "i", "generator_1": "g1", "generator_2": "g2", "preference": None}
    vote = {"prompt": "p", "model_a": "m1", "model_b": "m2", "winner": "a", "annotator": "x"}
    given_id = dict(vote, vote_id="v9")
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in [vote, alpaca, vote, given_id, given_id, vote]))
    tally = ParseTally()
    rows = [r for batch in _row_batches_inline(path, "votes", tally, None) for r in batch]
    assert rows == _old_rows(path)
    assert tally.identical == 2  # the repeated content rows; rows with a vote_id are not content duplicates
    assert tally.skipped == Counter({"no verdict (preference is null)": 1})
