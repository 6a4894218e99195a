"""Hugging Face backends through their real loading code: tiny BERT classifiers, a reward model and a causal LM
are built here, saved with ``save_pretrained`` to a temp folder and loaded back by the scorers.

``initializer_range=1.0`` makes random weights large enough that different texts get clearly different outputs,
so "batched equals one at a time" and "the max over sentences" are real checks, not 0.5 == 0.5.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from scorers.base import ScoreItem, ScorerError, ScorerSpec, create_scorer  # noqa: E402

WORDS = ("the a is are you your i am not this that good bad kind stupid idiot hate love help answer question "
         "bread bake flour water salt oven sorry can cannot score rating relevance creativity answer reference "
         "user request criteria json a b c tie better 1 2 3 4 5 6 7 8 9 10 . , ! ? : ; ( ) [ ] { } \" ' - = "
         "с и в не ты я он идиот хлеб").split()


def _save_tokenizer(folder: Path) -> int:
    """A WordPiece tokenizer over a small vocabulary (also written out as vocab.txt, as BERT folders have it)."""
    from transformers import BertTokenizerFast

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *dict.fromkeys(WORDS)]
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    assert len(tok) == len(vocab)
    tok.save_pretrained(folder)
    return len(tok)


def _bert_classifier(folder: Path, labels: list[str], *, multi_label: bool = False, seed: int = 0) -> Path:
    from transformers import BertConfig, BertForSequenceClassification

    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _save_tokenizer(folder)
    torch.manual_seed(seed)
    config = BertConfig(vocab_size=vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=37, max_position_embeddings=128, initializer_range=1.0,
                        num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)},
                        problem_type="multi_label_classification" if multi_label else None)
    BertForSequenceClassification(config).eval().save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tiny_models")
    out = {
        "binary": _bert_classifier(root / "binary", ["non-toxic", "toxic"], seed=1),
        "detoxify": _bert_classifier(root / "detoxify", ["toxicity", "severe_toxicity", "obscene", "threat",
                                                          "insult", "identity_attack"], multi_label=True, seed=2),
        "reward": _bert_classifier(root / "reward", ["LABEL_0"], seed=3),
    }
    from transformers import GPT2Config, GPT2LMHeadModel

    lm = root / "causal"
    lm.mkdir()
    vocab_size = _save_tokenizer(lm)
    torch.manual_seed(4)
    GPT2LMHeadModel(GPT2Config(vocab_size=vocab_size, n_positions=256, n_embd=32, n_layer=2, n_head=2,
                               initializer_range=1.0, bos_token_id=2, eos_token_id=3)).eval().save_pretrained(lm)
    out["causal"] = lm
    return out


SENTENCES = ["you are a kind person .", "i hate you , stupid idiot !", "bake the bread in the oven .",
             "this is a good answer .", "ты идиот ."]


def test_binary_classifier_loads_from_a_folder_and_takes_the_max_over_sentences(models) -> None:
    # min_chars = 0: each sentence alone (by default short sentences are judged with their neighbours).
    tox = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(models["binary"]), options={"min_chars": 0}))
    assert tox.columns == [1]  # "toxic", not "non-toxic"
    singles = [r.score for r in tox.score([ScoreItem("q", s) for s in SENTENCES])]
    assert len(set(np.round(singles, 6))) == len(SENTENCES)  # random weights tell the texts apart
    joined = tox.score([ScoreItem("q", " ".join(SENTENCES))])[0]
    assert joined.score == pytest.approx(max(singles), abs=1e-5)
    assert joined.details["worst_sentence"] == SENTENCES[int(np.argmax(singles))]
    assert set(joined.details["labels"]) == {"non-toxic", "toxic"}


def test_batched_scores_equal_one_at_a_time(models) -> None:
    tox = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(models["binary"]),
                                               options={"batch_size": 4, "per_sentence": False}))
    texts = [" ".join(SENTENCES[: k + 1]) for k in range(len(SENTENCES))] * 2  # different lengths: padding
    batched = [r.score for r in tox.score([ScoreItem("q", t) for t in texts])]
    single = [tox.score([ScoreItem("q", t)])[0].score for t in texts]
    assert batched == pytest.approx(single, abs=1e-5)


def test_multilabel_detoxify_style_label_selection(models) -> None:
    every = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(models["detoxify"]),
                                                 options={"per_sentence": False}))
    assert every.multi_label and len(every.columns) == 6
    insult = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(models["detoxify"]),
                                                  options={"labels": ["insult"], "per_sentence": False}))
    items = [ScoreItem("q", s) for s in SENTENCES]
    got_all, got_insult = every.score(items), insult.score(items)
    for a, b in zip(got_all, got_insult):
        probs = a.details["labels"]
        assert a.score == pytest.approx(max(probs.values()), abs=1e-4)  # sigmoid per label, max
        assert b.score == pytest.approx(probs["insult"], abs=1e-4)
    with pytest.raises(ScorerError, match="not one of the model's labels") as exc:
        create_scorer("toxicity", ScorerSpec(backend="hf", model=str(models["detoxify"]),
                                             options={"labels": ["sarcasm"]}))
    assert exc.value.field == "labels"


def test_local_moderation_classifier(models) -> None:
    mod = create_scorer("moderation", ScorerSpec(backend="hf", model=str(models["detoxify"])))
    results = mod.score([ScoreItem("q", s) for s in SENTENCES])
    assert all(0.0 <= r.score <= 1.0 for r in results)
    assert all(r.details["top_category"] in {"toxicity", "severe_toxicity", "obscene", "threat", "insult",
                                             "identity_attack"} for r in results)


def test_reward_model_scores_prompt_answer_pairs(models) -> None:
    reward = create_scorer("helpfulness", ScorerSpec(backend="reward", model=str(models["reward"]),
                                                     options={"batch_size": 2}))
    items = [ScoreItem("how do i bake bread ?", a) for a in SENTENCES]
    scores = [r.score for r in reward.score(items)]
    assert len(set(np.round(scores, 5))) == len(items)
    # the prompt matters: same answer, different prompt, different reward
    other = reward.score([ScoreItem("you are a kind person", SENTENCES[2])])[0].score
    assert other != pytest.approx(scores[2], abs=1e-6)
    # it is the real model's logit (checked against transformers directly)
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(models["reward"])
    model = AutoModelForSequenceClassification.from_pretrained(models["reward"]).eval()
    with torch.inference_mode():
        direct = model(**tok("how do i bake bread ?", SENTENCES[0], return_tensors="pt")).logits[0, 0].item()
    assert scores[0] == pytest.approx(direct, abs=1e-4)


def test_local_causal_lm_judge_rubric_and_pairwise(models) -> None:
    rubric = create_scorer("judge", ScorerSpec(backend="local", model=str(models["causal"]),
                                               options={"criteria": ["relevance", "creativity"]}))
    items = [ScoreItem("how do i bake bread ?", "bake the bread in the oven .", "flour water salt"),
             ScoreItem("how do i bake bread ?", "you are a stupid idiot .", "flour water salt")]
    results = rubric.score(items)
    for r in results:
        assert 1.0 <= r.score <= 10.0
        assert set(r.details["criteria"]) == {"relevance", "creativity"}
    assert results[0].score != pytest.approx(results[1].score, abs=1e-6)
    pairwise = create_scorer("judge", ScorerSpec(backend="local", model=str(models["causal"]),
                                                 options={"mode": "pairwise"}))
    res = pairwise.score(items + [ScoreItem("q", "no reference here")])
    for r in res[:2]:
        assert r.score in (0.0, 0.25, 0.5, 0.75, 1.0)
        assert r.details["answer_first"] in ("A", "B", "tie")
    assert math.isnan(res[2].score)


def test_missing_model_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ScorerError, match="model folder not found") as exc:
        create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tmp_path / "nope")))
    assert exc.value.field == "model"
    with pytest.raises(ScorerError, match="needs a model"):
        create_scorer("toxicity", ScorerSpec(backend="hf"))


def test_sbs_judge_local_backend_weights_votes_by_label_likelihood(models) -> None:
    """`sbs judge --backend local`: the real LocalLM scores the verdict labels in both orders; every pair gets
    a weighted vote whose weight is the mean of the two orders' probabilities."""
    from sbs_tui.core.judge.judging import judge_config, run_judge
    from sbs_tui.core.settings import JudgeSettings
    from tests.annotate_helpers import MODELS, make_store

    store = make_store(None, prompts=2, models=MODELS[:2])
    config = judge_config(JudgeSettings(model=str(models["causal"]), backend="local", template="mt_bench"))
    report = run_judge(store, config)
    assert report.asked == 4 and report.weighted == 2 and report.votes_written == 2
    votes = list(store.exports.votes())
    assert all(0.5 <= v.get("weight", 1.0) <= 1.0 and v["annotator_kind"] == "judge" for v in votes)
    p = [(v["meta"]["judge"]["p_a_first"], v["meta"]["judge"]["p_b_first"]) for v in votes]
    assert all(0.0 < x < 1.0 for pair in p for x in pair)
    again = run_judge(store, config)
    assert again.asked == 0 and again.votes_written == 0
    store.close()


