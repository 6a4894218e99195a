"""docs/architecture.md lists every package and module of `sbs_tui/` and `scorers/`, each under its own package's
heading, so the newcomer's map matches the tree. A module added without a line (or removed with its line left
behind) fails here with the line to add and where."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOC = REPO / "docs" / "architecture.md"
TREES = ("sbs_tui", "scorers")

HEADING = re.compile(r"^#{2,4} `([\w/]+/)`\s*$")
ENTRY = re.compile(r"^- `([\w/.]+)` — \S")


def _tree() -> dict[str, str]:
    """Every package (``path/``) and module (``path.py``) → the package heading it belongs under."""
    found: dict[str, str] = {}
    for top in TREES:
        for path in sorted((REPO / top).rglob("*.py")):
            rel = path.relative_to(REPO)
            if "__pycache__" in rel.parts:
                continue
            package = rel.parent.as_posix() + "/"
            if path.name == "__init__.py":
                found[package] = package
            else:
                found[rel.as_posix()] = package
    return found


def _listed(text: str) -> dict[str, str | None]:
    """Every ``- `path` — summary`` line of the doc → the heading it sits under."""
    listed: dict[str, str | None] = {}
    heading = None
    for line in text.splitlines():
        if m := HEADING.match(line):
            heading = m.group(1)
        elif m := ENTRY.match(line):
            listed[m.group(1)] = heading
    return listed


def _problems(tree: dict[str, str], listed: dict[str, str | None]) -> list[str]:
    problems = []
    for module, package in tree.items():
        if module not in listed:
            problems.append(f"{module} is not in docs/architecture.md: add the line "
                            f"\"- `{module}` — <what it is for, in one line>\" under the heading \"### `{package}`\""
                            + ("" if module != package else " (a new package: add that heading too)"))
        elif listed[module] != package:
            problems.append(f"{module} is listed under \"### `{listed[module]}`\" in docs/architecture.md; "
                            f"move its line under \"### `{package}`\"")
    problems += [f"docs/architecture.md lists {module}, which does not exist: remove its line (or fix the path)"
                 for module in listed if module not in tree]
    return problems


def test_every_module_is_listed_under_its_package_and_nothing_else() -> None:
    problems = _problems(_tree(), _listed(DOC.read_text(encoding="utf-8")))
    assert not problems, "\n".join(problems)


def test_the_map_states_the_one_hop_rule_and_is_linked_from_the_readme() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert "**One hop.**" in text and "core function" in text and "store quer" in text
    assert "(docs/architecture.md)" in (REPO / "README.md").read_text(encoding="utf-8")


def test_the_checker_names_the_missing_module_and_its_heading() -> None:
    """The check is not vacuous: drop one line from the doc and it says which module and where it goes."""
    text = DOC.read_text(encoding="utf-8")
    line = next(ln for ln in text.splitlines() if ln.startswith("- `sbs_tui/core/ranking/bt.py`"))
    already = set(_problems(_tree(), _listed(text)))  # (so this test checks the checker even when the map is off)
    problems = [p for p in _problems(_tree(), _listed(text.replace(line + "\n", ""))) if p not in already]
    assert problems == ["sbs_tui/core/ranking/bt.py is not in docs/architecture.md: add the line "
                        "\"- `sbs_tui/core/ranking/bt.py` — <what it is for, in one line>\" under the heading "
                        "\"### `sbs_tui/core/ranking/`\""]
    moved = _listed(text.replace(line + "\n", "").replace("### `scorers/`\n", f"### `scorers/`\n{line}\n"))
    assert any("move its line under" in p for p in _problems(_tree(), moved))
