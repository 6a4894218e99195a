"""The arena as a campaign runs it (issue 23): the budget from the models' prices stops new battles, the rate
limit holds across sessions, a revoked annotator starts no battle and stores no vote, a locked database never
freezes the screen, arena answers stay out of `sbs queue build`, and `sbs serve` opens the arena only when
`[arena] web` is on. Pilot against the shipped loopback streaming server; the team server in-process."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import pytest

from sbs_tui.config import load_settings
from sbs_tui.core.generate import arena, arena_ledger
from sbs_tui.core.store import AccessRevokedError, Store
from sbs_tui.core.team import add_annotator
from sbs_tui.errors import InputError
from sbs_tui.testing.fake_endpoint import FakeEndpoint, reply_tokens
from tests.pilot_helpers import wait_until
from tests.test_arena import assert_blind, ask, config, database, runner, screen_text, vote_rows

PRICED = "price_input_per_1k = 2.0\nprice_output_per_1k = 1000.0\n"  # an output token costs 1.0


def priced_config(tmp_path: Path, models: dict[str, tuple[str, str]], arena_extra: str) -> Path:
    path = config(tmp_path, models, arena_extra)
    text = path.read_text()
    for name in models:  # the prices go into each [models.NAME] table
        text = text.replace(f"[models.{name}]\n", f"[models.{name}]\n{PRICED}")
    path.write_text(text)
    return path


def arena_app(tmp_path: Path, path: Path, *, annotator: str = "ann"):
    from sbs_tui.tui.arena import ArenaApp

    settings = load_settings(path)
    return ArenaApp(database(tmp_path), annotator, settings, arena.load_arena(settings),
                    runner=runner(blocking=False), seed=0)


async def press_enter_with(pilot, app, prompt: str) -> None:
    from textual.widgets import Input

    app.query_one("#prompt-input", Input).value = prompt
    app.query_one("#prompt-input", Input).focus()
    await pilot.press("enter")


def ledger(db: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT outcome, tokens_in, tokens_out, cost FROM arena_battles").fetchall()
    finally:
        conn.close()


# -- budget -------------------------------------------------------------------------------------------------------


async def test_a_spent_budget_stops_new_battles_and_the_lead_sees_it(tmp_path: Path, cli) -> None:
    prompt = "Tell me about budgets"
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        path = priced_config(tmp_path, models, "budget = 50\n")
        app = arena_app(tmp_path, path)
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, prompt)
            battle = app.battle
            await pilot.press("1")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=10)
            await press_enter_with(pilot, app, "one more")
            assert await wait_until(pilot, lambda: "budget is spent" in screen_text(app), timeout=10)
            assert app.battle is None and not app.busy
            assert_blind(app, [*models, "org/alpha", "org/beta"])
    # The cost is what the endpoint reported, at the models' prices: (tokens in × 2 + tokens out × 1000) / 1000.
    tokens_out = sum(len(reply_tokens(f"org/{s.model.split('-')[0]}", prompt, temperature=1.0, max_tokens=40))
                     for s in battle.sides)
    tokens_in = 2 * max(1, len(prompt) // 4)
    assert ledger(app.db_path) == [("voted", tokens_in, tokens_out,
                                    pytest.approx((tokens_in * 2 + tokens_out * 1000) / 1000))]
    result = cli("--db", app.db_path, "--config", str(path), "arena", "status", "--format", "json")
    assert result.exit_code == 0, result.stdout
    status = json.loads(result.stdout)
    assert status == {"budget": 50.0, "spent": pytest.approx(tokens_out + tokens_in * 2 / 1000), "remaining": 0.0,
                      "exhausted": True, "battles": 1,
                      "outcomes": {"running": 0, "answered": 0, "voted": 1, "gated": 0, "incomplete": 0},
                      "tokens_in": tokens_in, "tokens_out": tokens_out, "web": False}
    table = cli("--db", app.db_path, "--config", str(path), "arena", "status")
    assert "remaining 0.0000 (spent: no new battles)" in table.stdout


def test_a_budget_needs_every_arena_model_priced(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[models.a]\nbase_url = "http://h/v1"\nprice_output_per_1k = 1\n'
                    '[models.b]\nbase_url = "http://h/v1"\n[arena]\nmodels = ["a", "b"]\nbudget = 5\n')
    with pytest.raises(InputError) as info:
        arena.load_arena(load_settings(path))
    assert info.value.field == "models.b.price_output_per_1k" and "budget needs a price" in str(info.value)


def test_a_broken_off_answer_is_estimated_from_what_arrived() -> None:
    from sbs_tui.core.generate.generation import Answer, ModelSpec

    battle = arena.new_battle("x" * 40, "p", "q")
    battle.a.status, battle.a.answer = "done", Answer("ok", 7, 3, 0.1, 1.0)
    battle.b.status, battle.b.text = "failed", "y" * 21  # 21 characters arrived before it stalled
    specs = {n: ModelSpec(n, n, price_in_1k=1.0, price_out_1k=10.0) for n in "pq"}
    assert arena_ledger.usage(battle, specs) == (7 + 10, 3 + 6, pytest.approx((7 + 10 + 30 + 60) / 1000))
    assert arena_ledger.outcome(battle) == "incomplete"


# -- rate limit across sessions -----------------------------------------------------------------------------------


def test_the_rate_limit_counts_every_session_of_the_annotator(tmp_path: Path) -> None:
    db = database(tmp_path)
    cfg = arena.ArenaConfig((), battles_per_minute=2, timeout=1, stall_timeout=1, gate_timeout=1)
    first, second = Store(db), Store(db)  # two tabs: two processes, two connections
    arena_ledger.begin(first, arena.new_battle("a", "x", "y"), "ann", cfg, now=1000.0)
    arena_ledger.begin(second, arena.new_battle("b", "x", "y"), "ann", cfg, now=1010.0)
    with pytest.raises(arena_ledger.ArenaRefused) as info:
        arena_ledger.begin(first, arena.new_battle("c", "x", "y"), "ann", cfg, now=1020.0)
    assert info.value.kind == "rate" and info.value.wait_s == pytest.approx(40.0)
    arena_ledger.begin(first, arena.new_battle("d", "x", "y"), "other", cfg, now=1020.0)  # per annotator
    arena_ledger.begin(second, arena.new_battle("e", "x", "y"), "ann", cfg, now=1060.5)  # the first one left
    assert second.arena.totals().battles == 4


# -- revoked access -----------------------------------------------------------------------------------------------


async def test_a_revoked_annotator_cannot_vote_on_the_open_battle(tmp_path: Path) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = arena_app(tmp_path, config(tmp_path, models))
        with Store(app.db_path) as store:
            add_annotator(store, "ann")
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "hello")
            assert app.battle.votable
            with Store(app.db_path) as store:
                store.accounts.revoke("ann")
            await pilot.press("1")
            assert await wait_until(pilot, lambda: app.return_code == 1, timeout=10)
            assert "access was revoked" in app.note and "not stored" in app.note
            assert_blind(app, [*models, "org/alpha", "org/beta"])
    assert vote_rows(app.db_path) == []


async def test_a_revoked_annotator_starts_no_battle(tmp_path: Path) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = arena_app(tmp_path, config(tmp_path, models))
        with Store(app.db_path) as store:
            add_annotator(store, "ann")
            store.accounts.revoke("ann")
        async with app.run_test(size=(160, 40)) as pilot:
            await press_enter_with(pilot, app, "hello")
            assert await wait_until(pilot, lambda: app.return_code == 1, timeout=10)
            assert app.battle is None and "no battle was started" in app.note
        assert server.requests == 0  # no model was asked
    assert ledger(app.db_path) == []


def test_a_revoked_annotators_vote_is_refused_in_the_core(tmp_path: Path) -> None:
    store = Store(tmp_path / "r.db")
    add_annotator(store, "ann")
    store.accounts.revoke("ann")
    battle = arena.new_battle("hi", "x", "y")
    battle.a.status = battle.b.status = "done"
    with pytest.raises(AccessRevokedError):
        arena.store_vote(store, battle, "a", "ann")
    assert store.votes.outcomes()[1] == []


# -- a slow database ----------------------------------------------------------------------------------------------


async def test_a_locked_database_never_freezes_the_screen(tmp_path: Path) -> None:
    """Drawing a pair and storing the vote wait for the database in worker threads: while another process holds
    the write lock the screen says what it waits for and keeps answering, and the step lands once it is free."""
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = arena_app(tmp_path, config(tmp_path, models))
        lock = sqlite3.connect(app.db_path, isolation_level=None)
        async with app.run_test(size=(160, 40)) as pilot:
            lock.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            await press_enter_with(pilot, app, "hello")
            await pilot.pause()
            assert time.monotonic() - started < 2.0 and "Drawing a pair" in screen_text(app)
            lock.execute("ROLLBACK")
            assert await wait_until(pilot, lambda: app.battle is not None and app.battle.gated, timeout=30)
            lock.execute("BEGIN IMMEDIATE")
            started = time.monotonic()
            await pilot.press("1")
            await pilot.pause()
            assert time.monotonic() - started < 2.0 and "Saving your vote" in screen_text(app)
            await pilot.press("2")  # no second vote while the first is saving
            lock.execute("ROLLBACK")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=15)
        lock.close()
    assert [r[2] for r in vote_rows(app.db_path)] == ["model_a"]


# -- the queue ----------------------------------------------------------------------------------------------------


async def test_arena_answers_stay_out_of_the_queue(tmp_path: Path) -> None:
    """Decision (docs/arena.md): an arena battle's answers are ordinary generations — rank, agreement, judge and
    exports see its vote — but `sbs queue build` does not pair them, and `sbs generate --from-db` does not answer
    their prompts: the prompt is one annotator's own."""
    from sbs_tui.core.generate.generation import GenerateRequest, load_prompts
    from sbs_tui.core.queue.build import BuildOptions, build_queue
    from sbs_tui.core.records import GenerationRecord

    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = arena_app(tmp_path, config(tmp_path, models))
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "my own private question")
            await pilot.press("1")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=10)
    with Store(app.db_path) as store:
        with store.transaction():
            store.generations.insert([GenerationRecord("p1", "a campaign prompt", m, f"answer of {m}")
                                      for m in models])
        build_queue(store, BuildOptions())
        pairs = store.conn.execute("SELECT prompt_id FROM pairs").fetchall()
        arena_rows = store.conn.execute("SELECT count(*) FROM generations WHERE prompt_id LIKE 'arena-%'").fetchone()
        from_db = [p.prompt_id for p in load_prompts(store, GenerateRequest(models=["x"], from_db=True))]
    assert pairs == [("p1",)] and arena_rows == (2,)
    assert from_db == ["p1"]  # nor does `sbs generate --from-db` answer arena prompts (those would be paired)


