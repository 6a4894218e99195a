"""A small penalised logistic regression with soft labels and a sandwich covariance.

Why our own (30 lines) rather than scikit-learn: we need soft labels (a tie is y = ½, an AlpacaEval verdict
y = preference − 1), per-coefficient penalties (prompt effects shrunk, model effects not) and the robust
covariance for intervals; scikit-learn offers none of the three. The optimiser is scipy's exact trust-region
Newton method.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sbs_tui.core.ranking.bt import sigmoid


@dataclass(frozen=True)
class LogisticFit:
    beta: np.ndarray
    hessian: np.ndarray
    covariance: np.ndarray  # sandwich H⁻¹ M H⁻¹


def fit_logistic(x, y: np.ndarray, penalty: np.ndarray, weight: np.ndarray | None = None) -> LogisticFit:
    """Minimise Σ w·[−y log σ(xβ) − (1 − y) log σ(−xβ)] + ½ Σ penalty·β². ``x``: dense or scipy sparse."""
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

    res = minimize(fun, np.zeros(x.shape[1]), jac=True, hess=hess, method="trust-exact",
                   options={"gtol": 1e-8, "maxiter": 500})
    beta = res.x
    h = hess(beta)
    resid = w * (sigmoid(x @ beta) - y)
    meat = _gram(x, resid * resid)
    h_inv = np.linalg.pinv(h)
    return LogisticFit(beta, h, h_inv @ meat @ h_inv)


def _gram(x, weights: np.ndarray) -> np.ndarray:
    from scipy import sparse

    return np.asarray((x.T @ sparse.diags(weights) @ x).todense())
