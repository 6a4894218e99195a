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
    """argmin Σ w·softloss(xβ, y) + ‖β‖₁ / C (liblinear's L1 objective, no intercept), exactly: the coefficients
    split as β = u − v with u, v ≥ 0 make the objective smooth, solved by L-BFGS-B to 1e-10."""
    from scipy.optimize import minimize

    k = x.shape[1]

    def fun(uv: np.ndarray) -> tuple[float, np.ndarray]:
        beta = uv[:k] - uv[k:]
        z = x @ beta
        g = x.T @ (w * (0.5 * (1 + np.tanh(0.5 * z)) - y))
        return float(w @ _soft_loss(z, y) + uv.sum() / c), np.r_[g + 1 / c, -g + 1 / c]

    b0 = np.zeros(k) if start is None else start
    res = minimize(fun, np.r_[np.clip(b0, 0, None), np.clip(-b0, 0, None)], jac=True, method="L-BFGS-B",
                   bounds=[(0, None)] * (2 * k), options={"gtol": 1e-10, "ftol": 1e-15, "maxiter": 10_000})
    return np.asarray(res.x[:k] - res.x[k:])


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


def fit_model_lc(y: np.ndarray, dlen: np.ndarray, prompts: Sequence[str], difficulty: Difficulty,
                 gamed: Gamed | None = None) -> ModelLC:
    """One model's LC against the baseline (see the module docstring); every prompt must have a difficulty."""
    pos = {p: k for k, p in enumerate(difficulty.order)}
    order = sorted(range(len(y)), key=lambda r: pos.get(prompts[r], len(pos)))
    y, dlen = np.asarray(y, dtype=float)[order], np.asarray(dlen, dtype=float)[order]
    prompts = [prompts[r] for r in order]
    d = np.array([difficulty.values[p] for p in prompts])
    own_x = np.column_stack([np.tanh(dlen / _sd(dlen)), d, np.ones(len(y))])
    own_prompts = list(dict.fromkeys(prompts))
    where = {p: k for k, p in enumerate(own_prompts)}
    groups_arr = np.array([where[p] for p in prompts])  # one cross-validation group per instruction
    cluster = groups_arr.copy()  # and one sandwich cluster
    x, yy, w = own_x, y, np.ones(len(y))
    if gamed is not None:
        keep = [k for k, p in enumerate(gamed.prompt_ids) if p in difficulty.values]
        variants = sorted(set(gamed.variants))
        gx = np.zeros((len(keep), 3))
        for v in variants:
            rows = [r for r, k in enumerate(keep) if gamed.variants[k] == v]
            dl = gamed.dlen[[keep[r] for r in rows]]
            gx[rows, 0] = np.tanh(dl / _sd(dl))
        gx[:, 1] = [difficulty.values[gamed.prompt_ids[k]] for k in keep]
        x = np.vstack([gx, own_x])
        yy = np.r_[gamed.y[keep], y]
        w = np.r_[np.full(len(keep), GAMED_LAMBDA / len(variants)), w]
        groups_arr = np.r_[np.arange(len(keep)), len(keep) + groups_arr]  # gamed rows first, as AlpacaEval
        cluster = np.r_[np.arange(len(keep)) + len(own_prompts), cluster]
    n_groups = int(groups_arr.max()) + 1
    if n_groups >= N_SPLITS:
        fold = (n_groups - 1 - groups_arr) % N_SPLITS  # GroupKFold's dealing for equal-sized groups
        c = choose_c(x, yy, w, fold)
    else:
        c = float(CS[-1])
    beta = l1_logistic(x, yy, w, c)
    # prediction at equal length, over the model's own instructions
    d_own = np.array([difficulty.values[p] for p in own_prompts])
    p_own = 1.0 / (1.0 + np.exp(-(beta[2] + beta[1] * d_own)))
    lc = float(p_own.mean())
    # delta method: sandwich clustered by instruction, plus the instruction sampling of the mean
    z = x @ beta
    p = 1.0 / (1.0 + np.exp(-z))
    hess = x.T @ (x * (w * p * (1 - p))[:, None])
    score = x * (w * (yy - p))[:, None]
    n_clusters = int(cluster.max()) + 1
    s_cluster = np.zeros((n_clusters, 3))
    np.add.at(s_cluster, cluster, score)
    grad = np.column_stack([np.zeros(len(own_prompts)), d_own, np.ones(len(own_prompts))]) \
        * (p_own * (1 - p_own))[:, None]
    gbar = grad.mean(axis=0)
    infl = s_cluster @ (np.linalg.pinv(hess) @ gbar)
    infl[:len(own_prompts)] += (p_own - lc) / len(own_prompts)
    se = 100.0 * math.sqrt(float(infl @ infl))
    return ModelLC(100.0 * lc, se, {"length": float(beta[0]), "difficulty": float(beta[1]),
                                    "not_gamed_baseline": float(beta[2])}, c, len(y), len(own_prompts))


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
                   "l1_c": fit.c, "mean_length_diff": float(np.mean(ds))},
        ))
    ranking.models.append(baseline_row(baseline, ranking.models))
    finish(ranking)
    return ranking


def _sd(d: np.ndarray) -> float:
    """Sample standard deviation (ddof 1, as pandas, which AlpacaEval uses); 1 when undefined or zero."""
    if len(d) < 2:
        return 1.0
    return float(np.std(d, ddof=1)) or 1.0
