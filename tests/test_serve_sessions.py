"""The team server's sessions end the way an operator expects (issue 21): a revocation closes the person's open
sessions and voids their tickets, a closed tab never loses a vote that was waiting for the database, the
single-user mode is a one-person team with the same checks, sign-in tokens become a session cookie, every response
carries the security headers, failed sign-ins are rate limited with one log line, and the app processes die with
a server killed with ``kill -9``.

The server runs in-process (aiohttp's test client) with real ``sbs annotate`` processes behind the WebSockets,
except where the test is about the ``sbs serve`` process itself.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer

from sbs_tui.core.store import Store
from sbs_tui.core.team import add_annotator
from sbs_tui.web.server import SECURITY_HEADERS, ServeOptions, TeamServer
from tests.annotate_helpers import judge_votes, make_store

ORIGIN = {"Origin": "http://127.0.0.1:8000"}
ROOT = Path(__file__).resolve().parents[1]


def _count(db: Path, sql: str, *args) -> int:
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchone()[0]
    finally:
        conn.close()


def votes_by(db: Path, name: str) -> int:
    return _count(db, "SELECT count(*) FROM votes v JOIN annotators a ON a.id = v.annotator_id WHERE a.name = ?",
                  name)


def assigned_to(db: Path, name: str) -> int:
    return _count(db, "SELECT count(*) FROM assignments s JOIN annotators a ON a.id = s.annotator_id "
                      "WHERE a.name = ?", name)


async def wait_for(condition, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.1)


async def sign_in(client, token: str, app: str | None = None):
    params = {"token": token, **({"app": app} if app else {})}
    hop = await client.get("/", params=params)
    if hop.status != 200 or "Refresh" not in hop.headers:  # (a server that serves the page at once)
        return hop
    return await client.get(hop.headers["Refresh"].split("url=", 1)[1])


def ticket_from(body: str) -> str:
    return body.split("/ws/", 1)[1].split('"', 1)[0]


@pytest.fixture
async def team(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("PYTHONPATH", str(ROOT))
    db = tmp_path / "team.db"
    store = make_store(db)
    tokens = {"alice": add_annotator(store, "alice"), "lena": add_annotator(store, "lena", lead=True)}
    store.close()
    server = TeamServer(ServeOptions(db_path=db, port=8000))
    client = TestClient(TestServer(server.make_app()))
    await client.start_server()
    try:
        yield db, client, server, tokens
    finally:
        await client.close()


async def open_session(client, token: str):
    """Sign in and open the app's WebSocket, draining what the app draws (as a browser does)."""
    body = await (await sign_in(client, token)).text()
    ws = await client.ws_connect(f"/ws/{ticket_from(body)}?width=120&height=40", headers=ORIGIN)

    async def drain() -> None:
        async for _message in ws:
            pass

    return ws, asyncio.create_task(drain())


async def press(ws, key: str) -> None:
    await ws.send_str(json.dumps(["stdin", key]))


# -- revocation (major 2) ---------------------------------------------------------------------------------------


async def test_revocation_closes_the_open_session_and_no_more_votes_are_stored(team) -> None:
    db, client, server, tokens = team
    ws, drain = await open_session(client, tokens["alice"])
    await wait_for(lambda: assigned_to(db, "alice") >= 1)
    await press(ws, "1")
    await wait_for(lambda: votes_by(db, "alice") == 1)
    with Store(db) as store:
        store.accounts.revoke("alice")
    for _ in range(4):  # the session keeps typing votes, as in the probe
        if ws.closed:
            break
        await press(ws, "1")
        await asyncio.sleep(0.3)
    await asyncio.wait_for(drain, timeout=30)  # the server closed the session
    assert ws.closed
    assert votes_by(db, "alice") == 1, "nothing stored after the revocation"
    assert server.sessions["alice"] == 0 and not server.live


async def test_a_ticket_issued_before_the_revocation_no_longer_opens_a_session(team) -> None:
    db, client, server, tokens = team
    body = await (await sign_in(client, tokens["alice"])).text()
    with Store(db) as store:
        store.accounts.revoke("alice")
    with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
        await client.ws_connect(f"/ws/{ticket_from(body)}", headers=ORIGIN)
    assert refused.value.status == 403
    again = await client.get("/")  # the session cookie is void too
    assert again.status == 403 and "sign in again" in await again.text()
    assert assigned_to(db, "alice") == 0


