"""Real safety models as gates (issue 20 §2): Llama Guard / Yes-No guards behind a chat endpoint, moderation
endpoints and Hugging Face classifiers, each reporting the taxonomy categories it flagged and declaring what it
covers. Endpoints are the loopback stand-in (tests/loopback_openai.py, a keyword rule, not a model); classifiers are
tiny random BERTs saved to a temp folder and loaded through the real code path."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scorers.base import REGISTRY, ScoreItem, ScorerError, ScorerSpec, create_scorer
from scorers.guard import LLAMA_GUARD_LANGUAGES, parse_llama_guard, parse_yes_no, p_unsafe
from scorers.taxonomy import CATEGORIES, LLAMA_GUARD_3
from tests.loopback_openai import HAZARDS, LoopbackOpenAI, hazards

STANDIN = Path(__file__).parent / "data" / "safety_standin.jsonl"


@pytest.fixture
def server():
    with LoopbackOpenAI() as s:
        s.chat_rule = LoopbackOpenAI.llama_guard
        yield s


def _guard(server, backend: str = "llama-guard", **options):
    return create_scorer("guard", ScorerSpec(backend=backend, model="meta-llama/Llama-Guard-3-8B",
                                             options={"base_url": server.base_url, **options}))


# -- reading replies ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("reply, unsafe, codes, unknown", [
    ("safe", False, [], []),
    ("\n\n  SAFE \n", False, [], []),
    ("\n\nunsafe\nS1,S10", True, ["S1", "S10"], []),
    ("Unsafe\n s1 , s10 ", True, ["S1", "S10"], []),
    ("unsafe S11", True, ["S11"], []),
    ("unsafe\nS1,S1", True, ["S1"], []),
    ("unsafe\nS99", True, [], ["S99"]),
    ("unsafe\nS2, S42", True, ["S2"], ["S42"]),
    ("unsafe", True, [], []),
    ("I cannot help with that.", None, [], []),
    ("", None, [], []),
])
def test_llama_guard_replies(reply, unsafe, codes, unknown) -> None:
    verdict = parse_llama_guard(reply)
    assert (verdict.unsafe, verdict.codes, verdict.unknown) == (unsafe, codes, unknown)
    # anything short of a clean verdict says what was wrong: an unknown code is never a silent safe
    assert (verdict.error is None) == (unsafe is False or bool(unsafe and codes and not unknown))


@given(st.text(max_size=80))
def test_llama_guard_parser_never_crashes_and_never_reads_noise_as_safe(reply: str) -> None:
    verdict = parse_llama_guard(reply)
    words = re.split(r"[\s,;]+", reply.strip())
    if verdict.unsafe is False:
        assert words[0].strip(".:").lower() == "safe"
    if verdict.unsafe is True:
        assert words[0].strip(".:").lower() == "unsafe"
    assert set(verdict.codes) <= set(LLAMA_GUARD_3)


@pytest.mark.parametrize("reply, unsafe", [
    ("Yes", True), ("no.", False), (" NO ", False), ("<think>it insults the user</think>\n<score> yes </score>", True),
    ("<score> no </score>", False), ("Maybe", None), ("", None),
])
def test_yes_no_replies(reply, unsafe) -> None:
    assert parse_yes_no(reply).unsafe is unsafe


def test_p_unsafe_reads_the_first_verdict_token_and_renormalises() -> None:
    logprobs = {"content": [{"token": "\n\n", "logprob": -0.01, "top_logprobs": []},
                            {"token": "unsafe", "logprob": math.log(0.6),
                             "top_logprobs": [{"token": "unsafe", "logprob": math.log(0.6)},
                                              {"token": "safe", "logprob": math.log(0.3)},
                                              {"token": "The", "logprob": math.log(0.1)}]}]}
    assert p_unsafe(logprobs, yes_no=False) == pytest.approx(0.6 / 0.9)
    assert p_unsafe({"content": [{"token": "Hello", "logprob": 0.0}]}, yes_no=False) is None
    assert p_unsafe(None, yes_no=True) is None


# -- the llama-guard backend over HTTP ----------------------------------------------------------------------------


def test_guard_sends_the_conversation_and_maps_codes_to_the_taxonomy(server) -> None:
    guard = _guard(server)
    items = [ScoreItem("How do I bake bread?", "Mix flour and water, then bake."),
             ScoreItem("My neighbour annoys me.", "Steal his car and kill him."),
             ScoreItem("Help", "Just kill yourself.")]
    safe, violent, self_harm = guard.score(items)
    assert (safe.score, safe.details["verdict"], safe.details["categories"]) == (0.0, "safe", [])
    assert violent.score == 1.0 and violent.details["codes"] == ["S1", "S2"]
    assert violent.details["categories"] == ["violence", "threat", "illicit"]
    assert self_harm.details["categories"] == ["self_harm"] and "error" not in self_harm.details
    bodies = server.chat_requests()  # sent concurrently: any order
    assert {(b["model"], b["temperature"]) for b in bodies} == {("meta-llama/Llama-Guard-3-8B", 0)}
    assert {tuple((m["role"], m["content"]) for m in b["messages"]) for b in bodies} == \
        {(("user", i.prompt), ("assistant", i.output)) for i in items}


def test_unknown_code_blocks_and_says_so_and_nonsense_fails_the_gate(server) -> None:
    from sbs_tui.core.gates.policy import is_failing

    replies = {"a": "unsafe\nS99", "b": "Sorry, I can't classify this.", "c": "unsafe"}
    server.chat_rule = lambda content: replies[content]
    unknown, nonsense, bare = _guard(server).score([ScoreItem("q", k) for k in "abc"])
    assert unknown.score == 1.0 and "S99" in unknown.details["error"] and unknown.details["categories"] == []
    assert bare.score == 1.0 and "without a hazard code" in bare.details["error"]
    assert math.isnan(nonsense.score) and "not a Llama Guard verdict" in nonsense.details["error"]
    assert is_failing(nonsense.score, 0.5, True)  # no verdict is never a pass


def test_categories_option_restricts_what_counts_and_what_is_declared(server) -> None:
    guard = _guard(server, categories=["self_harm", "hate"])
    assert guard.categories == ("self_harm", "hate")
    violent, hateful = guard.score([ScoreItem("q", "I will kill you"), ScoreItem("q", "they are vermin")])
    assert violent.score == 0.0 and violent.details["ignored"] == ["violence", "threat"]
    assert hateful.score == 1.0 and hateful.details["categories"] == ["hate"]
    with pytest.raises(ScorerError, match="unknown safety category 'hat'; did you mean 'hate'") as exc:
        _guard(server, categories=["hat"])
    assert exc.value.field == "categories"


def test_custom_code_table_for_another_policy(server) -> None:
    server.chat_rule = lambda content: "unsafe\nO3"
    guard = _guard(server, codes={"O1": "violence", "O3": ["self_harm"]})
    assert set(guard.categories) == {"violence", "self_harm"}
    assert guard.score([ScoreItem("q", "x")])[0].details["categories"] == ["self_harm"]
    with pytest.raises(ScorerError, match="unknown safety category") as exc:
        _guard(server, codes={"O1": "violent"})
    assert exc.value.field == "codes.O1"


def test_yes_no_guard_needs_its_policy_categories_and_passes_template_kwargs(server) -> None:
    server.chat_rule = LoopbackOpenAI.yes_no
    with pytest.raises(ScorerError, match="list the categories") as exc:
        _guard(server, "yes-no")
    assert exc.value.field == "categories"
    guard = _guard(server, "yes-no", categories=["violence", "hate"], system="Policy: no violence, no hate.",
                   chat_template_kwargs={"guardian_config": {"risk_name": "harm"}})
    assert guard.languages == ("en",)  # ShieldGemma's and Granite Guardian's cards
    bad, good = guard.score([ScoreItem("q", "kill them"), ScoreItem("q", "bake bread")])
    assert (bad.score, bad.details["categories"]) == (1.0, ["violence", "hate"])
    assert (good.score, good.details["categories"]) == (0.0, [])
    body = server.chat_requests()[0]
    assert body["chat_template_kwargs"] == {"guardian_config": {"risk_name": "harm"}}
    assert [m["role"] for m in body["messages"]] == ["system", "user", "assistant"]
    with pytest.raises(ScorerError, match="unknown guard backend 'shieldgemma'.*yes-no"):
        _guard(server, "shieldgemma")


def test_logprobs_make_the_score_a_probability(server) -> None:
    server.logprob_rule = lambda content: {"unsafe": 0.7, "safe": 0.3} if "kill" in content else \
        {"safe": 0.9, "unsafe": 0.1}
    server.chat_rule = lambda content: "unsafe" if "kill" in content else "safe"
    guard = _guard(server, logprobs=True)
    bad, good = guard.score([ScoreItem("q", "kill"), ScoreItem("q", "bread")])
    assert bad.score == pytest.approx(0.7) and good.score == pytest.approx(0.1)
    assert server.chat_requests()[0]["logprobs"] is True


def test_guard_requests_run_concurrently_through_the_shared_client(server) -> None:
    server.latency = 0.05
    guard = _guard(server, concurrency=8)
    results = guard.score([ScoreItem("q", f"answer {i}") for i in range(24)])
    assert len(results) == 24 and server.peak_in_flight > 1
    server.fail_next = [(429, {"Retry-After": "3"})]
    waits: list[float] = []
    guard.client.sleep = waits.append
    assert guard.score([ScoreItem("q", "kill")])[0].score == 1.0 and waits == [3.0]


def test_guard_is_a_registered_blocking_gate_declaring_llama_guard_coverage(server, tmp_path) -> None:
    from sbs_tui.config import load_settings
    from sbs_tui.core.gates import policy
    from sbs_tui.core.gates import runner as gating

    info = REGISTRY.info("guard")
    assert info.blocking and info.enabled == "configured" and info.languages == LLAMA_GUARD_LANGUAGES
    assert set(info.categories) == {c for cats in LLAMA_GUARD_3.values() for c in cats}
    config = tmp_path / "sbs.toml"
    config.write_text(f'[gates.guard]\nbackend = "llama-guard"\nbase_url = "{server.base_url}"\n'
                      'model = "meta-llama/Llama-Guard-3-8B"\n\n'
                      f'[gates.guard_ru]\nscorer = "guard"\nbase_url = "{server.base_url}"\nmodel = "lg"\n'
                      'languages = ["ru"]\n', encoding="utf-8")
    gates = {g.name: g for g in policy.load_policy(load_settings(str(config)))}
    assert gates["guard"].scorer == "guard" and gates["guard"].blocking
    runner = gating.GateRunner([gates["guard"], gates["guard_ru"]])
    assert runner.languages(gates["guard"]) == LLAMA_GUARD_LANGUAGES
    assert runner.languages(gates["guard_ru"]) == ("ru",)
    outcome = runner.evaluate([ScoreItem("q", "Steal it and kill them all.")])[0]
    assert outcome.blocked and outcome.details["guard"]["categories"] == ["violence", "threat", "illicit"]
    assert runner.scorer(gates["guard"]).categories == info.categories


def test_a_configured_guard_takes_its_categories_out_of_unchecked(server, tmp_path) -> None:
    """Issue 20's done-when: a Llama Guard endpoint configured as the issue writes it blocks the categories it
    covers, and they leave ``unchecked``; what it does not cover (insult, harassment) stays unchecked."""
    from sbs_tui.config import load_settings
    from sbs_tui.core.gates import policy
    from sbs_tui.core.gates import runner as gating

    plain = gating.GateRunner(policy.load_policy(load_settings(None)))
    before = plain.evaluate([ScoreItem("q", "Here is a recipe for bread.")])[0]
    assert {"threat", "hate", "self_harm", "violence", "sexual"} <= set(before.unchecked)
    config = tmp_path / "sbs.toml"
    config.write_text(f'[gates.guard]\nbackend = "llama-guard"\nbase_url = "{server.base_url}"\n'
                      'model = "meta-llama/Llama-Guard-3-8B"\n', encoding="utf-8")
    runner = gating.GateRunner(policy.load_policy(load_settings(str(config))))
    after = runner.evaluate([ScoreItem("q", "Here is a recipe for bread.")])[0]
    assert not after.blocked
    assert not {"threat", "hate", "self_harm", "violence", "sexual"} & set(after.unchecked)
    assert {"insult", "harassment"} <= set(after.unchecked)
    restricted = tmp_path / "restricted.toml"
    restricted.write_text(config.read_text(encoding="utf-8") + 'categories = ["hate"]\n', encoding="utf-8")
    only_hate = gating.GateRunner(policy.load_policy(load_settings(str(restricted))))
    unchecked = only_hate.evaluate([ScoreItem("q", "Here is a recipe for bread.")])[0].unchecked
    assert "hate" not in unchecked and "threat" in unchecked


def test_a_guard_without_a_model_name_is_a_config_error(server) -> None:
    with pytest.raises(ScorerError, match="served model's name") as exc:
        create_scorer("guard", ScorerSpec(options={"base_url": server.base_url}))
    assert exc.value.field == "model"


# -- moderation endpoints -----------------------------------------------------------------------------------------


def test_moderation_reports_taxonomy_categories_and_its_own_labels(server) -> None:
    mod = create_scorer("moderation", ScorerSpec(options={"base_url": server.base_url}))
    assert set(mod.categories) == set(REGISTRY.info("moderation").categories)
    hateful, insult = mod.score([ScoreItem("q", "They are vermin and I will kill them."),
                                 ScoreItem("q", "you idiot")])
    assert hateful.details["labels"] == ["hate", "violence"]
    assert hateful.details["categories"] == ["hate", "violence"]
    assert insult.details["labels"] == ["harassment"] and insult.details["categories"] == ["insult", "harassment"]
    only = create_scorer("moderation", ScorerSpec(options={"base_url": server.base_url,
                                                           "categories": ["harassment/threatening"]}))
    assert only.categories == ("threat", "harassment")  # declared in the taxonomy's order


def test_every_openai_label_maps_into_the_taxonomy() -> None:
    from scorers.moderation import CATEGORIES as OPENAI
    from scorers.taxonomy import OPENAI_MODERATION

    assert set(OPENAI) == set(OPENAI_MODERATION)
    assert all(set(cats) <= set(CATEGORIES) for cats in OPENAI_MODERATION.values())
    assert {entry[1] for entry in HAZARDS.values()} <= set(OPENAI)


# -- Hugging Face classifiers from a local folder -----------------------------------------------------------------

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict[str, Path]:
    from tests.test_scorers_hf import _bert_classifier

    root = tmp_path_factory.mktemp("safety_models")
    return {
        "xlmr_like": _bert_classifier(root / "xlmr", ["neutral", "toxic"], seed=11),
        "detoxify": _bert_classifier(root / "detoxify", ["toxicity", "severe_toxicity", "obscene", "threat",
                                                          "insult", "identity_attack", "sexual_explicit"],
                                     multi_label=True, seed=12),
        "anonymous": _bert_classifier(root / "anon", ["LABEL_0", "LABEL_1", "LABEL_2"], multi_label=True, seed=13),
        "bias": _bert_classifier(root / "bias", ["toxicity", "insult", "male"], multi_label=True, seed=14),
    }


TEXTS = ["you are a kind person .", "i hate you , stupid idiot !", "bake the bread in the oven .", "ты идиот ."]


def test_jigsaw_heads_map_by_default_and_flags_follow_probabilities(tiny) -> None:
    tox = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["detoxify"]),
                                               options={"per_sentence": False, "flag_threshold": 0.6}))
    assert set(tox.categories) == {"insult", "obscenity", "threat", "hate", "sexual"}
    for result in tox.score([ScoreItem("q", t) for t in TEXTS]):
        probs = result.details["labels"]
        per = result.details["category_scores"]
        assert per["threat"] == pytest.approx(probs["threat"], abs=1e-4)
        assert per["hate"] == pytest.approx(probs["identity_attack"], abs=1e-4)
        assert per["insult"] == pytest.approx(max(probs[k] for k in ("toxicity", "severe_toxicity", "insult")),
                                              abs=1e-4)
        assert result.details["categories"] == [c for c, p in per.items() if p >= 0.6]


def test_per_sentence_category_scores_are_the_max_over_windows(tiny) -> None:
    spec = {"min_chars": 0, "label_categories": {"toxic": ["insult", "threat"]}}
    tox = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["xlmr_like"]), options=spec))
    assert tox.categories == ("insult", "threat") and not tox.multi_label
    singles = [r.score for r in tox.score([ScoreItem("q", t) for t in TEXTS])]
    joined = tox.score([ScoreItem("q", " ".join(TEXTS))])[0]
    assert joined.details["category_scores"] == {"insult": pytest.approx(max(singles), abs=1e-4),
                                                 "threat": pytest.approx(max(singles), abs=1e-4)}
    assert (joined.details["categories"] == ["insult", "threat"]) is (max(singles) >= 0.5)


def test_label_map_errors_name_the_field(tiny) -> None:
    with pytest.raises(ScorerError, match="has no safety category") as exc:
        create_scorer("moderation", ScorerSpec(backend="hf", model=str(tiny["anonymous"])))
    assert exc.value.field == "label_categories"
    with pytest.raises(ScorerError, match="not one of the model's labels") as exc:
        create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["xlmr_like"]),
                                             options={"label_categories": {"toxik": "insult"}}))
    assert exc.value.field == "label_categories.toxik"
    with pytest.raises(ScorerError, match="unknown safety category 'insults'") as exc:
        create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["xlmr_like"]),
                                             options={"label_categories": {"toxic": ["insults"]}}))
    assert exc.value.field == "label_categories.toxic"
    mod = create_scorer("moderation", ScorerSpec(backend="hf", model=str(tiny["anonymous"]), options={
        "label_categories": {"LABEL_0": "hate", "LABEL_1": ["violence", "threat"], "LABEL_2": "sexual"}}))
    assert mod.categories == ("hate", "violence", "threat", "sexual")
    # a named label nobody mapped (an identity column of Jigsaw's bias data) is refused, not read as toxicity
    with pytest.raises(ScorerError, match="label 'male' has no safety category"):
        create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["bias"])))
    chosen = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["bias"]),
                                                  options={"labels": ["toxicity", "insult"]}))
    assert chosen.categories == ("insult", "obscenity")
    # an anonymous toxicity model still means toxic language
    tox = create_scorer("toxicity", ScorerSpec(backend="hf", model=str(tiny["anonymous"]),
                                               options={"per_sentence": False}))
    assert tox.categories == ("insult", "obscenity")


def test_moderation_classifier_batches_and_reports_categories(tiny) -> None:
    mod = create_scorer("moderation", ScorerSpec(backend="hf", model=str(tiny["detoxify"]),
                                                 options={"batch_size": 2}))
    batched = mod.score([ScoreItem("q", t) for t in TEXTS])
    single = [mod.score([ScoreItem("q", t)])[0] for t in TEXTS]
    assert [r.score for r in batched] == pytest.approx([r.score for r in single], abs=1e-5)
    for r in batched:
        assert r.details["categories"] == [c for c, p in r.details["category_scores"].items() if p >= 0.5]
        assert set(r.details["categories"]) <= set(mod.categories)


def test_a_classifier_gate_checks_only_what_its_label_map_covers(tiny) -> None:
    """A moderation classifier whose labels map to insult alone must not take threat or hate out of
    ``unchecked`` (its scorer's registry entry lists every OpenAI category; the built backend knows better)."""
    from sbs_tui.core.gates import policy
    from sbs_tui.core.gates import runner as gating

    gate = policy.GateConfig(name="moderation", scorer="moderation", blocking=True, threshold=0.5,
                             backend="hf", model=str(tiny["xlmr_like"]),
                             options={"label_categories": {"toxic": "insult", "neutral": "insult"}},
                             languages=("en",))
    runner = gating.GateRunner([gate])
    unchecked = runner.evaluate([ScoreItem("q", "bake the bread in the oven .")])[0].unchecked
    assert "insult" not in unchecked and {"threat", "hate"} <= set(unchecked)


# -- `sbs gate eval` on each backend -------------------------------------------------------------------------------


def _rows() -> list[dict]:
    return [json.loads(line) for line in STANDIN.read_text(encoding="utf-8").splitlines()]


def _eval(cli, tmp_path, config: str, gate: str) -> dict:
    path = tmp_path / "sbs.toml"
    path.write_text(config, encoding="utf-8")
    result = cli("--config", str(path), "gate", "eval", str(STANDIN), "--gates", gate, "--format", "json")
    assert result.exit_code == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("backend, rule", [("llama-guard", LoopbackOpenAI.llama_guard),
                                           ("yes-no", LoopbackOpenAI.yes_no)])
def test_gate_eval_on_a_guard_endpoint(cli, tmp_path, server, backend, rule) -> None:
    server.chat_rule = rule
    extra = 'categories = ["violence", "threat", "hate", "self_harm", "illicit", "weapons", "sexual"]\n' \
        if backend == "yes-no" else ""
    report = _eval(cli, tmp_path, f'[gates.guard]\nbackend = "{backend}"\nbase_url = "{server.base_url}"\n'
                                  f'model = "meta-llama/Llama-Guard-3-8B"\n{extra}', "guard")
    guard = report["gates"][0]
    rows = _rows()
    # what the keyword stand-in flags (a Llama Guard code) is what the gate blocked: the plumbing loses nothing
    flagged = [any(code for code, _, _ in hazards(r["output"])) for r in rows]
    toxic = [r["label"] == "toxic" for r in rows]
    tp = sum(f and t for f, t in zip(flagged, toxic))
    assert guard["gate"] == "guard" and guard["blocking"] and guard["threshold"] == 0.5
    assert guard["recall"] == round(tp / sum(toxic), 4)
    assert guard["false_block_rate"] == round(sum(f and not t for f, t in zip(flagged, toxic))
                                              / (len(rows) - sum(toxic)), 4)
    assert set(guard["by_language"]) == {"en", "de", "es", "fr"}


def test_gate_eval_on_a_moderation_endpoint(cli, tmp_path, server) -> None:
    report = _eval(cli, tmp_path, f'[gates.moderation]\nbase_url = "{server.base_url}"\n', "moderation")
    mod = report["gates"][0]
    rows = _rows()
    flagged = [bool(hazards(r["output"])) for r in rows]
    tp = sum(f and r["label"] == "toxic" for f, r in zip(flagged, rows))
    assert mod["recall"] == round(tp / sum(r["label"] == "toxic" for r in rows), 4)


def test_gate_eval_on_a_local_classifier(cli, tmp_path, tiny) -> None:
    report = _eval(cli, tmp_path, f'[gates.xlmr]\nscorer = "toxicity"\nbackend = "hf"\n'
                                  f'model = "{tiny["xlmr_like"]}"\nlanguages = ["en", "de", "es", "fr"]\n',
                   "xlmr")
    gate = report["gates"][0]
    assert gate["gate"] == "xlmr" and gate["languages"] == ["en", "de", "es", "fr"]
    assert sum(v["toxic"] + v["benign"] for v in gate["by_language"].values()) == len(_rows())
    assert gate["sweep"] and report["uncovered"] == {}
