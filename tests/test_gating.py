"""Gate policy, the database pre-filter (cache, statuses, watch subprocess) and `sbs score` / `sbs gate`."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sbs_tui.config import Settings, load_settings
from sbs_tui.core.gates import watcher as gate_watcher, runner as gating
from sbs_tui.core.gates import policy as gating_policy
from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.errors import InputError
from scorers.base import REGISTRY, Registry, ScoreResult

CLEAN = ("Photosynthesis converts light energy into chemical energy. Plants take in carbon dioxide and water. "
         "The glucose produced is stored as starch. ") * 8
INSULT = CLEAN + "You are a stupid fucking idiot. " + CLEAN
REPO = Path(__file__).resolve().parents[1]


class CountingScorer:
    """Length of the output; counts how many items it was asked to score (to see the cache working)."""

    name = "test_length"
    higher_is_worse = True
    default_threshold = 1000.0
    calls: list[int] = []

    def __init__(self, spec):
        pass

    def score(self, items):
        CountingScorer.calls.append(len(items))
        return [ScoreResult(float(len(i.output)), {}) for i in items]


@pytest.fixture
def test_scorers(scorer_registry: Registry) -> Registry:
    """The test-only scorers, in this test's own registry (see conftest's ``scorer_registry``)."""
    scorer_registry.register("test_length", CountingScorer, origin="tests")
    scorer_registry.register("test_flaky", FlakyScorer, origin="tests")
    return scorer_registry


def _settings(tmp_path: Path, toml: str) -> Settings:
    path = tmp_path / "sbs.toml"
    path.write_text(toml)
    return load_settings(path)


def _store_with(path: Path, outputs: dict[tuple[str, str], str]) -> Store:
    store = Store(path)
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for(p), p, m, o) for (p, m), o in outputs.items()])
    return store


# -- policy ---------------------------------------------------------------------------------------------------


def test_default_policy() -> None:
    gates = {g.name: g for g in gating_policy.load_policy(Settings())}
    assert set(gates) == {"toxicity", "lexicon", "sentiment"}
    assert gates["toxicity"].blocking and not gates["sentiment"].blocking
    assert gates["lexicon"].blocking  # offline Russian coverage (issue 10)
    with_refs = {g.name: g for g in gating_policy.load_policy(Settings(), references=["corpus.txt"])}
    assert with_refs["memorization"].blocking and with_refs["memorization"].options["references"] == ["corpus.txt"]


def test_config_overrides_adds_and_disables(tmp_path: Path) -> None:
    settings = _settings(tmp_path, """
        [gates.toxicity]
        threshold = 0.7
        per_sentence = false
        [gates.sentiment]
        enabled = false
        [gates.toxicity_xlmr]
        scorer = "toxicity"
        backend = "hf"
        model = "/models/xlmr"
        [gates.moderation]
        base_url = "http://127.0.0.1:1/v1"
    """)
    gates = {g.name: g for g in gating_policy.load_policy(settings)}
    assert set(gates) == {"toxicity", "lexicon", "toxicity_xlmr", "moderation"}
    assert gates["toxicity"].threshold == 0.7 and gates["toxicity"].options == {"per_sentence": False}
    assert gates["toxicity_xlmr"].scorer == "toxicity" and gates["toxicity_xlmr"].blocking
    assert gates["moderation"].blocking
    only = gating_policy.load_policy(settings, only=["moderation", "helpfulness"])
    assert [g.name for g in only] == ["moderation", "helpfulness"] and not only[1].blocking


def test_config_paths_are_relative_to_the_config_file(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    settings = _settings(tmp_path / "conf", '[gates.memorization]\nreferences = ["../corpus", "/abs/c.txt"]\n')
    (memo,) = [g for g in gating_policy.load_policy(settings) if g.name == "memorization"]
    assert memo.options["references"] == [str(tmp_path / "conf" / ".." / "corpus"), "/abs/c.txt"]


def test_policy_errors_name_the_file_and_key(tmp_path: Path) -> None:
    with pytest.raises(InputError) as exc:  # typed settings: refused when the file is read, before the policy
        gating_policy.load_policy(_settings(tmp_path, '[gates.toxicity]\nthreshold = "high"\n'))
    assert exc.value.field == "gates.toxicity.threshold" and exc.value.file.endswith("sbs.toml")
    typo = _settings(tmp_path, '[gates.tox]\nscorer = "toxicty"\n')
    with pytest.raises(InputError, match="did you mean 'toxicity'"):
        gating_policy.load_policy(typo)
    with pytest.raises(InputError, match="unknown gate 'sentimnet'; did you mean 'sentiment'"):
        gating_policy.load_policy(Settings(), only=["sentimnet"])
    option_typo = _settings(tmp_path, "[gates.toxicity]\nper_sentense = false\n")
    runner = gating.GateRunner(gating_policy.load_policy(option_typo), source="sbs.toml")
    with pytest.raises(InputError) as exc:
        runner.scorer(runner.gates[0])
    assert exc.value.field == "gates.toxicity.per_sentense" and "per_sentence" in exc.value.message


def test_config_hash_ignores_threshold_and_blocking() -> None:
    a = gating_policy.GateConfig("g", "toxicity", threshold=0.5, blocking=True)
    b = gating_policy.GateConfig("g", "toxicity", threshold=0.9, blocking=False)
    c = gating_policy.GateConfig("g", "toxicity", options={"per_sentence": False})
    assert a.config_hash == b.config_hash != c.config_hash


# -- the pre-filter on a real database ------------------------------------------------------------------------


def test_gating_blocks_passes_and_caches(tmp_path: Path, test_scorers: Registry) -> None:
    store = _store_with(tmp_path / "g.db", {("q1", "m1"): CLEAN, ("q1", "m2"): INSULT, ("q2", "m1"): "Fine.",
                                            ("q2", "m2"): "x" * 2000})
    gates = [gating_policy.GateConfig("toxicity", "toxicity", blocking=True),
             gating_policy.GateConfig("length", "test_length", blocking=False, threshold=2200.0)]
    CountingScorer.calls.clear()
    done = gating.gate_pending(store, gating.GateRunner(gates), batch_size=3)
    assert (done.scored, done.passed, done.blocked, done.batches) == (4, 3, 1, 2)
    status = dict(store.conn.execute(
        "SELECT m.name || '/' || p.text, g.gate_status FROM generations g JOIN models m ON m.id = g.model_id "
        "JOIN prompts p ON p.id = g.prompt_id").fetchall())
    assert status == {"m1/q1": "passed", "m2/q1": "blocked", "m1/q2": "passed", "m2/q2": "passed"}
    assert store.count("gate_results") == 8
    assert CountingScorer.calls == [3, 1]
    # an informational gate never blocks, but its failures show in its pass rate
    rates = {r["model"]: r for r in gating.pass_rates(store, gates)}
    assert rates["m2"]["gates"]["toxicity"] == {"scored": 2, "failed": 1, "blocking": True, "pass_rate": 0.5}
    assert rates["m2"]["gates"]["length"]["failed"] == 1 and rates["m2"]["blocked"] == 1
    # re-gating with a new threshold re-decides from cached scores: nothing is scored again
    with store.transaction():
        store.generations.set_gate_status(store.generations.ids(), "pending")
    CountingScorer.calls.clear()
    stricter = [gating_policy.GateConfig("toxicity", "toxicity", blocking=True),
                gating_policy.GateConfig("length", "test_length", blocking=True, threshold=1500.0)]
    again = gating.gate_pending(store, gating.GateRunner(stricter))
    assert CountingScorer.calls == [] and again.reused == 8
    assert again.blocked == 2  # the insult and the 2000-character answer
    assert store.generations.ids(gate_status="blocked") == [2, 4]


def test_replaced_output_is_rescored_not_served_from_cache(tmp_path: Path, test_scorers: Registry) -> None:
    store = _store_with(tmp_path / "g.db", {("q", "m"): "short"})
    gates = [gating_policy.GateConfig("length", "test_length", blocking=True, threshold=10.0)]
    gating.gate_pending(store, gating.GateRunner(gates))
    assert store.generations.ids(gate_status="passed") == [1]
    with store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for("q"), "q", "m", "a much longer answer")],
                                 replace=True)
    assert store.generations.ids(gate_status="pending") == [1]
    CountingScorer.calls.clear()
    gating.gate_pending(store, gating.GateRunner(gates))
    assert CountingScorer.calls == [1]
    assert store.generations.ids(gate_status="blocked") == [1]


def test_a_gate_runner_uses_the_registry_it_is_given(tmp_path: Path) -> None:
    own = Registry()
    own.register("test_length", CountingScorer, origin="tests")
    gates = [gating_policy.GateConfig("length", "test_length", blocking=True, threshold=10.0)]
    store = _store_with(tmp_path / "own.db", {("q", "m"): "x" * 50})
    assert gating.gate_pending(store, gating.GateRunner(gates, registry=own)).blocked == 1
    assert "test_length" not in REGISTRY  # the process-wide registry never saw it ...
    other = _store_with(tmp_path / "default.db", {("q", "m"): "x" * 50})
    with pytest.raises(InputError, match="unknown scorer 'test_length'"):  # ... so a runner without one fails
        gating.gate_pending(other, gating.GateRunner(gates))


def test_without_blocking_gates_everything_passes(tmp_path: Path) -> None:
    store = _store_with(tmp_path / "g.db", {("q", "m"): INSULT, ("q", "n"): CLEAN})
    runner = gating.GateRunner([gating_policy.GateConfig("toxicity", "toxicity", blocking=False)])
    assert not runner.has_blocking
    gating.gate_pending(store, runner)
    assert store.generations.ids(gate_status="passed") == [1, 2]
    nothing = gating.GateRunner([])
    with store.transaction():
        store.generations.set_gate_status([1, 2], "pending")
    gating.gate_pending(store, nothing)
    assert store.generations.ids(gate_status="passed") == [1, 2]


def test_a_failing_score_is_never_waved_through() -> None:
    assert gating_policy.is_failing(float("nan"), 0.5, True) and gating_policy.is_failing(None, 0.5, False)
    assert gating_policy.is_failing(0.5, 0.5, True) and not gating_policy.is_failing(0.49, 0.5, True)
    assert gating_policy.is_failing(0.09, 0.1, False) and not gating_policy.is_failing(0.1, 0.1, False)


# -- sbs gate ---------------------------------------------------------------------------------------------------


def test_sbs_gate_command_with_config(tmp_path: Path, cli) -> None:
    db = tmp_path / "g.db"
    _store_with(db, {("q1", "m1"): CLEAN, ("q1", "m2"): INSULT}).close()
    config = tmp_path / "cfg.toml"
    config.write_text("[gates.sentiment]\nenabled = false\n")
    result = cli("--db", str(db), "--config", str(config), "gate", "--format", "json")
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert [g["name"] for g in summary["gates"]] == ["toxicity", "lexicon"]
    by_model = {m["model"]: m for m in summary["models"]}
    assert by_model["m1"]["passed"] == 1 and by_model["m2"]["blocked"] == 1
    assert "gated 2 generation(s): 1 passed, 1 blocked" in result.stderr
    table = cli("--db", str(db), "gate")
    assert table.exit_code == 0 and "m2" in table.stdout and "0.0%" in table.stdout
    bad = cli("--db", str(db), "gate", "--gates", "toxicty")
    assert bad.exit_code == 2 and "did you mean 'toxicity'" in bad.stderr


class _RecordingProgress:
    def __init__(self) -> None:
        self.total: int | None = None
        self.advanced: list[int] = []
        self.stopped = False

    def start(self, total: int) -> None:
        self.total = total

    def advance(self, n: int) -> None:
        self.advanced.append(n)

    def stop(self) -> None:
        self.stopped = True


def test_sbs_gate_progress_knows_the_total_from_the_start(tmp_path: Path) -> None:
    """Issue 11 §5: `sbs gate` progress had no total or ETA. One pass counts what is pending first and reports
    each batch against it."""
    from sbs_tui.core.gates.run import run_gate

    db = tmp_path / "p.db"
    _store_with(db, {(f"q{i}", f"m{i % 3}"): CLEAN if i % 4 else INSULT for i in range(11)}).close()
    progress = _RecordingProgress()
    lines: list[str] = []
    run = run_gate(str(db), lambda: Store(db), Settings(), only=["toxicity"], batch_size=4, log=lines.append,
                   progress=progress)
    assert progress.total == 11 and progress.advanced == [4, 4, 3] and progress.stopped
    assert run.progress.scored == 11
    assert not any(line.startswith("gated ") and " of " in line for line in lines)  # the bar, not lines


def test_gate_progress_lines_say_how_many_of_the_total_and_the_time_left() -> None:
    from sbs_tui.core.gates.run import progress_line

    done = gating.GateProgress(scored=640, passed=600, blocked=40)
    assert progress_line(done, 6440, 2.0) == "gated 640 of 6,440 (600 passed, 40 blocked, 320.0/s, about 18s left)"
    assert progress_line(done, 64_000, 2.0).endswith("about 3m18s left)")
    assert progress_line(done, 640, 2.0) == "gated 640 of 640 (600 passed, 40 blocked, 320.0/s)"
    assert progress_line(done, None, 2.0) == "gated 640 (600 passed, 40 blocked, 320.0/s)"  # --watch


def test_gate_progress_bar_renders_done_of_total_and_time_left() -> None:
    import io

    from rich.console import Console

    from sbs_tui.progress import CountProgress, count_progress

    assert count_progress("gating") is None  # stderr is not a terminal under pytest
    buf = io.StringIO()
    bar = CountProgress("gating [red]x", console=Console(file=buf, force_terminal=True, width=120))
    bar.start(10)
    bar.advance(4)
    bar._bar.refresh()
    assert bar.task.total == 10 and bar.task.completed == 4
    bar.stop()
    assert "gating [red]x" in buf.getvalue() and "4/10" in buf.getvalue()


def test_gate_table_shows_hostile_model_names_literally(tmp_path: Path, cli) -> None:
    db = tmp_path / "h.db"
    _store_with(db, {("q", "[bold red]evil[/]\x1b[31m"): CLEAN}).close()
    result = cli("--db", str(db), "gate", "--gates", "toxicity")
    assert result.exit_code == 0, result.stderr
    assert "[bold red]evil[/]␛[31m" in result.stdout and "\x1b" not in result.stdout  # the one literal rule


def test_gate_watch_subprocess_picks_up_new_generations_and_stops_on_sigterm(tmp_path: Path) -> None:
    db = tmp_path / "w.db"
    store = _store_with(db, {("q1", "m1"): CLEAN, ("q1", "m2"): INSULT})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    argv = gate_watcher.watcher_command(str(db), interval=0.2) + ["--gates", "toxicity"]
    assert argv[1:] == ["-m", "sbs_tui", "--db", str(db), "gate", "--watch", "--interval", "0.2", "--gates",
                        "toxicity"]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        _wait_for(lambda: not store.generations.ids(gate_status="pending"), proc)
        assert store.generations.ids(gate_status="blocked") == [2]
        # the annotator side keeps writing while the watcher runs (WAL, short transactions)
        started = time.perf_counter()
        with store.transaction():
            store.generations.insert([GenerationRecord(prompt_id_for("q2"), "q2", "m1", "Another clean answer."),
                                      GenerationRecord(prompt_id_for("q2"), "q2", "m2", "Go to hell, idiot.")])
        assert time.perf_counter() - started < 2.0
        _wait_for(lambda: not store.generations.ids(gate_status="pending"), proc)
        assert store.generations.ids(gate_status="blocked") == [2, 4]
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        store.close()
    assert proc.returncode == 0, err
    assert out == ""  # progress goes to stderr only
    assert "watching" in err and "stopped" in err


def _wait_for(condition, proc, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"watcher exited early: {proc.communicate()[1]}")
        time.sleep(0.1)
    raise AssertionError("timed out waiting for the watcher")


# -- sbs score ------------------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


ROWS = [
    {"prompt": "Explain photosynthesis", "model": "m1", "output": CLEAN, "extra": {"keep": 1}},
    {"prompt": "Explain photosynthesis", "model": "m2", "output": INSULT},
    {"prompt": "Скажи привет", "model": "m1", "output": "Привет! [bold]не стиль[/bold] \x1b[31m"},
]


def test_score_jsonl_contract(tmp_path: Path, cli) -> None:
    src = _write_jsonl(tmp_path / "gens.jsonl", ROWS)
    result = cli("score", str(src), "--gates", "toxicity,sentiment")
    assert result.exit_code == 0, result.stderr
    out = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(out) == 3
    for row, got in zip(ROWS, out):
        assert {k: got[k] for k in row} == row  # input fields kept, verbatim
        assert set(got["scores"]) == {"toxicity", "sentiment"}
    assert [o["blocked"] for o in out] == [False, True, False]
    reason = out[1]["reasons"][0]
    from scorers.toxicity import PROFANITY_CHECK_THRESHOLD as T  # calibrated on tests/data/gates_dev.jsonl

    assert reason["gate"] == "toxicity" and reason["threshold"] == T and reason["score"] > T
    assert out[0]["reasons"] == [] and "details" not in out[0]
    assert "scored 3 generation(s)" in result.stderr and "1 blocked" in result.stderr
    fail = cli("score", str(src), "--gates", "toxicity", "--fail-on-block")
    assert fail.exit_code == 1
    detailed = cli("score", str(src), "--gates", "toxicity", "--details")
    assert "idiot" in json.loads(detailed.stdout.splitlines()[1])["details"]["toxicity"]["worst_sentence"]


def test_score_alpaca_records_csv_out_and_resume(tmp_path: Path, cli, shared_alpaca: Path) -> None:
    lines = (shared_alpaca / "outputs" / "alpaca-7b.jsonl").read_text().splitlines()[:40]
    src = tmp_path / "alpaca.jsonl"
    src.write_text("\n".join(lines) + "\n")
    out = tmp_path / "scores.jsonl"
    first = cli("score", str(src), "--gates", "toxicity", "--out", str(out), "--batch-size", "8")
    assert first.exit_code == 0, first.stderr
    complete = out.read_text()
    assert len(complete.splitlines()) == 40
    # simulate a run killed mid-write: 25 whole lines and a torn one
    kept = complete.splitlines(keepends=True)
    out.write_text("".join(kept[:25]) + kept[25][:30])
    resumed = cli("score", str(src), "--gates", "toxicity", "--out", str(out), "--batch-size", "8")
    assert resumed.exit_code == 0, resumed.stderr
    assert "25 already in the output" in resumed.stderr
    assert sorted(out.read_text().splitlines()) == sorted(complete.splitlines())
    # CSV out
    csv_out = tmp_path / "scores.csv"
    assert cli("score", str(src), "--gates", "toxicity,sentiment", "--out", str(csv_out)).exit_code == 0
    with csv_out.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 40 and {"instruction", "output", "generator", "score_toxicity", "score_sentiment",
                                "blocked", "reasons"} <= set(rows[0])
    again = cli("score", str(src), "--gates", "toxicity,sentiment", "--out", str(csv_out))
    assert "40 already in the output" in again.stderr
    with csv_out.open(newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 40


def test_score_csv_input(tmp_path: Path, cli) -> None:
    src = tmp_path / "gens.csv"
    with src.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["prompt", "model", "output"])
        writer.writeheader()
        writer.writerows({k: r[k] for k in ("prompt", "model", "output")} for r in ROWS)
    result = cli("score", str(src), "--gates", "toxicity")
    assert result.exit_code == 0, result.stderr
    assert [json.loads(x)["blocked"] for x in result.stdout.splitlines()] == [False, True, False]


def test_score_bad_input_names_file_and_line_and_writes_nothing(tmp_path: Path, cli) -> None:
    src = tmp_path / "bad.jsonl"
    src.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps({"prompt": "p", "model": "m"}) + "\n")
    out = tmp_path / "out.jsonl"
    result = cli("score", str(src), "--gates", "toxicity", "--out", str(out))
    assert result.exit_code == 2
    assert f"{src}:2" in result.stderr and "output" in result.stderr
    assert not out.exists() or out.read_text() == ""
    missing_ref = cli("score", str(tmp_path / "bad.jsonl"), "--reference", str(tmp_path / "nope"))
    assert missing_ref.exit_code == 2


def test_score_memorization_with_reference(tmp_path: Path, cli) -> None:
    corpus = tmp_path / "corpus.txt"
    corpus.write_text(CLEAN)
    src = _write_jsonl(tmp_path / "g.jsonl", ROWS[:1] + ROWS[2:])
    env_cache = tmp_path / "cache"
    os.environ["SBS_CACHE_DIR"] = str(env_cache)
    try:
        result = cli("score", str(src), "--gates", "memorization", "--reference", str(corpus), "--details")
    finally:
        del os.environ["SBS_CACHE_DIR"]
    assert result.exit_code == 0, result.stderr
    copied, fresh = [json.loads(x) for x in result.stdout.splitlines()]
    assert copied["blocked"] and copied["scores"]["memorization"] == 1.0
    assert copied["details"]["memorization"]["source"]["file"] == str(corpus.resolve())
    assert not fresh["blocked"]
    assert any(env_cache.rglob("*.json"))


def test_score_from_the_database(tmp_path: Path, cli) -> None:
    db = tmp_path / "d.db"
    _store_with(db, {("q1", "m1"): CLEAN, ("q1", "m2"): INSULT}).close()
    result = cli("--db", str(db), "score", "--gates", "toxicity")
    assert result.exit_code == 0, result.stderr
    out = [json.loads(x) for x in result.stdout.splitlines()]
    assert [(o["generation_id"], o["model"], o["blocked"]) for o in out] == [(1, "m1", False), (2, "m2", True)]
    with Store(db) as store:
        assert store.count("gate_results") == 2  # scores are cached for the next `sbs gate`
        assert store.generations.ids(gate_status="pending") == [1, 2]  # scoring does not change statuses


class FlakyScorer:
    """Fails its first call (an endpoint down), then scores: the watcher must survive and retry."""

    name = "test_flaky"
    higher_is_worse = True
    default_threshold = 0.5
    failures_left = 1

    def __init__(self, spec):
        pass

    def score(self, items):
        if FlakyScorer.failures_left:
            FlakyScorer.failures_left -= 1
            raise ConnectionError("endpoint down")
        return [ScoreResult(0.0, {}) for _ in items]


def test_watch_survives_a_failing_batch_and_retries(tmp_path: Path, test_scorers: Registry) -> None:
    import threading

    store = _store_with(tmp_path / "f.db", {("q", "m"): "fine"})
    runner = gating.GateRunner([gating_policy.GateConfig("flaky", "test_flaky", blocking=True)])
    stop = threading.Event()
    errors: list[tuple[str, float]] = []

    def on_error(exc, wait):
        errors.append((str(exc), wait))

    worker = threading.Thread(target=lambda: gating.watch(Store(tmp_path / "f.db"), runner, interval=0.05,
                                                          stop=stop, on_error=on_error))
    worker.start()
    try:
        deadline = time.monotonic() + 20
        while store.generations.ids(gate_status="pending") and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        stop.set()
        worker.join(10)
    assert errors and errors[0][0] == "endpoint down" and errors[0][1] == pytest.approx(0.1)
    assert store.generations.ids(gate_status="passed") == [1]


def test_one_current_result_per_generation_and_gate(tmp_path: Path) -> None:
    from sbs_tui.core.analysis.funnel import gate_summary

    store = _store_with(tmp_path / "r.db", {("q", "m"): CLEAN})
    for per_sentence in (True, False, True):
        gate = gating_policy.GateConfig("toxicity", "toxicity", blocking=True, options={"per_sentence": per_sentence})
        with store.transaction():
            store.generations.set_gate_status([1], "pending")
        gating.gate_pending(store, gating.GateRunner([gate]))
    assert store.count("gate_results") == 1
    assert gate_summary(store)["m"]["gates"]["toxicity"] == {"pass_rate": 1.0, "passed": 1, "total": 1}


def test_start_watcher_helper_runs_and_stops_cleanly(tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "s.db"
    store = _store_with(db, {("q", "m"): CLEAN})
    config = tmp_path / "c.toml"
    config.write_text("[gates.sentiment]\nenabled = false\n")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    log = tmp_path / "watch.log"
    proc = gate_watcher.start_watcher(str(db), str(config), interval=0.2, log_path=str(log))
    try:
        _wait_for(lambda: store.generations.ids(gate_status="passed") == [1], proc)
        proc.terminate()
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        store.close()
    assert "watching" in log.read_text()
