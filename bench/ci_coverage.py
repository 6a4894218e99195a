"""Do the 95% intervals cover 95% of the time? Simulated tournaments with known ratings.

For each scenario, many tournaments are drawn from a BT model with known strengths (plus random ties, which
shrink the odds: the ground truth is what BT-with-ties-as-half estimates in the infinite-data limit). We report
the share of intervals that contain the truth for what ``sbs rank`` prints — ``auto`` (the default: the method
chosen by the data, see ``btrank.choose_ci``), and the bootstrap and sandwich intervals of :func:`rank_bt` (the
plain MLE, one-sided where a model never lost or never won) — and for a named baseline: the model-based interval
from the inverse Hessian alone (what a plain logistic-regression fit reports), which ignores that ties make votes
less variable than coin flips. Every model of every tournament counts, one-sided intervals included.

The grid (issue 19): 10 models × 100 / 300 / 3,000 votes × no ties / 30% ties, and the one-sided cases — a
dominant model that often never loses at 100 and 300 votes. Where some MLEs are infinite, ``sbs rank`` centres
the other ratings on the models with a finite MLE; the truth is then centred on the same models.

Also reported (issue 9):

* ``one_sided`` — the one-sided intervals alone (models whose MLE is infinite: the open side is ±∞, the other
  end a profile-likelihood bound), pooled over the interval methods; ``one_sided_n`` how many there were.
* ``elo`` (``--elo-rounds N``, off by default) — ``--method elo``'s percentile interval (FastChat's bootstrap
  over shuffled orders) against the same truth on the Elo scale. Online Elo with K = 4 estimates the BT strengths
  only approximately (shrunk towards 1000 when votes are few): how far its interval can be trusted for strength.

Usage: python bench/ci_coverage.py [--sims 200] [--rounds 200] [--elo-rounds 0] [--only SUBSTRING]
(the grid in docs/ranking.md: --sims 200 --rounds 200, about 15 minutes on 2 busy cores.)
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

TEN = np.linspace(-1.2, 1.2, 10)
DOMINANT = np.r_[np.linspace(-1.2, 1.2, 9), 3.5]  # the top model wins ~95% of its votes: often never loses
SCENARIOS = {
    "10 models, 100 votes, no ties": (TEN, 100, 0.0),
    "10 models, 100 votes, 30% ties": (TEN, 100, 0.30),
    "10 models, 300 votes, no ties": (TEN, 300, 0.0),
    "10 models, 300 votes, 30% ties": (TEN, 300, 0.30),
    "10 models, 3k votes, no ties": (TEN, 3000, 0.0),
    "10 models, 3k votes, 30% ties": (TEN, 3000, 0.30),
    "one-sided: dominant, 100 votes, no ties": (DOMINANT, 100, 0.0),
    "one-sided: dominant, 100 votes, 30% ties": (DOMINANT, 100, 0.30),
    "one-sided: dominant, 300 votes, no ties": (DOMINANT, 300, 0.0),
}
METHODS = ("auto", "bootstrap", "sandwich")


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
    ap.add_argument("--elo-rounds", type=int, default=0)
    ap.add_argument("--only", default=None, help="run only the scenarios whose name contains this")
    args = ap.parse_args()
    rng = np.random.default_rng(2024)
    z = 1.959963984540054
    results = {}
    t0 = time.perf_counter()
    for name, (strength, votes, ties) in SCENARIOS.items():
        if args.only and args.only not in name:
            continue
        theta_pop = population_theta(strength, ties)
        m = len(strength)
        names = [f"m{k}" for k in range(m)]
        c = np.eye(m) - 1 / m
        hits = dict.fromkeys((*METHODS, "model_based_baseline", "one_sided", "elo"), 0)
        counts = dict.fromkeys(hits, 0)
        chosen: dict[str, int] = {}
        skipped = 0
        for sim in range(args.sims):
            rows = simulate(strength, votes, rng, ties)
            out = Outcomes.from_rows(names, rows)
            if len(out.components()) > 1 or len(out.components()[0]) < m:
                skipped += 1
                continue
            for ci in METHODS:
                ranking = rank_bt(out, ci=ci, rounds=args.rounds, seed=sim)
                if ci == "auto":
                    chosen[ranking.info["ci"]] = chosen.get(ranking.info["ci"], 0) + 1
                finite = [int(r.model[1:]) for r in ranking.models if not r.extra["set_by_prior"]]
                centre = theta_pop[finite].mean() if ranking.info.get("centre") else theta_pop.mean()
                truth = ELO_CENTRE + ELO_PER_LOGIT * (theta_pop - centre)
                for r in ranking.models:
                    t = truth[int(r.model[1:])]
                    ok = r.ci_low <= t <= r.ci_high
                    hits[ci] += int(ok)
                    counts[ci] += 1
                    if np.isinf(r.ci_low) or np.isinf(r.ci_high):
                        hits["one_sided"] += int(ok)
                        counts["one_sided"] += 1
            fit = fit_bt(out.pair_stats(), m)
            if fit.prior == 0:
                truth = ELO_CENTRE + ELO_PER_LOGIT * (theta_pop - theta_pop.mean())
                se = ELO_PER_LOGIT * np.sqrt(np.diag(c @ fit.hessian_inverse() @ c.T))
                hits["model_based_baseline"] += int((np.abs(ELO_CENTRE + ELO_PER_LOGIT * fit.theta - truth)
                                                     <= z * se).sum())
                counts["model_based_baseline"] += m
            if args.elo_rounds > 0 and votes <= 5000:
                truth = ELO_CENTRE + ELO_PER_LOGIT * (theta_pop - theta_pop.mean())
                elo = rank_elo(names, _votes(rows, rng), rounds=args.elo_rounds, seed=sim)
                for r in elo.models:
                    hits["elo"] += int(r.ci_low <= truth[int(r.model[1:])] <= r.ci_high)
                    counts["elo"] += 1
        results[name] = {k: (round(hits[k] / counts[k], 4) if counts[k] else None) for k in hits}
        results[name] |= {f"{k}_n": counts[k] for k in hits}
        results[name] |= {"auto_chose": chosen, "skipped_disconnected": skipped}
        print(f"{name}: {results[name]}", file=sys.stderr, flush=True)
    doc = {"nominal": 0.95, "sims_per_scenario": args.sims, "bootstrap_rounds": args.rounds,
           "elo_rounds": args.elo_rounds, "elo_per_logit": ELO_PER_LOGIT,
           "seconds": round(time.perf_counter() - t0, 1), "scenarios": results}
    print(json.dumps(doc, indent=2))
    head = (f"{'scenario':42}{'auto':>7}{'(chose)':>14}{'bootstrap':>11}{'sandwich':>10}{'model-based':>13}"
            f"{'one-sided (n)':>16}{'elo':>8}")
    print("\n" + head, file=sys.stderr)

    def f(x):
        return "   –" if x is None else f"{x:.3f}"

    for name, r in results.items():
        print(f"{name:42}{f(r['auto']):>7}{','.join(r['auto_chose']):>14}{f(r['bootstrap']):>11}"
              f"{f(r['sandwich']):>10}{f(r['model_based_baseline']):>13}"
              f"{f(r['one_sided']) + ' (' + str(r['one_sided_n']) + ')':>16}{f(r['elo']):>8}", file=sys.stderr)


if __name__ == "__main__":
    main()
