"""The layers hold and the package is typed: `lint-imports` and `mypy sbs_tui` run as part of the test suite, so
the README's test command (what CI runs) enforces both. The contracts and the mypy settings live in
``pyproject.toml``; ``docs/architecture.md`` explains the layers they encode."""

from __future__ import annotations

import os
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])))
    return subprocess.run([sys.executable, *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=600)


def test_import_contracts_are_kept() -> None:
    # lint-imports' own entry point (the console script does the same), without its cache in the checkout
    result = _run("-c", "from importlinter.cli import lint_imports_command; lint_imports_command()", "--no-cache")
    assert "No module named 'importlinter'" not in result.stderr, "install the dev extra: pip install -e '.[dev]'"
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    assert f"Contracts: {len(contracts)} kept, 0 broken." in result.stdout, result.stdout


def test_the_core_contracts_name_what_must_stay_out() -> None:
    """Guards the contracts themselves: a contract quietly narrowed would still be "kept"."""
    contracts = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["importlinter"]["contracts"]
    forbidden: dict[str, set[str]] = {}
    for contract in contracts:
        if contract["type"] == "forbidden":
            for source in contract["source_modules"]:
                forbidden.setdefault(source, set()).update(contract["forbidden_modules"])
    assert {"sbs_tui.tui", "sbs_tui.cli", "sbs_tui.commands", "textual", "torch", "transformers"} \
        <= forbidden["sbs_tui.core"]
    assert {"sbs_tui.tui", "sbs_tui.cli", "sbs_tui.commands", "textual"} <= forbidden["scorers"]
    assert {"sbs_tui.tui", "textual"} <= forbidden["sbs_tui.commands"]
    assert {"sbs_tui.cli", "sbs_tui.commands", "torch", "transformers"} <= forbidden["sbs_tui.tui"]
    assert {"sbs_tui.core.store", "sbs_tui.tui", "sbs_tui.cli", "sbs_tui.web", "textual"} <= forbidden["sbs_tui.present"]
    assert {"sbs_tui.tui", "sbs_tui.cli", "sbs_tui.commands", "textual"} <= forbidden["sbs_tui.web"]


@pytest.mark.slow
def test_the_package_type_checks() -> None:
    """mypy on all of ``sbs_tui`` (issue 18), not only the core."""
    result = _run("-m", "mypy", "--no-incremental", "--cache-dir", os.devnull, "sbs_tui")
    assert "No module named mypy" not in result.stderr, "install the dev extra: pip install -e '.[dev]'"
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_the_type_check_does_not_need_the_optional_extras() -> None:
    """A fresh ``pip install -e ".[dev]"`` has no Ray (issue 17 §7): every optional extra's import name is
    configured to need no stubs, so the check above passes without it. (Measured: with Ray hidden from mypy's
    interpreter, the old settings gave 4 errors in sbs_tui/core/gates/scoring_ray.py; these give none.)"""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    extras = {k for k in project["project"]["optional-dependencies"] if k not in ("dev", "bench")}
    lenient = {m for o in project["tool"]["mypy"]["overrides"] if o.get("ignore_missing_imports")
               for m in o["module"]}
    assert extras and all({name, f"{name}.*"} <= lenient for name in extras), (extras, lenient)