def test_sbs_score_loading_a_classifier_leaks_no_library_progress_bar_or_notes(models, tmp_path: Path) -> None:
    """Issue 11 §5: `sbs score` printed transformers' "Loading weights 41/41" bar on stderr. stderr now holds the
    scorer's ready line and the summary only, and transformers' own settings are left as they were."""
    import json

    from transformers.utils import logging as hf_logging

    from tests.conftest import run_cli

    gens = tmp_path / "g.jsonl"
    gens.write_text(json.dumps({"prompt": "p", "model": "m", "output": SENTENCES[1]}) + "\n", encoding="utf-8")
    config = tmp_path / "gates.toml"
    config.write_text(f'[gates.toxicity]\nbackend = "hf"\nmodel = "{models["binary"]}"\n', encoding="utf-8")
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    result = run_cli("--config", str(config), "score", str(gens), "--gates", "toxicity",
                     "--out", str(tmp_path / "out.jsonl"))
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert "Loading" not in result.stderr and "it/s" not in result.stderr and "\r" not in result.stderr, lines
    # the gate's line, the summary, and what no gate checked (issue 20) — nothing from the library
    assert len(lines) == 3 and lines[0].startswith("gate toxicity:") and lines[1].startswith("scored 1 "), lines
    assert lines[2].startswith("unchecked: "), lines
    assert (hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()) == (verbosity, bars)
