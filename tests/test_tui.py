"""The annotator app under Pilot: every key path, blinding, hostile text, resume, narrow terminals."""

from __future__ import annotations

import io
import os
import sqlite3
import subprocess

import pytest
from tests.annotate_helpers import MODELS, make_store
from tests.pilot_helpers import wait_until

from sbs_tui.config import Settings, parse_settings
from sbs_tui.core.queue.build import BuildOptions, build_queue
from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.tui.annotate.app import AnnotatorApp, make_app
from sbs_tui.tui.widgets.answer import AnswerPane
from sbs_tui.tui.widgets.prompt import PromptPane


def votes(path) -> list[tuple]:
    """Votes as another process sees them: a fresh connection only sees committed rows."""
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT winner, shown_left, pair_id, rationale, criteria, flagged, flag_reason, uid FROM votes "
            "ORDER BY id").fetchall()


def body_text(app: AnnotatorApp, pane: str) -> str:
    """What the pane shows, as plain text (its renderable drawn by Rich at the pane's width)."""
    from rich.console import Console

    widget = app.screen.query_one(f"#{pane}", AnswerPane)
    console = Console(width=max(widget.content_region.width, 20), record=True, file=io.StringIO(),
                      color_system=None)
    console.print(widget.renderable)
    return console.export_text()


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sbs.db"
    make_store(path, prompts=6).close()
    return path


def app_for(db, annotator="ann", settings=None) -> AnnotatorApp:
    return make_app(db, annotator, settings or Settings(), gate_watch=False)


@pytest.mark.parametrize(("key", "choice"), [("1", "left"), ("2", "right"), ("3", "tie"), ("4", "both_bad")])
async def test_vote_keys_commit_before_the_next_pair(db, key, choice):
    app = app_for(db)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        pair = judge.pair
        await pilot.press(key)
        # committed: a separate connection sees it, and the screen already shows another pair
        (winner, shown_left, pair_id, *_rest, uid), = votes(db)
        assert pair_id == pair.pair_id and shown_left == pair.shown_left
        assert winner == pair.winner_for(choice)
        assert judge.pair.pair_id != pair.pair_id
        assert judge.done == 1


async def test_model_names_never_shown_before_the_vote(db):
    app = app_for(db)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(3):
            screen = app.export_screenshot()
            assert not any(model in screen for model in MODELS)
            await pilot.press("1")


async def test_reveal_after_vote_is_opt_in(tmp_path):
    db = tmp_path / "r.db"
    models = ("[bold]model-x[/bold]", "model-y")
    make_store(db, prompts=2, models=models, outputs={(i, m): f"answer {i} {k}" for i in range(2)
                                                      for k, m in enumerate(models)}).close()
    settings = parse_settings({"annotate": {"reveal_after_vote": True}})
    app = app_for(db, settings=settings)
    async with app.run_test(size=(160, 50)) as pilot:
        pair = app.screen.pair
        await pilot.press("1")
        await pilot.pause()
        assert any(pair.left_model in str(n.message) for n in app._notifications)
        # model names are data: shown literally, never parsed as Rich/Textual markup
        assert all(n.markup is False for n in app._notifications if "Left was" in n.message)


