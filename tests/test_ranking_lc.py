"""Issue 19 §1: the length-controlled win rate as AlpacaEval computes it — each model fitted on its own against the
baseline with the instruction difficulty frozen — checked against a reimplementation of AlpacaEval's
``glm_winrate`` written here from its published description (scikit-learn's LogisticRegressionCV, as AlpacaEval
calls it), and for independence: a model's LC is the same alone and beside other models."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

BASELINE = "gpt4_1106_preview"
SHARED_MODELS = ("claude-2", "gpt-3.5-turbo-1106", "OpenHermes-2.5-Mistral-7B", "vicuna-13b-v1.5", "alpaca-7b",
                 "gemma-2b-it", "falcon-7b-instruct")


# --- the reference: AlpacaEval's glm_winrate, from its description --------------------------------------------------

def _continuous_log_loss(y_true, y_pred, true_prob, true_sample_weight=None):
    """AlpacaEval's CV score: the log-loss of soft labels (each verdict appears twice, labelled 1 and 0)."""
    y = np.where(y_true == 1, true_prob, 1 - true_prob)
    p = np.clip(y_pred, 1e-15, 1 - 1e-15)
    loss = y * np.log(p) + (1 - y) * np.log(1 - p)
    if true_sample_weight is not None:
        loss = loss * true_sample_weight
    return -np.mean(loss)


def alpacaeval_lc(features: np.ndarray, preference: np.ndarray, sample_weight: np.ndarray | None,
                  test: np.ndarray) -> float:
    """AlpacaEval's procedure: columns (tanh(std Δlen), difficulty, not_gamed_baseline), no intercept; every row
    duplicated with label 1 (weight p·w) and label 0 (weight (1 − p)·w); L1 LogisticRegressionCV (liblinear,
    random_state 123, default 10 Cs) with GroupKFold(5) over the original rows, scored by the soft log-loss;
    LC = 100 · mean predicted probability on ``test`` (Δlen set to 0)."""
    import sklearn
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import GroupKFold

    n = len(preference)
    x2 = np.vstack([features, features])
    label = np.r_[np.ones(n), np.zeros(n)]
    prob = np.r_[preference, 1 - preference]
    true_w = None if sample_weight is None else np.r_[sample_weight, sample_weight]
    weight = prob if true_w is None else prob * true_w
    with sklearn.config_context(enable_metadata_routing=True), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scorer = make_scorer(_continuous_log_loss, response_method="predict_proba", greater_is_better=False)
        scorer = scorer.set_score_request(true_prob=True, true_sample_weight=True)
        model = LogisticRegressionCV(cv=GroupKFold(n_splits=5), scoring=scorer, random_state=123, dual=False,
                                     penalty="l1", solver="liblinear", fit_intercept=False)
        model.set_fit_request(sample_weight=True)
        model.fit(x2, label, sample_weight=weight, groups=np.r_[np.arange(n), np.arange(n)], true_prob=prob,
                  true_sample_weight=true_w)
    return float(100 * model.predict_proba(test)[:, 1].mean())


def _outputs(root: Path, model: str) -> dict[str, str]:
    return {(r := json.loads(line))["instruction"]: r["output"] for line in (root / "outputs" / f"{model}.jsonl").open()}


def _reference_on_shared(root: Path, model: str) -> float:
    with (root / "instruction_difficulty.csv").open(newline="") as f:
        difficulty = {r["instruction"]: float(r["difficulty"]) for r in csv.DictReader(f)}
    base, own = _outputs(root, BASELINE), _outputs(root, model)
    rows = [json.loads(line) for line in (root / "judge_votes" / f"{model}.jsonl").open()]
    pref = np.array([np.nan if r["preference"] is None else 1.5 if r["preference"] == 0 else r["preference"]
                     for r in rows], dtype=float) - 1
    delta = np.array([len(base[r["instruction"]]) - len(own[r["instruction"]]) for r in rows], dtype=float)
    x = np.column_stack([np.tanh(delta / delta.std(ddof=1)), [difficulty[r["instruction"]] for r in rows],
                         np.ones(len(rows))])
    test = x.copy()
    test[:, 0] = 0
    ok = ~np.isnan(pref)
    return alpacaeval_lc(x[ok], pref[ok], None, test)


