"""`sbs arena`: pair drawing, the rate limit, `[arena]` config errors, and the live screen in Pilot against the
shipped loopback streaming server — a normal battle and its stored vote, a model that stalls, one that errors, an
answer a gate blocks — with no model name on the screen before the vote, on every path."""

from __future__ import annotations

import html
import random
import re
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from sbs_tui.config import load_settings
from sbs_tui.core.generate import arena
from sbs_tui.core.gates.policy import GateConfig
from sbs_tui.core.gates.runner import GateRunner
from sbs_tui.core.store import Store
from sbs_tui.errors import InputError
from sbs_tui.testing.fake_endpoint import FakeEndpoint, reply_tokens
from scorers.base import Registry, ScoreResult
from tests.pilot_helpers import wait_until

MARKER = "because"


class MarkerScorer:
    """1 when the answer contains the marker word: a blocking gate the test controls."""

    name = "test_marker"
    higher_is_worse = True
    default_threshold = 0.5

    def __init__(self, spec):
        pass

    def score(self, items):
        return [ScoreResult(float(MARKER in i.output.split() or f"{MARKER}." in i.output), {}) for i in items]


def runner(*, blocking: bool = True) -> GateRunner:
    registry = Registry()
    registry.register("test_marker", MarkerScorer, origin="tests")
    gates = [GateConfig("marker", "test_marker", blocking=blocking, threshold=0.5)]
    return GateRunner(gates, registry=registry, identify_languages=False, uncovered="pass")


def config(tmp_path: Path, models: dict[str, tuple[str, str]], extra: str = "") -> Path:
    """``models``: name → (base_url, served name)."""
    text = "".join(f'[models.{n}]\nbase_url = "{u}"\nmodel = "{s}"\nmax_tokens = 40\n' for n, (u, s) in models.items())
    text += f"[arena]\nmodels = {list(models)!r}\nstall_timeout = 1\ntimeout = 10\n{extra}".replace("'", '"')
    path = tmp_path / "sbs.toml"
    path.write_text(text)
    return path


def database(tmp_path: Path) -> str:
    path = tmp_path / "arena.db"
    Store(path).close()
    return str(path)


def screen_text(app) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", app.export_screenshot())).replace("\xa0", " ")


def assert_blind(app, names) -> None:
    shown = screen_text(app)
    for name in names:
        assert name not in shown, name


# -- the core -----------------------------------------------------------------------------------------------------


def test_pairs_are_drawn_among_the_fewest_battles_only() -> None:
    counts = {frozenset(p): n for p, n in ((("a", "b"), 3), (("a", "c"), 0), (("b", "c"), 0))}
    rng = random.Random(1)
    drawn = Counter(frozenset(arena.draw_pair(counts, rng)) for _ in range(400))
    assert set(drawn) == {frozenset("ac"), frozenset("bc")}  # never the pair with more battles
    assert 150 < drawn[frozenset("ac")] < 250  # uniform among the fewest
    sides = Counter(arena.draw_pair(counts, rng)[0] for _ in range(400))
    assert sides["c"] > 120  # which one is A is a coin


def test_battle_counts_read_stored_votes(tmp_path: Path) -> None:
    store = Store(tmp_path / "c.db")
    battle = arena.new_battle("hi", "x", "y")
    battle.a.status = battle.b.status = "done"
    arena.store_vote(store, battle, "a", "ann")
    counts = arena.battle_counts(store, ["x", "y", "z"])
    assert counts == {frozenset("xy"): 1, frozenset("xz"): 0, frozenset("yz"): 0}


def test_rate_limit_is_a_sliding_minute() -> None:
    from sbs_tui.core.generate.arena_ledger import rate_wait_s

    assert rate_wait_s([], 2, 0.0) == 0
    assert rate_wait_s([0.0], 2, 0.0) == 0
    assert rate_wait_s([0.0, 0.0], 2, 10.0) == pytest.approx(50.0)
    assert rate_wait_s([0.0, 30.0], 2, 60.0) == 0  # the first start left the window
    assert rate_wait_s([0.0, 30.0, 40.0], 2, 50.0) == pytest.approx(40.0)  # two must leave: 30 + 60 - 50
    assert rate_wait_s([0.0, 30.0], 1.5, 50.0) == pytest.approx(10.0)  # 1.5 a minute: one in the window at most


