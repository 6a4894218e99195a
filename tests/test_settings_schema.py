"""Every setting is declared once (issue 18): its type, default and range live on one field of
``sbs_tui/core/settings.py``; the command line, the queue and the judge read it from there.

The newcomer test: for ``[queue] overlap`` and ``[judge] requests_per_minute`` a search of the application finds
exactly one declaration with its default. "Declaration" is read from the syntax tree, so a second copy cannot hide
behind formatting: a class field or variable of that name, a dictionary entry naming it with a literal or a type
(``{"overlap": 1}``, ``{"overlap": (int, "an integer")}``), a parameter or a click option of that name with a
default other than ``None`` (``None`` means "not given here"). A key of another section
(``[models.NAME] requests_per_minute``) is another setting: it is not counted only when it is a field of that
section's own class in the schema (``ModelSettings``, ``SECTION = "models"``) — a feature module's key table
(``KEYS = {...}`` beside ``SECTION = "models"``, as before issue 18) counts as a copy.

A rule is a copy too, not only a default: a module constant named as the setting's default (``DEFAULT_CONCURRENCY =
16``), a click option of its flag with a range type (``type=click.FloatRange(0, 2)``, even with ``default=None``),
and a hand-written range row naming the flag beside a number (``("--temperature", value, 0.0, 2.0)``). A field
whose default reads the schema (``default_of(ModelSettings, "temperature")``) or is ``None`` is not a copy.

The same holds for the generation keys ``sbs generate`` overrides (``--concurrency``, ``--max-tokens``,
``--temperature`` over ``[models.NAME]``). The judge's own request (``core/judge/judging.py``: temperature 0; a
template's ``max_tokens`` in ``core/judge/templates.py``) and the fake endpoint reading a request's
``max_tokens`` are other settings of the same name, left out of that scan (:data:`NOT_GENERATION`).
"""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest

from sbs_tui.core.settings import JudgeSettings, QueueSettings, default_of

REPO = Path(__file__).resolve().parents[1]


def _literal_or_type(node: ast.AST) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.Name) and node.id in {"int", "float", "str", "bool"}:
        return True
    return isinstance(node, ast.Tuple) and all(_literal_or_type(e) for e in node.elts)


def _not_none(node: ast.AST | None) -> bool:
    return node is not None and not (isinstance(node, ast.Constant) and node.value is None)


def _reads_schema(node: ast.AST | None) -> bool:
    """``default_of(Section, "key")``: the schema's own default, read — not written again."""
    return (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "default_of")


def _default_constant(variable: str, name: str) -> bool:
    """``DEFAULT_CONCURRENCY`` / ``CONCURRENCY`` for ``concurrency`` (not ``DIFF_MAX_TOKENS``: another rule)."""
    return variable.isupper() and variable.removeprefix("DEFAULT_").removesuffix("_DEFAULT") == name.upper()


def _range_type(node: ast.AST | None) -> bool:
    """``click.IntRange(...)`` / ``click.FloatRange(...)``: a range rule written in the command line."""
    return isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
        "IntRange", "FloatRange")


def _range_row(node: ast.AST, flag: str) -> bool:
    """A tuple naming the flag beside a number (a hand-written range check's row)."""
    return (isinstance(node, ast.Tuple) and any(isinstance(e, ast.Constant) and e.value == flag for e in node.elts)
            and any(isinstance(e, ast.Constant) and isinstance(e.value, int | float)
                    and not isinstance(e.value, bool) for e in node.elts))


def _other_sections_fields(tree: ast.Module, section: str | None) -> set[int]:
    """The ids of the field declarations of the classes with ``SECTION = "<another section>"`` (the schema's
    ``ModelSettings.requests_per_minute`` is ``[models.NAME]``'s key, not ``[judge]``'s), or none."""
    skipped: set[int] = set()
    if section is None:
        return skipped
    for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        own = next((n.value.value for n in cls.body if isinstance(n, ast.Assign) and isinstance(n.value, ast.Constant)
                    and any(isinstance(t, ast.Name) and t.id == "SECTION" for t in n.targets)), None)
        if own is not None and own != section:
            skipped |= {id(n) for n in cls.body if isinstance(n, ast.AnnAssign)}
    return skipped


