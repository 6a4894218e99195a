"""`sbs import benchmarks` and `sbs import ab`: formats, idempotency, conflicts, all-or-nothing errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbs_tui.cli import main
from sbs_tui.core.ingest.results import ab_from_row, benchmark_from_row, iter_lm_eval_records
from sbs_tui.errors import InputError

LM_EVAL_V04 = {
    "results": {
        "hellaswag": {"name": "hellaswag", "alias": "hellaswag", "sample_len": 10042, "acc,none": 0.5,
                      "acc_stderr,none": 0.01, "acc_norm,none": 0.62,
                      "acc_norm_stderr,none": 0.012},
        "gsm8k": {"alias": "gsm8k", "exact_match,strict-match": 0.3, "exact_match_stderr,strict-match": 0.02,
                  "exact_match,flexible-extract": 0.35, "exact_match_stderr,flexible-extract": "N/A"},
        "wikitext": {"alias": "wikitext", "word_perplexity,none": 37.2, "word_perplexity_stderr,none": "N/A"},
        "mmlu": {"alias": "mmlu", "name": "mmlu", "sample_len": 14042, "acc,none": 0.4022,
                 "acc_stderr,none": 0.0041, "sample_count": {"acc,none": 14042}},
    },
    "higher_is_better": {"hellaswag": {"acc": True, "acc_norm": True},
                         "wikitext": {"word_perplexity": False}},
    "config": {"model": "hf", "model_args": "pretrained=EleutherAI/pythia-160m,dtype=float"},
    "model_name": "EleutherAI/pythia-160m",
}
LM_EVAL_V03 = {
    "results": {"arc_easy": {"acc": 0.71, "acc_stderr": 0.009, "acc_norm": 0.66, "acc_norm_stderr": 0.01,
                             "sample_len": 2376, "alias": "arc_easy"}},
    "versions": {"arc_easy": 0},
    "config": {"model": "hf-causal", "model_args": "pretrained=gpt2,revision=main", "num_fewshot": 0},
}


def run(capsys: pytest.CaptureFixture[str], db: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def rows(db: Path, sql: str) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute(sql).fetchall()


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


# -- benchmarks ------------------------------------------------------------------------------------------------

def test_lm_eval_v04_results(tmp_path, capsys):
    f = write(tmp_path / "results.json", json.dumps(LM_EVAL_V04, indent=2))
    code, _, err = run(capsys, tmp_path / "t.db", "import", "benchmarks", str(f))
    assert code == 0, err
    stored = rows(tmp_path / "t.db", "SELECT m.name, benchmark, metric, score, stderr, higher_is_better "
                                     "FROM benchmarks b JOIN models m ON m.id = b.model_id ORDER BY benchmark, metric")
    assert stored == [
        ("EleutherAI/pythia-160m", "gsm8k", "exact_match,flexible-extract", 0.35, None, None),
        ("EleutherAI/pythia-160m", "gsm8k", "exact_match,strict-match", 0.3, 0.02, None),
        ("EleutherAI/pythia-160m", "hellaswag", "acc", 0.5, 0.01, 1),
        ("EleutherAI/pythia-160m", "hellaswag", "acc_norm", 0.62, 0.012, 1),
        ("EleutherAI/pythia-160m", "mmlu", "acc", 0.4022, 0.0041, None),
        ("EleutherAI/pythia-160m", "wikitext", "word_perplexity", 37.2, None, 0),
    ]
    assert "inserted 6" in err
    meta = rows(tmp_path / "t.db", "SELECT meta FROM benchmarks WHERE benchmark = 'mmlu'")[0][0]
    assert json.loads(meta) == {"sample_len": 14042, "sample_count": {"acc,none": 14042}}


def test_lm_eval_v03_model_from_model_args_and_override(tmp_path):
    f = write(tmp_path / "old.json", json.dumps(LM_EVAL_V03))
    records = list(iter_lm_eval_records(f))
    assert {(r.model, r.benchmark, r.metric, r.score, r.stderr) for r in records} == {
        ("gpt2", "arc_easy", "acc", 0.71, 0.009), ("gpt2", "arc_easy", "acc_norm", 0.66, 0.01)}
    assert all(r.origin and r.origin.startswith(f"{f}:") for r in records)
    assert {r.model for r in iter_lm_eval_records(f, model="my-gpt2")} == {"my-gpt2"}


def test_lm_eval_without_model_name_needs_option(tmp_path, capsys):
    doc = {"results": {"arc_easy": {"acc": 0.7}}}
    f = write(tmp_path / "r.json", json.dumps(doc))
    code, _, err = run(capsys, tmp_path / "t.db", "import", "benchmarks", str(f))
    assert code == 2 and f"{f}:1" in err and "--model" in err
    code, _, err = run(capsys, tmp_path / "t.db", "import", "benchmarks", "--model", "m1", str(f))
    assert code == 0, err
    assert rows(tmp_path / "t.db", "SELECT name FROM models") == [("m1",)]


def test_lm_eval_bad_metric_value_names_line_and_field(tmp_path, capsys):
    doc = json.loads(json.dumps(LM_EVAL_V04))
    doc["results"]["gsm8k"]["exact_match,strict-match"] = "high"
    f = write(tmp_path / "r.json", json.dumps(doc, indent=2))
    line = next(i for i, text in enumerate(f.read_text().splitlines(), 1) if '"high"' in text)
    code, _, err = run(capsys, tmp_path / "t.db", "import", "benchmarks", str(f))
    assert code == 2
    assert f"{f}:{line}:" in err and "results.gsm8k.exact_match,strict-match" in err
    assert rows(tmp_path / "t.db", "SELECT count(*) FROM benchmarks") == [(0,)]


def test_benchmark_csv_idempotent_conflict_and_replace(tmp_path, capsys):
    db = tmp_path / "t.db"
    f = write(tmp_path / "b.csv", "model,benchmark,score,metric\nm1,mmlu,0.4,acc\nm2,mmlu,0.5,acc\n")
    assert run(capsys, db, "import", "benchmarks", str(f))[0] == 0
    code, _, err = run(capsys, db, "import", "benchmarks", str(f))
    assert code == 0 and "inserted 0" in err and "2 already stored" in err
    write(f, "model,benchmark,score,metric\nm1,mmlu,0.4,acc\nm2,mmlu,0.55,acc\n")
    code, _, err = run(capsys, db, "import", "benchmarks", str(f))
    assert code == 2 and f"{f}:3:" in err and "--replace" in err
    assert rows(db, "SELECT score FROM benchmarks ORDER BY score") == [(0.4,), (0.5,)]
    assert run(capsys, db, "import", "benchmarks", "--replace", str(f))[0] == 0
    assert rows(db, "SELECT score FROM benchmarks ORDER BY score") == [(0.4,), (0.55,)]
    assert rows(db, "SELECT count(*) FROM benchmarks") == [(2,)]


def test_benchmark_import_is_all_or_nothing_across_files(tmp_path, capsys):
    db = tmp_path / "t.db"
    good = write(tmp_path / "good.csv", "model,benchmark,score\nm1,mmlu,0.4\n")
    bad = write(tmp_path / "bad.csv", "model,benchmark,score\nm1,gsm8k,0.2\nm2,gsm8k,lots\n")
    code, _, err = run(capsys, db, "import", "benchmarks", str(good), str(bad))
    assert code == 2
    assert f"{bad}:3: field 'score'" in err
    assert rows(db, "SELECT count(*) FROM benchmarks") == [(0,)]
    assert rows(db, "SELECT count(*) FROM models") == [(0,)]


def test_benchmark_jsonl_rows_and_missing_file(tmp_path, capsys):
    db = tmp_path / "t.db"
    f = write(tmp_path / "b.jsonl", '{"model": "m", "benchmark": "mmlu", "score": 0.5, "notes": "5-shot"}\n')
    assert run(capsys, db, "import", "benchmarks", str(f))[0] == 0
    assert rows(db, "SELECT meta FROM benchmarks") == [('{"notes": "5-shot"}',)]
    code, _, err = run(capsys, db, "import", "benchmarks", str(tmp_path / "nope.csv"))
    assert code == 2 and "nope.csv" in err


@pytest.mark.parametrize("row, field", [
    ({"benchmark": "mmlu", "score": "0.5"}, "model"),
    ({"model": "m", "score": "0.5"}, "benchmark"),
    ({"model": "m", "benchmark": "mmlu", "score": ""}, "score"),
    ({"model": "m", "benchmark": "mmlu", "score": "nan"}, "score"),
    ({"model": "m", "benchmark": "mmlu", "score": "0.5", "stderr": "-1"}, "stderr"),
])
def test_benchmark_row_errors_name_the_field(row, field):
    with pytest.raises(InputError) as exc:
        benchmark_from_row(row)
    assert exc.value.field == field


# -- A/B -------------------------------------------------------------------------------------------------------

def test_ab_units_and_aggregates(tmp_path, capsys):
    db = tmp_path / "t.db"
    units = write(tmp_path / "u.csv", "experiment,variant,unit,metric,value\n"
                                      "e,A,u1,clicks,1\ne,A,u2,clicks,0\ne,B,u3,clicks,1\n")
    agg = write(tmp_path / "a.csv", "experiment,variant,metric,n,mean,std,successes\n"
                                    "e2,A,time,100,5.0,1.5,\ne2,A,ctr,100,,,12\n")
    code, _, err = run(capsys, db, "import", "ab", str(units), str(agg))
    assert code == 0, err
    assert rows(db, "SELECT variant, unit, value FROM ab_units ORDER BY unit") == [
        ("A", "u1", 1.0), ("A", "u2", 0.0), ("B", "u3", 1.0)]
    assert rows(db, "SELECT metric, n, mean, std, successes FROM ab_aggregates ORDER BY metric") == [
        ("ctr", 100, None, None, 12.0), ("time", 100, 5.0, 1.5, None)]
    code, _, err = run(capsys, db, "import", "ab", str(units), str(agg))
    assert code == 0 and "5 already stored" in err
    assert rows(db, "SELECT count(*) FROM ab_units") == [(3,)]


def test_ab_changed_value_is_a_conflict_unless_replace(tmp_path, capsys):
    db = tmp_path / "t.db"
    f = write(tmp_path / "a.csv", "experiment,variant,metric,n,successes\ne,A,ctr,100,12\n")
    assert run(capsys, db, "import", "ab", str(f))[0] == 0
    write(f, "experiment,variant,metric,n,successes\ne,A,ctr,100,13\n")
    code, _, err = run(capsys, db, "import", "ab", str(f))
    assert code == 2 and f"{f}:2:" in err
    assert rows(db, "SELECT successes FROM ab_aggregates") == [(12.0,)]
    assert run(capsys, db, "import", "ab", "--replace", str(f))[0] == 0
    assert rows(db, "SELECT successes FROM ab_aggregates") == [(13.0,)]


def test_ab_duplicate_unit_with_other_value_in_one_file(tmp_path, capsys):
    db = tmp_path / "t.db"
    f = write(tmp_path / "u.csv", "experiment,variant,unit,metric,value\ne,A,u1,m,1\ne,B,u2,m,2\ne,A,u1,m,3\n")
    code, _, err = run(capsys, db, "import", "ab", str(f))
    assert code == 2 and f"{f}:4:" in err
    assert rows(db, "SELECT count(*) FROM ab_units") == [(0,)]


@pytest.mark.parametrize("row, field", [
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "10", "successes": "11"}, "successes"),
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "0", "successes": "0"}, "n"),
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "2.5", "successes": "1"}, "n"),
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "10", "mean": "1"}, "std"),
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "10", "mean": "1", "std": "-1"}, "std"),
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "10", "mean": "1", "std": "1", "successes": "3"},
     "successes"),
    ({"experiment": "e", "variant": "A", "metric": "m", "n": "10"}, "mean"),
    ({"experiment": "e", "variant": "A", "unit": "u", "metric": "m", "value": "x"}, "value"),
    ({"experiment": "", "variant": "A", "unit": "u", "metric": "m", "value": "1"}, "experiment"),
    ({"experiment": "e", "variant": "A", "metric": "m", "value": "1"}, "unit"),
])
def test_ab_row_errors_name_the_field(row, field):
    with pytest.raises(InputError) as exc:
        ab_from_row(row)
    assert exc.value.field == field


def test_ab_bad_row_in_cli_exits_2_with_file_line(tmp_path, capsys):
    db = tmp_path / "t.db"
    f = write(tmp_path / "a.csv", "experiment,variant,metric,n,successes\ne,A,ctr,100,12\ne,B,ctr,100,120\n")
    code, _, err = run(capsys, db, "import", "ab", str(f))
    assert code == 2 and f"{f}:3: field 'successes'" in err
    assert rows(db, "SELECT count(*) FROM ab_aggregates") == [(0,)]


@given(st.floats(allow_nan=False, allow_infinity=False), st.text(min_size=1).filter(lambda s: s.strip()))
def test_benchmark_row_round_trips_any_finite_score(score, name):
    record = benchmark_from_row({"model": name, "benchmark": "b", "score": repr(score)})
    assert record.score == score and record.model == name.strip()


def test_lm_eval_model_args_as_object_and_model_name_precedence(tmp_path):
    doc = {"results": {"piqa": {"acc,none": 0.66}}, "config": {"model_args": {"pretrained": "org/m", "dtype": "x"}}}
    f = write(tmp_path / "r.json", json.dumps(doc))
    assert [r.model for r in iter_lm_eval_records(f)] == ["org/m"]
    doc["model_name"] = "named"
    write(f, json.dumps(doc))
    assert [r.model for r in iter_lm_eval_records(f)] == ["named"]


def test_json_array_of_benchmark_rows(tmp_path, capsys):
    db = tmp_path / "t.db"
    f = write(tmp_path / "rows.json", json.dumps([{"model": "m", "benchmark": "b", "score": 1},
                                                  {"model": "m", "benchmark": "c", "score": 2}]))
    assert run(capsys, db, "import", "benchmarks", str(f))[0] == 0
    assert rows(db, "SELECT benchmark, score FROM benchmarks ORDER BY benchmark") == [("b", 1.0), ("c", 2.0)]


def test_jsonl_content_in_a_json_file_gets_a_hint(tmp_path, capsys):
    f = write(tmp_path / "rows.json", '{"model": "m", "benchmark": "b", "score": 1}\n'
                                      '{"model": "m", "benchmark": "c", "score": 2}\n')
    code, _, err = run(capsys, tmp_path / "t.db", "import", "benchmarks", str(f))
    assert code == 2 and f"{f}:2" in err and ".jsonl" in err


def test_invalid_json_names_the_line(tmp_path, capsys):
    f = write(tmp_path / "r.json", '{\n  "results": {\n    "a": {"acc": 0.5,}\n  }\n}\n')
    code, _, err = run(capsys, tmp_path / "t.db", "import", "benchmarks", str(f))
    assert code == 2 and f"{f}:3" in err


@given(st.integers(1, 10**6), st.data())
def test_ab_aggregate_rows_round_trip(n, data):
    successes = data.draw(st.integers(0, n))
    record = ab_from_row({"experiment": "e", "variant": "v", "metric": "m", "n": str(n),
                          "successes": str(successes)})
    assert (record.n, record.successes, record.mean) == (n, successes, None)
    mean = data.draw(st.floats(-1e9, 1e9))
    std = data.draw(st.floats(0, 1e9))
    record = ab_from_row({"experiment": "e", "variant": "v", "metric": "m", "n": n, "mean": mean, "std": std})
    assert (record.n, record.mean, record.std, record.successes) == (n, mean, std, None)


def test_lm_eval_file_with_a_lone_surrogate_escape_is_refused(tmp_path):
    """JSON can spell a lone UTF-16 surrogate; no UTF-8 database can store it: exit 2 naming the file."""
    import subprocess
    import sys

    f = tmp_path / "results.json"
    f.write_text('{"results": {"mmlu": {"acc,none": 0.5}}, "model_name": "m\\ud800"}', encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(tmp_path / "x.db"), "import", "benchmarks",
                          str(f)], capture_output=True, text=True)
    assert out.returncode == 2 and f"{f}:1" in out.stderr and "surrogate" in out.stderr
