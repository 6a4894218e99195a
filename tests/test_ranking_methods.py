"""Win rate (AlpacaEval figures), length control, online Elo, TrueSkill and style control."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from sbs_tui.core.ranking.online import online_elo, rank_elo, rank_trueskill, trueskill_win_probability
from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.style import rank_style_controlled, style_counts
from sbs_tui.core.ranking.difficulty import fit_difficulty
from sbs_tui.core.ranking.lc import length_controlled_winrate
from sbs_tui.core.ranking.winrate import rank_winrate
from sbs_tui.core.store import Store

PUBLISHED = {  # AlpacaEval 2.0 leaderboard, weighted GPT-4-turbo annotator (tests/data/README.md)
    "claude-2": 17.19, "gpt-3.5-turbo-1106": 9.18, "OpenHermes-2.5-Mistral-7B": 10.34, "vicuna-13b-v1.5": 6.72,
    "gemma-2b-it": 3.40, "alpaca-7b": 2.59, "falcon-7b-instruct": 2.15,
}
BASELINE = "gpt4_1106_preview"


def _lc(names, rows, baseline):
    """LC with the difficulty fitted once from these verdicts (what a first ``sbs rank --control length`` does)."""
    return length_controlled_winrate(names, rows, baseline, fit_difficulty(names, rows, baseline))


def _alpaca_records(path):
    """Our own reading of the AlpacaEval rules, independent of the importer: p>1.5 → model_b with weight
    p−1, p<1.5 → model_a with weight 2−p, 1.5 or 0 → tie, null skipped."""
    from sbs_tui.core.records import VoteRecord, prompt_id_for

    for line in path.read_text().splitlines():
        row = json.loads(line)
        p = row["preference"]
        if p is None:
            continue
        if p in (0, 1.5):
            winner, weight = "tie", 1.0
        elif p > 1.5:
            winner, weight = "model_b", p - 1.0
        else:
            winner, weight = "model_a", 2.0 - p
        yield VoteRecord(prompt_id_for(row["instruction"]), row["instruction"], row["generator_1"],
                         row["generator_2"], winner, row["annotator"], weight=weight, annotator_kind="judge")


@pytest.fixture(scope="module")
def alpaca_store(tmp_path_factory):
    from tests.conftest import alpaca_data

    path = tmp_path_factory.mktemp("alpaca") / "sbs.db"
    with Store(path) as store, store.transaction():
        for f in sorted((alpaca_data() / "judge_votes").glob("*.jsonl")):
            store.votes.insert(list(_alpaca_records(f)))
    return path


def test_winrate_reproduces_alpacaeval_exactly(alpaca_store) -> None:
    from tests.conftest import alpaca_data

    with Store(alpaca_store) as store:
        ranking = rank_winrate(Outcomes.from_rows(*store.votes.outcomes()), BASELINE)
    got = {m.model: m for m in ranking.models}
    for name, published in PUBLISHED.items():
        prefs = [json.loads(line)["preference"]
                 for line in (alpaca_data() / "judge_votes" / f"{name}.jsonl").read_text().splitlines()]
        vals = [(1.5 if p == 0 else p) - 1.0 for p in prefs if p is not None]
        exact = 100.0 * sum(vals) / len(vals)
        assert got[name].rating == pytest.approx(exact, abs=1e-6)
        assert got[name].win_rate == pytest.approx(exact, abs=1e-6)
        assert round(got[name].rating, 2) == published
        sem = 100.0 * float(np.std(vals, ddof=1)) / math.sqrt(len(vals))
        assert got[name].extra["standard_error"] == pytest.approx(sem, rel=1e-9)
    assert got[BASELINE].rating == 50.0 and got[BASELINE].extra["baseline"]
    assert [m.model for m in ranking.models][:3] == [BASELINE, "claude-2", "OpenHermes-2.5-Mistral-7B"]


def test_winrate_via_the_importer_and_cli(alpaca_store, tmp_path, cli, shared_alpaca) -> None:
    """The lead's importer and `sbs rank --method winrate` give the same published figures."""
    db = tmp_path / "imp.db"
    files = [str(p) for p in sorted((shared_alpaca / "judge_votes").glob("*.jsonl"))]
    assert cli("--db", str(db), "import", "votes", *files).exit_code == 0
    res = cli("--db", str(db), "rank", "--method", "winrate", "--baseline", BASELINE, "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["method"] == "winrate"
    for m in doc["models"]:
        if m["model"] in PUBLISHED:
            assert round(m["rating"], 2) == PUBLISHED[m["model"]]
            assert m["win_rate"] == m["rating"]


def test_length_control_brings_verbose_and_concise_variants_together() -> None:
    """Two variants of one model (same quality, one twice as long) judged by a length-biased judge:
    raw win rates far apart, length-controlled ones close. As in AlpacaEval, the difficulty is fitted once on a
    leaderboard of other models (eight here) on the same prompts and frozen."""
    rng = np.random.default_rng(0)
    names = ["base", "concise", "verbose", *[f"lb{k}" for k in range(8)]]
    lb_quality = rng.normal(-0.3, 0.7, 8)
    rows, board = [], []
    for k in range(600):
        difficulty = rng.normal(0, 1)
        base_len = rng.lognormal(6, 0.4)
        for m, factor in ((1, 1.0), (2, 2.2), *[(3 + j, float(rng.lognormal(0, 0.4))) for j in range(8)]):
            own_len = base_len * factor * rng.lognormal(0, 0.3)
            delta = (own_len - base_len) / 500.0
            quality = -0.3 if m < 3 else lb_quality[m - 3]
            logit = quality - 0.8 * difficulty + 1.2 * math.tanh(delta)
            s = float(rng.random() < 1 / (1 + math.exp(-logit)))
            (rows if m < 3 else board).append((0, m, s, f"p{k}", int(base_len), int(own_len)))
    lc = {m.model: m for m in length_controlled_winrate(names, rows, "base", fit_difficulty(names, board, "base"))
          .models}
    raw = {m.model: m for m in rank_winrate(
        Outcomes.from_rows(names, [(a, b, s, 1) for a, b, s, *_ in rows]), "base").models}
    raw_gap = raw["verbose"].rating - raw["concise"].rating
    lc_gap = abs(lc["verbose"].rating - lc["concise"].rating)
    assert raw_gap > 10
    assert lc_gap < raw_gap / 2
    assert lc_gap < 1.96 * math.hypot(lc["verbose"].extra["standard_error"], lc["concise"].extra["standard_error"])
    truth = 100 * np.mean([1 / (1 + math.exp(0.3 + 0.8 * d)) for d in np.random.default_rng(9).normal(0, 1, 20000)])
    for m in ("verbose", "concise"):
        assert lc[m].ci_low < truth < lc[m].ci_high
    assert lc["verbose"].extra["length_coef"] > 0


@pytest.mark.slow
def test_length_control_on_alpacaeval_moves_concise_models_up(tmp_path, cli, shared_alpaca) -> None:
    db = tmp_path / "lc.db"
    gens = [str(p) for p in sorted((shared_alpaca / "outputs").glob("*.jsonl"))]
    votes = [str(p) for p in sorted((shared_alpaca / "judge_votes").glob("*.jsonl"))]
    assert cli("--db", str(db), "import", "generations", *gens).exit_code == 0
    assert cli("--db", str(db), "import", "votes", *votes).exit_code == 0
    res = cli("--db", str(db), "rank", "--method", "winrate", "--baseline", BASELINE, "--control", "length",
              "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = {m["model"]: m for m in json.loads(res.stdout)["models"]}
    # gpt4_1106_preview writes much longer answers than every other model: LC > raw for all of them
    for name in PUBLISHED:
        assert doc[name]["rating"] > doc[name]["raw_win_rate"]
        assert doc[name]["ci_low"] < doc[name]["rating"] < doc[name]["ci_high"]
    assert round(doc["claude-2"]["raw_win_rate"], 2) == 17.19


PUBLISHED_LC = {  # AlpacaEval 2.0 length_controlled_winrate, same annotator (tests/data/README.md)
    "claude-2": 28.16, "gpt-3.5-turbo-1106": 19.30, "OpenHermes-2.5-Mistral-7B": 16.25, "vicuna-13b-v1.5": 10.48,
    "alpaca-7b": 5.88, "gemma-2b-it": 5.44, "falcon-7b-instruct": 4.04,
}
LC_TOLERANCE = 2.6  # points; docs/ranking.md states it (measured max |Δ| 2.54, gpt-3.5-turbo-1106)


@pytest.mark.slow
def test_length_control_reproduces_published_alpacaeval_lc(tmp_path, cli, shared_alpaca) -> None:
    """Issue 9.4 / 19: with AlpacaEval's own difficulty file our per-model fits land within 2.6 points of the
    published LC figures (the rest is AlpacaEval's regularisation towards gamed baselines, not shared), every
    published figure lies inside our 95% interval, and the concise/verbose ratio has the published size."""
    db = tmp_path / "lc.db"
    assert cli("--db", str(db), "import", "generations",
               *[str(p) for p in sorted((shared_alpaca / "outputs").glob("*.jsonl"))]).exit_code == 0
    assert cli("--db", str(db), "import", "votes",
               *[str(p) for p in sorted((shared_alpaca / "judge_votes").glob("*.jsonl"))]).exit_code == 0
    res = cli("--db", str(db), "rank", "--method", "winrate", "--baseline", BASELINE, "--control", "length",
              "--format", "json", "--difficulty", str(shared_alpaca / "instruction_difficulty.csv"))
    assert res.exit_code == 0, res.stderr
    doc = {m["model"]: m for m in json.loads(res.stdout)["models"]}
    for name, published in PUBLISHED_LC.items():
        assert abs(doc[name]["rating"] - published) <= LC_TOLERANCE, (name, doc[name]["rating"], published)
        assert doc[name]["ci_low"] <= published <= doc[name]["ci_high"], name
    # the concise/verbose flip the published figures show: raw, verbose OpenHermes is ahead of concise gpt-3.5
    # (10.34 vs 9.18); length-controlled, gpt-3.5 is (19.30 vs 16.25). Their ratio is not held closer: without
    # AlpacaEval's gamed-baseline regularisation (its annotations are not shared) ours is 1.46 against 1.19.
    assert doc["gpt-3.5-turbo-1106"]["raw_win_rate"] < doc["OpenHermes-2.5-Mistral-7B"]["raw_win_rate"]
    assert doc["gpt-3.5-turbo-1106"]["rating"] > doc["OpenHermes-2.5-Mistral-7B"]["rating"]


def _padded_campaign(seed: int, pad: int):
    """Four models against a baseline, judged by a length-loving judge (logit + tanh(Δlen/1000)); model m2's
    answers padded with ``pad`` characters of filler."""
    rng = np.random.default_rng(seed)
    quality = [0.0, -1.0, -0.5, 0.0, -1.5]
    prompts = 500
    difficulty = rng.normal(0, 1, prompts)
    base_len = rng.lognormal(7, 0.5, prompts)
    u = rng.random((5, prompts))
    own = rng.lognormal(7, 0.5, (5, prompts))
    rows = []
    for m in range(1, 5):
        for x in range(prompts):
            length = own[m, x] + (pad if m == 2 else 0)
            logit = quality[m] - difficulty[x] + math.tanh((length - base_len[x]) / 1000)
            rows.append((0, m, float(u[m, x] < 1 / (1 + math.exp(-logit))), f"p{x}", int(base_len[x]), int(length)))
    return {r.model: r for r in _lc(["base", "m1", "m2", "m3", "m4"], rows, "base").models}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_padding_answers_barely_moves_the_length_controlled_win_rate(seed: int) -> None:
    """Issue 9.4 property: 1,000 characters of filler that the judge rewards lift the raw win rate by 10+ points;
    the LC win rate moves by less than a quarter of that and less than its own 95% half-width."""
    plain = _padded_campaign(seed, 0)["m2"]
    padded = _padded_campaign(seed, 1000)["m2"]
    raw_gain = padded.extra["raw_win_rate"] - plain.extra["raw_win_rate"]
    lc_move = abs(padded.rating - plain.rating)
    assert raw_gain > 8
    assert lc_move < raw_gain / 4
    assert lc_move < 1.96 * plain.extra["standard_error"]


def _arena_online_elo(votes, names, k=4, scale=400, base=10, init=1000):
    """Reference: Chatbot Arena's compute_online_elo, line for line in plain Python."""
    rating = {n: init for n in names}
    for a, b, s in votes:
        ra, rb = rating[names[a]], rating[names[b]]
        ea = 1 / (1 + base ** ((rb - ra) / scale))
        eb = 1 / (1 + base ** ((ra - rb) / scale))
        sa = 1 - s
        rating[names[a]] += k * (sa - ea)
        rating[names[b]] += k * (1 - sa - eb)
    return rating


def test_online_elo_matches_arena_reference_and_is_order_dependent() -> None:
    rng = np.random.default_rng(1)
    names = [f"m{k}" for k in range(5)]
    votes = [(int(a), int((a + d) % 5), float(rng.choice([0.0, 0.5, 1.0])))
             for a, d in zip(rng.integers(0, 5, 400), rng.integers(1, 5, 400))]
    arr = np.array(votes)
    ours = online_elo(arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2], 5, np.arange(400)[None])[0]
    ref = _arena_online_elo(votes, names)
    np.testing.assert_allclose(ours, [ref[n] for n in names], atol=1e-9)
    reversed_ = online_elo(arr[:, 0].astype(int), arr[:, 1].astype(int), arr[:, 2], 5,
                           np.arange(399, -1, -1)[None])[0]
    assert np.abs(reversed_ - ours).max() > 0.1  # order matters
    r = rank_elo(names, votes, rounds=50, seed=0)
    assert any("order" in w for w in r.warnings)
    avg1 = rank_elo(names, votes, orders=20, rounds=0, seed=3)
    avg2 = rank_elo(names, votes, orders=20, rounds=0, seed=3)
    assert [m.rating for m in avg1.models] == [m.rating for m in avg2.models]
    assert sum(m.rating for m in avg1.models) == pytest.approx(5000.0)  # Elo is zero-sum


def test_trueskill_matches_the_package_and_win_probability_is_coherent() -> None:
    """The same games fed to the package's general ``TrueSkill.rate`` (rating groups and ranks), written out by
    name as winner/loser/draw, not replayed through a copy of our loop (score_b > ½: the second model won)."""
    import trueskill

    names = ["a", "b", "c"]
    votes = [(0, 1, 1.0), (1, 2, 0.5), (0, 2, 0.0), (2, 1, 1.0), (0, 1, 1.0), (1, 0, 0.75)]
    games = [("b", "a"), ("b", "c", "drawn"), ("a", "c"), ("b", "c"), ("b", "a"), ("a", "b")]  # winner first
    r = rank_trueskill(names, votes, draw_probability=0.2, matrices=True)
    env = trueskill.TrueSkill(draw_probability=0.2)
    ref = {n: env.create_rating() for n in names}
    for winner, loser, *drawn in games:
        (ref[winner],), (ref[loser],) = env.rate([(ref[winner],), (ref[loser],)], ranks=[0, 0 if drawn else 1])
    got = {m.model: m for m in r.models}
    for n in names:
        assert got[n].extra["mu"] == pytest.approx(ref[n].mu)
        assert got[n].extra["sigma"] == pytest.approx(ref[n].sigma)
    p = trueskill_win_probability(30, 2, 25, 3, env.beta)
    assert p + trueskill_win_probability(25, 3, 30, 2, env.beta) == pytest.approx(1.0)
    assert trueskill_win_probability(25, 1, 25, 1, env.beta) == pytest.approx(0.5)
    mat = r.matrices["predicted_win_rate"]
    assert mat[0][1] + mat[1][0] == pytest.approx(1.0)


def test_trueskill_reproduces_the_packages_published_examples() -> None:
    """trueskill.org's own examples (default environment, draw probability 0.10): a first game between new
    players gives the winner μ=29.396, σ=7.171 and the loser μ=20.604; a draw leaves both at μ=25.000, σ=6.458."""
    won = {m.model: m.extra for m in rank_trueskill(["p1", "p2"], [(0, 1, 0.0)], draw_probability=0.1).models}
    assert (won["p1"]["mu"], won["p1"]["sigma"]) == (pytest.approx(29.396, abs=5e-4), pytest.approx(7.171, abs=5e-4))
    assert (won["p2"]["mu"], won["p2"]["sigma"]) == (pytest.approx(20.604, abs=5e-4), pytest.approx(7.171, abs=5e-4))
    drew = {m.model: m.extra for m in rank_trueskill(["p1", "p2"], [(0, 1, 0.5)], draw_probability=0.1).models}
    for side in ("p1", "p2"):
        assert (drew[side]["mu"], drew[side]["sigma"]) == (pytest.approx(25.0, abs=5e-4),
                                                           pytest.approx(6.458, abs=5e-4))


def test_trueskill_win_probability_is_the_models_own_chance_of_winning() -> None:
    """Checked two independent ways: the package's normal CDF in the formula of its documentation (trueskill.org,
    "win probability"), and a simulation of the TrueSkill model itself (skill ~ N(μ, σ²), performance ~
    N(skill, β²), the higher performance wins)."""
    import trueskill

    env = trueskill.TrueSkill()
    rng = np.random.default_rng(7)
    for mu_a, sigma_a, mu_b, sigma_b in [(30, 2, 25, 3), (25, 8.333, 27, 1), (20, 0.5, 21, 0.5)]:
        p = trueskill_win_probability(mu_a, sigma_a, mu_b, sigma_b, env.beta)
        assert p == pytest.approx(env.cdf((mu_a - mu_b) / math.sqrt(2 * env.beta ** 2 + sigma_a ** 2 + sigma_b ** 2)))
        n = 400_000
        perf_a = rng.normal(mu_a, sigma_a, n) + rng.normal(0, env.beta, n)
        perf_b = rng.normal(mu_b, sigma_b, n) + rng.normal(0, env.beta, n)
        simulated = float(np.mean(perf_a > perf_b))
        assert abs(simulated - p) < 4 * math.sqrt(p * (1 - p) / n), (simulated, p)


def test_style_counts_are_linear_on_hostile_text() -> None:
    import time

    hostile = "\n" * 1_000_000 + " " * 100_000 + "**" * 50_000 + "# " + "\x1b[31m[bold]x[/bold]" * 1000
    t0 = time.perf_counter()
    chars, headers, lists, bold = style_counts(hostile)
    assert time.perf_counter() - t0 < 2.0
    assert chars == len(hostile) and lists == 0


def test_style_counts_and_style_control_removes_a_pure_length_effect() -> None:
    assert style_counts("# H\n\n- a\n- b\n1. c\n**bold** and __more__") == (39, 1, 3, 2)
    rng = np.random.default_rng(2)
    names = ["short", "long", "other"]
    rows = []
    for k in range(1500):
        a, b = rng.choice(3, 2, replace=False)
        # "long" writes longer on average, but lengths overlap, so length and model can be told apart
        len_a, len_b = (int(rng.uniform(100, 900) + (300 if m == 1 else 0)) for m in (a, b))
        text_a, text_b = "x" * len_a, "y" * len_b
        z = 1.5 * ((len_b - len_a) / (len_a + len_b))  # judge likes length, models otherwise equal
        s = float(rng.random() < 1 / (1 + math.exp(-z)))
        rows.append((int(a), int(b), s, f"p{k}", len_a, len_b, text_a, text_b))
    plain = {m.model: m.rating for m in rank_style_controlled(names, rows, features="length").models}
    raw = {m.model: m for m in
           __import__("sbs_tui.core.ranking.btrank", fromlist=["rank_bt"]).rank_bt(
               Outcomes.from_rows(names, [(a, b, s, 1) for a, b, s, *_ in rows]), ci="none").models}
    assert raw["long"].rating - raw["short"].rating > 40
    assert abs(plain["long"] - plain["short"]) < 20
    styled = rank_style_controlled(names, rows, features="style")
    assert styled.info["style_coefficients"]["length"]["coef"] > 0
    assert all(m.ci_low < m.rating < m.ci_high for m in styled.models)


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 3), st.booleans(), st.floats(0, 1), st.integers(1, 9)),
                min_size=1, max_size=20))
