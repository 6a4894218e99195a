"""Length-controlled win rate as AlpacaEval 2.0 computes it: each model fitted on its own, difficulty frozen.

AlpacaEval's ``glm_winrate`` (read and reimplemented here, not copied) fits, for one model against the baseline,
a logistic regression with soft labels y = preference − 1 and no free intercept:

    logit P(model beats baseline on x) = θ + φ·tanh(Δlen / sd(Δlen)) + β·difficulty_x

Δlen is the difference of the two answers' lengths in characters, sd its sample standard deviation (ddof 1) over
the model's verdicts, difficulty_x the frozen instruction difficulty (:mod:`.difficulty`), and θ the coefficient of
AlpacaEval's ``not_gamed_baseline`` indicator. The fit has an L1 penalty ‖(θ, φ, β)‖₁ / C, with C chosen from
scikit-learn's default grid (10 values, 1e-4 … 1e4) by 5-fold cross-validation on the soft log-loss, folds dealt
from the last instruction back as scikit-learn's ``GroupKFold`` deals one-verdict groups (so on AlpacaEval's
instruction order the folds are AlpacaEval's). The **LC win rate** is the prediction at equal length,
100 · mean_x σ(θ + β·difficulty_x) over the model's instructions.

Nothing in a model's fit involves another model: with the difficulty frozen, adding a model never changes anyone
else's LC. AlpacaEval also regularises towards "gamed" annotations — the baseline judged against a verbose and a
concise rewrite of itself, where θ must be 0 (``not_gamed_baseline`` = 0), weighted λ/2 = 0.1 each. Given such
annotations (``--gamed FILE``) we add them the same way (weight λ / number of variants); without them the fit is
AlpacaEval's unregularised variant, and the JSON says so (``regularisation``).

Interval: the delta method on a sandwich covariance clustered by instruction, and the instruction sampling of
the mean: each instruction's influence is (σ_x − LC)/n + ḡᵀH⁻¹s_x (ḡ the mean gradient of σ_x, s_x its score),
so the interval covers both the coefficients' uncertainty and which instructions happened to be judged. The
difficulty is held fixed, as AlpacaEval holds it: it is part of the metric's definition, like the baseline.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from sbs_tui.core.ranking.difficulty import Difficulty
from sbs_tui.core.ranking.report import Z95, ModelRating, Ranking
from sbs_tui.core.ranking.winrate import baseline_row, finish
from sbs_tui.errors import InputError

CS = np.logspace(-4, 4, 10)  # scikit-learn LogisticRegressionCV's default grid (Cs=10), as AlpacaEval uses it
N_SPLITS = 5
GAMED_LAMBDA = 0.2  # AlpacaEval's regularize_to_baseline_lambda
LOSS_CLIP = 1e-15  # AlpacaEval's log-loss clips probabilities here


@dataclass(frozen=True)
class Gamed:
    """Annotations of the baseline against gamed (verbose/concise) rewrites of itself: per verdict the prompt,
    the credit of the rewrite, the length difference (rewrite − baseline) and the variant's name."""

    prompt_ids: list[str]
    y: np.ndarray
    dlen: np.ndarray
    variants: list[str]
    path: str


def read_gamed(path: str | Path) -> Gamed:
    """AlpacaEval annotation records (a JSON list or JSONL): ``instruction``, ``output_1`` (the baseline's
    answer), ``output_2`` (the rewrite's), ``generator_2`` (the variant), ``preference`` in [1, 2] (0 or 1.5: a
    draw; null: skipped)."""
    from sbs_tui.core.records import prompt_id_for

    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read: {exc}", file=str(path), field="--gamed") from None
    stripped = text.lstrip()
    records: list[tuple[int, Any]]
    try:
        if stripped.startswith("["):
            records = list(enumerate(json.loads(text), start=1))
        else:
            records = [(k, json.loads(line)) for k, line in enumerate(text.splitlines(), start=1) if line.strip()]
    except json.JSONDecodeError as exc:
        raise InputError(f"not JSON: {exc.msg}", file=str(path), line=exc.lineno) from None
    pids, ys, dl, variants = [], [], [], []
    for line, rec in records:
        if not isinstance(rec, dict):
            raise InputError("expected an object", file=str(path), line=line)
        for key in ("instruction", "output_1", "output_2", "generator_2"):
            if not isinstance(rec.get(key), str):
                raise InputError("missing or not text", file=str(path), line=line, field=key)
        pref = rec.get("preference")
        if pref is None:
            continue
        if isinstance(pref, bool) or not isinstance(pref, (int, float)) or not (pref == 0 or 1 <= pref <= 2):
            raise InputError("must be a number in [1, 2] (0 or 1.5: a draw)", file=str(path), line=line,
                             field="preference")
        pids.append(prompt_id_for(rec["instruction"]))
        ys.append(0.5 if pref == 0 else float(pref) - 1.0)
        dl.append(float(len(rec["output_2"]) - len(rec["output_1"])))
        variants.append(rec["generator_2"])
    if not ys:
        raise InputError("no annotations with a preference", file=str(path))
    return Gamed(pids, np.array(ys), np.array(dl), variants, str(path))


