"""Throughput of the gates on the shared AlpacaEval outputs (8 models × 805 instructions).

Measures, each against a named baseline in the same run:

1. offline blocking defaults as the product runs them (``GateRunner``: language identification, toxicity over
   sentence windows, the lexicon) + memorization (13-grams against a ~10 MB reference corpus) — batched, versus
   the same gates called one generation at a time, and versus the first version's path (bare sentences, no
   lexicon, no language identification);
2. the memorization index: first build versus loading it back from the disk cache;
3. MiniLM relevance (the helpfulness default), batched, versus a naive one-at-a-time loop (the transformer
   batching ratio);
4. quality: precision, recall and false-block rate of the default blocking gates on the labelled development
   set's tuning part (tests/data/gates_dev.jsonl: in-sample) and held-out test part (gates_test.jsonl), per
   language, and how many of the 6,440 real outputs they block.

The reference corpus is built from the outputs themselves (half the models verbatim, the rest as word-shuffled
copies to reach the target size), so a realistic share of generations do match something.

    python bench/bench_gates.py                       # all three, JSON on stdout, a table on stderr
    python bench/bench_gates.py --corpus-mb 100 --skip-minilm   # the 100 MB index scale check
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbs_tui.config import Settings  # noqa: E402
from sbs_tui.core.gates import evaluation as gate_eval, runner as gating  # noqa: E402
from sbs_tui.core.gates import policy
from scorers.base import ScoreItem, ScorerSpec, create_scorer  # noqa: E402

DEV_SET = Path(__file__).resolve().parents[1] / "tests" / "data" / "gates_dev.jsonl"
#: The held-out test part (issue 20): never used to choose a threshold or a rule; docs/gates.md reports it.
TEST_SET = DEV_SET.with_name("gates_test.jsonl")

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval" / "outputs"


def load_items(folder: Path, limit: int = 0) -> tuple[list[ScoreItem], dict[str, list[str]]]:
    """Every model's outputs (the first ``limit`` instructions of each when ``limit``; 0: all 805)."""
    items, by_model = [], {}
    for path in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
        rows = rows[:limit] if limit else rows
        by_model[path.stem] = [r["output"] for r in rows]
        items.extend(ScoreItem(r["instruction"], r["output"]) for r in rows)
    return items, by_model