def test_winrate_is_the_weighted_mean_credit_whatever_the_orientation(votes) -> None:
    """Credit to the model is the same whether the baseline was model_a or model_b of a vote."""
    rows, credit, total = [], {}, {}
    for model, baseline_first, c, n in votes:
        rows.append((0, model, c, n) if baseline_first else (model, 0, 1.0 - c, n))
        credit[model] = credit.get(model, 0.0) + c * n
        total[model] = total.get(model, 0) + n
    r = rank_winrate(Outcomes.from_rows(["base", "m1", "m2", "m3"], rows), "base")
    got = {m.model: m.rating for m in r.models}
    for model in credit:
        assert got[f"m{model}"] == pytest.approx(100.0 * credit[model] / total[model], abs=1e-6)
    assert got["base"] == 50.0


def test_elo_default_is_fastchat_median_of_bootstrap_rounds_inside_its_interval() -> None:
    """Issue 9.3: the default Elo rating is FastChat's — the median over rounds of votes resampled with
    replacement and played in the sampled order (Arena's compute_online_elo per round), with the percentile
    interval of the same rounds — so every rating lies inside its own interval. The stored order stays an option."""
    rng = np.random.default_rng(2)
    names = [f"m{k}" for k in range(5)]
    strength = np.array([0.0, 0.3, 0.6, 0.9, 1.2])
    votes = []
    for a, d in zip(rng.integers(0, 5, 600), rng.integers(1, 5, 600)):
        b = int((a + d) % 5)
        p_b = 1 / (1 + np.exp(strength[a] - strength[b]))
        votes.append((int(a), b, float(rng.random() < p_b)))
    rounds = 60
    r = rank_elo(names, votes, rounds=rounds, seed=7)
    assert r.info["elo_order"] == "bootstrap"
    # reference: the same resamples (one uniform draw per step and round, as the engine draws them), each played
    # by the line-for-line Arena update, then median and 2.5/97.5 percentiles
    draw = np.random.default_rng(7)
    idx = np.array([draw.integers(0, len(votes), rounds) for _ in range(len(votes))])  # (steps, rounds)
    per_round = np.array([[_arena_online_elo([votes[t] for t in idx[:, k]], names)[n] for n in names]
                          for k in range(rounds)])
    low, med, high = np.percentile(per_round, [2.5, 50, 97.5], axis=0)
    by = {m.model: m for m in r.models}
    for k, n in enumerate(names):
        assert by[n].rating == pytest.approx(med[k], abs=1e-9)
        assert (by[n].ci_low, by[n].ci_high) == pytest.approx((low[k], high[k]), abs=1e-9)
        assert by[n].ci_low <= by[n].rating <= by[n].ci_high
    stored = rank_elo(names, votes, rounds=rounds, seed=7, order="file")
    ref = _arena_online_elo(votes, names)
    assert {m.model: m.rating for m in stored.models} == pytest.approx(ref, abs=1e-9)
    assert stored.info["elo_order"] == "file"


