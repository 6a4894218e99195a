"""The annotator app as a new user finds it (issue 11 §5): the prompt box fits the prompt, Tab cycles the panes
and focus shows without colour, the scroll keys work with nothing focused, the scroll note follows a resize,
End reaches the last line, "remaining" survives an undo, `c` without criteria says how to set them up, the help
tells the truth about names and fits 80×24, and the footer keeps Quit at 80 columns.

Each test failed on the app before these fixes (the assertion that did is named in its docstring)."""

from __future__ import annotations

import html
import re

import pytest
from tests.annotate_helpers import MODELS, make_store
from tests.pilot_helpers import wait_until

from sbs_tui.config import Settings, parse_settings
from sbs_tui.core.queue.build import BuildOptions, build_queue
from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.tui.annotate.app import AnnotatorApp, make_app
from sbs_tui.tui.annotate.judge_keys import FOOTER_ALWAYS, JUDGE_KEYS, footer_fit, footer_width
from sbs_tui.tui.widgets.answer import AnswerPane
from sbs_tui.tui.widgets.prompt import PromptPane

RAW = parse_settings({"annotate": {"markdown": False}})


def one_pair(path, prompt: str, left: str, right: str) -> None:
    """A database whose queue holds one pair: ``prompt`` answered ``left``/``right`` (sides as drawn)."""
    store = Store(path)
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(prompt), prompt, MODELS[0], left),
                                  GenerationRecord(prompt_id_for(prompt), prompt, MODELS[1], right)])
        store.generations.set_gate_status(store.generations.ids(), "passed")
    build_queue(store, BuildOptions())
    store.close()


def lines(n: int, what: str = "line") -> str:
    return "\n".join(f"{what} {i}" for i in range(1, n + 1))


def screen_text(app: AnnotatorApp) -> str:
    svg = app.export_screenshot()
    return html.unescape(re.sub(r"<[^>]+>", "", svg)).replace("\xa0", " ")


def footer_text(app: AnnotatorApp) -> str:
    """The footer's keys as drawn: "1 Left 2 Right …" (each key and its description, in order)."""
    from textual.widgets import Footer
    from textual.widgets._footer import FooterKey

    footer = app.screen.query_one(Footer)
    shown = [key for key in footer.query(FooterKey) if key.region.right <= footer.region.right and key.region.width]
    return " ".join(f"{key.key_display} {key.description}".strip() for key in shown)


def status(app: AnnotatorApp) -> str:
    return str(app.screen.query_one("#status").render())


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "sbs.db"
    make_store(path, prompts=6).close()
    return path


async def settle(pilot) -> None:
    await pilot.app.workers.wait_for_complete()
    await pilot.pause()


# -- 1. the prompt box ------------------------------------------------------------------------------------------------

