"""One truth on every surface (issue 17 §1, issue 18's view layer): on one database with both human and judge
votes, `sbs rank`, `sbs export rankings`, `sbs funnel`, `sbs report`, `sbs agreement` and the review app (under
Pilot) count the same votes by default, say whose (``voters``) and how many (``votes``), and give the same order.

Before: `sbs rank` counted every vote (the judge's 120 outnumbering 89 human votes) while the review app and the
funnel counted the humans', so one database had two rankings and the report printed both.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.review_helpers import HUMANS, JUDGE, build_review_db

HUMAN_VOTES = 89  # build_review_db: 3 humans × 30 queue votes, one of them flagged (left out)
JUDGE_VOTES = 120  # sample_data/judge_votes.jsonl


@pytest.fixture(scope="module")
def mixed_db(tmp_path_factory) -> Path:
    return build_review_db(tmp_path_factory.mktemp("truth") / "mixed.db")


def _rank(cli, db: Path, *args: str) -> dict:
    result = cli("--db", str(db), "rank", "--ci", "sandwich", "--format", "json", *args)
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


def _order(doc: dict) -> list[str]:
    return [m["model"] for m in doc["models"]]


def test_rank_counts_the_humans_by_default_and_says_so(cli, mixed_db: Path) -> None:
    auto = _rank(cli, mixed_db)
    assert (auto["voters"], auto["votes"]) == ("humans", HUMAN_VOTES)
    assert sum(m["votes"] for m in auto["models"]) == 2 * HUMAN_VOTES
    judges = _rank(cli, mixed_db, "--voters", "judges")
    assert (judges["voters"], judges["votes"]) == ("judges", JUDGE_VOTES)
    everyone = _rank(cli, mixed_db, "--voters", "all")
    assert (everyone["voters"], everyone["votes"]) == ("all", HUMAN_VOTES + JUDGE_VOTES)
    assert _rank(cli, mixed_db, "--voters", "humans") == auto
    table = cli("--db", str(mixed_db), "rank", "--ci", "sandwich")
    assert f"{HUMAN_VOTES} votes by humans" in table.stdout


def test_export_rankings_is_the_rank_document(cli, mixed_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.json"
    assert cli("--db", str(mixed_db), "export", "rankings", "--ci", "sandwich", "--out", str(out)).exit_code == 0
    assert json.loads(out.read_text()) == _rank(cli, mixed_db)


def test_funnel_counts_the_same_votes_in_the_same_order(cli, mixed_db: Path) -> None:
    rank = _rank(cli, mixed_db)
    result = cli("--db", str(mixed_db), "funnel", "--format", "json")
    assert result.exit_code == 0, result.stderr
    funnel = json.loads(result.stdout)
    assert (funnel["voters"], funnel["votes"]) == ("humans", HUMAN_VOTES)
    by_sbs = sorted(funnel["models"], key=lambda m: m["ranks"]["side_by_side"])
    assert [m["model"] for m in by_sbs] == _order(rank)
    for m in funnel["models"]:
        ranked = next(r for r in rank["models"] if r["model"] == m["model"])
        assert m["side_by_side"]["votes"] == ranked["votes"]
        assert m["side_by_side"]["rating"] == pytest.approx(ranked["rating"])
    assert f"side-by-side: {HUMAN_VOTES} votes by humans" in cli("--db", str(mixed_db), "funnel").stdout


def test_agreement_counts_the_same_votes_and_still_measures_the_judge(cli, mixed_db: Path) -> None:
    doc = json.loads(cli("--db", str(mixed_db), "agreement", "--format", "json").stdout)
    assert (doc["voters"], doc["votes"]) == ("humans", HUMAN_VOTES)
    assert {a["annotator"] for a in doc["annotators"]} == set(HUMANS)
    assert [j["judge"] for j in doc["judge_vs_humans"]] == [JUDGE]  # measured against the human majority
    everyone = json.loads(cli("--db", str(mixed_db), "agreement", "--voters", "all", "--format", "json").stdout)
    assert everyone["voters"] == "all" and everyone["votes"] == HUMAN_VOTES + JUDGE_VOTES
    assert everyone["judge_vs_humans"] == doc["judge_vs_humans"]


@pytest.mark.parametrize("suffix", [".md", ".html"])
def test_report_never_mixes_two_rules(cli, mixed_db: Path, tmp_path: Path, suffix: str) -> None:
    from sbs_tui.core.views.report import ReportRequest, collect_report
    from sbs_tui.core.store import Store

    with Store(mixed_db) as store:
        report = collect_report(store, ReportRequest(bootstrap=0, baseline="gpt4_1106_preview"), db_path=mixed_db)
    s = report["sections"]
    said = {(s[k]["doc"]["voters"], s[k]["doc"]["votes"]) for k in ("ranking", "winrate", "agreement", "funnel")}
    assert said == {("humans", HUMAN_VOTES)} and report["counted"] == {"voters": "humans", "votes": HUMAN_VOTES}
    assert _order(s["ranking"]["doc"]) == _order(_rank(cli, mixed_db))
    assert all("--voters humans" in c for c in report["commands"] if " ab " not in c)
    out = tmp_path / f"report{suffix}"
    assert cli("--db", str(mixed_db), "report", "--out", str(out), "--bootstrap", "0").exit_code == 0
    text = out.read_text(encoding="utf-8")
    assert text.count(f"{HUMAN_VOTES} votes by humans") >= 4  # the document, the funnel, ranking, agreement
    assert "by all annotators" not in text and "by LLM judges" not in text


async def test_review_app_shows_the_same_ranking_voters_and_count(cli, mixed_db: Path) -> None:
    from textual.widgets import DataTable, Static

    from sbs_tui.config import Settings
    from sbs_tui.core.ranking.request import RankRequest
    from sbs_tui.tui.review.app import make_review_app
    from tests.test_review import plain, settle

    rank = _rank(cli, mixed_db)
    app = make_review_app(mixed_db, Settings(), rank_options=RankRequest(ci="sandwich"), timestamps=False)
    async with app.run_test(size=(140, 45)) as pilot:
        await settle(pilot)
        table = app.query_one("#rank-table", DataTable)
        shown = [str(table.get_row_at(i)[1]).removesuffix(" (prior)") for i in range(table.row_count)]
        from sbs_tui.present.text import escape

        assert shown == [escape(m) for m in _order(rank)]
        status = plain(app.ranking.status_widget())
        assert "votes by humans" in status and f"{HUMAN_VOTES} votes" in status
        for pane in ("#agreement-pane", "#funnel-pane", "#plots-pane"):
            assert f"{HUMAN_VOTES} votes by humans" in plain(app.query_one(f"{pane} .pane-status", Static)), pane
        await pilot.press("v", "v")  # auto → humans → judges, for every tab
        await settle(pilot)
        assert app.voters == "judges"
        judges = _rank(cli, mixed_db, "--voters", "judges")
        shown = [str(table.get_row_at(i)[1]) for i in range(table.row_count)]
        assert shown == [escape(m) for m in _order(judges)]
        for pane in ("#agreement-pane", "#funnel-pane", "#plots-pane"):
            assert f"{JUDGE_VOTES} votes by LLM judges" in plain(app.query_one(f"{pane} .pane-status", Static))


# -- a filter that leaves nothing is an error naming what exists --------------------------------------------------


@pytest.mark.parametrize("command", [("rank",), ("export", "rankings"), ("agreement",)])
def test_an_annotator_without_votes_is_exit_2_naming_the_annotators(cli, mixed_db: Path, command) -> None:
    result = cli("--db", str(mixed_db), *command, "--annotator", "nobody")
    assert result.exit_code == 2
    assert "no votes by 'nobody'" in result.stderr
    assert all(repr(name) in result.stderr for name in (*HUMANS, JUDGE))
    assert result.stdout == ""


def test_voters_that_leave_nothing_are_exit_2(cli, tmp_path: Path, mixed_db: Path) -> None:
    from sbs_tui.core.records import VoteRecord, prompt_id_for
    from sbs_tui.core.store import Store

    db = tmp_path / "humans.db"
    with Store(db) as store, store.transaction():
        store.votes.insert([VoteRecord(prompt_id_for("q"), "q", "a", "b", "model_a", "ann")])
    for command in (("rank",), ("funnel",), ("agreement",)):
        result = cli("--db", str(db), *command, "--voters", "judges")
        assert result.exit_code == 2 and "no judges have votes" in result.stderr and "'ann'" in result.stderr
    named = cli("--db", str(mixed_db), "rank", "--voters", "judges", "--annotator", "alice")
    assert named.exit_code == 2 and "is among the judges" in named.stderr and "'alice'" in named.stderr
    category = cli("--db", str(mixed_db), "rank", "--category", "no such category")
    assert category.exit_code == 2 and "category" in category.stderr


def test_an_annotator_filter_keeps_the_named_kind(cli, mixed_db: Path) -> None:
    doc = _rank(cli, mixed_db, "--annotator", JUDGE)
    assert (doc["voters"], doc["votes"], doc["filters"]) == ("judges", JUDGE_VOTES, {"annotators": [JUDGE]})
    both = _rank(cli, mixed_db, "--annotator", JUDGE, "--annotator", "alice")
    assert both["voters"] == "all" and both["votes"] == JUDGE_VOTES + 29


def test_the_voters_option_is_on_every_surface() -> None:
    import click

    from sbs_tui.cli import cli as group
    from sbs_tui.core.scope import VOTERS

    ctx = click.Context(group)
    for path in (("rank",), ("export", "rankings"), ("agreement",), ("funnel",), ("report",), ("review",)):
        command = group
        for part in path:
            command = command.get_command(ctx, part)
        params = {p.name: p for p in command.params}
        assert tuple(params["voters"].type.choices) == VOTERS, path
        assert params["voters"].default == "auto", path


def test_html_gates_and_matrix_cells(cli, mixed_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "r.html"
    assert cli("--db", str(mixed_db), "report", "--out", str(out), "--bootstrap", "0").exit_code == 0
    page = out.read_text(encoding="utf-8")
    assert "<th>Held</th>" in page
    assert re.search(r"<td class='n muted' style='background:#f3f6f8'>\d+% \(\d\)</td>", page)  # < 10: grey
    assert re.search(r"style='background:rgb\(\d+,\d+,\d+\)'>\d+% \(\d\d+\)</td>", page)  # ≥ 10: coloured
    assert ">side-by-side<" in page and ">side_by_side<" not in page
    # W/L/T as integers: no "12.0" in the ranking table
    ranking = page[page.index("<h2>Ranking"):page.index("Pairwise win rate")]
    assert not re.search(r"<td class='n'>\d+\.0</td>", ranking)


# -- the lead's app: enter on tabs 5 and 7, and "remaining" ---------------------------------------------------------


@pytest.mark.parametrize("key, table_id", [("5", "#votes-table"), ("7", "#blocked-table")])
async def test_enter_opens_the_row_under_the_cursor_as_soon_as_the_tab_is_shown(mixed_db: Path, key: str,
                                                                                 table_id: str) -> None:
    """Issue 17 §4: before, focus stayed on the tab bar and enter did nothing until the table was clicked."""
    from textual.widgets import DataTable

    from sbs_tui.config import Settings
    from sbs_tui.core.ranking.request import RankRequest
    from sbs_tui.tui.review.app import make_review_app
    from sbs_tui.tui.review.blocked import GateDetail
    from sbs_tui.tui.review.votes import VoteDetail
    from tests.test_review import settle

    app = make_review_app(mixed_db, Settings(), rank_options=RankRequest(ci="sandwich"))
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        await pilot.pause()
        table = app.query_one(table_id, DataTable)
        assert app.focused is table and table.row_count
        await pilot.press("enter")
        for _ in range(200):
            if isinstance(app.screen, (VoteDetail, GateDetail)):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, VoteDetail if key == "5" else GateDetail)
        first = str(table.get_row_at(0)[0])
        shown = app.screen.vote["id"] if key == "5" else app.screen.detail["generation_id"]
        assert str(shown) == first


def test_remaining_is_the_same_in_the_annotators_header_and_the_leads_queue_tab(tmp_path: Path) -> None:
    """Issue 17 §4: the header counted the pair on screen, the Queue tab did not (one apart), and under a cap the
    header could exceed what the cap allows."""
    from sbs_tui.core.queue.annotator import AnnotatorQueue
    from sbs_tui.core.views.queue import queue_view
    from tests.annotate_helpers import make_store

    store = make_store(tmp_path / "r.db")
    try:
        for cap in (None, 4):
            name = f"ann{cap}"
            queue = AnnotatorQueue(store, name, cap=cap)
            if cap is not None:
                store.queue.set_cap(name, cap)
            for step in range(3):
                pair = queue.next_pair()  # on screen now
                header = queue.available() + (pair is not None)  # what the judging screen's header shows
                tab = next(a for a in queue_view(store).annotators if a.annotator == name)
                assert tab.remaining == header, (cap, step)
                queue.vote(pair, "left", ts=f"2026-01-01T10:0{step}:00Z")
    finally:
        store.close()


def test_passing_a_blocked_generation_pairs_it_at_once(cli, mixed_db: Path, tmp_path: Path) -> None:
    """Issue 17 §4: before, a passed generation reached no annotator until someone thought of `sbs queue build`."""
    import shutil

    from sbs_tui.core.store import Store

    db = tmp_path / "copy.db"
    shutil.copy(mixed_db, db)
    with Store(db) as store:
        gid = store.conn.execute("SELECT id FROM generations WHERE gate_status = 'blocked' ORDER BY id").fetchone()[0]
        before = store.queue.summary()["pairs"]
        paired = store.conn.execute("SELECT count(*) FROM pairs WHERE gen_a_id = ? OR gen_b_id = ?",
                                    (gid, gid)).fetchone()[0]
    assert paired == 0
    result = cli("--db", str(db), "gate", "override", str(gid), "--pass", "--reason", "fine", "--by", "lena")
    assert result.exit_code == 0, result.stderr
    with Store(db) as store:
        paired = store.conn.execute("SELECT count(*) FROM pairs WHERE gen_a_id = ? OR gen_b_id = ?",
                                    (gid, gid)).fetchone()[0]
        assert paired > 0 and store.queue.summary()["pairs"] == before + paired
    assert f"generation {gid}: passed by override; {paired} new pairs for annotators" in result.stderr
    # without a queue there is nothing to add it to: the line says what to run
    from tests.annotate_helpers import make_store

    bare = tmp_path / "bare.db"
    with make_store(bare) as store:
        store.conn.execute("DELETE FROM pairs")
        store.conn.commit()
        gid = store.conn.execute("SELECT min(id) FROM generations").fetchone()[0]
    result = cli("--db", str(bare), "gate", "override", str(gid), "--pass", "--reason", "fine", "--by", "lena")
    assert result.exit_code == 0 and "run sbs queue build" in result.stderr


def test_queue_build_reports_the_generations_it_left_out(cli, mixed_db: Path, tmp_path: Path) -> None:
    """Issue 17 §4: `sbs queue build` said "0 blocked" (pairs) when generations were blocked — they are never
    paired, so the pair count could not show them."""
    import shutil

    db = tmp_path / "copy.db"
    shutil.copy(mixed_db, db)
    result = cli("--db", str(db), "queue", "build")
    assert result.exit_code == 0, result.stderr
    assert "generations: 2 blocked by the gates, 0 held for review — not paired" in result.stdout
    doc = json.loads(cli("--db", str(db), "queue", "build", "--format", "json").stdout)
    assert doc["generations_blocked"] == 2 and doc["generations_held"] == 0


def test_queue_status_prints_the_queue_tabs_view(cli, mixed_db: Path) -> None:
    """`sbs queue status` renders the QueueView the review app's Queue tab draws: the same "remaining"."""
    from sbs_tui.core.store import Store
    from sbs_tui.core.views.queue import queue_view

    with Store(mixed_db) as store:
        view = queue_view(store)
    out = cli("--db", str(mixed_db), "queue", "status").stdout
    for a in view.annotators:
        if a.remaining is not None:
            assert re.search(rf"{a.annotator}\s+│\s+{a.done}\s+│\s+{a.skipped}\s+│\s+{a.remaining}\s", out), out
    assert json.loads(cli("--db", str(mixed_db), "queue", "status", "--format", "json").stdout) == {
        **view.summary, "config": view.config}