def _arena_style_reference(a, b, y_a, texts_a, texts_b, n_models, reg=0.5):
    """Arena's compute_style_control (FastChat rating_systems.py), re-derived: code blocks removed with
    arena-hard's "```[^`]*```" before counting, features (a − b)/(a + b + 1) standardised, contextual BT with
    alpha = ln 10, L2 reg 0.5 (half_reg/2 in the loss), ratings ×400 + 1000."""
    import re

    from scipy.optimize import minimize
    from scipy.special import expit

    def counts(t):
        prose = re.sub(r"```[^`]*```", "", t)
        return (len(t), len(re.findall(r"^#{1,6}\s", prose, re.M)),
                len(re.findall(r"^\s*\d+\.\s", prose, re.M)) + len(re.findall(r"^\s*[-*+]\s", prose, re.M)),
                len(re.findall(r"\*\*[^*\n]+\*\*", prose)) + len(re.findall(r"__[^_\n]+__", prose)))

    fa = np.array([counts(t) for t in texts_a], dtype=float).T
    fb = np.array([counts(t) for t in texts_b], dtype=float).T
    diff = (fa - fb) / (fa + fb + 1)
    feats = ((diff - diff.mean(axis=1, keepdims=True)) / diff.std(axis=1, keepdims=True)).T
    alpha = math.log(10.0)

    def loss(params):
        r, w = params[:n_models], params[n_models:]
        p = expit(alpha * (r[a] - r[b]) + feats @ w)
        value = -np.sum(y_a * np.log(p) + (1 - y_a) * np.log(1 - p)) + reg / 2 * params @ params
        err = y_a - p
        grad = reg * params
        np.add.at(grad, a, -alpha * err)
        np.add.at(grad, b, alpha * err)
        grad[n_models:] -= feats.T @ err
        return value, grad

    x = minimize(loss, np.zeros(n_models + 4), jac=True, method="L-BFGS-B",
                 options={"gtol": 1e-10, "maxiter": 10_000}).x
    return 1000 + 400 * x[:n_models]


