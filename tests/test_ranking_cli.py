"""`sbs rank` end to end on a real database file: the JSON contract, CSV, tables with hostile names, filters,
errors."""

from __future__ import annotations

import csv
import io
import json

import pytest

from sbs_tui.present.text import escape
from tests.ranking_helpers import store_with, vote

CONTRACT_KEYS = {"model", "rating", "ci_low", "ci_high", "rank", "votes", "wins", "losses", "ties", "win_rate"}
HOSTILE = "[bold red]evil[/] \x1b[31mansi\u200b\u202e"


@pytest.fixture
def db(tmp_path):
    votes = []
    plan = [("alpha", "beta", "model_a", 14), ("alpha", "beta", "model_b", 6), ("beta", HOSTILE, "model_a", 12),
            ("beta", HOSTILE, "tie", 5), ("beta", HOSTILE, "both_bad", 3), ("alpha", HOSTILE, "model_a", 9),
            ("alpha", HOSTILE, "model_b", 2)]
    for a, b, w, n in plan:
        for k in range(n):
            votes.append(vote(a, b, w, prompt=f"{a}-{b}-{w}-{k}", annotator="ann1" if k % 2 else "ann2"))
    votes.append(vote(HOSTILE, "alpha", "model_a", prompt="flagged", flagged=True, flag_reason="spam"))
    return store_with(tmp_path / "sbs.db", votes)


def test_json_contract(cli, db) -> None:
    res = cli("--db", str(db), "rank", "--format", "json", "--bootstrap", "200")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["method"] == "bt"
    assert [m["model"] for m in doc["models"]] == ["alpha", "beta", HOSTILE]
    ratings = [m["rating"] for m in doc["models"]]
    assert ratings == sorted(ratings, reverse=True)
    assert sum(ratings) / 3 == pytest.approx(1000.0)
    for m in doc["models"]:
        assert CONTRACT_KEYS <= m.keys()
        assert m["ci_low"] < m["rating"] < m["ci_high"]
        assert m["wins"] + m["losses"] + m["ties"] == m["votes"]
    hostile = doc["models"][2]
    assert hostile["votes"] == 31 and hostile["ties"] == 8  # the flagged vote is excluded by default
    flagged = json.loads(cli("--db", str(db), "rank", "--format", "json", "--ci", "sandwich",
                             "--include-flagged").stdout)
    assert {m["model"]: m["votes"] for m in flagged["models"]}[HOSTILE] == 32


def test_seeded_bootstrap_is_reproducible(cli, db) -> None:
    a = cli("--db", str(db), "rank", "--format", "json", "--bootstrap", "100", "--seed", "7").stdout
    b = cli("--db", str(db), "rank", "--format", "json", "--bootstrap", "100", "--seed", "7").stdout
    assert a == b


def test_csv_and_table(cli, db) -> None:
    res = cli("--db", str(db), "rank", "--format", "csv", "--ci", "sandwich")
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    # CSV cells follow the literal rule (issue 13 §8): no raw escape sequence reaches a terminal that cats it
    assert [r["model"] for r in rows] == ["alpha", "beta", escape(HOSTILE)]
    assert "\x1b" not in res.stdout and "\u202e" not in res.stdout and "[bold red]evil[/] ␛[31mansi" in res.stdout
    assert set(rows[0]) >= CONTRACT_KEYS
    table = cli("--db", str(db), "rank", "--ci", "sandwich", "--matrix")
    assert table.exit_code == 0
    assert "[bold red]evil[/]" in table.stdout  # markup printed literally
    assert "\x1b[31m" not in table.stdout  # escape sequences from the data never reach the terminal


@pytest.mark.parametrize("method", ["elo", "trueskill"])
def test_other_methods_print_the_contract(cli, db, method) -> None:
    res = cli("--db", str(db), "rank", "--method", method, "--format", "json", "--bootstrap", "20")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["method"] == method and len(doc["models"]) == 3
    assert all(CONTRACT_KEYS <= m.keys() for m in doc["models"])
    assert "order" in res.stderr


def test_filters_and_anchor(cli, db) -> None:
    res = cli("--db", str(db), "rank", "--format", "json", "--ci", "sandwich", "--annotator", "ann1",
              "--baseline", "beta")
    doc = json.loads(res.stdout)
    by = {m["model"]: m for m in doc["models"]}
    assert by["beta"]["rating"] == pytest.approx(1000.0)
    assert sum(m["votes"] for m in doc["models"]) == 2 * 24  # ann1 cast the odd-numbered half


