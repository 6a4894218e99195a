"""Reading what an OpenAI-compatible endpoint answered: a request's :class:`Result`, the client's :class:`Usage`,
streamed answers assembled (:func:`read_sse`), failures in words, ``Retry-After``, plausible token counts.

Why apart from :mod:`scorers.http` (the client: concurrency, retries, rate limits): these are plain functions of a
reply, used by the client and by its callers (``sbs judge``, ``sbs generate``, the arena, the guard and moderation
gates), each testable without a server. :mod:`scorers.http` re-exports every name, so callers import from there.
"""

from __future__ import annotations

import email.utils
import json
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

MAX_TOKENS_PER_REQUEST = 10_000_000  # more than any context window: a larger count is a broken server's


@dataclass(slots=True)
class Result:
    """One request's outcome: the decoded JSON answer, or why it failed after its retries."""

    index: int
    data: Any = None
    error: str | None = None  # "HTTP 500", "timeout", "connection error", "invalid JSON", "cancelled"
    detail: str = ""
    attempts: int = 1

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(slots=True)
class Usage:
    """Running totals over the client's life (tokens as the server reported them)."""

    requests: int = 0
    retries: int = 0
    failed: int = 0
    tokens_in: int = 0
    tokens_out: int = 0
    ignored_usage: int = 0  # replies whose token counts were implausible and were not counted
    ignored_example: str = ""


class _Cancelled(Exception):
    """The run was stopped while this answer streamed in."""


class _StreamError(Exception):
    """An ``error`` object among a stream's events."""


def read_sse(lines: Iterable[str], stop: threading.Event | None = None,
             started: float | None = None) -> dict[str, Any]:
    """A streamed chat completion (``data: {chunk}`` lines, ending with ``data: [DONE]``) assembled into a
    non-streamed answer's shape, with ``timing``: ``ttft_s`` (to the first content), ``seconds`` and ``chunks``
    (content chunks: one token each from vLLM and OpenAI, the count used when the server reports no usage)."""
    started = time.perf_counter() if started is None else started
    parts: list[str] = []
    ttft: float | None = None
    chunks = 0
    finish: str | None = None
    usage: Any = None
    served: Any = None
    for line in lines:
        if stop is not None and stop.is_set():
            raise _Cancelled()
        if not line.startswith("data:"):
            continue  # blank separators, ": keep-alive" comments, "event:" and "id:" fields
        data = line[5:].strip()
        if data == "[DONE]":
            break
        chunk = json.loads(data)
        if not isinstance(chunk, dict):
            raise ValueError(f"stream chunk is not an object: {data[:100]}")
        if "error" in chunk:
            error = chunk["error"]
            raise _StreamError(error.get("message", error) if isinstance(error, dict) else error)
        served = chunk.get("model", served)
        if isinstance(chunk.get("usage"), dict):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            delta = choice.get("delta") or {}
            content = delta.get("content") if isinstance(delta, dict) else None
            if content:
                if ttft is None:
                    ttft = time.perf_counter() - started
                parts.append(str(content))
                chunks += 1
            finish = choice.get("finish_reason") or finish
    seconds = time.perf_counter() - started
    return {"model": served, "choices": [{"index": 0, "message": {"role": "assistant", "content": "".join(parts)},
                                          "finish_reason": finish}],
            "usage": usage, "timing": {"ttft_s": ttft, "seconds": seconds, "chunks": chunks}}


def describe(url: str, result: Result) -> str:
    """One failed request in words (the wording users grep for: 'answered HTTP 500', 'cannot reach')."""
    if result.error and result.error.startswith("HTTP"):
        return f"{url} answered {result.error}: {result.detail} (after {result.attempts} attempt(s))"
    if result.error in ("connection error", "timeout"):
        return f"cannot reach {url}: {result.error}: {result.detail} (after {result.attempts} attempt(s))"
    return f"{url}: {result.error}: {result.detail}"


def failure_summary(url: str, results: Iterable[Result], total: int | None = None) -> str | None:
    """``"3 of 120 request(s) failed after retries: 2× HTTP 500, 1× timeout; first: …"``, or None."""
    failed = [r for r in results if not r.ok and r.error != "cancelled"]
    if not failed:
        return None
    kinds = Counter(r.error for r in failed)
    of = f" of {total}" if total is not None else ""
    counts = ", ".join(f"{n}× {kind}" for kind, n in kinds.most_common())
    return f"{len(failed)}{of} request(s) failed after retries: {counts}; first: {describe(url, failed[0])}"


def retry_after(headers: Any) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date), capped at 10 min."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return min(600.0, max(0.0, float(ms) / 1000))
        except ValueError:
            pass
    value = headers.get("Retry-After")
    if not value:
        return None
    try:
        return min(600.0, max(0.0, float(value)))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return min(600.0, max(0.0, when.timestamp() - time.time()))


def _reason(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    if "refused" in text.lower():
        return "connection refused"
    return _printable(text[:200])


def usage_tokens(usage: Any) -> tuple[int, int] | None:
    """(prompt, completion) tokens from a reply's ``usage``; an absent count is 0, and None when a count is
    there but not plausible (negative, not an integer, or above :data:`MAX_TOKENS_PER_REQUEST`)."""
    if not isinstance(usage, dict):
        return 0, 0
    counts = []
    for key in ("prompt_tokens", "completion_tokens"):
        value = usage.get(key)
        if value is None:
            counts.append(0)
        elif isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKENS_PER_REQUEST:
            counts.append(value)
        else:
            return None
    return counts[0], counts[1]


def ignored_usage_warning(usage: Usage) -> str | None:
    """The one warning line for implausible token counts, or None."""
    if not usage.ignored_usage:
        return None
    return (f"ignored the token counts of {usage.ignored_usage} reply(ies) as implausible (e.g. "
            f"{usage.ignored_example}); token totals and cost leave them out")


def _error_only(data: Any) -> bool:
    """A body that is an error report and nothing else: no ``choices``, ``results`` or ``data`` beside it."""
    return (isinstance(data, dict) and data.get("error") is not None
            and not any(key in data for key in ("choices", "results", "data")))


def _printable(text: str) -> str:
    """A server's message as it may be shown in a terminal: control characters escaped, never interpreted."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
