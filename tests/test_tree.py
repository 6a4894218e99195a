"""A check of the tree (issue 18): over ``sbs_tui`` and ``scorers``, no import cycle, no module over 500 lines and
no function over 80 lines, except schema migrations (a migration is a script of SQL read once, top to bottom).

Why: a cycle means two modules cannot be understood, tested or moved apart; a long module or function is where
a rule gets written twice. The import graph is grimp's (the library import-linter runs on), so what counts as an
import here is what the layers contract in pyproject.toml sees, ``if TYPE_CHECKING:`` imports included.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from pathlib import Path

import grimp

REPO = Path(__file__).resolve().parents[1]
TREES = ("sbs_tui", "scorers")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80
MIGRATIONS = {"sbs_tui/core/store/schema.py", "sbs_tui/core/store/schema_late.py"}  # every function in them is a migration


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every strongly connected component of more than one module (or a module importing itself), each as one
    cycle through it, shortest first from its least module: ``[a, b, a]`` for ``a -> b -> a``. The components
    are scipy's (``csgraph.connected_components``, strong connection)."""
    from scipy.sparse import csr_array
    from scipy.sparse.csgraph import connected_components

    names = sorted(set(graph) | {child for children in graph.values() for child in children})
    at = {name: k for k, name in enumerate(names)}
    edges = [(at[m], at[c]) for m, children in graph.items() for c in children]
    rows, cols = zip(*edges) if edges else ((), ())
    matrix = csr_array(([1] * len(edges), (rows, cols)), shape=(len(names), len(names)))
    _, labels = connected_components(matrix, directed=True, connection="strong")
    members: dict[int, list[str]] = {}
    for name, label in zip(names, labels):
        members.setdefault(int(label), []).append(name)
    return [_cycle_through(component, graph) for component in sorted(members.values())
            if len(component) > 1 or component[0] in graph.get(component[0], ())]


def _cycle_through(component: list[str], graph: Mapping[str, Iterable[str]]) -> list[str]:
    """The shortest way from the component's first module back to itself (breadth first, inside the component)."""
    start, members = component[0], set(component)
    previous: dict[str, str | None] = {start: None}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for child in sorted(graph.get(node, ())):
                if child == start:
                    path = [node]
                    while (before := previous[path[-1]]) is not None:
                        path.append(before)
                    return [*reversed(path), start]
                if child in members and child not in previous:
                    previous[child] = node
                    following.append(child)
        frontier = following
    return [*component, start]


def import_graph() -> dict[str, set[str]]:
    graph = grimp.build_graph(*TREES)
    return {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}


def _is_migration(node: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if (target.id if isinstance(target, ast.Name) else getattr(target, "attr", None)) == "migration":
            return True
    return False


def long_functions(source: str, path: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
            length = node.end_lineno - start + 1 if node.end_lineno else 0
            if length > MAX_FUNCTION_LINES and not _is_migration(node) and path not in MIGRATIONS:
                found.append(f"{path}:{node.lineno} {node.name}() is {length} lines (at most {MAX_FUNCTION_LINES})")
    return found


def _sources() -> list[tuple[str, str]]:
    return [(p.relative_to(REPO).as_posix(), p.read_text(encoding="utf-8"))
            for top in TREES for p in sorted((REPO / top).rglob("*.py")) if "__pycache__" not in p.parts]


def test_no_import_cycle() -> None:
    found = cycles(import_graph())
    assert not found, "import cycles (break each, e.g. by moving what both need below both):\n" + "\n".join(
        " -> ".join(c) for c in found)


def test_no_module_over_500_lines() -> None:
    long = [f"{path} is {n} lines (at most {MAX_MODULE_LINES}): split it by concern"
            for path, text in _sources() if (n := len(text.splitlines())) > MAX_MODULE_LINES]
    assert not long, "\n".join(long)


def test_no_function_over_80_lines_but_migrations() -> None:
    long = [line for path, text in _sources() for line in long_functions(text, path)]
    assert not long, "\n".join(long)


# -- the checks can fail ------------------------------------------------------------------------------------------

def test_a_cycle_is_found_and_named_by_its_modules() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a", "d"}, "d": set(), "e": {"e"}, "f": {"g"}, "g": {"f"}}
    assert sorted(cycles(graph)) == [["a", "b", "c", "a"], ["e", "e"], ["f", "g", "f"]]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": set()}) == []


def test_the_cycles_this_issue_broke_would_be_caught() -> None:
    """The graph as it was (scoring <-> scoring_ray; store.base <-> store.connection, through a TYPE_CHECKING
    import) gives both cycles."""
    graph = import_graph()
    graph["sbs_tui.core.gates.scoring_ray"].add("sbs_tui.core.gates.scoring")
    graph["sbs_tui.core.store.connection"].add("sbs_tui.core.store.base")
    found = {tuple(c) for c in cycles(graph)}
    assert ("sbs_tui.core.gates.scoring", "sbs_tui.core.gates.scoring_ray", "sbs_tui.core.gates.scoring") in found
    assert ("sbs_tui.core.store.base", "sbs_tui.core.store.connection", "sbs_tui.core.store.base") in found


def test_a_long_function_is_named_and_a_migration_is_not() -> None:
    body = "".join(f"    x{i} = {i}\n" for i in range(80))
    source = f"def long():\n{body}\n\n@migration('0099_big')\ndef _m0099_big(db):\n{body}\n"
    assert long_functions(source, "m.py") == ["m.py:1 long() is 81 lines (at most 80)"]
    assert long_functions(source, "sbs_tui/core/store/schema.py") == []
