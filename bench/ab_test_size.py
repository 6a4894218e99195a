"""The true level of two-proportion tests, by exact enumeration (issue 19.2).

A test of p1 = p2 rejects on a fixed set R of outcomes (x1, x2); under the null both arms share one success
probability π, and the true level is the worst case over π of P_π(R) = Σ_R Bin(x1; n1, π)·Bin(x2; n2, π). This
script computes R for every outcome — no simulation — and that maximum (a grid of 2,000 values of π, refined
around the worst one), for:

* ``z`` — the pooled two-proportion z-test (normal p-value);
* ``former`` — what ``sbs ab`` did before: the z-test, Fisher's exact test when an expected count is below 5;
* ``fisher`` — Fisher's exact test alone (``sbs ab`` above its Boschloo budget);
* ``boschloo`` — Boschloo's exact unconditional test (``sbs ab`` up to 200 units per arm), computed here for
  every outcome at once (its p-value is the worst case over π of P(Fisher's one-sided p ≤ the one observed),
  twice the smaller side, as ``scipy.stats.boschloo_exact``); cross-checked against scipy on sample outcomes.

Usage: python bench/ab_test_size.py [--max-n 100] [--step 10] [--alpha 0.05] [--json FILE]
Prints a Markdown table (rows n1, columns n2; each cell the worst-case level of the z-test, of the former rule
and of Boschloo's test) and the largest level of each test over the grid.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
from scipy import optimize, stats

PI_GRID = np.linspace(0.0, 1.0, 2001)[1:-1]
REL_TOL = 1 + 1e-7


def _outcomes(n1: int, n2: int) -> tuple[np.ndarray, np.ndarray]:
    return np.arange(n1 + 1)[:, None], np.arange(n2 + 1)[None, :]


def z_p(n1: int, n2: int) -> np.ndarray:
    """Pooled z-test p-value of every outcome (1 where there is no variation)."""
    x1, x2 = _outcomes(n1, n2)
    pooled = (x1 + x2) / (n1 + n2)
    se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(x1 / n1 - x2 / n2) / se
    return np.where(se == 0, 1.0, 2 * stats.norm.sf(z))


def fisher_p(n1: int, n2: int, side: str = "two-sided") -> np.ndarray:
    """Fisher's exact p-value of every outcome, from the hypergeometric law of x1 given x1 + x2: two-sided (sum
    of the probabilities no larger than the observed one) or one-sided ("greater": P(X1 ≥ x1), "less")."""
    out = np.ones((n1 + 1, n2 + 1))
    for t in range(n1 + n2 + 1):
        x = np.arange(max(0, t - n2), min(n1, t) + 1)
        pmf = stats.hypergeom.pmf(x, n1 + n2, t, n1)
        if side == "greater":
            p = np.cumsum(pmf[::-1])[::-1]
        elif side == "less":
            p = np.cumsum(pmf)
        else:
            ordered = np.sort(pmf)
            p = np.cumsum(ordered)[np.searchsorted(ordered, pmf * REL_TOL, side="right") - 1]
        out[x, t - x] = np.minimum(1.0, p)
    return out


def former_p(n1: int, n2: int) -> np.ndarray:
    """The former rule: Fisher where the smallest expected count under the pooled null is below 5, else z."""
    x1, x2 = _outcomes(n1, n2)
    pooled = (x1 + x2) / (n1 + n2)
    expected = np.minimum(np.minimum(n1 * pooled, n1 * (1 - pooled)), np.minimum(n2 * pooled, n2 * (1 - pooled)))
    z = z_p(n1, n2)
    return np.where((expected < 5) & (z < 1.0), fisher_p(n1, n2), z)


def _binomials(n: int, pis: np.ndarray) -> np.ndarray:
    return stats.binom.pmf(np.arange(n + 1)[:, None], n, pis)


def boschloo_p(n1: int, n2: int, pis: np.ndarray = PI_GRID) -> np.ndarray:
    """Boschloo's two-sided p-value of every outcome: for each side, the worst case over π of the probability of
    a one-sided Fisher p no larger than the observed one; twice the smaller side. The worst case is taken over
    the grid ``pis``, which can only make p-values smaller (a level measured from them is an upper bound)."""
    b1, b2 = _binomials(n1, pis), _binomials(n2, pis)
    joint = (b1[:, None, :] * b2[None, :, :]).reshape(-1, len(pis))  # outcome × π
    sides = []
    for side in ("greater", "less"):
        stat = fisher_p(n1, n2, side).ravel()
        order = np.argsort(stat, kind="stable")
        cum = np.cumsum(joint[order], axis=0)  # P(stat ≤ k-th smallest), per π
        last = np.searchsorted(stat[order], stat * REL_TOL, side="right") - 1  # ties count as "as extreme"
        sides.append(cum[last].max(axis=1))
    return np.minimum(1.0, 2 * np.minimum(*sides)).reshape(n1 + 1, n2 + 1)


def level(reject: np.ndarray, n1: int, n2: int) -> tuple[float, float]:
    """The worst-case rejection probability over π and where it is: the grid, then a bounded search around
    the grid's worst point (the level is a polynomial in π, smooth between grid points)."""
    reject = reject.astype(float)

    def size(pis: np.ndarray) -> np.ndarray:
        return np.einsum("ip,ip->p", _binomials(n1, pis), reject @ _binomials(n2, pis))

    sizes = size(PI_GRID)
    i = int(sizes.argmax())
    lo, hi = PI_GRID[max(i - 1, 0)], PI_GRID[min(i + 1, len(PI_GRID) - 1)]
    res = optimize.minimize_scalar(lambda p: -size(np.array([p]))[0], bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-10})
    if -res.fun > sizes[i]:
        return float(-res.fun), float(res.x)
    return float(sizes[i]), float(PI_GRID[i])


