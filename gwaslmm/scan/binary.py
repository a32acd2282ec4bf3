"""The binary-trait scan: the score test of each variant against the
logistic mixed model's null fit (:mod:`gwaslmm.nullmodel.logistic`), with
its exact variance and saddlepoint p-values (:mod:`.spa`), and Firth
regression for the variants below a p threshold (:mod:`.firth`).

For a variant x the score is T = x'(y - mu) = x'PY (P the REML projection
of the working model's covariance Sigma = diag(1/w) + tau K, PY = y - mu at
the null fit's fixed point) and its variance under the null var2 = x'Px,
computed exactly per variant by whitening with Sigma's Cholesky factor:
the same triangular solve and kernel as the fast linear scan
(:class:`~gwaslmm.scan.fixed.Whitener`), so no variance ratio (SAIGE's
approximation of x'Px from x'Wx) is needed.  z = T / sqrt(var2); where
|z| exceeds ``spa_cutoff`` (default 2) the p-value is the saddlepoint
approximation's, else the normal one's.  A variant whose carriers are all
cases (or all controls), where SAIGE's rescaled quantile passes what the
carriers can reach, gets the independent-Bernoulli tail of its unrescaled
score instead (:func:`.spa.spa_pvalues`, issue 15).

Output: beta = T / var2 (the score estimate of the log-odds ratio, one
Newton step from 0: conditional on the random effect, not marginal),
standard_error = |beta| / z_p with z_p the normal quantile of the reported
p (SAIGE's convention, so beta/se gives back that p; equal to
1/sqrt(var2) where the normal approximation is used), score_z = z,
p_method, allele frequencies in cases and controls (missing calls counted
at the variant's mean, as in the test), and with Firth its own beta, se and
Wald p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .base import BlockResult, Prepared, collinear, column_sumsq
from .designs import ADDITIVE
from .fixed import Whitener

LOG10 = math.log(10.0)


@dataclass(frozen=True)
class FirthSettings:
    """Firth regression for variants whose score p is below ``p_threshold``;
    ``offset`` (n,) the null model's random-effect prediction."""

    p_threshold: float
    offset: np.ndarray


def make_binary_whitener(L: np.ndarray, X: np.ndarray, Y: np.ndarray) -> Whitener:
    """The :class:`Whitener` of Sigma = L L' (L from the null fit), covariates
    X (n, c) and working phenotype Y (n,): Q an orthonormal basis of L^-1 X,
    yw = (I - QQ') L^-1 Y, so that whitened sums give x'Px and x'PY."""
    import time

    from scipy.linalg import qr
    from scipy.linalg.blas import dtrsm

    t0 = time.perf_counter()
    L = np.asfortranarray(L)
    Q = np.asfortranarray(qr(dtrsm(1.0, L, np.asfortranarray(X, dtype=np.float64), lower=1),
                             mode="economic")[0])
    ly = dtrsm(1.0, L, np.asfortranarray(Y, dtype=np.float64).reshape(-1, 1), lower=1)[:, 0]
    yw = ly - Q @ (Q.T @ ly)
    return Whitener(L=L, Q=Q, yw=yw, q=float(yw @ yw), seconds=time.perf_counter() - t0)


def normal_neglog10(z: np.ndarray) -> np.ndarray:
    """-log10 of the two-sided normal p of z, exact in the far tail."""
    from scipy.special import log_ndtr

    return -(math.log(2.0) + log_ndtr(-np.abs(z))) / LOG10


def se_from_p(beta: np.ndarray, neglog10_p: np.ndarray) -> np.ndarray:
    """|beta| / z_p with z_p the two-sided normal quantile of p (given as
    -log10 p): the SE that gives back p from beta (SAIGE's convention)."""
    from scipy.special import ndtri_exp

    with np.errstate(divide="ignore", invalid="ignore"):
        logp_half = -neglog10_p * LOG10 - math.log(2.0)
        zp = -ndtri_exp(np.minimum(logp_half, math.log(0.5)))
        return np.abs(beta) / zp


