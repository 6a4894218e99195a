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


if __name__ == "__main__":
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("../shared/data/alpaca_eval")
    main(root, Path(__file__).parent)
