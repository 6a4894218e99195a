"""A loopback OpenAI-compatible chat server that streams, for trying ``sbs generate`` (and the loop after it)
offline, for the tests and for ``bench/bench_generate.py``.

``python -m sbs_tui.testing.fake_endpoint --port 8000 --latency 0.5 --tokens-per-s 50`` serves
``http://127.0.0.1:8000/v1`` until interrupted: ``POST /v1/chat/completions`` (streamed as Server-Sent Events
when the request says ``"stream": true``, with ``usage`` in the last chunk when it asks for
``stream_options.include_usage``) and ``GET /v1/models``. Each answer waits ``latency`` seconds before its first
token, then sends ``tokens_per_s`` tokens a second (in ticks of at most 20 ms, so 64 streams cost the server
a few thousand writes a second, not tens of thousands).

What it answers is *not* a model: a deterministic run of words drawn from a seed made of the served model's name,
the last message, ``seed`` and ``temperature`` — the same request gives the same answer, two model names give
different ones, and the length (20–80 words, at most ``max_tokens``) varies by prompt. A request for exactly one
token (an AlpacaEval-style judge) gets ``m`` or ``M`` from the same kind of seed: a coin, enough to run
``sbs judge`` offline, never a judgement. ``--fail-marker TEXT`` answers HTTP 500 to every prompt containing
``TEXT``, to see how failures are counted.

Standard library only (``http.server``, one thread per connection, HTTP/1.1 keep-alive with chunked streams).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

WORDS = ("the", "model", "answer", "careful", "first", "step", "because", "then", "result", "simple", "we", "can",
         "check", "each", "part", "of", "question", "clear", "example", "shows", "that", "this", "works", "well",
         "and", "so", "it", "follows", "a", "short", "list", "next", "value", "is", "good", "plan", "note",
         "data", "small", "test", "again", "here", "more", "way", "to", "see", "why", "true")
TICK_S = 0.02


def reply_tokens(model: str, content: str, *, seed: Any = None, temperature: Any = None,
                 max_tokens: int | None = None) -> list[str]:
    """The deterministic answer, as the tokens it is streamed in (a word and its trailing space each)."""
    digest = hashlib.sha256(json.dumps([model, content, seed, temperature]).encode("utf-8")).digest()
    rng = random.Random(digest)
    if max_tokens == 1:
        return [rng.choice(("m", "M"))]
    n = rng.randint(20, 80)
    if max_tokens is not None:
        n = max(1, min(n, max_tokens))
    words = [rng.choice(WORDS) for _ in range(n)]
    words[0] = words[0].capitalize()
    return [w + ("." if i == n - 1 else " ") for i, w in enumerate(words)]


class LoopbackServer:
    """An HTTP server on a loopback port, served from a daemon thread: what the shipped fake endpoint and the
    tests' stand-ins share (start, the quiet handling of clients that hang up, close, ``with``)."""

    httpd: ThreadingHTTPServer
    thread: threading.Thread
    base_url: str
    port: int

    def _serve(self, handler: type[BaseHTTPRequestHandler], host: str = "127.0.0.1", port: int = 0, *,
               queue: int = 256, name: str = "loopback-server") -> None:
        class Server(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = queue

            def handle_error(self, request: Any, client_address: Any) -> None:
                """A client that hangs up (a stopped run, a closed keep-alive connection) is normal here: quiet."""
                if isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
                    return
                super().handle_error(request, client_address)

        self.httpd = Server((host, port), handler)
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://{host}:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, name=name, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class FakeEndpoint(LoopbackServer):
    """The server, on ``host``:``port`` (0: a free port); ``base_url`` ends in ``/v1``. ``fail_when(body)`` may
    return an HTTP status to answer instead (tests script failures with it). It counts requests and the peak
    number in flight."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, latency: float = 0.0,
                 tokens_per_s: float = 0.0, fail_marker: str | None = None):
        self.latency = latency
        self.tokens_per_s = tokens_per_s
        self.fail_marker = fail_marker
        self.fail_when: Callable[[dict[str, Any]], int | None] | None = None
        self.requests = 0
        self.in_flight = 0
        self.peak_in_flight = 0
        self._lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path.rstrip("/").endswith("/models"):
                    self._json(200, {"object": "list", "data": [{"id": "any", "object": "model"}]})
                else:
                    self._json(404, {"error": {"message": "no such route"}})

            def do_POST(self) -> None:
                try:
                    body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                except ValueError:
                    self._json(400, {"error": {"message": "the body is not JSON"}})
                    return
                if not self.path.rstrip("/").endswith("/chat/completions"):
                    self._json(404, {"error": {"message": "no such route"}})
                    return
                if not isinstance(body, dict) or not isinstance(body.get("messages"), list) or not body["messages"]:
                    self._json(400, {"error": {"message": "messages: a non-empty list is required"}})
                    return
                with server._lock:
                    server.requests += 1
                    server.in_flight += 1
                    server.peak_in_flight = max(server.peak_in_flight, server.in_flight)
                try:
                    server._answer(self, body)
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True  # the client went away (Ctrl+C): nothing to say to it
                finally:
                    with server._lock:
                        server.in_flight -= 1

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._serve(Handler, host, port, name="fake-endpoint")

    # -- answering ---------------------------------------------------------------------------------------------

    def _answer(self, handler: Any, body: dict[str, Any]) -> None:
        content = str(body["messages"][-1].get("content", ""))
        status = self.fail_when(body) if self.fail_when else None
        if status is None and self.fail_marker and self.fail_marker in content:
            status = 500
        if self.latency:
            time.sleep(self.latency)
        if status is not None:
            handler._json(status, {"error": {"message": f"scripted failure (HTTP {status})"}})
            return
        model = str(body.get("model", ""))
        max_tokens = body.get("max_tokens") or body.get("max_completion_tokens")
        tokens = reply_tokens(model, content, seed=body.get("seed"), temperature=body.get("temperature"),
                              max_tokens=max_tokens if isinstance(max_tokens, int) else None)
        usage = {"prompt_tokens": max(1, len(content) // 4), "completion_tokens": len(tokens)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        finish = "length" if isinstance(max_tokens, int) and len(tokens) >= max_tokens else "stop"
        if not body.get("stream"):
            self._pace(len(tokens))
            handler._json(200, {"id": "chatcmpl-fake", "object": "chat.completion", "model": model,
                                "choices": [{"index": 0, "finish_reason": finish,
                                             "message": {"role": "assistant", "content": "".join(tokens)}}],
                                "usage": usage})
            return
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Cache-Control", "no-cache")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()
        for events in self._ticks(model, tokens, finish, usage if include_usage else None):
            data = "".join(f"data: {e}\n\n" for e in events).encode("utf-8")
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            handler.wfile.flush()
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    def _ticks(self, model: str, tokens: list[str], finish: str,
               usage: dict[str, int] | None) -> Iterator[list[str]]:
        """The stream's events, grouped by when they are due (at ``tokens_per_s``)."""
        def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> str:
            return json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                               "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}]})

        events = [chunk({"role": "assistant", "content": ""})]
        start = time.monotonic()
        sent = 0
        while sent < len(tokens):
            if self.tokens_per_s > 0:
                due = min(len(tokens), max(sent + 1, int((time.monotonic() - start) * self.tokens_per_s) + 1))
            else:
                due = len(tokens)
            events.extend(chunk({"content": t}) for t in tokens[sent:due])
            sent = due
            yield events
            events = []
            if sent < len(tokens) and self.tokens_per_s > 0:
                next_at = start + sent / self.tokens_per_s
                time.sleep(max(0.0, min(TICK_S, next_at - time.monotonic())) or TICK_S / 4)
        tail = [chunk({}, finish)]
        if usage is not None:
            tail.append(json.dumps({"id": "chatcmpl-fake", "object": "chat.completion.chunk", "model": model,
                                    "choices": [], "usage": usage}))
        tail.append("[DONE]")
        yield tail

    def _pace(self, n_tokens: int) -> None:
        if self.tokens_per_s > 0 and n_tokens > 1:
            time.sleep((n_tokens - 1) / self.tokens_per_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sbs_tui.testing.fake_endpoint",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default: loopback only)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port; default 8000)")
    parser.add_argument("--latency", type=float, default=0.2, help="seconds before the first token (default 0.2)")
    parser.add_argument("--tokens-per-s", type=float, default=50.0,
                        help="tokens a second after the first (0: all at once; default 50)")
    parser.add_argument("--fail-marker", default=None, metavar="TEXT",
                        help="answer HTTP 500 to prompts containing TEXT")
    args = parser.parse_args(argv)
    if args.latency < 0 or args.tokens_per_s < 0:
        parser.error("--latency and --tokens-per-s must be ≥ 0")
    try:
        server = FakeEndpoint(host=args.host, port=args.port, latency=args.latency,
                              tokens_per_s=args.tokens_per_s, fail_marker=args.fail_marker)
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc.strerror or exc}", flush=True)
        return 2
    print(f"serving {server.base_url} (latency {args.latency:g} s, {args.tokens_per_s:g} tokens/s); "
          "Ctrl+C stops", flush=True)
    try:
        server.thread.join()
    except KeyboardInterrupt:
        server.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