def _soft_loss(z: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z)


def l1_logistic(x: np.ndarray, y: np.ndarray, w: np.ndarray, c: float, start: np.ndarray | None = None) -> np.ndarray:
    """argmin F(β) = Σ w·softloss(xβ, y) + ‖β‖₁ / C (liblinear's L1 objective, no intercept), to 1e-11.

    Proximal Newton (as glmnet / liblinear's newGLMNET): the smooth part's quadratic model at β, its L1 problem
    solved exactly by coordinate descent (three coefficients: a few sweeps), then a backtracking step on F. Own
    code because scipy has no L1 solver and its bounded L-BFGS-B on the split β = u − v took ~25 s for one ranking
    of 7 models (50 fits each) where this takes well under one."""
    lam = 1.0 / c
    beta = np.zeros(x.shape[1]) if start is None else np.array(start, dtype=float)

    def objective(b: np.ndarray) -> float:
        return float(w @ _soft_loss(x @ b, y) + lam * np.abs(b).sum())

    f = objective(beta)
    for _ in range(100):
        p = 0.5 * (1 + np.tanh(0.5 * (x @ beta)))
        g = x.T @ (w * (p - y))
        h = x.T @ (x * (w * p * (1 - p))[:, None]) + 1e-12 * np.eye(len(beta))
        b = beta.copy()
        for _ in range(500):  # coordinate descent on the quadratic model + L1
            moved = 0.0
            for j in range(len(b)):
                r = g[j] + h[j] @ (b - beta) - h[j, j] * (b[j] - beta[j])
                z = beta[j] - r / h[j, j]
                new = np.sign(z) * max(abs(z) - lam / h[j, j], 0.0)
                moved = max(moved, abs(new - b[j]))
                b[j] = new
            if moved < 1e-14:
                break
        d = b - beta
        decrease = float(g @ d) + lam * (np.abs(b).sum() - np.abs(beta).sum())
        t = 1.0
        while t > 1e-10:
            f_new = objective(beta + t * d)
            if f_new <= f + 1e-4 * t * decrease:
                break
            t *= 0.5
        beta, f = beta + t * d, f_new
        if np.abs(t * d).max() < 1e-11:
            break
    return beta


def choose_c(x: np.ndarray, y: np.ndarray, w: np.ndarray, fold: np.ndarray) -> float:
    """The C of :data:`CS` with the least summed held-out mean log-loss (weighted, clipped as AlpacaEval's
    scorer); the first of equals, as scikit-learn's argmax."""
    totals = np.zeros(len(CS))
    for f in range(N_SPLITS):
        test = fold == f
        if not test.any() or test.all():
            continue
        start = None
        for k, c in enumerate(CS):
            start = l1_logistic(x[~test], y[~test], w[~test], c, start)
            p = np.clip(1.0 / (1.0 + np.exp(-(x[test] @ start))), LOSS_CLIP, 1 - LOSS_CLIP)
            yt = y[test]
            totals[k] += float(np.mean(-w[test] * (yt * np.log(p) + (1 - yt) * np.log(1 - p))))
    return float(CS[int(np.argmin(totals))])


@dataclass(frozen=True)
class ModelLC:
    lc: float  # percent
    se: float  # percent
    coef: dict[str, float]
    c: float
    verdicts: int
    prompts: int
    difficulty_se: float = 0.0  # percent: the part of ``se`` from the difficulty's own uncertainty


DIFFICULTY_DRAWS = 100  # draws of a fitted difficulty (within its standard errors) for the interval