def test_style_control_agrees_with_arenas_compute_style_control() -> None:
    """Issue 9.5: on hard votes, ratings within a few Elo of Arena's procedure (which adds an L2 penalty we
    do not), and the same feature construction (fenced code stripped, (a − b)/(a + b + 1))."""
    rng = np.random.default_rng(12)
    m, v = 5, 4000
    quality = np.array([0.6, 0.3, 0.0, -0.2, -0.6])
    a = rng.integers(0, m, v)
    b = (a + rng.integers(1, m, v)) % m

    def text(k):
        parts = ["## Title\n"] * int(rng.integers(0, 3)) + ["- item\n"] * int(rng.integers(0, 6))
        parts += ["some **bold** words\n"] * int(rng.integers(0, 3))
        parts += ["```python\n# not a header\n- not a list\n```\n"] * int(rng.integers(0, 2))
        return "".join(parts) + "x" * int(rng.integers(50, 1500))

    texts_a = [text(k) for k in range(v)]
    texts_b = [text(k) for k in range(v)]
    len_a = np.array([len(t) for t in texts_a])
    len_b = np.array([len(t) for t in texts_b])
    logit = quality[b] - quality[a] + 0.8 * (len_b - len_a) / (len_a + len_b + 1)
    s = (rng.random(v) < 1 / (1 + np.exp(-logit))).astype(float)
    names = [f"m{k}" for k in range(m)]
    rows = [(int(x), int(y), float(z), f"p{k}", int(la), int(lb), ta, tb)
            for k, (x, y, z, la, lb, ta, tb) in enumerate(zip(a, b, s, len_a, len_b, texts_a, texts_b))]
    ours = {r.model: r.rating for r in rank_style_controlled(names, rows, features="style").models}
    ref = _arena_style_reference(a, b, 1.0 - s, texts_a, texts_b, m)
    ref = ref - ref.mean() + 1000
    for k, name in enumerate(names):
        assert ours[name] == pytest.approx(ref[k], abs=3.0)
    # without Arena's penalty the reference is our fit exactly
    exact = _arena_style_reference(a, b, 1.0 - s, texts_a, texts_b, m, reg=1e-12)
    exact = exact - exact.mean() + 1000
    for k, name in enumerate(names):
        assert ours[name] == pytest.approx(exact[k], abs=0.05)


def test_fenced_code_is_not_counted_as_markdown() -> None:
    text = "# Real header\n```bash\n# comment\n- not a list\n**not bold**\n```\n- real item\n~~~\n# also code\n"
    assert style_counts(text)[1:] == (1, 1, 0)