# -- the funnel's closing sentence, and the A/B control ---------------------------------------------------------------


def _funnel_with(note: str | None):
    from sbs_tui.core.analysis.funnel import Correlation, FunnelReport, Stage

    scores = {"m1": 3.0, "m2": 2.0, "m3": 1.0}
    a = Stage("benchmarks", "benchmarks", scores, {m: {"score": v, "benchmarks": 1} for m, v in scores.items()})
    b = Stage("side_by_side", "side-by-side", scores, {m: {"score": v, "rating": 1000 + v, "win_rate": 0.5,
                                                           "votes": 4, "method": "bt"} for m, v in scores.items()})
    corr = Correlation(("benchmarks", "side_by_side"), ["m1", "m2", "m3"], spearman=1.0, spearman_p=0.33, note=note)
    return FunnelReport([a, b], {}, [corr], [], "humans", 12)


def test_the_funnel_never_says_the_stages_agree_after_agreement_not_established(capsys) -> None:
    """Issue 17 §5: the table, the app and the report closed with "the stages agree" right after a note saying
    the agreement was not established."""
    from sbs_tui.core.views.funnel import AGREE, from_report
    from sbs_tui.present.tables.funnel import print_funnel

    unsettled = from_report(_funnel_with("not significant over 3 models: agreement not established"))
    assert unsettled.verdict is not None and "agree on" not in unsettled.verdict
    print_funnel(unsettled)
    out = capsys.readouterr().out
    assert "agreement not established" in out and "agree on the models" not in out
    assert from_report(_funnel_with(None)).verdict == AGREE


