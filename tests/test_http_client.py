"""The concurrent HTTP client (scorers/http.py) against a loopback OpenAI-compatible server: requests really
overlap, rate limits and Retry-After hold for every worker, retries are bounded and summarised, and a server
that is not there is reported at once."""

from __future__ import annotations

import socket
import time

import pytest

from scorers.base import ScoreItem, ScorerError, ScorerSpec, create_scorer
from scorers.http import ClientConfig, EndpointError, JsonClient, TokenBucket, failure_summary, retry_after
from tests.loopback_openai import LoopbackOpenAI


@pytest.fixture
def server():
    with LoopbackOpenAI() as s:
        yield s


def _client(server, **options) -> JsonClient:
    return JsonClient(ClientConfig(base_url=server.base_url, **options))


def _chat(i: int) -> dict:
    return {"model": "m", "max_tokens": 4, "messages": [{"role": "user", "content": f"question {i}"}]}


def test_requests_overlap_up_to_the_concurrency(server) -> None:
    server.latency = 0.2
    client = _client(server, concurrency=6)
    results = client.run("chat/completions", (_chat(i) for i in range(18)))
    assert [r.index for r in results] == list(range(18)) and all(r.ok for r in results)
    assert 3 <= server.peak_in_flight <= 6  # never more than asked for; clearly more than one at a time
    assert client.usage.requests == 18 and client.usage.tokens_in == 18 * 100 and client.usage.tokens_out == 18 * 5


def test_one_at_a_time_when_concurrency_is_one(server) -> None:
    server.latency = 0.02
    _client(server, concurrency=1).run("chat/completions", (_chat(i) for i in range(5)))
    assert server.peak_in_flight == 1
    assert [b["messages"][0]["content"] for _, b in server.requests] == [f"question {i}" for i in range(5)]


def test_results_come_back_as_they_finish(server) -> None:
    server.delay = lambda body: 0.6 if body["messages"][0]["content"] == "question 0" else 0.0
    order = [r.index for r in _client(server, concurrency=4).map("chat/completions", (_chat(i) for i in range(4)))]
    assert sorted(order) == [0, 1, 2, 3] and order[-1] == 0  # the slow first request does not hold the others


def test_a_429_pauses_every_worker_for_retry_after(server) -> None:
    server.latency = 0.1  # 24 requests two at a time: without the pause, requests would arrive all along
    server.fail_next = [(429, {"Retry-After": "1"})]
    client = _client(server, concurrency=2)
    started = time.monotonic()
    results = client.run("chat/completions", (_chat(i) for i in range(24)))
    assert all(r.ok for r in results) and time.monotonic() - started >= 1.0
    (t429,) = [t for t, status in server.arrivals if status == 429]
    # requests already on the wire may land right after the 429; nothing new is sent during the pause
    during = [t - t429 for t, status in server.arrivals if 0.3 < t - t429 < 0.9]
    assert during == []
    assert len(server.requests) == 25 and client.usage.retries == 1


def test_retries_are_bounded_and_failures_summarised(server) -> None:
    server.fail_next = [(500, {}), (502, {}), (503, {})]
    client = _client(server, concurrency=1, max_retries=1)
    waits: list[float] = []
    client.sleep = waits.append
    results = client.run("chat/completions", (_chat(i) for i in range(3)))
    assert [r.ok for r in results] == [False, True, True]
    assert results[0].error == "HTTP 502" and results[0].attempts == 2
    assert len(server.requests) == 5 and len(waits) == 2
    summary = failure_summary(client.url("chat/completions"), results, len(results))
    assert summary.startswith("1 of 3 request(s) failed after retries: 1× HTTP 502; first: http://127.0.0.1:")
    assert failure_summary("u", results[1:]) is None


def test_timeouts_are_retried_then_reported(server) -> None:
    server.latency = 0.5
    client = _client(server, concurrency=1, max_retries=1, timeout=0.1)
    client.sleep = lambda s: None
    (result,) = client.run("chat/completions", [_chat(0)])
    assert result.error == "timeout" and result.attempts == 2


def test_connection_refused_fails_fast_and_clearly() -> None:
    with socket.socket() as sock:  # a port that nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = JsonClient(ClientConfig(base_url=f"http://127.0.0.1:{port}/v1", max_retries=5))
    started = time.monotonic()
    with pytest.raises(EndpointError, match=r"cannot reach http://127\.0\.0\.1:\d+/v1/chat/completions: "
                                            r"connection refused"):
        list(client.map("chat/completions", (_chat(i) for i in range(100))))
    assert time.monotonic() - started < 2.0  # no backoff before saying the server is not there
    assert client.usage.requests <= 2 * client.concurrency


def test_a_client_error_stops_the_whole_run(server) -> None:
    server.latency = 0.05
    server.fail_next = [(401, {})]
    client = _client(server, concurrency=2)
    with pytest.raises(EndpointError, match="HTTP 401"):
        client.run("chat/completions", (_chat(i) for i in range(200)))
    assert len(server.requests) < 10  # what was not sent yet is cancelled