@pytest.mark.parametrize("arena_toml, key, message", [
    ('models = ["a"]', "arena.models", "at least two"),
    ('models = ["a", "nope"]', "arena.models", "not declared"),
    ('models = ["a", "b"]\nbattles_per_minute = 0', "arena.battles_per_minute", "must be above 0"),
    ('models = ["a", "b"]\nrate = 3', "arena.rate", "unknown key"),
    ('models = ["a", "b"]\ntimout = 3', "arena.timout", "did you mean 'timeout'?"),
    ('models = "a"', "arena.models", "must be a list of non-empty strings"),
    ('models = ["a", ""]', "arena.models", "must be a list of non-empty strings"),
    ('', "arena.models", "missing: name at least two"),
    ('models = ["a", " a "]', "arena.models", "at least two different"),
    ('models = ["a", "b"]\n[models.b]\nbackend = "local"', "models.b.backend", "backend must be api"),
])
def test_arena_config_errors_name_the_key(tmp_path: Path, arena_toml: str, key: str, message: str) -> None:
    path = tmp_path / "c.toml"
    models_b = "" if "[models.b]" in arena_toml else '[models.b]\nbase_url = "http://h/v1"\n'
    path.write_text(f'[models.a]\nbase_url = "http://h/v1"\n{models_b}[arena]\n{arena_toml}\n')
    with pytest.raises(InputError) as info:
        arena.load_arena(load_settings(path))
    assert info.value.field == key and message in str(info.value) and str(path) in str(info.value.file)
    assert info.value.line is not None  # FILE:LINE, as for every section


def test_a_decision_of_the_background_watcher_is_read_back_by_side(tmp_path: Path) -> None:
    """Without an in-process runner the arena stores the answers pending and reads what the watcher decided."""
    from sbs_tui.core.generate.generation import ModelSpec

    store = Store(tmp_path / "w.db")
    battle = arena.new_battle("hi", "x", "y")
    for side, text in zip(battle.sides, ("first answer", "second answer")):
        side.status, side.text = "done", text
    arena.store_answers(store, battle, {"x": ModelSpec("x", "x"), "y": ModelSpec("y", "y")})
    assert not arena.settle_from_store(store, battle)  # still pending
    rows = {r["model"]: r for r in store.generations.pending(limit=10)}
    with store.transaction():
        store.gates.save_results([(rows["y"]["id"], "marker", "h", rows["y"]["output_sha"], 1.0, True, {})])
        store.gates.settle_decisions([(rows["x"]["id"], rows["x"]["output_sha"], "passed", "en", None, []),
                                      (rows["y"]["id"], rows["y"]["output_sha"], "blocked", "en", None, [])])
    assert arena.settle_from_store(store, battle)
    assert (battle.a.status, battle.b.status) == ("done", "blocked")
    assert battle.b.reason == "hidden: blocked by the marker gate" and not battle.votable


# -- the screen ---------------------------------------------------------------------------------------------------


def app_for(tmp_path: Path, models: dict[str, tuple[str, str]], *, gate: GateRunner | None = None,
            extra: str = "", seed: int = 0):
    from sbs_tui.tui.arena import ArenaApp

    settings = load_settings(config(tmp_path, models, extra))
    return ArenaApp(database(tmp_path), "ann", settings, arena.load_arena(settings), runner=gate or runner(),
                    seed=seed)


async def ask(pilot, app, prompt: str) -> None:
    from textual.widgets import Input

    app.query_one("#prompt-input", Input).value = prompt
    app.query_one("#prompt-input", Input).focus()
    await pilot.press("enter")
    assert await wait_until(pilot, lambda: app.battle is not None and app.battle.gated, timeout=30)