def test_usage_errors_exit_2(cli, db) -> None:
    # Issue 9.7: winrate without --baseline no longer fails; it picks the baseline as the review app does
    res = cli("--db", str(db), "rank", "--method", "winrate", "--format", "json")
    assert res.exit_code == 0 and "no --baseline given" in res.stderr
    doc = json.loads(res.stdout)
    assert doc["baseline"] == "beta" and "most-compared" in doc["baseline_rule"]  # beta has the most votes
    res = cli("--db", str(db), "rank", "--method", "winrate", "--baseline", "nobody")
    assert res.exit_code == 2 and "nobody" in res.stderr
    assert cli("--db", str(db), "rank", "--method", "elo", "--control", "style").exit_code == 2


def test_disconnected_graph_through_the_cli(cli, tmp_path) -> None:
    votes = [vote("a", "b", "model_a", prompt="1"), vote("a", "b", "model_b", prompt="2"),
             vote("c", "d", "model_a", prompt="3"), vote("c", "d", "tie", prompt="4")]
    db = store_with(tmp_path / "d.db", votes)
    res = cli("--db", str(db), "rank", "--format", "json", "--bootstrap", "50")
    assert res.exit_code == 0
    assert "disconnected" in res.stderr
    doc = json.loads(res.stdout)
    assert len(doc["components"]) == 2
    assert {m["component"] for m in doc["models"]} == {1, 2}


def test_empty_database(cli, tmp_path) -> None:
    from sbs_tui.core.store import Store

    Store(tmp_path / "e.db").close()  # empty, not missing: a missing database is an error (issue 9, item 7)
    res = cli("--db", str(tmp_path / "e.db"), "rank", "--format", "json")
    # issue 17: an empty ranking is not a result — exit 2 with what to do, nothing on stdout
    assert res.exit_code == 2 and res.stdout == ""
    assert "no votes to rank" in res.stderr and "sbs import votes" in res.stderr


def test_style_and_length_control_through_the_cli(cli, tmp_path) -> None:
    votes = []
    for k in range(40):
        long_text = "# Title\n\n- one\n- two\n**bold** " + "words " * (50 + k)
        short_text = "short answer " * (1 + k % 3)
        winner = "model_a" if k % 4 else "model_b"
        votes.append(vote("verbose", "terse", winner, prompt=f"s{k}", output_a=long_text, output_b=short_text))
        votes.append(vote("terse", "other", "model_b" if k % 2 else "tie", prompt=f"t{k}",
                          output_a=short_text, output_b="medium " * 20))
    db = store_with(tmp_path / "st.db", votes)
    for control in ("style", "length"):
        res = cli("--db", str(db), "rank", "--control", control, "--format", "json")
        assert res.exit_code == 0, res.stderr
        doc = json.loads(res.stdout)
        assert doc["control"] == control and doc["ci"] == "sandwich"
        assert set(doc["style_coefficients"]) == ({"length", "headers", "lists", "bold"} if control == "style"
                                                  else {"length"})
        assert {m["model"] for m in doc["models"]} == {"verbose", "terse", "other"}
    table = cli("--db", str(db), "rank", "--method", "winrate", "--baseline", "terse")
    assert table.exit_code == 0 and "terse" in table.stdout


def test_a_single_vote_gives_valid_json_with_nulls(cli, tmp_path) -> None:
    db = store_with(tmp_path / "one.db", [vote("a", "b", "model_b", prompt="only")])
    for args in (["--method", "winrate", "--baseline", "a"], ["--ci", "sandwich"], ["--bootstrap", "20"],
                 ["--method", "elo", "--bootstrap", "5"], ["--method", "trueskill"]):
        res = cli("--db", str(db), "rank", "--format", "json", *args)
        assert res.exit_code == 0, (args, res.stderr)
        doc = json.loads(res.stdout)
        assert [m["model"] for m in doc["models"]][0] in ("a", "b")


def test_category_filter(cli, tmp_path) -> None:
    from sbs_tui.core.records import GenerationRecord, prompt_id_for
    from sbs_tui.core.store import Store

    path = tmp_path / "cat.db"
    with Store(path) as store, store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(f"c{k}"), f"c{k}", "a", "x",
                                                   category="code" if k < 5 else "chat") for k in range(10)])
        store.votes.insert([vote("a", "b", "model_a" if k < 5 else "model_b", prompt=f"c{k}")
                            for k in range(10)])
    code = json.loads(cli("--db", str(path), "rank", "--category", "code", "--ci", "sandwich",
                          "--format", "json").stdout)
    assert {m["model"]: m["wins"] for m in code["models"]} == {"a": 5, "b": 0}
    assert code["filters"] == {"category": "code"}


