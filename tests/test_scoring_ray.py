"""`sbs score --engine ray`: the same output as the local engine, byte for byte; a worker killed mid-batch
neither loses nor duplicates a row; a rerun resumes. One local Ray (2 CPUs) serves the whole module."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ray = pytest.importorskip("ray")

from scorers.base import REGISTRY, ScoreResult  # noqa: E402
from tests.conftest import SAMPLE  # noqa: E402


pytestmark = pytest.mark.slow  # drives a real program end to end


@pytest.fixture(scope="module", autouse=True)
def local_ray():
    from sbs_tui.core.gates.scoring_ray import _init

    _init(ray, None)
    yield
    ray.shutdown()


@pytest.fixture
def rows(tmp_path: Path) -> Path:
    path = tmp_path / "in.jsonl"
    lines = (SAMPLE / "generations.jsonl").read_text(encoding="utf-8").splitlines()[:48]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _score(cli, *args, config=None):
    result = cli(*(["--config", str(config)] if config else []), "score", *args, "--no-progress")
    assert result.exit_code == 0, result.stderr
    return result


def test_ray_output_is_identical_to_local(cli, rows, tmp_path) -> None:
    local, on_ray = tmp_path / "local.jsonl", tmp_path / "ray.jsonl"
    _score(cli, str(rows), "--out", str(local), "--details", "--batch-size", "8")
    _score(cli, str(rows), "--out", str(on_ray), "--details", "--batch-size", "8", "--engine", "ray",
           "--workers", "2")
    assert local.read_bytes() == on_ray.read_bytes()
    assert len(on_ray.read_text().splitlines()) == 48


def test_a_rerun_resumes_where_the_output_stops(cli, rows, tmp_path) -> None:
    full, partial = tmp_path / "full.jsonl", tmp_path / "partial.jsonl"
    _score(cli, str(rows), "--out", str(full))
    lines = full.read_text(encoding="utf-8").splitlines(keepends=True)
    partial.write_text("".join(lines[:20]) + lines[20][:15], encoding="utf-8")  # killed mid-line
    result = _score(cli, str(rows), "--out", str(partial), "--engine", "ray", "--workers", "1")
    assert "20 already in the output" in result.stderr
    assert partial.read_bytes() == full.read_bytes()


class CrashOnce:
    """Kills its own worker process the first time it sees "CRASH" (a marker file says it already did)."""

    name = "crashy"
    higher_is_worse = True
    default_threshold = 0.5

    def __init__(self, spec):
        self.marker = Path(spec.option("marker", None, str))

    def score(self, items):
        if any("CRASH" in i.output for i in items) and not self.marker.exists():
            self.marker.write_text(str(os.getpid()))
            os._exit(1)
        return [ScoreResult(float(len(i.output) % 7) / 7) for i in items]


def build_crash_once(spec):
    return CrashOnce(spec)


def test_a_killed_worker_loses_and_duplicates_nothing(cli, rows, tmp_path) -> None:
    lines = rows.read_text(encoding="utf-8").splitlines()
    record = json.loads(lines[30])
    record["output"] += " CRASH"
    lines[30] = json.dumps(record)
    rows.write_text("\n".join(lines) + "\n", encoding="utf-8")
    marker = tmp_path / "crashed"
    config = tmp_path / "gates.toml"
    config.write_text(f'[gates.crashy]\nscorer = "crashy"\nmarker = "{marker}"\nblocking = false\n')
    REGISTRY.register("crashy", f"{__name__}:build_crash_once")
    try:
        out = tmp_path / "ray.jsonl"
        _score(cli, str(rows), "--gates", "crashy", "--out", str(out),
               "--engine", "ray", "--workers", "2", "--batch-size", "8", config=config)
    finally:
        REGISTRY._entries.pop("crashy", None)
        REGISTRY._factories.pop("crashy", None)
    assert marker.exists()  # a worker really died
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [w["output"] for w in written] == [json.loads(line)["output"] for line in lines]
    assert all(set(w["scores"]) == {"crashy"} for w in written)


def test_a_gate_error_on_a_worker_is_one_line(cli, rows, tmp_path) -> None:
    config = tmp_path / "gates.toml"
    config.write_text('[gates.moderation]\nbase_url = "http://127.0.0.1:9/v1"\n')
    result = cli("--config", str(config), "score", str(rows), "--gates", "moderation", "--out",
                 str(tmp_path / "o.jsonl"), "--engine", "ray", "--workers", "1", "--no-progress")
    assert result.exit_code == 2
    assert "error: " in result.stderr and "cannot reach http://127.0.0.1:9/v1/moderations" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_gpu_gate_on_a_cluster_without_gpus_is_refused_not_left_waiting() -> None:
    from sbs_tui.core.gates.policy import GateConfig
    from sbs_tui.core.gates.scoring_ray import score_with_ray
    from sbs_tui.errors import InputError

    gates = [GateConfig("sentiment", "sentiment"), GateConfig("big", "toxicity", options={"device": "cuda"})]
    with pytest.raises(InputError, match=r"field 'gates\.big\.device': asks for device \"cuda\""):
        list(score_with_ray(gates, [("q", "a", None)], source="gates.toml"))


def test_the_ray_engine_needs_files(cli, tmp_path) -> None:
    result = cli("--db", str(tmp_path / "x.db"), "score", "--engine", "ray")
    assert result.exit_code == 2 and "the Ray engine scores files" in result.stderr