def fit_model_lc(y: np.ndarray, dlen: np.ndarray, prompts: Sequence[str], difficulty: Difficulty,
                 gamed: Gamed | None = None) -> ModelLC:
    """One model's LC against the baseline (see the module docstring); every prompt must have a difficulty.

    When the difficulty carries standard errors (one fitted from the models in the database), the interval adds
    the spread of the LC over :data:`DIFFICULTY_DRAWS` seeded draws of the difficulty within them (the model
    refitted at the same C each time): a difficulty fitted from few models is uncertain, and that is part of what
    the interval must cover. A published difficulty (a file) is taken as exact, as AlpacaEval takes it."""
    pos = {p: k for k, p in enumerate(difficulty.order)}
    order = sorted(range(len(y)), key=lambda r: pos.get(prompts[r], len(pos)))
    y, dlen = np.asarray(y, dtype=float)[order], np.asarray(dlen, dtype=float)[order]
    prompts = [prompts[r] for r in order]
    own_prompts = list(dict.fromkeys(prompts))
    all_prompts = list(own_prompts)
    where = {p: k for k, p in enumerate(own_prompts)}
    groups_arr = np.array([where[p] for p in prompts])  # one cross-validation group per instruction
    cluster = groups_arr.copy()  # and one sandwich cluster
    row_prompt = groups_arr.copy()  # each training row's index into all_prompts
    length = np.tanh(dlen / _sd(dlen))
    yy, w = y, np.ones(len(y))
    if gamed is not None:
        keep = [k for k, p in enumerate(gamed.prompt_ids) if p in difficulty.values]
        variants = sorted(set(gamed.variants))
        g_length = np.zeros(len(keep))
        for v in variants:
            rows = [r for r, k in enumerate(keep) if gamed.variants[k] == v]
            g_length[rows] = np.tanh(gamed.dlen[[keep[r] for r in rows]] / _sd(gamed.dlen[[keep[r] for r in rows]]))
        for k in keep:
            where.setdefault(gamed.prompt_ids[k], len(all_prompts))
            if where[gamed.prompt_ids[k]] == len(all_prompts):
                all_prompts.append(gamed.prompt_ids[k])
        length = np.r_[g_length, length]
        row_prompt = np.r_[[where[gamed.prompt_ids[k]] for k in keep], row_prompt].astype(int)
        yy = np.r_[gamed.y[keep], y]
        w = np.r_[np.full(len(keep), GAMED_LAMBDA / len(variants)), w]
        groups_arr = np.r_[np.arange(len(keep)), len(keep) + groups_arr]  # gamed rows first, as AlpacaEval
        cluster = np.r_[np.arange(len(keep)) + len(own_prompts), cluster]
    not_gamed = np.r_[np.zeros(len(yy) - len(y)), np.ones(len(y))]
    dvec = np.array([difficulty.values[p] for p in all_prompts])
    x = np.column_stack([length, dvec[row_prompt], not_gamed])
    n_groups = int(groups_arr.max()) + 1
    if n_groups >= N_SPLITS:
        fold = (n_groups - 1 - groups_arr) % N_SPLITS  # GroupKFold's dealing for equal-sized groups
        c = choose_c(x, yy, w, fold)
    else:
        c = float(CS[-1])
    beta = l1_logistic(x, yy, w, c)
    # prediction at equal length, over the model's own instructions
    n_own = len(own_prompts)
    d_own = dvec[:n_own]
    p_own = 1.0 / (1.0 + np.exp(-(beta[2] + beta[1] * d_own)))
    lc = float(p_own.mean())
    # delta method: sandwich clustered by instruction, plus the instruction sampling of the mean
    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    hess = x.T @ (x * (w * p * (1 - p))[:, None])
    s_cluster = np.zeros((int(cluster.max()) + 1, 3))
    np.add.at(s_cluster, cluster, x * (w * (yy - p))[:, None])
    gbar = (np.column_stack([np.zeros(n_own), d_own, np.ones(n_own)]) * (p_own * (1 - p_own))[:, None]).mean(axis=0)
    infl = s_cluster @ (np.linalg.pinv(hess) @ gbar)
    infl[:n_own] += (p_own - lc) / n_own
    var = float(infl @ infl)
    difficulty_var = 0.0
    if difficulty.se is not None:
        se_vec = np.array([difficulty.se.get(p, 0.0) for p in all_prompts])
        rng = np.random.default_rng(0)
        draws = np.empty(DIFFICULTY_DRAWS)
        for r in range(DIFFICULTY_DRAWS):
            dv = dvec + se_vec * rng.standard_normal(len(dvec))
            x[:, 1] = dv[row_prompt]
            b = l1_logistic(x, yy, w, c, beta)
            draws[r] = np.mean(1.0 / (1.0 + np.exp(-(b[2] + b[1] * dv[:n_own]))))
        difficulty_var = float(draws.var(ddof=1))
    se = 100.0 * math.sqrt(var + difficulty_var)
    return ModelLC(100.0 * lc, se, {"length": float(beta[0]), "difficulty": float(beta[1]),
                                    "not_gamed_baseline": float(beta[2])}, c, len(y), n_own,
                   100.0 * math.sqrt(difficulty_var))


