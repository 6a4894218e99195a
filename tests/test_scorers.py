"""Offline scorers on real text: registry rules, Unicode text handling, toxicity, sentiment, memorization,
helpfulness (the bundled MiniLM)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scorers.base import REGISTRY, Registry, ScoreItem, ScorerError, ScorerSpec, create_scorer
from scorers.text import ngrams, split_sentences, token_spans, tokenize

CLEAN = ("Photosynthesis converts light energy into chemical energy. Plants take in carbon dioxide and water. "
         "Chlorophyll absorbs mostly blue and red light. The glucose produced is stored as starch. ") * 12


# -- text utilities ------------------------------------------------------------------------------------------


def test_sentences_split_in_latin_cyrillic_and_cjk() -> None:
    assert split_sentences("Hello there! How are you? Fine.") == ["Hello there!", "How are you?", "Fine."]
    assert split_sentences("Привет! Как дела? Хорошо.") == ["Привет!", "Как дела?", "Хорошо."]
    assert split_sentences("今天天气很好。我们去公园吧！好吗？") == ["今天天气很好。", "我们去公园吧！", "好吗？"]
    assert split_sentences("- item one\n- item two\n\nNext paragraph") == ["- item one", "- item two",
                                                                          "Next paragraph"]


def test_tokens_are_unicode_aware() -> None:
    assert tokenize("Съешь же ещё этих МЯГКИХ булок") == ["съешь", "же", "еще", "этих", "мягких", "булок"]  # ё folds to е
    assert tokenize("我爱北京") == ["我", "爱", "北", "京"]
    assert tokenize("ｆｕｌｌ-width ＡＢＣ") == ["full", "width", "abc"]
    # zero-width characters do not split a word (a classic filter evasion)
    assert tokenize("in\u200bsult") == ["insult"]
    assert [t for t, _, _ in token_spans("in\u200bsult here")] == ["insult", "here"]


@given(st.text(max_size=200))
@settings(max_examples=200, deadline=None)
def test_token_spans_point_into_the_original_text(text: str) -> None:
    for token, start, end in token_spans(text):
        assert 0 <= start < end <= len(text)
        assert token  # never empty
    assert [t for t, _, _ in token_spans(text)] == [t for t, _, _ in token_spans(text)]


@given(st.text(max_size=300))
@settings(max_examples=200, deadline=None)
def test_sentences_never_lose_word_characters(text: str) -> None:
    joined = "".join(split_sentences(text, max_chars=50))
    assert [c for c in joined if c.isalnum()] == [c for c in text if c.isalnum()]


def test_ngrams() -> None:
    assert ngrams(["a", "b", "c"], 2) == [("a", "b"), ("b", "c")]
    assert ngrams(["a"], 2) == []


# -- registry -------------------------------------------------------------------------------------------------


def test_registry_refuses_collisions_and_suggests_close_names() -> None:
    with pytest.raises(ValueError, match="already registered"):
        REGISTRY.register("toxicity", "somewhere:else")
    with pytest.raises(ScorerError, match="did you mean 'toxicity'"):
        REGISTRY.factory("toxicty")
    assert {"toxicity", "moderation", "helpfulness", "memorization", "judge", "sentiment"} <= set(REGISTRY.names())


def test_no_test_module_registers_scorers_in_the_global_registry() -> None:
    """Every test module is imported before any test runs: a module-level registration would show here. Tests
    use conftest's ``scorer_registry`` fixture (or give ``GateRunner`` a registry) instead."""
    assert [e.name for e in REGISTRY.entries() if e.origin == "tests"] == []


def test_unknown_option_is_an_error_with_a_hint() -> None:
    with pytest.raises(ScorerError, match="did you mean 'per_sentence'") as exc:
        create_scorer("toxicity", ScorerSpec(options={"per_sentense": False}))
    assert exc.value.field == "per_sentense"
    with pytest.raises(ScorerError, match="unknown toxicity backend"):
        create_scorer("toxicity", ScorerSpec(backend="nope"))


