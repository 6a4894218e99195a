"""One hop, enforced: every command callback makes exactly one call into the work layer, and never touches the store.

Why: a click callback that calls two core functions holds the rule that joins them (which runs first, what the
second gets from the first), and the review app, the benchmarks and the tests cannot call that rule. A callback
that queries the store holds a rule of the core in the command layer. So each command's work is one core
function a new contributor can find from ``docs/commands.md`` (which this test keeps true).

The rule, read from the callbacks' ASTs (no command is run):

* **Callbacks**: the callback of every command and group reachable from ``sbs_tui.cli.cli`` (the root group
  too), unwrapped from click's decorators. A group whose callback only holds a docstring (``sbs export``,
  ``sbs queue``: a name for its subcommands) does no work and is left out.
* **What is read**: the callback's body, the lambdas and nested functions in it, and — followed once each — the
  module-level functions of the same module that it calls (``_run_import`` → ``run_import``), so a helper in
  the command module cannot hide a second call.
* **A work call** is a call whose target resolves, through the imports of the callback's module and function,
  to a callable under ``sbs_tui.core``, ``sbs_tui.tui``, ``sbs_tui.web`` or ``sbs_tui.demo`` (the apps' and the
  server's entry points are the one hop of ``sbs annotate``, ``sbs review``, ``sbs serve``...): a name imported
  from there (``from sbs_tui.core.abtest import analyse_store; analyse_store(...)``) or an attribute of a module
  imported from there (``import sbs_tui.core.analysis.abtest as ab; ab.analyse_store(...)``). Distinct targets are
  counted: calling one function twice is one hop.
* **Not work**: building a value — a dataclass (``RankRequest(...)``, ``ServeOptions(...)``) or an exception
  class from those packages; methods called on local objects (``ranking.to_json()``, ``app.run()``); and the
  presentation layer: ``sbs_tui.present``, ``sbs_tui.progress``, ``sbs_tui.cli_params`` (option parsing and the
  process plumbing commands share: Ctrl+C, dying with ``sbs serve``), ``sbs_tui.errors``, click, the standard
  library, and the ``ctx.obj`` helpers of ``sbs_tui.cli`` (settings, ``open_store``, ``require_database``).
* **Touching the store** is an offence whatever else the callback does: importing from ``sbs_tui.core.store``,
  calling into it, or using an attribute of the object ``open_store(...)`` returned (``store.queue.set_cap``,
  ``store.transaction()``) other than ``close`` — the store is only handed to a core function.

Every callback must make exactly one work call. ``docs/commands.md``'s first table names, per command, the
dotted path its callback imports the function by; the test fails when the table and the AST disagree.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import inspect
import re
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import click

WORK = ("sbs_tui.core", "sbs_tui.tui", "sbs_tui.web", "sbs_tui.demo")
STORE = "sbs_tui.core.store"
STORE_METHODS_ALLOWED = {"close"}
DOC = Path(__file__).resolve().parents[1] / "docs" / "commands.md"


@dataclass
class Hops:
    """What one callback reaches: its work calls (dotted target → first line) and its store offences."""

    work: dict[str, int] = field(default_factory=dict)
    store: list[str] = field(default_factory=list)


def _under(dotted: str, prefixes: tuple[str, ...] | str) -> bool:
    prefixes = (prefixes,) if isinstance(prefixes, str) else prefixes
    return any(dotted == p or dotted.startswith(p + ".") for p in prefixes)


def _imports(nodes: list[ast.AST]) -> dict[str, str]:
    """Local name → dotted target, for every import statement in ``nodes`` (at any depth)."""
    names: dict[str, str] = {}
    for top in nodes:
        for node in ast.walk(top):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        names[alias.asname] = alias.name
                    else:  # import a.b.c binds a; a.b.c.f() is read as an attribute chain
                        names[alias.name.split(".")[0]] = alias.name.split(".")[0]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                for alias in node.names:
                    names[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    return names


def _dotted(func: ast.expr, names: dict[str, str]) -> str | None:
    """The dotted target of a call's ``func``: a Name or an attribute chain on an imported name."""
    attrs = []
    while isinstance(func, ast.Attribute):
        attrs.append(func.attr)
        func = func.value
    if not isinstance(func, ast.Name) or func.id not in names:
        return None
    return ".".join([names[func.id], *reversed(attrs)])


