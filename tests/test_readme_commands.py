"""The README's two commands are CI's: a new user who runs them gets the run CI gets (issue 17 §7).

``.ci/run`` must install what the README's install command installs — the same torch pin and the same extras —
and run exactly the README's test command. A drift here is how "works in CI" and "fails on a fresh machine" part.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _readme_commands() -> tuple[str, str]:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```bash\n(.*?)```", text, re.S)
    install = next(b for b in blocks if "pip install" in b and "sbs demo" in b).strip()
    test = next(b for b in blocks if "pytest" in b).strip()
    return install, test


def _pip_installs(command: str) -> list[list[str]]:
    """The arguments of every ``pip install`` in a shell line or script (flags such as -q left out)."""
    found = []
    for part in re.split(r"&&|\n", command):
        if "pip install" not in part or part.lstrip().startswith("#"):
            continue
        words = shlex.split(part, comments=True)
        if "pip" in words and "install" in words:
            found.append([w for w in words[words.index("install") + 1:] if not w.startswith("-") or w == "-e"])
    return found


def test_ci_installs_what_the_readme_installs_and_runs_its_test_command() -> None:
    install, test = _readme_commands()
    ci = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    readme_installs = _pip_installs(install)
    ci_installs = [args for args in _pip_installs(ci) if args != ["pip"]]  # `pip install --upgrade pip`
    assert readme_installs == ci_installs, (readme_installs, ci_installs)
    assert test in ci.splitlines()


def test_the_dev_extra_holds_every_optional_module_a_test_imports() -> None:
    """Ray is imported by a test; it must come with ``.[dev]``, or the README's install skips that test."""
    import tomllib

    extras = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]["optional-dependencies"]
    dev = " ".join(extras["dev"])
    for name in extras["ray"]:
        assert name in dev
