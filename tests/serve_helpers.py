"""Starting `sbs serve` for the browser tests, once: a free port, the server in a child process with this tree on
its path, a wait until it listens, and a clean stop that shows its log when a test fails."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(db: Path, log_path: Path, *, config: Path | None = None, start_s: float = 30) -> Iterator[str]:
    """``sbs serve`` on ``db`` (and ``config``) until the block ends; yields its base URL. The server's and its
    app processes' output goes to ``log_path``, whose tail is printed at the end (pytest shows it on failure)."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=str(REPO))
    args = [sys.executable, "-m", "sbs_tui", "--db", str(db)]
    if config is not None:
        args += ["--config", str(config)]
    with log_path.open("wb") as log:
        proc = subprocess.Popen([*args, "serve", "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                                env=env)
        try:
            deadline = time.monotonic() + start_s
            while time.monotonic() < deadline:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
                    break
                except OSError:
                    time.sleep(0.2)
            else:
                pytest.fail(f"sbs serve did not start: {log_path.read_text(errors='replace')}")
            yield f"http://127.0.0.1:{port}"
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
            print(log_path.read_text(errors="replace")[-4000:])
