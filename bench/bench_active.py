#!/usr/bin/env python3
"""How many votes does active sampling need to recover the true top-5 order, versus uniform sampling?

Simulation with known ground truth: ``--models`` models get true Bradley-Terry strengths; every vote is drawn
from the true win probability (with ``--tie-rate`` ties). Each strategy chooses the model pair of every vote:

* uniform — a model pair uniformly at random (the baseline; what ``--strategy uniform`` converges to);
* active  — :func:`sbs_tui.core.queue.build.active_priorities`, the function ``sbs queue build --strategy active``
  uses, recomputed every ``--batch`` votes, a pair drawn with probability ∝ its priority (as Chatbot Arena does).

"Votes needed" for one trial: the first checkpoint (every ``--batch`` votes) from which the Bradley-Terry estimate
puts the true top-5 in the true order at *every* later checkpoint up to ``--budget`` (a trial that never settles
counts as the budget). Both strategies see the same true strengths and the same random stream per trial.

Usage: python bench/bench_active.py [--trials 20] [--models 8] [--budget 3000] [--json-out FILE]
Prints JSON then a short table; the ratio is active/uniform (goal ≤ 0.70, i.e. ≥ 30% fewer votes).
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sbs_tui.core.queue.build import active_priorities, fit_bradley_terry  # noqa: E402


def simulate(strategy: str, strengths: np.ndarray, rng: np.random.Generator, *, top: int, budget: int,
             batch: int, tie_rate: float, focus_top: int | None, refresh_every: int) -> int:
    n = len(strengths)
    true_top = list(np.argsort(-strengths)[:top])
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    outcomes: dict[tuple[int, int, float], int] = {}
    settled_at: int | None = None
    votes = 0
    weights = np.ones(len(pairs))
    while votes < budget:
        if strategy == "uniform":
            chosen = [pairs[k] for k in rng.integers(0, len(pairs), size=batch)]
        else:
            if votes % refresh_every == 0:
                rows = [(a, b, s, c) for (a, b, s), c in outcomes.items()]
                prio = active_priorities(n, rows, focus_top=focus_top)
                weights = np.array([prio[p] for p in pairs]) + 1e-12
            chosen = [pairs[k] for k in rng.choice(len(pairs), size=batch, p=weights / weights.sum())]
        for i, j in chosen:
            if rng.random() < tie_rate:
                score_b = 0.5
            else:
                p_j = 1.0 / (1.0 + np.exp(strengths[i] - strengths[j]))
                score_b = 1.0 if rng.random() < p_j else 0.0
            outcomes[(i, j, score_b)] = outcomes.get((i, j, score_b), 0) + 1
        votes += batch
        theta, _cov = fit_bradley_terry(n, [(a, b, s, c) for (a, b, s), c in outcomes.items()], prior=0.01)
        correct = list(np.argsort(-theta)[:top]) == true_top
        if correct and settled_at is None:
            settled_at = votes
        elif not correct:
            settled_at = None
    return settled_at if settled_at is not None else budget


def paired_bootstrap_ci(active: list[int], uniform: list[int], *, seed: int,
                        resamples: int = 2000) -> dict[str, list[float]]:
    """95% intervals of the active/uniform ratios of medians and of means, resampling whole trials (both
    strategies of a trial together). A few trials with nearly tied top models run to the budget, or settle by luck,
    under either strategy; they dominate the mean, so on 20 trials the ratio of means is uncertain by about
    ±0.25 (measured): read it with its interval, or run more trials."""
    a, u = np.asarray(active, float), np.asarray(uniform, float)
    rng = np.random.default_rng([seed, 99])
    idx = rng.integers(0, len(a), size=(resamples, len(a)))
    out = {}
    for name, stat in (("median", np.median), ("mean", np.mean)):
        ratios = stat(a[idx], axis=1) / stat(u[idx], axis=1)
        out[name] = [round(float(x), 3) for x in np.percentile(ratios, [2.5, 97.5])]
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--models", type=int, default=8)
    parser.add_argument("--top", type=int, default=5)
    parser.add_argument("--budget", type=int, default=3000)
    parser.add_argument("--batch", type=int, default=10, help="Votes between checks of the estimated order.")
    parser.add_argument("--refresh-every", type=int, default=10,
                        help="Votes between recomputations of the active priorities (a multiple of --batch); "
                             "in a deployment, how often `sbs queue build --strategy active` is re-run.")
    parser.add_argument("--spread", type=float, default=0.35,
                        help="Gap between neighbouring true strengths, in log-odds (0.35 ≈ 60 Elo points).")
    parser.add_argument("--jitter", type=float, default=0.15, help="Random noise added to the even spacing.")
    parser.add_argument("--tie-rate", type=float, default=0.1)
    parser.add_argument("--no-focus", action="store_true", help="Active without the top-K focus (--focus-top).")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json-out", type=Path)
    args = parser.parse_args()
    if args.refresh_every % args.batch:
        parser.error("--refresh-every must be a multiple of --batch")

    started = time.perf_counter()
    results: dict[str, list[int]] = {"uniform": [], "active": []}
    for trial in range(args.trials):
        setup = np.random.default_rng([args.seed, trial])
        strengths = np.arange(args.models)[::-1] * args.spread + setup.normal(0, args.jitter, args.models)
        strengths = setup.permutation(strengths)
        for strategy in results:
            rng = np.random.default_rng([args.seed, trial, 1])
            results[strategy].append(simulate(
                strategy, strengths, rng, top=args.top, budget=args.budget, batch=args.batch,
                tie_rate=args.tie_rate, focus_top=None if args.no_focus else args.top,
                refresh_every=args.refresh_every))
    med = {k: statistics.median(v) for k, v in results.items()}
    mean = {k: statistics.fmean(v) for k, v in results.items()}
    ci = paired_bootstrap_ci(results["active"], results["uniform"], seed=args.seed)
    report = {
        "benchmark": "active_vs_uniform_top_order",
        "params": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "baseline": "uniform",
        "votes_needed": results,
        "median": med,
        "mean": mean,
        "never_settled": {k: sum(x >= args.budget for x in v) for k, v in results.items()},
        "ratio_median_active_over_uniform": med["active"] / med["uniform"],
        "ratio_mean_active_over_uniform": mean["active"] / mean["uniform"],
        "ratio_ci95_paired_bootstrap": ci,
        "seconds": round(time.perf_counter() - started, 1),
    }
    print(json.dumps(report))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(report, indent=2))
    print(f"\nvotes to recover the true top-{args.top} order ({args.models} models, {args.trials} trials)",
          file=sys.stderr)
    print(f"{'strategy':<10}{'median':>10}{'mean':>10}{'unsettled':>11}", file=sys.stderr)
    for k in results:
        print(f"{k:<10}{med[k]:>10.0f}{mean[k]:>10.0f}{report['never_settled'][k]:>11}", file=sys.stderr)
    print(f"active/uniform: median {report['ratio_median_active_over_uniform']:.2f} "
          f"(95% CI {ci['median'][0]:.2f}–{ci['median'][1]:.2f}), "
          f"mean {report['ratio_mean_active_over_uniform']:.2f} "
          f"(95% CI {ci['mean'][0]:.2f}–{ci['mean'][1]:.2f}; paired bootstrap over trials)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
