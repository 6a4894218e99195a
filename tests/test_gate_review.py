"""Leads see and decide (issue 10): held generations, overrides that `sbs gate` respects, pass rates from final
decisions, and the review app's Blocked tab with the literal text and the offending window highlighted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Input, Static, TabbedContent

from sbs_tui.config import Settings
from sbs_tui.core.gates import review as gate_review, runner as gating
from sbs_tui.core.gates import policy
from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.errors import InputError

GERMAN = "Das ist eine ganz normale Antwort auf Deutsch über das Wetter von morgen."
CLEAN = "Photosynthesis converts light energy into chemical energy in the leaves of green plants."
HOSTILE = "Fine. \x1b[31m[bold]You are a stupid idiot[/bold]\u202e and nobody likes you."
RUSSIAN = "Борщ варят долго. Иди сам вари, тупой идиот. Подают со сметаной."


def _db(path: Path) -> Path:
    with Store(path) as store, store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for("q"), "q", m, o) for m, o in
                                  (("de", GERMAN), ("clean", CLEAN), ("hostile", HOSTILE), ("ru", RUSSIAN))])
    return path


def _ids(store: Store) -> dict[str, int]:
    return {model: gid for gid, model in store.conn.execute(
        "SELECT g.id, m.name FROM generations g JOIN models m ON m.id = g.model_id")}


def _status(store: Store) -> dict[str, tuple[str, str | None, str | None]]:
    return {m: (s, h, lang) for m, s, h, lang in store.conn.execute(
        "SELECT m.name, g.gate_status, g.gate_hold, g.language FROM generations g JOIN models m ON m.id = g.model_id")}


def _runner() -> gating.GateRunner:
    return gating.GateRunner([g for g in policy.load_policy(Settings()) if g.blocking])


def test_held_blocked_and_overridden_generations(tmp_path: Path) -> None:
    path = _db(tmp_path / "g.db")
    with Store(path) as store:
        done = gating.gate_pending(store, _runner())
        assert (done.passed, done.blocked, done.held) == (1, 2, 1)
        assert _status(store) == {"de": ("blocked", "uncovered", "de"), "clean": ("passed", None, "en"),
                                  "hostile": ("blocked", None, "en"), "ru": ("blocked", None, "ru")}
        counts = store.gates.status_counts()
        assert counts["de"] == {"pending": 0, "passed": 0, "blocked": 0, "held": 1, "overridden": 0}
        ids = _ids(store)
        assert gate_review.override(store, ids["de"], "pass", "plain weather report", "ana") == "passed"
        assert gate_review.override(store, ids["hostile"], "pass", "quoted in a safety test", "bo") == "passed"
        with pytest.raises(InputError, match="reason"):
            gate_review.override(store, ids["ru"], "pass", "  ", "bo")
        with pytest.raises(InputError, match="pass' or 'block"):
            gate_review.override(store, ids["ru"], "maybe", "x", "bo")
        # `sbs gate --regate` re-decides from the gates, but the lead's decisions stand.
        with store.transaction():
            store.generations.set_gate_status(store.generations.ids(), "pending")
        gating.gate_pending(store, _runner())
        assert _status(store)["de"] == ("passed", None, "de") and _status(store)["hostile"][0] == "passed"
        rates = {r["model"]: r for r in gating.pass_rates(store, _runner().gates)}
        assert rates["hostile"]["passed"] == 1 and rates["hostile"]["overridden"] == 1
        assert rates["ru"]["blocked"] == 1 and rates["ru"]["overridden"] == 0
        summary = gate_review.review_summary(store)
        assert summary["counts"] == {"blocked": 1, "held": 0, "overridden": 2}
        row = {r["model"]: r for r in summary["rows"]}["hostile"]
        assert row["override"] == "passed" and row["decided_by"] == "bo" and row["decided_at"]
        assert row["reason"] == "quoted in a safety test"


def test_an_override_lapses_when_the_output_is_replaced(tmp_path: Path) -> None:
    path = _db(tmp_path / "g.db")
    with Store(path) as store:
        gating.gate_pending(store, _runner())
        gid = _ids(store)["ru"]
        gate_review.override(store, gid, "pass", "ok", "ana")
        with store.transaction():
            store.generations.insert([GenerationRecord(prompt_id_for("q"), "q", "ru", RUSSIAN + " Ещё раз, идиот.")],
                                     replace=True)
        gating.gate_pending(store, _runner())
        assert _status(store)["ru"][0] == "blocked"  # the lead judged another text


def test_detail_spans_point_at_what_the_gates_objected_to(tmp_path: Path) -> None:
    path = _db(tmp_path / "g.db")
    with Store(path) as store:
        gating.gate_pending(store, _runner())
        detail = gate_review.review_detail(store, _ids(store)["ru"])
    assert detail["status"] == "blocked" and detail["results"]["lexicon"]["failed"]
    marked = [RUSSIAN[s:e] for s, e, _ in detail["spans"]]
    assert any("идиот" in m for m in marked)


def test_offending_spans_merge_and_skip_mentions() -> None:
    text = "aa BAD bb WORSE cc"
    spans = gate_review.offending_spans(text, {
        "lexicon": {"matches": [{"start": 3, "end": 6, "mention": False}, {"start": 10, "end": 15,
                                                                             "mention": True}]},
        "toxicity": {"worst_sentence": "BAD bb"},
        "other": {"matches": [{"start": 0, "end": 2}]},
    }, gates=["lexicon", "toxicity"])
    assert spans == [(3, 9, "lexicon+toxicity")]


def test_gate_override_command(tmp_path: Path, cli) -> None:
    path = _db(tmp_path / "g.db")
    assert cli("--db", str(path), "gate").exit_code == 0
    with Store(path) as store:
        gid = _ids(store)["ru"]
    result = cli("--db", str(path), "gate", "override", str(gid), "--pass", "--reason", "a recipe", "--by", "ana")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(cli("--db", str(path), "gate", "--format", "json").stdout)
    ru = {m["model"]: m for m in summary["models"]}["ru"]
    assert ru["passed"] == 1 and ru["overridden"] == 1
    bad = cli("--db", str(path), "gate", "override", "99999", "--block", "--reason", "x", "--by", "ana")
    assert bad.exit_code == 2 and "no generation with id 99999" in bad.stderr


def test_highlighted_text_is_literal() -> None:
    from sbs_tui.tui.review.blocked import HIGHLIGHT, highlighted

    start = HOSTILE.index("You")
    text = highlighted(HOSTILE, [(start, start + 22, "toxicity")])
    assert "[bold]" in text.plain and "\x1b" not in text.plain and "\u202e" not in text.plain
    marked = [text.plain[s.start:s.end] for s in text.spans if s.style == HIGHLIGHT]
    assert marked == ["You are a stupid idiot"]


async def test_blocked_tab_reads_and_overrides(tmp_path: Path, monkeypatch) -> None:
    from sbs_tui.tui.review.app import make_review_app
    from sbs_tui.tui.review.blocked import BlockedPane, GateDetail
    from sbs_tui.tui.review.pane import ReviewPane

    monkeypatch.setenv("SBS_USER", "lead-ana")
    path = _db(tmp_path / "g.db")
    with Store(path) as store:
        gating.gate_pending(store, _runner())
        gid = _ids(store)["hostile"]
    app = make_review_app(path, Settings())

    async def settled(pilot, pane: ReviewPane) -> None:
        import time

        deadline = time.monotonic() + 30
        while (pane.handled_token != pane.token or pane.busy) and time.monotonic() < deadline:
            await pilot.pause(0.05)

    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("7")
        pane = app.query_one(BlockedPane)
        await settled(pilot, pane)
        assert app.query_one(TabbedContent).active == "blocked"
        table = app.query_one("#blocked-table", DataTable)
        assert table.row_count == 3
        summary = app.query_one("#blocked-summary", Static).content
        assert "2 blocked, 1 held" in (summary.plain if isinstance(summary, Text) else str(summary))
        # What no gate checked is the tab's first line (issue 20): German was read by nobody.
        unchecked = app.query_one("#blocked-unchecked", Static).content
        unchecked = unchecked.plain if isinstance(unchecked, Text) else str(unchecked)
        assert "not checked in de" in unchecked and "see docs/gates.md" in unchecked
        row = next(i for i in range(table.row_count) if str(table.get_row_at(i)[0]) == str(gid))
        table.focus()
        table.move_cursor(row=row)
        await pilot.press("enter")
        for _ in range(200):
            if isinstance(app.screen, GateDetail):
                break
            await pilot.pause(0.05)
        assert isinstance(app.screen, GateDetail)
        output = app.screen.query_one("#gate-detail-output", Static).content
        assert "[bold]" in output.plain and "\x1b" not in output.plain
        head = app.screen.query_one(Static).content
        assert "not checked: insult, threat, hate" in (head.plain if isinstance(head, Text) else str(head))
        await pilot.press("p")
        for _ in range(200):
            if app.screen.query("#override-reason"):
                break
            await pilot.pause(0.05)
        reason = app.screen.query_one("#override-reason", Input)
        reason.focus()
        await pilot.press("enter")  # an empty reason is refused: the dialog stays
        assert app.screen.query("#override-reason")
        reason.value = "a quoted insult in a test answer"
        await pilot.press("enter")
        for _ in range(200):
            if not isinstance(app.screen, GateDetail) and not app.screen.query("#override-reason"):
                break
            await pilot.pause(0.05)
        await settled(pilot, pane)
    with Store(path) as store:
        assert _status(store)["hostile"][0] == "passed"
        (row,) = [r for r in gate_review.review_summary(store)["rows"] if r["generation_id"] == gid]
        assert row["decided_by"] == "lead-ana" and row["reason"] == "a quoted insult in a test answer"


def test_settling_a_large_batch_reads_each_override_once_and_applies_it_per_output(tmp_path: Path) -> None:
    """``settle_decisions`` reads a batch's overrides in one query per 500 generations (issue 22) and applies each
    only to the output it was made for: a lead's 'blocked' beats a gate's 'passed', a 'passed' clears a hold, an
    override of an older output is ignored, and a generation no longer pending is left alone."""
    path = tmp_path / "g.db"
    with Store(path) as store:
        with store.transaction():
            store.generations.insert([GenerationRecord(prompt_id_for(f"q{i}"), f"q{i}", "m", f"answer {i}")
                                      for i in range(1200)])
        rows = {r["id"]: r["output_sha"] for r in store.generations.pending(limit=2000)}
        ids = sorted(rows)
        with store.transaction():
            store.gates.save_override(ids[3], "blocked", "unsafe advice", "ana")
            store.gates.save_override(ids[700], "passed", "read it: fine", "bo")
            store.gates.save_override(ids[1100], "passed", "about an older text", "bo")
            store.conn.execute("UPDATE gate_overrides SET output_sha = 'old' WHERE generation_id = ?", (ids[1100],))
            store.conn.execute("UPDATE generations SET gate_status = 'pending' WHERE id IN (?, ?, ?)",
                               (ids[3], ids[700], ids[1100]))
            store.conn.execute("UPDATE generations SET gate_status = 'passed' WHERE id = ?", (ids[5],))
        decisions = [(gid, rows[gid], "held" if gid in (ids[700], ids[1100]) else "passed", "en",
                      "uncovered" if gid in (ids[700], ids[1100]) else None, ["threat"]) for gid in ids]
        with store.transaction():
            changed = store.gates.settle_decisions(decisions)
        assert changed == 1199  # all but the generation that was no longer pending
        got = {gid: (s, h, u) for gid, s, h, u in store.conn.execute(
            "SELECT id, gate_status, gate_hold, unchecked FROM generations")}
        assert got[ids[3]] == ("blocked", None, "threat")
        assert got[ids[700]] == ("passed", None, "threat")
        assert got[ids[1100]] == ("blocked", "uncovered", "threat")
        assert got[ids[5]][0] == "passed" and got[ids[5]][2] is None
        assert got[ids[0]] == ("passed", None, "threat")
