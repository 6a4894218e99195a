"""A concurrent, rate-limited JSON-over-HTTP client for OpenAI-compatible endpoints (moderation, chat).

Why: an API judge at ~2 s a call, one call at a time, takes more than a day for 50k generations, while a vLLM
server or a gateway serves dozens of requests at once. This client keeps ``concurrency`` requests in flight.

Why threads over one ``httpx.Client`` rather than asyncio: scorers are synchronous (``score(items)``) and are
called from the CLI, from Textual workers and from pytest-asyncio tests, where an event loop may already run.
The work is waiting on the network, so a thread pool sharing one connection pool overlaps it just as well
(``bench/bench_judge.py`` measures it against the limit concurrency / latency).

Policy, per request:

* Retried, at most ``max_retries`` times: timeouts, 408/409/429/5xx, and connection errors once the endpoint
  has answered at least once (a restarting or overloaded server). Waits grow exponentially (``backoff`` · 2^n,
  at most 60 s) with jitter (× 0.5–1, so a crowd of workers does not retry in step). A 429 or 503 carrying
  ``Retry-After`` (seconds or an HTTP date) or ``retry-after-ms`` waits exactly that long, and a 429 pauses every
  worker for that long: a rate limit is the whole client's, not one request's.
* Fatal at once, for the whole run: other 4xx (a wrong key, model or payload: every request would fail the same
  way), and a refused connection or an unknown host *before the endpoint ever answered* (a wrong URL or a
  server that is not running) — reported in milliseconds, not after half a minute of silent retries.
* A request that exhausts its retries becomes a failed :class:`Result`; the others go on, and
  :func:`failure_summary` says what failed and why.
* ``timeout`` bounds each attempt as a whole, not only each read: httpx's timeouts restart with every byte, so a
  server (or a broken proxy) trickling one byte a second would hold a request for ever. Every socket operation
  of an attempt is given at most what is left of its deadline (:class:`_DeadlineBackend`), and a request past it
  is a timeout like any other (retried). A streamed answer (below) is bounded per read instead: it may rightly
  take longer than one request's timeout while tokens keep arriving.
* A 2xx reply whose body is only an error object (``{"error": ...}``, as some gateways answer) is a failed
  attempt, retried like a 5xx: it carries no answer, and callers must never store it as one.
* Reported token counts that are not plausible (negative, not integers, above :data:`MAX_TOKENS_PER_REQUEST`) are
  ignored and counted in ``Usage.ignored_usage`` (with the first such value in ``Usage.ignored_example``) so the
  caller can warn once, rather than corrupting token totals, rate limits and costs.

Streaming (``map(..., stream=True)``, for ``sbs generate``): the request goes out with ``"stream": true`` and
the server's Server-Sent Events (chat-completion chunks) are read as they arrive, so time to first token is
measured, and a run being stopped (:meth:`map`'s consumer gone, Ctrl+C) abandons a stream between chunks instead
of waiting for the whole answer. The chunks are assembled into the same shape as a non-streamed answer
(``choices[0].message.content``, ``usage``) plus ``timing`` (``ttft_s``, ``seconds``, ``chunks``), so callers and
the retry policy above treat both alike; a stream cut short is a connection error and is retried from scratch.

Rate limits (``requests_per_minute``, ``tokens_per_minute``) are token buckets refilled continuously and
holding at most one second's worth, so a run starts smoothly instead of firing a minute's quota at once. Tokens
are estimated before sending (payload characters / 4 + ``max_tokens``) and corrected with the ``usage`` the
server reports.
"""

from __future__ import annotations

import json
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from scorers.base import ScorerError, ScorerSpec
from scorers.http_deadline import _bound_by_deadline, _deadline
# The replies' side (results, usage, streamed answers, failures in words) lives in scorers/http_replies.py; its
# names are re-exported here, where callers have always imported them from.
from scorers.http_replies import (MAX_TOKENS_PER_REQUEST, Result, Usage, _Cancelled, _error_only, _printable,
                                  _reason, _StreamError, describe, failure_summary, ignored_usage_warning, read_sse,
                                  retry_after, usage_tokens)

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
OPENAI_BASE = "https://api.openai.com/v1"
DEFAULT_CONCURRENCY = 16
MAX_BACKOFF = 60.0