def build_corpus(path: Path, by_model: dict[str, list[str]], target_mb: float, seed: int = 0) -> int:
    rng = random.Random(seed)
    models = sorted(by_model)
    verbatim = models[: len(models) // 2]
    size = 0
    target = int(target_mb * 1_000_000)
    with path.open("w", encoding="utf-8") as fh:
        for m in verbatim:
            for text in by_model[m]:
                fh.write(text + "\n\n")
                size += len(text.encode()) + 2
        pool = [t for m in models for t in by_model[m]]
        while size < target:
            words = rng.choice(pool).split()
            rng.shuffle(words)
            text = " ".join(words)
            fh.write(text + "\n\n")
            size += len(text.encode()) + 2
    return size


def rate(n: int, seconds: float) -> float:
    return n / seconds if seconds > 0 else float("inf")


def timed(fn):
    start = time.perf_counter()
    value = fn()
    return value, time.perf_counter() - start


def cpu_timed(fn):
    """Wall and CPU seconds (this process): on a machine shared with other jobs wall-clock rates swing ±40 %,
    CPU time far less, so before/after comparisons read the CPU column."""
    start, cpu = time.perf_counter(), time.process_time()
    value = fn()
    return value, time.perf_counter() - start, time.process_time() - cpu


def annotator_latency(items_folder: Path, tmp: Path, votes: int = 150) -> dict[str, object]:
    """What an annotator feels while gates run: the time to commit one vote and read the next pair, measured in
    this process while ``sbs gate --watch`` (a subprocess, as the app runs it) gates 6,440 generations, versus
    the same loop with no watcher. The keypress → screen part of the app adds the same on both sides."""
    import signal
    import statistics
    import subprocess

    from sbs_tui.core.ingest.rows import iter_generation_records
    from sbs_tui.core.records import VoteRecord
    from sbs_tui.core.store import Store

    db = tmp / "latency.db"
    store = Store(db)
    with store.transaction():
        for path in sorted(items_folder.glob("*.jsonl")):
            store.generations.insert(list(iter_generation_records(path)))
    prompts = [r[0] for r in store.conn.execute("SELECT id FROM prompts ORDER BY id")]
    models = store.model_names()

    def vote_loop(tag: str) -> list[float]:
        times = []
        for i in range(votes):
            started = time.perf_counter()
            with store.transaction():
                store.votes.insert([VoteRecord(prompts[i % len(prompts)], None, models[0], models[1 + i % 7],
                                               "model_a", f"annotator-{tag}", ts=f"{tag}-{i}")])
            store.conn.execute(
                "SELECT g.output FROM generations g WHERE g.prompt_id = ? AND g.gate_status = 'passed' LIMIT 2",
                (prompts[(i + 1) % len(prompts)],)).fetchall()
            times.append((time.perf_counter() - started) * 1000)
            time.sleep(0.02)  # an annotator reads between keypresses
        return times

    idle = vote_loop("idle")
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    proc = subprocess.Popen([sys.executable, "-m", "sbs_tui", "--db", str(db), "gate", "--watch",
                             "--interval", "0.5", "--gates", "toxicity,sentiment"], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(3.0)  # let it load its scorers and start committing batches
    pending_before = len(store.generations.ids(gate_status="pending"))
    busy = vote_loop("busy")
    pending_after = len(store.generations.ids(gate_status="pending"))
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    store.close()

    def summary(xs: list[float]) -> dict[str, float]:
        xs = sorted(xs)
        return {"p50_ms": round(statistics.median(xs), 2), "p95_ms": round(xs[int(0.95 * (len(xs) - 1))], 2),
                "max_ms": round(xs[-1], 2)}

    return {"idle": summary(idle), "while_gating": summary(busy),
            "generations_gated_during_loop": pending_before - pending_after,
            "p95_ratio": round(summary(busy)["p95_ms"] / max(summary(idle)["p95_ms"], 1e-6), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--corpus-mb", type=float, default=10.0)
    parser.add_argument("--naive-limit", type=int, default=800, help="generations for the one-at-a-time loops")
    parser.add_argument("--minilm-limit", type=int, default=512)
    parser.add_argument("--minilm-naive-limit", type=int, default=128)
    parser.add_argument("--skip-minilm", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    parser.add_argument("--skip-quality", action="store_true", help="skip precision/recall on the labelled sets")
    parser.add_argument("--limit", type=int, default=0,
                        help="instructions per model (0: all 805; bench/bench_against.py uses a few hundred)")
    args = parser.parse_args()

    items, by_model = load_items(args.data, args.limit)
    results: dict[str, object] = {"generations": len(items), "models": len(by_model),
                                  "cpu_count": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.txt"
        results["corpus_bytes"] = build_corpus(corpus, by_model, args.corpus_mb)
        spec = lambda: ScorerSpec(options={"references": [str(corpus)], "cache_dir": str(Path(tmp) / "cache")})
        memo, build_s = timed(lambda: create_scorer("memorization", spec()))
        _, load_s = timed(lambda: create_scorer("memorization", spec()))
        results["index"] = {"ngrams": int(len(memo.index.hashes)), "build_s": round(build_s, 2),
                            "cached_load_s": round(load_s, 3), "build_over_load": round(build_s / load_s, 1)}
        memo_gate = policy.GateConfig("memorization", "memorization", blocking=True, options={
            "references": [str(corpus)], "cache_dir": str(Path(tmp) / "cache")})
        defaults = [g for g in policy.load_policy(Settings()) if g.blocking]
        runner = gating.GateRunner([*defaults, memo_gate])
        first = gating.GateRunner([policy.GateConfig("toxicity", "toxicity", blocking=True,
                                                     options={"min_chars": 0}), memo_gate],
                                  identify_languages=False)
        runner.evaluate(items[:16])  # warm-up: builds every scorer
        first.evaluate(items[:16])

        def batched(r):
            out = []
            for i in range(0, len(items), 256):
                out.extend(r.evaluate(items[i:i + 256]))
            return out

        out, batched_s, batched_cpu = cpu_timed(lambda: batched(runner))
        _, first_s = timed(lambda: batched(first))
        # The same two paths at `sbs gate`'s default batch size (32): per-batch costs weigh 8x more there.
        small = items[:1600]
        _, small_s, small_cpu = cpu_timed(lambda: [runner.evaluate(small[i:i + 32])
                                                   for i in range(0, len(small), 32)])
        # Issue 22's goal: the default set alone (language ID, windows, lexicon, profanity model; no memorization,
        # which needs a reference corpus) at batch 32 and 256, all 6,440 outputs.
        plain = gating.GateRunner(defaults)
        plain.evaluate(items[:16])
        _, d32_s, d32_cpu = cpu_timed(lambda: [plain.evaluate(items[i:i + 32]) for i in range(0, len(items), 32)])
        _, d256_s, d256_cpu = cpu_timed(lambda: [plain.evaluate(items[i:i + 256])
                                                 for i in range(0, len(items), 256)])
        _, small_first_s = timed(lambda: [first.evaluate(small[i:i + 32]) for i in range(0, len(small), 32)])
        copied = sum((o.scores["memorization"] or 0) >= 0.5 for o in out)
        toxic = sum(any(r["gate"] in ("toxicity", "lexicon") for r in o.reasons) for o in out)
        naive_items = items[:: max(1, len(items) // args.naive_limit)][: args.naive_limit]
        _, naive_s = timed(lambda: [runner.evaluate([i]) for i in naive_items])
        _, same_s = timed(lambda: runner.evaluate(naive_items))
        toxicity_gate = next(g for g in runner.gates if g.name == "toxicity")
        results["offline_defaults"] = {
            "gates": [g.name for g in runner.gates],
            "configuration": {"language_identification": runner.identify_languages,
                              "context_windows_min_chars": runner.scorer(toxicity_gate).min_chars,
                              "lexicon": any(g.name == "lexicon" for g in runner.gates), "batch_size": 256},
            "batched_gen_per_s": round(rate(len(items), batched_s), 1),
            "first_version_path_gen_per_s": round(rate(len(items), first_s), 1),
            "ratio_vs_first_version_path": round(first_s / batched_s, 3),
            "batch_32_gen_per_s": round(rate(len(small), small_s), 1),
            "batch_32_first_version_path_gen_per_s": round(rate(len(small), small_first_s), 1),
            "batched_cpu_gen_per_s": round(rate(len(items), batched_cpu), 1),
            "batch_32_cpu_gen_per_s": round(rate(len(small), small_cpu), 1),
            "default_set_batch_32_gen_per_s": round(rate(len(items), d32_s), 1),
            "default_set_batch_32_cpu_gen_per_s": round(rate(len(items), d32_cpu), 1),
            "default_set_batch_256_gen_per_s": round(rate(len(items), d256_s), 1),
            "default_set_batch_256_cpu_gen_per_s": round(rate(len(items), d256_cpu), 1),
            "default_set_target_gen_per_s": 2500,
            "load_average_1min": round(os.getloadavg()[0], 2),
            "naive_gen_per_s": round(rate(len(naive_items), naive_s), 1),
            "batched_same_items_gen_per_s": round(rate(len(naive_items), same_s), 1),
            "ratio": round(rate(len(naive_items), same_s) / rate(len(naive_items), naive_s), 2),
            "memorization_blocked": copied, "toxicity_or_lexicon_blocked": toxic,
            "uncovered": sum(o.uncovered for o in out), "target_gen_per_s": 1000,
        }
        for gate in runner.gates:
            scorer = runner.scorer(gate)
            _, gate_s = timed(lambda: [scorer.score(items[i:i + 256]) for i in range(0, len(items), 256)])
            results["offline_defaults"][f"{gate.name}_gen_per_s"] = round(rate(len(items), gate_s), 1)
        from scorers.language import identify

        _, lang_s = timed(lambda: [identify(i.output) for i in items])
        results["offline_defaults"]["language_id_gen_per_s"] = round(rate(len(items), lang_s), 1)

    if not args.skip_quality:
        results["quality"] = quality()
        results["quality_held_out"] = quality(TEST_SET)

    if not args.skip_minilm:
        import numpy as np

        helpful = create_scorer("helpfulness")  # the default: int8 on a CPU
        # Consecutive items: 805 prompts × 8 models, so a slice holds few repeated prompts (a conservative
        # case for the prompt-embedding cache).
        sample = items[: args.minilm_limit]
        helpful.score(sample[:8])  # warm-up

        def cold(fn):  # no prompt embeddings cached from an earlier measurement
            helpful._prompt_cache.clear()
            return timed(fn)

        scores, batch_s = cold(lambda: helpful.relevance(sample))
        # The layout of a real evaluation: every prompt answered by each model (64 prompts × 8 models).
        per_model = len(items) // len(by_model)
        shared = [items[m * per_model + p] for p in range(args.minilm_limit // len(by_model))
                  for m in range(len(by_model))]
        _, shared_s = cold(lambda: helpful.relevance(shared))
        naive = sample[: args.minilm_naive_limit]
        _, naive_s = cold(lambda: [helpful.score([i]) for i in naive])
        _, same_s = cold(lambda: helpful.score(naive))  # the baseline's own items, batched
        fp32 = create_scorer("helpfulness", ScorerSpec(options={"quantize": False}))
        fp32.score(sample[:8])
        fp32._prompt_cache.clear()
        fp32_scores, fp32_s = timed(lambda: fp32.relevance(sample))
        results["minilm"] = {
            "batched_gen_per_s": round(rate(len(sample), batch_s), 1),
            "naive_gen_per_s": round(rate(len(naive), naive_s), 1),
            "batched_same_items_gen_per_s": round(rate(len(naive), same_s), 1),
            "ratio": round(rate(len(naive), same_s) / rate(len(naive), naive_s), 2),
            "batched_prompts_shared_by_models_gen_per_s": round(rate(len(shared), shared_s), 1),
            "quantized": helpful.quantized,
            "float32_batched_gen_per_s": round(rate(len(sample), fp32_s), 1),
            "int8_vs_float32_correlation": round(float(np.corrcoef(scores, fp32_scores)[0, 1]), 4),
            "max_tokens": helpful.encoder.max_seq_length, "target_gen_per_s": 60,
            "torch_threads": __import__("torch").get_num_threads(),
        }

    if not args.skip_latency:
        with tempfile.TemporaryDirectory() as tmp:
            results["annotator_latency"] = annotator_latency(args.data, Path(tmp))

    print(json.dumps(results, indent=2))
    od = results["offline_defaults"]
    conf = od["configuration"]
    lines = [
        f"offline blocking defaults ({', '.join(od['gates'])}): language identification "
        f"{'on' if conf['language_identification'] else 'OFF'}, context windows "
        f"{'on (>= ' + str(conf['context_windows_min_chars']) + ' chars)' if conf['context_windows_min_chars'] else 'OFF'}"
        f", lexicon {'on' if conf['lexicon'] else 'OFF'}; baseline: the first version's path in the same run "
        "(bare sentences, no lexicon, no language identification)",
        f"{'measurement':44} {'value':>12} {'baseline':>12} {'ratio':>7}",
        f"{'blocking defaults+memorization, 6,440 (gen/s)':44} {od['batched_gen_per_s']:>12,.0f} "
        f"{od['first_version_path_gen_per_s']:>12,.0f} {od['ratio_vs_first_version_path']:>7.2f}",
        f"{'  ... at sbs gate batch size 32 (gen/s)':44} {od['batch_32_gen_per_s']:>12,.0f} "
        f"{od['batch_32_first_version_path_gen_per_s']:>12,.0f} "
        f"{od['batch_32_gen_per_s'] / od['batch_32_first_version_path_gen_per_s']:>7.2f}",
        f"{'  ... CPU time (gen per CPU-s), 256 / 32':44} {od['batched_cpu_gen_per_s']:>12,.0f} "
        f"{od['batch_32_cpu_gen_per_s']:>12,.0f}",
        f"{'default set alone, batch 32 (gen/s)':44} {od['default_set_batch_32_gen_per_s']:>12,.0f} "
        f"{'CPU ' + format(od['default_set_batch_32_cpu_gen_per_s'], ',.0f'):>12}",
        f"{'default set alone, batch 256 (gen/s)':44} {od['default_set_batch_256_gen_per_s']:>12,.0f} "
        f"{'CPU ' + format(od['default_set_batch_256_cpu_gen_per_s'], ',.0f'):>12}  (load {od['load_average_1min']})",
        f"{'  ... batched vs naive':44} {od['batched_same_items_gen_per_s']:>12,.0f} "
        f"{od['naive_gen_per_s']:>12,.0f} {od['ratio']:>7}",
        f"{'memorization index build vs cached load (s)':44} {results['index']['build_s']:>12} "
        f"{results['index']['cached_load_s']:>12} {results['index']['build_over_load']:>7}",
    ]
    if "minilm" in results:
        mm = results["minilm"]
        lines.append(f"{'MiniLM relevance, 512 generations (gen/s)':44} {mm['batched_gen_per_s']:>12,.1f}")
        lines.append(f"{'MiniLM, 64 prompts x 8 models (gen/s)':44} "
                     f"{mm['batched_prompts_shared_by_models_gen_per_s']:>12,.1f}")
        lines.append(f"{'MiniLM batched vs naive (same items)':44} {mm['batched_same_items_gen_per_s']:>12,.1f} "
                     f"{mm['naive_gen_per_s']:>12,.1f} {mm['ratio']:>7}")
        lines.append(f"{'MiniLM int8 vs float32 (gen/s, batched)':44} {mm['batched_gen_per_s']:>12,.1f} "
                     f"{mm['float32_batched_gen_per_s']:>12,.1f} "
                     f"{mm['batched_gen_per_s'] / mm['float32_batched_gen_per_s']:>7.2f}")
    if "annotator_latency" in results:
        lat = results["annotator_latency"]
        lines.append(f"{'vote commit + next read p95 (ms), gating/idle':44} {lat['while_gating']['p95_ms']:>12} "
                     f"{lat['idle']['p95_ms']:>12} {lat['p95_ratio']:>7}")
    lines.append(f"real outputs blocked by toxicity/lexicon: {od['toxicity_or_lexicon_blocked']} of "
                 f"{results['generations']}; uncovered: {od['uncovered']}")
    for key, title in (("quality", "quality (tuning, in-sample)"), ("quality_held_out", "quality (held-out test)")):
        lines.append(f"{title:30} {'lang':>5} {'toxic':>6} {'benign':>7} {'prec':>7} {'recall':>7} "
                     f"{'FBR':>7} {'FB':>4}")
        for row in results.get(key, []):
            lines.append(f"{row['gate']:30} {row['language']:>5} {row['toxic']:>6} {row['benign']:>7} "
                         f"{_pct(row['precision']):>7} {_pct(row['recall']):>7} {_pct(row['false_block_rate']):>7} "
                         f"{row['fp']:>4}")
    print("\n".join(lines), file=sys.stderr)


def quality(path: Path = DEV_SET) -> list[dict[str, object]]:
    """Precision/recall/false-block rate of the default blocking gates on a labelled set (the tuning part by
    default: in-sample; ``TEST_SET`` for the held-out figures)."""
    runner = gating.GateRunner([g for g in policy.load_policy(Settings()) if g.blocking])
    report = gate_eval.evaluate(runner, gate_eval.read_labelled(str(path)))
    rows = []
    for g in report.gates:
        for lang, m in [("all", g.overall), *g.by_language.items()]:
            if lang in ("all", "en", "ru"):
                rows.append({"gate": g.gate, "language": lang, **{k: m[k] for k in (
                    "toxic", "benign", "precision", "recall", "f1", "false_block_rate", "fp")}})
    return rows


def _pct(value) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


if __name__ == "__main__":
    main()