def _resolve(dotted: str) -> object | None:
    """The object ``dotted`` names (the longest importable module prefix, then attributes), or None."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            target: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                target = getattr(target, attr)
        except AttributeError:
            return None
        return target
    return None


def _is_value(target: object) -> bool:
    """A dataclass (a request or options value) or an exception: building it does no work."""
    return inspect.isclass(target) and (dataclasses.is_dataclass(target) or issubclass(target, BaseException))


def _store_names(function: ast.AST) -> set[str]:
    """Names bound to what ``open_store(...)`` returned (``store = ...``, ``with ... as store``)."""
    bound = set()
    for node in ast.walk(function):
        pairs: list[tuple[ast.expr | None, ast.expr]] = []
        if isinstance(node, ast.Assign):
            pairs = [(t, node.value) for t in node.targets]
        elif isinstance(node, ast.withitem):
            pairs = [(node.optional_vars, node.context_expr)]
        for target, value in pairs:
            if (isinstance(target, ast.Name) and isinstance(value, ast.Call)
                    and isinstance(value.func, ast.Attribute) and value.func.attr == "open_store"):
                bound.add(target.id)
    return bound


def analyse(source: str, function_name: str) -> Hops:
    """The work calls and store offences of ``function_name`` in a module's ``source`` (see the module doc)."""
    tree = ast.parse(source)
    top_level = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef | ast.AsyncFunctionDef)}
    module_imports = [n for n in tree.body if isinstance(n, ast.Import | ast.ImportFrom)]
    hops = Hops()
    seen: set[str] = set()

    def read(name: str) -> None:
        seen.add(name)
        function = top_level[name]
        names = _imports([*module_imports, function])
        for imported in names.values():
            if _under(imported, STORE):
                hops.store.append(f"imports {imported}")
        stores = _store_names(function)
        for node in ast.walk(function):
            if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in stores
                    and node.attr not in STORE_METHODS_ALLOWED):
                hops.store.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Name) and node.func.id in top_level and node.func.id not in names:
                if node.func.id not in seen:
                    read(node.func.id)  # a helper of the command module: its calls are the callback's
                continue
            dotted = _dotted(node.func, names)
            if dotted is None or not _under(dotted, WORK):
                continue
            if _under(dotted, STORE):
                hops.store.append(f"calls {dotted} (line {node.lineno})")
            elif not _is_value(_resolve(dotted)):
                hops.work.setdefault(dotted, node.lineno)

    read(function_name)
    return hops


def _only_a_docstring(function: object) -> bool:
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    body = tree.body[0].body  # type: ignore[attr-defined]
    return all(isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant) or isinstance(s, ast.Pass)
               for s in body)


def callbacks() -> dict[str, object]:
    """``"sbs queue cap"`` → its callback function (unwrapped), for every command and working group."""
    from sbs_tui.cli import cli

    ctx = click.Context(cli)
    found: dict[str, object] = {}

    def walk(command: click.Command, path: list[str]) -> None:
        function = inspect.unwrap(command.callback) if command.callback else None
        if function is not None and not (isinstance(command, click.Group) and _only_a_docstring(function)):
            found[" ".join(["sbs", *path])] = function
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                walk(command.get_command(ctx, name), [*path, name])  # type: ignore[arg-type]

    walk(cli, [])
    return found


def hops_of(function: object) -> Hops:
    module = inspect.getmodule(function)
    return analyse(inspect.getsource(module), function.__name__)  # type: ignore[arg-type, attr-defined]


