"""Issue 19.5: judge log-probabilities read exactly as AlpacaEval reads them.

The reference below is written here from AlpacaEval's published parsing of its weighted judge
(``weighted_alpaca_eval_gpt4_turbo``: ``logprob_parser`` with numerator ``m``, denominator ``m``/``M``, not
binarised): at the first token, keep the top log-probabilities whose token is exactly ``m`` or ``M``; a missing
one has log-probability −∞; none at all is NaN (no preference); P(first better) = exp(ℓ_m − logsumexp(ℓ_m, ℓ_M)).
Seven scenarios: regular, two whitespace variants, a non-label sampled token, a label missing from the top-k,
both listing orders, and both presentation orders through ``sbs judge``."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy.special import logsumexp

from sbs_tui.core.judge.templates import BUILTIN
from tests.annotate_helpers import MODELS, make_store
from tests.loopback_openai import LoopbackOpenAI

ALPACA = BUILTIN["alpaca_eval"]


def alpaca_eval_reference(logprobs: dict) -> float:
    """P(first better) per AlpacaEval's documented parsing (NaN where it finds no label)."""
    found = {t["token"]: t["logprob"] for t in logprobs["content"][0]["top_logprobs"] if t["token"] in ("m", "M")}
    if not found:
        return math.nan
    ell = {label: found.get(label, -math.inf) for label in ("m", "M")}
    return float(np.exp(ell["m"] - logsumexp([ell["m"], ell["M"]])))


def reply(sampled: str, top: dict[str, float]) -> dict:
    alternatives = [{"token": tok, "logprob": math.log(p)} for tok, p in top.items()]
    return {"content": [{"token": sampled, "logprob": math.log(top.get(sampled, 1e-3)), "top_logprobs": alternatives}]}


SCENARIOS = {
    "regular": reply("M", {"M": 0.7, "m": 0.25, "The": 0.03, "Both": 0.01, "Based": 0.01}),
    # the issue's case: with " M" summed in the project said 0.58, AlpacaEval says 0.82
    "leading space variant": reply("m", {"m": 0.45, " M": 0.22, "M": 0.10, " m": 0.05, "Model": 0.02}),
    "newline variant sampled": reply("M\n", {"M\n": 0.5, "m": 0.3, "M": 0.1, "m\n": 0.05, "\n": 0.05}),
    "non-label sampled token": reply("The", {"The": 0.4, "M": 0.3, "m": 0.2, "Both": 0.05, "Based": 0.05}),
    "label missing from top-k": reply("m", {"m": 0.6, " m": 0.2, "The": 0.1, "Both": 0.05, " M": 0.05}),
    "M listed before m": reply("M", {"M": 0.55, "m": 0.35, "x": 0.1}),
    "m listed before M": reply("M", {"m": 0.35, "M": 0.55, "x": 0.1}),
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_p_first_matches_alpaca_evals_parsing(name: str) -> None:
    logprobs = SCENARIOS[name]
    expected = alpaca_eval_reference(logprobs)
    assert ALPACA.p_first(logprobs) == pytest.approx(expected, abs=1e-12)


def test_the_issues_numbers_and_the_edges() -> None:
    assert ALPACA.p_first(SCENARIOS["leading space variant"]) == pytest.approx(0.45 / 0.55)  # 0.82, not 0.58
    assert ALPACA.p_first(SCENARIOS["label missing from top-k"]) == 1.0  # M absent: probability 0
    assert ALPACA.p_first(SCENARIOS["non-label sampled token"]) == pytest.approx(0.2 / 0.5)  # scored, not dropped
    no_label = reply("The", {"The": 0.6, " M": 0.2, " m": 0.2})
    assert math.isnan(alpaca_eval_reference(no_label)) and ALPACA.p_first(no_label) is None


def test_mt_bench_brackets_count_but_whitespace_does_not() -> None:
    t = BUILTIN["mt_bench"]
    tokens = [{"token": "Fine. [[", "logprob": 0.0},
              {"token": "B", "logprob": math.log(0.6), "top_logprobs": [
                  {"token": "B", "logprob": math.log(0.6)}, {"token": " A", "logprob": math.log(0.3)},
                  {"token": "A", "logprob": math.log(0.1)}]},
              {"token": "]]", "logprob": 0.0}]
    assert t.p_first({"content": tokens}) == pytest.approx(0.1 / 0.7)
    merged = [{"token": "Fine. ", "logprob": 0.0},
              {"token": "[[A", "logprob": math.log(0.6), "top_logprobs": [
                  {"token": "[[A", "logprob": math.log(0.6)}, {"token": "[[B", "logprob": math.log(0.2)},
                  {"token": "[[ B", "logprob": math.log(0.2)}]}]
    assert t.p_first({"content": merged}) == pytest.approx(0.6 / 0.8)


def test_sbs_judge_scores_a_non_label_reply_in_both_orders(cli, tmp_path) -> None:
    """The judge samples "The" in both orders; its top log-probabilities hold m, M and the whitespace variant
    " M". Each order is scored from the exact labels only and the two are combined for the vote."""
    db = tmp_path / "j.db"
    make_store(db, prompts=1, models=MODELS[:2]).close()
    tops = {True: {"The": 0.5, "m": 0.3, " M": 0.15, "M": 0.05},   # alpha shown first: alpha better
            False: {"The": 0.5, "M": 0.2, " m": 0.2, "m": 0.1}}    # beta shown first: alpha (second) better
    with LoopbackOpenAI() as server:
        server.chat_rule = lambda content: "The"
        server.logprob_rule = lambda content: tops[content.index("from A:") < content.index("from B:")]
        result = cli("--db", str(db), "judge", "--base-url", server.base_url, "--model", "judge-lm",
                     "--format", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["weighted"] == 1 and summary["votes_written"] == 1
    p_alpha_first = alpaca_eval_reference(reply("The", tops[True]))      # 0.3 / 0.35
    p_beta_first = alpaca_eval_reference(reply("The", tops[False]))      # 0.1 / 0.3
    p_alpha = (p_alpha_first + (1 - p_beta_first)) / 2
    from sbs_tui.core.store import Store

    with Store(db) as store:
        (vote,) = list(store.exports.votes())
    alpha_side = "model_a" if vote["model_a"] == MODELS[0] else "model_b"
    assert vote["winner"] == alpha_side and vote["weight"] == pytest.approx(p_alpha, abs=1e-6)
