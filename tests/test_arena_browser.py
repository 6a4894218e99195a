"""The live arena through `sbs serve` in a real headless browser (Debian's Chromium driven by Playwright): an
annotator's personal link with `&app=arena` opens the arena, a typed prompt goes to two models of the loopback
streaming server, both answers stream under "Model A" / "Model B" with no model name anywhere in what the browser
receives, a key press stores the vote in SQLite under the annotator's name.

What the browser *receives* is read from the WebSocket frames (the terminal is drawn on a canvas): every byte the
app sent, so blinding is checked on every frame, not on one screenshot. Skipped only where Chromium or Playwright
is missing (CI installs both: see .ci/run), as tests/test_serve_browser.py.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from sbs_tui.core.store import Store
from sbs_tui.core.team import add_annotator
from sbs_tui.testing.fake_endpoint import FakeEndpoint, reply_tokens
from tests.serve_helpers import serving

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]

MODELS = {"alpha-secret": "org/alpha-served", "beta-secret": "org/beta-served"}
PROMPT = "Tell me about cats"
ESCAPES = re.compile(r"\x1b\[[0-9;?<>=]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][0-9A-Za-z]|\x1b[=>78]")


def _query(db: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def _wait(page, condition, timeout: float, what: str, detail=None) -> None:
    """Poll ``condition`` while the page keeps running (Playwright's sync API delivers the frame events only
    inside its own calls, so the pause is the page's, not ``time.sleep``)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not in time: {what}; {detail() if detail else ''}")
        page.wait_for_timeout(250)


@pytest.fixture
def arena_served(tmp_path: Path):
    db = tmp_path / "arena.db"
    with Store(db) as store:
        token = add_annotator(store, "alice")
    with FakeEndpoint(latency=0.3, tokens_per_s=40) as endpoint:
        config = tmp_path / "sbs.toml"
        config.write_text("".join(f'[models.{n}]\nbase_url = "{endpoint.base_url}"\nmodel = "{s}"\nmax_tokens = 40\n'
                                  for n, s in MODELS.items())
                          + '[arena]\nmodels = ["alpha-secret", "beta-secret"]\nweb = true\n'
                          + '[policy]\nuncovered = "pass"\n')
        with serving(db, tmp_path / "serve.log", config=config) as base:
            yield db, base, token


def test_the_arena_in_a_browser_streams_blind_answers_and_stores_the_vote(arena_served, tmp_path: Path) -> None:
    db, base, token = arena_served
    frames: list[str] = []
    sent: list[str] = []  # what the browser sent (keys, mouse, resizes): shown when a step fails

    def on_socket(ws) -> None:
        ws.on("framereceived", lambda payload: frames.append(
            payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload))
        ws.on("framesent", lambda payload: sent.append(str(payload)))

    def received() -> str:
        return ESCAPES.sub("", "".join(frames))

    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        page.on("websocket", on_socket)
        page.goto(f"{base}/?token={token}&app=arena")
        page.wait_for_url(f"{base}/?app=arena", timeout=30_000)  # the token left the address bar
        page.wait_for_selector("body.-first-byte", timeout=60_000)
        _wait(page, lambda: "Your prompt" in received(), 60, "the arena's prompt box drawn")
        # Focus the page once before typing, with the click on the prompt box (the terminal's rows 1-3 at this
        # font size): a click elsewhere would focus an answer pane, where typed letters are key bindings.
        page.click("#terminal", position={"x": 300, "y": 45})
        page.keyboard.type(PROMPT)
        page.keyboard.press("Enter")
        _wait(page, lambda: len(_query(db, "SELECT id FROM generations WHERE gate_status = 'passed'")) == 2, 120,
              "both answers stored and gated", lambda: (_query(db, "SELECT * FROM arena_battles"),
                                                        _query(db, "SELECT gate_status FROM generations"),
                                                        re.findall(r"alice · votes[^┃\n]*", received())[-1:],
                                                        sent[-30:]))
        _wait(page, lambda: "Vote:" in received(), 30, "the vote prompt")
        shot = tmp_path / "arena.png"
        page.screenshot(path=str(shot))
        text = received()
        assert "Model A" in text and "Model B" in text
        assert "answering…" in text  # the panes were drawn while the answers were still streaming
        for served in MODELS.values():  # each answer's words reached the browser as they streamed
            words = "".join(reply_tokens(served, PROMPT, temperature=1.0, max_tokens=40)).split()
            assert words[0] in text and words[-1].rstrip(".") in text, served
        for name in [*MODELS, *MODELS.values()]:
            assert name not in text, f"{name} reached the browser before the vote"
        page.keyboard.press("1")
        _wait(page, lambda: _query(db, "SELECT count(*) FROM votes")[0][0] == 1, 30, "the vote stored")
        page.wait_for_timeout(500)  # what the app draws after the vote is checked too
        text = received()
        for name in [*MODELS, *MODELS.values()]:
            assert name not in text, f"{name} reached the browser (reveal_after_vote is off)"
        browser.close()

    (row,) = _query(db, "SELECT a.name, v.winner, p.text, v.source FROM votes v JOIN annotators a "
                        "ON a.id = v.annotator_id JOIN prompts p ON p.id = v.prompt_id")
    assert row == ("alice", "model_a", PROMPT, "sbs arena")
    assert _query(db, "SELECT outcome FROM arena_battles") == [("voted",)]
    assert shot.stat().st_size > 20_000, "a rendered arena, not a blank page"
