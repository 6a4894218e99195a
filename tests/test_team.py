"""Team campaigns: tokens (stored hashed), `sbs annotators`, `sbs backup`, and the team server's refusals
(wrong token, foreign Origin, reused ticket, annotator asking for the review app, session caps).

The accepted path — a browser signs in, the app renders, a key press stores a vote — runs in a real headless
Chromium in ``test_serve_browser.py``.
"""

from __future__ import annotations

import hashlib
import shlex
import sqlite3
from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient, TestServer

from sbs_tui.core.store import Store
from sbs_tui.core.team import add_annotator, personal_link, resolve_token
from sbs_tui.web.server import ServeOptions, TeamServer
from tests.annotate_helpers import make_store


def test_token_is_stored_only_as_its_digest_and_resolves_to_the_role(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    token = add_annotator(store, "alice")
    lead_token = add_annotator(store, "lena", lead=True)
    stored = [r[0] for r in store.conn.execute("SELECT token_sha256 FROM annotator_tokens")]
    assert token not in stored and hashlib.sha256(token.encode()).hexdigest() in stored
    assert resolve_token(store, token).role == "annotator"
    assert resolve_token(store, lead_token).role == "lead"
    assert resolve_token(store, token + "x") is None and resolve_token(store, "") is None


def test_reissue_revokes_the_old_token_and_revoke_refuses_sign_in(tmp_path: Path) -> None:
    store = Store(tmp_path / "t.db")
    old = add_annotator(store, "alice")
    new = add_annotator(store, "alice")
    assert resolve_token(store, old) is None and resolve_token(store, new).name == "alice"
    assert store.accounts.revoke("alice")
    assert resolve_token(store, new) is None
    assert not store.accounts.revoke("alice")


def test_annotators_cli_add_list_revoke(cli, db_path: Path) -> None:
    added = cli("--db", str(db_path), "--create", "annotators", "add", "alice", "--port", "8123")
    assert added.exit_code == 0
    token = added.stdout.strip()
    assert f"http://127.0.0.1:8123/?token={token}" in added.stderr
    assert cli("--db", str(db_path), "annotators", "add", "lena", "--lead").exit_code == 0
    listed = cli("--db", str(db_path), "annotators", "list", "--format", "json")
    import json

    rows = json.loads(listed.stdout)
    assert [(r["name"], r["role"], r["revoked_at"]) for r in rows] == [("alice", "annotator", None),
                                                                      ("lena", "lead", None)]
    assert token not in listed.stdout
    assert cli("--db", str(db_path), "annotators", "revoke", "alice").exit_code == 0
    again = cli("--db", str(db_path), "annotators", "revoke", "alice")
    assert again.exit_code == 2 and "no active token" in again.stderr
    assert cli("--db", str(db_path), "annotators", "add", "  ").exit_code == 2


def test_personal_link_quotes_the_token_and_honours_the_public_url() -> None:
    assert personal_link("a b", host="h", port=1) == "http://h:1/?token=a%20b"
    assert personal_link("t", public_url="https://sbs.example/") == "https://sbs.example/?token=t"


def test_backup_is_a_verified_online_copy(cli, tmp_path: Path) -> None:
    db = tmp_path / "live.db"
    store = make_store(db)
    reader = sqlite3.connect(db)  # an open reader must not block the online copy
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM generations").fetchone()
    out = cli("--db", str(db), "backup", str(tmp_path / "copy.db"))
    reader.rollback()
    assert out.exit_code == 0, out.stderr
    assert "integrity ok" in out.stderr
    copy = Store(tmp_path / "copy.db")
    assert copy.count("generations") == store.count("generations") == 18
    assert copy.count("pairs") == store.count("pairs") > 0
    assert not list(tmp_path.glob(".copy.db.*")), "no temporary file is left behind"
    bad = cli("--db", str(db), "backup", str(tmp_path / "no-such-dir" / "x.db"))
    assert bad.exit_code == 2 and "does not exist" in bad.stderr
    missing = cli("--db", str(tmp_path / "nope.db"), "backup", str(tmp_path / "y.db"))
    assert missing.exit_code == 2 and not (tmp_path / "nope.db").exists()


def test_serve_without_accounts_says_how_to_add_one(cli, tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    make_store(db).close()
    out = cli("--db", str(db), "serve", "--port", "0")
    assert out.exit_code == 2 and "sbs annotators add" in out.stderr


@pytest.fixture
async def team(tmp_path: Path):
    db = tmp_path / "team.db"
    store = make_store(db)
    tokens = {"alice": add_annotator(store, "alice"), "lena": add_annotator(store, "lena", lead=True)}
    store.close()
    server = TeamServer(ServeOptions(db_path=db, port=8000, max_sessions=1))
    client = TestClient(TestServer(server.make_app()))
    await client.start_server()
    try:
        yield client, server, tokens
    finally:
        await client.close()


async def sign_in(client, token: str, app: str | None = None):
    """The personal link: a hop page that sets the session cookie, then the page it points to (no token)."""
    params = {"token": token, **({"app": app} if app else {})}
    hop = await client.get("/", params=params)
    if hop.status != 200:
        return hop
    target = hop.headers["Refresh"].split("url=", 1)[1]
    assert "token" not in target
    return await client.get(target)


async def test_page_needs_a_valid_token_and_is_self_contained(team) -> None:
    client, server, tokens = team
    signin = await client.get("/")
    assert signin.status == 200 and "sign in" in (await signin.text())
    wrong = await client.get("/", params={"token": "not-a-token"})
    assert wrong.status == 403 and "not valid" in (await wrong.text())
    page = await sign_in(client, tokens["alice"])
    body = await page.text()
    assert page.status == 200 and "/ws/" in body
    assert "googleapis" not in body and "https://" not in body, "the page loads nothing from the network"
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["Referrer-Policy"] == "no-referrer"
    font = await client.get("/static/fonts/RobotoMono-VariableFont_wght.ttf")
    assert font.status == 200


async def test_annotator_cannot_open_the_review_app_but_a_lead_can(team) -> None:
    client, server, tokens = team
    refused = await sign_in(client, tokens["alice"], "review")
    assert refused.status == 403
    lead = await sign_in(client, tokens["lena"], "review")
    assert lead.status == 200
    ticket = next(iter(server.tickets.values()))
    assert ticket.app == "review" and " review" in server.command_for(ticket)
    # the lead's review app carries their annotator app's address (no token: the session cookie signs them in)
    command = shlex.split(server.command_for(ticket))
    url = command[command.index("--annotate-url") + 1]
    assert url == f"{server.options.base_url}/?app=annotate" and tokens["lena"] not in url
    alice = server.command_for(type(ticket)("alice", "annotate", 0.0))
    assert "annotate --annotator alice" in alice and "review" not in alice


def _ticket_from(body: str) -> str:
    return body.split("/ws/", 1)[1].split('"', 1)[0]


async def test_websocket_refuses_foreign_origin_and_unknown_or_reused_tickets(team) -> None:
    client, server, tokens = team
    body = await (await sign_in(client, tokens["alice"])).text()
    ticket = _ticket_from(body)
    evil = await client.get(f"/ws/{ticket}", headers={"Origin": "http://evil.example"})
    assert evil.status == 403
    no_origin = await client.get(f"/ws/{ticket}")
    assert no_origin.status == 403
    forged = await client.get("/ws/forged-ticket", headers={"Origin": "http://127.0.0.1:8000"})
    assert forged.status == 403
    assert ticket in server.tickets, "a refused origin does not burn the ticket"


async def test_session_cap_refuses_beyond_the_limit(team) -> None:
    client, server, tokens = team
    body = await (await sign_in(client, tokens["alice"])).text()
    server.sessions["someone"] = 1  # max_sessions=1 in this fixture: the server is full
    full = await client.get(f"/ws/{_ticket_from(body)}", headers={"Origin": "http://127.0.0.1:8000"})
    assert full.status == 503


def test_allowed_origins_follow_the_public_url() -> None:
    options = ServeOptions(db_path=Path("x.db"), host="0.0.0.0", port=9000, public_url="https://SBS.example.com/")
    origins = options.allowed_origins()
    assert "https://sbs.example.com" in origins and "http://localhost:9000" not in origins


def test_interactive_demo_keeps_the_votes_just_cast(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     capsys) -> None:
    """`sbs demo` used to delete the temporary database, and the votes cast in its app, on quit."""
    import subprocess as real_subprocess

    from sbs_tui import demo
    from sbs_tui.core.queue.annotator import AnnotatorQueue

    monkeypatch.setattr(demo, "_steps", lambda data: [
        ("import", ["import", "generations", str(data / "generations.jsonl")], True),
        ("queue", ["queue", "build", "--overlap", "1"], True),
    ])
    monkeypatch.setattr(tempfile_module(), "tempdir", str(tmp_path))
    real_run = real_subprocess.run

    def fake_run(argv, env=None, **kwargs):
        if "annotate" in argv:  # the person at the keyboard: one vote, then quit
            store = Store(env["SBS_DB"])
            store.generations.set_gate_status(store.generations.ids(), "passed")
            queue = AnnotatorQueue(store, "demo")
            queue.vote(queue.next_pair(), "left", ts="t")
            store.close()
            return real_subprocess.CompletedProcess(argv, 0)
        return real_run(argv, env=env, **kwargs)

    monkeypatch.setattr(demo.subprocess, "run", fake_run)
    assert demo.run_demo(headless=False, data_dir=None, keep_dir=None, annotator="demo") == 0
    out = capsys.readouterr().out
    assert "vote(s) are kept in" in out
    kept = list(tmp_path.glob("sbs-demo-*/demo.db"))
    assert len(kept) == 1 and Store(kept[0]).count("votes") == 1


def tempfile_module():
    import tempfile

    return tempfile


async def test_a_leads_personal_link_opens_the_review_app(team) -> None:
    """Issue 17 §4: the link `sbs annotators add lena --lead` prints opens the review app; `&app=annotate` (also
    printed) the annotator app. Before, every link opened the annotator app."""
    client, server, tokens = team
    for who, app, expected in (("lena", None, "review"), ("lena", "annotate", "annotate"),
                               ("alice", None, "annotate")):
        server.tickets.clear()
        page = await sign_in(client, tokens[who], app)
        assert page.status == 200, (who, app)
        assert [t.app for t in server.tickets.values()] == [expected], (who, app)
        assert f"sbs {expected} — {who}" in await page.text()


def test_lead_cli_prints_the_review_link_and_the_annotator_link(cli, db_path: Path) -> None:
    Store(db_path).close()  # writing commands refuse a database that does not exist (issue 17 §2)
    added = cli("--db", str(db_path), "annotators", "add", "lena", "--lead", "--port", "8123")
    token = added.stdout.strip()
    assert f"(the review app): http://127.0.0.1:8123/?token={token}\n" in added.stderr
    assert f"the annotator app: http://127.0.0.1:8123/?token={token}&app=annotate" in added.stderr


def test_a_lead_who_does_not_vote_is_not_an_annotator_in_the_queue_tab(tmp_path: Path) -> None:
    """Issue 17 §4: the Queue tab listed every account, a lead who only reviews among them (with pairs
    'remaining'). A lead who votes is listed like anyone."""
    from sbs_tui.core.queue.annotator import AnnotatorQueue
    from sbs_tui.core.views.queue import queue_view

    db = tmp_path / "q.db"
    store = make_store(db)
    try:
        add_annotator(store, "lena", lead=True)
        add_annotator(store, "alice")
        assert [a.annotator for a in queue_view(store).annotators] == ["alice"]
        queue = AnnotatorQueue(store, "lena")
        queue.vote(queue.next_pair(), "left", ts="2026-01-01T10:00:00Z")
        assert [a.annotator for a in queue_view(store).annotators] == ["alice", "lena"]
    finally:
        store.close()
