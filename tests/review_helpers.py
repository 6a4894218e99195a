"""Test data for the review app: the sample data imported into a real SQLite file, plus human annotators who
judge through the real queue (overlap 3, so agreement has numbers), one of them contrarian, a hostile model name,
a flag, a skip and a couple of blocked generations."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from sbs_tui.core.ingest.importer import import_files
from sbs_tui.core.queue.annotator import AnnotatorQueue
from sbs_tui.core.queue.build import BuildOptions, build_queue
from sbs_tui.core.records import GenerationRecord
from sbs_tui.core.store import Store

SAMPLE = Path(__file__).resolve().parents[1] / "sample_data"
JUDGE = "weighted_alpaca_eval_gpt4_turbo"
HOSTILE = "[bold red]ev1l[/] \x1b[31mbot\u202e"
# strongest first: the honest annotators vote by this order
STRENGTH = ("gpt4_1106_preview", "claude-2", "vicuna-13b-v1.5", "falcon-7b-instruct", HOSTILE)
HUMANS = ("alice", "bob", "carol")  # carol votes against the order: an outlier
VOTES_EACH = 30
START = datetime(2026, 1, 1, 10, 0, tzinfo=UTC)


def _ts(minutes: float) -> str:
    return (START + timedelta(minutes=minutes)).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def honest_choice(pair, contrarian: bool = False) -> str:
    """'left' / 'right' / 'tie' by the strength order (ties between neighbours every so often)."""
    a, b = STRENGTH.index(pair.left_model), STRENGTH.index(pair.right_model)
    if abs(a - b) == 1 and pair.pair_id % 5 == 0:
        return "tie"
    left_better = a < b
    if contrarian:
        left_better = not left_better
    return "left" if left_better else "right"


def build_review_db(path: Path, *, votes_each: int = VOTES_EACH) -> Path:
    store = Store(path)
    try:
        import_files(store, "generations", [SAMPLE / "generations.jsonl"])
        import_files(store, "votes", [SAMPLE / "judge_votes.jsonl"])
        prompts = store.conn.execute("SELECT id, text FROM prompts ORDER BY id LIMIT 8").fetchall()
        with store.transaction():
            store.generations.insert([GenerationRecord(pid, text, HOSTILE, f"answer {i} [red]not red[/red]")
                                      for i, (pid, text) in enumerate(prompts)])
        with store.transaction():
            store.generations.set_gate_status(store.generations.ids(), "passed")
            blocked = [r[0] for r in store.conn.execute(
                "SELECT g.id FROM generations g JOIN models m ON m.id = g.model_id "
                "WHERE m.name = 'falcon-7b-instruct' ORDER BY g.id LIMIT 2")]
            store.generations.set_gate_status(blocked, "blocked")
        build_queue(store, BuildOptions(overlap=3, seed=3))
        for k, who in enumerate(HUMANS):
            queue = AnnotatorQueue(store, who)
            for i in range(votes_each):
                pair = queue.next_pair()
                assert pair is not None
                if who == "bob" and i == 3:
                    queue.skip(pair, ts=_ts(i))
                    pair = queue.next_pair()
                flagged = who == "alice" and i == 5
                if flagged:
                    queue.flag(pair, "rude [red]answer[/red]")
                queue.vote(pair, honest_choice(pair, contrarian=who == "carol"), ts=_ts(k * 120 + i * 0.5),
                           flagged=flagged, flag_reason="rude [red]answer[/red]" if flagged else None)
        store.queue.set_cap("bob", 100)
    finally:
        store.close()
    return path


def add_votes(path: Path, annotator: str, n: int) -> None:
    """More votes by a new annotator, as if someone judged while the lead watched."""
    store = Store(path)
    try:
        queue = AnnotatorQueue(store, annotator)
        for i in range(n):
            pair = queue.next_pair()
            if pair is None:
                break
            queue.vote(pair, honest_choice(pair), ts=_ts(500 + i))
    finally:
        store.close()
