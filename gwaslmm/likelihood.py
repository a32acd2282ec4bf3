"""Log-likelihoods of the one-kinship model in the contrast basis of
:mod:`gwaslmm.eigen` (pure numpy; the references for the numba kernels).

y~ = B'y (length n-c), d the eigenvalues of the projected kinship,
w_j = 1/(lam d_j + 1), Q = sum w y~^2.  GEMMA's constants (Zhou & Stephens
2012), so printed values compare directly with GEMMA's log:

    REML(lam) = df/2 (ln df - ln 2pi - 1) - df/2 ln Q + 1/2 sum_j ln w_j,   df = n - c
    ML(lam)   = n/2 (ln n - ln 2pi - 1) - n/2 ln Q - 1/2 ln det V(lam),    V = lam Kc + I

(the REML form equals GEMMA's -1/2 sum_i ln(lam s_i + 1) - 1/2 ln det(W'V^-1 W)
+ 1/2 ln det(W'W) by the error-contrast identity), with
ln det V = sum_j ln(lam d_j + 1) + ln det S(lam),  S = lam C + I - lam^2 G' diag(w) G.
"""

from __future__ import annotations

import numpy as np

from .eigen import Spectrum

LN2PI = np.log(2 * np.pi)


def _y_sums(lam: float, d: np.ndarray, yt: np.ndarray):
    """w = 1/(lam d + 1), d w, and y~'W y~ with W = diag(w), diag(d w^2),
    diag(d^2 w^3) (the residual sum of squares and its lam-derivatives' parts)."""
    w = 1.0 / (lam * d + 1.0)
    dw = d * w
    yy = yt * yt
    return w, dw, np.dot(w, yy), np.dot(dw * w, yy), np.dot(dw * dw * w, yy)


def reml_null(lam: float, d: np.ndarray, yt: np.ndarray):
    """REML log-likelihood of the null model and its first two derivatives in lam.

    d, yt : ndarray (n-c,), float64.  Returns (logl, dlogl, d2logl).
    """
    df = d.size
    w, dw, q0, q1, q2 = _y_sums(lam, d, yt)
    logl = 0.5 * df * (np.log(df) - LN2PI - 1) - 0.5 * df * np.log(q0) + 0.5 * np.log(w).sum()
    d1 = 0.5 * df * q1 / q0 - 0.5 * dw.sum()
    d2 = 0.5 * df * (-2 * q2 / q0 + (q1 / q0) ** 2) + 0.5 * (dw * dw).sum()
    return logl, d1, d2


def logdet_s(lam: float, d: np.ndarray, G: np.ndarray, C: np.ndarray):
    """ln det S and its first two derivatives in lam, S = lam C + I -
    lam^2 G' diag(w) G, w = 1/(lam d + 1): the covariate block's part of
    ln det V.  d (n-c,), G (n-c, k), C (k, k) float64 (see eigen.Spectrum)."""
    k = C.shape[0]
    if k == 0:
        return 0.0, 0.0, 0.0
    w = 1.0 / (lam * d + 1.0)
    g0 = G.T @ (w[:, None] * G)
    g1 = G.T @ ((d * w * w)[:, None] * G)
    g2 = G.T @ ((d * d * w ** 3)[:, None] * G)
    S = lam * C + np.eye(k) - lam * lam * g0
    S1 = C - 2 * lam * g0 + lam * lam * g1
    S2 = -(2 * g0 - 4 * lam * g1 + 2 * lam * lam * g2)
    Si = np.linalg.inv(S)
    A = Si @ S1
    return np.linalg.slogdet(S)[1], np.trace(A), np.trace(Si @ S2) - np.trace(A @ A)


def logdet_v(lam: float, eig: Spectrum):
    """ln det(lam Kc + I) and its first two derivatives in lam."""
    d = eig.d
    w = 1.0 / (lam * d + 1.0)
    ls, ls1, ls2 = logdet_s(lam, d, eig.G, eig.C)
    return (np.log1p(lam * d).sum() + ls, (d * w).sum() + ls1, -((d * w) ** 2).sum() + ls2)


def ml_null(lam: float, eig: Spectrum, yt: np.ndarray):
    """ML log-likelihood of the null model and its first two derivatives."""
    n = eig.n
    _, _, q0, q1, q2 = _y_sums(lam, eig.d, yt)
    ld, ld1, ld2 = logdet_v(lam, eig)
    logl = 0.5 * n * (np.log(n) - LN2PI - 1) - 0.5 * n * np.log(q0) - 0.5 * ld
    d1 = 0.5 * n * q1 / q0 - 0.5 * ld1
    d2 = 0.5 * n * (-2 * q2 / q0 + (q1 / q0) ** 2) - 0.5 * ld2
    return logl, d1, d2