def declarations(root: Path, name: str, section: str | None = None, skip: tuple[str, ...] = ()) -> list[str]:
    """``file:line`` of every declaration of the setting ``name`` with a default, or of its range, under ``root``
    (a field of another section's schema class is not ``section``'s setting; ``skip``: files, relative to
    ``root``, holding another setting of the same name)."""
    flag = "--" + name.replace("_", "-")
    found = []
    for path in sorted(root.rglob("*.py")):
        if path.relative_to(root).as_posix() in skip:
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        other_sections = _other_sections_fields(tree, section)
        for node in ast.walk(tree):
            if id(node) in other_sections:
                continue
            hit = False
            if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
                hit = node.target.id == name and _not_none(node.value) and not _reads_schema(node.value)
            elif isinstance(node, ast.Assign):
                hit = any(isinstance(t, ast.Name) and (t.id == name or (_default_constant(t.id, name)
                                                                          and _literal_or_type(node.value)))
                          for t in node.targets)
            elif isinstance(node, ast.Tuple):
                hit = _range_row(node, flag)
            elif isinstance(node, ast.Dict):
                hit = any(isinstance(k, ast.Constant) and k.value == name and _literal_or_type(v)
                          for k, v in zip(node.keys, node.values))
            elif isinstance(node, ast.arguments):
                positional = node.posonlyargs + node.args
                pairs = list(zip(positional[len(positional) - len(node.defaults):], node.defaults))
                pairs += [(a, d) for a, d in zip(node.kwonlyargs, node.kw_defaults) if d is not None]
                hit = next((a for a, d in pairs if a.arg == name and _not_none(d)), False)
            elif isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "option":
                names = {a.value for a in node.args if isinstance(a, ast.Constant)}
                default = next((k.value for k in node.keywords if k.arg == "default"), None)
                kind = next((k.value for k in node.keywords if k.arg == "type"), None)
                hit = bool(names & {flag, name}) and (_not_none(default) or _range_type(kind))
            if hit:
                line = (hit if isinstance(hit, ast.arg) else node).lineno  # type: ignore[attr-defined]
                found.append(f"{path.relative_to(root.parent)}:{line}")
    return found


@pytest.mark.parametrize("section, name", [("queue", "overlap"), ("judge", "requests_per_minute")])
def test_a_newcomer_finds_each_setting_declared_once(section: str, name: str) -> None:
    found = declarations(REPO / "sbs_tui", name, section)
    assert len(found) == 1 and found[0].startswith("sbs_tui/core/settings.py:"), found


#: Files holding another setting named like a generation key (see the module docstring).
NOT_GENERATION = ("core/judge/judging.py", "core/judge/templates.py", "testing/fake_endpoint.py")


@pytest.mark.parametrize("name", ["concurrency", "max_tokens", "temperature"])
def test_each_generation_setting_and_its_range_is_declared_once(name: str) -> None:
    """``sbs generate``'s overrides: the default (shown by ``--help``), the range and the fallback concurrency live
    on ``ModelSettings`` only (before: ``DEFAULT_CONCURRENCY = 16``, click ranges, a hand-written range table)."""
    found = declarations(REPO / "sbs_tui", name, "models", skip=NOT_GENERATION)
    assert len(found) == 1 and found[0].startswith("sbs_tui/core/settings.py:"), found


def test_the_scan_sees_a_rule_written_again(tmp_path: Path) -> None:
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "import click\n"
        "DEFAULT_CONCURRENCY = 16\n"
        "opt = click.option('--concurrency', default=None, type=click.IntRange(1, 1024))\n"
        "ROWS = (('--concurrency', value, 1, None),)\n"
        "class Spec:\n    concurrency: int = default_of(ModelSettings, 'concurrency')\n"
        "    other: int | None = None\n"
        "opt2 = click.option('--concurrency', default=None, type=int)\n", encoding="utf-8")
    assert [line.rsplit(":", 1)[1] for line in declarations(pkg, "concurrency")] == ["2", "3", "4"]


