"""Instruction difficulty for the length-controlled win rate: where it comes from, and how it is fitted once.

Why frozen: AlpacaEval's LC fits each model on its own with the difficulty of every instruction held fixed, so a
model's LC never depends on which other models were evaluated. When the difficulty was instead refitted jointly
with whatever models were imported, gpt-3.5-turbo-1106_concise scored 23.86 alone and 19.98 beside 11 other
models (issue 19). The difficulty therefore comes, in this order, from

1. a file (``--difficulty FILE``: CSV ``instruction,difficulty`` — AlpacaEval publishes one for its 805
   instructions — or ``prompt_id,difficulty``), matched to prompts by the same text → id rule as imports;
2. the difficulty stored in the database for the baseline's prompt set (``store.difficulty``), kept with the
   date, the models and the number of verdicts it was fitted on;
3. else it is fitted now from the models present (:func:`fit_difficulty`) and stored, so later rankings reuse it
   (``--refit-difficulty`` replaces it on purpose).

The fit is AlpacaEval's notebook procedure in our form: one GLM over every model's verdicts against the baseline,
logit P = θ_m + φ_m·tanh(Δlen/sd_m) + γ_x, with γ_x the difficulty. Fitting γ *with* the length terms matters (a
γ fitted without them absorbs the baseline's length: correlation −0.42 on the shared data). γ_x carries a weak
N(0, 10²) prior so that an instruction every model lost stays finite. Only differences and ratios of γ matter:
each model's own fit has an intercept and a difficulty coefficient, so any affine rescaling of γ gives the same LC.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sbs_tui.errors import InputError

DIFFICULTY_PRIOR_SD = 10.0  # logits: weak, like BT's fallback prior; only keeps all-lost instructions finite
COEF_PRECISION = 1e-4


@dataclass(frozen=True)
class Difficulty:
    """Per-prompt difficulty (``values``: prompt_id → logits; ``order``: prompt ids in their source's order, which
    sets the cross-validation folds as AlpacaEval's instruction index does) and where it came from (``info``,
    shown in the JSON as ``difficulty``)."""

    values: dict[str, float]
    order: list[str]
    info: dict[str, Any] = field(default_factory=dict)
    se: dict[str, float] | None = None  # standard errors of a fitted difficulty (None: taken as exact)


def read_difficulty_csv(path: str | Path) -> Difficulty:
    """``instruction,difficulty`` (or ``prompt_id,difficulty``) rows. Bad input is an :class:`InputError` naming
    file, line and field; a prompt given twice with two values is an error (one definition per prompt)."""
    from sbs_tui.core.records import prompt_id_for

    path = Path(path)
    try:
        handle = path.open(newline="", encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", file=str(path), field="--difficulty") from None
    values: dict[str, float] = {}
    order: list[str] = []
    with handle:
        reader = csv.DictReader(handle)
        cols = reader.fieldnames or []
        key = "instruction" if "instruction" in cols else "prompt_id" if "prompt_id" in cols else None
        if key is None or "difficulty" not in cols:
            raise InputError("expected the columns instruction,difficulty (or prompt_id,difficulty)",
                             file=str(path), line=1)
        try:
            for row in reader:
                line = reader.line_num
                text, raw = row.get(key), row.get("difficulty")
                if text is None or not text.strip():
                    raise InputError("missing value", file=str(path), line=line, field=key)
                if raw is None or not raw.strip():
                    raise InputError("missing value", file=str(path), line=line, field="difficulty")
                try:
                    value = float(raw)
                except ValueError:
                    raise InputError(f"not a number: {raw[:40]!r}", file=str(path), line=line,
                                     field="difficulty") from None
                if not math.isfinite(value):
                    raise InputError("must be finite", file=str(path), line=line, field="difficulty")
                pid = prompt_id_for(text) if key == "instruction" else text
                if pid in values and values[pid] != value:
                    raise InputError("this prompt already has another difficulty", file=str(path), line=line,
                                     field=key)
                if pid not in values:
                    order.append(pid)
                values[pid] = value
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", file=str(path)) from None
        except csv.Error as exc:
            raise InputError(f"not CSV: {exc}", file=str(path), line=reader.line_num) from None
    if not values:
        raise InputError("no rows", file=str(path))
    return Difficulty(values, order, {"source": "file", "path": str(path), "prompts": len(values)})


def fit_difficulty(names: list[str], rows: Sequence[tuple[Any, ...]], baseline: str) -> Difficulty:
    """γ per prompt from one joint GLM over every model's verdicts against ``baseline`` (see the module
    docstring). ``rows``: (index_a, index_b, score_b, prompt_id, chars_a, chars_b, ...) per vote. The returned
    ``info`` lists the models and the number of verdicts it used; the caller adds the date when storing it."""
    from scipy import sparse

    from sbs_tui.core.ranking.glm import fit_logistic

    base = names.index(baseline)
    model, y, prompt, dlen = [], [], [], []
    for a, b, s, pid, len_a, len_b, *_ in rows:
        if base not in (a, b) or a == b or len_a is None or len_b is None:
            continue
        if b == base:
            a, b, s, len_a, len_b = b, a, 1.0 - s, len_b, len_a
        model.append(b)
        y.append(s)
        prompt.append(str(pid))
        dlen.append(float(len_b) - float(len_a))
    if not model:
        return Difficulty({}, [], {"source": "fitted", "models": [], "verdicts": 0, "prompts": 0})
    y_arr, dlen_arr = np.array(y, dtype=float), np.array(dlen)
    prompt_ids, prompt_idx = np.unique(np.array(prompt, dtype=object).astype(str), return_inverse=True)
    models = sorted(set(model))
    mpos = {m: k for k, m in enumerate(models)}
    cols_m = np.array([mpos[m] for m in model])
    n_m, n_p, v = len(models), len(prompt_ids), len(y_arr)
    sd = np.array([_sd(dlen_arr[cols_m == k]) for k in range(n_m)])
    rows_v = np.arange(v)
    x = sparse.hstack([
        sparse.csr_matrix((np.ones(v), (rows_v, cols_m)), shape=(v, n_m)),
        sparse.csr_matrix((np.tanh(dlen_arr / sd[cols_m]), (rows_v, cols_m)), shape=(v, n_m)),
        sparse.csr_matrix((np.ones(v), (rows_v, prompt_idx)), shape=(v, n_p)),
    ]).tocsr()
    penalty = np.r_[np.full(2 * n_m, COEF_PRECISION), np.full(n_p, DIFFICULTY_PRIOR_SD ** -2)]
    beta = fit_logistic(x, y_arr, penalty, covariance=False).beta
    gamma = beta[2 * n_m:]
    se = _gamma_standard_errors(x, beta, penalty, 2 * n_m)
    # AlpacaEval's sign: a higher value is an instruction where models beat the baseline more often
    values = {str(p): float(g) for p, g in zip(prompt_ids, gamma)}
    order = list(dict.fromkeys(prompt))  # first-seen order of the votes (import order)
    return Difficulty(values, order, {"source": "fitted", "models": [names[m] for m in models], "verdicts": v,
                                      "prompts": n_p}, {str(p): float(e) for p, e in zip(prompt_ids, se)})


def _gamma_standard_errors(x: Any, beta: np.ndarray, penalty: np.ndarray, k: int) -> np.ndarray:
    """√diag of the inverse (penalised) information for the prompt effects, the last columns of ``x`` after the
    ``k`` model columns. Each vote touches one prompt, so that block is diagonal (D); with B the model–prompt
    block and A the model block, diag((H⁻¹)_γγ) = 1/D + diag(D⁻¹Bᵀ S⁻¹ B D⁻¹), S = A − B D⁻¹ Bᵀ (Woodbury):
    O(prompts · models²), never the dense inverse of a 10,000-prompt Hessian."""
    from scipy import sparse

    p = 1.0 / (1.0 + np.exp(-(x @ beta)))
    wt = sparse.diags(p * (1 - p))
    xm, xp = x[:, :k], x[:, k:]
    a = np.asarray((xm.T @ wt @ xm).todense()) + np.diag(penalty[:k])
    b = np.asarray((xm.T @ wt @ xp).todense())
    d = np.asarray(xp.multiply(xp).T @ (p * (1 - p))).ravel() + penalty[k:]
    e = b / d
    s = a - e @ b.T
    return np.sqrt(1.0 / d + np.einsum("kp,kp->p", e, np.linalg.solve(s, e)))


def _sd(d: np.ndarray) -> float:
    """Sample standard deviation (ddof 1, as pandas, which AlpacaEval uses); 1 when undefined or zero."""
    if len(d) < 2:
        return 1.0
    return float(d.std(ddof=1)) or 1.0
