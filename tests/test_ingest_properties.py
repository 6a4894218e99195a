"""Property tests: random and broken input never crashes the importer with anything but a clear InputError,
and a failed import leaves the database exactly as it was."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sbs_tui.core.ingest.importer import import_files
from sbs_tui.core.ingest.rows import iter_generation_records, vote_from_row
from sbs_tui.core.store import Store
from sbs_tui.errors import InputError

# Hostile text: control characters, markup, RTL marks, zero-width, astral planes, lone surrogates excluded
# (not encodable as UTF-8, so they cannot be in a UTF-8 file).
hostile_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40
).filter(lambda s: s.strip() != "")
names = st.text(alphabet=st.characters(blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1,
                max_size=12)

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@SETTINGS
@given(rows=st.lists(st.fixed_dictionaries({"prompt": hostile_text, "model": names, "output": st.text()}),
                     min_size=1, max_size=8),
       fmt=st.sampled_from(["jsonl", "csv", "json"]))
def test_generation_files_round_trip_any_text(tmp_path_factory, rows, fmt):
    path = tmp_path_factory.mktemp("gen") / f"g.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    elif fmt == "json":
        path.write_text(json.dumps(rows, ensure_ascii=False, indent=1), encoding="utf-8")
    else:
        buf = io.StringIO(newline="")
        writer = csv.DictWriter(buf, fieldnames=["prompt", "model", "output"])
        writer.writeheader()
        writer.writerows(rows)
        path.write_text(buf.getvalue(), encoding="utf-8", newline="")
    try:
        records = list(iter_generation_records(path))
    except InputError as exc:
        # The only legitimate refusal: a name or prompt that is blank once trimmed.
        assert exc.field in ("model", "prompt") and exc.line is not None
        return
    assert [(r.prompt, r.model.strip(), r.output) for r in records] == \
           [(r["prompt"], r["model"].strip(), r["output"]) for r in rows]


@SETTINGS
@given(data=st.binary(max_size=300))
def test_arbitrary_bytes_never_crash_and_never_half_write(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("junk")
    good = tmp / "good.jsonl"
    good.write_text(json.dumps({"prompt": "p", "model": "m", "output": "o"}) + "\n", encoding="utf-8")
    store = Store(tmp / "db.sqlite")
    for ext in ("jsonl", "csv", "json"):
        junk = tmp / f"junk.{ext}"
        junk.write_bytes(data)
        for kind in ("generations", "votes"):
            before = {t: store.count(t) for t in ("prompts", "generations", "votes", "models")}
            try:
                import_files(store, kind, [good, junk] if kind == "generations" else [junk])
            except InputError as exc:
                assert exc.file is not None
                assert {t: store.count(t) for t in before} == before
    store.close()


vote_values = st.one_of(st.none(), st.text(max_size=10), st.integers(-3, 3), st.floats(allow_nan=True),
                        st.booleans(), st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3),
                                                                                           st.integers(), max_size=2))
vote_keys = st.sampled_from(["prompt", "prompt_id", "model_a", "model_b", "winner", "annotator", "weight", "left",
                             "criteria", "flagged", "ts", "instruction", "generator_1", "generator_2",
                             "preference"])


@SETTINGS
@given(row=st.dictionaries(vote_keys, vote_values, max_size=10))
def test_vote_rows_give_a_record_or_a_named_field(row):
    from sbs_tui.core.ingest.rows import SkipRow

    try:
        record = vote_from_row(row)
    except SkipRow:
        return
    except InputError as exc:
        assert exc.field, exc
        return
    assert record.winner in ("model_a", "model_b", "tie", "both_bad")
    assert 0.0 <= record.score_b <= 1.0
    assert record.model_a != record.model_b


@SETTINGS
@given(preference=st.floats(min_value=1.0, max_value=2.0))
def test_alpaca_preference_credit_is_exact(preference):
    record = vote_from_row({"instruction": "q", "generator_1": "a", "generator_2": "b", "preference": preference})
    assert abs(record.score_b - (preference - 1.0)) < 1e-12
    assert 0.5 <= record.weight <= 1.0


def test_json_array_streams_in_chunks(tmp_path: Path, monkeypatch):
    import sbs_tui.core.io.readers as readers

    monkeypatch.setattr(readers, "_CHUNK", 7)  # force objects to straddle chunk boundaries
    rows = [{"prompt": f"p{i}\n", "model": "m", "output": "x" * i} for i in range(30)]
    path = tmp_path / "a.json"
    path.write_text(json.dumps(rows, indent=2), encoding="utf-8")
    got = [(r.line, r.data) for r in readers.iter_rows(path)]
    assert [d for _, d in got] == rows
    text = path.read_text(encoding="utf-8").splitlines()
    for line, _ in got:
        assert text[line - 1].strip() == "{"