def test_the_report_words_the_funnel_as_the_view_does(tmp_path: Path) -> None:
    from sbs_tui.core.views.report import _funnel
    from sbs_tui.core.views.funnel import from_report
    from sbs_tui.present.report_html import render_html
    from sbs_tui.present.report_md import render_markdown

    section = {"ok": True, "doc": _funnel(from_report(_funnel_with("agreement not established")))}
    report = {"title": "t", "generated_at": "now", "database": "d", "counts": {}, "counted": None,
              "sections": {"funnel": section}, "commands": [], "config": None}
    for text in (render_html(report), render_markdown(report)):
        assert "agreement not established" in text and "agree on the models" not in text
        assert "side_by_side" not in text.replace("'side_by_side'", "")


def test_ab_import_names_the_control_it_chose(cli, tmp_path: Path) -> None:
    db = tmp_path / "ab.db"
    data = tmp_path / "ab.csv"
    data.write_text("experiment,variant,metric,n,successes\nexp,zeta,ctr,100,12\nexp,alpha,ctr,100,10\n"
                    "exp2,control,ctr,100,10\nexp2,new,ctr,100,12\n")
    result = cli("--db", str(db), "import", "ab", str(data))
    assert result.exit_code == 0, result.stderr
    assert "experiment 'exp': control 'alpha', chosen first alphabetically" in result.stderr
    assert "experiment 'exp2': control 'control', chosen by name" in result.stderr


