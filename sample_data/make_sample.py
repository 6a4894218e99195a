"""Rebuild the bundled sample from the AlpacaEval subset in ../shared/data/alpaca_eval (run from the repo root).

40 instructions drawn with a fixed seed; four models of clearly different strength; their outputs in the
contract generation format and the GPT-4-turbo judge's verdicts as AlpacaEval annotation records (as-is).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path

MODELS = ["gpt4_1106_preview", "claude-2", "vicuna-13b-v1.5", "falcon-7b-instruct"]
N_PROMPTS = 40
SEED = 20261129


def main(src: Path, dst: Path) -> None:
    outputs = {m: [json.loads(line) for line in open(src / "outputs" / f"{m}.jsonl", encoding="utf-8")]
               for m in MODELS}
    instructions = [r["instruction"] for r in outputs[MODELS[0]]]
    chosen = set(random.Random(SEED).sample(instructions, N_PROMPTS))
    with open(dst / "generations.jsonl", "w", encoding="utf-8") as fh:
        for model in MODELS:
            for r in outputs[model]:
                if r["instruction"] in chosen:
                    row = {"prompt": r["instruction"], "model": model, "output": r["output"],
                           "category": r["dataset"]}
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    with open(dst / "judge_votes.jsonl", "w", encoding="utf-8") as fh:
        for model in MODELS[1:]:
            for line in open(src / "judge_votes" / f"{model}.jsonl", encoding="utf-8"):
                r = json.loads(line)
                if r["instruction"] in chosen:
                    fh.write(json.dumps(r, ensure_ascii=False) + "\n")


def synthetic_stage_files(dst: Path) -> None:
    """Illustrative benchmark and A/B files for the same four models, so the demo can show the whole funnel.

    These numbers are SYNTHETIC (drawn with a fixed seed around an assumed strength order), not the models'
    real benchmark or online results; every row says so in its `source` column.
    """
    rng = random.Random(SEED)
    strength = {"gpt4_1106_preview": 0.9, "claude-2": 0.75, "vicuna-13b-v1.5": 0.55, "falcon-7b-instruct": 0.35}
    with open(dst / "synthetic_benchmarks.csv", "w", encoding="utf-8") as fh:
        fh.write("model,benchmark,score,source\n")
        for model, s in strength.items():
            for bench, spread in (("mmlu", 0.25), ("gsm8k", 0.45), ("truthfulqa_mc2", 0.15)):
                score = min(0.99, max(0.05, 0.3 + s * spread * 2 + rng.gauss(0, 0.03)))
                fh.write(f"{model},{bench},{score:.4f},synthetic\n")
    with open(dst / "synthetic_ab.csv", "w", encoding="utf-8") as fh:
        fh.write("experiment,variant,unit,metric,value,source\n")
        for model, s in strength.items():
            for unit in range(400):
                thumbs = 1 if rng.random() < 0.45 + 0.25 * s else 0
                minutes = max(0.0, rng.gauss(4 + 3 * s, 2.5))
                fh.write(f"assistant-2026-11,{model},{model}-u{unit},thumbs_up,{thumbs},synthetic\n")
                fh.write(f"assistant-2026-11,{model},{model}-u{unit},session_minutes,{minutes:.3f},synthetic\n")


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/alpaca_eval")
    main(root, Path(__file__).parent)
    synthetic_stage_files(Path(__file__).parent)
