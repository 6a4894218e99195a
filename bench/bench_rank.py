"""Benchmark: `sbs rank --method bt --ci bootstrap --bootstrap 1000 --format json` on 1M votes among 100 models.

What it measures, in one run:
  * end to end, as a user runs it: a subprocess from process start to the JSON on stdout, with peak RSS
    (``os.wait4``), on a real SQLite file (WAL) written beforehand; median of ``--repeat`` runs;
  * the same with ``--ci sandwich``;
  * the baseline — the common approach: the same bootstrap resamples, each refitted on its own with scipy
    L-BFGS over the unique (a, b, outcome) rows — and how far its ratings and CI bounds are from ours;
  * the peers a user would pick instead, on the same votes in the same run (skipped when not installed;
    ``pip install evalica arena-rank``): ``evalica`` (Rust BT, its percentile bootstrap with --rounds resamples)
    and ``arena-rank`` (LMArena's JAX BT, sandwich interval) — their wall time from the aggregated cells
    (input preparation excluded, import excluded), the ratio to ours, and their largest rating difference.

Usage:  python bench/bench_rank.py [--votes 1000000] [--models 100] [--rounds 1000] [--baseline-rounds N]
Prints one JSON object (also written to bench/out/bench_rank.json) and a short table.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import statistics
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def build_database(path: Path, n_votes: int, n_models: int, seed: int = 0) -> np.ndarray:
    """Simulated votes from known strengths, written straight into the store's schema."""
    from sbs_tui.core.store import Store

    Store(path).close()  # creates the schema (migrations)
    rng = np.random.default_rng(seed)
    strength = rng.normal(0.0, 1.0, n_models)
    a = rng.integers(0, n_models, n_votes)
    b = (a + rng.integers(1, n_models, n_votes)) % n_models
    p_b = 1.0 / (1.0 + np.exp(-(strength[b] - strength[a])))
    u = rng.random(n_votes)
    tie = u < 0.1
    b_wins = ~tie & (rng.random(n_votes) < p_b)
    winner = np.where(tie, np.where(rng.random(n_votes) < 0.3, "both_bad", "tie"),
                      np.where(b_wins, "model_b", "model_a"))
    score = np.where(tie, 0.5, b_wins.astype(float))
    n_prompts, n_annotators = 2000, 20
    prompt = rng.integers(0, n_prompts, n_votes)
    annot = rng.integers(1, n_annotators + 1, n_votes)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = OFF")
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO models (id, name) VALUES (?, ?)",
                     [(k + 1, f"model-{k:03d}") for k in range(n_models)])
    conn.executemany("INSERT INTO annotators (id, name) VALUES (?, ?)",
                     [(k, f"annotator-{k}") for k in range(1, n_annotators + 1)])
    conn.executemany("INSERT INTO prompts (id, text) VALUES (?, ?)",
                     [(f"p{k}", f"prompt {k}") for k in range(n_prompts)])
    conn.executemany(
        "INSERT INTO votes (uid, prompt_id, model_a_id, model_b_id, winner, weight, score_b, annotator_id) "
        "VALUES (?, ?, ?, ?, ?, 1.0, ?, ?)",
        zip((f"v{k}" for k in range(n_votes)), (f"p{k}" for k in prompt.tolist()), (a + 1).tolist(),
            (b + 1).tolist(), winner.tolist(), score.tolist(), annot.tolist()),
    )
    conn.execute("COMMIT")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return strength


CPU_SECONDS: list[float] = []


def run_cli(db: Path, *args: str) -> tuple[float, float, dict]:
    """Wall seconds, peak RSS (MB, of this process alone: os.wait4) and parsed JSON of one `sbs rank`."""
    from bench.child import measured

    cmd = [sys.executable, "-m", "sbs_tui", "--db", str(db), "rank", *args, "--format", "json"]
    m = measured(cmd, env=dict(os.environ, PYTHONPATH=str(REPO))).check("sbs rank")
    CPU_SECONDS.append(m.cpu_s)
    return m.wall_s, m.rss_mb, json.loads(m.stdout)


