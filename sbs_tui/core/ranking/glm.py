"""A small penalised logistic regression with soft labels and a sandwich covariance.

Why our own (30 lines) rather than scikit-learn: we need soft labels (a tie is y = ½, an AlpacaEval verdict
y = preference − 1), per-coefficient penalties (prompt effects shrunk, model effects not) and the robust
covariance for intervals; scikit-learn offers none of the three. The optimiser is scipy's exact trust-region
Newton method.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any  # ``x`` is a dense array or a scipy sparse matrix (scipy ships no types)

import numpy as np

from sbs_tui.core.ranking.bt import sigmoid


@dataclass(frozen=True)
class LogisticFit:
    beta: np.ndarray
    hessian: np.ndarray
    covariance: np.ndarray  # sandwich H⁻¹ M H⁻¹


DENSE_LIMIT = 200  # above this many coefficients, Hessian-vector products instead of the dense Hessian


def fit_logistic(x: Any, y: np.ndarray, penalty: np.ndarray, weight: np.ndarray | None = None, *,
                 covariance: bool = True) -> LogisticFit:
    """Minimise Σ w·[−y log σ(xβ) − (1 − y) log σ(−xβ)] + ½ Σ penalty·β². ``x``: dense or scipy sparse.

    Small problems use the exact trust-region method; large ones (per-prompt effects) a Krylov trust-region
    method on Hessian-vector products, never forming the dense Hessian. ``covariance=False`` skips the
    sandwich (and returns empty matrices) when only the coefficients are needed."""
    from scipy import sparse
    from scipy.optimize import minimize

    x = sparse.csr_matrix(x)
    y = np.asarray(y, dtype=np.float64)
    w = np.ones(len(y)) if weight is None else np.asarray(weight, dtype=np.float64)
    penalty = np.asarray(penalty, dtype=np.float64)

    def fun(beta: np.ndarray) -> tuple[float, np.ndarray]:
        z = x @ beta
        nll = float(np.sum(w * (y * np.logaddexp(0, -z) + (1 - y) * np.logaddexp(0, z))))
        grad = x.T @ (w * (sigmoid(z) - y)) + penalty * beta
        return nll + 0.5 * float(np.sum(penalty * beta * beta)), grad

    def hess(beta: np.ndarray) -> np.ndarray:
        p = sigmoid(x @ beta)
        return _gram(x, w * p * (1 - p)) + np.diag(penalty)

    if x.shape[1] <= DENSE_LIMIT:
        res = minimize(fun, np.zeros(x.shape[1]), jac=True, hess=hess, method="trust-exact",
                       options={"gtol": 1e-8, "maxiter": 500})
    else:
        def hessp(beta: np.ndarray, v: np.ndarray) -> np.ndarray:
            p = sigmoid(x @ beta)
            return x.T @ (w * p * (1 - p) * (x @ v)) + penalty * v

        res = minimize(fun, np.zeros(x.shape[1]), jac=True, hessp=hessp, method="trust-krylov",
                       options={"gtol": 1e-8, "maxiter": 500})
    beta = res.x
    if not covariance:
        empty = np.zeros((0, 0))
        return LogisticFit(beta, empty, empty)
    h = hess(beta)
    resid = w * (sigmoid(x @ beta) - y)
    meat = _gram(x, resid * resid)
    h_inv = np.linalg.pinv(h)
    return LogisticFit(beta, h, h_inv @ meat @ h_inv)


def _gram(x: Any, weights: np.ndarray) -> np.ndarray:
    from scipy import sparse

    return np.asarray((x.T @ sparse.diags(weights) @ x).todense())