class EndpointError(ScorerError):
    """The endpoint cannot serve this run at all (refused connection, wrong key/model/payload): stop now."""


@dataclass(slots=True)
class ClientConfig:
    """Where to send requests and how hard to push. Built from a scorer's options or from ``sbs judge``."""

    base_url: str = OPENAI_BASE
    api_key: str | None = None
    timeout: float = 60.0
    max_retries: int = 5
    backoff: float = 1.0
    concurrency: int = DEFAULT_CONCURRENCY
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None

    @classmethod
    def resolve(cls, *, base_url: str | None = None, key_env: str = "OPENAI_API_KEY", **options: Any) -> ClientConfig:
        """The URL from the argument, else ``$OPENAI_BASE_URL``, else OpenAI's; the key from ``$key_env``."""
        url = (base_url or os.environ.get("OPENAI_BASE_URL") or OPENAI_BASE).rstrip("/")
        key = os.environ.get(key_env)
        if not key and url == OPENAI_BASE:
            raise ScorerError(f"set ${key_env} (or base_url for a local OpenAI-compatible server)",
                              field="api_key_env")
        config = cls(base_url=url, api_key=key, **{k: v for k, v in options.items() if v is not None})
        config.check()
        return config

    @classmethod
    def from_spec(cls, spec: ScorerSpec, *, default_key_env: str = "OPENAI_API_KEY") -> ClientConfig:
        """The client options of a ``[gates.NAME]`` table (each read through the spec, so typos are caught)."""
        return cls.resolve(
            base_url=spec.option("base_url", None, str),
            key_env=spec.option("api_key_env", default_key_env, str),
            timeout=spec.option("timeout", None, float),
            max_retries=spec.option("max_retries", None, int),
            backoff=spec.option("backoff", None, float),
            concurrency=spec.option("concurrency", None, int),
            requests_per_minute=spec.option("requests_per_minute", None, (int, float)),
            tokens_per_minute=spec.option("tokens_per_minute", None, (int, float)),
        )

    def check(self) -> None:
        if self.concurrency < 1:
            raise ScorerError("must be ≥ 1", field="concurrency")
        if self.max_retries < 0:
            raise ScorerError("must be ≥ 0", field="max_retries")
        if self.timeout <= 0:
            raise ScorerError("must be > 0", field="timeout")
        for name in ("requests_per_minute", "tokens_per_minute"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ScorerError("must be > 0", field=name)


class TokenBucket:
    """``per_minute`` units a minute, refilled continuously, holding at most one second's worth (at least one
    unit). A request larger than the bucket waits for a full bucket and leaves it in debt, so the average rate
    still holds."""

    def __init__(self, per_minute: float, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.clock, self.sleep = clock, sleep
        self.updated = clock()
        self._lock = threading.Lock()

    def acquire(self, amount: float) -> None:
        need = min(amount, self.capacity)
        while True:
            with self._lock:
                now = self.clock()
                self.level = min(self.capacity, self.level + (now - self.updated) * self.rate)
                self.updated = now
                if self.level >= need - 1e-9:  # not a 1e-17 s sleep for a rounding error (a clock may not move)
                    self.level -= amount
                    return
                delay = (need - self.level) / self.rate
            self.sleep(delay)

    def adjust(self, amount: float) -> None:
        """Give back (positive) or charge (negative) units once the true cost is known."""
        with self._lock:
            self.level = min(self.capacity, self.level + amount)


class JsonClient:
    """POST JSON to ``{base_url}/{path}``: one request (:meth:`post`) or many at once (:meth:`map`)."""

    def __init__(self, config: ClientConfig | ScorerSpec, *, default_key_env: str = "OPENAI_API_KEY",
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        if isinstance(config, ScorerSpec):
            config = ClientConfig.from_spec(config, default_key_env=default_key_env)
        self.config = config
        self.base_url = config.base_url
        self.api_key = config.api_key
        self.concurrency = config.concurrency
        self.max_retries = config.max_retries
        self.backoff = config.backoff
        self.clock, self.sleep = clock, sleep  # a fake clock in tests: rate limits and pauses without waiting
        self.usage = Usage()
        self._requests = (TokenBucket(config.requests_per_minute, clock=clock, sleep=sleep)
                          if config.requests_per_minute else None)
        self._tokens = (TokenBucket(config.tokens_per_minute, clock=clock, sleep=sleep)
                        if config.tokens_per_minute else None)
        self._lock = threading.Lock()
        self._answered = False  # once the endpoint has answered, a connection error is transient
        self._paused_until = 0.0
        self._http = None
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            self._headers["Authorization"] = f"Bearer {self.api_key}"

    # -- public ---------------------------------------------------------------------------------------------

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        """One request with the retry policy; a failure after the retries raises :class:`ScorerError`."""
        result = self._send(0, path, payload, threading.Event())
        if not result.ok:
            raise ScorerError(describe(self.url(path), result))
        return result.data

    def map(self, path: str, payloads: Iterable[dict[str, Any]], *, stream: bool = False) -> Iterator[Result]:
        """Send every payload, ``concurrency`` at a time, and yield each :class:`Result` as it finishes (so the
        caller can write it at once); ``Result.index`` is the payload's position. Payloads are drawn lazily, a
        few ahead of the workers, so millions of them never sit in memory. A fatal error cancels what was not
        sent and is raised here. ``stream``: read each answer as Server-Sent Events (see the module's notes)."""
        stop = threading.Event()
        window = 2 * self.concurrency
        source = iter(enumerate(payloads))
        pending: set[Future] = set()
        pool = ThreadPoolExecutor(max_workers=self.concurrency, thread_name_prefix="sbs-http")
        try:
            exhausted = False
            while True:
                while not exhausted and len(pending) < window:
                    try:
                        index, payload = next(source)
                    except StopIteration:
                        exhausted = True
                        break
                    pending.add(pool.submit(self._send, index, path, payload, stop, stream))
                if not pending:
                    return
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    yield future.result()  # an EndpointError propagates from here
        finally:
            stop.set()
            pool.shutdown(wait=True, cancel_futures=True)

    def run(self, path: str, payloads: Iterable[dict[str, Any]]) -> list[Result]:
        """Every result of :meth:`map`, in payload order."""
        results = list(self.map(path, payloads))
        results.sort(key=lambda r: r.index)
        return results

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def close(self) -> None:
        if self._http is not None:
            self._http.close()
            self._http = None

    # -- one request ------------------------------------------------------------------------------------------

    def _client(self):
        with self._lock:
            if self._http is None:
                import httpx  # imported on first use: `sbs --help` and the annotator app never pay for it

                limits = httpx.Limits(max_connections=self.concurrency,
                                      max_keepalive_connections=self.concurrency)
                transport = httpx.HTTPTransport(limits=limits)
                _bound_by_deadline(transport)
                self._http = httpx.Client(timeout=self.config.timeout, headers=self._headers, transport=transport)
            return self._http

    def _send(self, index: int, path: str, payload: dict[str, Any], stop: threading.Event,
              stream: bool = False) -> Result:
        import httpx

        url = self.url(path)
        if stream:
            payload = {**payload, "stream": True, "stream_options": {"include_usage": True}}
        body = json.dumps(payload).encode("utf-8")
        estimate = len(body) / 4 + int(payload.get("max_tokens") or 0)
        attempt = 0
        just_waited = False
        while True:
            if stop.is_set():
                return Result(index, error="cancelled", attempts=attempt)
            if not just_waited:  # a worker that just slept out its own 429 does not wait the pause again
                self._wait_for_pause()
            if self._requests is not None:
                self._requests.acquire(1)
            if self._tokens is not None:
                self._tokens.acquire(estimate)
            with self._lock:
                self.usage.requests += 1
                if attempt:
                    self.usage.retries += 1
            wait_s: float | None = None
            error: str | None = None
            detail = ""
            # a stream's answer may rightly take longer than one request's timeout: each read is still bounded
            _deadline.end = None if stream else time.monotonic() + self.config.timeout
            try:
                status, headers, text, data = self._exchange(url, body, stream, stop)
            except _Cancelled:
                return Result(index, error="cancelled", attempts=attempt + 1)
            except httpx.ConnectError as exc:
                if not self._answered:
                    raise EndpointError(f"cannot reach {url}: {_reason(exc)} (is the server running, and "
                                        "is base_url right?)") from exc
                error, detail = "connection error", _reason(exc)
            except httpx.TimeoutException as exc:
                error, detail = "timeout", f"no answer within {self.config.timeout:g} s ({type(exc).__name__})"
            except httpx.TransportError as exc:
                error, detail = "connection error", _reason(exc)
            except _StreamError as exc:  # the server sent an error event mid-stream: retried like a 5xx
                self._answered = True
                error, detail = "stream error", _printable(str(exc)[:300])
            except ValueError as exc:
                self._answered = True
                self._count_failure()
                return Result(index, error="invalid JSON", detail=_printable(str(exc)), attempts=attempt + 1)
            finally:
                _deadline.end = None
            if error is None:
                self._answered = True
                if 200 <= status < 300:
                    if not _error_only(data):
                        self._account(data, estimate)
                        return Result(index, data, attempts=attempt + 1)
                    error = f"HTTP {status} with an error body"
                    detail = _printable(json.dumps(data, ensure_ascii=False)[:300])
                else:
                    detail = _printable(text)
                    if status not in RETRY_STATUS:
                        raise EndpointError(f"{url} answered HTTP {status}: {detail}")
                    error = f"HTTP {status}"
                    if status in (429, 503):
                        wait_s = retry_after(headers)
            if attempt >= self.max_retries:
                self._count_failure()
                return Result(index, error=error, detail=detail, attempts=attempt + 1)
            if wait_s is None:
                wait_s = min(MAX_BACKOFF, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
            if error == "HTTP 429":
                with self._lock:
                    self._paused_until = max(self._paused_until, self.clock() + wait_s)
            self.sleep(wait_s)
            just_waited = True
            attempt += 1

    def _exchange(self, url: str, body: bytes, stream: bool, stop: threading.Event) -> tuple[int, Any, str, Any]:
        """One HTTP exchange: (status, headers, the start of an error body, the decoded answer on success).
        A body that is not JSON (or an SSE chunk that is not) raises ``ValueError``."""
        client = self._client()
        if not stream:
            response = client.post(url, content=body)
            if 200 <= response.status_code < 300:
                return response.status_code, response.headers, "", response.json()
            return response.status_code, response.headers, response.text[:300], None
        started = time.perf_counter()
        with client.stream("POST", url, content=body) as response:
            if 200 <= response.status_code < 300:
                return response.status_code, response.headers, "", read_sse(response.iter_lines(), stop, started)
            response.read()
            return response.status_code, response.headers, response.text[:300], None

    def _wait_for_pause(self) -> None:
        delay = self._paused_until - self.clock()
        if delay > 0:
            self.sleep(delay)

    def _count_failure(self) -> None:
        with self._lock:
            self.usage.failed += 1

    def _account(self, data: Any, estimate: float) -> None:
        usage = data.get("usage") if isinstance(data, dict) else None
        if not isinstance(usage, dict):
            return
        counts = usage_tokens(usage)
        if counts is None:
            with self._lock:
                self.usage.ignored_usage += 1
                if not self.usage.ignored_example:
                    self.usage.ignored_example = _printable(json.dumps(usage)[:200])
            return
        tokens_in, tokens_out = counts
        with self._lock:
            self.usage.tokens_in += tokens_in
            self.usage.tokens_out += tokens_out
        if self._tokens is not None and (tokens_in or tokens_out):
            self._tokens.adjust(estimate - (tokens_in + tokens_out))


__all__ = ["MAX_TOKENS_PER_REQUEST", "ClientConfig", "EndpointError", "JsonClient", "Result", "TokenBucket", "Usage",
           "describe", "failure_summary", "ignored_usage_warning", "read_sse", "retry_after", "usage_tokens"]