def startup_baselines(repeat: int) -> dict[str, float]:
    """Process start-up references for ``--ci sandwich`` (median wall seconds of ``repeat`` runs, same run):
    the bare interpreter, ``import numpy`` (the floor of any ranking), ``sbs --help`` (the CLI without a command)
    and ``import scipy.optimize`` on top of numpy (what the BT fit no longer imports)."""
    env = dict(os.environ, PYTHONPATH=str(REPO))
    cmds = {"python -c pass": [sys.executable, "-c", "pass"],
            "python -c 'import numpy'": [sys.executable, "-c", "import numpy"],
            "sbs --help": [sys.executable, "-m", "sbs_tui", "--help"],
            "python -c 'import numpy, scipy.optimize'": [sys.executable, "-c", "import numpy, scipy.optimize"]}
    out = {}
    for name, cmd in cmds.items():
        walls = []
        for _ in range(repeat):
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, capture_output=True, env=env)
            walls.append(time.perf_counter() - t0)
        out[name] = round(statistics.median(walls), 3)
    return out


def sandwich_only(db: Path, repeat: int) -> None:
    """``--sandwich-only``: ``sbs rank --ci sandwich`` end to end against the start-up baselines, interleaved so
    a change of machine load hits both alike."""
    walls, rss = [], 0.0
    base: dict[str, list[float]] = {}
    for _ in range(repeat):
        wall, peak, _doc = run_cli(db, "--method", "bt", "--ci", "sandwich")
        walls.append(wall)
        rss = max(rss, peak)
        for name, value in startup_baselines(1).items():
            base.setdefault(name, []).append(value)
    wall = statistics.median(walls)
    medians = {name: round(statistics.median(v), 3) for name, v in base.items()}
    result = {"sandwich_wall_s": round(wall, 3), "sandwich_wall_s_runs": [round(w, 3) for w in walls],
              "peak_rss_mb": round(rss, 1), "startup_baselines_s": medians,
              "ratio_to_sbs_help": round(wall / medians["sbs --help"], 2),
              "over_numpy_import_s": round(wall - medians["python -c 'import numpy'"], 3),
              "load_average_1min": round(os.getloadavg()[0], 2), "goals": {"sandwich_s<=1": wall <= 1.0}}
    print(json.dumps(result, indent=2))
    print(f"\n{'':44}{'wall s':>10}", file=sys.stderr)
    print(f"{'sbs rank --method bt --ci sandwich':44}{wall:>10.3f}", file=sys.stderr)
    for name, value in medians.items():
        print(f"{name:44}{value:>10.3f}", file=sys.stderr)
    print(f"sandwich / sbs --help = {result['ratio_to_sbs_help']:.2f}x; goal <= 1 s", file=sys.stderr)


def baseline_lbfgs(db: Path, rounds: int, seed: int) -> tuple[float, float, dict[str, tuple[float, float, float]]]:
    """The common approach: per bootstrap round, scipy L-BFGS over the unique (a, b, outcome) rows.

    Uses the very resamples `sbs rank` draws (same seed, same blocks), so any difference is the optimiser's.
    Same objective (BT with ties as half; the plain MLE, or the weak prior where `sbs rank` needs it), same
    Elo scale.
    """
    from scipy.optimize import minimize

    from sbs_tui.core.ranking.bootstrap import resampled_counts
    from sbs_tui.core.ranking.bt import fit_bt, to_elo
    from sbs_tui.core.ranking.outcomes import Outcomes
    from sbs_tui.core.store import Store

    t0 = time.perf_counter()
    c0 = time.process_time()
    store = Store(db)
    outcomes = Outcomes.from_rows(*store.votes.outcomes())
    store.close()
    i, j, s = outcomes.i, outcomes.j, outcomes.s
    m = outcomes.n_models
    prior = fit_bt(outcomes.pair_stats(), m).prior  # 0: the MLE exists (it does on these votes)

    def objective(theta: np.ndarray, n: np.ndarray) -> tuple[float, np.ndarray]:
        d = theta[j] - theta[i]
        nll = np.sum(n * (s * np.logaddexp(0, -d) + (1 - s) * np.logaddexp(0, d)))
        r = n * (s - 1.0 / (1.0 + np.exp(-d)))
        grad = np.bincount(i, r, m) - np.bincount(j, r, m) + prior * theta
        return nll + 0.5 * prior * theta @ theta, grad

    def fit(n: np.ndarray) -> np.ndarray:
        res = minimize(objective, np.zeros(m), args=(n,), jac=True, method="L-BFGS-B",
                       options={"maxiter": 1000, "gtol": 1e-8, "ftol": 1e-15})
        return res.x - res.x.mean()

    point = to_elo(fit(outcomes.n))
    boots = [to_elo(fit(c.astype(float))) for block in resampled_counts(outcomes, rounds, seed) for c in block]
    low, high = np.percentile(np.array(boots), [2.5, 97.5], axis=0)
    wall = time.perf_counter() - t0
    return wall, time.process_time() - c0, {outcomes.names[k]: (point[k], low[k], high[k]) for k in range(m)}