async def test_revocation_check_forgets_tickets_and_cookies(team) -> None:
    db, client, server, tokens = team
    await sign_in(client, tokens["alice"])
    await sign_in(client, tokens["lena"])
    assert len(server.tickets) == 2 and len(server.signins) == 2
    with Store(db) as store:
        store.accounts.revoke("alice")
    await server.check_revocations()
    assert [t.name for t in server.tickets.values()] == ["lena"]
    assert [s.name for s in server.signins.values()] == ["lena"]


def test_the_database_refuses_a_revoked_annotators_vote(tmp_path: Path) -> None:
    from sbs_tui.core.queue.annotator import AnnotatorQueue
    from sbs_tui.core.store import AccessRevokedError

    store = make_store(tmp_path / "r.db")
    add_annotator(store, "alice")
    queue = AnnotatorQueue(store, "alice")
    pair = queue.next_pair()
    store.accounts.revoke("alice")
    with pytest.raises(AccessRevokedError):
        queue.vote(pair, "left", ts="t")
    assert store.count("votes") == 0
    add_annotator(store, "alice")  # re-added by the lead: votes again
    queue.vote(pair, "left", ts="t")
    assert store.count("votes") == 1
    # someone with no account at all (the terminal app, no server) is not affected
    bob = AnnotatorQueue(store, "bob")
    bob.vote(bob.next_pair(), "right", ts="t")
    assert store.count("votes") == 2


# -- a closed tab while "saving your vote…" (major 3) ------------------------------------------------------------


async def test_closing_the_tab_while_the_vote_waits_for_the_lock_still_stores_it(team) -> None:
    db, client, server, tokens = team
    ws, drain = await open_session(client, tokens["alice"])
    await wait_for(lambda: assigned_to(db, "alice") >= 1)
    holder = sqlite3.connect(db, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # an import holding the write lock
    try:
        await press(ws, "1")
        await asyncio.sleep(1.5)  # the app shows "saving your vote…"
        assert votes_by(db, "alice") == 0
        await ws.close()  # the tab is closed: the server ends the session
        await asyncio.sleep(1.0)
    finally:
        holder.execute("ROLLBACK")  # the lock frees a moment later
        holder.close()
    await wait_for(lambda: sum(server.sessions.values()) == 0, timeout=60)
    await wait_for(lambda: votes_by(db, "alice") == 1, timeout=30)
    drain.cancel()


# -- single-user mode (major 4) ----------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _start_serve(db: Path, port: int, *extra: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui", "--db", str(db), "serve", "--port", str(port),
                             *extra], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return proc
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(f"sbs serve did not start: {proc.stderr.read().decode(errors='replace')}")


def test_single_user_mode_has_the_team_servers_sign_in_origin_check_and_csp(tmp_path: Path) -> None:
    db = tmp_path / "solo.db"
    make_store(db).close()
    port = _free_port()
    proc = _start_serve(db, port, "--annotator", "alice")
    base = f"http://127.0.0.1:{port}"

    async def probe() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            bare = await http.get(f"{base}/")
            body = await bare.text()
            assert "sign in" in body and "/ws/" not in body, "no session without the link's token"
            assert "fonts.googleapis" not in body and "https://" not in body
            assert "default-src 'self'" in bare.headers["Content-Security-Policy"]
            for path in ("/ws", "/ws/anything"):  # textual-serve's open socket is gone
                with pytest.raises(aiohttp.WSServerHandshakeError):
                    await http.ws_connect(f"{base}{path}", headers={"Origin": "http://evil.example"})
            link = proc.stdout.readline().decode().strip()
            assert link.startswith(f"{base}/?token=")
            hop = await http.get(link)
            page = await http.get(f"{base}{hop.headers['Refresh'].split('url=', 1)[1]}")
            page_body = await page.text()
            assert "/ws/" in page_body and "https://" not in page_body
            with pytest.raises(aiohttp.WSServerHandshakeError) as evil:
                await http.ws_connect(f"ws://127.0.0.1:{port}/ws/{ticket_from(page_body)}",
                                      headers={"Origin": "http://evil.example"})
            assert evil.value.status == 403
            wrong = await http.get(f"{base}/", params={"token": "guess"})
            assert wrong.status == 403

    try:
        asyncio.run(probe())
    finally:
        proc.terminate()
        proc.wait(timeout=20)


