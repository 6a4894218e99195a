"""`sbs judge` against a loopback OpenAI-compatible server: both orders asked, verdicts combined into one vote
(weighted from log-probabilities, discrete otherwise), cached and resumable, counted, and visible to `sbs rank`
and `sbs agreement` as an annotator of kind judge."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbs_tui.core.store.judges import OrderVerdict
from sbs_tui.core.judge.templates import BUILTIN, load_template
from sbs_tui.core.judge.judging import LocalJudge, combine, judge_config, run_judge
from sbs_tui.core.records import VoteRecord, prompt_id_for
from sbs_tui.core.settings import JudgeSettings
from sbs_tui.core.store import Store
from sbs_tui.errors import InputError
from tests.annotate_helpers import MODELS, make_store
from tests.loopback_openai import LoopbackOpenAI

RANK = {"A": 0, "B": 1, "C": 2}  # the loopback judge prefers gamma (C) over beta (B) over alpha (A)


def _letters(content: str) -> list[str]:
    """The model letters of the two answers in the order the prompt shows them."""
    return re.findall(r"Answer \d+ from ([ABC]):", content)


def mt_bench_rule(content: str) -> str:
    first, second = _letters(content)
    return "Assistant A is weaker. [[B]]" if RANK[second] > RANK[first] else "Assistant A wins. [[A]]"


@pytest.fixture
def server():
    with LoopbackOpenAI() as s:
        yield s


def _votes(db) -> list[dict]:
    with Store(db) as store:
        return list(store.exports.votes())


def _judge(cli, db, server, *extra):
    return cli("--db", str(db), "judge", "--base-url", server.base_url, "--model", "judge-lm", *extra)


# -- templates and combination ----------------------------------------------------------------------------------


def test_alpaca_eval_probability_from_the_verdict_token() -> None:
    t = BUILTIN["alpaca_eval"]
    logprobs = {"content": [{"token": "M", "logprob": math.log(0.7), "top_logprobs": [
        {"token": "M", "logprob": math.log(0.7)}, {"token": "m", "logprob": math.log(0.25)},
        {"token": "The", "logprob": math.log(0.05)}]}]}
    assert t.p_first(logprobs) == pytest.approx(0.25 / 0.95)
    assert t.verdict("M") == "second" and t.verdict(" m\n") == "first" and t.verdict("model m") is None
    assert t.p_first(None) is None and t.p_first({"content": [{"token": "hello", "top_logprobs": []}]}) is None


def test_mt_bench_probability_is_read_after_the_brackets() -> None:
    t = BUILTIN["mt_bench"]
    tokens = [{"token": "Assistant", "logprob": 0.0}, {"token": " A", "logprob": -0.1,  # not the verdict
                                                        "top_logprobs": [{"token": " A", "logprob": -0.1}]},
              {"token": " is better. [[", "logprob": 0.0},
              {"token": "B", "logprob": math.log(0.8), "top_logprobs": [
                  {"token": "B", "logprob": math.log(0.8)}, {"token": "A", "logprob": math.log(0.1)},
                  {"token": "C", "logprob": math.log(0.1)}]},
              {"token": "]]", "logprob": 0.0}]
    assert t.p_first({"content": tokens}) == pytest.approx(0.1 + 0.05)  # a tie counts half
    assert t.verdict("Assistant A is better. [[B]]") == "second" and t.verdict("[[C]]") == "tie"


@given(st.text(max_size=80), st.text(max_size=80), st.text(max_size=80))
def test_model_text_is_inserted_literally(instruction: str, out1: str, out2: str) -> None:
    for template in BUILTIN.values():
        user = template.messages(instruction, out1, out2)[-1]["content"]
        expected = template.user.replace("{instruction}", "\0I").replace("{output_1}", "\0O1")
        expected = expected.replace("{output_2}", "\0O2").replace("\0I", instruction).replace("\0O1", out1)
        assert user == expected.replace("\0O2", out2)


def test_combining_the_two_orders() -> None:
    v = lambda verdict, p=None: OrderVerdict(verdict, p)  # noqa: E731
    assert combine(v("first"), v("second")) == ("model_a", 1.0, "discrete")  # a wins in both orders
    assert combine(v("second"), v("first")) == ("model_b", 1.0, "discrete")
    assert combine(v("first"), v("first")) == ("tie", 0.5, "discrete")  # position bias: the orders disagree
    assert combine(v("tie"), v("second")) == ("tie", 0.5, "discrete")
    assert combine(v(None), v("first")) is None
    winner, weight, mode = combine(v("first", 0.9), v("second", 0.3))  # P(a) = (0.9 + 0.7) / 2
    assert (winner, mode) == ("model_a", "weighted") and weight == pytest.approx(0.8)
    winner, weight, _ = combine(v("second", 0.2), v("second", 0.4))  # P(a) = (0.2 + 0.6) / 2 = 0.4
    assert winner == "model_b" and weight == pytest.approx(0.6)
    assert combine(v("first", 0.6), v("first", 0.6)) == ("tie", 0.5, "weighted")


def test_template_file_and_config_errors(tmp_path) -> None:
    good = tmp_path / "mine.toml"
    good.write_text('user = "Q: {instruction}\\n1: {output_1}\\n2: {output_2}\\nBetter (1/2)?"\n'
                    'labels = ["1", "2"]\nmax_tokens = 2\n')
    t = load_template(str(good))
    assert t.labels == ("1", "2") and t.verdict("2") == "second"
    bad = tmp_path / "bad.toml"
    bad.write_text('user = "no placeholders"\n')
    with pytest.raises(InputError, match="field 'user'"):
        load_template(str(bad))
    with pytest.raises(InputError, match="unknown judge template"):
        load_template("nope")
    with pytest.raises(InputError, match="judge.model"):
        judge_config(JudgeSettings())
    assert judge_config(JudgeSettings(), model="org/judge-7b").annotator == "judge:judge-7b"
    # one schema checks the file's value and the flag's: the flag's error names the flag
    with pytest.raises(InputError, match="field 'judge.requests_per_minute': must be above 0"):
        JudgeSettings(requests_per_minute=0)
    with pytest.raises(InputError, match="field '--requests-per-minute': must be above 0"):
        judge_config(JudgeSettings(model="m"), requests_per_minute=0)
    with pytest.raises(InputError, match="field '--concurrency': must be at least 1"):
        judge_config(JudgeSettings(model="m"), concurrency=0)


# -- the command ------------------------------------------------------------------------------------------------


def test_discrete_judge_votes_on_every_queue_pair_and_resumes(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=4).close()  # 3 models: 3 pairs per prompt
    server.chat_rule = mt_bench_rule
    first = _judge(cli, db, server, "--template", "mt_bench", "--no-logprobs", "--format", "json")
    assert first.exit_code == 0, first.stderr
    report = json.loads(first.stdout)
    assert report["pairs"] == 12 and report["asked"] == 24 and report["votes_written"] == 12
    assert report["discrete"] == 12 and report["orders_disagree"] == 0 and report["tokens_in"] == 24 * 100
    bodies = server.chat_requests()
    assert all(b["model"] == "judge-lm" and b["temperature"] == 0 and "logprobs" not in b for b in bodies)
    assert bodies[0]["messages"][0]["role"] == "system"
    shown = {tuple(_letters(b["messages"][-1]["content"])) for b in bodies}
    assert ("A", "B") in shown and ("B", "A") in shown  # both orders
    votes = _votes(db)
    assert len(votes) == 12 and {v["annotator"] for v in votes} == {"judge:judge-lm"}
    assert all(v["annotator_kind"] == "judge" and "weight" not in v for v in votes)
    for v in votes:
        better = max(v["model_a"], v["model_b"], key=lambda m: MODELS.index(m))
        assert v["winner"] == ("model_a" if better == v["model_a"] else "model_b")
    again = _judge(cli, db, server, "--template", "mt_bench", "--no-logprobs", "--format", "json")
    assert json.loads(again.stdout)["asked"] == 0 and len(server.chat_requests()) == 24  # all cached
    assert len(_votes(db)) == 12
    ranked = json.loads(cli("--db", str(db), "rank", "--annotator", "judge:judge-lm", "--format", "json").stdout)
    assert [m["model"] for m in ranked["models"]] == list(reversed(MODELS))


def test_weighted_votes_from_logprobs(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=2, models=MODELS[:2]).close()
    server.chat_rule = lambda content: "M"

    def probs(content: str) -> dict[str, float]:
        first, second = _letters(content)
        p_second = 0.9 if RANK[second] > RANK[first] else 0.2  # beta better; a slight bias to the second answer
        return {"M": p_second, "m": 1 - p_second}

    server.logprob_rule = probs
    result = _judge(cli, db, server, "--format", "json")  # alpaca_eval template, logprobs asked
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["weighted"] == 2
    body = server.chat_requests()[0]
    assert body["logprobs"] is True and body["top_logprobs"] == 5 and body["max_tokens"] == 1
    for v in _votes(db):
        # P(beta better) = mean(0.9 when beta is second, 1 - 0.2 when beta is first) = 0.85
        beta_side = "model_a" if v["model_a"] == MODELS[1] else "model_b"
        assert v["winner"] == beta_side and v["weight"] == pytest.approx(0.85)
        assert v["meta"]["judge"]["mode"] == "weighted"


def test_position_biased_judge_ties_and_agreement_sees_it(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    store = make_store(db, prompts=3, models=MODELS[:2])
    text = [f"Prompt number {i}: explain topic {i}." for i in range(3)]
    humans = [VoteRecord(prompt_id_for(t), t, MODELS[0], MODELS[1], "model_b", who)
              for t in text for who in ("ann1", "ann2")]
    with store.transaction():
        store.votes.insert(humans)
    store.close()
    server.chat_rule = lambda content: "[[A]]"  # always the answer shown first
    result = _judge(cli, db, server, "--template", "mt_bench", "--no-logprobs", "--format", "json")
    report = json.loads(result.stdout)
    assert report["orders_disagree"] == 3 and report["votes_written"] == 3
    assert {v["winner"] for v in _votes(db) if v["annotator"] == "judge:judge-lm"} == {"tie"}
    # stored with weight ½, as docs/judge.md says (issue 17 §6: it was 1.0)
    assert {v["weight"] for v in _votes(db) if v["annotator"] == "judge:judge-lm"} == {0.5}
    doc = json.loads(cli("--db", str(db), "agreement", "--format", "json").stdout)
    (row,) = doc["judge_vs_humans"]
    assert row["judge"] == "judge:judge-lm" and row["items"] == 3


def test_failed_requests_are_summarised_and_a_rerun_completes(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=2, models=MODELS[:2]).close()
    config = tmp_path / "c.toml"
    config.write_text("[judge]\nmax_retries = 0\nconcurrency = 1\n")
    server.chat_rule = mt_bench_rule
    server.fail_next = [(500, {}), (502, {})]
    first = cli("--db", str(db), "--config", str(config), "judge", "--base-url", server.base_url, "--model", "j",
                "--template", "mt_bench", "--no-logprobs")
    assert first.exit_code == 1
    assert "2 of 4 request(s) failed after retries" in first.stderr and "run the same command again" in first.stderr
    assert len(_votes(db)) == 1  # the first pair lost both orders, the second was voted on
    second = cli("--db", str(db), "--config", str(config), "judge", "--base-url", server.base_url, "--model", "j",
                 "--template", "mt_bench", "--no-logprobs", "--format", "json")
    assert second.exit_code == 0 and json.loads(second.stdout)["asked"] == 2
    assert len(_votes(db)) == 2 and len(server.chat_requests()) == 6


def test_limit_then_resume_and_a_new_config_is_judged_anew(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=3).close()
    server.chat_rule = mt_bench_rule
    args = ("--template", "mt_bench", "--no-logprobs", "--format", "json")
    assert json.loads(_judge(cli, db, server, "--limit", "4", *args).stdout)["asked"] == 8
    rest = json.loads(_judge(cli, db, server, *args).stdout)
    assert rest["asked"] == 10 and rest["cached_orders"] == 8 and rest["votes_written"] == 5
    other = json.loads(_judge(cli, db, server, "--template", "mt_bench", "--format", "json",
                              "--annotator", "judge:with-logprobs").stdout)
    assert other["asked"] == 18  # asking for logprobs is another configuration
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM judge_configs").fetchone()[0] == 2


def test_baseline_pairs_tokens_and_cost(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=2, build=False).close()  # no queue: --pairs baseline needs none
    config = tmp_path / "c.toml"
    config.write_text("[judge]\nprice_input_per_mtok = 2.5\nprice_output_per_mtok = 10\n")
    server.chat_rule = mt_bench_rule
    result = cli("--db", str(db), "--config", str(config), "judge", "--base-url", server.base_url, "--model", "j",
                 "--pairs", "baseline", "--baseline", MODELS[0], "--template", "mt_bench", "--format", "json")
    report = json.loads(result.stdout)
    assert report["pairs"] == 4 and report["tokens_in"] == 800 and report["tokens_out"] == 40
    assert report["cost"] == pytest.approx((800 * 2.5 + 40 * 10) / 1e6)
    assert {v["model_a"] for v in _votes(db)} == {MODELS[0]}
    bad = cli("--db", str(db), "judge", "--base-url", server.base_url, "--model", "j", "--pairs", "baseline")
    assert bad.exit_code == 2 and "--baseline" in bad.stderr


def test_environment_gives_the_endpoint(cli, tmp_path, server, monkeypatch) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=1, models=MODELS[:2]).close()
    monkeypatch.setenv("OPENAI_BASE_URL", server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-loop")
    server.chat_rule = mt_bench_rule
    result = cli("--db", str(db), "judge", "--model", "j", "--template", "mt_bench")
    assert result.exit_code == 0, result.stderr
    assert len(server.chat_requests()) == 2


def test_unreachable_endpoint_and_name_clash_exit_2(cli, tmp_path) -> None:
    import socket

    db = tmp_path / "j.db"
    store = make_store(db, prompts=1, models=MODELS[:2])
    with store.transaction():
        store.annotator_id("alice", kind="human")
    store.close()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    result = cli("--db", str(db), "judge", "--base-url", f"http://127.0.0.1:{port}/v1", "--model", "j")
    assert result.exit_code == 2 and time.monotonic() - started < 5
    assert result.stderr.startswith("error: cannot reach") and "connection refused" in result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    clash = cli("--db", str(db), "judge", "--base-url", "http://127.0.0.1:1/v1", "--model", "j",
                "--annotator", "alice")
    assert clash.exit_code == 2 and "is a person" in clash.stderr


def test_local_backend_scores_the_labels(tmp_path) -> None:
    class FakeLM:
        """log P(label | prompt): prefers whichever answer comes from the later model letter."""

        def candidate_logprobs(self, prompts, candidates):
            rows = []
            for p in prompts:
                first, second = _letters(p)
                p_first = 0.7 if RANK[first] > RANK[second] else 0.3
                rows.append([math.log(p_first), math.log(1 - p_first)][: len(candidates)])
            return rows

    store = make_store(None, prompts=2, models=MODELS[:2])
    config = judge_config(JudgeSettings(model="/models/tiny", backend="local", template="alpaca_eval"))
    report = run_judge(store, config, backend=LocalJudge(config, lm=FakeLM()))
    assert report.weighted == 2 and report.votes_written == 2
    votes = list(store.exports.votes())
    assert all(v["weight"] == pytest.approx(0.7) and v["annotator"] == "judge:tiny" for v in votes)


_token = st.fixed_dictionaries({"token": st.sampled_from(["A", "B", "C", "m", "M", " [[", "[[A", "]]", "x", ""]),
                                "logprob": st.one_of(st.floats(allow_nan=True), st.none(), st.text(max_size=2))},
                               optional={"top_logprobs": st.lists(st.fixed_dictionaries({
                                   "token": st.sampled_from(["A", "B", "C", "m", "M", "z"]),
                                   "logprob": st.floats(allow_nan=True, allow_infinity=True)}), max_size=6)})


@given(st.lists(_token, max_size=8), st.text(max_size=60))
def test_reading_arbitrary_replies_never_crashes(tokens, text) -> None:
    for template in BUILTIN.values():
        p = template.p_first({"content": tokens})
        assert p is None or 0.0 <= p <= 1.0
        assert template.verdict(text) in (None, "first", "second", "tie")


def test_an_endpoint_refusing_logprobs_gets_a_hint(cli, tmp_path, server) -> None:
    db = tmp_path / "j.db"
    make_store(db, prompts=1, models=MODELS[:2]).close()
    server.fail_next = [(400, {}, "logprobs is not supported by this model")]
    result = _judge(cli, db, server)
    assert result.exit_code == 2 and "HTTP 400" in result.stderr and "try --no-logprobs" in result.stderr
    server.fail_next = [(400, {}, "unknown model")]
    result = _judge(cli, db, server)
    assert result.exit_code == 2 and "unknown model" in result.stderr and "--no-logprobs" not in result.stderr
