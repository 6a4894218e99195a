"""Style-controlled Bradley-Terry (Arena's "style control"), and its length-only special case.

Why: people (and LLM judges) prefer longer, more formatted answers. Style control adds the *difference in
style* between the two answers as covariates of the BT logistic regression, as Arena's
``compute_style_control`` does:

    logit P(b beats a) = θ_b − θ_a + Σ_f γ_f · z_f,    z_f = standardised (f_b − f_a) / (f_b + f_a + 1)

with f = characters, markdown headers, list items, bold spans (``--control style``) or characters only
(``--control length``). Like Arena (and arena-hard's ``add_markdown_info``), fenced code blocks are removed
before headers, lists and bold are counted — a ``# comment`` in a code block is not a header; length counts
every character (Arena counts tokens; a tokenizer would tie the tool to one model family). The normalisation
(a − b)/(a + b + 1) and the standardisation (mean 0, population sd 1) are Arena's. θ is the strength at equal
style; γ says how much style sways the votes.

Votes enter as in plain BT: a tie is y = ½, and a weighted (soft) verdict enters with its credit as a soft
label y ∈ [0, 1] in the same logistic likelihood — Arena has only hard votes and ties, where the two agree.
Arena fits with an L2 penalty (reg = 0.5 on base-10 ratings); we fit the MLE whenever it exists, like plain BT,
so the two differ by the penalty's pull — a few Elo on a few thousand votes (tested). Needs the judged texts
(the vote's ``output_a/b`` or the stored generations); votes without them are left out, and said so.
Intervals: sandwich covariance (the bootstrap is not offered here: it would need per-vote refits).
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from sbs_tui.core.ranking.bt import ELO_PER_LOGIT, PRIOR_PRECISION, contrast, mle_exists, to_elo
from sbs_tui.core.ranking.outcomes import Outcomes
from sbs_tui.core.ranking.report import Z95, Ranking, tallied_ratings, votes_needed

_HEADER = re.compile(r"^ {0,3}#{1,6}[ \t]+\S", re.M)
_LIST = re.compile(r"^[ \t]*(?:[-*+]|\d+[.)])[ \t]+\S", re.M)  # [ \t], not \s: linear on blank lines
_BOLD = re.compile(r"\*\*[^*\n]+\*\*|__[^_\n]+__")
STYLE_FEATURES = ("length", "headers", "lists", "bold")
COEF_PRECISION = 1e-8  # style coefficients: unpenalised in effect (only keeps the solver's Hessian regular)
MLE_PIN = 1e-9  # with the MLE: a vanishing ridge that fixes only the common shift of θ (Σθ = 0)
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")


def strip_fenced_code(text: str) -> str:
    """``text`` without fenced code blocks (``` or ~~~ fences, CommonMark: an unclosed fence runs to the end).
    A line scanner, linear in the text, so megabyte answers cannot make it backtrack."""
    out: list[str] = []
    fence: str | None = None
    for line in text.split("\n"):
        m = _FENCE.match(line)
        if fence is None:
            if m:
                fence = m.group(1)
                continue
            out.append(line)
        elif m and m.group(1)[0] == fence[0] and len(m.group(1)) >= len(fence) and not line.strip(" `~"):
            fence = None
    return "\n".join(out)


def style_counts(text: str) -> tuple[int, int, int, int]:
    """(characters, markdown headers, list items, bold spans) of one answer; markdown is counted outside
    fenced code."""
    prose = strip_fenced_code(text)
    return len(text), len(_HEADER.findall(prose)), len(_LIST.findall(prose)), len(_BOLD.findall(prose))


def _normalised_difference(fa: np.ndarray, fb: np.ndarray) -> np.ndarray:
    """Arena's feature: (b − a)/(a + b + 1), standardised to mean 0 and population sd 1 (sd 0 → all zeros)."""
    d = (fb - fa) / (fa + fb + 1.0)
    sd = d.std()
    return (d - d.mean()) / sd if sd > 0 else d * 0.0


def rank_style_controlled(names: list[str], rows: list[tuple[Any, ...]], *, features: str = "style",
                          anchor: str | None = None) -> Ranking:
    """``rows`` from Store.votes.covariates (with texts for "style", lengths suffice for "length")."""
    from scipy import sparse

    from sbs_tui.core.ranking.glm import fit_logistic

    if anchor is not None and anchor not in names:
        raise KeyError(anchor)
    used = STYLE_FEATURES if features == "style" else ("length",)
    ranking = Ranking("bt", [], {"scale": "elo (1000 + 400·log10 odds)", "control": features,
                                 "ci": "sandwich", "confidence": 0.95, "anchor": anchor})
    a_l, b_l, s_l, fa_l, fb_l = [], [], [], [], []
    skipped = 0
    fa: tuple[int, ...]  # style counts, or the one length feature
    fb: tuple[int, ...]
    for row in rows:
        a, b, s, _pid, len_a, len_b = row[:6]
        if features == "style":
            text_a, text_b = row[6], row[7]
            if text_a is None or text_b is None:
                skipped += 1
                continue
            fa, fb = style_counts(text_a), style_counts(text_b)
        else:
            if len_a is None or len_b is None:
                skipped += 1
                continue
            fa, fb = (len_a,), (len_b,)
        a_l.append(a)
        b_l.append(b)
        s_l.append(s)
        fa_l.append(fa)
        fb_l.append(fb)
    if skipped:
        ranking.warnings.append(f"{skipped} votes without stored outputs were left out of the {features} control")
    if not s_l:
        ranking.warnings.append("no votes with known outputs match the filters")
        return ranking
    a, b, s = np.array(a_l), np.array(b_l), np.array(s_l, dtype=float)
    xa, xb = np.array(fa_l, dtype=float), np.array(fb_l, dtype=float)
    z = np.column_stack([_normalised_difference(xa[:, k], xb[:, k]) for k in range(len(used))])
    present = sorted(set(a.tolist()) | set(b.tolist()))
    pos = np.full(len(names), -1)
    pos[present] = np.arange(len(present))
    m, v = len(present), len(s)
    rows_idx = np.r_[np.arange(v), np.arange(v)]
    design = sparse.hstack([
        sparse.csr_matrix((np.r_[-np.ones(v), np.ones(v)], (rows_idx, np.r_[pos[a], pos[b]])), shape=(v, m)),
        sparse.csr_matrix(z),
    ]).tocsr()
    sub_names = [names[k] for k in present]
    outcomes = Outcomes.from_rows(sub_names, [(pos[x], pos[y], w, 1.0) for x, y, w in zip(a, b, s)])
    comps = outcomes.components()
    if len(comps) > 1:
        ranking.warnings.append(f"the comparison graph is disconnected ({len(comps)} components); "
                                "style-controlled ratings across components are not comparable")
    mle = mle_exists(outcomes.pair_stats(), m) and len(comps) == 1
    if not mle:
        ranking.warnings.append("some models never lost or never won (or the comparisons are disconnected): "
                                "the weak prior (sd 10 logits) keeps their style-controlled ratings finite")
    ranking.info["mle"] = mle
    fit = fit_logistic(design, s, np.r_[np.full(m, MLE_PIN if mle else PRIOR_PRECISION),
                                        np.full(len(used), COEF_PRECISION)])
    theta = fit.beta[:m]
    local_anchor = sub_names.index(anchor) if anchor is not None else None
    rating = to_elo(theta, local_anchor)
    cmat = contrast(m, local_anchor)
    cov = cmat @ fit.covariance[:m, :m] @ cmat.T
    half = Z95 * ELO_PER_LOGIT * np.sqrt(np.clip(np.diag(cov), 0, None))
    coef_se = np.sqrt(np.clip(np.diag(fit.covariance)[m:], 0, None))
    ranking.info["style_coefficients"] = {
        f: {"coef": float(c), "se": float(e)} for f, c, e in zip(used, fit.beta[m:], coef_se)
    }
    ranking.info["votes_used"] = v
    ranking.models = tallied_ratings(outcomes, list(range(m)), rating, rating - half, rating + half)
    ranking.votes_needed = votes_needed(ranking.models)
    return ranking