def test_requests_per_minute_is_a_ceiling(server) -> None:
    """On the client's fake clock: 10 a second with a second's worth at once, so 20 requests one at a time take
    exactly one (fake) second — and the test no time."""
    clock = FakeClock()
    client = JsonClient(ClientConfig(base_url=server.base_url, concurrency=1, requests_per_minute=600),
                        clock=clock, sleep=clock.sleep)
    client.run("chat/completions", (_chat(i) for i in range(20)))
    assert clock.now == pytest.approx(1.0) and len(server.requests) == 20


class FakeClock:
    def __init__(self):
        self.now = 0.0
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_token_bucket_rate_and_debt() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)  # one a second, holds one
    for _ in range(5):
        bucket.acquire(1)
    assert clock.now == pytest.approx(4.0)
    clock = FakeClock()
    tokens = TokenBucket(6000, clock=clock, sleep=clock.sleep)  # 100 a second, holds 100
    tokens.acquire(300)  # larger than the bucket: goes at once, leaves a debt of 200
    tokens.acquire(50)
    assert clock.now == pytest.approx(2.5)  # 200 to repay and 50 to gather, at 100 a second
    tokens.adjust(1000)
    assert tokens.level == 100  # never above the capacity


def test_retry_after_forms() -> None:
    assert retry_after({"Retry-After": "7"}) == 7.0
    assert retry_after({"retry-after-ms": "250", "Retry-After": "7"}) == 0.25
    assert retry_after({"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}) == 0.0  # a date in the past
    assert retry_after({"Retry-After": "99999"}) == 600.0
    assert retry_after({}) is None and retry_after({"Retry-After": "soon"}) is None


def test_config_is_validated(monkeypatch) -> None:
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    with pytest.raises(ScorerError) as err:
        ClientConfig.resolve(base_url="http://x/v1", concurrency=0)
    assert err.value.field == "concurrency"
    with pytest.raises(ScorerError) as err:
        create_scorer("moderation", ScorerSpec(options={"base_url": "http://x/v1", "concurency": 4}))
    assert "did you mean 'concurrency'" in str(err.value)
    monkeypatch.setenv("OPENAI_BASE_URL", "http://gateway:8000/v1/")
    assert ClientConfig.resolve().base_url == "http://gateway:8000/v1"


def test_moderation_scorer_runs_its_batches_concurrently(server) -> None:
    server.latency = 0.15
    scorer = create_scorer("moderation", ScorerSpec(options={"base_url": server.base_url, "batch_size": 1,
                                                             "concurrency": 8}))
    texts = [f"text {i}" + (" kill" if i % 3 == 0 else "") for i in range(16)]
    results = scorer.score([ScoreItem("q", t) for t in texts])
    assert [r.score > 0.5 for r in results] == [i % 3 == 0 for i in range(16)]  # in input order
    assert server.peak_in_flight >= 4


def test_scorer_failure_names_every_failed_request(server) -> None:
    server.fail_next = [(500, {})] * 4
    scorer = create_scorer("moderation", ScorerSpec(options={"base_url": server.base_url, "batch_size": 1,
                                                             "concurrency": 1, "max_retries": 1}))
    scorer.client.sleep = lambda s: None
    with pytest.raises(ScorerError, match=r"2 of 3 request\(s\) failed after retries: 2× HTTP 500"):
        scorer.score([ScoreItem("q", t) for t in "abc"])


def test_sbs_score_with_an_unreachable_moderation_endpoint_is_one_line(cli, tmp_path) -> None:
    rows = tmp_path / "in.jsonl"
    rows.write_text('{"prompt": "q", "model": "m", "output": "a"}\n')
    config = tmp_path / "gates.toml"
    config.write_text('[gates.moderation]\nbase_url = "http://127.0.0.1:9/v1"\n')
    started = time.monotonic()
    result = cli("--config", str(config), "score", str(rows), "--gates", "moderation", "--out",
                 str(tmp_path / "o.jsonl"))
    assert result.exit_code == 2 and time.monotonic() - started < 10
    (line,) = [x for x in result.stderr.splitlines() if x.startswith("error:")]
    assert "field 'gates.moderation': cannot reach http://127.0.0.1:9/v1/moderations: connection refused" in line
    assert "Traceback" not in result.stderr


def test_tokens_per_minute_counts_the_tokens_the_server_reports(server) -> None:
    # Each request is estimated at ~30 tokens but the server reports 105 used: 20 requests are 2,100 tokens,
    # over two seconds' worth at 60,000 a minute (1,000 a second, a second's worth at once). Charging only the
    # estimates (600 tokens) would let them all through at once.
    clock = FakeClock()
    client = JsonClient(ClientConfig(base_url=server.base_url, concurrency=1, tokens_per_minute=60_000),
                        clock=clock, sleep=clock.sleep)
    client.run("chat/completions", (_chat(i) for i in range(20)))
    assert clock.now >= 1.0  # 2,100 tokens at 1,000 a second with 1,000 at once (the estimates alone: no wait)
    assert client.usage.tokens_in + client.usage.tokens_out == 20 * 105
