"""A small JSON-over-HTTP client for OpenAI-compatible endpoints (moderation, chat), standard library only.

Why not an SDK: the protocol is two POST requests; what matters is the retry policy, and it is spelled out here.
Retried: connection errors, timeouts, 408/409/429 and 5xx, with exponential backoff (1 s, 2 s, 4 s… capped at
60 s, with jitter); a 429 or 503 carrying ``Retry-After`` (seconds or an HTTP date) waits exactly that long.
Other 4xx are configuration errors and fail at once with the server's message.

An endpoint that has never answered is treated differently: a refused connection or an unknown host before the
first response is almost always a wrong ``base_url`` or a server that is not running, so it is retried only
briefly (``connect_retries``, 2 by default, 0.25 s and 0.5 s apart) and then reported — minutes of backoff
against a port nobody listens on looked like a hang. Once the server has answered, connection errors are taken
as transient (a restart, an overloaded proxy) and get the full backoff.
"""

from __future__ import annotations

import email.utils
import json
import os
import random
import time
import urllib.error
import urllib.request
from typing import Any

from scorers.base import ScorerError, ScorerSpec

RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
OPENAI_BASE = "https://api.openai.com/v1"


class JsonClient:
    def __init__(self, spec: ScorerSpec, *, default_key_env: str = "OPENAI_API_KEY"):
        self.base_url = (spec.option("base_url", None, str) or os.environ.get("OPENAI_BASE_URL")
                         or OPENAI_BASE).rstrip("/")
        key_env = spec.option("api_key_env", default_key_env, str)
        self.api_key = os.environ.get(key_env)
        if not self.api_key and self.base_url == OPENAI_BASE:
            raise ScorerError(f"set ${key_env} (or base_url for a local OpenAI-compatible server)",
                              field="api_key_env")
        self.timeout = spec.option("timeout", 60.0, float)
        self.max_retries = spec.option("max_retries", 5, int)
        self.backoff = spec.option("backoff", 1.0, float)
        self.connect_retries = spec.option("connect_retries", 2, int)
        self.reached = False  # has the server ever answered (any HTTP status)?
        self.sleep = time.sleep  # replaced in tests that count waits

    def post(self, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        url = f"{self.base_url}/{path.lstrip('/')}"
        body = json.dumps(payload).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        attempt = 0
        while True:
            request = urllib.request.Request(url, data=body, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    self.reached = True
                    return json.loads(response.read().decode("utf-8"))
            except urllib.error.HTTPError as exc:
                self.reached = True
                detail = _printable(exc.read().decode("utf-8", "replace")[:300])
                if exc.code not in RETRY_STATUS or attempt >= self.max_retries:
                    raise ScorerError(f"{url} answered HTTP {exc.code}: {detail}") from exc
                wait = _retry_after(exc.headers.get("Retry-After")) if exc.code in (429, 503) else None
            except (urllib.error.URLError, TimeoutError, ConnectionError) as exc:
                never_answered = not self.reached and _unreachable(exc)
                limit = min(self.max_retries, self.connect_retries) if never_answered else self.max_retries
                if attempt >= limit:
                    hint = " (is the server running, and is base_url right?)" if never_answered else ""
                    raise ScorerError(f"cannot reach {url}: {_reason(exc)}{hint}") from exc
                wait = 0.25 * 2 ** attempt if never_answered else None
            except ValueError as exc:
                raise ScorerError(f"{url} did not answer JSON: {exc}") from exc
            if wait is None:
                wait = min(60.0, self.backoff * 2 ** attempt) * (0.5 + random.random() / 2)
            self.sleep(wait)
            attempt += 1


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason if reason is not None else exc) or type(exc).__name__


def _unreachable(exc: BaseException) -> bool:
    """Nobody is listening (refused, unknown host, no route) — as opposed to a slow or dropped answer."""
    reason = getattr(exc, "reason", exc)
    return isinstance(reason, (ConnectionRefusedError, OSError)) and not isinstance(reason, TimeoutError) \
        and not isinstance(reason, (ConnectionResetError, ConnectionAbortedError))


def _printable(text: str) -> str:
    """A server's message as it may be shown in a terminal: control characters escaped, never interpreted."""
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
