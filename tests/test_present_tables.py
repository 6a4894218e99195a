"""The presentation layer's numbers and tables: one way to write a number, unbounded intervals, p-value floor,
queue status as a table, piped tables that do not wrap."""

from __future__ import annotations

import io
import json

import pytest

from sbs_tui.present import numbers as num
from sbs_tui.present.tables import queue as queue_tables
from sbs_tui.present.tables import rank as tables
from tests.annotate_helpers import make_store
from tests.ranking_helpers import store_with, vote


def test_p_values_never_print_zero():
    assert num.p_value(0.0) == "< 1e-10" and num.p_value(1e-300) == "< 1e-10"
    assert num.p_value(3.2e-7) == "3.2e-07" and num.p_value(0.0123) == "0.0123" and num.p_value(5e-5) == "5e-05"
    assert num.p_value(None) == num.p_value(float("nan")) == "—"


def test_unbounded_interval_sides_are_infinite():
    assert num.interval(None, 1234.56, lambda x: num.fixed(x, 0)) == "−∞ – 1235"
    assert num.interval(987.0, None, lambda x: num.fixed(x, 0)) == "987 – ∞"
    assert num.interval(None, None) == "—"  # no interval computed at all
    assert num.interval(1.0, 2.0, num.fixed, brackets=True) == "[1.0, 2.0]"
    doc = {"method": "bt", "models": [
        {"model": "never-lost", "rating": 1200.0, "ci_low": 1100.0, "ci_high": None, "rank": 1, "votes": 5,
         "wins": 5, "losses": 0, "ties": 0, "win_rate": 100.0},
        {"model": "never-won", "rating": 800.0, "ci_low": None, "ci_high": 900.0, "rank": 2, "votes": 5,
         "wins": 0, "losses": 5, "ties": 0, "win_rate": 0.0}]}
    out = io.StringIO()
    tables.print_ranking(doc, file=out)
    text = out.getvalue()
    assert "1100 – ∞" in text and "−∞ – 900" in text
    assert tables.rating_interval({"ci_low": None, "ci_high": None, "set_by_prior": True}, 0) == "−∞ – ∞"
    assert tables.rating_interval({"ci_low": None, "ci_high": None}, 0) == "—"


def test_counts_percentages_and_missing_values():
    assert num.count(1234567) == "1,234,567" and num.count(2.5) == "2.5" and num.count(None) == "—"
    assert num.percent(0.4567) == "45.7%" and num.percent(0.05, signed=True) == "+5.0%"
    assert num.fixed(float("inf")) == "—" and num.significant(0.000123456) == "0.0001235"


def test_piped_tables_do_not_wrap_at_80_columns(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("COLUMNS", raising=False)
    long_name = "a-model-name-that-is-much-longer-than-eighty-columns-" + "x" * 60
    votes = [vote(long_name, "short", "model_a" if k % 3 else "model_b", prompt=f"p{k}") for k in range(12)]
    db = store_with(tmp_path / "r.db", votes)
    res = cli("--db", str(db), "rank", "--ci", "sandwich")
    assert res.exit_code == 0, res.stderr
    row = next(line for line in res.stdout.splitlines() if long_name[:20] in line)
    assert long_name in row and len(row) > 120  # one row per model, the name unfolded


def test_queue_status_is_a_table(cli, tmp_path):
    db = tmp_path / "q.db"
    make_store(db, prompts=4, build=False).close()
    assert cli("--db", str(db), "queue", "build", "--overlap", "2", "--format", "json").exit_code == 0
    res = cli("--db", str(db), "queue", "status")
    assert res.exit_code == 0, res.stderr
    assert "{" not in res.stdout and "config" not in res.stdout  # not a printed dict any more
    status = json.loads(cli("--db", str(db), "queue", "status", "--format", "json").stdout)
    pairs_line = next(line for line in res.stdout.splitlines() if line.strip().startswith("pairs "))
    assert pairs_line.split()[-1] == f"{status['pairs']:,}" and status["pairs"] > 0
    assert "open (still collecting votes)" in res.stdout and "built with" in res.stdout
    assert "overlap" in res.stdout


@pytest.mark.parametrize("value, shown", [(None, "—"), (True, "yes"), ([1, "a"], "1, a"), ({"k": 2}, "k=2")])
def test_settings_values_are_written_plainly(value, shown):
    assert queue_tables._plain(value) == shown


def test_exported_ranking_csv_follows_the_literal_rule_and_json_keeps_names(cli, tmp_path):
    hostile = "[bold]m\x1b[31m\u202e\u2028"
    votes = [vote(hostile, "plain", "model_a" if k % 3 else "model_b", prompt=f"p{k}") for k in range(9)]
    db = store_with(tmp_path / "r.db", votes)
    out_csv, out_json = tmp_path / "r.csv", tmp_path / "r.json"
    for out in (out_csv, out_json):
        res = cli("--db", str(db), "export", "rankings", "--ci", "sandwich", "--out", str(out))
        assert res.exit_code == 0, res.stderr
    text = out_csv.read_text(encoding="utf-8")
    assert "[bold]m␛[31m⟨U+202E⟩⟨U+2028⟩" in text and "\x1b" not in text and "\u202e" not in text
    assert hostile in {m["model"] for m in json.loads(out_json.read_text(encoding="utf-8"))["models"]}
