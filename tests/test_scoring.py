"""`sbs score` as a library call: core.gates.scoring.score_generations (the command only parses and prints)."""

from __future__ import annotations

import json
from pathlib import Path

from sbs_tui.core.gates.policy import Outcome
from sbs_tui.core.gates.scoring import score_generations


class CountingRunner:
    """Blocks every output containing 'bad'; records how many items it was asked to score."""

    def __init__(self) -> None:
        self.seen = 0

    def evaluate(self, items):
        self.seen += len(items)
        out = []
        for item in items:
            bad = "bad" in item.output
            out.append(Outcome(scores={"stub": 1.0 if bad else 0.0}, details={"stub": {}},
                               reasons=[{"gate": "stub", "score": 1.0, "threshold": 0.5}] if bad else []))
        return out


class Progress:
    def __init__(self) -> None:
        self.calls: list[tuple[str, int]] = []

    def start(self, total: int) -> None:
        self.calls.append(("start", total))

    def advance(self, n: int) -> None:
        self.calls.append(("advance", n))

    def stop(self) -> None:
        self.calls.append(("stop", 0))


def _rows(path: Path, outputs: list[str]) -> Path:
    path.write_text("".join(json.dumps({"prompt": f"q{i}", "model": "m", "output": o}) + "\n"
                            for i, o in enumerate(outputs)))
    return path


def test_score_resumes_and_reports_progress(tmp_path: Path) -> None:
    source = _rows(tmp_path / "in.jsonl", ["fine", "bad answer", "fine too", "also bad", "ok"])
    out = tmp_path / "out.jsonl"
    runner, progress = CountingRunner(), Progress()
    first = score_generations(runner, [str(source)], out_path=str(out), batch_size=2, progress=progress)
    assert (first.scored, first.skipped, first.blocked) == (5, 0, 2)
    assert progress.calls == [("start", 5), ("advance", 2), ("advance", 2), ("advance", 1), ("stop", 0)]
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["blocked"] for r in lines] == [False, True, False, True, False]
    # a crash mid-write leaves a torn last line: it is cut off and that generation scored again
    out.write_text(out.read_text() + '{"prompt": "q9", "mod')
    _rows(source, ["fine", "bad answer", "fine too", "also bad", "ok", "new and bad"])
    again = score_generations(runner, [str(source)], out_path=str(out))
    assert (again.scored, again.skipped, again.blocked) == (1, 5, 3)
    assert runner.seen == 6
    assert len(out.read_text().splitlines()) == 6