def test_undefeated_model_gets_an_open_interval_null_in_json_and_infinity_in_the_table(cli, tmp_path) -> None:
    """Issue 9.2: the unbounded side of a never-beaten model is null in JSON and ∞ in the table, never a number."""
    votes = [vote("champ", "mid", "model_a", prompt=f"c{k}") for k in range(6)]
    votes += [vote("mid", "low", "model_a" if k % 3 else "model_b", prompt=f"m{k}") for k in range(9)]
    votes += [vote("champ", "low", "model_a", prompt=f"l{k}") for k in range(2)]
    db = store_with(tmp_path / "sbs.db", votes)
    doc = json.loads(cli("--db", str(db), "rank", "--format", "json", "--bootstrap", "100").stdout)
    by = {m["model"]: m for m in doc["models"]}
    assert by["champ"]["ci_high"] is None and by["champ"]["ci_low"] is not None and by["champ"]["set_by_prior"]
    assert doc["mle"] is False
    table = cli("--db", str(db), "rank", "--ci", "sandwich")
    assert table.exit_code == 0
    line = next(row for row in table.stdout.splitlines() if "champ" in row)
    assert "∞" in line


def test_elo_order_option_and_votes_needed_wording(cli, db) -> None:
    """Issue 9.3: the default Elo rating lies inside its interval; --elo-order file is the stored order."""
    doc = json.loads(cli("--db", str(db), "rank", "--method", "elo", "--format", "json", "--bootstrap", "50").stdout)
    assert doc["elo_order"] == "bootstrap"
    assert all(m["ci_low"] <= m["rating"] <= m["ci_high"] for m in doc["models"])
    stored = json.loads(cli("--db", str(db), "rank", "--method", "elo", "--elo-order", "file", "--format", "json",
                            "--bootstrap", "50").stdout)
    assert stored["elo_order"] == "file" and stored["rating_is"] == "stored order"


def test_votes_needed_text_caps_false_precision() -> None:
    from sbs_tui.present.tables.rank import votes_needed_text

    assert votes_needed_text({"factor": 4.0, "more_votes_per_model": 1500}) == "×4.0 the votes (≈ 1,500 more per model)"
    assert "11,877" not in votes_needed_text({"factor": 11877.0, "more_votes_per_model": 10**7})
    assert votes_needed_text({"factor": 11877.0, "more_votes_per_model": 10**7}).startswith("over ×100")


def test_cli_and_review_app_pick_the_same_winrate_baseline(db) -> None:
    """Issue 9.7: one rule, one answer."""
    from sbs_tui.core.ranking.request import RankRequest
    from sbs_tui.core.views import on_db
    from sbs_tui.core.views.ranking import ranking_view

    view = on_db(str(db), ranking_view, RankRequest(method="winrate", ci="sandwich"))
    assert view.baseline == "beta" and view.doc["baseline"] == "beta"


def test_length_controlled_table_labels_lc_and_raw_columns_and_the_baseline_row() -> None:
    """Issue 9.7: under --control length the rating column is the LC win rate and W/L/T are raw; the baseline row
    says what its 50 means."""
    import io

    from rich.console import Console

    from sbs_tui.present.tables import rank as rank_cmd

    doc = {"method": "winrate", "control": "length", "ci": "delta", "baseline": "ref", "models": [
        {"model": "m", "rating": 30.0, "ci_low": 25.0, "ci_high": 35.0, "rank": 1, "votes": 10, "wins": 2,
         "losses": 8, "ties": 0, "win_rate": 30.0, "raw_win_rate": 20.0},
        {"model": "ref", "rating": 50.0, "ci_low": 50.0, "ci_high": 50.0, "rank": 1, "votes": 10, "wins": 8,
         "losses": 2, "ties": 0, "win_rate": 50.0, "baseline": True}]}
    columns, lc = rank_cmd.rank_columns(doc)
    assert lc and columns[2] == "LC win %" and columns[5:] == ["raw W", "raw L", "raw T", "Raw win %"]
    buf = io.StringIO()
    original = Console.__init__

    def patched(self, *a, **kw):
        kw.update(file=buf, width=200)
        original(self, *a, **kw)

    Console.__init__ = patched
    try:
        rank_cmd.print_ranking(doc)
    finally:
        Console.__init__ = original
    out = buf.getvalue()
    assert "baseline: 50 by definition" in out and "20.0" in out  # the raw win rate in the last column
