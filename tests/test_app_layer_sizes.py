"""The outer layers stay readable: no module of the apps (``sbs_tui/tui``), the presentation layer, the web server,
the commands or the CLI over 500 lines, no function over 80 (issue 18's limits). A module that grows past them
is split by what it does — one module per review tab, the annotator's judging screen in three — not trimmed."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "sbs_tui"
SCOPE = ("tui", "present", "web", "commands", "cli.py")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    found: list[Path] = []
    for part in SCOPE:
        path = ROOT / part
        found += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return found


def oversized(paths: list[Path], root: Path = ROOT) -> list[str]:
    """Each module over MAX_MODULE_LINES and each function (decorators included) over MAX_FUNCTION_LINES."""
    problems = []
    for path in paths:
        text = path.read_text(encoding="utf-8")
        name = path.relative_to(root.parent).as_posix()
        lines = len(text.splitlines())
        if lines > MAX_MODULE_LINES:
            problems.append(f"{name}: {lines} lines (at most {MAX_MODULE_LINES}: split it by what it does)")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                length = (node.end_lineno or node.lineno) - first + 1
                if length > MAX_FUNCTION_LINES:
                    problems.append(f"{name}:{node.lineno} {node.name}() is {length} lines "
                                    f"(at most {MAX_FUNCTION_LINES})")
    return problems


def test_the_apps_presentation_web_and_commands_keep_to_the_size_limits() -> None:
    paths = _modules()
    assert any(p.name == "arena.py" for p in paths) and any(p.name == "cli.py" for p in paths)
    problems = oversized(paths)
    assert not problems, "\n".join(problems)


def test_the_check_finds_a_long_module_and_a_long_function(tmp_path: Path) -> None:
    long_module = tmp_path / "long.py"
    long_module.write_text("x = 1\n" * (MAX_MODULE_LINES + 1), encoding="utf-8")
    long_function = tmp_path / "fn.py"
    long_function.write_text("@staticmethod\ndef f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1), encoding="utf-8")
    short = tmp_path / "short.py"
    short.write_text("def f():\n" + "    x = 1\n" * (MAX_FUNCTION_LINES - 1), encoding="utf-8")
    problems = oversized([long_module, long_function, short], root=tmp_path)
    assert len(problems) == 2, problems
    assert problems[0].startswith(f"{tmp_path.name}/long.py: {MAX_MODULE_LINES + 1} lines")
    assert "f() is 81 lines" in problems[1]