class BinaryScanner:
    """Score test + SPA (+ Firth) per variant (:class:`~gwaslmm.scan.base.Scanner`).

    fit : a :class:`~gwaslmm.nullmodel.logistic.GlmmFit`; X (n, c) the
    covariates; y (n,) 0/1.  Holds Sigma's Cholesky factor (n x n float64,
    plus a float32 copy with ``precision='float32'``).
    """

    copies_per_variant = 6  # the whitened block and the raw copy kept for SPA/Firth

    def __init__(self, fit, X: np.ndarray, y: np.ndarray, spa_cutoff: float = 2.0,
                 fast_spa: bool = True, firth: FirthSettings | None = None,
                 precision: str = "float64", whitener: Whitener | None = None):
        from scipy.linalg import qr

        self.label = "binary score" + (" + firth" if firth else "")
        self.design = ADDITIVE
        self.columns = BINARY_COLUMNS + (FIRTH_COLUMNS if firth else ())
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.y = y
        self.mu = np.ascontiguousarray(fit.mu)
        self.n, self.c = X.shape
        self.whitener = whitener if whitener is not None else make_binary_whitener(
            fit.L, X, fit.Y)
        self.L32 = (np.asfortranarray(self.whitener.L, dtype=np.float32)
                    if np.dtype(precision) == np.float32 else None)
        self.Wq = qr(self.X, mode="economic")[0]
        w = self.mu * (1 - self.mu)
        # covariate adjustment without the random effect (SAIGE's g-tilde):
        # g = x - X (X'WX)^-1 X'W x
        self.A = X @ np.linalg.inv(X.T @ (w[:, None] * X))
        self.XW = np.ascontiguousarray((w[:, None] * X).T)
        self.cases = y == 1
        self.n_cases = int(self.cases.sum())
        self.n_controls = self.n - self.n_cases
        self.spa_cutoff = spa_cutoff
        self.fast_spa = fast_spa
        self.firth = firth
        self._firth_null = None
        self.stages = {"cholesky": self.whitener.seconds}
        self.reserved_bytes = 8 * self.n * self.n + (4 * self.n * self.n if self.L32 is not None
                                                     else 0)

    def prepare(self, X: np.ndarray) -> Prepared:
        raw = column_sumsq(X)
        sxx = raw - column_sumsq(self.Wq.T @ X)
        keep = ~collinear(raw, sxx)
        Xk = X[:, keep] if not keep.all() else X
        Xraw = np.array(Xk, order="F", copy=True)  # the whitening below overwrites Xk
        Xw = self.whitener.whiten(Xk, self.L32)
        return Prepared(Xt=(Xw, Xraw), keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        from .kernels import whitened_sums

        Xw, Xraw = prep.Xt
        k = Xw.shape[1]
        var2 = np.empty(k)
        T = np.empty(k)
        whitened_sums(self.whitener.Q, self.whitener.yw, np.asarray(Xw, dtype=np.float64),
                      var2, T)
        with np.errstate(invalid="ignore", divide="ignore"):
            z = T / np.sqrt(var2)
            beta = T / var2
        nl = normal_neglog10(z)
        code = np.zeros(k, np.int64)
        far = np.flatnonzero(np.abs(z) > self.spa_cutoff)
        if far.size:
            nl_spa, code_spa = self.spa(Xraw[:, far], T[far], var2[far])
            # Barndorff-Nielsen's formula is singular at the mean: where it
            # gives no valid p (a score near 0 under a cutoff near 0), the
            # normal p stands, labelled so
            ok = nl_spa >= 0
            nl[far[ok]], code[far[ok]] = nl_spa[ok], code_spa[ok]
        se = se_from_p(beta, nl)
        normal = code == 0
        se[normal] = 1.0 / np.sqrt(var2[normal])
        extra = dict(score_z=z, p_method=code,
                     af_cases=Xraw[self.cases].mean(axis=0) / 2 if k else np.zeros(0),
                     af_controls=Xraw[~self.cases].mean(axis=0) / 2 if k else np.zeros(0),
                     n_cases=self.n_cases, n_controls=self.n_controls)
        if self.firth is not None:
            extra.update(self.firth_columns(Xraw, nl))
        return BlockResult(keep=prep.keep, beta=beta, se=se, t_stat=None, neglog10_p=nl,
                           extra=extra)

    def spa(self, Xraw: np.ndarray, T: np.ndarray, var2: np.ndarray) -> tuple:
        """(-log10 p, code) by the saddlepoint approximation for the columns
        of Xraw (n, k) with scores T and variances var2 (k,)."""
        from .spa import spa_pvalues

        G = np.asfortranarray(Xraw - self.A @ (self.XW @ Xraw))
        return spa_pvalues(G, self.mu, T, var2, self.fast_spa, np.asfortranarray(Xraw))

    def firth_columns(self, Xraw: np.ndarray, nl: np.ndarray) -> dict:
        """beta_firth, se_firth, p_firth (as -log10, Wald) for the variants
        whose p is below the threshold; NaN elsewhere (and where the fit does
        not converge)."""
        from .firth import firth_fit, firth_test

        k = nl.size
        bf, sf, pf = np.full(k, np.nan), np.full(k, np.nan), np.full(k, np.nan)
        todo = np.flatnonzero(nl >= -math.log10(self.firth.p_threshold))
        if todo.size and self._firth_null is None:
            self._firth_null = firth_fit(self.X, self.y, self.firth.offset).beta
        for j in todo:
            b, s, ok = firth_test(self.X, Xraw[:, j], self.y, self.firth.offset,
                                  self._firth_null)
            if ok:
                bf[j], sf[j] = b, s
        pf = normal_neglog10(bf / sf)
        return dict(beta_firth=bf, se_firth=sf, neglog10_p_firth=pf)


BINARY_COLUMNS = ("score_z", "p_method", "af_cases", "af_controls", "n_cases", "n_controls")
FIRTH_COLUMNS = ("beta_firth", "se_firth", "p_firth")
