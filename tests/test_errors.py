"""One error root (issue 18): every error the program raises on purpose is an ``SbsError`` that carries its exit
code and its one line, and ``cli.main`` maps them with one ``except`` (no look-ups in ``sys.modules``)."""

from __future__ import annotations

import inspect

import click
import pytest

from sbs_tui import cli
from sbs_tui.core.store import StoreError
from sbs_tui.core.store.errors import ConflictError
from sbs_tui.errors import ExitCode, InputError, SbsError
from scorers.base import ScorerError
from scorers.http import EndpointError


@pytest.mark.parametrize("error, line", [
    (InputError("bad", file="f.jsonl", line=3, field="winner"), "f.jsonl:3: field 'winner': bad"),
    (StoreError("database is damaged"), "database is damaged"),
    (ConflictError("another output"), "another output"),
    (ScorerError("unknown option", field="gates.x.labls"), "field 'gates.x.labls': unknown option"),
    (EndpointError("cannot reach http://127.0.0.1:9/v1"), "cannot reach http://127.0.0.1:9/v1"),
])
def test_every_error_derives_from_one_root_and_exits_with_its_code(monkeypatch, capsys, error, line) -> None:
    assert isinstance(error, SbsError) and error.exit_code == ExitCode.USAGE

    @click.command("boom")
    def boom() -> None:
        raise error

    monkeypatch.setitem(cli.COMMANDS, "boom", "rank:rank_command")  # listed, then replaced by the real object
    monkeypatch.setattr(cli.LazyGroup, "get_command", lambda self, ctx, name: boom if name == "boom" else None)
    with pytest.raises(SystemExit) as exit_:
        cli.main(["boom"])
    assert exit_.value.code == ExitCode.USAGE
    assert capsys.readouterr().err.strip() == f"error: {line}"


def test_the_cli_maps_errors_without_looking_into_sys_modules() -> None:
    assert "sys.modules" not in inspect.getsource(cli)


def test_config_after_the_command_says_it_is_global(cli, tmp_path) -> None:
    """``gate``, ``gate eval`` and ``score`` no longer define their own ``--config``: one option, and one place."""
    result = cli("score", "x.jsonl", "--config", "c.toml")
    assert result.exit_code == 2 and "--config is a global option: sbs --config VALUE COMMAND" in result.stderr


def test_a_misspelt_command_gets_a_suggestion(cli) -> None:
    result = cli("rnak")
    assert result.exit_code == 2 and "No such command 'rnak'. Did you mean 'rank'?" in result.stderr
    assert "Did you mean" not in cli("zzzz").stderr
