"""`sbs queue …`, `sbs annotate` and `sbs serve` on the command line: options, errors (exit 2), JSON output."""

from __future__ import annotations

import json

from tests.annotate_helpers import judge_votes, make_store


def test_queue_build_json_and_status(cli, tmp_path):
    db = tmp_path / "q.db"
    make_store(db, prompts=4, build=False).close()
    result = cli("--db", str(db), "queue", "build", "--overlap", "2", "--seed", "3", "--format", "json")
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["pairs"] == 12 and out["new_pairs"] == 12 and out["open"] == 12
    status = json.loads(cli("--db", str(db), "queue", "status", "--format", "json").stdout)
    assert status["config"]["overlap"] == 2 and status["config"]["seed"] == 3
    again = json.loads(cli("--db", str(db), "queue", "build", "--format", "json").stdout)
    assert again["new_pairs"] == 0
    status = json.loads(cli("--db", str(db), "queue", "status", "--format", "json").stdout)
    assert status["config"]["overlap"] == 2  # a rebuild without options keeps what the queue was built with


def test_queue_build_active_with_gold(cli, tmp_path):
    db = tmp_path / "q.db"
    store = make_store(db, prompts=30, build=False)
    from tests.annotate_helpers import MODELS

    judge_votes(store, "judge", {(i, MODELS[0], MODELS[1]): "model_b" for i in range(30)})
    store.close()
    result = cli("--db", str(db), "queue", "build", "--strategy", "active", "--focus-top", "2", "--gold-rate", "0.1",
                 "--gold-from", "judge", "--format", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["gold"] == 20


def test_queue_build_usage_errors_exit_2(cli, tmp_path):
    db = tmp_path / "q.db"
    make_store(db, prompts=1, build=False).close()
    bad = cli("--db", str(db), "queue", "build", "--gold-rate", "0.1")
    assert bad.exit_code == 2 and "--gold-from" in bad.stderr
    assert cli("--db", str(db), "queue", "build", "--overlap", "0").exit_code == 2
    assert cli("--db", str(db), "queue", "build", "--strategy", "smart").exit_code == 2
    assert cli("--db", str(db), "queue", "cap", "ann", "-1").exit_code == 2


def test_bad_config_names_file_and_key(cli, tmp_path):
    db = tmp_path / "q.db"
    make_store(db, prompts=1).close()
    config = tmp_path / "sbs.toml"
    config.write_text('[annotate.keys]\nvote_sideways = "x"\n')
    result = cli("--db", str(db), "--config", str(config), "annotate", "--annotator", "ann")
    assert result.exit_code == 2
    assert str(config) in result.stderr and "annotate.keys.vote_sideways" in result.stderr


def test_annotate_and_serve_need_a_database(cli, tmp_path):
    missing = tmp_path / "missing.db"
    result = cli("--db", str(missing), "annotate", "--annotator", "ann")
    assert result.exit_code == 2 and "database not found" in result.stderr
    assert not missing.exists()
    assert cli("--db", str(missing), "serve", "--annotator", "ann").exit_code == 2
    assert cli("--db", str(missing), "annotate", "--annotator", " ").exit_code == 2


def test_serve_runs_annotate_on_loopback(cli, tmp_path, monkeypatch):
    """`sbs serve --annotator NAME` is a one-person team: the team server, restricted to NAME, with a link."""
    db = tmp_path / "q.db"
    make_store(db, prompts=1).close()
    seen = {}

    def fake_serve(options, *, server=None):
        seen.update(options=options, server=server)

    import sbs_tui.web.server

    monkeypatch.setattr(sbs_tui.web.server, "serve", fake_serve)
    result = cli("--db", str(db), "serve", "--annotator", "Ann Lee")
    assert result.exit_code == 0, result.stderr
    options, server = seen["options"], seen["server"]
    assert options.host == "127.0.0.1" and options.solo == "Ann Lee"
    assert result.stdout.strip() == f"http://127.0.0.1:8000/?token={server.solo_token}"
    from sbs_tui.web.server import Ticket

    command = server.command_for(Ticket("Ann Lee", "annotate", 0.0))
    assert "annotate --annotator 'Ann Lee'" in command and str(db) in command
    assert server._resolve(server.solo_token).name == "Ann Lee" and server._resolve("guess") is None


def test_queue_flags_lists_flagged_pairs(cli, tmp_path):
    from sbs_tui.core.queue.annotator import AnnotatorQueue
    from sbs_tui.core.store import Store

    db = tmp_path / "q.db"
    make_store(db, prompts=2).close()
    with Store(db) as store:
        q = AnnotatorQueue(store, "ann")
        pair = q.next_pair()
        q.flag(pair, "[bold]offensive[/bold]")
        q.skip(pair)
    out = cli("--db", str(db), "queue", "flags", "--format", "json")
    assert out.exit_code == 0
    (row,) = [json.loads(line) for line in out.stdout.splitlines()]
    assert row["pair_id"] == pair.pair_id and row["reason"] == "[bold]offensive[/bold]" and row["status"] == "skipped"
    table = cli("--db", str(db), "queue", "flags")
    assert "[bold]" in table.stdout  # data, not markup