# --- helpers ----------------------------------------------------------------------------------------------------------

def _db(tmp_path, cli, root: Path, models, name="lc.db") -> str:
    db = str(tmp_path / name)
    gens = [str(root / "outputs" / f"{m}.jsonl") for m in (BASELINE, *SHARED_MODELS)]
    assert cli("--db", db, "import", "generations", *gens).exit_code == 0
    _add_votes(cli, db, root, models)
    return db


def _add_votes(cli, db: str, root: Path, models) -> None:
    res = cli("--db", db, "import", "votes", *[str(root / "judge_votes" / f"{m}.jsonl") for m in models])
    assert res.exit_code == 0, res.stderr


def _lc(cli, db: str, *extra: str) -> dict:
    res = cli("--db", db, "rank", "--method", "winrate", "--baseline", BASELINE, "--control", "length",
              "--format", "json", *extra)
    assert res.exit_code == 0, res.stderr
    return json.loads(res.stdout)


def _ratings(doc: dict) -> dict[str, float]:
    return {m["model"]: m["rating"] for m in doc["models"] if not m.get("baseline")}


# --- the checks ---------------------------------------------------------------------------------------------------------

def test_lc_with_the_shared_difficulty_equals_alpacaevals_glm_winrate(tmp_path, cli, shared_alpaca) -> None:
    """Each of the 7 shared models' LC (with AlpacaEval's own difficulty file, unregularised: no gamed
    annotations are shared) equals the reference procedure's, to the solvers' precision (liblinear stops at
    1e-4; measured max difference 0.012 points)."""
    doc = _lc(cli, _db(tmp_path, cli, shared_alpaca, SHARED_MODELS), "--difficulty",
              str(shared_alpaca / "instruction_difficulty.csv"))
    assert doc["difficulty"]["source"] == "file" and doc["difficulty"]["prompts"] == 805
    assert doc["regularisation"].startswith("none")
    ours = _ratings(doc)
    for model in SHARED_MODELS:
        assert ours[model] == pytest.approx(_reference_on_shared(shared_alpaca, model), abs=0.03), model


def test_a_models_lc_is_the_same_alone_and_beside_others(tmp_path, cli, shared_alpaca) -> None:
    """The issue's defect: gpt-3.5's LC moved with the other models in the database. With a difficulty file, and
    with the stored difficulty after more models arrive, it does not move at all."""
    diff = str(shared_alpaca / "instruction_difficulty.csv")
    alone = _ratings(_lc(cli, _db(tmp_path, cli, shared_alpaca, ["gpt-3.5-turbo-1106"], "alone.db"),
                         "--difficulty", diff))
    together = _ratings(_lc(cli, _db(tmp_path, cli, shared_alpaca, SHARED_MODELS, "all.db"), "--difficulty", diff))
    assert alone["gpt-3.5-turbo-1106"] == pytest.approx(together["gpt-3.5-turbo-1106"], abs=1e-9)

    # stored difficulty: fitted once from the first models, kept (with date and models) when more arrive
    db = _db(tmp_path, cli, shared_alpaca, SHARED_MODELS[:3], "stored.db")
    first = _lc(cli, db)
    assert first["difficulty"]["source"] == "fitted now and stored"
    assert sorted(first["difficulty"]["models"]) == sorted(SHARED_MODELS[:3])
    _add_votes(cli, db, shared_alpaca, SHARED_MODELS[3:])
    later = _lc(cli, db)
    assert later["difficulty"]["source"] == "stored"
    assert later["difficulty"]["fitted_at"] == first["difficulty"]["fitted_at"]
    for model, value in _ratings(first).items():
        assert _ratings(later)[model] == pytest.approx(value, abs=1e-9), model
    refit = _lc(cli, db, "--refit-difficulty")
    assert refit["difficulty"]["source"] == "refitted and stored"
    assert sorted(refit["difficulty"]["models"]) == sorted(SHARED_MODELS)
    assert _lc(cli, db)["difficulty"]["models"] == refit["difficulty"]["models"]  # the refit is what is kept