# -- kill -9 of the server ----------------------------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_server_ends_every_sessions_app_process(tmp_path: Path) -> None:
    db = tmp_path / "k.db"
    store = make_store(db)
    tokens = [add_annotator(store, name) for name in ("alice", "bob")]
    store.close()
    port = _free_port()
    proc = _start_serve(db, port)
    base = f"http://127.0.0.1:{port}"
    apps: list[int] = []

    async def sessions() -> None:
        async with aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            sockets = []
            for token in tokens:
                hop = await http.get(f"{base}/", params={"token": token})
                body = await (await http.get(f"{base}{hop.headers['Refresh'].split('url=', 1)[1]}")).text()
                sockets.append(await http.ws_connect(f"ws://127.0.0.1:{port}/ws/{ticket_from(body)}",
                                                     headers={"Origin": f"http://127.0.0.1:{port}"}))
            await wait_for(lambda: assigned_to(db, "alice") and assigned_to(db, "bob"))
            apps.extend(_children(proc.pid))
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)

    try:
        asyncio.run(sessions())
        assert len(apps) == 2, apps
        deadline = time.monotonic() + 20
        while any(_alive(pid) for pid in apps) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not [pid for pid in apps if _alive(pid)], "app processes outlived the server"
    finally:
        for pid in apps:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
        if proc.poll() is None:
            proc.kill()


# -- sign-in, cookies, headers, rate limit ------------------------------------------------------------------------


async def test_the_token_is_exchanged_for_a_strict_httponly_cookie_and_a_url_without_it(team) -> None:
    db, client, server, tokens = team
    hop = await client.get("/", params={"token": tokens["alice"]})
    cookie = hop.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and tokens["alice"] not in cookie
    target = hop.headers["Refresh"].split("url=", 1)[1]
    assert target == "/" and tokens["alice"] not in await hop.text()
    page = await client.get(target)
    assert page.status == 200 and "/ws/" in await page.text()
    # the sign-in form posts the token (never in a URL) and gets the same hop
    form = await client.post("/signin", data={"token": tokens["lena"]})
    assert form.status == 200 and "HttpOnly" in form.headers["Set-Cookie"]
    client.session.cookie_jar.clear()
    assert 'method="post" action="/signin"' in await (await client.get("/")).text()


async def test_every_response_carries_the_security_headers(team) -> None:
    db, client, server, tokens = team
    responses = [await client.get("/"), await client.get("/", params={"token": "wrong"}),
                 await client.get("/no-such-page"), await client.get("/static/no-such-file"),
                 await client.get("/ws/forged", headers=ORIGIN), await client.get("/ws/x"),
                 await client.get("/static/css/xterm.css"), await client.get("/", params={"app": "nope"})]
    assert sorted({r.status for r in responses}) == [200, 400, 403, 404]
    for response in responses:
        for header, value in SECURITY_HEADERS.items():
            assert response.headers.get(header) == value, (response.url, response.status, header)


async def test_failed_sign_ins_are_rate_limited_per_client_with_one_summary_line(team, caplog) -> None:
    db, client, server, tokens = team
    caplog.set_level(logging.INFO, logger="sbs.serve")
    statuses = [(await client.get("/", params={"token": f"guess-{i}"})).status for i in range(25)]
    assert statuses[:10] == [403] * 10 and set(statuses[10:]) == {429}
    # the right token from the same client waits out the window too; nothing was logged per attempt
    assert (await client.get("/", params={"token": tokens["alice"]})).status == 429
    assert not [r for r in caplog.records if r.name == "sbs.serve"]
    lines = server.limiter.summarise()
    assert len(lines) == 1 and "refused 26 sign-in attempt(s) from 127.0.0.1" in lines[0]
    assert "16 of them rate-limited" in lines[0]
    assert len([r for r in caplog.records if r.name == "sbs.serve"]) == 1


def test_the_limiter_forgets_failures_outside_its_window() -> None:
    from sbs_tui.web.server import SignInLimiter

    now = [0.0]
    limiter = SignInLimiter(limit=2, window=60, clock=lambda: now[0])
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.blocked("a") and not limiter.blocked("b")
    now[0] = 61
    assert not limiter.blocked("a")


# -- accounts -------------------------------------------------------------------------------------------------------


def test_annotators_add_refuses_a_judges_name(cli, tmp_path: Path) -> None:
    db = tmp_path / "j.db"
    store = make_store(db)
    judge_votes(store, "judge:gpt", {(0, "secret-model-alpha", "secret-model-beta"): "model_a"})
    store.close()
    out = cli("--db", str(db), "annotators", "add", "judge:gpt")
    assert out.exit_code == 2 and "judge annotator" in out.stderr and not out.stdout.strip()
    with Store(db) as store:
        assert store.accounts.all() == []
