"""What the transport did is never cached as what the judge said (issue 21): a 2xx reply with no ``choices`` (a
gateway's ``{"error": ...}``) is a failed, retried request and the run exits 1; one request never outlives its
``timeout`` however slowly a server trickles; implausible token counts are ignored with a warning; a NaN
log-probability means "no probabilities", not probability 0.
"""

from __future__ import annotations

import json
import math
import socket
import sqlite3
import threading
import time

import pytest

from sbs_tui.core.judge.templates import BUILTIN
from sbs_tui.core.store import Store
from tests.annotate_helpers import MODELS, make_store
from tests.loopback_openai import LoopbackOpenAI
from tests.test_judging import mt_bench_rule


@pytest.fixture
def server():
    with LoopbackOpenAI() as s:
        s.chat_rule = mt_bench_rule
        yield s


def _judge(cli, db, config, server, *extra):
    return cli("--db", str(db), "--config", str(config), "judge", "--base-url", server.base_url, "--model", "j",
               "--template", "mt_bench", "--no-logprobs", *extra)


def _cached(db) -> int:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT count(*) FROM judge_verdicts").fetchone()[0]


def _votes(db) -> int:
    with Store(db) as store:
        return len(list(store.exports.votes()))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "j.db"
    make_store(path, prompts=2, models=MODELS[:2]).close()  # 2 pairs, 4 orders
    return path


def _config(tmp_path, retries: int):
    path = tmp_path / "c.toml"
    path.write_text(f"[judge]\nmax_retries = {retries}\nconcurrency = 1\n")
    return path


def test_a_200_error_body_is_a_failure_never_a_cached_verdict(cli, tmp_path, db, server) -> None:
    config = _config(tmp_path, retries=0)
    server.fail_next = [(200, {}, "upstream gateway timeout"), (200, {}, "upstream gateway timeout")]
    first = _judge(cli, db, config, server, "--format", "json")
    assert first.exit_code == 1, first.stderr
    assert "2 of 4 request(s) failed after retries: 2× HTTP 200 with an error body" in first.stderr
    report = json.loads(first.stdout)
    assert report["failed"] == 2 and report["unparseable"] == 0
    assert _cached(db) == 2 and _votes(db) == 1
    second = _judge(cli, db, config, server, "--format", "json")
    assert second.exit_code == 0 and json.loads(second.stdout)["asked"] == 2
    assert _cached(db) == 4 and _votes(db) == 2


def test_a_200_error_body_is_retried_like_a_5xx(cli, tmp_path, db, server) -> None:
    config = _config(tmp_path, retries=2)
    server.fail_next = [(200, {}, "overloaded")]
    out = cli("--db", str(db), "--config", str(config), "judge", "--base-url", server.base_url, "--model", "j",
              "--template", "mt_bench", "--no-logprobs")
    assert out.exit_code == 0, out.stderr
    assert _votes(db) == 2 and len(server.chat_requests()) == 5


def test_a_2xx_without_choices_is_a_failure_too(cli, tmp_path, db, server, monkeypatch) -> None:
    config = _config(tmp_path, retries=0)
    real = server.chat_answer
    calls = []

    def answer(body):
        calls.append(1)
        return {"id": "chatcmpl-x", "object": "chat.completion"} if len(calls) == 1 else real(body)

    monkeypatch.setattr(server, "chat_answer", answer)
    out = _judge(cli, db, config, server)
    assert out.exit_code == 1 and "1× reply without choices" in out.stderr
    assert _cached(db) == 3


def test_verdicts_cached_from_replies_without_a_message_by_older_versions_are_asked_again(cli, tmp_path, db,
                                                                                         server) -> None:
    config = _config(tmp_path, retries=0)
    assert _judge(cli, db, config, server).exit_code == 0
    with sqlite3.connect(db) as conn:  # what an older version stored for a gateway's error body
        conn.execute("UPDATE judge_verdicts SET verdict = NULL, p_first = NULL, "
                     "reply = 'no message in the answer: {''error'': ''x''}' WHERE rowid = 1")
    again = _judge(cli, db, config, server, "--format", "json")
    assert again.exit_code == 0 and json.loads(again.stdout)["asked"] == 1
    assert json.loads(again.stdout)["unparseable"] == 0


def test_implausible_token_counts_are_ignored_with_one_warning(cli, tmp_path, db, server) -> None:
    config = _config(tmp_path, retries=0)
    server.usage = (-5, 10**12)
    out = _judge(cli, db, config, server, "--format", "json")
    assert out.exit_code == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["tokens_in"] == 0 and report["tokens_out"] == 0
    assert report["warning"].startswith("ignored the token counts of 4 reply(ies) as implausible")
    assert out.stderr.count("warning: ignored the token counts") == 1


def test_usage_tokens_rules() -> None:
    from scorers.http import usage_tokens

    assert usage_tokens({"prompt_tokens": 3, "completion_tokens": 4}) == (3, 4)
    assert usage_tokens({"prompt_tokens": 3}) == (3, 0) and usage_tokens(None) == (0, 0)
    for bad in (-1, 10**9 * 100, 2.5, True, "7"):
        assert usage_tokens({"prompt_tokens": bad, "completion_tokens": 1}) is None


def test_a_nan_log_probability_is_missing_not_zero() -> None:
    from sbs_tui.core.judge.judging import _read_answer

    template = BUILTIN["alpaca_eval"]
    nan_first = {"choices": [{"message": {"content": "m"}, "logprobs": {"content": [
        {"token": "m", "logprob": math.nan,
         "top_logprobs": [{"token": "m", "logprob": math.nan}, {"token": "M", "logprob": -1.0}]}]}}]}
    verdict, _reply = _read_answer(template, json.loads(json.dumps(nan_first)))  # NaN travels as JSON's NaN
    assert verdict.p_first is None and verdict.verdict == "first"
    fine = json.loads(json.dumps(nan_first).replace("NaN", "-0.1"))
    assert _read_answer(template, fine)[0].p_first is not None


class Trickle:
    """An HTTP server that sends its reply one byte every ``every`` seconds (a broken proxy, a stuck upstream)."""

    def __init__(self, every: float = 0.2, seconds: float = 20.0):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.every, self.seconds = every, seconds
        self.base_url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/v1"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        conn.recv(65536)
        body = json.dumps({"choices": [{"message": {"content": "[[A]]"}}]}).encode()
        reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body), body)
        end = time.monotonic() + self.seconds
        try:
            for i in range(len(reply)):
                if time.monotonic() > end:
                    break
                conn.sendall(reply[i:i + 1])
                time.sleep(self.every)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self.sock.close()


def test_a_trickling_server_cannot_hold_a_request_past_its_timeout() -> None:
    from scorers.base import ScorerError
    from scorers.http import ClientConfig, JsonClient

    trickle = Trickle(every=0.2, seconds=20)
    client = JsonClient(ClientConfig(base_url=trickle.base_url, timeout=1.0, max_retries=0))
    client._answered = True  # (a connection error before any answer would be fatal; here the server answers)
    started = time.monotonic()
    try:
        with pytest.raises(ScorerError, match="timeout"):
            client.post("chat/completions", {"model": "j", "messages": []})
        assert time.monotonic() - started < 3.0, "the request outlived its timeout"
    finally:
        client.close()
        trickle.close()