async def test_undo_deletes_the_vote_and_shows_the_pair_again(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        first = app.screen.pair
        await pilot.press("2")
        assert len(votes(db)) == 1
        await pilot.press("u")
        assert votes(db) == []
        assert app.screen.pair.pair_id == first.pair_id and app.screen.pair.shown_left == first.shown_left
        await pilot.press("u")  # nothing left to undo: a notice, no crash
        assert app.screen.pair.pair_id == first.pair_id


async def test_skip_moves_on_without_a_vote(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        first = app.screen.pair
        await pilot.press("s")
        assert votes(db) == [] and app.screen.pair.pair_id != first.pair_id
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT status FROM assignments WHERE pair_id = ?",
                                (first.pair_id,)).fetchone() == ("skipped",)


async def test_flag_with_reason_is_saved_on_the_assignment_and_the_vote(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        await pilot.press("f")
        assert app.screen.id == "flag-prompt"
        await pilot.press(*"prompt is broken", "enter")
        assert app.screen.id == "judge" and app.screen.flagged
        await pilot.press("4")
        (row,) = votes(db)
        assert row[5] == 1 and row[6] == "prompt is broken"


async def test_escape_cancels_flag(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        await pilot.press("f", "x", "escape")
        assert app.screen.id == "judge" and not app.screen.flagged


async def test_rationale_goes_with_the_next_vote_only(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        await pilot.press("r", *"left is correct", "enter", "1", "2")
        rows = votes(db)
        assert rows[0][3] == "left is correct" and rows[1][3] is None


async def test_criteria_are_stored_in_model_terms(db):
    settings = parse_settings({"annotate": {"criteria": ["helpfulness", "harmlessness"]}})
    app = app_for(db, settings=settings)
    async with app.run_test() as pilot:
        pair = app.screen.pair
        await pilot.press("c")
        assert app.screen.id == "criteria-prompt"
        await pilot.press("1", "3", "enter")  # a digit moves on to the next criterion
        await pilot.press("1")
        import json

        criteria = json.loads(votes(db)[0][4])
        assert criteria == {"helpfulness": pair.shown_left, "harmlessness": "tie"}


async def test_criteria_key_disabled_without_criteria(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        await pilot.press("c")
        assert app.screen.id == "judge"


async def test_toggles_markdown_diff_sync(db):
    app = app_for(db)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        from rich.markdown import Markdown
        from rich.text import Text

        assert judge.markdown_mode and judge.sync_scroll and not judge.diff_mode
        assert isinstance(judge.query_one("#left", AnswerPane).renderable, Markdown)
        await pilot.press("m")
        assert not judge.markdown_mode and isinstance(judge.query_one("#left", AnswerPane).renderable, Text)
        await pilot.press("d")
        assert judge.diff_mode
        left = judge.query_one("#left", AnswerPane).renderable
        assert any("underline" in str(span.style) for span in left.spans)  # the differing words are marked
        await pilot.press("y")
        assert not judge.sync_scroll
        await pilot.press("question_mark")
        assert app.screen.id == "help"
        await pilot.press("escape")
        assert app.screen.id == "judge"


async def test_synchronised_scrolling_mirrors_the_other_pane(tmp_path):
    long = "\n".join(f"line {i}" for i in range(300))
    path = tmp_path / "s.db"
    make_store(path, prompts=1, models=MODELS[:2], outputs={(0, MODELS[0]): long, (0, MODELS[1]): long}).close()
    app = app_for(path, settings=parse_settings({"annotate": {"markdown": False}}))
    async with app.run_test(size=(120, 30)) as pilot:
        left = app.screen.query_one("#left", AnswerPane)
        right = app.screen.query_one("#right", AnswerPane)
        left.scroll_to(y=100, animate=False, immediate=True)
        await pilot.pause()
        assert right.scroll_y == pytest.approx(left.scroll_y, abs=2)
        await pilot.press("y")
        left.scroll_to(y=10, animate=False, immediate=True)
        await pilot.pause()
        assert right.scroll_y > 50


async def test_hostile_text_is_shown_literally(tmp_path):
    hostile = ("[bold red]not bold[/] \x1b[31mred?\x1b[0m zero\u200bwidth \u202eRTL override\u202c "
               "[link=http://x]click[/link] Привет мир 漢字とかなの混じった文 :smile:")
    path = tmp_path / "h.db"
    make_store(path, prompts=1, models=MODELS[:2], outputs={(0, MODELS[0]): hostile, (0, MODELS[1]): hostile}).close()
    app = app_for(path)
    async with app.run_test(size=(80, 24)) as pilot:
        for mode in ("markdown", "raw"):
            text = body_text(app, "left")
            assert "[bold red]not bold[/]" in text and "[link=http://x]click[/link]" in text, mode
            assert "\x1b" not in text and "␛[31m" in text, mode
            assert "⟨U+200B⟩" in text and "⟨U+202E⟩" in text and "\u202e" not in text, mode
            assert "Привет мир" in text and "漢字" in text and ":smile:" in text, mode
            await pilot.press("m")
        await pilot.press("1")
        assert len(votes(path)) == 1


async def test_megabyte_answer_is_truncated_with_show_more(tmp_path):
    huge = ("A long paragraph of text. " * 40 + "\n") * 1000  # ~1 MB
    path = tmp_path / "big.db"
    make_store(path, prompts=1, models=MODELS[:2], outputs={(0, MODELS[0]): huge}).close()
    app = app_for(path)
    async with app.run_test(size=(120, 40)) as pilot:
        judge = app.screen
        pane = judge.pair.left if len(judge.pair.left) > 1000 else judge.pair.right
        assert len(pane) > 1_000_000
        side = "left" if judge.pair.left is pane else "right"
        text = body_text(app, side)
        assert len(text) < 25_000 and "more characters — press e to show more" in text
        await pilot.press("e")
        assert len(body_text(app, side)) > len(text)
        assert "1,0" in str(judge.query_one(f"#{side}", AnswerPane).border_subtitle)  # length shown


async def test_narrow_terminal_stacks_the_answers(db):
    app = app_for(db)
    async with app.run_test(size=(80, 24)) as pilot:
        answers = app.screen.query_one("#pair")  # the prompt and the answers, in one grid
        assert answers.has_class("stacked")
        left, right = app.screen.query_one("#left"), app.screen.query_one("#right")
        assert left.region.y < right.region.y and left.region.x == right.region.x
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert not answers.has_class("stacked")
        assert left.region.y == right.region.y and left.region.x < right.region.x


async def test_resume_after_quit_shows_the_same_pair(db):
    app = app_for(db)
    async with app.run_test() as pilot:
        await pilot.press("1")
        shown = app.screen.pair
        await pilot.press("q")
    app.store.close()
    again = app_for(db)
    async with again.run_test():
        assert again.screen.pair.pair_id == shown.pair_id and again.screen.pair.shown_left == shown.shown_left
        assert again.screen.done == 1


async def test_keys_remapped_from_config(db):
    settings = parse_settings({"annotate": {"keys": {"vote_left": "j", "vote_right": "k"}}})
    app = app_for(db, settings=settings)
    async with app.run_test() as pilot:
        pair = app.screen.pair
        await pilot.press("j")
        assert votes(db)[0][0] == pair.winner_for("left")
        await pilot.press("1")  # the old key no longer votes
        assert len(votes(db)) == 1


def test_unknown_key_action_is_an_input_error():
    from sbs_tui.errors import InputError

    with pytest.raises(InputError, match="annotate.keys.vote_sideways"):
        (parse_settings({"annotate": {"keys": {"vote_sideways": "x"}}}))


async def test_empty_queue_and_cap_messages(tmp_path):
    path = tmp_path / "e.db"
    store = make_store(path, prompts=1)
    store.queue.set_cap("ann", 1)
    store.close()
    app = app_for(path)
    async with app.run_test() as pilot:
        await pilot.press("1")
        assert app.screen.pair is None
        assert "limit of 1 votes" in str(app.screen.query_one("#empty").render())
        await pilot.press("1", "s")  # disabled without a pair: nothing happens
        assert len(votes(path)) == 1


async def test_pending_gates_show_notice_and_pairs_appear_when_passed(tmp_path, monkeypatch):
    import sbs_tui.tui.annotate.app as app_module
    from sbs_tui.core.store import Store

    def cannot_start(*args, **kwargs):
        raise OSError("no such interpreter")

    monkeypatch.setattr(app_module, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(subprocess, "Popen", cannot_start)  # the watcher cannot start: the app says so, once
    path = tmp_path / "g.db"
    make_store(path, prompts=2, gate="pending").close()
    app = make_app(path, "ann", Settings(), gate_watch=True)
    async with app.run_test() as pilot:
        assert app.screen.pair is None
        assert "waiting for the automatic gates" in str(app.screen.query_one("#empty").render())
        await pilot.pause(0.2)
        notices = [str(n.message) for n in app._notifications]
        assert sum("could not start background gating: no such interpreter" in m for m in notices) == 1
        other = Store(path)
        with other.transaction():
            other.generations.set_gate_status(other.generations.ids(), "passed")
        other.close()
        await wait_until(pilot, lambda: app.screen.pair is not None)  # the app's database poll finds them
        assert app.screen.pair is not None
    assert app.gate_process is None


async def test_background_gating_runs_as_a_subprocess_and_stops_on_quit(tmp_path, monkeypatch):
    import sbs_tui.cli
    import sbs_tui.tui.annotate.app as app_module

    started = []

    class FakeProcess:
        def __init__(self, command, **kwargs):
            started.append(command)
            self.terminated = False

        def poll(self):
            return 0 if self.terminated else None

        def terminate(self):
            self.terminated = True

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(app_module.subprocess, "Popen", FakeProcess)
    monkeypatch.setitem(sbs_tui.cli.COMMANDS, "gate", "gate:gate_command")
    path = tmp_path / "g.db"
    make_store(path, prompts=1, gate="pending").close()
    app = make_app(path, "ann", Settings(), config_path="cfg.toml", gate_watch=True)
    async with app.run_test() as pilot:
        process = app.gate_process
        assert started and started[0][1:3] == ["-m", "sbs_tui"]
        assert started[0][3:9] == ["--db", str(path), "--config", "cfg.toml", "gate", "--watch"]
        await pilot.press("q")
    assert process.terminated and app.gate_process is None


async def test_no_gating_subprocess_when_gating_not_required(tmp_path, monkeypatch):
    import sbs_tui.tui.annotate.app as app_module

    monkeypatch.setattr(app_module.subprocess, "Popen", lambda *a, **k: (_ for _ in ()).throw(AssertionError))
    monkeypatch.setenv("SBS_GATING_REQUIRED", "0")
    path = tmp_path / "g.db"
    make_store(path, prompts=1, gate="pending").close()
    from sbs_tui.config import load_settings

    app = make_app(path, "ann", load_settings(), gate_watch=True)  # the environment is read when loading
    async with app.run_test():
        assert app.screen.pair is not None and app.gate_process is None


async def test_vote_from_a_stale_window_is_refused_and_moves_on(db):
    from sbs_tui.core.queue.annotator import AnnotatorQueue
    from sbs_tui.core.store import Store

    app = app_for(db)
    async with app.run_test() as pilot:
        shown = app.screen.pair
        other = Store(db)
        AnnotatorQueue(other, "ann").vote(shown, "left", ts="t")  # the same annotator, in another window
        other.close()
        await pilot.press("2")
        assert len(votes(db)) == 1 and app.screen.pair.pair_id != shown.pair_id


async def test_empty_screen_picks_up_pairs_when_the_queue_is_rebuilt(tmp_path, monkeypatch):
    import sbs_tui.tui.annotate.app as app_module
    from sbs_tui.core.queue.build import BuildOptions, build_queue
    from sbs_tui.core.store import Store

    monkeypatch.setattr(app_module, "POLL_SECONDS", 0.05)
    path = tmp_path / "late.db"
    make_store(path, prompts=2, build=False).close()  # no queue yet
    app = app_for(path)
    async with app.run_test() as pilot:
        assert app.screen.pair is None
        lead = Store(path)
        build_queue(lead, BuildOptions())
        lead.close()
        await wait_until(pilot, lambda: app.screen.pair is not None)
        assert app.screen.pair is not None


async def test_apps_share_one_watcher_and_take_over_when_it_ends(tmp_path, monkeypatch):
    """Another app's watcher gates this database: this app starts none, and starts one when that one ends."""
    import sbs_tui.tui.annotate.app as app_module
    from sbs_tui.core.gates.watcher import hold_lock

    started = []

    class FakeProcess:
        def __init__(self, command, **kwargs):
            started.append(command)
            self.env = kwargs.get("env", {})

        def poll(self):
            return None

        def terminate(self):
            pass

        def wait(self, timeout=None):
            return 0

    monkeypatch.setattr(app_module, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(subprocess, "Popen", FakeProcess)
    path = tmp_path / "g.db"
    make_store(path, prompts=1, gate="pending").close()
    other_watcher = hold_lock(path)
    assert other_watcher.acquired
    app = make_app(path, "ann", Settings(), gate_watch=True)
    async with app.run_test() as pilot:
        await pilot.pause(0.2)
        assert started == [] and app.gate_process is None
        other_watcher.release()  # the other app quit (or was killed): its watcher's lock is gone
        await pilot.pause(0.3)
        assert len(started) == 1 and started[0][3:7] == ["--db", str(path), "gate", "--watch"]
        assert app.gate_process.env["SBS_PARENT_PID"] == str(os.getpid())  # it dies with this app
        await pilot.pause(0.2)
        assert len(started) == 1


async def test_failed_background_gating_is_reported(tmp_path, monkeypatch):
    import sbs_tui.cli
    import sbs_tui.tui.annotate.app as app_module

    class ExitedProcess:
        returncode = 2

        def __init__(self, command, **kwargs):
            pass

        def poll(self):
            return 2

    monkeypatch.setattr(app_module, "POLL_SECONDS", 0.05)
    monkeypatch.setattr(app_module.subprocess, "Popen", ExitedProcess)
    monkeypatch.setitem(sbs_tui.cli.COMMANDS, "gate", "gate:gate_command")
    path = tmp_path / "g.db"
    make_store(path, prompts=1, gate="pending").close()
    app = make_app(path, "ann", Settings(), gate_watch=True)
    async with app.run_test() as pilot:
        await wait_until(pilot, lambda: any("stopped" in str(n.message) for n in app._notifications))
        assert any("Background gating stopped (exit 2)" in str(n.message) for n in app._notifications)
        assert app.gate_process is None


async def test_active_queue_is_refreshed_in_the_background_every_n_votes(tmp_path):
    from sbs_tui.core.queue.build import BuildOptions, build_queue
    from sbs_tui.core.store import Store

    path = tmp_path / "a.db"
    store = make_store(path, prompts=6, build=False)
    build_queue(store, BuildOptions(strategy="active", overlap=2))
    before = dict(store.conn.execute("SELECT id, priority FROM pairs").fetchall())
    store.close()
    settings = parse_settings({"annotate": {"active_refresh_every": 2}})
    app = app_for(path, settings=settings)
    async with app.run_test() as pilot:
        await pilot.press("1", "1")
        await app.workers.wait_for_complete()
    with Store(path) as after_store:
        after = dict(after_store.conn.execute("SELECT id, priority FROM pairs").fetchall())
    assert after != before  # the two votes changed the model-pair values, hence the order


def screen_text(app: AnnotatorApp) -> str:
    """What the terminal shows, as plain text (from the real compositor's screenshot)."""
    import html
    import re

    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


async def test_each_new_pair_is_drawn_in_full(db):
    """The panes are drawn from lines rendered once per pair: after every vote the screen shows the new prompt and
    both new answers (not the previous pair's, not blank)."""
    app = app_for(db)
    async with app.run_test(size=(160, 50)) as pilot:
        for _ in range(4):
            pair = app.screen.pair
            shown = screen_text(app)
            assert pair.prompt in shown and pair.left.strip() in shown and pair.right.strip() in shown
            await pilot.press("1")
            await pilot.pause()


async def test_long_texts_say_where_the_reader_is(tmp_path):
    long_prompt = "\n".join(f"prompt line {i}" for i in range(40))
    long_answer = "\n".join(f"answer line {i}" for i in range(200))
    path = tmp_path / "long.db"
    store = Store(path)
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(long_prompt), long_prompt, m, long_answer)
                                  for m in MODELS[:2]])
        store.generations.set_gate_status(store.generations.ids(), "passed")
    build_queue(store, BuildOptions())
    store.close()
    app = app_for(path, settings=parse_settings({"annotate": {"markdown": False}}))
    async with app.run_test(size=(120, 40)) as pilot:
        prompt = app.screen.query_one("#prompt-box", PromptPane)
        left = app.screen.query_one("#left", AnswerPane)
        # The box grows with the prompt up to a third of the screen (13 rows of 40: 11 lines inside the border).
        assert "lines 1–11 of 40 ↓" in str(prompt.border_subtitle)
        assert str(left.border_subtitle).endswith("of 200 ↓")
        await pilot.press("tab")  # focus moves to a pane that scrolls with the keys
        focused = app.focused
        assert isinstance(focused, (PromptPane, AnswerPane))
        await pilot.press("end")
        await pilot.pause()
        assert focused.scroll_y == focused.max_scroll_y > 0
        assert "↓" not in str(focused.border_subtitle)
