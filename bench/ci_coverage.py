"""Do the 95% intervals cover 95% of the time? Simulated tournaments with known ratings.

For each scenario, many tournaments are drawn from a BT model with known strengths (plus random ties, which
shrink the odds: the ground truth is what BT-with-ties-as-half estimates in the infinite-data limit). We report
the share of intervals that contain the truth for what ``sbs rank`` prints — the bootstrap and sandwich
intervals of :func:`rank_bt` (the plain MLE, one-sided where a model never lost or never won) — and for a
named baseline: the model-based interval from the inverse Hessian alone (what a plain logistic-regression fit
reports), which ignores that ties make votes less variable than coin flips.

Also reported (issue 9):

* ``one_sided`` — the one-sided intervals alone (models whose MLE is infinite: the open side is ±∞, the other
  end a profile-likelihood bound), pooled over both interval methods; ``one_sided_n`` how many there were.
* ``elo`` — ``--method elo``'s percentile interval (FastChat's bootstrap over shuffled orders) against the same
  truth on the Elo scale. Online Elo with K = 4 estimates the BT strengths only approximately (it is shrunk
  towards 1000 when votes are few), so this measures how far its interval can be trusted as one for strength.

Usage: python bench/ci_coverage.py [--sims 200] [--rounds 200] [--elo-rounds 100]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sbs_tui.core.ranking.bt import ELO_CENTRE, ELO_PER_LOGIT, fit_bt  # noqa: E402
from sbs_tui.core.ranking.btrank import rank_bt  # noqa: E402
from sbs_tui.core.ranking.online import rank_elo  # noqa: E402
from sbs_tui.core.ranking.outcomes import Outcomes, PairStats  # noqa: E402
from tests.ranking_helpers import simulate  # noqa: E402

SCENARIOS = {
    "8 models, 2k votes, 10% ties": (np.linspace(-1.2, 1.2, 8), 2000, 0.10),
    "8 models, 2k votes, 40% ties": (np.linspace(-1.2, 1.2, 8), 2000, 0.40),
    "20 models, 5k votes, 15% ties": (np.linspace(-2, 2, 20), 5000, 0.15),
    "5 models, 300 votes, no ties": (np.array([-1.0, -0.3, 0.0, 0.4, 1.0]), 300, 0.0),
    "5 models, 100 votes, no ties": (np.array([-1.0, -0.3, 0.0, 0.4, 1.0]), 100, 0.0),
    "5 models, 60 votes, one dominant": (np.array([-1.5, -0.5, 0.0, 0.5, 3.5]), 60, 0.0),
}


def population_theta(strength: np.ndarray, tie_rate: float) -> np.ndarray:
    m = len(strength)
    i, j = np.triu_indices(m, 1)
    p = 1 / (1 + np.exp(-(strength[j] - strength[i])))
    n = np.full(len(i), 1e9)
    return fit_bt(PairStats(i, j, n, n * ((1 - tie_rate) * p + tie_rate / 2)), m).theta


def _votes(rows: list[tuple[int, int, float, int]], rng: np.random.Generator) -> list[tuple[int, int, float]]:
    votes = [(a, b, s) for a, b, s, n in rows for _ in range(n)]
    order = rng.permutation(len(votes))
    return [votes[k] for k in order]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=200)
    ap.add_argument("--elo-rounds", type=int, default=100)
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    z = 1.959963984540054
    results = {}
    t0 = time.perf_counter()
    for name, (strength, votes, ties) in SCENARIOS.items():
        truth = ELO_CENTRE + ELO_PER_LOGIT * population_theta(strength, ties)
        m = len(strength)
        names = [f"m{k}" for k in range(m)]
        c = np.eye(m) - 1 / m
        hits = dict.fromkeys(("bootstrap", "sandwich", "model_based_baseline", "one_sided", "elo"), 0)
        counts = dict.fromkeys(hits, 0)
        for sim in range(args.sims):
            rows = simulate(strength, votes, rng, ties)
            out = Outcomes.from_rows(names, rows)
            if len(out.components()) > 1 or len(out.components()[0]) < m:
                continue
            for ci in ("bootstrap", "sandwich"):
                for r in rank_bt(out, ci=ci, rounds=args.rounds, seed=sim).models:
                    t = truth[int(r.model[1:])]
                    ok = r.ci_low <= t <= r.ci_high
                    key = "one_sided" if np.isinf(r.ci_low) or np.isinf(r.ci_high) else ci
                    hits[key] += int(ok)
                    counts[key] += 1
            fit = fit_bt(out.pair_stats(), m)
            if fit.prior == 0:
                se = ELO_PER_LOGIT * np.sqrt(np.diag(c @ fit.hessian_inverse() @ c.T))
                hits["model_based_baseline"] += int((np.abs(ELO_CENTRE + ELO_PER_LOGIT * fit.theta - truth)
                                                     <= z * se).sum())
                counts["model_based_baseline"] += m
            if args.elo_rounds > 0 and votes <= 5000:
                elo = rank_elo(names, _votes(rows, rng), rounds=args.elo_rounds, seed=sim)
                for r in elo.models:
                    hits["elo"] += int(r.ci_low <= truth[int(r.model[1:])] <= r.ci_high)
                    counts["elo"] += 1
        results[name] = {k: (round(hits[k] / counts[k], 4) if counts[k] else None) for k in hits}
        results[name] |= {f"{k}_n": counts[k] for k in hits}
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    doc = {"nominal": 0.95, "sims_per_scenario": args.sims, "bootstrap_rounds": args.rounds,
           "elo_rounds": args.elo_rounds, "elo_per_logit": ELO_PER_LOGIT,
           "seconds": round(time.perf_counter() - t0, 1), "scenarios": results}
    print(json.dumps(doc, indent=2))
    head = f"{'scenario':34}{'bootstrap':>11}{'sandwich':>10}{'model-based':>13}{'one-sided (n)':>16}{'elo':>8}"
    print("\n" + head, file=sys.stderr)

    def f(x):
        return "   –" if x is None else f"{x:.3f}"

    for name, r in results.items():
        print(f"{name:34}{f(r['bootstrap']):>11}{f(r['sandwich']):>10}{f(r['model_based_baseline']):>13}"
              f"{f(r['one_sided']) + ' (' + str(r['one_sided_n']) + ')':>16}{f(r['elo']):>8}", file=sys.stderr)


if __name__ == "__main__":
    main()