def vote_rows(db: str) -> list[tuple]:
    conn = sqlite3.connect(db)
    try:
        return conn.execute("SELECT ma.name, mb.name, v.winner, v.output_a, v.output_b, p.text FROM votes v "
                            "JOIN models ma ON ma.id = v.model_a_id JOIN models mb ON mb.id = v.model_b_id "
                            "JOIN prompts p ON p.id = v.prompt_id").fetchall()
    finally:
        conn.close()


async def test_a_battle_streams_both_answers_blind_and_stores_the_vote(tmp_path: Path) -> None:
    prompt = "Explain [bold]markup[/bold] \x1b[31m please"  # hostile text renders literally
    with FakeEndpoint(tokens_per_s=200) as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        gate = runner(blocking=False)  # informational: never hides
        app = app_for(tmp_path, models, gate=gate)
        async with app.run_test(size=(160, 40)) as pilot:
            assert_blind(app, [*models, "org/alpha", "org/beta"])
            await ask(pilot, app, prompt)
            battle = app.battle
            assert battle.votable
            shown = screen_text(app)
            assert "Model A" in shown and "Model B" in shown and "[bold]markup[/bold]" in shown
            assert "\x1b" not in shown and "␛[31m" in shown
            assert_blind(app, [*models, "org/alpha", "org/beta"])
            expected = "".join(reply_tokens(f"org/{battle.a.model.split('-')[0]}", prompt, temperature=1.0,
                                            max_tokens=40))
            assert battle.a.text == expected
            await pilot.press("1")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=10)
            assert_blind(app, [*models, "org/alpha", "org/beta"])  # reveal_after_vote is off
    rows = vote_rows(app.db_path)
    assert rows == [(battle.a.model, battle.b.model, "model_a", battle.a.text, battle.b.text, prompt)]
    store = Store(app.db_path)
    names, outcomes = store.votes.outcomes()
    assert sorted(names) == sorted(models) and outcomes  # rank reads it like any vote


async def test_a_narrow_terminal_stacks_the_answers_and_stays_blind(tmp_path: Path) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = app_for(tmp_path, models, gate=runner(blocking=False))
        async with app.run_test(size=(50, 16)) as pilot:
            await ask(pilot, app, "hello")
            assert app.query_one("#pair").has_class("stacked")
            shown = screen_text(app)
            assert "Model A" in shown and "Model B" in shown
            assert_blind(app, [*models, "org/alpha", "org/beta"])
            left, right = app.query_one("#left"), app.query_one("#right")
            assert left.max_scroll_y > 0 and right.max_scroll_y > 0  # long enough to scroll at this size
            left.scroll_to(y=left.max_scroll_y, animate=False)
            assert await wait_until(pilot, lambda: right.scroll_y > 0, timeout=5)  # synced scroll


async def test_names_are_revealed_after_the_vote_when_configured(tmp_path: Path) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = app_for(tmp_path, models, gate=runner(blocking=False), extra="[annotate]\nreveal_after_vote = true\n")
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "hello")
            assert_blind(app, models)
            await pilot.press("3")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=10)
            assert app.votes == 1
            assert any("A was" in str(n.message) and "alpha-secret" in str(n.message) for n in app._notifications)


async def test_a_stalled_model_is_shown_neutrally_and_gets_no_vote(tmp_path: Path) -> None:
    with FakeEndpoint() as good, FakeEndpoint(latency=5) as slow:
        models = {"fast-secret": (good.base_url, "org/fast"), "stall-secret": (slow.base_url, "org/stall")}
        app = app_for(tmp_path, models)
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "hello")
            stalled = next(s for s in app.battle.sides if s.model == "stall-secret")
            assert stalled.status == "failed"
            assert f"Model {stalled.label} did not answer" in screen_text(app)
            assert_blind(app, models)
            await pilot.press("1")  # no vote on an incomplete battle
            await pilot.pause()
            check = Store(app.db_path)  # the incomplete battle counts for the campaign's next draw
            assert arena.battle_counts(check, list(models)) == {frozenset(models): 1}
            check.close()
    assert vote_rows(app.db_path) == []
    conn = sqlite3.connect(app.db_path)
    (meta,) = conn.execute("SELECT meta FROM generations").fetchone()  # the answer that came, with the failure
    conn.close()
    import json

    failed = json.loads(meta)["arena"]["did_not_answer"]
    assert failed == [{"side": stalled.label, "model": "stall-secret", "error": "timeout"}]