def peers(db: Path, rounds: int, seed: int) -> dict[str, dict]:
    """evalica and arena-rank on the same votes: wall seconds and the largest |Δrating| (Elo) to ``ours``.

    Both get the aggregated (a, b, outcome) cells with their counts as weights — the cheapest input each accepts —
    so the comparison is of fitting and intervals, not of data loading."""
    from sbs_tui.core.ranking.bt import ELO_PER_LOGIT
    from sbs_tui.core.ranking.outcomes import Outcomes
    from sbs_tui.core.store import Store

    with Store(db) as store:
        outcomes = Outcomes.from_rows(*store.votes.outcomes())
    names = np.array(outcomes.names)
    out: dict[str, dict] = {}

    def centred(theta: np.ndarray) -> np.ndarray:
        return 1000.0 + ELO_PER_LOGIT * (theta - theta.mean())

    try:
        import evalica
    except ImportError:
        out["evalica"] = {"skipped": "not installed (pip install evalica)"}
    else:
        xs, ys = names[outcomes.i], names[outcomes.j]
        winners = [evalica.Winner.Y if s > 0.5 else evalica.Winner.X if s < 0.5 else evalica.Winner.Draw
                   for s in outcomes.s]
        t0 = time.perf_counter()
        res = evalica.bootstrap(evalica.bradley_terry, xs, ys, winners, weights=outcomes.n, n_resamples=rounds,
                                bootstrap_method="percentile", random_state=seed, tolerance=1e-10, limit=10_000)
        wall = time.perf_counter() - t0
        scores = res.result.scores.reindex(outcomes.names).to_numpy(dtype=float)
        out["evalica"] = {"version": evalica.__version__, "wall_s": round(wall, 3),
                          "ratings": dict(zip(outcomes.names, centred(np.log(scores)).tolist())),
                          "method": "bradley_terry + percentile bootstrap (weighted rows)"}
    try:
        import jax.numpy as jnp
        from arena_rank.models.bradley_terry import BradleyTerry
        from arena_rank.utils.data_utils import PairDataset
    except ImportError:
        out["arena-rank"] = {"skipped": "not installed (pip install arena-rank)"}
    else:
        t0 = time.perf_counter()
        ds = PairDataset(competitors=list(outcomes.names),
                         pairs=jnp.asarray(np.column_stack([outcomes.i, outcomes.j]), dtype=jnp.int32),
                         outcomes=jnp.asarray(1.0 - outcomes.s), counts=jnp.asarray(outcomes.n),
                         weights=jnp.ones(len(outcomes.n)), opt_weights=jnp.asarray(outcomes.n))
        model = BradleyTerry(outcomes.n_models)
        res = model.compute_ratings_and_cis(ds, ci_method="sandwich")
        ratings = np.asarray(res["ratings"], dtype=float)
        wall = time.perf_counter() - t0
        out["arena-rank"] = {"wall_s": round(wall, 3),
                             "ratings": dict(zip(outcomes.names, (ratings - ratings.mean() + 1000.0).tolist())),
                             "method": "BradleyTerry (JAX L-BFGS) + sandwich"}
    return out


