"""Child processes die with their parent, and one gate watcher serves a database (issue 13, item 7).

Real processes, killed for real: the failure was helpers left running with PPID 1 after ``kill -9`` or SIGTERM
of the process that started them — the import's parser child (blocked on its full queue) with multiprocessing's
resource tracker, and the annotator app's ``sbs gate --watch`` — and one watcher per app instead of per database.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sbs_tui.core.gates import watcher as gate_watcher
from sbs_tui.core.records import GenerationRecord, prompt_id_for
from sbs_tui.core.store import Store

REPO = Path(__file__).resolve().parents[1]
PROC = Path("/proc")

pytestmark = pytest.mark.skipif(not (PROC / "self" / "stat").exists() or sys.platform != "linux",
                                reason="reads the process table from /proc")


def _stat(pid: int) -> tuple[str, int] | None:
    """(state, parent pid) of a process, or None when it no longer exists."""
    try:
        text = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    fields = text[text.rindex(")") + 2:].split()
    return fields[0], int(fields[1])


def _alive(pid: int) -> bool:
    """Running (a zombie waiting for init to reap it has ended)."""
    stat = _stat(pid)
    return stat is not None and stat[0] not in ("Z", "X")


def _children(pid: int) -> list[int]:
    out = []
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            stat = _stat(int(entry.name))
            if stat is not None and stat[1] == pid:
                out.append(int(entry.name))
    return out


def _wait(condition, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out: {what}")


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SBS_PARENT_PID", None)
    return env


def _kill_all(pids) -> None:
    for pid in pids:
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)


# -- the import's parser child -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def big_generations(tmp_path_factory) -> Path:
    """A generations file over the 8 MB line from which imports parse in a child process."""
    from sbs_tui.core.ingest.importer import PARALLEL_MIN_BYTES

    path = tmp_path_factory.mktemp("big") / "big.jsonl"
    answer = "A plain answer that goes on for a while. " * 12
    with path.open("w", encoding="utf-8") as fh:
        i = 0
        while fh.tell() < PARALLEL_MIN_BYTES + (1 << 20):
            fh.write(json.dumps({"prompt": f"question {i}", "model": f"m{i % 4}", "output": f"{answer}{i}"}) + "\n")
            i += 1
    return path


@pytest.mark.parametrize("how", ["SIGKILL", "SIGTERM"])
def test_import_parser_child_and_resource_tracker_die_with_the_import(tmp_path, big_generations, how) -> None:
    if (os.cpu_count() or 1) < 2:
        pytest.skip("imports parse in a child process only with two or more cores")
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui", "--db", str(tmp_path / "i.db"), "import",
                             "generations", str(big_generations)], env=_env(), cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    children: list[int] = []
    try:
        # the parser child and multiprocessing's resource tracker
        _wait(lambda: len(_children(proc.pid)) >= 2 or proc.poll() is not None, 60, "the parser child started")
        assert proc.poll() is None, "the import finished before it could be killed"
        children = _children(proc.pid)
        # Freeze the importer: the child fills its queue and blocks on it, as when the parent dies mid-import.
        os.kill(proc.pid, signal.SIGSTOP)
        time.sleep(0.5)
        os.kill(proc.pid, getattr(signal, how))
        os.kill(proc.pid, signal.SIGCONT)
        proc.wait(timeout=30)
        _wait(lambda: not any(_alive(pid) for pid in children), 10,
              f"children {children} still running after {how} of the import")
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        _kill_all(children)


# -- the gate watcher --------------------------------------------------------------------------------------------


def _gating_db(path: Path) -> Path:
    with Store(path) as store, store.transaction():
        store.generations.insert([GenerationRecord(prompt_id_for("q"), "q", "m", "A short, polite answer.")])
    (path.parent / "gates.toml").write_text("[gates.sentiment]\nenabled = false\n")
    return path


def test_a_second_watcher_on_the_same_database_steps_aside(tmp_path) -> None:
    db = _gating_db(tmp_path / "w.db")
    with gate_watcher.hold_lock(db) as lock:
        assert lock.acquired and gate_watcher.running_watcher(db) == os.getpid()
        assert gate_watcher.ensure_watcher(db) is None  # the running one does the work
        result = subprocess.run(gate_watcher.watcher_command(db, str(tmp_path / "gates.toml"), interval=0.2),
                                env=_env(), cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert f"already running for {db} (pid {os.getpid()})" in result.stderr
    assert "watching" not in result.stderr
    assert gate_watcher.running_watcher(db) is None  # released with the holder


def test_three_apps_starting_at_once_share_one_watcher(tmp_path, monkeypatch) -> None:
    db = _gating_db(tmp_path / "w.db")
    monkeypatch.setenv("PYTHONPATH", str(REPO))
    logs = [tmp_path / f"app{i}.log" for i in range(3)]
    # All three pass the "is one running?" check before any child holds the lock: the race, at its worst.
    procs = [gate_watcher.start_watcher(db, str(tmp_path / "gates.toml"), interval=0.2, log_path=log)
             for log in logs]
    try:
        _wait(lambda: sum(p.poll() is None for p in procs) <= 1 and gate_watcher.running_watcher(db), 60,
              "all but one watcher stepped aside")
        running = [p for p in procs if p.poll() is None]
        assert len(running) == 1 and gate_watcher.running_watcher(db) == running[0].pid
        assert all(p.returncode == 0 for p in procs if p is not running[0])
        assert sum("already running" in log.read_text() for log in logs) == 2
        with Store(db) as store:
            _wait(lambda: store.generations.ids(gate_status="passed") == [1], 60, "the watcher gated")
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()
                p.wait(timeout=30)


PARENT = textwrap.dedent("""
    import sys, time
    from sbs_tui.core.gates.watcher import start_watcher
    proc = start_watcher(sys.argv[1], sys.argv[2], interval=0.2, log_path=sys.argv[3])
    print(proc.pid, flush=True)
    time.sleep(600)
