"""Waiting in Pilot tests without guessing a duration: on workers (``app.workers.wait_for_complete()``) where the
work is a worker, and on the condition the test is about where the app polls on a timer (the annotator app
watches the database every ``POLL_SECONDS``). A fixed ``pilot.pause(0.3)`` is either too long (slow suite) or, on
a loaded machine, too short (a flaky one)."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.worker import WorkerCancelled


async def wait_until(pilot, condition: Callable[[], bool], *, timeout: float = 20.0) -> bool:
    """Process messages (and let timers fire) until ``condition()`` holds or ``timeout`` seconds pass; returns
    the last value, so the test's own assertion reports what did not happen."""
    deadline = time.monotonic() + timeout
    while True:
        await pilot.pause()  # deliver pending messages first: the condition may already hold
        if condition():
            return True
        if time.monotonic() >= deadline:
            return False
        try:
            await pilot.app.workers.wait_for_complete()
        except WorkerCancelled:  # superseded by a newer request: look again
            pass
        await pilot.pause(0.02)  # one short tick so interval timers can run
