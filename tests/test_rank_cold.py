"""`sbs rank` from a cold process (issue 22): what it must not load, and the scipy-free bootstrap sums being the
very sums the sparse products made (so the JSON stays byte-identical)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from sbs_tui.core.ranking.bootstrap import _Sums
from sbs_tui.core.ranking.outcomes import Outcomes


def _store_with_votes(path, n_votes: int = 600) -> None:
    from sbs_tui.core.records import VoteRecord
    from sbs_tui.core.store import Store

    rng = np.random.default_rng(4)
    models = [f"m-{k}" for k in range(5)]
    a = rng.integers(0, 5, n_votes)
    b = (a + rng.integers(1, 5, n_votes)) % 5
    winner = rng.choice(["model_a", "model_b", "tie"], n_votes, p=[0.45, 0.45, 0.1])
    with Store(path) as store, store.transaction():
        store.votes.insert([VoteRecord(prompt_id=f"p{k}", prompt=f"prompt {k}", model_a=models[x], model_b=models[y],
                                       winner=str(w), annotator="ann") for k, (x, y, w) in enumerate(zip(a, b, winner))])


@pytest.mark.parametrize("ci", ["sandwich", "bootstrap"])
def test_sbs_rank_loads_neither_sqlite_utils_nor_scipy_nor_the_settings(tmp_path, ci: str) -> None:
    """sqlite-utils (~0.1 s of CPU, for migrations an up-to-date database does not need), scipy.sparse (0.16 s,
    once for the bootstrap's sums) and the settings schema (nothing can set a setting here) stay unloaded, and
    numpy's BLAS runs on one thread (its thread pool costs start-up time and fights the bootstrap's threads)."""
    db = tmp_path / "r.db"
    _store_with_votes(db)
    code = ("import os, sys\nfrom sbs_tui.cli import main\n"
            f"try:\n    main(['--db', {str(db)!r}, 'rank', '--method', 'bt', '--ci', {ci!r}, '--format', 'json'])\n"
            "except SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'))\n"
            "print('LOADED', ' '.join(sorted(sys.modules)))")
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("SBS_") and k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                     "GOTO_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert '"rating"' in out.stdout
    loaded = set(out.stdout.rpartition("LOADED ")[2].split())
    assert "numpy" in loaded and "sbs_tui.core.store" in loaded  # the probe sees what the command imported
    unwanted = {m for m in loaded if m.split(".")[0] in ("sqlite_utils", "scipy", "dateutil")}
    assert not unwanted, sorted(unwanted)
    assert "sbs_tui.config" not in loaded and "sbs_tui.core.settings" not in loaded
    assert "BLAS 1" in out.stdout


def test_a_settings_variable_is_still_checked(tmp_path) -> None:
    """Skipping the settings when nothing can set one must not skip checking one that is set."""
    db = tmp_path / "r.db"
    _store_with_votes(db, 60)
    env = dict(__import__("os").environ, SBS_QUEUE_OVERLAPP="3")
    out = subprocess.run([sys.executable, "-m", "sbs_tui", "--db", str(db), "rank", "--format", "json"],
                         capture_output=True, text=True, env=env)
    assert out.returncode == 2 and "SBS_QUEUE_OVERLAPP" in out.stderr


def test_an_up_to_date_store_opens_without_sqlite_utils_and_a_new_one_still_migrates(tmp_path) -> None:
    db = tmp_path / "s.db"
    code = ("import sys\nfrom sbs_tui.core.store import Store\n"
            f"Store({str(db)!r}).close()\nprint('first', 'sqlite_utils' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "first True" in out.stdout  # a new database: its migrations ran, through sqlite-utils
    out = subprocess.run([sys.executable, "-c", code.replace("first", "again")], capture_output=True, text=True,
                         check=True)
    assert "again False" in out.stdout
    import sqlite3

    from sbs_tui.core.store import MIGRATIONS

    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM _migrations").fetchone()[0] == len(MIGRATIONS)
    conn.close()


@pytest.mark.parametrize("weighted", [False, True])
def test_bootstrap_sums_are_the_sparse_products_to_the_last_bit(weighted: bool) -> None:
    """The bincount sums add in the order scipy's CSR products add (cells in order; a model's pairs in pair
    order): equal bit for bit, also with AlpacaEval-style weighted credits whose sums depend on the order."""
    from scipy.sparse import csr_matrix

    rng = np.random.default_rng(11 + weighted)
    m, votes = 9, 4000
    a = rng.integers(0, m, votes)
    b = (a + rng.integers(1, m, votes)) % m
    s = rng.random(votes) if weighted else rng.choice([0.0, 0.5, 1.0], votes)
    out = Outcomes.from_rows([f"m{k}" for k in range(m)], [(int(x), int(y), float(z), 1) for x, y, z in zip(a, b, s)])
    pi, pj, inverse = out.pair_index()
    k, p = len(out.n), len(pi)
    to_n = csr_matrix((np.ones(k), (np.arange(k), inverse)), shape=(k, p)).T.tocsr()
    to_w = csr_matrix((out.s, (np.arange(k), inverse)), shape=(k, p)).T.tocsr()
    direction = csr_matrix((np.r_[np.ones(p), -np.ones(p)], (np.r_[np.arange(p), np.arange(p)], np.r_[pi, pj])),
                           shape=(p, m)).T.tocsr()
    rounds = 7
    counts = rng.poisson(out.n, size=(rounds, k)).astype(float)
    sums = _Sums(out, rounds + 3)  # built for a larger block: a short last block uses a prefix
    n, w = sums.per_pair(counts)
    assert n.tobytes() == np.asarray((to_n @ counts.T).T, order="C").tobytes()
    assert w.tobytes() == np.asarray((to_w @ counts.T).T, order="C").tobytes()
    resid = rng.standard_normal((rounds, p))
    assert sums.gradient(resid).tobytes() == np.asarray((direction @ resid.T).T, order="C").tobytes()


@pytest.mark.parametrize("command", [["export", "rankings", "--out", "{tmp}/r.json"], ["report", "--out", "{tmp}/r.md"]])
def test_the_other_ranking_commands_run_numpy_on_one_blas_thread(tmp_path, command: list[str]) -> None:
    """``sbs export rankings`` and ``sbs report`` fit rankings too: one BLAS thread (``one_blas_thread``) cut
    their CPU by 0.69× and 0.85× at 1M votes (``bench/bench_blas_threads.py``). "BLAS 1" after the command also
    says numpy was not loaded before the rule ran (it sets nothing once numpy is in)."""
    db = tmp_path / "r.db"
    _store_with_votes(db, 200)
    argv = ["--db", str(db), *(a.format(tmp=tmp_path) for a in command)]
    code = ("import os, sys\nassert 'numpy' not in sys.modules\nfrom sbs_tui.cli import main\n"
            f"try:\n    main({argv!r})\nexcept SystemExit as exc:\n    assert not exc.code, exc.code\n"
            "print('BLAS', os.environ.get('OPENBLAS_NUM_THREADS'), 'numpy' in sys.modules)\n")
    env = {k: v for k, v in __import__("os").environ.items()
           if not k.startswith("SBS_") and k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                                     "GOTO_NUM_THREADS", "MKL_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env)
    assert "BLAS 1 True" in out.stdout, out.stdout
