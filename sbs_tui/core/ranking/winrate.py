"""Win rate against a baseline, exactly as AlpacaEval computes it, and its length-controlled variant.

Win rate = 100 · mean over verdicts of the credit won against the baseline (AlpacaEval: mean(preference − 1),
a draw — preference 1.5, or 0 in old files — counts ½; no verdict is skipped at import). The standard error is
the standard error of that mean (ddof = 1, as pandas' ``sem``); the interval is ±1.96 SE, clipped to
[0, 100] (a win rate cannot leave that range; near the edges the normal interval is only a rough guide).

Length-controlled win rate (``--control length``), AlpacaEval 2.0's LC (its ``glm_winrate.py``, reimplemented):
judges prefer longer answers, so a verbose model wins more without being better. One GLM over all models'
verdicts against the baseline, fitted jointly:

    logit P(m wins on instruction x) = θ_m + φ_m · tanh(Δlen / sd_m(Δlen)) + γ_x

where Δlen = len(m's answer) − len(baseline's) and sd_m its standard deviation over m's verdicts (as
AlpacaEval standardises), and γ_x the instruction's difficulty. Fitting γ *with* the length terms matters: a γ
fitted without them absorbs the baseline's length on each instruction (on the shared AlpacaEval data the two
correlate at −0.42), pushing concise models down. γ_x gets the same weak prior as BT's fallback, N(0, 10²)
logits — only so that instructions every model lost (or won) stay finite. The LC win rate is the prediction at
equal length, 100 · mean_x σ(θ_m + γ_x). Its interval is the delta method on the sandwich covariance of the
*joint* fit, so the uncertainty of every γ_x (estimated from only as many verdicts as there are models) is in it.

AlpacaEval differs in what we cannot reproduce: its γ comes from a fit on the whole leaderboard (many more
models), its per-model fit has an L1 penalty tuned by cross-validation and is regularised towards annotated
"gamed" (verbose/concise) baselines, and it multiplies γ by a per-model coefficient. How close this gets to
the published figures is measured and stated in docs/ranking.md.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.report import Z95, ModelRating, Ranking

COEF_PRECISION = 1e-4


def _baseline_row(name: str, others: list[ModelRating]) -> ModelRating:
    """The baseline at 50% by definition; its W/L/T are the other models' L/W/T against it."""
    votes = sum(m.votes for m in others)
    return ModelRating(name, 50.0, 50.0, 50.0, votes, sum(m.losses for m in others),
                       sum(m.wins for m in others), sum(m.ties for m in others), 50.0, extra={"baseline": True})


def rank_winrate(outcomes: Outcomes, baseline: str | None) -> Ranking:
    """AlpacaEval win rate of every model that has verdicts against ``baseline``."""
    if baseline is None or baseline not in outcomes.names:
        raise KeyError(baseline)
    base = outcomes.names.index(baseline)
    ranking = Ranking("winrate", [], {"baseline": baseline, "control": "none", "scale": "percent",
                                      "ci": "normal (±1.96 standard error)", "confidence": 0.95})
    # credit to the *other* model, per cell involving the baseline
    per_model: dict[int, list[tuple[float, float]]] = {}
    for i, j, s, n in zip(outcomes.i, outcomes.j, outcomes.s, outcomes.n):
        if i == base:
            per_model.setdefault(int(j), []).append((s, n))
        elif j == base:
            per_model.setdefault(int(i), []).append((1.0 - s, n))
    for m, cells in per_model.items():
        credit = np.array([c for c, _ in cells])
        n = np.array([k for _, k in cells])
        total = n.sum()
        mean = float((credit * n).sum() / total)
        var = float((n * (credit - mean) ** 2).sum() / (total - 1)) if total > 1 else float("nan")
        se = 100.0 * math.sqrt(var / total) if total > 1 else float("nan")
        rate = 100.0 * mean
        wins, losses = float(n[credit > 0.5].sum()), float(n[credit < 0.5].sum())
        ties = float(n[credit == 0.5].sum())
        ranking.models.append(ModelRating(
            outcomes.names[m], rate, max(0.0, rate - Z95 * se), min(100.0, rate + Z95 * se), total, wins, losses, ties, rate,
            extra={"standard_error": se, "n_wins": wins, "n_wins_base": losses, "n_draws": ties},
        ))
    missing = [outcomes.names[k] for k in range(outcomes.n_models) if k != base and k not in per_model]
    if missing:
        ranking.warnings.append(f"no verdicts against {baseline!r} for: {', '.join(missing)} (left out)")
    ranking.models.append(_baseline_row(baseline, ranking.models))
    _finish(ranking)
    return ranking