""")


def test_watcher_started_by_an_app_dies_when_the_app_is_killed(tmp_path) -> None:
    db = _gating_db(tmp_path / "w.db")
    log = tmp_path / "gate.log"
    app = subprocess.Popen([sys.executable, "-c", PARENT, str(db), str(tmp_path / "gates.toml"), str(log)],
                           env=_env(), cwd=tmp_path, stdout=subprocess.PIPE, text=True)
    watcher = 0
    try:
        watcher = int(app.stdout.readline())
        _wait(lambda: "watching" in log.read_text() if log.exists() else False, 60, "the watcher is watching")
        assert gate_watcher.running_watcher(db) == watcher
        os.kill(app.pid, signal.SIGKILL)
        app.wait(timeout=10)
        _wait(lambda: not _alive(watcher), 10, "the watcher outlived its app")
        _wait(lambda: gate_watcher.running_watcher(db) is None, 5, "the lock was released")
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
        _kill_all([watcher] if watcher else [])


# -- what a killed driver started (issue 21: Ray's helpers lived 30–90 s after kill -9 of the driver) ------------


def _descendants(pid: int) -> set[int]:
    found, stack = set(), [pid]
    while stack:
        for child in _children(stack.pop()):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def _driver(code: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", textwrap.dedent(code)], stdout=subprocess.PIPE, env=_env(),
                            cwd=REPO)


def test_everything_a_killed_process_started_ends_with_it() -> None:
    """Helpers in sessions of their own (as Ray starts its workers) with children of their own."""
    driver = _driver("""
        import subprocess, sys, time
        from sbs_tui.core.lifeline import reap_descendants_on_death
        reaper = reap_descendants_on_death(poll=0.1)
        grandparent = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)']); time.sleep(300)"
        for _ in range(2):
            subprocess.Popen([sys.executable, "-c", grandparent], start_new_session=True)
        time.sleep(1.0)
        print(reaper, flush=True)
        time.sleep(300)
    """)
    reaper = int(driver.stdout.readline())
    helpers = _descendants(driver.pid) - {reaper}
    try:
        assert len(helpers) == 4, helpers
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        _wait(lambda: not any(_alive(pid) for pid in helpers), 10, "helpers end with their killed driver")
        _wait(lambda: not _alive(reaper), 10, "the watcher ends too")
    finally:
        _kill_all(helpers | {driver.pid, reaper})


def test_a_local_rays_helpers_end_with_a_killed_driver() -> None:
    pytest.importorskip("ray")
    driver = _driver("""
        import time, ray
        from sbs_tui.core.gates.scoring_ray import _init
        _init(ray, None)
        ray.get([ray.remote(lambda: 1).remote() for _ in range(2)])
        print("ready", flush=True)
        time.sleep(300)
    """)
    assert driver.stdout.readline().strip() == b"ready"
    helpers = _descendants(driver.pid)
    try:
        names = {(PROC / str(pid) / "comm").read_text().strip() for pid in helpers if _alive(pid)}
        assert {"gcs_server", "raylet"} <= names, names
        os.kill(driver.pid, signal.SIGKILL)
        driver.wait(timeout=10)
        _wait(lambda: not any(_alive(pid) for pid in helpers), 15, "Ray's helpers end with their killed driver")
    finally:
        _kill_all(helpers | {driver.pid})