def check_against_scipy(n1: int, n2: int, samples: int = 12, seed: int = 0) -> float:
    """Largest |this script's Boschloo p − scipy.stats.boschloo_exact's| over random outcomes."""
    rng = np.random.default_rng(seed)
    ours = boschloo_p(n1, n2)
    worst = 0.0
    for _ in range(samples):
        a, b = int(rng.integers(0, n1 + 1)), int(rng.integers(0, n2 + 1))
        ref = stats.boschloo_exact([[a, b], [n1 - a, n2 - b]], alternative="two-sided").pvalue
        worst = max(worst, abs(float(ref) - float(ours[a, b])))
    return worst


def grid_levels(sizes: list[int], alpha: float, *, boschloo: bool = True) -> list[dict]:
    rows = []
    for i, n1 in enumerate(sizes):
        for n2 in sizes[i:]:
            row = {"n1": n1, "n2": n2}
            for name, p in (("z", z_p(n1, n2)), ("former", former_p(n1, n2)), ("fisher", fisher_p(n1, n2))):
                row[name], row[f"{name}_at"] = level(p <= alpha, n1, n2)
            if boschloo:
                row["boschloo"], row["boschloo_at"] = level(boschloo_p(n1, n2) <= alpha, n1, n2)
            rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--max-n", type=int, default=100)
    ap.add_argument("--step", type=int, default=10)
    ap.add_argument("--alpha", type=float, default=0.05)
    ap.add_argument("--large", type=int, nargs="*", default=[200, 500],
                    help="balanced sizes beyond the grid (z, former and Fisher only)")
    ap.add_argument("--json", type=Path)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    sizes = list(range(args.step, args.max_n + 1, args.step))
    rows = grid_levels(sizes, args.alpha)
    large = [r for n in args.large for r in grid_levels([n], args.alpha, boschloo=False)]
    check = max(check_against_scipy(n1, n2) for n1, n2 in ((10, 10), (20, 30), (50, 50)))
    pct = lambda x: f"{100 * x:.2f}"  # noqa: E731
    print(f"True level (%) at nominal {100 * args.alpha:g}%: z / former rule / Boschloo, worst case over π\n")
    print("| n1 \\ n2 | " + " | ".join(str(n) for n in sizes) + " |")
    print("|---" * (len(sizes) + 1) + "|")
    cell = {(r["n1"], r["n2"]): r for r in rows}
    for n1 in sizes:
        cells = []
        for n2 in sizes:
            r = cell.get((min(n1, n2), max(n1, n2)))
            cells.append(f"{pct(r['z'])} / {pct(r['former'])} / {pct(r['boschloo'])}")
        print(f"| {n1} | " + " | ".join(cells) + " |")
    print("\nBalanced, beyond the grid: " + "; ".join(
        f"{r['n1']} per arm: z {pct(r['z'])}, former {pct(r['former'])}, Fisher {pct(r['fisher'])}" for r in large))
    for name in ("z", "former", "fisher", "boschloo"):
        worst = max(rows, key=lambda r: r[name])
        print(f"max {name}: {pct(worst[name])}% at n1={worst['n1']}, n2={worst['n2']}, π={worst[f'{name}_at']:.3f}; "
              f"grid points above nominal: {sum(r[name] > args.alpha for r in rows)}/{len(rows)}")
    holds = [r for r in rows if r["z"] <= args.alpha]
    print(f"z-test within nominal at: {[(r['n1'], r['n2']) for r in holds] or 'no grid point'}")
    print(f"Boschloo here vs scipy.stats.boschloo_exact: max |Δp| = {check:.2e}")
    print(f"({time.perf_counter() - start:.0f} s)")
    if args.json:
        args.json.write_text(json.dumps({"alpha": args.alpha, "grid": rows, "large": large,
                                         "boschloo_vs_scipy": check}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