async def test_prompt_box_is_as_tall_as_the_prompt(tmp_path):
    """Was: a fixed 3-line box, "lines 1–3 of 8" for an 8-line prompt while 35 rows stayed empty at 160×50."""
    one_pair(tmp_path / "p.db", lines(8, "instruction"), "a", "b")
    app = make_app(tmp_path / "p.db", "ann", RAW, gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        prompt = app.screen.query_one("#prompt-box", PromptPane)
        left = app.screen.query_one("#left", AnswerPane)
        assert prompt.region.height == 8 + 2  # every line, and its border
        assert not prompt.border_subtitle  # nothing hidden, so no "lines 1–3 of 8"
        assert "instruction 8" in screen_text(app)
        # the answers take every other row: status line, prompt box, answers, footer
        assert left.region.y == prompt.region.bottom and left.region.bottom == 50 - 1


async def test_short_prompt_leaves_the_rows_to_the_answers(tmp_path):
    one_pair(tmp_path / "p.db", "Say hi.", "a", "b")
    app = make_app(tmp_path / "p.db", "ann", RAW, gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        assert app.screen.query_one("#prompt-box").region.height == 3
        assert app.screen.query_one("#left").region.height == 50 - 1 - 3 - 1


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 50)])
async def test_long_prompt_takes_at_most_a_third_and_scrolls(tmp_path, size):
    one_pair(tmp_path / "p.db", lines(60, "rule"), lines(100), "b")
    app = make_app(tmp_path / "p.db", "ann", RAW, gate_watch=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        prompt = app.screen.query_one("#prompt-box", PromptPane)
        shown = prompt.region.height - 2
        assert prompt.region.height <= size[1] // 3 and shown >= 3
        assert str(prompt.border_subtitle).startswith(f"lines 1–{shown} of 60 ↓")
        await pilot.press("tab")  # the first Tab goes to the prompt
        assert app.focused is prompt
        await pilot.press("end")
        await pilot.pause()
        assert f"lines {60 - shown + 1}–60 of 60" in str(prompt.border_subtitle)
        assert "rule 60" in screen_text(app)


# -- 2. focus and the scroll keys -------------------------------------------------------------------------------------

async def test_tab_cycles_prompt_left_right_and_back(db):
    """Was: the screen bound Tab to an action it does not have, so Tab never moved focus off the prompt."""
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        assert app.focused is None  # nothing focused: the scroll keys move both answers
        order = []
        for _ in range(4):
            await pilot.press("tab")
            order.append(app.focused.id)
        assert order == ["prompt-box", "left", "right", "prompt-box"]
        await pilot.press("shift+tab")
        assert app.focused.id == "right"
        await pilot.press("escape")
        assert app.focused is None


async def test_focus_shows_without_colour(db):
    """Was: only the border's colour changed. Now the title has a ▶ and the border turns heavy."""
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        panes = [app.screen.query_one(f"#{pid}") for pid in ("prompt-box", "left", "right")]
        assert not any(str(p.border_title).startswith("▶") for p in panes)
        for focused in panes:
            await pilot.press("tab")
            for pane in panes:
                has = pane is focused
                assert str(pane.border_title).startswith("▶ ") == has, pane.id
                assert (pane.styles.border_top[0] == "heavy") == has, pane.id
        text = screen_text(app)
        assert "▶ Right · 2" in text and "┏" in text  # drawn, not only set


@pytest.mark.parametrize("size", [(80, 24), (160, 50)])
async def test_scroll_keys_move_both_answers_when_no_pane_has_focus(tmp_path, size):
    """Was: the prompt had focus, so PageDown/End scrolled the prompt (or nothing) and never an answer."""
    one_pair(tmp_path / "s.db", "Short prompt.", lines(200), lines(150))
    settings = parse_settings({"annotate": {"markdown": False, "sync_scroll": False}})
    app = make_app(tmp_path / "s.db", "ann", settings, gate_watch=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        left, right = (app.screen.query_one(f"#{side}", AnswerPane) for side in ("left", "right"))
        pages = [pane.scrollable_content_region.height for pane in (left, right)]  # stacked: 7 and 8 at 80×24
        await pilot.press("pagedown")
        assert [left.scroll_y, right.scroll_y] == pages
        await pilot.press("down")
        assert [left.scroll_y, right.scroll_y] == [page + 1 for page in pages]
        await pilot.press("end")
        assert (left.scroll_y, right.scroll_y) == (left.max_scroll_y, right.max_scroll_y)
        await pilot.press("up", "home")
        assert left.scroll_y == right.scroll_y == 0
        # a focused pane takes the keys for itself (synchronised scrolling is off here)
        await pilot.press("tab", "tab", "tab")
        assert app.focused is right
        await pilot.press("pagedown")
        await pilot.pause()
        assert right.scroll_y > 0 and left.scroll_y == 0


# -- 3., 4. the scroll note and End -----------------------------------------------------------------------------------

async def test_scroll_note_follows_a_resize(tmp_path):
    """Was: after a resize that kept the width, the border still said "lines 1–31 of 200" on a 21-line pane."""
    one_pair(tmp_path / "r.db", "Short prompt.", lines(200), lines(200))
    app = make_app(tmp_path / "r.db", "ann", RAW, gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        left = app.screen.query_one("#left", AnswerPane)
        height = left.scrollable_content_region.height
        assert f"lines 1–{height} of 200 ↓" in str(left.border_subtitle)
        for size in ((120, 30), (120, 45), (80, 24)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            height = left.scrollable_content_region.height
            assert str(left.border_subtitle).endswith(f"lines 1–{height} of 200 ↓"), size


@pytest.mark.parametrize("size", [(80, 24), (120, 40), (160, 50)])
async def test_end_shows_the_last_line_in_every_pane(tmp_path, size):
    one_pair(tmp_path / "e.db", lines(60, "rule"), lines(200, "left"), lines(137, "right"))
    app = make_app(tmp_path / "e.db", "ann", RAW, gate_watch=False)
    async with app.run_test(size=size) as pilot:
        await settle(pilot)
        for pid in ("prompt-box", "left", "right"):
            await pilot.press("tab")
            pane = app.screen.query_one(f"#{pid}")
            assert app.focused is pane
            await pilot.press("end")
            await pilot.pause()
            last = pane.render_line(pane.scrollable_content_region.height - 1).text
            assert last.strip() == pane._lines[-1].text.strip() != "", pid
            assert "↓" not in str(pane.border_subtitle), pid


async def test_a_pane_between_lines_draws_the_line_its_note_names(tmp_path):
    """Was one line short: an eased scroll can stop at 168.6 — the pane drew from int(168.6) = 168 while Textual
    rounds its own offset to 169, so at the end the last line was cut off. Now both round."""
    one_pair(tmp_path / "f.db", "Short prompt.", lines(200), lines(200))
    app = make_app(tmp_path / "f.db", "ann", RAW, gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        left = app.screen.query_one("#left", AnswerPane)
        height = left.scrollable_content_region.height
        left.scroll_silently(left.max_scroll_y - 0.4)
        await pilot.pause()
        assert left.render_line(height - 1).text.strip() == "line 200"
        assert str(left.border_subtitle).endswith(f"lines {200 - height + 1}–200 of 200")


# -- 5. remaining after an undo ---------------------------------------------------------------------------------------

async def test_remaining_is_right_after_an_undo(tmp_path):
    """Was one short: the pair on screen when undoing stays claimed, and was no longer counted."""
    path = tmp_path / "u.db"
    make_store(path, prompts=2).close()  # 2 prompts × 3 model pairs = 6 pairs
    app = make_app(path, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        assert "remaining 6" in status(app)
        await pilot.press("1")
        assert "remaining 5" in status(app)
        await pilot.press("u")
        assert "remaining 6" in status(app)
        await pilot.press("1")  # the same pair again, then the one that was held back
        assert "remaining 5" in status(app)
        assert await vote_to_the_end(pilot, app, total=6, seen=1) == 6


async def test_remaining_is_right_after_an_undo_quit_and_resume(tmp_path):
    """Was one low: the pair held back by an undo was neither open nor on screen after a restart."""
    path = tmp_path / "r.db"
    make_store(path, prompts=2).close()  # 6 pairs
    app = make_app(path, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("1")
        await pilot.press("u")
        assert "remaining 6" in status(app)
    again = make_app(path, "ann", Settings(), gate_watch=False)
    async with again.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await wait_until(pilot, lambda: "remaining 6" in status(again))
        assert "remaining 6" in status(again)
        assert await vote_to_the_end(pilot, again, total=6, seen=0) == 6


async def vote_to_the_end(pilot, app: AnnotatorApp, *, total: int, seen: int) -> int:
    """Vote until no pair is left, checking "remaining" after every vote; returns the pairs seen."""
    while app.screen.pair is not None:
        await pilot.press("2")
        seen += 1
        assert f"remaining {total - seen}" in status(app)
    return seen


# -- 6. criteria ------------------------------------------------------------------------------------------------------

async def test_criteria_key_without_criteria_says_how_to_set_them_up(db):
    """Was: `c` did nothing at all."""
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("c")
        assert app.screen.id == "judge"
        (notice,) = [n for n in app._notifications if "criteria" in n.message]
        assert "[annotate]" in notice.message and "criteria = [" in notice.message and notice.markup is False
        assert "--config" in notice.message
        assert "Criteria" not in footer_text(app)  # no room taken in the footer for a key with nothing to ask


async def test_criteria_key_is_in_the_footer_when_criteria_are_set(db):
    app = make_app(db, "ann", parse_settings({"annotate": {"criteria": ["helpfulness"]}}), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert "c Criteria" in footer_text(app)


# -- 7. help ----------------------------------------------------------------------------------------------------------

def help_text(app: AnnotatorApp) -> str:
    """The help as read on an 80-column screen (the dialog spans it): borders out, lines joined."""
    return " ".join(re.sub(r"[│┃╭╮╰╯─━┏┓┗┛▁▂▃▄▅▆▇█▔▌]", " ", screen_text(app)).split())


@pytest.mark.parametrize("reveal", [False, True])
async def test_help_says_what_happens_to_model_names(db, reveal):
    """Was: "model names are hidden until you vote" even with reveal_after_vote off (they are never shown)."""
    app = make_app(db, "ann", parse_settings({"annotate": {"reveal_after_vote": reveal}}), gate_watch=False)
    async with app.run_test(size=(80, 30)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        if reveal:
            assert "hidden until you vote, then shown for a moment" in text
            assert "withdraw your last vote" in text
        else:
            assert "never shown here, not even after you vote" in text
            assert "until you vote" not in text and "delete your last vote and judge it again" in text
        assert "none set up ([annotate] criteria)" in text


async def test_help_fits_80x24_and_closes(db):
    """Was cut off at 80×24: the last keys and the note were below the dialog's edge."""
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        text = help_text(app)
        for _key, _action, description, _bid, _show, _note in JUDGE_KEYS:
            assert description in text, description
        assert "quitting resumes where you stopped" in text and "esc closes" in text
        await pilot.press("escape")
        assert app.screen.id == "judge"


async def test_help_scrolls_when_the_terminal_is_shorter(db):
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(80, 16)) as pilot:
        await pilot.press("question_mark")
        await pilot.pause()
        body = app.screen.query_one("#help-body")
        assert body.max_scroll_y > 0 and "↑↓ more" in str(body.border_subtitle)
        assert app.focused is body  # the arrow keys scroll it at once
        await pilot.press("end")
        await pilot.pause(0.2)
        assert "quitting resumes where you stopped" in help_text(app)


# -- 8. the footer ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("criteria", [[], ["helpfulness", "harmlessness"]])
@pytest.mark.parametrize("width", [80, 90, 100, 120])
async def test_footer_keeps_votes_help_and_quit(db, width, criteria):
    """Was: at 80 columns the footer was cut at the right edge and lost "q Quit"."""
    app = make_app(db, "ann", parse_settings({"annotate": {"criteria": criteria}}), gate_watch=False)
    async with app.run_test(size=(width, 30)) as pilot:
        await pilot.pause()
        shown = footer_text(app)
        for needed in ("1 Left", "2 Right", "3 Tie", "4 Both bad", "? Help", "q Quit"):
            assert needed in shown, (width, shown)
        (bottom,) = [line for line in screen_text(app).splitlines() if "2 Right" in line]
        assert "q Quit" in bottom  # on screen, not only laid out


async def test_footer_shows_every_key_when_there_is_room(db):
    app = make_app(db, "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(160, 50)) as pilot:
        await pilot.pause()
        assert footer_text(app) == "1 Left 2 Right 3 Tie 4 Both bad u Undo s Skip f Flag r Rationale ? Help q Quit"
        await pilot.resize_terminal(80, 24)
        await pilot.pause()
        assert "q Quit" in footer_text(app)
        await pilot.resize_terminal(160, 50)
        await pilot.pause()
        assert "f Flag" in footer_text(app)


def test_footer_fit_drops_the_least_used_keys_first():
    items = [(bid, key if key != "question_mark" else "?", text)
             for key, _a, text, bid, show, _n in JUDGE_KEYS if show]
    assert footer_fit(200, items) == (False, frozenset())
    assert footer_fit(80, [item for item in items if item[0] != "criteria"]) == (True, frozenset())
    assert footer_fit(80, items) == (True, {"flag", "rationale"})
    for width in range(40, 120):
        compact, hidden = footer_fit(width, items)
        assert not hidden & FOOTER_ALWAYS
        kept = [(k, t) for b, k, t in items if b not in hidden]
        assert footer_width(kept, compact=compact) <= width or hidden >= {"flag", "rationale", "criteria", "skip",
                                                                           "undo"}


# -- hostile prompts --------------------------------------------------------------------------------------------------

async def test_hostile_and_huge_prompts_render_literally_in_a_capped_box(tmp_path):
    hostile = ("[bold red]not bold[/] \x1b[31mred?\x1b[0m \x1b]0;title\x07 zero\u200bwidth \u202eRTL\u202c "
               "مرحبا [link=http://x]click[/link]\n")
    prompt = hostile + ("A long instruction line. " * 40 + "\n") * 50_000  # ~1 MB
    one_pair(tmp_path / "h.db", prompt, hostile, "[i]fine[/i]")
    app = make_app(tmp_path / "h.db", "ann", Settings(), gate_watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        box = app.screen.query_one("#prompt-box", PromptPane)
        assert box.region.height <= 24 // 3
        text = screen_text(app)
        assert "[bold red]not bold[/]" in text and "␛[31m" in text and "⟨U+202E⟩" in text
        assert "\x1b" not in text and "\u202e" not in text
        shown = "".join(strip.text for strip in box._lines)
        assert len(shown) < 25_000 and "more characters — press e to show more" in shown
        await pilot.press("1")
        assert app.screen.pair is None  # voted, nothing crashed


# -- found on the way -------------------------------------------------------------------------------------------------

async def test_a_resize_keeps_the_reader_at_the_same_place_in_the_text(tmp_path):
    """Was: the pane kept its line number while the text was rewrapped at the new width, so the reader landed
    elsewhere in the answer (line 27 of 56 became line 27 of 42: from the middle to two thirds down)."""
    words = " ".join(f"w{i:04d}" for i in range(1, 1501))
    one_pair(tmp_path / "w.db", "Short prompt.", words, words)
    app = make_app(tmp_path / "w.db", "ann", RAW, gate_watch=False)

    def first_word(pane: AnswerPane) -> int:
        return int(re.search(r"w(\d{4})", pane.render_line(0).text).group(1))

    async with app.run_test(size=(160, 50)) as pilot:
        await settle(pilot)
        right = app.screen.query_one("#right", AnswerPane)
        right.scroll_silently(float(right.max_scroll_y // 2))
        await pilot.pause()
        before = first_word(right)
        for size in ((80, 24), (120, 40), (160, 50)):
            await pilot.resize_terminal(*size)
            await pilot.pause()
            per_line = right.text_width // 6  # words of "w0001 " per line
            assert abs(first_word(right) - before) <= 2 * per_line, size


async def test_many_criteria_fit_80x24_and_the_last_is_reachable(db):
    """Was: each criterion took five rows (label over a bordered field) in a dialog that did not scroll: at 80×24
    the fourth and fifth could be tabbed to but not seen."""
    names = ["helpfulness", "harmlessness", "factuality", "conciseness", "style and tone"]
    app = make_app(db, "ann", parse_settings({"annotate": {"criteria": names}}), gate_watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        pair = app.screen.pair
        await pilot.press("c")
        dialog = app.screen.query_one(".dialog")
        for i, key in enumerate(["1", "2", "3", "4", "2"]):
            field = app.screen.query_one(f"#criterion-{i}")
            assert app.focused is field
            await pilot.pause()
            assert dialog.region.contains_region(field.region), names[i]  # in sight when it has focus
            await pilot.press(key)  # a digit moves on to the next criterion by itself (issue 17 §6)
        await pilot.press("enter", "1")
        import json
        import sqlite3

        with sqlite3.connect(db) as conn:
            (criteria,) = conn.execute("SELECT criteria FROM votes").fetchone()
        assert json.loads(criteria)["style and tone"] == pair.winner_for("right")


async def test_pending_flag_and_rationale_stay_in_sight_on_a_narrow_status_line(db):
    """Was: pace and view modes came first, and at 80 columns "⚑ flagged, ✎ rationale" fell off the line."""
    app = make_app(db, "ann", parse_settings({"annotate": {"criteria": ["helpfulness"]}}), gate_watch=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f", *"broken", "enter", "r", *"why", "enter", "d")
        line = next(line for line in screen_text(app).splitlines() if "done 0" in line)
        assert "⚑ flagged, ✎ rationale" in line[:80]


def test_lengths_are_written_in_good_english():
    from sbs_tui.tui.render import describe_length

    assert describe_length("one") == "3 chars · 1 word"
    assert describe_length("a") == "1 char · 1 word"
    assert describe_length("two words") == "9 chars · 2 words"


async def test_hostile_annotator_and_criterion_names_are_shown_literally(db):
    """Was: the status line drew the annotator's name through Rich's Text, which keeps ESC, so a name could
    restyle the terminal; criteria names likewise. Now both go through the one literal rule."""
    name = "eve\x1b[31m[bold]x[/bold]\u202e"
    criterion = "tone\x1b]0;pwned\x07[i]"
    app = make_app(db, name, parse_settings({"annotate": {"criteria": [criterion]}}), gate_watch=False)
    async with app.run_test(size=(120, 40)) as pilot:
        shown = status(app)
        assert "\x1b" not in shown and "\u202e" not in shown and "␛[31m[bold]x[/bold]⟨U+202E⟩" in shown
        await pilot.press("c")
        label = str(app.screen.query_one(".criterion-name").render())
        assert "\x1b" not in label and "\x07" not in label and "[i]" in label