@pytest.mark.parametrize("method", ["bt", "winrate"])
def test_a_ranking_refresh_reads_the_votes_once(mixed_db: Path, monkeypatch, method: str) -> None:
    """Issue 18: the review app's data layer read `store.votes.outcomes()` up to three times per refresh (votes
    per model, the default baseline, the ranking); the view reads them once."""
    from sbs_tui.core.ranking.request import RankRequest
    from sbs_tui.core.store import Store
    from sbs_tui.core.store.votes import Votes
    from sbs_tui.core.views.ranking import ranking_view

    from sbs_tui.core.store.pair_counts import PairCounts

    calls = []

    def counting(original):
        def counted(self, **kwargs):
            calls.append(kwargs)
            return original(self, **kwargs)
        return counted

    # the votes, or the counts kept of them (issue 22): either way, one read
    monkeypatch.setattr(Votes, "outcomes", counting(Votes.outcomes))
    monkeypatch.setattr(PairCounts, "outcomes", counting(PairCounts.outcomes))
    with Store(mixed_db) as store:
        view = ranking_view(store, RankRequest(method=method, ci="sandwich"))
    assert view.doc is not None and len(calls) == 1
    assert view.votes == HUMAN_VOTES and len(view.models) == 5


def test_rank_without_votes_is_exit_2_not_an_empty_table(cli, tmp_path: Path) -> None:
    """Before: an empty table, a warning, exit 0 — read as a result by a script."""
    from tests.conftest import SAMPLE

    db = tmp_path / "g.db"
    assert cli("--db", str(db), "import", "generations", str(SAMPLE / "generations.jsonl")).exit_code == 0
    for command in (("rank",), ("export", "rankings")):
        result = cli("--db", str(db), *command)
        assert result.exit_code == 2 and "no votes to rank" in result.stderr and result.stdout == ""