def _finish(ranking: Ranking) -> None:
    from sbs_tui.core.ranking.report import rank_upper_bound, votes_needed

    ranking.models.sort(key=lambda r: (-r.rating, r.model))
    ranks = rank_upper_bound([m.ci_low for m in ranking.models], [m.ci_high for m in ranking.models])
    for m, r in zip(ranking.models, ranks):
        m.rank = int(r)
    ranking.votes_needed = votes_needed([m for m in ranking.models if not m.extra.get("baseline")])


DIFFICULTY_PRIOR_SD = 10.0  # logits: weak, like BT's fallback prior; only keeps all-lost instructions finite


def length_controlled_winrate(names: list[str], rows: list[tuple[Any, ...]], baseline: str) -> Ranking:
    """``rows``: (index_a, index_b, score_b, prompt_id, chars_a, chars_b, ...) per vote (Store.votes.covariates)."""
    from scipy import sparse

    from sbs_tui.core.ranking.glm import fit_logistic

    if baseline is None or baseline not in names:
        raise KeyError(baseline)
    base = names.index(baseline)
    ranking = Ranking("winrate", [], {
        "baseline": baseline, "control": "length", "scale": "percent",
        "ci": "delta method on the sandwich covariance of the joint fit (instruction difficulty included)",
        "confidence": 0.95, "length_model": "joint GLM: θ_m + φ_m·tanh(Δlen/sd_m) + γ_x (AlpacaEval LC)",
        "difficulty_prior_sd_logits": DIFFICULTY_PRIOR_SD,
    })
    model, y, prompt, dlen = [], [], [], []
    skipped = 0
    for a, b, s, pid, len_a, len_b, *_ in rows:
        if base not in (a, b):
            continue
        if len_a is None or len_b is None:
            skipped += 1
            continue
        if b == base:
            a, b, s, len_a, len_b = b, a, 1.0 - s, len_b, len_a
        model.append(b)
        y.append(s)
        prompt.append(pid)
        dlen.append(float(len_b) - float(len_a))
    if skipped:
        ranking.warnings.append(f"{skipped} verdicts without stored outputs (no length) were left out")
    if not model:
        ranking.warnings.append(f"no verdicts against {baseline!r} with known output lengths")
        return ranking
    y_arr, dlen_arr = np.array(y, dtype=float), np.array(dlen)
    prompt_ids, prompt_idx = np.unique(np.array(prompt, dtype=object).astype(str), return_inverse=True)
    models = sorted(set(model))
    mpos = {m: k for k, m in enumerate(models)}
    cols_m = np.array([mpos[m] for m in model])
    n_m, n_p, v = len(models), len(prompt_ids), len(y_arr)
    sd = np.array([_sd(dlen_arr[cols_m == k]) for k in range(n_m)])
    length_term = np.tanh(dlen_arr / sd[cols_m])
    rows_v = np.arange(v)
    x = sparse.hstack([
        sparse.csr_matrix((np.ones(v), (rows_v, cols_m)), shape=(v, n_m)),
        sparse.csr_matrix((length_term, (rows_v, cols_m)), shape=(v, n_m)),
        sparse.csr_matrix((np.ones(v), (rows_v, prompt_idx)), shape=(v, n_p)),
    ]).tocsr()
    penalty = np.r_[np.full(2 * n_m, COEF_PRECISION), np.full(n_p, DIFFICULTY_PRIOR_SD ** -2)]
    fit = fit_logistic(x, y_arr, penalty)
    theta, phi, gamma = fit.beta[:n_m], fit.beta[n_m:2 * n_m], fit.beta[2 * n_m:]
    for k, m in enumerate(models):
        sel = cols_m == k
        # the model's instructions (AlpacaEval averages over the instructions the model was judged on)
        own = np.unique(prompt_idx[sel])
        p = 1.0 / (1.0 + np.exp(-(theta[k] + gamma[own])))
        lc = 100.0 * float(p.mean())
        dp = p * (1 - p) / len(own)
        grad = np.zeros(len(fit.beta))
        grad[k] = 100.0 * dp.sum()
        grad[2 * n_m + own] = 100.0 * dp
        se = math.sqrt(max(float(grad @ fit.covariance @ grad), 0.0))
        credit = y_arr[sel]
        raw = 100.0 * float(credit.mean())
        ranking.models.append(ModelRating(
            names[m], lc, max(0.0, lc - Z95 * se), min(100.0, lc + Z95 * se), float(sel.sum()),
            float((credit > 0.5).sum()), float((credit < 0.5).sum()), float((credit == 0.5).sum()), lc,
            extra={"standard_error": se, "raw_win_rate": raw, "length_coef": float(phi[k]),
                   "mean_length_diff": float(dlen_arr[sel].mean())},
        ))
    ranking.models.append(_baseline_row(baseline, ranking.models))
    _finish(ranking)
    return ranking


def _sd(d: np.ndarray) -> float:
    """Sample standard deviation (ddof 1, as pandas, which AlpacaEval uses); 1 when undefined or zero."""
    if len(d) < 2:
        return 1.0
    return float(d.std(ddof=1)) or 1.0
