"""Exact per-SNP tests (GEMMA ``-lmm 1/2/3/4``; Zhou & Stephens 2012).

For every SNP lam is re-estimated under the alternative, by REML for the
Wald test and by ML for the likelihood-ratio test; the score test uses the
null ML lam.

* Wald: beta = b/a, tau = (n-c-1)/Q1, se = sqrt(1/(tau a)), F = beta^2/se^2
  against F(1, n-c-1), at the SNP's REML lam.
* LRT: 2 (ML_1 - ML_0) against chi-square(1).
* Score: n b^2 / (q a) at the null ML lam against F(1, n-c-1) (GEMMA's form).

a, b, q are the weighted sums of :mod:`gwaslmm.scan.kernels` on the rotated
SNP x~ = B'x.  A SNP whose uncentred r^2 with the covariates exceeds 0.9999
is skipped, as in GEMMA.  :class:`ExactScanner` is the scanner;
:func:`exact_reference` the plain-numpy reference of its kernel.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..eigen import Spectrum
from ..lambda_opt import L_MAX, L_MIN, MAX_ITER, N_REGION, NEWTON_RTOL, lambda_grid, maximize_lambda
from ..likelihood import LN2PI, logdet_s
from ..nullmodel.eigen_reml import NullFit
from .base import BlockResult, Prepared, collinear, column_sumsq
from .designs import ADDITIVE
from .pvalues import neglog10_chi2_1, neglog10_f1


@dataclass(frozen=True)
class ScanModel:
    """What the per-SNP tests need from the null model (contrast basis).

    d (n',), yt (n',) float64; G (n', k), C (k, k): the non-zero covariate
    columns of the kinship's cross blocks (for det V in ML); n, c sample and
    covariate counts; lam_reml / lam_ml / logl_ml the null estimates.
    """

    d: np.ndarray
    yt: np.ndarray
    G: np.ndarray
    C: np.ndarray
    n: int
    c: int
    lam_reml: float
    lam_ml: float
    logl_ml: float

    @property
    def df(self) -> int:
        return self.n - self.c - 1


def scanner_setup(scanner, spectrum: Spectrum, fit: NullFit, engine: str, test: str, design,
                  columns: dict) -> ScanModel:
    """What every one-kinship scanner sets: its test, design, label and
    columns; returns the scan's view of the null model."""
    if design.terms != ("x",):
        raise ValueError(f"the {engine} scanner tests one column per variant")
    scanner.test_name, scanner.design = test, design
    scanner.label, scanner.columns = f"{engine} {test}", columns[test]
    return make_model(spectrum, fit)


def make_model(eig: Spectrum, null: NullFit) -> ScanModel:
    """The scan's view of a fitted one-kinship null model."""
    # Columns of G/C that are zero (the intercept: Kc 1 = 0) do not affect det S.
    scale = max(1.0, float(np.abs(eig.C).max()))
    keep = np.flatnonzero((np.abs(eig.C).max(axis=0) > 1e-12 * scale)
                          | (np.abs(eig.G).max(axis=0) > 1e-12 * scale))
    return ScanModel(d=eig.d, yt=null.yt, G=np.ascontiguousarray(eig.G[:, keep]),
                     C=np.ascontiguousarray(eig.C[np.ix_(keep, keep)]), n=eig.n, c=eig.c,
                     lam_reml=null.lam, lam_ml=null.lam_ml, logl_ml=null.logl_ml)


LD_TABLE_STEP = 0.005  # in ln lam


def ld_table(model: ScanModel):
    """Table of d/dlam ln det S, its u-derivative (u = ln lam) and d2/dlam2
    ln det S at u = ln(L_MIN) - 0.1 + i h, h = LD_TABLE_STEP, up to ln(L_MAX) + 0.1.

    Returns (lt (3, nu), lp = [u0, h]); an empty table when there is no
    covariate block (k = 0).  An exact scanner computes it once.
    """
    k = model.C.shape[0]
    h = LD_TABLE_STEP
    u0 = np.log(L_MIN) - 0.1
    if k == 0:
        lt, lp = np.zeros((3, 1)), np.array([u0, h])
    else:
        u = u0 + h * np.arange(int(np.ceil((np.log(L_MAX) + 0.1 - u0) / h)) + 1)
        lam = np.exp(u)
        d, G, C = model.d, model.G, model.C
        P = (G[:, :, None] * G[:, None, :]).reshape(d.size, k * k)
        g0 = np.empty((lam.size, k, k))
        g1 = np.empty_like(g0)
        g2 = np.empty_like(g0)
        step = max(1, int(2e7 // max(d.size, 1)))
        for a in range(0, lam.size, step):
            L = lam[a:a + step, None]
            w = 1.0 / (L * d[None, :] + 1.0)
            g0[a:a + step] = (w @ P).reshape(-1, k, k)
            g1[a:a + step] = ((d * w * w) @ P).reshape(-1, k, k)
            g2[a:a + step] = ((d * d * w ** 3) @ P).reshape(-1, k, k)
        L = lam[:, None, None]
        eye = np.eye(k)[None]
        S = L * C[None] + eye - L * L * g0
        S1 = C[None] - 2 * L * g0 + L * L * g1
        S2 = -(2 * g0 - 4 * L * g1 + 2 * L * L * g2)
        Si = np.linalg.inv(S)
        A = Si @ S1
        ld1 = np.trace(A, axis1=1, axis2=2)
        ld2 = np.trace(Si @ S2, axis1=1, axis2=2) - np.einsum("uij,uji->u", A, A)
        lt = np.ascontiguousarray(np.vstack([ld1, lam * ld2, ld2]))
        lp = np.array([u0, h])
    return lt, lp


def grid_weights(model: ScanModel, with_ml: bool):
    """The SNP-free part of the lam-grid sums: W2 (2 nk, n') float64 C-order,
    the weights w = 1/(lam d + 1) and d w^2 at the nk grid points, and a
    tuple (gq, gq1, gtr1, gsl, gld, gld1), each (nk,): sum w y^2,
    sum d w^2 y^2, sum d w, sum ln w, ln det S and its derivative (zeros
    unless with_ml).  The kernel forms each SNP's own sums with W2
    (:func:`gwaslmm.scan.kernels.snp_grid_sums`)."""
    grid = lambda_grid()
    d, yt = model.d, model.yt
    nk = grid.size
    w = 1.0 / (grid[:, None] * d[None, :] + 1.0)
    t1 = d[None, :] * w * w
    W2 = np.ascontiguousarray(np.vstack([w, t1]))
    yy = yt * yt
    gld = np.zeros(nk)
    gld1 = np.zeros(nk)
    if with_ml:
        for k, lam in enumerate(grid):
            gld[k], gld1[k] = logdet_s(lam, model.d, model.G, model.C)[:2]
    return W2, (w @ yy, t1 @ yy, (d[None, :] * w).sum(1), np.log(w).sum(1), gld, gld1)


def grid_sums(model: ScanModel, Xt: np.ndarray) -> np.ndarray:
    """Plain-numpy reference of the kernel's per-SNP grid sums for a block
    Xt (n', m): (m, 2, 2 nk) with [s, 0] = W2 x^2 and [s, 1] = W2 (x y)
    (:func:`grid_weights`' W2), by matrix products."""
    W2, _ = grid_weights(model, False)
    return np.stack([(W2 @ (Xt * Xt)).T, (W2 @ (Xt * model.yt[:, None])).T], axis=1)


def exact_block(model: ScanModel, Xt: np.ndarray, test: str, ld=None, weights=None) -> dict:
    """Exact tests (numba kernel) for a rotated block Xt (n', m) float64;
    ``ld`` the model's :func:`ld_table` (needed for the ML tests);
    ``weights`` its :func:`grid_weights` (computed here when None)."""
    from .kernels import exact_scan

    Xt = np.asarray(Xt, dtype=np.float64)
    m = Xt.shape[1]
    out = np.empty((m, 10))
    do_reml = test in ("wald", "all")
    do_ml = test in ("lrt", "all")
    lam_score = model.lam_ml if test in ("score", "all") else -1.0
    if do_reml or do_ml:
        W2, gc = weights if weights is not None else grid_weights(model, do_ml)
    else:  # score only: no lam optimization, no grid
        z1 = np.zeros(1)
        W2, gc = np.zeros((0, model.d.size)), (z1, z1, z1, z1, z1, z1)
    if do_ml:
        lt, lp = ld if ld is not None else ld_table(model)
    else:
        lt, lp = np.zeros((3, 1)), np.zeros(2)
    exact_scan(model.d, model.yt, Xt, model.G, model.C, model.n, model.c, lambda_grid(), W2, gc,
               do_reml, do_ml, lam_score, out, NEWTON_RTOL, MAX_ITER, model.lam_reml,
               model.lam_ml, lt, lp)
    res = dict(beta=out[:, 0], se=out[:, 1], F_wald=out[:, 2], lam_remle=out[:, 3],
               logl_remle=out[:, 4], lam_mle=out[:, 5], logl_mle=out[:, 6], F_score=out[:, 7],
               where_remle=out[:, 8], where_mle=out[:, 9])
    if test == "score":
        # beta and se at the score test's lam (GEMMA -lmm 3 reports these).
        from .fixed import fast_block

        fb = fast_block(replace(model, lam_reml=model.lam_ml), Xt)
        res["beta"], res["se"] = fb["beta"], fb["se"]
    return res


def _ref_sums(model: ScanModel, lam: float, x: np.ndarray):
    d, yt = model.d, model.yt
    w = 1.0 / (lam * d + 1.0)
    t1 = d * w * w
    t2 = d * d * w ** 3
    return (np.dot(w, x * x), np.dot(w, x * yt), np.dot(w, yt * yt), np.dot(t1, x * x),
            np.dot(t1, x * yt), np.dot(t1, yt * yt), np.dot(t2, x * x), np.dot(t2, x * yt),
            np.dot(t2, yt * yt), (d * w).sum(), ((d * w) ** 2).sum(), np.log(w).sum())


def alt_loglik(model: ScanModel, x: np.ndarray, lam: float, mode: str):
    """Log-likelihood of the model with one SNP, and its first two lam-derivatives.

    x : ndarray (n',), float64, the rotated SNP B'x.  mode 'reml' or 'ml'
    (formulas in :mod:`gwaslmm.scan_kernels`; GEMMA's constants).
    Plain numpy: the reference for the numba kernel.
    """
    n, df = model.n, model.df
    a, b, q, a1, b1, q1, a2, b2, q2, tr1, tr2, sl = _ref_sums(model, lam, x)
    Q = q - b * b / a
    dQ = -q1 + 2 * b * b1 / a - b * b * a1 / a ** 2
    f2 = (2 * b1 ** 2 / a + 4 * b * b2 / a - 4 * b * b1 * a1 / a ** 2
          - 2 * b * b * a2 / a ** 2 + 2 * b * b * a1 ** 2 / a ** 3)
    r1 = dQ / Q
    r2 = (2 * q2 - f2) / Q - r1 ** 2
    if mode == "reml":
        ll = (0.5 * df * (np.log(df) - LN2PI - 1) - 0.5 * df * np.log(Q) + 0.5 * sl
              - 0.5 * np.log(a) + 0.5 * np.log(np.dot(x, x)))
        return (ll, -0.5 * df * r1 - 0.5 * tr1 + 0.5 * a1 / a,
                -0.5 * df * r2 + 0.5 * tr2 - 0.5 * (2 * a2 / a - (a1 / a) ** 2))
    ld, ld1, ld2 = logdet_s(lam, model.d, model.G, model.C)
    ll = 0.5 * n * (np.log(n) - LN2PI - 1) - 0.5 * n * np.log(Q) - 0.5 * (-sl + ld)
    return ll, -0.5 * n * r1 - 0.5 * (tr1 + ld1), -0.5 * n * r2 - 0.5 * (-tr2 + ld2)


def exact_reference(model: ScanModel, Xt: np.ndarray, test: str) -> dict:
    """Plain-numpy reference of :func:`exact_block` (a Python loop over SNPs)."""
    n, df = model.n, model.df
    m = Xt.shape[1]
    keys = ("beta", "se", "F_wald", "lam_remle", "logl_remle", "lam_mle", "logl_mle", "F_score")
    res = {k: np.full(m, np.nan) for k in keys}
    for s in range(m):
        x = Xt[:, s]
        if test in ("wald", "all"):
            fit = maximize_lambda(lambda lam: alt_loglik(model, x, lam, "reml"), L_MIN, L_MAX,
                                  N_REGION)
            a, b, q = _ref_sums(model, fit.lam, x)[:3]
            tau = df / (q - b * b / a)
            res["beta"][s] = b / a
            res["se"][s] = np.sqrt(1 / (tau * a))
            res["F_wald"][s] = b * b / a * tau
            res["lam_remle"][s], res["logl_remle"][s] = fit.lam, fit.logl
        if test in ("lrt", "all"):
            fit = maximize_lambda(lambda lam: alt_loglik(model, x, lam, "ml"), L_MIN, L_MAX,
                                  N_REGION)
            res["lam_mle"][s], res["logl_mle"][s] = fit.lam, fit.logl
        if test in ("score", "all"):
            a, b, q = _ref_sums(model, model.lam_ml, x)[:3]
            res["F_score"][s] = n * b * b / (q * a)
    return res



# Optional output columns per test (names of gwaslmm.schema), and the main test.
COLUMNS = {
    "wald": ("lambda_remle", "logl_h1", "t_stat"),
    "lrt": ("lambda_mle", "logl_h1", "t_stat", "chi2_lrt"),
    "score": ("t_stat", "f_score"),
    "all": ("p_wald", "p_lrt", "p_score", "lambda_remle", "lambda_mle", "logl_h1", "t_stat",
            "chi2_lrt", "f_score"),
}
_MAIN = {"wald": "wald", "lrt": "lrt", "score": "score", "all": "wald"}


class Rotator:
    """B'X for the explicit eigenvector basis B (n x (n-c) float64; plus a
    float32 copy of B' with ``precision='float32'``), into a reused buffer."""

    def __init__(self, basis, precision: str = "float64"):
        self.B = basis.matrix()
        self.dtype = np.dtype(precision)
        self.BT32 = (np.ascontiguousarray(self.B.T, dtype=np.float32)
                     if self.dtype == np.float32 else None)
        self._buf = None  # (width, n-c) float64, reused across blocks

    @property
    def nbytes(self) -> int:
        n = self.B.shape[0]
        return 8 * n * n + (4 * n * n if self.BT32 is not None else 0)

    def rotate(self, X: np.ndarray) -> np.ndarray:
        """B'X (n-c, m) float64 for X (n, m) float64 (a view of the reused
        buffer: valid until the next call)."""
        if self.BT32 is not None:
            return (self.BT32 @ X.astype(np.float32, copy=False)).astype(np.float64)
        m = X.shape[1]
        if self._buf is None or self._buf.shape[0] < m:
            self._buf = np.empty((m, self.B.shape[1]))
        np.matmul(X.T, self.B, out=self._buf[:m])
        return self._buf[:m].T


class ExactScanner:
    """Exact tests on SNPs rotated by the eigenvectors, B'x (:class:`~gwaslmm.scan.base.Scanner`).

    Holds B (n x (n-c) float64; plus a float32 copy of B' with
    ``precision='float32'``), the null model's spectrum-side values and, for
    the ML tests, the ln det S table.
    """

    def __init__(self, spectrum: Spectrum, basis, fit: NullFit, test: str, design=ADDITIVE,
                 precision: str = "float64"):
        self.model = scanner_setup(self, spectrum, fit, "exact", test, design, COLUMNS)
        self.stages = {}
        self.rotator = Rotator(basis, precision)
        self.reserved_bytes = self.rotator.nbytes
        self.ld = ld_table(self.model) if test in ("lrt", "all") else None
        self.weights = (grid_weights(self.model, test in ("lrt", "all"))
                        if test in ("wald", "lrt", "all") else None)

    def rotate(self, X: np.ndarray) -> np.ndarray:
        """B'X (n-c, m) float64 for X (n, m) float64."""
        return self.rotator.rotate(X)

    def prepare(self, X: np.ndarray) -> Prepared:
        (X,) = self.design.columns(X)
        raw = column_sumsq(X)
        Xt = self.rotate(X)
        keep = ~collinear(raw, column_sumsq(Xt))
        return Prepared(Xt=Xt[:, keep] if not keep.all() else Xt, keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        model, test = self.model, self.test_name
        res = exact_block(model, prep.Xt, test, self.ld, self.weights)
        nl = {}
        if test in ("wald", "all"):
            nl["wald"] = neglog10_f1(res["F_wald"], model.df)
        chi2 = None
        if test in ("lrt", "all"):
            chi2 = 2.0 * (res["logl_mle"] - model.logl_ml)
            nl["lrt"] = neglog10_chi2_1(np.maximum(chi2, 0.0))
        if test in ("score", "all"):
            nl["score"] = neglog10_f1(res["F_score"], model.df)
        # GEMMA -lmm 1 reports the REML logL, -lmm 2/4 the ML one.
        ll = res["logl_mle"] if test in ("lrt", "all") else res["logl_remle"]
        where = res["where_remle"]
        with np.errstate(invalid="ignore", divide="ignore"):
            t = res["beta"] / res["se"]
        return BlockResult(
            keep=prep.keep, beta=res["beta"], se=res["se"], t_stat=t, neglog10_p=nl[_MAIN[test]],
            neglog10_p_wald=nl.get("wald"), neglog10_p_lrt=nl.get("lrt"),
            neglog10_p_score=nl.get("score"), chi2_lrt=chi2,
            f_score=res["F_score"] if "score" in nl else None,
            lambda_remle=res["lam_remle"], lambda_mle=res["lam_mle"], logl_h1=ll,
            n_boundary=int(np.sum(where == 1) + np.sum(where == 2)))