async def test_an_erroring_model_is_shown_neutrally(tmp_path: Path) -> None:
    with FakeEndpoint() as good, FakeEndpoint() as bad:
        bad.fail_when = lambda body: 500
        models = {"ok-secret": (good.base_url, "org/ok"), "broken-secret": (bad.base_url, "org/broken")}
        app = app_for(tmp_path, models)
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "hello")
            broken = next(s for s in app.battle.sides if s.model == "broken-secret")
            assert broken.status == "failed" and "HTTP 500" in broken.reason
            assert f"Model {broken.label} did not answer" in screen_text(app)
            assert_blind(app, models)
            await pilot.press("2")
            await pilot.pause()
    assert vote_rows(app.db_path) == []


def _prompt_blocking_one(models: dict[str, tuple[str, str]]) -> tuple[str, str]:
    """A prompt whose answer from exactly one model contains the marker; that model's name."""
    for i in range(500):
        prompt = f"question {i}"
        has = {n: MARKER in "".join(reply_tokens(s, prompt, temperature=1.0, max_tokens=40)).replace(".", " ").split()
               for n, (_u, s) in models.items()}
        if sum(has.values()) == 1:
            return prompt, next(n for n, v in has.items() if v)
    raise AssertionError("no such prompt")


async def test_a_blocked_answer_is_hidden_with_a_reason_and_the_battle_is_gated(tmp_path: Path) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        prompt, blocked_model = _prompt_blocking_one(models)
        app = app_for(tmp_path, models)
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, prompt)
            side = next(s for s in app.battle.sides if s.model == blocked_model)
            assert side.status == "blocked"
            shown = screen_text(app)
            assert f"Model {side.label}: hidden: blocked by the marker gate" in shown
            assert MARKER not in shown.split()  # the blocked text itself is gone
            assert "gated" in shown
            assert_blind(app, models)
            await pilot.press("1")
            await pilot.pause()
            assert vote_rows(app.db_path) == []
            # the battle is recorded as gated, and a new pair can be drawn
            conn = sqlite3.connect(app.db_path)
            statuses = dict(conn.execute("SELECT m.name, g.gate_status FROM generations g JOIN models m "
                                         "ON m.id = g.model_id").fetchall())
            conn.close()
            assert statuses[blocked_model] == "blocked"
            await ask(pilot, app, "something else entirely")
            assert app.battle.prompt == "something else entirely"


async def test_the_rate_limit_refuses_a_battle_too_many(tmp_path: Path) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = app_for(tmp_path, models, gate=runner(blocking=False), extra="battles_per_minute = 1\n")
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "one")
            first = app.battle
            from textual.widgets import Input

            app.query_one("#prompt-input", Input).value = "two"
            app.query_one("#prompt-input", Input).focus()
            await pilot.press("enter")
            await pilot.pause()
            assert app.battle is first and "Rate limit" in screen_text(app)


def test_the_command_refuses_a_bad_arena_config(tmp_path: Path, cli) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[models.a]\nbase_url = "http://h/v1"\n[arena]\nmodels = ["a"]\n')
    db = database(tmp_path)
    result = cli("--db", db, "--config", str(path), "arena", "--annotator", "x")
    assert result.exit_code == 2 and "arena.models" in result.stderr