def test_the_table_says_which_difficulty_and_that_the_fit_is_unregularised(tmp_path, cli, shared_alpaca) -> None:
    db = _db(tmp_path, cli, shared_alpaca, ["claude-2", "alpaca-7b"])
    res = cli("--db", db, "rank", "--method", "winrate", "--baseline", BASELINE, "--control", "length")
    assert res.exit_code == 0, res.stderr
    flat = " ".join(res.stdout.split())
    assert "Difficulty: fitted now and stored, fitted 20" in flat and "on 2 model(s)" in flat
    assert "unregularised (no gamed baseline annotations)" in flat
    assert "fitted on 2 model(s) only" in res.stderr  # a difficulty from two models is noisy: said so


def test_gamed_regularisation_equals_alpacaevals(tmp_path) -> None:
    """With gamed (verbose/concise) annotations of the baseline, the fit adds them as AlpacaEval does: first in
    the training rows, not_gamed_baseline = 0, weight λ/2 each; equal to the reference procedure."""
    from sbs_tui.core.ranking.difficulty import Difficulty
    from sbs_tui.core.ranking.lc import GAMED_LAMBDA, fit_model_lc, read_gamed

    rng = np.random.default_rng(3)
    n = 300
    prompts = [f"instruction {k}" for k in range(n)]
    from sbs_tui.core.records import prompt_id_for

    pids = [prompt_id_for(p) for p in prompts]
    d = rng.normal(0, 1, n)
    difficulty = Difficulty(dict(zip(pids, d)), pids, {"source": "test"})
    dlen = rng.normal(200, 600, n)
    y = np.clip(1 / (1 + np.exp(-(-1.0 + 0.8 * d + 0.9 * np.tanh(dlen / 600)))) + rng.normal(0, 0.05, n), 0, 1)
    gamed_path = tmp_path / "gamed.jsonl"
    g_rows = []
    with gamed_path.open("w") as f:
        for variant, stretch in (("verbose", 3.0), ("concise", 0.3)):
            for k in range(n):
                base_out = "b" * int(rng.integers(200, 2000))
                out2 = "g" * int(len(base_out) * stretch * rng.lognormal(0, 0.2))
                pref = float(np.clip(1.5 + 0.3 * np.tanh((len(out2) - len(base_out)) / 800) + rng.normal(0, 0.1),
                                     1, 2))
                f.write(json.dumps({"instruction": prompts[k], "output_1": base_out, "output_2": out2,
                                    "generator_2": f"{variant}", "preference": pref}) + "\n")
                g_rows.append((variant, len(base_out) - len(out2), d[k], pref - 1))
    gamed = read_gamed(gamed_path)
    ours = fit_model_lc(y, dlen, pids, difficulty, gamed)

    # reference rows: gamed first (std Δlen per variant, AlpacaEval's sign len_1 − len_2), then the model's
    g_x = []
    for variant in ("verbose", "concise"):
        part = [r for r in g_rows if r[0] == variant]
        delta = np.array([r[1] for r in part], dtype=float)
        g_x += [(np.tanh(v / delta.std(ddof=1)), r[2], 0.0) for v, r in zip(delta, part)]
    own_delta = -dlen  # baseline − model
    x = np.vstack([np.array(g_x), np.column_stack([np.tanh(own_delta / own_delta.std(ddof=1)), d, np.ones(n)])])
    pref = np.r_[[r[3] for r in g_rows], y]
    weight = np.r_[np.full(len(g_rows), GAMED_LAMBDA / 2), np.ones(n)]
    test = np.column_stack([np.zeros(n), d, np.ones(n)])
    assert ours.lc == pytest.approx(alpacaeval_lc(x, pref, weight, test), abs=0.03)
    unregularised = fit_model_lc(y, dlen, pids, difficulty)
    assert abs(unregularised.lc - ours.lc) > 0.05  # the regularisation is not a no-op on this data


