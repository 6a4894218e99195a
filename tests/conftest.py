"""Shared fixtures: isolated settings, sample data paths, and an in-process CLI runner that goes through
``sbs_tui.cli.main`` (so the exit-code mapping is tested, not bypassed)."""

from __future__ import annotations

import functools
import io
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "sample_data"
ALPACA_GZ = REPO / "tests" / "data" / "alpaca_eval"  # the AlpacaEval subset, gzipped (tests/data/README.md)


@functools.lru_cache(maxsize=1)
def alpaca_data() -> Path:
    """The AlpacaEval subset as plain files (``outputs/*.jsonl``, ``judge_votes/*.jsonl``,
    ``instruction_difficulty.csv``), unpacked once per test session from the repository's gzipped copy: a fresh
    clone runs every test, with nothing to fetch from beside the checkout."""
    import atexit
    import gzip
    import shutil
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="sbs-alpaca-"))
    atexit.register(shutil.rmtree, root, True)
    for gz in ALPACA_GZ.rglob("*.gz"):
        target = root / gz.relative_to(ALPACA_GZ).with_suffix("")
        target.parent.mkdir(parents=True, exist_ok=True)
        with gzip.open(gz, "rb") as src, target.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    return root


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Never read the developer's own database or config in tests."""
    import os

    for var in ("SBS_DB", "SBS_CONFIG", "SBS_GATING_REQUIRED", *[v for v in os.environ if v.startswith("SBS_")]):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SBS_LOG_DIR", str(tmp_path / "crash-logs"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture
def scorer_registry(monkeypatch: pytest.MonkeyPatch):
    """A fresh scorer registry (built-ins and plug-ins), installed as the process default for this test only.

    Tests register their own scorers here, never in the global ``scorers.REGISTRY``: a registration at import time
    would leak into every other test module of the session. Code that takes a registry (``GateRunner``) can be
    given this one directly; code that reads the default (the CLI, ``load_policy``) sees it through the swap.
    """
    import scorers
    from scorers import base

    registry = base.Registry()
    monkeypatch.setattr(base, "REGISTRY", registry)
    monkeypatch.setattr(scorers, "REGISTRY", registry)
    return registry


@pytest.fixture
def sample_dir() -> Path:
    return SAMPLE


@pytest.fixture
def shared_alpaca() -> Path:
    return alpaca_data()


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(*args: str) -> CliResult:
    from sbs_tui.cli import main

    out, err = io.StringIO(), io.StringIO()
    code = 0
    with redirect_stdout(out), redirect_stderr(err):
        try:
            main(list(args))
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    return CliResult(code, out.getvalue(), err.getvalue())


@pytest.fixture
def cli():
    return run_cli


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    return tmp_path / "sbs.db"


def table_counts(path: Path) -> dict[str, int]:
    """Row counts of every table: 'nothing half written' means these are unchanged after a failed import."""
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        return {n: conn.execute(f"SELECT count(*) FROM [{n}]").fetchone()[0] for n in names}
    finally:
        conn.close()


