"""Prediction from a fitted null model: BLUP of genetic values, their
prediction error variance, and SNP effects (issue 18).

Model (training samples t): y = W alpha + g + e, g ~ N(0, sigma_g^2 K),
e ~ N(0, sigma_e^2 I), lam = sigma_g^2 / sigma_e^2, H = lam K_tt + I.  With
P = H^-1 - H^-1 W (W'H^-1 W)^-1 W'H^-1 (REML's projection, which accounts for
estimating alpha):

* BLUP of every sample's genetic value, training or not:
  g_hat = sigma_g^2 K_{., t} V^-1 (y - W alpha_hat) = lam K_{., t} P y;
* its prediction error variance, PEV_i = Var(g_i - g_hat_i) =
  sigma_g^2 (K_ii - lam k_i' P k_i), k_i = K_{t, i} (Henderson);
* reliability 1 - PEV_i / (sigma_g^2 K_ii) (r^2 of g_hat_i with g_i);
* with K = Z Z' / M (Z the standardized genotypes), g_hat = Z u with SNP
  effects u = lam Z_t' P y / M, on the allele scale w_j = u_j s_j
  (s_j the standardization's scale): g_hat_i = sum_j w_j (x_ij - 2 p_j).

Dense linear algebra through the Cholesky factor of H (n_t^3 / 3 flops,
then n_t^2 N for N predicted samples); :func:`blup_reference` evaluates the
formulas with explicit inverses (the brute force the tests compare with).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Blup:
    """g (N,) genetic values; pev (N,); reliability (N,); py (n_t,) = P y;
    alpha (c,) the GLS fixed effects (N predicted samples, n_t training)."""

    g: np.ndarray
    pev: np.ndarray
    reliability: np.ndarray
    py: np.ndarray
    alpha: np.ndarray


def blup(K: np.ndarray, train: np.ndarray, W: np.ndarray, y: np.ndarray, lam: float,
         sigma_g2: float) -> Blup:
    """BLUP for every sample of K (N, N) float64 from the training rows
    ``train`` (n_t,) int64, their covariates W (n_t, c) and phenotype y
    (n_t,), at the fitted lam and sigma_g^2."""
    from scipy.linalg import cholesky, qr, solve_triangular

    from .errors import NumericalError

    Ktt = K[np.ix_(train, train)]
    H = lam * Ktt + np.eye(train.size)
    try:
        L = cholesky(H, lower=True, overwrite_a=True)
    except np.linalg.LinAlgError as exc:
        raise NumericalError(f"lam K + I is not positive definite over the training samples "
                             f"(lam = {lam:.6g}): {exc}") from None
    Q, R = qr(solve_triangular(L, W, lower=True), mode="economic")
    ly = solve_triangular(L, y, lower=True)
    r = ly - Q @ (Q.T @ ly)  # L^-1 P y = (I - QQ') L^-1 y
    py = solve_triangular(L, r, lower=True, trans="T")
    alpha = solve_triangular(R, Q.T @ ly)
    Kt = np.ascontiguousarray(K[train, :])  # (n_t, N)
    g = lam * (Kt.T @ py)
    A = solve_triangular(L, Kt, lower=True)
    A -= Q @ (Q.T @ A)
    kpk = np.einsum("ij,ij->j", A, A)
    diag = np.diag(K).copy()
    pev = sigma_g2 * (diag - lam * kpk)
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = 1.0 - pev / (sigma_g2 * diag)
    return Blup(g=g, pev=pev, reliability=rel, py=py, alpha=alpha)


def blup_reference(K, train, W, y, lam, sigma_g2) -> Blup:
    """The formulas with explicit inverses (plain numpy; small data)."""
    Ktt = K[np.ix_(train, train)]
    Hi = np.linalg.inv(lam * Ktt + np.eye(train.size))
    alpha = np.linalg.solve(W.T @ Hi @ W, W.T @ Hi @ y)
    P = Hi - Hi @ W @ np.linalg.solve(W.T @ Hi @ W, W.T @ Hi)
    g = lam * K[:, train] @ (Hi @ (y - W @ alpha))
    pev = np.array([sigma_g2 * (K[i, i] - lam * K[train, i] @ P @ K[train, i])
                    for i in range(K.shape[0])])
    return Blup(g=g, pev=pev, reliability=1 - pev / (sigma_g2 * np.diag(K)), py=P @ y,
                alpha=alpha)


def snp_effects(Zt: np.ndarray, py: np.ndarray, lam: float, m: int) -> np.ndarray:
    """u = lam Z_t' P y / M for a block of standardized training genotypes
    Zt (n_t, k): (k,) float64."""
    return lam * (Zt.T @ py) / m


def cv_folds(groups: np.ndarray, k: int, seed: int = 1) -> np.ndarray:
    """Fold (0..k-1) per sample, whole groups (families) kept in one fold:
    groups in a random order (``seed``), each to the fold with the fewest
    samples so far (folds of near-equal size).  groups (n,) labels; with
    one label per sample this is a random split by sample."""
    labels, inv, size = np.unique(groups, return_inverse=True, return_counts=True)
    order = np.random.default_rng(seed).permutation(labels.size)
    fold_of_group = np.empty(labels.size, np.int64)
    filled = np.zeros(k)
    for g in order[np.argsort(-size[order], kind="stable")]:  # large families first
        f = int(np.argmin(filled))
        fold_of_group[g] = f
        filled[f] += size[g]
    return fold_of_group[inv.reshape(-1)]


def expected_accuracy(kii: np.ndarray, reliability: np.ndarray, sigma_g2: float,
                      sigma_e2: float) -> float:
    """The model's expected correlation of y - W alpha with g_hat over
    predicted samples i: under the model cov(y_i, g_hat_i) = var(g_hat_i) =
    sigma_g^2 K_ii R_i (R_i the reliability) and var(y_i) = sigma_g^2 K_ii +
    sigma_e^2, so pooled over the samples (relatives among them ignored)
    r = sqrt(sum a_i R_i / sum (a_i + sigma_e^2)), a_i = sigma_g^2 K_ii
    (for one sample, h_i sqrt(R_i))."""
    a = sigma_g2 * kii
    return float(np.sqrt(np.sum(a * reliability) / np.sum(a + sigma_e2)))


def accuracy(y: np.ndarray, pred: np.ndarray) -> tuple:
    """(correlation, R^2 = correlation^2, slope of y on pred) over finite pairs."""
    ok = np.isfinite(y) & np.isfinite(pred)
    y, p = y[ok], pred[ok]
    if y.size < 3 or np.var(p) == 0:
        return float("nan"), float("nan"), float("nan")
    r = float(np.corrcoef(y, p)[0, 1])
    slope = float(np.cov(y, p)[0, 1] / np.var(p, ddof=1))
    return r, r * r, slope