def test_the_scan_sees_the_copies_it_is_meant_to_find(tmp_path: Path) -> None:
    """The scanner is not vacuous: each shape of the copies issue 18 counted on the old code is found."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "import click\n"
        "BUILD_DEFAULTS = {'overlap': 1, 'seed': 0}\n"
        "_COERCE = {'overlap': (int, 'an integer')}\n"
        "class BuildOptions:\n    overlap: int = 1\n"
        "def f(*, overlap=1, other=None): ...\n"
        "opt = click.option('--overlap', type=int, default=1)\n"
        "fine = {'overlap': options.overlap}\n"
        "def g(overlap=None): ...\n", encoding="utf-8")
    assert [line.rsplit(":", 1)[1] for line in declarations(pkg, "overlap")] == ["2", "3", "5", "6", "7"]


def test_only_another_sections_schema_class_is_set_aside(tmp_path: Path) -> None:
    """Stricter since [models.NAME] moved into the schema: a module-level ``KEYS`` table beside
    ``SECTION = "models"`` (the old ``core/generate/generation.py``) is a copy; only a field of a schema class whose
    ``SECTION`` is another section is another setting."""
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "a.py").write_text(
        "SECTION = 'models'\n"
        "KEYS = {'requests_per_minute': ((int, float), 'request rate limit')}\n"
        "class ModelSettings:\n    SECTION = 'models'\n    requests_per_minute: float | None = setting(None, 'x')\n"
        "class JudgeSettings:\n    SECTION = 'judge'\n    requests_per_minute: float | None = setting(None, 'y')\n",
        encoding="utf-8")
    assert [line.rsplit(":", 1)[1] for line in declarations(pkg, "requests_per_minute", "judge")] == ["2", "8"]
    assert [line.rsplit(":", 1)[1] for line in declarations(pkg, "requests_per_minute", "models")] == ["2", "5"]


def test_help_shows_the_schema_default(cli) -> None:
    """``--help`` reads the default from the schema instead of writing it again."""
    helped = cli("queue", "build", "--help").stdout
    assert f"[default: {default_of(QueueSettings, 'overlap')}]" in " ".join(helped.split())
    assert "[judge] concurrency" in " ".join(cli("judge", "--help").stdout.split())
    assert default_of(JudgeSettings, "requests_per_minute") is None


def test_a_typed_option_wins_and_an_untyped_one_leaves_the_config_in_force(cli, tmp_path) -> None:
    """The click default equals the schema default, so "given or not" is read from the parameter's source: a
    typed ``--overlap 1`` overrides ``[queue] overlap = 3``; leaving it out keeps 3."""
    from tests.annotate_helpers import make_store

    db = tmp_path / "q.db"
    make_store(db, prompts=2, build=False).close()
    config = tmp_path / "sbs.toml"
    config.write_text("[queue]\noverlap = 3\n", encoding="utf-8")
    assert cli("--db", str(db), "--config", str(config), "queue", "build").exit_code == 0
    status = cli("--db", str(db), "queue", "status", "--format", "json")
    assert '"overlap": 3' in status.stdout
    assert cli("--db", str(db), "--config", str(config), "queue", "build", "--overlap", "1").exit_code == 0
    assert '"overlap": 1' in cli("--db", str(db), "queue", "status", "--format", "json").stdout


def test_a_flag_is_checked_by_the_schema_and_named(cli, tmp_path) -> None:
    from tests.annotate_helpers import make_store

    db = tmp_path / "q.db"
    make_store(db, prompts=1, build=False).close()
    result = cli("--db", str(db), "queue", "build", "--overlap", "0")
    assert result.exit_code == 2 and "'queue.overlap': must be at least 1" in result.stderr
    judged = cli("--db", str(db), "judge", "--model", "m", "--requests-per-minute", "0")
    assert judged.exit_code == 2 and "'--requests-per-minute': must be above 0" in judged.stderr


def test_sections_are_frozen_and_range_checked_however_they_are_made() -> None:
    from sbs_tui.errors import InputError

    with pytest.raises(dataclasses.FrozenInstanceError):
        QueueSettings().overlap = 2  # type: ignore[misc]
    with pytest.raises(InputError, match="queue.gold_rate"):
        dataclasses.replace(QueueSettings(), gold_rate=1.0)


def test_generate_flags_are_checked_by_the_schema_and_help_shows_its_defaults(cli, tmp_path) -> None:
    """``--temperature``/``--max-tokens``/``--concurrency`` are checked by ``ModelSettings``'s ranges (one rule for
    the file and the flag, the error naming the flag), and ``--help`` shows the schema's defaults."""
    from sbs_tui.core.generate.generation import GenerateRequest, with_overrides
    from sbs_tui.core.settings import ModelSettings
    from sbs_tui.errors import InputError

    helped = " ".join(cli("generate", "--help").stdout.split())
    for name in ("concurrency", "max_tokens", "temperature"):
        assert f"[models.NAME] {name}; the flag wins). [default: {default_of(ModelSettings, name)}]" in helped
    with pytest.raises(InputError, match="must be at least 0 and at most 2") as raised:
        with_overrides(ModelSettings(), GenerateRequest(models=["m"], temperature=2.5))
    assert raised.value.field == "--temperature"
    with pytest.raises(InputError) as raised:
        with_overrides(ModelSettings(), GenerateRequest(models=["m"], concurrency=2000))
    assert raised.value.field == "--concurrency"
    kept = with_overrides(ModelSettings(temperature=0.2), GenerateRequest(models=["m"], max_tokens=7))
    assert (kept.temperature, kept.max_tokens, kept.concurrency) == (0.2, 7, 16)
    result = cli("--db", str(tmp_path / "g.db"), "generate", "--model", "m", "--base-url", "http://127.0.0.1:9/v1",
                 "--prompts", str(tmp_path / "none.jsonl"), "--temperature", "3")
    assert result.exit_code == 2 and "'--temperature': must be at least 0 and at most 2" in result.stderr