# -- sbs serve ----------------------------------------------------------------------------------------------------


@pytest.fixture
async def team_server(tmp_path: Path):
    from aiohttp.test_utils import TestClient, TestServer

    from sbs_tui.web.server import ServeOptions, TeamServer
    from tests.annotate_helpers import make_store

    db = tmp_path / "team.db"
    store = make_store(db)
    tokens = {"alice": add_annotator(store, "alice")}
    store.close()
    clients = []

    async def start(arena_on: bool):
        server = TeamServer(ServeOptions(db_path=db, port=8000, arena=arena_on))
        client = TestClient(TestServer(server.make_app()))
        await client.start_server()
        clients.append(client)
        return client, server

    try:
        yield start, tokens
    finally:
        for client in clients:
            await client.close()


async def _sign_in(client, token: str, app: str):
    hop = await client.get("/", params={"token": token, "app": app})
    return await client.get(hop.headers["Refresh"].split("url=", 1)[1])


async def test_serve_refuses_the_arena_unless_the_campaign_turns_it_on(team_server) -> None:
    from sbs_tui.web.server import ARENA_OFF

    start, tokens = team_server
    client, server = await start(False)
    refused = await _sign_in(client, tokens["alice"], "arena")
    assert refused.status == 403 and "[arena] web = true" in await refused.text() and not server.tickets
    assert ARENA_OFF in await refused.text()
    client, server = await start(True)
    page = await _sign_in(client, tokens["alice"], "arena")
    assert page.status == 200 and "sbs arena — alice" in await page.text()
    (ticket,) = server.tickets.values()
    command = server.command_for(ticket)
    assert ticket.app == "arena" and "arena --annotator alice" in command and " annotate " not in command


