"""Runs tests/tmux_smoke.py: the real app in a real terminal (tmux), checked through SQLite."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest


pytestmark = pytest.mark.slow  # drives a real program end to end


@pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed")
def test_tmux_smoke():
    script = Path(__file__).with_name("tmux_smoke.py")
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tmux smoke passed" in result.stdout
