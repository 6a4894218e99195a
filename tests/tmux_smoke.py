#!/usr/bin/env python3
"""Smoke test: run the real `sbs annotate` in tmux as a person would — type keys, read the screen, check SQLite.

Usage: python tests/tmux_smoke.py   (exit 0 = passed). Needs tmux. Also run by tests/test_tui_tmux.py.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

sys.path.insert(0, str(HERE.parent))

from tests.annotate_helpers import MODELS, make_store  # noqa: E402

SESSION = f"sbs-smoke-{os.getpid()}"


def tmux(*args: str) -> str:
    return subprocess.run(["tmux", *args], check=True, capture_output=True, text=True).stdout


def screen() -> str:
    return tmux("capture-pane", "-p", "-t", SESSION)


def wait_for(text: str, timeout: float = 15.0) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        shot = screen()
        if text in shot:
            return shot
        time.sleep(0.1)
    raise AssertionError(f"{text!r} never appeared on screen; last screen:\n{screen()}")


def keys(*names: str) -> None:
    for name in names:
        tmux("send-keys", "-t", SESSION, name)
        time.sleep(0.15)


def votes(db: Path) -> list[tuple]:
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT winner, shown_left, rationale, flagged, flag_reason, pair_id FROM votes "
                            "ORDER BY id").fetchall()


def launch(db: Path, width: int = 120, height: int = 40) -> None:
    command = f"{sys.executable} -m sbs_tui --db {db} annotate --annotator smoke"
    tmux("new-session", "-d", "-s", SESSION, "-x", str(width), "-y", str(height), command)


def main() -> int:
    if shutil.which("tmux") is None:
        print("tmux not installed; skipped")
        return 0
    tmp = Path(tempfile.mkdtemp(prefix="sbs-smoke-"))
    db = tmp / "smoke.db"
    make_store(db, prompts=5).close()
    try:
        launch(db)
        wait_for("Left · 1")
        # The status line can land one frame after the panes: wait for it rather than racing the renderer.
        shot = wait_for("done 0")
        assert "Left · 1" in shot and "Right · 2" in shot, shot
        assert not any(m in shot for m in MODELS), "a model name is on screen before the vote"
        keys("1")
        wait_for("done 1")
        (first,) = votes(db)
        assert first[0] == first[1], first  # left better → winner is the side shown left
        keys("r", *"clearer answer", "Enter")
        wait_for("rationale")
        keys("2")
        wait_for("done 2")
        assert votes(db)[1][2] == "clearer answer"
        keys("u")
        wait_for("done 1")
        assert len(votes(db)) == 1
        keys("f", *"broken", "Enter", "3")
        wait_for("done 2")
        assert votes(db)[1][3:5] == (1, "broken")
        keys("q")
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if SESSION not in subprocess.run(["tmux", "ls"], capture_output=True, text=True).stdout:
                break
            time.sleep(0.1)
        else:
            raise AssertionError("the app did not quit on q")
        launch(db, 80, 24)  # resume, narrow terminal
        wait_for("done 2")
        shot = wait_for("Right · 2")
        assert not any(m in shot for m in MODELS)
        assert "q Quit" in shot.splitlines()[-1], shot  # the footer keeps Quit at 80 columns
        keys("Tab")
        wait_for("▶ Prompt")  # focus shows in the title, not only in a colour
        keys("Tab")
        wait_for("▶ Left · 1")
        keys("Escape", "?")
        shot = wait_for("esc closes")  # the help, all of it on an 80×24 screen
        assert "Quit" in shot and "never shown here" in shot, shot
        keys("Escape")
        wait_for("Right · 2")
        keys("4")
        wait_for("done 3")
        # Kill -9 right after a vote: what the screen counted as done is in the database, and the file is sound.
        pid = int(tmux("display", "-p", "-t", SESSION, "#{pane_pid}").strip())
        keys("1")
        wait_for("done 4")
        os.killpg(pid, 9)  # the pane process and anything it started (its own process group)
        time.sleep(0.3)
        assert len(votes(db)) == 4, votes(db)
        with sqlite3.connect(db) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        print(f"tmux smoke passed: {len(votes(db))} votes in {db}")
        return 0
    finally:
        subprocess.run(["tmux", "kill-session", "-t", SESSION], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
