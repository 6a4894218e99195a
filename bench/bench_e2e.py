#!/usr/bin/env python3
"""One database end to end at arena scale (issue 22): every step a child process, its wall, CPU and peak RSS.

On one fresh database under ``bench/out/e2e_<votes>/``, in order, each step a child process of its own
(``sbs`` through ``sbs_tui.cli:main``, the review app's data through the core views as ``bench_review_data.py``
calls them):

1. ``sbs import generations`` — ``--prompts`` × ``--models`` generations (``--gate-gens`` of them in all; the
   answers are AlpacaEval's real outputs, cycled, so the gates read real text);
2. ``sbs import votes`` — ``--votes`` contract-format votes on ``--vote-prompts`` prompts (the first of them
   those above) and the same models, by ``--annotators``
   annotators, each item (prompt, pair) judged by 3 of them (so agreement has overlap), written to a JSONL file
   first (that writing is reported, not part of the table's steps); no ``vote_id``, as in a raw arena file, so
   the import derives every vote's identity from its content (the costlier case);
3. ``sbs gate`` — the default gate set over every generation (the throughput extrapolates to other counts);
4. ``sbs queue build --overlap 3``;
5. ``sbs rank --ci sandwich`` and ``sbs rank --ci bootstrap --bootstrap 1000`` (JSON);
6. ``sbs agreement --format json`` twice: the first read catches the agreement tallies up on every vote, the
   second reads the tallies only;
7. ``sbs report`` (HTML; the command has no JSON format) with 1,000 bootstrap rounds;
8. ``sbs export votes --out FILE``;
9. the review app's data, one child per tab: ranking, agreement, plots, queue, gates & funnel, votes, blocked.

Wall time, user + system CPU time and peak RSS are the child's own (``os.wait4``: the kernel's rusage of that one
process and the processes it waited for — the import's parser process — not a maximum over earlier steps; the
RSS is the largest single process's). The 2 GB RSS goal is checked per step.

    python bench/bench_e2e.py --votes 1000000              # JSON on stdout, a table on stderr
    python bench/bench_e2e.py --votes 10000000 --keep      # keep the database and files afterwards
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # bench.child
OUT = ROOT / "bench" / "out"
ALPACA = ROOT.parent / "shared" / "data" / "alpaca_eval" / "outputs"
RSS_GOAL_MB = 2048
SIDES = ("model_a", "model_b")

TABS = {
    "ranking (bt, sandwich)": "from sbs_tui.core.views.ranking import ranking_view\n"
                              "from sbs_tui.core.ranking.request import RankRequest\n"
                              "ranking_view(store, RankRequest(ci='sandwich'))",
    "agreement": "from sbs_tui.core.views.review import agreement_view\nagreement_view(store)",
    "plots": "from sbs_tui.core.analysis.plots import collect_plot_data\ncollect_plot_data(store)",
    "queue": "from sbs_tui.core.views.queue import queue_view\nqueue_view(store)",
    "gates & funnel": "from sbs_tui.core.views.funnel import funnel_view\nfunnel_view(store)",
    "votes": "from sbs_tui.core.views.review import votes_view\nvotes_view(store)",
    "blocked": "from sbs_tui.core.views.review import blocked_view\nblocked_view(store)",
}
TAB_CHILD = "import sys\nsys.path.insert(0, {root!r})\nfrom sbs_tui.core.store import Store\nstore = Store({db!r})\n" \
            "{code}\nstore.close()\n"
# The fast path to a big database (``--replicate K``): the imported votes copied K-1 times by SQL in the store's own
# schema (its unique uid index, its other indexes and the pair_counts triggers do their work on every row), each
# copy on its own copies of the prompts (so items stay as distinct as in the imported file), in transactions of
# ``CHUNK`` votes. What it skips is the importer's Python (reading, parsing, validating, content ids).
REPLICATE_CHILD = """
import sys
sys.path.insert(0, {root!r})
from sbs_tui.core.store import Store
store = Store({db!r})
conn = store.conn
top = conn.execute("SELECT max(id) FROM votes").fetchone()[0]
cols = [r[1] for r in conn.execute("PRAGMA table_info(votes)") if r[1] not in ("id", "uid", "prompt_id", "run_id")]
pcols = [r[1] for r in conn.execute("PRAGMA table_info(prompts)") if r[1] not in ("id", "text")]
for k in range(1, {copies}):
    with store.transaction():
        conn.execute(f"INSERT INTO prompts (id, text, {{', '.join(pcols)}}) SELECT id || ':{{k}}', text || ' (copy {{k}})', "
                     f"{{', '.join(pcols)}} FROM prompts WHERE id IN (SELECT DISTINCT prompt_id FROM votes WHERE id <= ?)",
                     (top,))
    for lo in range(0, top, {chunk}):
        with store.transaction():
            conn.execute(f"INSERT INTO votes (uid, prompt_id, {{', '.join(cols)}}) SELECT uid || ':{{k}}', "
                         f"prompt_id || ':{{k}}', {{', '.join(cols)}} FROM votes WHERE id > ? AND id <= ? ORDER BY id",
                         (lo, min(lo + {chunk}, top)))
