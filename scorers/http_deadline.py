"""An overall deadline per HTTP attempt, which httpx does not have: its timeouts restart with every byte, so a
server trickling one byte a second would hold a request for ever.

Why apart from :mod:`scorers.http`: this is a network backend for httpcore's connection pool (a wrapper around its
sockets), not client policy; the client sets :data:`_deadline` ``.end`` around each attempt and installs the
backend with :func:`_bound_by_deadline`.
"""

from __future__ import annotations

import threading
import time
from typing import Any

_deadline = threading.local()  # .end: time.monotonic() by which the current thread's attempt must be done


def _bounded(timeout: float | None) -> float | None:
    """A socket operation's timeout, cut to what is left of this thread's deadline (raising once it passed)."""
    import httpcore

    end = getattr(_deadline, "end", None)
    if end is None:
        return timeout
    left = end - time.monotonic()
    if left <= 0:
        raise httpcore.ReadTimeout("the request's overall deadline passed")
    return left if timeout is None else min(timeout, left)


def _bound_by_deadline(transport: Any) -> None:
    """Give ``transport``'s connection pool a network backend whose every read, write and connect honours the
    calling thread's deadline. (httpx has no overall timeout; its pool takes a backend only through this
    attribute, checked here so an httpx upgrade that moves it fails loudly in the tests, not silently.)"""
    import httpcore

    class Stream(httpcore.NetworkStream):
        def __init__(self, inner: Any):
            self._inner = inner

        def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
            return self._inner.read(max_bytes, _bounded(timeout))

        def write(self, buffer: bytes, timeout: float | None = None) -> None:
            self._inner.write(buffer, _bounded(timeout))

        def close(self) -> None:
            self._inner.close()

        def start_tls(self, ssl_context: Any, server_hostname: str | None = None,
                      timeout: float | None = None) -> Any:
            return Stream(self._inner.start_tls(ssl_context, server_hostname, _bounded(timeout)))

        def get_extra_info(self, info: str) -> Any:
            return self._inner.get_extra_info(info)

    class Backend(httpcore.NetworkBackend):
        def __init__(self) -> None:
            self._inner = httpcore.SyncBackend()

        def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                        socket_options: Any = None) -> Any:
            return Stream(self._inner.connect_tcp(host, port, _bounded(timeout), local_address, socket_options))

        def connect_unix_socket(self, path: str, timeout: float | None = None, socket_options: Any = None) -> Any:
            return Stream(self._inner.connect_unix_socket(path, _bounded(timeout), socket_options))

        def sleep(self, seconds: float) -> None:
            self._inner.sleep(seconds)

    pool = transport._pool
    if not hasattr(pool, "_network_backend"):
        raise RuntimeError("httpx's connection pool changed: cannot bound requests by an overall deadline")
    pool._network_backend = Backend()