async def test_without_a_runner_the_background_watcher_gates_the_answers(tmp_path: Path) -> None:
    """The real path: the answers are stored pending, `sbs gate --watch` (a subprocess, so no scorer model loads
    in the app) decides, the arena reads the decision and takes the vote; the watcher stops with the app."""
    from textual.widgets import Input

    from sbs_tui.tui.arena import ArenaApp

    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        path = config(tmp_path, models, '[policy]\nuncovered = "pass"\n')
        settings = load_settings(path)
        app = ArenaApp(database(tmp_path), "ann", settings, arena.load_arena(settings), config_path=str(path))
        async with app.run_test(size=(160, 40)) as pilot:
            app.query_one("#prompt-input", Input).value = "Tell me about cats"
            app.query_one("#prompt-input", Input).focus()
            await pilot.press("enter")
            assert await wait_until(pilot, lambda: app.battle is not None and app.battle.gated, timeout=90)
            assert app.battle.votable, [(s.status, s.reason) for s in app.battle.sides]
            assert_blind(app, models)
            process = app.gate_process
            await pilot.press("2")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=10)
        assert process is None or process.poll() is not None
    assert [r[2] for r in vote_rows(app.db_path)] == ["model_b"]
    conn = sqlite3.connect(app.db_path)
    assert conn.execute("SELECT count(*) FROM generations WHERE gate_status = 'passed'").fetchone() == (2,)
    conn.close()


async def test_a_stored_prompt_can_be_taken_and_is_kept_in_the_vote(tmp_path: Path) -> None:
    from sbs_tui.core.records import GenerationRecord, prompt_id_for

    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = app_for(tmp_path, models, gate=runner(blocking=False))
        with Store(app.db_path) as store, store.transaction():
            store.generations.insert([GenerationRecord(prompt_id_for("a stored question"), "a stored question",
                                                       "someone", "an answer")])
        async with app.run_test(size=(160, 40)) as pilot:
            app.set_focus(None)
            await pilot.press("p")
            assert await wait_until(pilot, lambda: app.battle is not None and app.battle.gated, timeout=30)
            assert app.battle.prompt == "a stored question" and "a stored question" in screen_text(app)
            await pilot.press("4")
            assert await wait_until(pilot, lambda: app.votes == 1, timeout=10)
    conn = sqlite3.connect(app.db_path)
    winner, meta = conn.execute("SELECT winner, meta FROM votes").fetchone()
    conn.close()
    assert winner == "both_bad" and prompt_id_for("a stored question") in meta


class BrokenScorer(MarkerScorer):
    def score(self, items):
        from scorers.base import ScorerError

        raise ScorerError("the moderation endpoint is down")


async def test_gates_that_cannot_run_hide_both_answers_and_take_no_vote(tmp_path: Path) -> None:
    registry = Registry()
    registry.register("test_broken", BrokenScorer, origin="tests")
    broken = GateRunner([GateConfig("broken", "test_broken", blocking=True)], registry=registry,
                        identify_languages=False, uncovered="pass")
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = app_for(tmp_path, models, gate=broken)
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "hello")
            shown = screen_text(app)
            assert shown.count("hidden: the gates could not check it") == 2 and "endpoint is down" in shown
            assert_blind(app, models)
            await pilot.press("1")
            await pilot.pause()
    assert vote_rows(app.db_path) == []


async def test_a_vote_the_database_refuses_keeps_the_battle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with FakeEndpoint() as server:
        models = {"alpha-secret": (server.base_url, "org/alpha"), "beta-secret": (server.base_url, "org/beta")}
        app = app_for(tmp_path, models, gate=runner(blocking=False))
        async with app.run_test(size=(160, 40)) as pilot:
            await ask(pilot, app, "hello")
            battle = app.battle
            real = arena.store_vote

            def busy(*args, **kwargs):
                raise sqlite3.OperationalError("database is locked")

            monkeypatch.setattr(arena, "store_vote", busy)
            await pilot.press("1")
            assert await wait_until(pilot, lambda: "not stored" in screen_text(app), timeout=10)
            assert app.battle is battle
            assert_blind(app, models)
            monkeypatch.setattr(arena, "store_vote", real)
            await pilot.press("1")
            assert await wait_until(pilot, lambda: app.battle is None, timeout=10)
    assert len(vote_rows(app.db_path)) == 1