print(conn.execute("SELECT count(*) FROM votes").fetchone()[0])
store.close()
"""
CLI_CHILD = "import sys\nsys.path.insert(0, {root!r})\nfrom sbs_tui.cli import main\nmain({argv!r})\n"


def _answers() -> list[str]:
    texts = []
    for path in sorted(ALPACA.glob("*.jsonl")):
        for line in path.open(encoding="utf-8"):
            texts.append(json.loads(line)["output"])
    return texts or ["A short answer."]


def write_inputs(folder: Path, *, votes: int, prompts: int, vote_prompts: int, models: int, annotators: int,
                 seed: int = 0) -> dict:
    """The generations and votes files (contract JSONL); votes are 3 annotators per drawn (prompt, pair) item,
    on ``vote_prompts`` prompts (the first ``prompts`` of them have generations)."""
    rng = random.Random(seed)
    started = time.perf_counter()
    names = [f"model-{i:02d}" for i in range(models)]
    strength = {m: rng.gauss(0, 1) for m in names}
    people = [f"annotator-{i:02d}" for i in range(annotators)]
    texts = [f"Benchmark prompt {i}: explain item {i}." for i in range(max(prompts, vote_prompts))]
    answers = _answers()
    with (folder / "generations.jsonl").open("w", encoding="utf-8") as fh:
        for i, text in enumerate(texts[:prompts]):
            for j, model in enumerate(names):
                fh.write(json.dumps({"prompt": text, "model": model,
                                     "output": answers[(i * models + j) % len(answers)]}) + "\n")
    quoted = [json.dumps(t) for t in texts]
    made = 0
    with (folder / "votes.jsonl").open("w", encoding="utf-8") as fh:
        while made < votes:
            i = rng.randrange(vote_prompts)
            a, b = rng.sample(names, 2)
            p_b = 1 / (1 + 2.718281828 ** (strength[a] - strength[b]))
            lines = []
            for who in rng.sample(people, 3):
                winner = "tie" if rng.random() < 0.1 else ("model_b" if rng.random() < p_b else "model_a")
                ts = f"2026-{1 + made // 2_419_200 % 12:02d}-{1 + made // 86400 % 28:02d}T" \
                     f"{made // 3600 % 24:02d}:{made // 60 % 60:02d}:{made % 60:02d}Z"
                lines.append(f'{{"prompt": {quoted[i]}, "model_a": "{a}", "model_b": "{b}", "winner": "{winner}", '
                             f'"annotator": "{who}", "left": "{rng.choice(SIDES)}", "ts": "{ts}"}}\n')
                made += 1
            fh.writelines(lines)
    return {"seconds": round(time.perf_counter() - started, 1),
            "votes_mb": round((folder / "votes.jsonl").stat().st_size / 2**20, 1),
            "generations": prompts * models, "vote_prompts": vote_prompts}


def run_child(code: str, log: Path) -> dict:
    """Run ``python -c code``; its own wall, CPU and peak RSS (``os.wait4`` on that one pid)."""
    from bench.child import measured

    with log.open("wb") as out:
        m = measured([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": str(ROOT)}, stdout=out)
    if m.returncode:
        raise SystemExit(f"step failed (exit {m.returncode}); see {log}:\n{log.read_text()[-2000:]}")
    return {"wall_s": round(m.wall_s, 2), "cpu_s": round(m.cpu_s, 2), "rss_mb": round(m.rss_mb),
            "rss_ok": m.rss_mb <= RSS_GOAL_MB}


def steps(db: Path, folder: Path, bootstrap: int, replicate: int = 1) -> list[tuple[str, str]]:
    """(label, child code) in the order a campaign runs them."""
    def cli(*argv: str) -> str:
        return CLI_CHILD.format(root=str(ROOT), argv=["--db", str(db), *argv])

    out = [("import generations", cli("import", "generations", str(folder / "generations.jsonl"))),
           ("import votes", cli("import", "votes", str(folder / "votes.jsonl"))),
           *([(f"replicate votes x{replicate} (fast path)",
                REPLICATE_CHILD.format(root=str(ROOT), db=str(db), copies=replicate, chunk=100_000))]
             if replicate > 1 else []),
           ("gate (default set)", cli("gate", "--no-progress", "--format", "json")),
           ("queue build --overlap 3", cli("queue", "build", "--overlap", "3", "--format", "json")),
           ("rank sandwich", cli("rank", "--ci", "sandwich", "--format", "json")),
           (f"rank bootstrap {bootstrap}", cli("rank", "--ci", "bootstrap", "--bootstrap", str(bootstrap),
                                                "--format", "json")),
           ("agreement (1st: catch-up)", cli("agreement", "--format", "json")),
           ("agreement (2nd)", cli("agreement", "--format", "json")),
           (f"report (bootstrap {bootstrap})", cli("report", "--bootstrap", str(bootstrap),
                                                   "--out", str(folder / "report.html"))),
           ("export votes", cli("export", "votes", "--out", str(folder / "export.jsonl")))]
    out += [(f"review: {tab}", TAB_CHILD.format(root=str(ROOT), db=str(db), code=code)) for tab, code in TABS.items()]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--votes", type=int, default=1_000_000)
    parser.add_argument("--prompts", type=int, default=12_500, help="prompts (× --models generations; default "
                        "12,500 × 8 = 100k generations to gate)")
    parser.add_argument("--vote-prompts", type=int, default=None, help="prompts the votes are on (default: "
                        "votes / 10, as in an arena where most prompts are judged once: most items distinct)")
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--bootstrap", type=int, default=1000)
    parser.add_argument("--only", nargs="*", default=None, help="run only the steps whose label starts so, "
                        "in this order (on the database left by an earlier --keep run)")
    parser.add_argument("--replicate", type=int, default=1, help="fast path: import --votes / K votes, then copy "
                        "them K-1 times by SQL on copies of their prompts (REPLICATE_CHILD) to reach --votes")
    parser.add_argument("--keep", action="store_true", help="keep the database and files under bench/out")
    args = parser.parse_args()
    folder = OUT / f"e2e_{args.votes}"
    db = folder / "e2e.db"
    result: dict = {"votes": args.votes, "replicate": args.replicate, "prompts": args.prompts, "models": args.models,
                    "annotators": args.annotators, "load_before": os.getloadavg(), "steps": {}}
    if args.only is None or not (folder / "votes.jsonl").exists():
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        result["inputs"] = write_inputs(folder, votes=args.votes // args.replicate, prompts=args.prompts, models=args.models,
                                        vote_prompts=args.vote_prompts or max(args.prompts, args.votes // 10 // args.replicate),
                                        annotators=args.annotators)
        print(f"inputs written: {result['inputs']}", file=sys.stderr)
    todo = steps(db, folder, args.bootstrap, args.replicate)
    if args.only is not None:  # in the order given
        todo = [(label, code) for prefix in args.only for label, code in todo if label.startswith(prefix)]
    for label, code in todo:
        result["steps"][label] = row = run_child(code, folder / f"{len(result['steps']):02d}.log")
        print(f"{label:<32}{row['wall_s']:>9.2f} s{row['cpu_s']:>9.2f} cpu-s{row['rss_mb']:>7} MB", file=sys.stderr)
    result["load_after"] = os.getloadavg()
    if db.exists():
        result["db_mb"] = round(sum(p.stat().st_size for p in folder.glob("e2e.db*")) / 2**20)
    print(json.dumps(result, indent=2))
    print(f"\n{'step':<32}{'wall s':>9}{'CPU s':>9}{'peak RSS MB':>13}  ≤ 2 GB", file=sys.stderr)
    for label, r in result["steps"].items():
        print(f"{label:<32}{r['wall_s']:>9.2f}{r['cpu_s']:>9.2f}{r['rss_mb']:>13}  {'✓' if r['rss_ok'] else '✗'}",
              file=sys.stderr)
    if not args.keep and args.only is None:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
