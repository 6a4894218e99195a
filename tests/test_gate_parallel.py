"""``sbs gate`` scoring a large pass in forked worker processes (issue 22, ``sbs_tui/core/gates/parallel.py``).

The database a parallel pass leaves is the one a single-process pass leaves (every status, hold, language,
unchecked list and gate result row, cached results reused alike); only gates that declare ``fork_safe`` are
forked; small passes, ``--workers 1`` and ``--watch`` score in their own process; a worker's error ends the pass
with what was settled kept; a stop settles what was handed out and leaves the rest pending.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
import threading
from pathlib import Path

import pytest

from sbs_tui.config import Settings
from sbs_tui.core.gates import parallel, policy
from sbs_tui.core.gates import runner as gating
from sbs_tui.core.gates.run import build_runner, run_gate
from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store
from sbs_tui.errors import InputError
from scorers.base import Registry, ScorerError, ScoreResult

OUTPUTS = Path(__file__).parent / "data" / "alpaca_eval" / "outputs"
HOSTILE = ["You are a stupid fucking idiot.", "Ты идиот, заткнись.", "这是一个中文的回答。" * 20, "", "   ",
           "\u202eevil\u202c text \x1b[31m[bold]markup[/bold]", "1️⃣ #️⃣ 👍🏽 I love it! NOT bad but terrible"]


def _outputs(n: int) -> list[GenerationRecord]:
    rows = []
    for path in sorted(OUTPUTS.glob("*.jsonl.gz")):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            rows += [(path.name.split(".")[0], json.loads(line)) for line in fh]
    records = [GenerationRecord(prompt_id_for(r["instruction"]), r["instruction"], model, r["output"])
               for model, r in rows[:n]]
    records += [GenerationRecord(prompt_id_for(f"h{i}"), f"h{i}", "hostile", text) for i, text in enumerate(HOSTILE)]
    return records


def _database(path: Path, n: int) -> Path:
    store = Store(path)
    with store.transaction():
        store.generations.insert(_outputs(n))
    store.close()
    return path


def _state(path: Path) -> tuple[list, list]:
    conn = sqlite3.connect(path)
    try:
        gens = conn.execute("SELECT id, gate_status, gate_hold, language, unchecked FROM generations "
                            "ORDER BY id").fetchall()
        results = conn.execute("SELECT generation_id, gate, config_hash, output_sha, score, blocked, details "
                               "FROM gate_results ORDER BY generation_id, gate").fetchall()
    finally:
        conn.close()
    return gens, results


def _gate(path: Path, workers: int, *, only=None, batch_size: int = 8, **kw):
    return run_gate(str(path), lambda: Store(path), Settings(), only=only, batch_size=batch_size, workers=workers,
                    log=lambda line: None, **kw)


def test_a_parallel_pass_leaves_the_database_a_single_process_pass_leaves(tmp_path: Path) -> None:
    one = _database(tmp_path / "one.db", 300)
    two = _database(tmp_path / "two.db", 300)
    # Some results already cached (a first pass over a part, then every generation pending again): both reuse them.
    for db in (one, two):
        _gate(db, 1, only=["lexicon"])
        with Store(db) as store, store.transaction():
            store.generations.set_gate_status(store.generations.ids(), "pending")
    single, forked = _gate(one, 1), _gate(two, 2)
    assert (single.progress.scored, single.progress.reused) == (forked.progress.scored, forked.progress.reused)
    assert forked.progress.scored == 300 + len(HOSTILE) and forked.progress.reused == forked.progress.scored
    assert forked.rates == single.rates
    gens, results = _state(two)
    assert (gens, results) == _state(one)
    assert {g[1] for g in gens} >= {"passed", "blocked"} and len(results) == 3 * len(gens)


def test_only_fork_safe_scorers_are_forked(scorer_registry: Registry) -> None:
    class Plain:  # no ``fork_safe``: a torch model, an HTTP client, a plug-in that says nothing
        name = "plain"
        higher_is_worse = True
        default_threshold = 1.0

        def __init__(self, spec):
            pass

        def score(self, items):
            return [ScoreResult(0.0, {}) for _ in items]

    scorer_registry.register("plain", Plain, origin="tests")
    defaults = build_runner(Settings())
    assert parallel.not_forkable(defaults) == []
    mixed = gating.GateRunner([*defaults.gates, policy.GateConfig("plain", "plain", blocking=True)],
                              registry=scorer_registry)
    lines: list[str] = []
    assert parallel.not_forkable(mixed) == ["plain"]
    assert parallel.workers_for(mixed, 100_000, 32, 4, lines.append) == 1
    assert lines == ["scoring in this process: gate(s) plain cannot be forked into workers"]


def test_how_many_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    runner = build_runner(Settings())
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (0.3, 0.3, 0.3))
    small = parallel.MIN_PENDING - 1
    assert parallel.workers_for(runner, small, 32) == 1  # auto: not worth forking
    assert parallel.workers_for(runner, parallel.MIN_PENDING, 32) == 2  # auto: one per core
    assert parallel.workers_for(runner, 100_000, 32, requested=1) == 1
    assert parallel.workers_for(runner, small, 32, requested=3) == 3  # asked for: no threshold
    assert parallel.workers_for(runner, 40, 32, requested=8) == 2  # never more than there are batches
    assert parallel.workers_for(runner, 0, 32, requested=8) == 1
    monkeypatch.setattr(parallel, "cores", lambda: 1)
    assert parallel.workers_for(runner, 100_000, 32) == 1


def test_auto_forks_only_onto_spare_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """A busy machine gains nothing from workers and pays their overhead: auto forks one per spare core + 1."""
    runner = build_runner(Settings())
    load = [0.0]
    monkeypatch.setattr(parallel.os, "getloadavg", lambda: (load[0], 0.0, 0.0))
    monkeypatch.setattr(parallel, "cores", lambda: 8)
    for now, workers in ((0.0, 8), (3.2, 5), (6.9, 2), (7.1, 1), (12.0, 1)):
        load[0] = now
        assert parallel.workers_for(runner, 100_000, 32) == workers, now
        lines: list[str] = []
        assert parallel.workers_for(runner, 100_000, 32, requested=4, log=lines.append) == 4  # the load aside
        assert lines == ["scoring in 4 worker processes"]
    monkeypatch.setattr(parallel, "cores", lambda: 2)
    load[0] = 1.5
    assert parallel.workers_for(runner, 100_000, 32) == 1
    load[0] = 0.8
    assert parallel.workers_for(runner, 100_000, 32) == 2


class _FailsOnHostile:
    """Fork-safe; fails a batch that holds the word ``idiot`` (as an unreachable endpoint would)."""

    name = "failing"
    higher_is_worse = True
    default_threshold = 1.0
    fork_safe = True

    def __init__(self, spec):
        pass

    def score(self, items):
        if any("idiot" in i.output for i in items):
            raise ScorerError("the endpoint is down")
        return [ScoreResult(0.0, {}) for _ in items]


def test_a_worker_error_ends_the_pass_and_keeps_what_was_settled(tmp_path: Path, scorer_registry: Registry) -> None:
    scorer_registry.register("failing", _FailsOnHostile, origin="tests")
    db = _database(tmp_path / "f.db", 64)  # the hostile rows come last: the earlier batches settle first
    runner = gating.GateRunner([policy.GateConfig("failing", "failing", blocking=True)], registry=scorer_registry)
    store = Store(db)
    try:
        with parallel.scoring_pool(runner, 2) as pool, pytest.raises(InputError, match="endpoint is down"):
            parallel.gate_pending(store, runner, pool, batch_size=8)
        statuses = [s for (s,) in store.conn.execute("SELECT gate_status FROM generations ORDER BY id")]
    finally:
        store.close()
    assert statuses[:64] == ["passed"] * 64 and statuses[64:] == ["pending"] * len(HOSTILE)


class _DiesOnHostile(_FailsOnHostile):
    """Fork-safe; its process is killed (as the out-of-memory killer would) on a batch holding ``idiot``."""

    def score(self, items):
        import os
        import signal

        if any("idiot" in i.output for i in items):
            os.kill(os.getpid(), signal.SIGKILL)
        return [ScoreResult(0.0, {}) for _ in items]


def test_a_killed_worker_is_an_error_not_a_hang(tmp_path: Path, scorer_registry: Registry) -> None:
    scorer_registry.register("dying", _DiesOnHostile, origin="tests")
    db = _database(tmp_path / "k.db", 64)
    runner = gating.GateRunner([policy.GateConfig("dying", "dying", blocking=True)], registry=scorer_registry)
    store = Store(db)
    try:
        with pytest.raises(parallel.WorkerDied, match="worker process died") as died:
            with parallel.scoring_pool(runner, 2) as pool:
                parallel.gate_pending(store, runner, pool, batch_size=8)
        statuses = [s for (s,) in store.conn.execute("SELECT gate_status FROM generations ORDER BY id")]
    finally:
        store.close()
    settled = statuses.count("passed")
    # Settled in order: a prefix of the clean batches; the batch with the killer and everything after it pending.
    assert statuses == ["passed"] * settled + ["pending"] * (len(statuses) - settled) and settled <= 64
    assert f"{settled:,} generation(s) were settled" in str(died.value) and died.value.exit_code == 1


def test_a_stop_settles_what_was_handed_out_and_leaves_the_rest_pending(tmp_path: Path) -> None:
    db = _database(tmp_path / "s.db", 200)
    runner = build_runner(Settings(), only=["lexicon"])
    stop = threading.Event()
    store = Store(db)
    try:
        with parallel.scoring_pool(runner, 2) as pool:
            done = parallel.gate_pending(store, runner, pool, batch_size=8, stop=stop,
                                         on_batch=lambda progress, n: stop.set())
        pending = store.generations.count_pending()
    finally:
        store.close()
    handed_out = parallel.AHEAD * 2
    assert done.scored == handed_out * 8 and pending == 200 + len(HOSTILE) - done.scored


def test_sbs_gate_workers_option_gives_the_same_output(tmp_path: Path, cli) -> None:
    outs = {}
    for workers in ("1", "2"):
        db = _database(tmp_path / f"c{workers}.db", 120)
        result = cli("--db", str(db), "gate", "--workers", workers, "--format", "json", "--batch-size", "16")
        assert result.exit_code == 0, result.stderr
        outs[workers] = (result.stdout, _state(db))
    assert outs["1"] == outs["2"]


def test_ctrl_c_during_a_parallel_pass_exits_130_and_leaves_no_worker(tmp_path: Path) -> None:
    """A terminal's Ctrl+C reaches the whole process group: the workers ignore it, the parent settles the batches
    it handed out, says what is still pending, exits 130, and no worker outlives it."""
    import os
    import signal
    import subprocess
    import sys
    import time

    db = tmp_path / "big.db"
    store = Store(db)
    records = _outputs(10_000)
    with store.transaction():
        store.generations.insert([GenerationRecord(r.prompt_id, r.prompt, f"{r.model}#{k}", r.output)
                                  for k in range(3) for r in records])
    total = store.generations.count_pending()
    store.close()
    repo = Path(__file__).resolve().parents[1]
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui", "--db", str(db), "gate", "--workers", "2",
                             "--no-progress"], cwd=repo, env={**os.environ, "PYTHONPATH": str(repo)},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            conn = sqlite3.connect(db, timeout=10)
            left = conn.execute("SELECT count(*) FROM generations WHERE gate_status = 'pending'").fetchone()[0]
            conn.close()
            if left < total:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the pass ended before it could be interrupted"
        os.killpg(proc.pid, signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 130, err
    with Store(db) as store:
        pending = store.generations.count_pending()
    assert 0 < pending < total
    assert err.splitlines()[-1] == f"interrupted: {pending:,} generation(s) still pending (sbs gate again goes on " \
                                   "from there)"
    time.sleep(0.5)
    with pytest.raises(ProcessLookupError):  # the process group is empty: no worker left behind
        os.killpg(proc.pid, 0)