def length_controlled_winrate(names: list[str], rows: Sequence[tuple[Any, ...]], baseline: str,
                              difficulty: Difficulty, gamed: Gamed | None = None) -> Ranking:
    """Every model's LC against ``baseline``, each fitted on its own. ``rows``: (index_a, index_b, score_b,
    prompt_id, chars_a, chars_b, ...) per vote (Store.votes.covariates)."""
    if baseline is None or baseline not in names:
        raise KeyError(baseline)
    base = names.index(baseline)
    regularisation: Any = (
        {"gamed": gamed.path, "lambda": GAMED_LAMBDA, "variants": sorted(set(gamed.variants)),
         "annotations": len(gamed.y)} if gamed is not None else
        "none: no gamed (verbose/concise) baseline annotations given, so AlpacaEval's unregularised variant")
    ranking = Ranking("winrate", [], {
        "baseline": baseline, "control": "length", "scale": "percent", "confidence": 0.95,
        "ci": "delta method (the model's own fit, clustered by instruction, and the instructions sampled)",
        "length_model": "per model: θ + φ·tanh(Δlen/sd) + β·difficulty, L1 with C by 5-fold CV (AlpacaEval LC)",
        "difficulty": dict(difficulty.info), "regularisation": regularisation,
    })
    per: dict[int, tuple[list[float], list[float], list[str]]] = {}
    skipped = no_difficulty = 0
    for a, b, s, pid, len_a, len_b, *_ in rows:
        if base not in (a, b) or a == b:
            continue
        if len_a is None or len_b is None:
            skipped += 1
            continue
        if str(pid) not in difficulty.values:
            no_difficulty += 1
            continue
        if b == base:
            a, b, s, len_a, len_b = b, a, 1.0 - s, len_b, len_a
        ys, ds, ps = per.setdefault(b, ([], [], []))
        ys.append(float(s))
        ds.append(float(len_b) - float(len_a))
        ps.append(str(pid))
    if skipped:
        ranking.warnings.append(f"{skipped} verdicts without stored outputs (no length) were left out")
    if no_difficulty:
        ranking.warnings.append(f"{no_difficulty} verdicts on prompts without a difficulty were left out "
                                "(give --difficulty FILE covering them, or --refit-difficulty)")
    ranking.info["verdicts_without_difficulty"] = no_difficulty
    if not per:
        ranking.warnings.append(f"no verdicts against {baseline!r} with known output lengths and difficulty")
        return ranking
    for m in sorted(per, key=lambda k: names[k]):
        ys, ds, ps = per[m]
        fit = fit_model_lc(np.array(ys), np.array(ds), ps, difficulty, gamed)
        credit = np.array(ys)
        ranking.models.append(ModelRating(
            names[m], fit.lc, max(0.0, fit.lc - Z95 * fit.se), min(100.0, fit.lc + Z95 * fit.se),
            float(len(ys)), float((credit > 0.5).sum()), float((credit < 0.5).sum()),
            float((credit == 0.5).sum()), fit.lc,
            extra={"standard_error": fit.se, "raw_win_rate": 100.0 * float(credit.mean()),
                   "length_coef": fit.coef["length"], "difficulty_coef": fit.coef["difficulty"],
                   "l1_c": fit.c, "difficulty_standard_error": fit.difficulty_se,
                   "mean_length_diff": float(np.mean(ds))},
        ))
    ranking.models.append(baseline_row(baseline, ranking.models))
    finish(ranking)
    return ranking


def _sd(d: np.ndarray) -> float:
    """Sample standard deviation (ddof 1, as pandas, which AlpacaEval uses); 1 when undefined or zero."""
    if len(d) < 2:
        return 1.0
    return float(np.std(d, ddof=1)) or 1.0