def test_difficulty_file_errors_name_file_line_and_field(tmp_path, cli) -> None:
    bad = tmp_path / "d.csv"
    bad.write_text("instruction,difficulty\nfirst,0.5\nsecond,high\n")
    db = str(tmp_path / "x.db")
    assert cli("--db", db, "import", "votes", str(_tiny_votes(tmp_path))).exit_code == 0
    res = cli("--db", db, "rank", "--method", "winrate", "--baseline", "base", "--control", "length",
              "--difficulty", str(bad))
    assert res.exit_code == 2 and f"{bad}:3: field 'difficulty': not a number" in res.stderr
    bad.write_text("prompt,value\nfirst,0.5\n")
    res = cli("--db", db, "rank", "--method", "winrate", "--baseline", "base", "--control", "length",
              "--difficulty", str(bad))
    assert res.exit_code == 2 and "instruction,difficulty" in res.stderr
    res = cli("--db", db, "rank", "--method", "bt", "--difficulty", str(bad))
    assert res.exit_code == 2 and "--difficulty" in res.stderr and "--control length only" in res.stderr


def _tiny_votes(tmp_path) -> Path:
    path = tmp_path / "votes.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"q{k}", "model_a": "base", "model_b": "m", "annotator": "a",
                                        "winner": "model_b" if k % 3 else "model_a", "output_a": "x" * (10 + k),
                                        "output_b": "y" * (30 - k)}) + "\n" for k in range(12)))
    return path


def test_prompts_missing_from_the_difficulty_are_left_out_and_counted(tmp_path, cli) -> None:
    diff = tmp_path / "d.csv"
    diff.write_text("instruction,difficulty\n" + "".join(f"q{k},{k / 10}\n" for k in range(8)))
    db = str(tmp_path / "x.db")
    assert cli("--db", db, "import", "votes", str(_tiny_votes(tmp_path))).exit_code == 0
    res = cli("--db", db, "rank", "--method", "winrate", "--baseline", "base", "--control", "length",
              "--difficulty", str(diff), "--format", "json")
    assert res.exit_code == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["verdicts_without_difficulty"] == 4 and "4 verdicts on prompts without a difficulty" in res.stderr
    assert [m["votes"] for m in doc["models"] if m["model"] == "m"] == [8]


def test_difficulty_csv_round_trips_any_instruction_text(tmp_path) -> None:
    """Any instruction text (commas, quotes, newlines, RTL, zero-width) written by the csv module comes back
    matched to the prompt id an import gives it, with its value."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from sbs_tui.core.ranking.difficulty import read_difficulty_csv
    from sbs_tui.core.records import prompt_id_for
    from sbs_tui.errors import InputError

    text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=40).filter(lambda t: t.strip())

    @settings(max_examples=60, deadline=None)
    @given(st.dictionaries(text, st.floats(-20, 20, allow_nan=False), min_size=1, max_size=8))
    def check(rows: dict[str, float]) -> None:
        path = tmp_path / "d.csv"
        with path.open("w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(["instruction", "difficulty"])
            writer.writerows(rows.items())
        values: dict[str, set[float]] = {}
        for instruction, value in rows.items():  # texts equal after NFC + strip are one prompt
            values.setdefault(prompt_id_for(instruction), set()).add(value)
        if any(len(v) > 1 for v in values.values()):  # one prompt, two values: an error naming the line
            with pytest.raises(InputError, match="already has another difficulty"):
                read_difficulty_csv(path)
            return
        assert read_difficulty_csv(path).values == {p: v.pop() for p, v in values.items()}

    check()
