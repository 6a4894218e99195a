"""The import progress bar renders (rate, ETA) without touching stdout, and the core import drives it."""

from __future__ import annotations

import io
import json

from rich.console import Console

from sbs_tui.core.ingest.importer import import_files
from sbs_tui.core.store import Store
from sbs_tui.progress import FileProgress, file_progress


def test_progress_is_off_when_stderr_is_not_a_terminal():
    assert file_progress("x") is None
    assert isinstance(file_progress("x", enabled=True), FileProgress)


def test_progress_bar_follows_an_import(tmp_path, capsys):
    f = tmp_path / "g.jsonl"
    f.write_text("".join(json.dumps({"prompt": f"p{i}", "model": "m", "output": "o"}) + "\n"
                         for i in range(5000)), encoding="utf-8")
    buf = io.StringIO()
    bar = FileProgress("importing generations", console=Console(file=buf, force_terminal=True, width=100))
    with bar:
        summary = import_files(Store(tmp_path / "x.db"), "generations", [f], progress=bar)
    assert summary.inserted == 5000
    task = bar._progress.tasks[0]
    assert task.completed == task.total == f.stat().st_size
    assert capsys.readouterr().out == ""