def in_process(db: Path, rounds: int, seed: int, repeat: int) -> float:
    """``sbs rank``'s work measured like the baseline: inside this already-warm process (median of ``repeat``)."""
    from sbs_tui.core.ranking.api import RankRequest, run_ranking
    from sbs_tui.core.store import Store

    walls = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        with Store(db) as store:
            run_ranking(store, RankRequest(method="bt", rounds=rounds, seed=seed))
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--votes", type=int, default=1_000_000)
    ap.add_argument("--models", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=1000)
    ap.add_argument("--baseline-rounds", type=int, default=None,
                    help="rounds for the L-BFGS baseline (default: --rounds); its time is scaled to --rounds")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeat", type=int, default=3, help="runs of each sbs command; the median is reported")
    ap.add_argument("--no-peers", action="store_true", help="skip evalica and arena-rank")
    ap.add_argument("--sandwich-only", action="store_true",
                    help="only `sbs rank --ci sandwich` against process start-up baselines (quick)")
    args = ap.parse_args()
    base_rounds = args.baseline_rounds or args.rounds

    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        t0 = time.perf_counter()
        # In a child process: on Linux a child's ru_maxrss starts from its parent's RSS at fork, so the
        # parent must stay small for the measured peak RSS of `sbs rank` to be its own.
        builder = multiprocessing.get_context("fork").Process(
            target=build_database, args=(db, args.votes, args.models, args.seed))
        builder.start()
        builder.join()
        if builder.exitcode != 0:
            raise SystemExit("building the benchmark database failed")
        setup_s = time.perf_counter() - t0
        run_cli(db, "--method", "bt", "--ci", "bootstrap", "--bootstrap", "10")  # warm the OS file cache
        if args.sandwich_only:
            sandwich_only(db, max(args.repeat, 5))
            return
        runs = [run_cli(db, "--method", "bt", "--ci", "bootstrap", "--bootstrap", str(args.rounds),
                        "--seed", str(args.seed))
                for _ in range(args.repeat)]
        walls = [r[0] for r in runs]
        cpu = statistics.median(CPU_SECONDS[-args.repeat:])
        wall, rss, ours = statistics.median(walls), max(r[1] for r in runs), runs[0][2]
        s_runs = [run_cli(db, "--method", "bt", "--ci", "sandwich") for _ in range(args.repeat)]
        s_walls = [r[0] for r in s_runs]
        s_wall, s_rss = statistics.median(s_walls), max(r[1] for r in s_runs)
        startup = startup_baselines(args.repeat)
        load = os.getloadavg()[0]
        b_wall, b_cpu, ref = baseline_lbfgs(db, base_rounds, args.seed)
        same_scope = in_process(db, args.rounds, args.seed, args.repeat)
        peer = {} if args.no_peers else peers(db, args.rounds, args.seed)
        s_doc = s_runs[0][2]

    b_wall_scaled = b_wall * args.rounds / base_rounds
    max_rating = float(max(abs(m["rating"] - ref[m["model"]][0]) for m in ours["models"]))
    if base_rounds == args.rounds:
        max_ci = float(max(max(abs(m["ci_low"] - ref[m["model"]][1]), abs(m["ci_high"] - ref[m["model"]][2]))
                           for m in ours["models"]))
    else:
        max_ci = None
    result = {
        "votes": args.votes, "models": args.models, "bootstrap_rounds": args.rounds, "cores": os.cpu_count(),
        "setup_s": round(setup_s, 2),
        "load_average_1min": round(load, 2),
        "ours": {"wall_s": round(wall, 3), "wall_s_runs": [round(w, 3) for w in walls], "cpu_s": round(cpu, 3),
                 "peak_rss_mb": round(rss, 1)},
        "sandwich": {"wall_s": round(s_wall, 3), "wall_s_runs": [round(w, 3) for w in s_walls],
                     "peak_rss_mb": round(s_rss, 1), "ratio_to_sbs_help": round(s_wall / startup["sbs --help"], 2)},
        "startup_baselines_s": startup,
        "baseline_lbfgs_per_round": {"rounds_run": base_rounds, "wall_s": round(b_wall, 2),
                                     "wall_s_scaled_to_rounds": round(b_wall_scaled, 2),
                                     "cpu_s_scaled_to_rounds": round(b_cpu * args.rounds / base_rounds, 2)},
        "ours_in_process": {"wall_s": round(same_scope, 3),
                            "scope": "store open + SQL aggregation + fit + bootstrap, in this (warm) process: "
                                     "the baseline's scope, without interpreter start-up and imports"},
        "speedup_vs_baseline": round(b_wall_scaled / wall, 1),
        "speedup_vs_baseline_same_scope": round(b_wall_scaled / same_scope, 1),
        "speedup_vs_baseline_cpu_time": round(b_cpu * args.rounds / base_rounds / cpu, 1),
        "max_abs_rating_diff_elo": float(f"{max_rating:.3g}"),
        "max_abs_ci_bound_diff_elo": None if max_ci is None else float(f"{max_ci:.3g}"),
        "goals": {"wall_s<=2.5": wall <= 2.5, "rss_mb<=500": rss <= 500, "speedup>=8": b_wall_scaled / wall >= 8,
                  "sandwich_s<=1": s_wall <= 1.0, "ratings_within_1": max_rating <= 1,
                  "ci_within_3": None if max_ci is None else max_ci <= 3},
    }
    ours_rating = {m["model"]: m["rating"] for m in ours["models"]}
    sandwich_rating = {m["model"]: m["rating"] for m in s_doc["models"]}
    for name, entry in peer.items():
        if "ratings" not in entry:
            continue
        theirs = entry.pop("ratings")
        entry["max_abs_rating_diff_elo"] = float(f"{max(abs(theirs[k] - ours_rating[k]) for k in ours_rating):.3g}")
        same = same_scope if name == "evalica" else None
        if name == "evalica":
            entry["ratio_to_ours_end_to_end"] = round(entry["wall_s"] / wall, 1)
            entry["ratio_to_ours_same_scope"] = round(entry["wall_s"] / same, 1)
        else:
            entry["ratio_to_ours_sandwich_end_to_end"] = round(entry["wall_s"] / s_wall, 1)
            entry["max_abs_rating_diff_elo_vs_sandwich_run"] = float(
                f"{max(abs(theirs[k] - sandwich_rating[k]) for k in sandwich_rating):.3g}")
    result["peers"] = peer
    out_dir = REPO / "bench" / "out"
    out_dir.mkdir(exist_ok=True)
    (out_dir / "bench_rank.json").write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))
    print(f"\n{'':28}{'wall s':>10}{'peak MB':>10}", file=sys.stderr)
    print(f"{'sbs rank bt --bootstrap':28}{wall:>10.2f}{rss:>10.0f}", file=sys.stderr)
    print(f"{'sbs rank bt --ci sandwich':28}{s_wall:>10.2f}{s_rss:>10.0f}", file=sys.stderr)
    for name, value in startup.items():
        print(f"{name[:28]:28}{value:>10.2f}{'':>10}", file=sys.stderr)
    print(f"{'same work in-process':28}{same_scope:>10.2f}{'':>10}", file=sys.stderr)
    print(f"{'baseline L-BFGS per round':28}{b_wall_scaled:>10.2f}{'':>10}", file=sys.stderr)
    print(f"speed-up ×{b_wall_scaled / wall:.1f} end to end, ×{b_wall_scaled / same_scope:.1f} same scope; "
          f"max |Δrating| {max_rating:.2g} Elo; "
          f"max |ΔCI| {max_ci if max_ci is None else f'{max_ci:.2g}'} Elo", file=sys.stderr)
    for name, entry in peer.items():
        print(f"peer {name}: {json.dumps(entry)}", file=sys.stderr)


if __name__ == "__main__":
    main()
