"""`sbs serve` in a real headless browser (Debian's Chromium driven by Playwright): sign in with a personal link,
see a pair, press `1`, find the vote in SQLite; a wrong token and an annotator's review request are refused; the
served page is kept as a screenshot and checked not to be blank.

Skipped only where Chromium or Playwright is missing (CI installs both: see .ci/run).
"""

from __future__ import annotations

import shutil
import sqlite3
import time
from pathlib import Path

import pytest

from sbs_tui.core.team import add_annotator
from tests.annotate_helpers import make_store
from tests.serve_helpers import serving

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]


def _votes_by(db: Path, name: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM votes v JOIN annotators a ON a.id = v.annotator_id "
                            "WHERE a.name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


def _assigned_to(db: Path, name: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT count(*) FROM assignments s JOIN annotators a ON a.id = s.annotator_id "
                            "WHERE a.name = ?", (name,)).fetchone()[0]
    finally:
        conn.close()


@pytest.fixture
def served(tmp_path: Path):
    db = tmp_path / "team.db"
    store = make_store(db)
    tokens = {"alice": add_annotator(store, "alice"), "lena": add_annotator(store, "lena", lead=True)}
    store.close()
    with serving(db, tmp_path / "serve.log") as base:
        yield db, base, tokens


def test_browser_signs_in_votes_and_is_refused_where_it_must_be(served, tmp_path: Path) -> None:
    db, base, tokens = served
    with playwright_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        requests: list[tuple[str, dict]] = []
        page.on("request", lambda r: requests.append((r.url, r.headers)))

        wrong = page.goto(f"{base}/?token=wrong")
        assert wrong.status == 403 and "not valid" in page.content()
        page.goto(f"{base}/?token={tokens['alice']}&app=review")
        page.wait_for_url(f"{base}/?app=review")  # signed in, then refused the lead's app
        assert "needs a lead's token" in page.content()

        requests.clear()
        ok = page.goto(f"{base}/?token={tokens['alice']}")
        assert ok.status == 200
        # the token is exchanged for a session cookie and leaves the address bar at once
        page.wait_for_url(f"{base}/", timeout=30_000)
        cookies = {c["name"]: c for c in page.context.cookies()}
        assert cookies["sbs_session"]["httpOnly"] and cookies["sbs_session"]["sameSite"] == "Strict"
        page.wait_for_selector("body.-first-byte", timeout=60_000)
        # The terminal is drawn on a canvas, so "a pair is shown" is read where the app records it: the pair it
        # assigned to alice when it drew it.
        deadline = time.monotonic() + 60
        while _assigned_to(db, "alice") == 0 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _assigned_to(db, "alice") == 1
        # The canvas paints a moment after the app assigns the pair (longer on a loaded machine): wait for a frame
        # with content rather than a fixed time.
        shot = tmp_path / "served.png"
        deadline = time.monotonic() + 30
        while True:
            page.screenshot(path=str(shot))
            if shot.stat().st_size > 20_000 or time.monotonic() > deadline:
                break
            page.wait_for_timeout(500)
        page.click("#terminal")
        page.keyboard.press("1")
        deadline = time.monotonic() + 30
        while _votes_by(db, "alice") == 0 and time.monotonic() < deadline:
            time.sleep(0.25)
        assert _votes_by(db, "alice") == 1
        assert all(url.startswith(base) for url, _ in requests), [u for u, _ in requests if not u.startswith(base)]
        later = requests[1:]  # everything after the link itself: the page, its fonts, script, the socket
        assert later and not [u for u, _ in later if tokens["alice"] in u]
        assert not [u for u, h in later if tokens["alice"] in h.get("referer", "")], "the token leaked in a Referer"
        browser.close()

    png = (tmp_path / "served.png").read_bytes()
    assert png.startswith(b"\x89PNG") and len(png) > 20_000, "a rendered app, not a blank page"
