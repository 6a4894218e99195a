"""Throughput of the gates on the shared AlpacaEval outputs (8 models × 805 instructions).

Measures, each against a named baseline in the same run:

1. offline defaults — toxicity (alt-profanity-check, per sentence) + memorization (13-grams against a ~10 MB
   reference corpus) — batched, versus the same scorers called one generation at a time;
2. the memorization index: first build versus loading it back from the disk cache;
3. MiniLM relevance (the helpfulness default), batched, versus a naive one-at-a-time loop (the transformer
   batching ratio).

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

from scorers.base import ScoreItem, ScorerSpec, create_scorer  # noqa: E402

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "alpaca_eval" / "outputs"


def load_items(folder: Path) -> tuple[list[ScoreItem], dict[str, list[str]]]:
    items, by_model = [], {}
    for path in sorted(folder.glob("*.jsonl")):
        rows = [json.loads(line) for line in path.open(encoding="utf-8")]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--corpus-mb", type=float, default=10.0)
    parser.add_argument("--naive-limit", type=int, default=800, help="generations for the one-at-a-time loops")
    parser.add_argument("--minilm-limit", type=int, default=512)
    parser.add_argument("--minilm-naive-limit", type=int, default=96)
    parser.add_argument("--skip-minilm", action="store_true")
    args = parser.parse_args()

    items, by_model = load_items(args.data)
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
        tox = create_scorer("toxicity")
        tox.score(items[:16])  # warm-up

        def batched():
            out = []
            for i in range(0, len(items), 256):
                chunk = items[i:i + 256]
                out.append((tox.score(chunk), memo.score(chunk)))
            return out

        out, batched_s = timed(batched)
        copied = sum(r.score >= 0.5 for _, m in out for r in m)
        toxic = sum(r.score >= 0.9 for t, _ in out for r in t)
        naive_items = items[: args.naive_limit]
        _, naive_s = timed(lambda: [(tox.score([i]), memo.score([i])) for i in naive_items])
        results["offline_defaults"] = {
            "batched_gen_per_s": round(rate(len(items), batched_s), 1),
            "naive_gen_per_s": round(rate(len(naive_items), naive_s), 1),
            "ratio": round(rate(len(items), batched_s) / rate(len(naive_items), naive_s), 2),
            "memorization_blocked": copied, "toxicity_blocked": toxic, "target_gen_per_s": 1000,
        }
        _, tox_s = timed(lambda: [tox.score(items[i:i + 256]) for i in range(0, len(items), 256)])
        _, memo_s = timed(lambda: [memo.score(items[i:i + 256]) for i in range(0, len(items), 256)])
        results["offline_defaults"]["toxicity_gen_per_s"] = round(rate(len(items), tox_s), 1)
        results["offline_defaults"]["memorization_gen_per_s"] = round(rate(len(items), memo_s), 1)

    if not args.skip_minilm:
        import numpy as np

        helpful = create_scorer("helpfulness")  # the default: int8 on a CPU
        sample = items[:: max(1, len(items) // args.minilm_limit)][: args.minilm_limit]
        helpful.score(sample[:8])  # warm-up
        scores, batch_s = timed(lambda: helpful.relevance(sample))
        naive = sample[: args.minilm_naive_limit]
        _, naive_s = timed(lambda: [helpful.score([i]) for i in naive])
        fp32 = create_scorer("helpfulness", ScorerSpec(options={"quantize": False}))
        fp32.score(sample[:8])
        fp32_scores, fp32_s = timed(lambda: fp32.relevance(sample))
        results["minilm"] = {
            "batched_gen_per_s": round(rate(len(sample), batch_s), 1),
            "naive_gen_per_s": round(rate(len(naive), naive_s), 1),
            "ratio": round(rate(len(sample), batch_s) / rate(len(naive), naive_s), 2),
            "quantized": helpful.quantized,
            "float32_batched_gen_per_s": round(rate(len(sample), fp32_s), 1),
            "int8_vs_float32_correlation": round(float(np.corrcoef(scores, fp32_scores)[0, 1]), 4),
            "max_tokens": helpful.encoder.max_seq_length, "target_gen_per_s": 60,
            "torch_threads": __import__("torch").get_num_threads(),
        }

    print(json.dumps(results, indent=2))
    od = results["offline_defaults"]
    lines = [
        f"{'measurement':44} {'value':>12} {'baseline':>12} {'ratio':>7}",
        f"{'toxicity+memorization (gen/s, batched)':44} {od['batched_gen_per_s']:>12,.0f} "
        f"{od['naive_gen_per_s']:>12,.0f} {od['ratio']:>7}",
        f"{'memorization index build vs cached load (s)':44} {results['index']['build_s']:>12} "
        f"{results['index']['cached_load_s']:>12} {results['index']['build_over_load']:>7}",
    ]
    if "minilm" in results:
        mm = results["minilm"]
        lines.append(f"{'MiniLM relevance (gen/s, batched vs naive)':44} {mm['batched_gen_per_s']:>12,.1f} "
                     f"{mm['naive_gen_per_s']:>12,.1f} {mm['ratio']:>7}")
        lines.append(f"{'MiniLM int8 vs float32 (gen/s, batched)':44} {mm['batched_gen_per_s']:>12,.1f} "
                     f"{mm['float32_batched_gen_per_s']:>12,.1f} "
                     f"{mm['batched_gen_per_s'] / mm['float32_batched_gen_per_s']:>7.2f}")
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    main()