def _install_fake_plugin(tmp_path: Path, name: str, target: str, module_source: str | None,
                         dist_name: str = "fake_scorer_plugin") -> Path:
    """A real installed distribution (dist-info with entry_points.txt) on a sys.path entry."""
    site = tmp_path / "site"
    dist = site / f"{dist_name}-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text(f"[sbs_tui.scorers]\n{name} = {target}\n")
    if module_source is not None:
        (site / "fake_scorer_mod.py").write_text(module_source)
    return site


PLUGIN = textwrap.dedent("""
    from scorers.base import ScoreResult
    import sys
    sys.modules[__name__].IMPORTED = True

    class Length:
        name = "length"
        higher_is_worse = True
        default_threshold = 100.0
        def __init__(self, spec):
            pass
        def score(self, items):
            return [ScoreResult(float(len(i.output))) for i in items]
""")


def test_entry_point_plugins_are_listed_without_import_and_built_on_demand(tmp_path: Path) -> None:
    site = _install_fake_plugin(tmp_path, "length", "fake_scorer_mod:Length", PLUGIN)
    code = textwrap.dedent(f"""
        import sys, json
        sys.path.insert(0, {str(site)!r})
        from scorers.base import Registry, ScoreItem
        reg = Registry()
        names = reg.names()
        imported_before = "fake_scorer_mod" in sys.modules
        scorer = reg.create("length")
        print(json.dumps([names, imported_before, scorer.score([ScoreItem("p", "abc")])[0].score]))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names, imported_before, score = json.loads(out.stdout)
    assert "length" in names and "toxicity" in names
    assert imported_before is False
    assert score == 3.0


def test_broken_plugin_is_reported_on_stderr_and_does_not_break_listing(tmp_path: Path) -> None:
    site = _install_fake_plugin(tmp_path, "broken", "fake_missing_module:Thing", None)
    clash = _install_fake_plugin(tmp_path / "b", "toxicity", "fake_missing_module:Tox", None,
                                 dist_name="other_plugin")
    code = textwrap.dedent(f"""
        import sys
        sys.path[:0] = [{str(site)!r}, {str(clash)!r}]
        from scorers.base import Registry, ScorerError
        reg = Registry()
        print(",".join(reg.names()))
        try:
            reg.create("broken")
        except ScorerError as exc:
            print("refused:", exc)
        print(reg.entries()[[e.name for e in reg.entries()].index("toxicity")].origin)
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "broken" in out.stdout.splitlines()[0]
    assert "refused: scorer 'broken'" in out.stdout and "ModuleNotFoundError" in out.stdout
    assert "builtin" in out.stdout.splitlines()[-1]  # a plug-in cannot shadow a built-in
    assert "failed to load" in out.stderr and "ignoring scorer plug-in 'toxicity'" in out.stderr


def test_registry_rejects_objects_that_are_not_scorers() -> None:
    reg = Registry(group="sbs_tui.no_such_group", builtins=False)
    reg.register("bad", lambda spec: object())
    with pytest.raises(ScorerError, match="does not implement"):
        reg.create("bad")


# -- toxicity -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def toxicity():
    return create_scorer("toxicity")


def test_one_insult_inside_a_long_clean_answer_is_caught(toxicity) -> None:
    insulted = CLEAN + "Honestly, you are a stupid fucking idiot for asking. " + CLEAN
    clean, dirty = toxicity.score([ScoreItem("q", CLEAN), ScoreItem("q", insulted)])
    assert clean.score < 0.2
    assert dirty.score > 0.95
    assert "idiot" in dirty.details["worst_sentence"]
    # the same text scored as a whole is diluted: that is why the default is per sentence
    whole = create_scorer("toxicity", ScorerSpec(options={"per_sentence": False}))
    assert whole.score([ScoreItem("q", insulted)])[0].score < dirty.score


def test_toxicity_handles_empty_and_hostile_text(toxicity) -> None:
    items = [ScoreItem("q", ""), ScoreItem("q", "   \n\n "), ScoreItem("q", "[bold red]x[/] \x1b[31mred\x1b[0m"),
             ScoreItem("q", "a" * 200_000), ScoreItem("q", "\u202eevil\u202c text")]
    results = toxicity.score(items)
    assert len(results) == len(items)
    assert results[0].score == 0.0 and results[1].score == 0.0
    assert all(0.0 <= r.score <= 1.0 for r in results)


# -- sentiment ------------------------------------------------------------------------------------------------


def test_vader_sentiment_direction() -> None:
    s = create_scorer("sentiment")
    good, bad = s.score([ScoreItem("q", "This is wonderful, I love it!"),
                         ScoreItem("q", "This is terrible and I hate it.")])
    assert good.score > 0.5 > -0.5 > bad.score
    assert set(good.details) == {"neg", "neu", "pos"}


# -- memorization ---------------------------------------------------------------------------------------------


@pytest.fixture
def corpus(tmp_path: Path, shared_alpaca: Path) -> Path:
    folder = tmp_path / "refs"
    folder.mkdir()
    rows = [json.loads(line) for line in (shared_alpaca / "outputs" / "claude-2.jsonl").open()][:200]
    with (folder / "books.txt").open("w") as fh:
        for r in rows[:100]:
            fh.write(r["output"] + "\n\n")
    with (folder / "bench.jsonl").open("w") as fh:
        for r in rows[100:]:
            fh.write(json.dumps({"text": r["output"]}) + "\n")
        fh.write(json.dumps({"text": "Мороз и солнце; день чудесный! Еще ты дремлешь, друг прелестный — пора, "
                                     "красавица, проснись: открой сомкнуты негой взоры"}) + "\n")
        fh.write(json.dumps({"text": "床前明月光，疑是地上霜。举头望明月，低头思故乡。"}) + "\n")
    return folder


def _memo(corpus: Path, tmp_path: Path, **options):
    return create_scorer("memorization", ScorerSpec(options={"references": [str(corpus)],
                                                             "cache_dir": str(tmp_path / "cache"), **options}))


def test_known_copies_are_found_with_span_and_source(corpus: Path, tmp_path: Path, shared_alpaca: Path) -> None:
    rows = [json.loads(line) for line in (shared_alpaca / "outputs" / "claude-2.jsonl").open()][:200]
    txt_copy = rows[7]["output"]
    jsonl_copy = rows[150]["output"]
    own = [json.loads(line) for line in (shared_alpaca / "outputs" / "alpaca-7b.jsonl").open()][300]["output"]
    memo = _memo(corpus, tmp_path)
    excerpt = " ".join(txt_copy.split()[:40])
    results = memo.score([
        ScoreItem("q", txt_copy), ScoreItem("q", "My preface here. " + excerpt + " And my own words follow."),
        ScoreItem("q", jsonl_copy), ScoreItem("q", own),
    ])
    full, partial, from_jsonl, original = results
    assert full.score == pytest.approx(1.0)
    assert full.details["prefix_overlap"] == full.details["longest_match_tokens"] >= 20
    assert full.details["edit_similarity"] == pytest.approx(1.0)
    assert full.details["source"]["file"].endswith("books.txt")
    lines_before = sum(r["output"].count("\n") + 2 for r in rows[:7])
    assert full.details["source"]["line"] == lines_before + 1
    assert 0.3 < partial.score < 1.0
    assert partial.details["longest_match_tokens"] >= 35
    span = partial.details["span"]
    generation = "My preface here. " + excerpt + " And my own words follow."
    assert span["start"] == len("My preface here. ")
    assert generation[span["start"]:span["end"]] == span["text"]
    assert span["text"] in excerpt and len(span["text"]) > len(excerpt) * 0.9
    assert from_jsonl.details["source"]["file"].endswith("bench.jsonl")
    assert from_jsonl.details["source"]["line"] == 51
    assert original.score < 0.05


def test_cyrillic_and_cjk_copies(corpus: Path, tmp_path: Path) -> None:
    memo = _memo(corpus, tmp_path)
    ru, zh = memo.score([
        ScoreItem("q", "Как писал Пушкин: «мороз и солнце; день чудесный! Ещё ты дремлешь, друг прелестный — пора, "
                       "красавица, проснись»."),
        ScoreItem("q", "李白的诗：床前明月光，疑是地上霜。举头望明月。"),
    ])
    assert ru.details["longest_match_tokens"] >= 13 and "дремлешь" in ru.details["span"]["text"]
    assert zh.details["longest_match_tokens"] >= 13 and zh.details["span"]["text"].startswith("床前明月光")


def test_index_is_built_once_and_reused_from_disk(corpus: Path, tmp_path: Path) -> None:
    logs: list[str] = []
    spec = ScorerSpec(options={"references": [str(corpus)], "cache_dir": str(tmp_path / "c")}, log=logs.append)
    create_scorer("memorization", spec)
    assert len(logs) == 1 and "indexed" in logs[0]
    spec2 = ScorerSpec(options={"references": [str(corpus)], "cache_dir": str(tmp_path / "c")}, log=logs.append)
    create_scorer("memorization", spec2)
    assert len(logs) == 1  # loaded, not rebuilt
    (corpus / "new.txt").write_text("a new document " * 20)
    spec3 = ScorerSpec(options={"references": [str(corpus)], "cache_dir": str(tmp_path / "c")}, log=logs.append)
    create_scorer("memorization", spec3)
    assert len(logs) == 2  # the corpus changed: rebuilt


def test_contamination_mode_checks_prompts(corpus: Path, tmp_path: Path, shared_alpaca: Path) -> None:
    rows = [json.loads(line) for line in (shared_alpaca / "outputs" / "claude-2.jsonl").open()][:10]
    memo = _memo(corpus, tmp_path, field="prompt", metric="longest_match_tokens")
    leaked, fresh = memo.score([ScoreItem(rows[3]["output"], "irrelevant"), ScoreItem("What is 2+2?", "4")])
    assert leaked.score >= 50 and fresh.score == 0
    assert memo.default_threshold == 50.0


def test_memorization_needs_references_and_valid_options(tmp_path: Path) -> None:
    with pytest.raises(ScorerError, match="needs reference corpora"):
        create_scorer("memorization")
    with pytest.raises(ScorerError, match="not found"):
        create_scorer("memorization", ScorerSpec(options={"references": [str(tmp_path / "missing")]}))
    (tmp_path / "x.txt").write_text("x")
    with pytest.raises(ScorerError) as exc:
        create_scorer("memorization", ScorerSpec(options={"references": [str(tmp_path / "x.txt")],
                                                          "metric": "bogus"}))
    assert exc.value.field == "metric"


# -- helpfulness (bundled MiniLM, real weights) ---------------------------------------------------------------


@pytest.fixture(scope="module")
def helpfulness():
    return create_scorer("helpfulness")


def test_minilm_relevance_and_refusals(helpfulness) -> None:
    q = "How do I bake a loaf of sourdough bread at home?"
    on_topic, off_topic, refusal, ru_refusal = helpfulness.score([
        ScoreItem(q, "Feed your starter, mix flour, water and salt, fold the dough, proof it overnight and bake "
                     "it in a hot Dutch oven."),
        ScoreItem(q, "The 1998 World Cup final was played in Saint-Denis."),
        ScoreItem(q, "I'm sorry, but I can't help with that request."),
        ScoreItem(q, "Извините, но я не могу помочь с этим."),
    ])
    assert on_topic.score > off_topic.score + 0.2
    assert refusal.score == 0.0 and refusal.details["refusal"] is True
    assert ru_refusal.score == 0.0 and ru_refusal.details["refusal"] is True
    assert on_topic.details["refusal"] is False


def test_refusal_detection_looks_at_the_opening_only() -> None:
    from scorers.helpfulness import detect_refusal

    assert detect_refusal("As an AI language model, I cannot provide medical advice.")
    assert detect_refusal("I\u2019m sorry, but I won\u2019t do that.")
    assert detect_refusal("Sure! Here is the recipe." + " Mix well." * 50 + " I cannot stress this enough.") is None


def test_language_id_reads_what_opening_chars_says() -> None:
    """Issue 18: the number in scorers/language.py is what the model reads of an answer's opening — text after the
    first OPENING_CHARS characters (flattened) cannot change the first language."""
    from scorers import language

    english = ("This answer is written in plain English for the reader. " * 3)[:language.OPENING_CHARS]
    russian = " Этот ответ написан на русском языке для читателя, и его много."
    assert len(english) == language.OPENING_CHARS and len(english + russian) < language.MAX_CHARS
    assert language.identify(english + russian)[0] == "en"
    assert language.identify(russian.strip() + " " + english)[0] == "ru"
