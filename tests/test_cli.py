"""The CLI contract: every command has --help, exit codes, --db and $SBS_DB, demo --headless."""

from __future__ import annotations

import subprocess
import sys

import click

from sbs_tui.cli import COMMANDS, cli as root


def _all_command_paths() -> list[list[str]]:
    ctx = click.Context(root)
    paths = []
    for name in root.list_commands(ctx):
        cmd = root.get_command(ctx, name)
        paths.append([name])
        if isinstance(cmd, click.Group):
            paths += [[name, sub] for sub in cmd.list_commands(ctx)]
    return paths


def test_every_command_has_help(cli):
    paths = _all_command_paths()
    assert {p[0] for p in paths} == set(COMMANDS)
    for path in paths:
        r = cli(*path, "--help")
        assert r.exit_code == 0, (path, r.stderr)
        assert "Usage:" in r.stdout


def test_unknown_command_and_option_are_usage_errors(cli):
    assert cli("no-such-command").exit_code == 2
    assert cli("import", "votes", "--no-such-option").exit_code == 2
    assert cli("import", "votes").exit_code == 2


def test_db_from_environment(cli, tmp_path, monkeypatch, sample_dir):
    db = tmp_path / "env.db"
    monkeypatch.setenv("SBS_DB", str(db))
    assert cli("import", "generations", str(sample_dir / "generations.jsonl")).exit_code == 0
    assert db.exists()


def test_bad_config_file_is_exit_2(cli, tmp_path, sample_dir):
    bad = tmp_path / "c.toml"
    bad.write_text("[gates\n", encoding="utf-8")
    from sbs_tui.config import load_settings
    from sbs_tui.errors import InputError

    try:
        load_settings(bad)
    except InputError as exc:
        assert str(bad) in exc.describe()
    else:
        raise AssertionError("invalid TOML accepted")


def test_demo_headless_runs_end_to_end(tmp_path):
    out = subprocess.run([sys.executable, "-m", "sbs_tui", "demo", "--headless", "--keep", str(tmp_path)],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "inserted 160" in out.stdout and "inserted 120" in out.stdout
    assert (tmp_path / "demo.db").exists()
    assert (tmp_path / "votes.export.jsonl").read_text(encoding="utf-8").count("\n") == 120


def test_python_m_entry_point_and_version():
    out = subprocess.run([sys.executable, "-m", "sbs_tui", "--version"], capture_output=True, text=True)
    assert out.returncode == 0 and "sbs" in out.stdout
