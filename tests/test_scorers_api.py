"""API backends against a real HTTP server on 127.0.0.1 speaking the OpenAI moderation and chat protocols:
batching, the key from the environment, retries with backoff, 429 + Retry-After, pairwise judging in both
orders, and lenient verdict parsing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorers.base import ScoreItem, ScorerError, ScorerSpec, create_scorer
from scorers.judge import parse_scores, parse_verdict, win_share
from scorers.moderation import CATEGORIES


class FakeOpenAI:
    """Scripted server: answers moderation by keyword, chat by a rule, and fails on request."""

    def __init__(self):
        self.requests: list[tuple[str, dict, dict]] = []
        self.fail_next: list[tuple[int, dict]] = []  # (status, headers) for the next requests
        self.chat_rule = lambda content: "[[A]]"
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append((self.path, dict(self.headers), body))
                if server.fail_next:
                    status, headers = server.fail_next.pop(0)
                    self.send_response(status)
                    for k, v in headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(b'{"error": {"message": "scripted failure"}}')
                    return
                if self.path.endswith("/moderations"):
                    payload = {"id": "modr-1", "model": body["model"],
                               "results": [server.moderate(text) for text in body["input"]]}
                elif self.path.endswith("/chat/completions"):
                    content = body["messages"][-1]["content"]
                    payload = {"choices": [{"message": {"role": "assistant",
                                                        "content": server.chat_rule(content)}}]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @staticmethod
    def moderate(text: str) -> dict:
        scores = {c: 0.001 for c in CATEGORIES}
        if "kill" in text:
            scores["violence"] = 0.93
        if "hate" in text:
            scores["hate"] = 0.71
        return {"flagged": any(v > 0.5 for v in scores.values()),
                "categories": {c: v > 0.5 for c, v in scores.items()}, "category_scores": scores}

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeOpenAI()
    yield s
    s.close()


def _moderation(server, monkeypatch, **options):
    monkeypatch.setenv("TEST_MOD_KEY", "sk-test-123")
    scorer = create_scorer("moderation", ScorerSpec(options={"base_url": server.base_url,
                                                             "api_key_env": "TEST_MOD_KEY", **options}))
    waits: list[float] = []
    scorer.client.sleep = waits.append
    return scorer, waits


def test_moderation_batches_and_sends_the_key(server, monkeypatch) -> None:
    # One request at a time, so the order the server sees them in is the batch order asserted below.
    scorer, _ = _moderation(server, monkeypatch, batch_size=2, concurrency=1)
    texts = ["a calm answer", "I will kill them", "so much hate here", "fine", "kill and hate"]
    results = scorer.score([ScoreItem("q", t) for t in texts])
    assert [round(r.score, 2) for r in results] == [0.0, 0.93, 0.71, 0.0, 0.93]
    assert results[1].details["categories"] == ["violence"] and results[1].details["flagged"]
    assert results[4].details["categories"] == ["hate", "violence"]
    assert len(server.requests) == 3  # 2 + 2 + 1
    path, headers, body = server.requests[0]
    assert path == "/v1/moderations" and headers["Authorization"] == "Bearer sk-test-123"
    assert body["model"] == "omni-moderation-latest" and body["input"] == texts[:2]


def test_moderation_category_subset(server, monkeypatch) -> None:
    scorer, _ = _moderation(server, monkeypatch, categories=["hate"])
    violent, hateful = scorer.score([ScoreItem("q", "I will kill"), ScoreItem("q", "hate")])
    assert violent.score < 0.01 and hateful.score == pytest.approx(0.71)
    with pytest.raises(ScorerError, match="unknown categories"):
        _moderation(server, monkeypatch, categories=["violence/cartoon"])


def test_rate_limit_retry_after_is_respected_and_5xx_backs_off(server, monkeypatch) -> None:
    scorer, waits = _moderation(server, monkeypatch)
    server.fail_next = [(429, {"Retry-After": "7"}), (503, {}), (500, {})]
    result = scorer.score([ScoreItem("q", "kill")])[0]
    assert result.score == pytest.approx(0.93)
    assert len(server.requests) == 4
    assert waits[0] == 7.0  # exactly what the server asked for
    assert 1.0 <= waits[1] <= 2.0 and 2.0 <= waits[2] <= 4.0  # exponential backoff (1 s · 2^attempt), jitter


def test_retries_are_bounded_and_client_errors_fail_at_once(server, monkeypatch) -> None:
    scorer, waits = _moderation(server, monkeypatch, max_retries=2)
    server.fail_next = [(500, {})] * 5
    with pytest.raises(ScorerError, match="HTTP 500"):
        scorer.score([ScoreItem("q", "x")])
    assert len(server.requests) == 3
    server.requests.clear()
    server.fail_next = [(401, {})]
    with pytest.raises(ScorerError, match="HTTP 401"):
        scorer.score([ScoreItem("q", "x")])
    assert len(server.requests) == 1


def test_missing_key_for_the_official_endpoint_is_a_config_error(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ScorerError, match=r"set \$OPENAI_API_KEY"):
        create_scorer("moderation")


def test_unreachable_endpoint_is_reported(monkeypatch) -> None:
    scorer = create_scorer("moderation", ScorerSpec(options={"base_url": "http://127.0.0.1:9/v1",
                                                             "max_retries": 1, "timeout": 2.0}))
    scorer.client.sleep = lambda s: None
    with pytest.raises(ScorerError, match="cannot reach"):
        scorer.score([ScoreItem("q", "x")])


# -- chat judge -----------------------------------------------------------------------------------------------


def test_pairwise_judge_asks_both_orders_and_combines(server) -> None:
    # The judge prefers whichever answer mentions "oven": position-independent, so both orders agree.
    def rule(content: str) -> str:
        a = content.split("[ANSWER A]")[1].split("[ANSWER B]")[0]
        b = content.split("[ANSWER B]")[1]
        if ("oven" in a) == ("oven" in b):
            return "Both are equally good. [[C]]"
        return "Answer A is better. [[A]]" if "oven" in a else "My verdict: [[B]]"

    server.chat_rule = rule
    # concurrency 1: the order of the requests the server sees is the order asserted below
    judge = create_scorer("judge", ScorerSpec(model="judge-model", options={"mode": "pairwise", "concurrency": 1,
                                                                             "base_url": server.base_url}))
    win, loss, tie = judge.score([
        ScoreItem("bake?", "use the oven", "use a pan"),
        ScoreItem("bake?", "use a pan", "use the oven"),
        ScoreItem("bake?", "use a pan", "use a pot"),
    ])
    assert (win.score, loss.score, tie.score) == (1.0, 0.0, 0.5)
    assert win.details == {"answer_first": "A", "reference_first": "B", "consistent": True}
    assert len(server.requests) == 6
    first, second = server.requests[0][2], server.requests[1][2]
    assert first["model"] == "judge-model" and first["temperature"] == 0
    assert first["messages"][0]["content"].index("use the oven") < first["messages"][0]["content"].index("use a pan")
    assert second["messages"][0]["content"].index("use a pan") < second["messages"][0]["content"].index("use the oven")


def test_position_biased_judge_gives_half(server) -> None:
    server.chat_rule = lambda content: "[[A]]"  # always the first answer
    judge = create_scorer("judge", ScorerSpec(model="m", options={"mode": "pairwise",
                                                                  "base_url": server.base_url}))
    result = judge.score([ScoreItem("q", "x", "y")])[0]
    assert result.score == 0.5 and result.details["consistent"] is False


def test_rubric_judge_parses_json_and_reports_unparseable(server) -> None:
    replies = iter(['Sure. ```json\n{"relevance": 8, "factuality": "6"}\n```',
                    "I refuse to grade this."])
    server.chat_rule = lambda content: next(replies)
    judge = create_scorer("judge", ScorerSpec(model="m", options={"criteria": ["relevance", "factuality"],
                                                                  "concurrency": 1,  # replies in request order
                                                                  "base_url": server.base_url}))
    good, bad = judge.score([ScoreItem("q", "a"), ScoreItem("q", "b")])
    assert good.score == 7.0 and good.details["criteria"] == {"relevance": 8.0, "factuality": 6.0}
    assert bad.score != bad.score  # NaN: a blocking judge gate fails closed
    assert "unparseable" in bad.details["error"]


@pytest.mark.parametrize(("reply", "expected"), [
    ("[[A]]", "A"), ("after thought... [[ b ]]", "B"), ("[[C]]", "tie"), ('{"winner": "B"}', "B"),
    ("Output (a)", "A"), ("The better response is Answer B.", "B"), ("Winner: A", "A"),
    ("Answer B is better than A", "B"), ("It's a tie.", "tie"), ("I cannot decide", None),
    ("First I thought [[A]], but on reflection [[B]]", "B"),
])
def test_verdict_parsing(reply: str, expected: str | None) -> None:
    assert parse_verdict(reply) == expected


@pytest.mark.parametrize(("reply", "expected"), [
    ('{"relevance": 9}', {"relevance": 9.0}), ("Relevance: 7/10", {"relevance": 7.0}),
    ("Rating: [[4]]", {"relevance": 4.0}), ("I'd say 8/10 overall", {"relevance": 8.0}),
    ('{"relevance": 42}', {"relevance": 10.0}), ("no numbers", None),
    ('{"relevance": {"score": 3, "why": "meh"}}', {"relevance": 3.0}),
])
def test_score_parsing(reply: str, expected) -> None:
    assert parse_scores(reply, ["relevance"]) == expected


@given(st.text(max_size=400))
def test_parsers_never_crash_on_arbitrary_replies(reply: str) -> None:
    verdict = parse_verdict(reply)
    assert verdict in (None, "A", "B", "tie")
    scores = parse_scores(reply, ["relevance", "creativity"])
    assert scores is None or all(1.0 <= v <= 10.0 for v in scores.values())


def test_win_share_table() -> None:
    assert win_share("A", "B") == 1.0 and win_share("B", "A") == 0.0
    assert win_share("A", "A") == 0.5 and win_share("tie", "tie") == 0.5 and win_share(None, "B") == 0.75
