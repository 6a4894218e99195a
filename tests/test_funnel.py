"""`sbs funnel`: stage scores, rank correlations against scipy, disagreement sentences, gate probing."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sbs_tui.cli import main
from sbs_tui.core.analysis.funnel import build_funnel, side_by_side_scores
from sbs_tui.core.ingest.results import ABAggregateRecord, BenchmarkRecord
from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.store import Store

MODELS = ["m1", "m2", "m3", "m4"]


def vote(prompt: str, a: str, b: str, winner: str, **kw) -> VoteRecord:
    return VoteRecord(prompt_id=prompt_id_for(prompt), prompt=prompt, model_a=a, model_b=b, winner=winner,
                      annotator=kw.pop("annotator", "ann"), **kw)


def seed(store: Store, *, bench: dict[str, float], wins: dict[tuple[str, str], int],
         ab: dict[str, tuple[int, int]] | None = None) -> None:
    with store.transaction():
        store.results.insert_benchmarks([BenchmarkRecord(m, "mmlu", "acc", s) for m, s in bench.items()])
        votes = []
        for (winner, loser), n in wins.items():
            votes += [vote(f"p{i}-{winner}-{loser}", winner, loser, "model_a") for i in range(n)]
        store.votes.insert(votes)
        if ab:
            store.results.insert_ab_aggregates([ABAggregateRecord("exp", m, "ctr", n, successes=x)
                                        for m, (x, n) in ab.items()])


def test_side_by_side_scores_are_mean_credit_per_vote():
    store = Store.memory()
    with store.transaction():
        store.votes.insert([vote("p1", "a", "b", "model_a"), vote("p2", "a", "b", "tie"),
                            vote("p3", "b", "a", "model_a", weight=0.75),
                            vote("p4", "a", "b", "model_b", flagged=True)])
    scores = side_by_side_scores(store)
    assert scores["a"] == (pytest.approx((1 + 0.5 + 0.25) / 3), 3)
    assert scores["b"] == (pytest.approx((0 + 0.5 + 0.75) / 3), 3)


def test_side_by_side_matches_published_alpacaeval_win_rates(tmp_path, capsys, shared_alpaca):
    db = tmp_path / "t.db"
    files = [shared_alpaca / "judge_votes" / "claude-2.jsonl", shared_alpaca / "judge_votes" / "alpaca-7b.jsonl"]
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), "import", "votes", *map(str, files)])
    assert exc.value.code == 0
    with Store(db) as store:
        scores = side_by_side_scores(store)
    # AlpacaEval 2.0 leaderboard (weighted GPT-4-turbo annotator): claude-2 17.19, alpaca-7b 2.59.
    assert scores["claude-2"][0] * 100 == pytest.approx(17.19, abs=0.01)
    assert scores["alpaca-7b"][0] * 100 == pytest.approx(2.59, abs=0.01)


def test_benchmark_stage_normalises_and_flips_lower_is_better():
    store = Store.memory()
    with store.transaction():
        store.results.insert_benchmarks([
            BenchmarkRecord("a", "mmlu", "acc", 0.8), BenchmarkRecord("b", "mmlu", "acc", 0.6),
            BenchmarkRecord("c", "mmlu", "acc", 0.4),
            BenchmarkRecord("a", "mmlu", "acc_norm", 0.1),  # only one model: not the primary metric
            BenchmarkRecord("a", "wikitext", "ppl", 30.0, higher_is_better=False),
            BenchmarkRecord("b", "wikitext", "ppl", 10.0, higher_is_better=False),
            BenchmarkRecord("c", "same", "acc", 0.5), BenchmarkRecord("a", "same", "acc", 0.5),
        ])
    report = build_funnel(store)
    (bench,) = report.stages
    assert bench.scores == pytest.approx({"a": (1.0 + 0.0) / 2, "b": (0.5 + 1.0) / 2, "c": 0.0})
    assert bench.details["a"]["scores"] == {"mmlu (acc)": 0.8, "same (acc)": 0.5, "wikitext (ppl)": 30.0}


def test_correlations_match_scipy_and_disagreement_is_stated():
    store = Store.memory()
    bench = {"m1": 0.9, "m2": 0.7, "m3": 0.5, "m4": 0.3}
    # Annotators prefer m4 over everyone, then m1 > m2 > m3.
    wins = {("m4", "m1"): 6, ("m1", "m4"): 1, ("m4", "m2"): 5, ("m4", "m3"): 5, ("m1", "m2"): 4,
            ("m2", "m1"): 2, ("m1", "m3"): 5, ("m2", "m3"): 4, ("m3", "m2"): 1}
    seed(store, bench=bench, wins=wins, ab={"m1": (100, 1000), "m2": (120, 1000), "m3": (90, 1000)})
    report = build_funnel(store)
    sbs = next(s for s in report.stages if s.key == "side_by_side")
    assert sbs.first(MODELS) == ["m4"]
    corr = next(c for c in report.correlations if c.stages == ("benchmarks", "side_by_side"))
    assert corr.models == MODELS
    xs, ys = [bench[m] for m in MODELS], [sbs.scores[m] for m in MODELS]
    assert corr.spearman == pytest.approx(stats.spearmanr(xs, ys).statistic)
    assert corr.kendall == pytest.approx(stats.kendalltau(xs, ys).statistic)
    # Issue 9.6: at 4 models the p-value is exact (all 24 pairings), not scipy's t approximation
    exact = stats.permutation_test((xs,), lambda x: stats.spearmanr(x, ys).statistic, permutation_type="pairings",
                                   n_resamples=np.inf)
    assert corr.spearman_p == pytest.approx(exact.pvalue) and corr.spearman_p_method == "exact permutation"
    text = "\n".join(report.disagreements)
    assert "benchmarks ranks 'm1' first, side-by-side ranks 'm4' first" in text
    assert "A/B exp/ctr ranks 'm2' first" in text
    ab = next(s for s in report.stages if s.key == "ab:exp/ctr")
    assert ab.details["m1"]["control"] and ab.details["m2"]["lift"] == pytest.approx(0.2)


def test_agreeing_stages_have_no_disagreements():
    store = Store.memory()
    seed(store, bench={"m1": 0.9, "m2": 0.5, "m3": 0.1},
         wins={("m1", "m2"): 3, ("m1", "m3"): 3, ("m2", "m3"): 3})
    report = build_funnel(store)
    assert report.disagreements == []
    assert report.correlations[0].spearman == pytest.approx(1.0)


def test_four_models_in_the_same_order_are_not_significant():
    """Issue 9.6: 4 models, ρ = 1 → exact p = 2/24 = 0.083 (formerly printed "<1e-4"); said as not established."""
    from sbs_tui.core.analysis.funnel import Stage, correlate

    a = Stage("benchmarks", "benchmarks", {"m1": 4, "m2": 3, "m3": 2, "m4": 1})
    b = Stage("side_by_side", "side-by-side", {"m1": 40, "m2": 30, "m3": 20, "m4": 10})
    corr = correlate(a, b)
    assert corr.spearman == pytest.approx(1.0) and corr.spearman_p == pytest.approx(1 / 12)


def _brute_force_two_sided_p(xa, xb, statistic) -> float:
    """Every one of the n! pairings of xb with xa, by hand: twice the smaller tail (the two-sided p-value
    scipy's permutation_test uses; with ties the null distribution of τ-b is not symmetric)."""
    from itertools import permutations

    observed = statistic(xa, xb).statistic
    null = np.array([statistic(xa, [xb[i] for i in order]).statistic for order in permutations(range(len(xb)))])
    close = np.isclose(null, observed, rtol=0, atol=1e-12)
    upper, lower = np.mean((null >= observed) | close), np.mean((null <= observed) | close)
    return min(1.0, 2 * min(upper, lower))


def test_kendall_with_ties_is_exact_by_permutation():
    """Issue 19.3: with tied scores scipy's Kendall p is asymptotic (0.079 here) where the exact permutation p
    over all 720 pairings of 6 models is 0.122; the funnel reports the exact one and says so."""
    from sbs_tui.core.analysis.funnel import Stage, correlate

    models = [f"m{i}" for i in range(6)]
    xa = [1, 2, 3, 4, 5, 6]
    xb = [3.5, 1, 2, 3.5, 5.5, 5.5]  # two tied pairs
    corr = correlate(Stage("benchmarks", "benchmarks", dict(zip(models, xa))),
                     Stage("side_by_side", "side-by-side", dict(zip(models, xb))))
    exact = _brute_force_two_sided_p(xa, xb, stats.kendalltau)
    assert exact == pytest.approx(0.12222, abs=1e-4)
    assert stats.kendalltau(xa, xb).pvalue == pytest.approx(0.0795, abs=1e-3)  # what the funnel used to print
    assert corr.kendall_p == pytest.approx(exact, rel=1e-12) and corr.kendall_p_method == "exact permutation"
    assert corr.kendall == pytest.approx(stats.kendalltau(xa, xb).statistic)
    # an asymmetric null (ties in both stages): twice the smaller tail, still equal to the enumeration
    ya, yb = [1, 1, 2, 2, 3, 4], [2, 1, 1, 3, 3, 3]
    corr = correlate(Stage("benchmarks", "benchmarks", dict(zip(models, ya))),
                     Stage("side_by_side", "side-by-side", dict(zip(models, yb))))
    assert corr.kendall_p == pytest.approx(_brute_force_two_sided_p(ya, yb, stats.kendalltau), rel=1e-12)
    assert corr.as_dict()["kendall_p_method"] == "exact permutation"


def test_kendall_without_ties_keeps_scipys_exact_p():
    from sbs_tui.core.analysis.funnel import Stage, correlate

    models = [f"m{i}" for i in range(5)]
    xa, xb = [1, 2, 3, 4, 5], [2, 1, 4, 3, 5]
    corr = correlate(Stage("benchmarks", "benchmarks", dict(zip(models, xa))),
                     Stage("side_by_side", "side-by-side", dict(zip(models, xb))))
    assert corr.kendall_p_method == "exact"
    assert corr.kendall_p == pytest.approx(_brute_force_two_sided_p(xa, xb, stats.kendalltau), rel=1e-9)


def test_negative_but_uncertain_correlation_is_not_called_opposite():
    """The wording follows the interval, not the sign: ρ = −0.4 over 5 models is "not clearly related"."""
    from sbs_tui.core.analysis.funnel import Stage, correlate, disagreements

    a = Stage("benchmarks", "benchmarks", {"m1": 5, "m2": 4, "m3": 3, "m4": 2, "m5": 1})
    b = Stage("side_by_side", "side-by-side", {"m1": 3, "m2": 1, "m3": 5, "m4": 4, "m5": 2})
    corr = correlate(a, b)
    assert corr.spearman < 0 and corr.spearman_ci[0] < 0 < corr.spearman_ci[1]
    text = " ".join(disagreements(a, b, corr))
    assert "not clearly related" in text and "opposite" not in text


def test_holm_across_funnel_correlations():
    store = Store.memory()
    bench = {"m1": 0.9, "m2": 0.7, "m3": 0.5, "m4": 0.3}
    wins = {("m4", "m1"): 6, ("m1", "m4"): 1, ("m4", "m2"): 5, ("m4", "m3"): 5, ("m1", "m2"): 4,
            ("m2", "m1"): 2, ("m1", "m3"): 5, ("m2", "m3"): 4, ("m3", "m2"): 1}
    seed(store, bench=bench, wins=wins, ab={"m1": (100, 1000), "m2": (120, 1000), "m3": (90, 1000)})
    report = build_funnel(store)
    from sbs_tui.core.analysis.abtest import holm

    ps = [c.spearman_p for c in report.correlations]
    assert [c.spearman_p_holm for c in report.correlations] == pytest.approx(holm(ps))
    assert "holm" in report.as_dict()["p_adjustment"]


def test_too_few_shared_models_gives_a_note_not_a_number():
    store = Store.memory()
    seed(store, bench={"m1": 0.9, "m2": 0.5}, wins={("m2", "m1"): 3})
    report = build_funnel(store)
    (corr,) = report.correlations
    assert corr.spearman is None and "at least 3" in corr.note
    assert report.disagreements == [
        "benchmarks ranks 'm1' first, side-by-side ranks 'm2' first (among 2 shared models)"]


def test_gate_pass_rates_from_generations_and_optional_gate_results(tmp_path):
    from sbs_tui.core.records import GenerationRecord

    store = Store(tmp_path / "g.db")
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(f"q{i}"), f"q{i}", m, f"out {i}")
                                  for m in ("a", "b") for i in range(4)])
    ids = store.generations.ids()
    store.generations.set_gate_status(ids[:3], "passed")
    store.generations.set_gate_status(ids[3:4], "blocked")
    store.generations.set_gate_status(ids[4:8], "blocked")
    report = build_funnel(store)
    assert report.gates["a"]["pass_rate"] == pytest.approx(0.75) and report.gates["b"]["pass_rate"] == 0.0
    assert report.gates["a"]["gates"] == {}
    # The gating feature's table (migration 0003_gate_results).
    store.gates.save_results([(gid, "toxicity", "cfg", sha, 0.1, i == 3, {}) for i, (gid, sha) in enumerate(
        store.conn.execute("SELECT id, output_sha FROM generations ORDER BY id LIMIT 4").fetchall())])
    report = build_funnel(store)
    assert report.gates["a"]["gates"]["toxicity"] == {"pass_rate": 0.75, "passed": 3, "total": 4}
    store.close()