def test_serve_checks_the_arena_before_serving_when_it_is_on(tmp_path: Path, cli) -> None:
    path = tmp_path / "c.toml"
    path.write_text("[arena]\nweb = true\n")
    db = database(tmp_path)
    result = cli("--db", db, "--config", str(path), "serve", "--annotator", "alice", "--port", "1")
    assert result.exit_code == 2 and "arena.models" in result.stderr


async def test_a_revocation_closes_an_open_arena_session(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real `sbs arena` process behind the in-process team server: revoking the annotator closes the arena
    session as it closes an annotator session, and no battle is started for them afterwards."""
    import asyncio

    from aiohttp.test_utils import TestClient, TestServer

    from sbs_tui.web.server import ServeOptions, TeamServer

    monkeypatch.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[1]))
    db = Path(database(tmp_path))
    with Store(db) as store:
        token = add_annotator(store, "alice")
    with FakeEndpoint() as endpoint:
        models = {"alpha-secret": (endpoint.base_url, "org/alpha"), "beta-secret": (endpoint.base_url, "org/beta")}
        path = config(tmp_path, models, "web = true\n")
        server = TeamServer(ServeOptions(db_path=db, config_path=path, port=8000, arena=True))
        client = TestClient(TestServer(server.make_app()))
        await client.start_server()
        try:
            body = await (await _sign_in(client, token, "arena")).text()
            ticket = body.split("/ws/", 1)[1].split('"', 1)[0]
            ws = await client.ws_connect(f"/ws/{ticket}?width=150&height=40",
                                         headers={"Origin": "http://127.0.0.1:8000"})
            drawn: list[str] = []

            async def drain() -> None:
                async for message in ws:
                    drawn.append(message.data if isinstance(message.data, str) else
                                 message.data.decode("utf-8", "replace"))

            task = asyncio.create_task(drain())
            deadline = time.monotonic() + 60
            while "Your prompt" not in "".join(drawn):  # the arena app is up and drawn
                assert time.monotonic() < deadline, "the arena app did not start"
                await asyncio.sleep(0.1)
            with Store(db) as store:
                store.accounts.revoke("alice")
            assert await server.check_revocations() == 1
            await asyncio.wait_for(task, 30)
            assert ws.closed and not server.live
            text = "".join(drawn)
            assert not [n for n in [*models, "org/alpha", "org/beta"] if n in text]
        finally:
            await client.close()
    assert ledger(str(db)) == []