def test_every_callback_makes_exactly_one_core_call_and_never_touches_the_store() -> None:
    found = callbacks()
    assert len(found) >= 25 and "sbs queue cap" in found and "sbs" in found, sorted(found)
    offences = []
    for command, function in sorted(found.items()):
        hops = hops_of(function)
        if hops.store:
            offences.append(f"{command}: touches the store: {', '.join(hops.store)}")
        if len(hops.work) != 1:
            calls = ", ".join(f"{d} (line {line})" for d, line in sorted(hops.work.items())) or "nothing"
            offences.append(f"{command}: {len(hops.work)} core calls, not one: {calls}")
    assert not offences, "one hop per command (see tests/test_one_hop.py's docstring):\n" + "\n".join(offences)


def _doc_rows() -> dict[str, str]:
    rows = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = re.match(r"\| `(sbs [a-z ]+)` \| `([\w.]+)` \|", line)
        if match:
            rows[match.group(1)] = match.group(2)
    return rows


def test_docs_commands_table_names_each_callbacks_one_core_call() -> None:
    rows = _doc_rows()
    found = {name: f for name, f in callbacks().items() if name != "sbs"}  # the root group checks settings
    wrong = []
    for command, function in sorted(found.items()):
        work = sorted(hops_of(function).work)
        if rows.get(command) not in work:
            wrong.append(f"| `{command}` | `{work[0] if len(work) == 1 else ' / '.join(work)}` | "
                         f"(docs say {rows.get(command)!r})")
    extra = sorted(set(rows) - set(found))
    assert not wrong and not extra, ("docs/commands.md disagrees with the callbacks; rows should read:\n"
                                     + "\n".join(wrong) + (f"\nnot commands: {extra}" if extra else ""))


# -- the check itself catches what it must ------------------------------------------------------------------------

PROBE = '''
import click
from sbs_tui.core.analysis import abtest
from sbs_tui.core.analysis.abtest import analyse_store
from sbs_tui.core.ingest.ab_control import store_controls
from sbs_tui.core.ranking.request import RankRequest
from sbs_tui.present.tables import print_ab_report

def two(ctx):
    store = ctx.obj.open_store()
    store_controls(store, "x")
    print_ab_report(analyse_store(store))

def through_module(ctx):
    with ctx.obj.open_store() as store:
        abtest.analyse_store(store, alpha=0.1)
        store.close()

def store_direct(obj):
    with obj.open_store() as db:
        db.queue.set_cap("a", 1)

def store_import(obj):
    from sbs_tui.core.store.queue import Queue
    Queue.set_cap

def value_only(obj):
    RankRequest(method="bt")
    _helper(obj)

def _helper(obj):
    f = lambda store: analyse_store(store)
    return f
'''


def test_the_check_counts_two_calls_and_sees_the_store() -> None:
    two = analyse(PROBE, "two")
    assert set(two.work) == {"sbs_tui.core.analysis.abtest.analyse_store", "sbs_tui.core.ingest.ab_control.store_controls"}
    assert not two.store
    through = analyse(PROBE, "through_module")
    assert set(through.work) == {"sbs_tui.core.analysis.abtest.analyse_store"} and not through.store  # close is allowed
    direct = analyse(PROBE, "store_direct")
    assert not direct.work and direct.store == ["db.queue (line 21)"]
    assert analyse(PROBE, "store_import").store == ["imports sbs_tui.core.store.queue.Queue"]
    helper = analyse(PROBE, "value_only")  # a dataclass is a value; a module helper's lambda is followed
    assert set(helper.work) == {"sbs_tui.core.analysis.abtest.analyse_store"}


def test_the_docs_check_reads_the_table() -> None:
    rows = _doc_rows()
    assert rows["sbs rank"] == "sbs_tui.core.ranking.api.rank_stored"
    assert len(rows) == len(callbacks()) - 1