def test_gate_results_of_unknown_shape_are_ignored():
    store = Store.memory()
    store.conn.execute("DROP TABLE gate_results")
    store.conn.execute("CREATE TABLE gate_results (whatever TEXT)")
    assert store.gates.pass_rates() == {}


def run(capsys, db: Path, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exc:
        main(["--db", str(db), *args])
    out, err = capsys.readouterr()
    return exc.value.code, out, err


def test_sbs_funnel_cli_json_and_table(tmp_path, capsys):
    db = tmp_path / "f.db"
    with Store(db) as store:
        seed(store, bench={"m1": 0.9, "[bold]m2\x1b[31m": 0.7, "m3": 0.5},
             wins={("m3", "m1"): 4, ("m1", "[bold]m2\x1b[31m"): 3, ("m3", "[bold]m2\x1b[31m"): 2})
    code, out, err = run(capsys, db, "funnel", "--format", "json")
    assert code == 0, err
    report = json.loads(out)
    assert [s["key"] for s in report["stages"]] == ["benchmarks", "side_by_side"]
    m3 = next(m for m in report["models"] if m["model"] == "m3")
    assert m3["ranks"] == {"benchmarks": 3, "side_by_side": 1}
    assert report["disagreements"]
    code, out, _ = run(capsys, db, "funnel")
    assert code == 0
    assert "[bold]m2" in out and "\x1b[31m" not in out  # markup literal; escape sequences not passed through
    assert "side-by-side ranks 'm3' first" in out


def test_sbs_funnel_on_empty_database(tmp_path, capsys):
    Store(tmp_path / "e.db").close()  # an empty database (a path that does not exist is an error: issue 9, item 7)
    code, out, err = run(capsys, tmp_path / "e.db", "funnel", "--format", "json")
    assert code == 0 and json.loads(out)["models"] == [] and "nothing to show" in err


def test_side_by_side_counts_humans_by_default_and_says_so(tmp_path, capsys):
    """A judge's votes answer another question than people's: with both in the database the side-by-side stage
    ranks by the humans' (as the review app does), `--voters judges|all` counts others, and the output names
    whose votes were counted. Before, the stage mixed every vote silently."""
    db = tmp_path / "mixed.db"
    with Store(db) as store:
        seed(store, bench={"m1": 0.9, "m2": 0.5}, wins={("m1", "m2"): 3})  # a human: m1 better
        with store.transaction():
            store.votes.insert([vote(f"j{i}", "m2", "m1", "model_a", annotator="gpt-judge", annotator_kind="judge")
                                for i in range(9)])  # the judge: m2 better, three times as often
    votes = {}
    for voters in ("auto", "humans", "judges", "all"):
        code, out, err = run(capsys, db, "funnel", "--format", "json", "--voters", voters)
        assert code == 0, err
        report = json.loads(out)
        m1 = next(m for m in report["models"] if m["model"] == "m1")
        votes[voters] = (report["side_by_side_voters"], m1["side_by_side"]["votes"], m1["ranks"]["side_by_side"],
                         m1["side_by_side"]["voters"])
    assert votes["auto"] == votes["humans"] == ("humans", 3, 1, "humans")
    assert votes["judges"] == ("judges", 9, 2, "judges")
    assert votes["all"] == ("all", 12, 2, "all")
    code, out, _ = run(capsys, db, "funnel")
    assert code == 0 and "side-by-side: 3 votes by humans" in out
    code, out, _ = run(capsys, db, "funnel", "--voters", "all")
    assert "side-by-side: 12 votes by all annotators" in out
    with Store(db) as store:  # the plots' funnel counts the same voters
        from sbs_tui.core.analysis.plots import collect_plot_data

        models, ranks = collect_plot_data(store).funnel_ranks
        assert ranks["side_by_side"][models.index("m1")] == 1.0
        models, ranks = collect_plot_data(store, voters="all").funnel_ranks
        assert ranks["side_by_side"][models.index("m1")] == 2.0
