"""Issue 18's tree check, for ``scorers/``: no module over 500 lines, no function over 80 — small enough to read
whole. A module that grows past either gets split by what it is about (as ``http.py`` into the client, its
replies and its deadline, and ``lexicon.py`` into the scorer, its patterns and its rules in context)."""

from __future__ import annotations

import ast
from pathlib import Path

SCORERS = Path(__file__).resolve().parents[1] / "scorers"
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for p in SCORERS.rglob("*.py") if "__pycache__" not in p.parts)


def test_no_scorer_module_is_over_500_lines() -> None:
    long = {p.name: n for p in _modules() if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (lines): {long}"


def test_no_scorer_function_is_over_80_lines() -> None:
    long = []
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                size = node.end_lineno - node.lineno + 1  # type: ignore[operator]
                if size > MAX_FUNCTION_LINES:
                    long.append(f"{path.name}:{node.lineno} {node.name} ({size} lines)")
    assert not long, f"split these functions: {long}"


def test_the_check_sees_the_scorers() -> None:
    assert len(_modules()) >= 15  # the scan reads the real tree, not an empty folder
