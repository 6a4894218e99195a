"""Do the 95% intervals cover 95% of the time? Simulated tournaments with known ratings.

For each scenario, many tournaments are drawn from a BT model with known strengths (plus random ties, which
shrink the odds: the ground truth is what BT-with-ties-as-half estimates in the infinite-data limit). We report
the share of intervals that contain the truth for the bootstrap and sandwich intervals, and for a named
baseline: the model-based interval from the inverse Hessian alone (what a plain logistic-regression fit
reports), which ignores that ties make votes less variable than coin flips.

Usage: python bench/ci_coverage.py [--sims 200] [--rounds 200]
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

from sbs_tui.core.ranking.bootstrap import bootstrap_bt  # noqa: E402
from sbs_tui.core.ranking.bt import ELO_PER_LOGIT, fit_bt, sandwich_covariance  # noqa: E402
from sbs_tui.core.ranking.outcomes import Outcomes, PairStats  # noqa: E402
from tests.ranking_helpers import simulate  # noqa: E402

SCENARIOS = {
    "8 models, 2k votes, 10% ties": (np.linspace(-1.2, 1.2, 8), 2000, 0.10),
    "8 models, 2k votes, 40% ties": (np.linspace(-1.2, 1.2, 8), 2000, 0.40),
    "20 models, 5k votes, 15% ties": (np.linspace(-2, 2, 20), 5000, 0.15),
    "5 models, 300 votes, no ties": (np.array([-1.0, -0.3, 0.0, 0.4, 1.0]), 300, 0.0),
}


def population_theta(strength: np.ndarray, tie_rate: float) -> np.ndarray:
    m = len(strength)
    i, j = np.triu_indices(m, 1)
    p = 1 / (1 + np.exp(-(strength[j] - strength[i])))
    n = np.full(len(i), 1e9)
    return fit_bt(PairStats(i, j, n, n * ((1 - tie_rate) * p + tie_rate / 2)), m).theta


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sims", type=int, default=200)
    ap.add_argument("--rounds", type=int, default=200)
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    z = 1.959963984540054
    results = {}
    t0 = time.perf_counter()
    for name, (strength, votes, ties) in SCENARIOS.items():
        truth = population_theta(strength, ties)
        m = len(strength)
        c = np.eye(m) - 1 / m
        hits = {"bootstrap": 0, "sandwich": 0, "model_based_baseline": 0}
        total = 0
        for sim in range(args.sims):
            out = Outcomes.from_rows([f"m{k}" for k in range(m)], simulate(strength, votes, rng, ties))
            if len(out.components()) > 1:
                continue
            fit = fit_bt(out.pair_stats(), m)
            boot = bootstrap_bt(out, fit, args.rounds, seed=sim)
            lo, hi = np.percentile(boot, [2.5, 97.5], axis=0)
            hits["bootstrap"] += int(((lo <= truth) & (truth <= hi)).sum())
            for key, cov in (("sandwich", sandwich_covariance(fit, out)),
                             ("model_based_baseline", np.linalg.inv(fit.hessian))):
                se = np.sqrt(np.diag(c @ cov @ c.T))
                hits[key] += int((np.abs(fit.theta - truth) <= z * se).sum())
            total += m
        results[name] = {k: round(v / total, 4) for k, v in hits.items()} | {"intervals": total}
    doc = {"nominal": 0.95, "sims_per_scenario": args.sims, "bootstrap_rounds": args.rounds,
           "elo_per_logit": ELO_PER_LOGIT, "seconds": round(time.perf_counter() - t0, 1), "scenarios": results}
    print(json.dumps(doc, indent=2))
    print(f"\n{'scenario':34}{'bootstrap':>11}{'sandwich':>10}{'model-based':>13}", file=sys.stderr)
    for name, r in results.items():
        print(f"{name:34}{r['bootstrap']:>11.3f}{r['sandwich']:>10.3f}{r['model_based_baseline']:>13.3f}",
              file=sys.stderr)


if __name__ == "__main__":
    main()
