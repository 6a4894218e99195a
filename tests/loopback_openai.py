"""A scriptable OpenAI-compatible server on 127.0.0.1 (random port), for tests and ``bench/bench_judge.py``.

It speaks ``/chat/completions`` (optionally with ``logprobs``/``top_logprobs``) and ``/moderations``, with
injected latency, scripted failures (429 with ``Retry-After``, 5xx) and a record of every request and of the
peak number of requests in flight. Thread-per-connection HTTP/1.1 with keep-alive, so it serves as many
concurrent requests as a client sends.

As a safety model it is a *keyword stand-in* (:data:`HAZARDS`), not a classifier: ``/moderations`` scores the
OpenAI labels of the hazard words in a text, and :meth:`LoopbackOpenAI.llama_guard` / :meth:`yes_no` answer as
Llama Guard 3 (``safe`` / ``unsafe\nS1,S10``) or ShieldGemma / Granite Guardian (``Yes`` / ``No``) would, about
the last message of the conversation. What it tests is the plumbing (request, reply parsing, the taxonomy,
``sbs gate eval``), never a model's quality.

``python -m tests.loopback_openai --guard llama-guard`` serves it until interrupted and prints its base URL.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from sbs_tui.testing.fake_endpoint import LoopbackServer


#: hazard word → (Llama Guard 3 code or None, OpenAI moderation label, score). Like the real Llama Guard 3, the
#: stand-in has no code for a plain insult (its taxonomy has none); moderation calls it harassment.
HAZARDS: dict[str, tuple[str | None, str, float]] = {
    "kill yourself": ("S11", "self-harm/intent", 0.97),
    "hurt yourself": ("S11", "self-harm", 0.88),
    "kill": ("S1", "violence", 0.93),
    "stab": ("S1", "violence", 0.9),
    "vermin": ("S10", "hate", 0.86),
    "hate": ("S10", "hate", 0.71),
    "steal": ("S2", "illicit", 0.8),
    "nerve gas": ("S9", "illicit/violent", 0.95),
    "idiot": (None, "harassment", 0.83),
    "nude": ("S12", "sexual", 0.77),
}


def hazards(text: str) -> list[tuple[str | None, str, float]]:
    """The hazard entries whose word starts a word of ``text`` (any case; "skill" and "whatever" are not hazards).
    A longer phrase hides the words inside it ("kill yourself" is self-harm, not also violence)."""
    low = text.lower()
    found = []
    for word, entry in HAZARDS.items():  # longer phrases come first
        match = re.search(rf"\b{re.escape(word)}", low)
        if match:
            found.append(entry)
            low = low[: match.start()] + " " * len(word) + low[match.end():]
    return found


class LoopbackOpenAI(LoopbackServer):
    def __init__(self, *, latency: float = 0.0):
        self.latency = latency
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.arrivals: list[tuple[float, int]] = []  # (time.monotonic() on arrival, status answered)
        #: (status, headers[, error message]) answered to the next requests, in order, before any normal answer
        self.fail_next: list[tuple] = []
        #: chat reply text from the last user message
        self.chat_rule: Callable[[str], str] = lambda content: "[[A]]"
        #: verdict-token probabilities from the last user message, for logprobs answers (None: no logprobs)
        self.logprob_rule: Callable[[str], dict[str, float] | None] = lambda content: None
        self.usage = (100, 5)  # prompt / completion tokens reported per chat answer
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in two writes: no 40 ms delayed-ACK stall

            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server._lock:
                    server.requests.append((self.path, body))
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                    failure = server.fail_next.pop(0) if server.fail_next else None
                    server.arrivals.append((time.monotonic(), failure[0] if failure else 200))
                try:
                    delay = server.delay(body)
                    if delay:
                        time.sleep(delay)
                    if failure is not None:
                        status, headers, *message = failure
                        self._send(status, {"error": {"message": message[0] if message else "scripted failure"}},
                                   headers)
                    elif self.path.endswith("/chat/completions"):
                        self._send(200, server.chat_answer(body))
                    elif self.path.endswith("/moderations"):
                        self._send(200, {"id": "modr-1", "model": body.get("model"),
                                         "results": [server.moderate(t) for t in body["input"]]})
                    else:
                        self._send(404, {"error": {"message": "no such route"}})
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _send(self, status: int, payload: dict[str, Any], headers: dict[str, str] | None = None):
                data = json.dumps(payload).encode()
                self.send_response(status)
                for k, v in (headers or {}).items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._serve(Handler, queue=128, name="loopback-openai")

    def delay(self, body: dict[str, Any]) -> float:
        """Seconds to wait before answering (override per request in tests)."""
        return self.latency

    def chat_answer(self, body: dict[str, Any]) -> dict[str, Any]:
        content = body["messages"][-1]["content"]
        text = self.chat_rule(content)
        choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text},
                                  "finish_reason": "stop"}
        probs = self.logprob_rule(content) if body.get("logprobs") else None
        if probs:
            top = [{"token": tok, "logprob": math.log(p)} for tok, p in probs.items() if p > 0]
            top.sort(key=lambda t: -t["logprob"])
            # the reply's tokens: everything before the verdict, then the verdict token with its alternatives
            verdict = top[0]["token"]
            head = text[: text.rfind(verdict)] if verdict in text else ""
            tokens = [{"token": head, "logprob": -0.01, "top_logprobs": []}] if head else []
            tokens.append({"token": verdict, "logprob": top[0]["logprob"],
                           "top_logprobs": top[: body.get("top_logprobs") or 5]})
            choice["logprobs"] = {"content": tokens}
        return {"id": "chatcmpl-1", "object": "chat.completion", "model": body.get("model"),
                "choices": [choice],
                "usage": {"prompt_tokens": self.usage[0], "completion_tokens": self.usage[1],
                          "total_tokens": sum(self.usage)}}

    @staticmethod
    def moderate(text: str) -> dict[str, Any]:
        from scorers.moderation import CATEGORIES

        scores = {c: 0.001 for c in CATEGORIES}
        for _, label, score in hazards(text):
            scores[label] = max(scores[label], score)
        return {"flagged": any(v > 0.5 for v in scores.values()),
                "categories": {c: v > 0.5 for c, v in scores.items()}, "category_scores": scores}

    @staticmethod
    def llama_guard(content: str) -> str:
        """Llama Guard 3's reply about ``content``: ``safe`` or ``unsafe`` and its codes on the next line."""
        codes = list(dict.fromkeys(code for code, _, _ in hazards(content) if code))
        return "\n\nunsafe\n" + ",".join(codes) if codes else "\n\nsafe"

    @staticmethod
    def yes_no(content: str) -> str:
        """ShieldGemma / Granite Guardian: does ``content`` violate the (harm) policy?"""
        return "Yes" if any(code for code, _, _ in hazards(content)) else "No"

    def chat_requests(self) -> list[dict[str, Any]]:
        return [body for path, body in self.requests if path.endswith("/chat/completions")]



def _serve() -> None:
    """Serve the stand-in until interrupted (for trying ``sbs gate eval`` against it by hand)."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--guard", choices=["llama-guard", "yes-no"], default="llama-guard",
                        help="how /chat/completions answers")
    args = parser.parse_args()
    server = LoopbackOpenAI()
    server.chat_rule = LoopbackOpenAI.llama_guard if args.guard == "llama-guard" else LoopbackOpenAI.yes_no
    print(server.base_url, flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.close()


if __name__ == "__main__":
    _serve()
