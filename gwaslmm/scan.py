"""Per-SNP association tests on rotated genotype blocks.

Exact mode (GEMMA ``-lmm 1/2/3/4``; Zhou & Stephens 2012): for every SNP lam
is re-estimated under the alternative, by REML for the Wald test and by ML
for the likelihood-ratio test; the score test uses the null ML lam.

* Wald: beta = b/a, tau = (n-c-1)/Q1, se = sqrt(1/(tau a)), F = beta^2/se^2
  against F(1, n-c-1), at the SNP's REML lam.
* LRT: 2 (ML_1 - ML_0) against chi-square(1).
* Score: n b^2 / (q a) at the null ML lam against F(1, n-c-1) (GEMMA's form).

Fast mode (EMMAX, GCTA --mlma, FaST-LMM): lam fixed at the null REML
estimate; the Wald formulas above at that lam (sigma_e^2 re-estimated per SNP).

a, b, q are the weighted sums of :mod:`gwaslmm.scan_kernels`.  A SNP whose
uncentred r^2 with the covariates exceeds 0.9999 is skipped, as in GEMMA.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import special

from .eigen import ProjectedEigen
from .nullmodel import (L_MAX, L_MIN, MAX_ITER, N_REGION, NEWTON_RTOL, NullFit, lambda_grid,
                        logdet_s, maximize_lambda)

R2_MAX = 0.9999
TESTS = ("wald", "lrt", "score", "all")
LN10 = np.log(10.0)


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


def make_model(eig: ProjectedEigen, null: NullFit) -> ScanModel:
    # Columns of G/C that are zero (the intercept: Kc 1 = 0) do not affect det S.
    scale = max(1.0, float(np.abs(eig.C).max()))
    keep = np.flatnonzero((np.abs(eig.C).max(axis=0) > 1e-12 * scale)
                          | (np.abs(eig.G).max(axis=0) > 1e-12 * scale))
    return ScanModel(d=eig.d, yt=null.yt, G=np.ascontiguousarray(eig.G[:, keep]),
                     C=np.ascontiguousarray(eig.C[np.ix_(keep, keep)]), n=eig.n, c=eig.c,
                     lam_reml=null.lam, lam_ml=null.lam_ml, logl_ml=null.logl_ml)


# --------------------------------------------------------------------------
# p-values that stay exact in the far tail
# --------------------------------------------------------------------------

def neglog10_f1(F: np.ndarray, df: float) -> np.ndarray:
    """-log10 of the upper tail of F(1, df) at F, exact where p underflows.

    p = I_x(df/2, 1/2) with x = df/(df+F); below 1e-290 the log is taken from
    I_x(a,b) = x^a (1-x)^b / (a B(a,b)) 2F1(a+b, 1; a+1; x) (DLMF 8.17.8).
    """
    F = np.asarray(F, dtype=float)
    out = np.full(F.shape, np.nan)
    ok = np.isfinite(F) & (F >= 0)
    p = special.fdtrc(1, df, F[ok])  # upper tail of F(1, df)
    res = np.empty(p.shape)
    small = p < 1e-290
    with np.errstate(divide="ignore"):
        res[~small] = -np.log10(p[~small])
    if small.any():
        a, b = df / 2.0, 0.5
        Fs = F[ok][small]
        x = df / (df + Fs)
        lnp = (a * np.log(x) + b * np.log1p(-x) - np.log(a) - special.betaln(a, b)
               + np.log(special.hyp2f1(a + b, 1.0, a + 1.0, x)))
        res[small] = -lnp / LN10
    out[ok] = res
    return out


def neglog10_chi2_1(stat: np.ndarray) -> np.ndarray:
    """-log10 of the upper tail of chi-square(1): p = 2 Phi(-sqrt(stat))."""
    stat = np.asarray(stat, dtype=float)
    out = np.full(stat.shape, np.nan)
    ok = np.isfinite(stat) & (stat >= 0)
    out[ok] = -(special.log_ndtr(-np.sqrt(stat[ok])) + np.log(2.0)) / LN10
    return out


def p_from_neglog10(L: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):
        return np.power(10.0, -L)


# --------------------------------------------------------------------------
# Block tests
# --------------------------------------------------------------------------

def collinear(X_raw_sq: np.ndarray, sxx: np.ndarray) -> np.ndarray:
    """GEMMA's skip rule: uncentred r^2 of x on W = 1 - |B'x|^2/|x|^2 > 0.9999.

    X_raw_sq (m,) = x'x of the imputed (uncentred) SNP; sxx (m,) = |B'x|^2.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sxx / X_raw_sq
    return ~(r2 <= R2_MAX)


def fast_block(model: ScanModel, Xt: np.ndarray) -> dict:
    """Fixed-lam Wald (and score at the same lam) for a rotated block Xt (n', m)
    (numba kernel for the weighted sums)."""
    from .scan_kernels import fixed_lambda_sums

    w = 1.0 / (model.lam_reml * model.d + 1.0)
    Xt = np.asarray(Xt, dtype=np.float64)
    a = np.empty(Xt.shape[1])
    b = np.empty(Xt.shape[1])
    fixed_lambda_sums(w, model.yt, Xt, a, b)
    return _fixed_lambda_stats(model, w, a, b)


def fast_block_reference(model: ScanModel, Xt: np.ndarray) -> dict:
    """Plain-numpy :func:`fast_block`."""
    w = 1.0 / (model.lam_reml * model.d + 1.0)
    a = w @ (Xt * Xt)
    b = (w * model.yt) @ Xt
    return _fixed_lambda_stats(model, w, a, b)


WHITEN_CHUNK = 512  # columns of B per rank-k update when forming V


@dataclass(frozen=True)
class Whitener:
    """Cholesky whitening for the fixed-lam (fast) scan: half the flops of B'X.

    With lam fixed (EMMAX, Kang et al. 2010; GCTA-MLMA), every statistic needs
    only x'Px and x'Py where P = B diag(w) B' (w = 1/(lam d + 1)) is REML's
    projection V^-1 - V^-1 W (W'V^-1 W)^-1 W'V^-1 for any V with
    B'VB = diag(lam d + 1), factored V = L L'.  Then x'Px = |r|^2 with
    r = (I - Q Q') L^-1 x, Q an orthonormal basis of L^-1 W, and x'Py = r'yw
    with yw = L' P y (generalized least squares by whitening).  The triangular
    solve L^-1 X costs n^2 m flops against 2 n^2 m for the rotation B'X, at
    about the same BLAS rate (0.53 of the rotation's time at n = 4,000,
    benchmarks/micro.py section 4).

    L : ndarray (n, n), float64, F-order, lower triangular.
    Q : ndarray (n, c), float64, F-order.  yw : ndarray (n,), float64.
    q : y'Py, float64 (equals yw'yw).  seconds : time to build.
    """

    L: np.ndarray
    Q: np.ndarray
    yw: np.ndarray
    q: float
    seconds: float

    def whiten(self, X: np.ndarray, dtype=np.float64) -> np.ndarray:
        """L^-1 X for X (n, m) float64; overwrites X when it is F-ordered and
        dtype is float64.  Returns (n, m) float64.

        float32: the columns are centred first (1 is a covariate, so P is
        unchanged) so that the solve does not carry their mean, whose
        cancellation costs accuracy at large lam (test: -log10 p within 1e-5
        of float64 at lam = 1e4)."""
        from scipy.linalg.blas import dtrsm, strsm

        if X.shape[1] == 0:
            return np.zeros(X.shape)
        if np.dtype(dtype) == np.float32:
            cache = self.__dict__.setdefault("_l32", [])
            if not cache:
                cache.append(np.asfortranarray(self.L, dtype=np.float32))
            Xc = np.empty(X.shape, dtype=np.float32, order="F")
            np.subtract(X, X.mean(axis=0), out=Xc, casting="same_kind")
            out = strsm(1.0, cache[0], Xc, lower=1, overwrite_b=1)
            return np.asarray(out, dtype=np.float64, order="F")
        return dtrsm(1.0, self.L, np.asfortranarray(X, dtype=np.float64), lower=1,
                     overwrite_b=1)


def make_whitener(eig: ProjectedEigen, model: ScanModel, K: np.ndarray | None = None,
                  overwrite_k: bool = False) -> Whitener:
    """Build L, Q and yw (see :class:`Whitener`) at the model's null REML lam.

    Both ways give V = lam B diag(d) B' + I exactly (covariate directions
    get 1), positive definite since d >= 0:
    * from the kinship K (n, n) float64 when given: V = lam (P Kc P -
      Bz diag(dz) Bz') + I with P = I - Wq Wq' and Bz, dz the eigenvectors and
      raw eigenvalues that :func:`decompose` set to 0, by rank-2k updates
      (O(n^2 (c + n_zeroed)), no n x n temporary).  ``overwrite_k``: K is not
      needed afterwards and becomes V, then L (no n x n copy);
    * without K (--null, --eigen): from B by rank-k updates over chunks of its
      columns (n^2 (n - c) flops).
    """
    import time

    from scipy.linalg import qr
    from scipy.linalg.blas import dsyr2k, dsyrk, dtrsm
    from scipy.linalg.lapack import dpotrf

    from .eigen import double_centre
    from .errors import NumericalError

    t0 = time.perf_counter()
    lam = float(model.lam_reml)
    d = eig.d
    n = eig.n
    w = 1.0 / (lam * d + 1.0)
    Py = eig.unproject(w * model.yt)  # P y, (n,)
    if K is not None:
        V = double_centre(K, out=K if overwrite_k else None)
        V = V.T if V.flags.c_contiguous else np.asfortranarray(V)  # symmetric: F view
        Wq = np.asfortranarray(eig.Wq)
        KW = V @ Wq
        C = Wq.T @ KW
        # lower triangle: V <- P Kc P = Kc - Wq KW' - KW Wq' + Wq C Wq'
        V = dsyr2k(-1.0, Wq, np.asfortranarray(KW), beta=1.0, c=V, lower=1, overwrite_c=1)
        V = dsyr2k(1.0, np.asfortranarray(Wq @ (C / 2)), Wq, beta=1.0, c=V, lower=1,
                   overwrite_c=1)
        if eig.d_clipped.size:  # V <- V - Bz diag(dz) Bz'
            Bz = np.asfortranarray(eig.clipped_basis())
            V = dsyr2k(-0.5, np.asfortranarray(Bz * eig.d_clipped), Bz, beta=1.0, c=V,
                       lower=1, overwrite_c=1)
        V *= lam
    else:
        B = eig.basis()
        V = np.zeros((n, n), order="F")
        for a in range(0, d.size, WHITEN_CHUNK):
            F = B[:, a:a + WHITEN_CHUNK] * np.sqrt(lam * d[a:a + WHITEN_CHUNK])
            V = dsyrk(1.0, np.asfortranarray(F), beta=1.0, c=V, trans=0, lower=1,
                      overwrite_c=1)
    V[np.diag_indices(n)] += 1.0
    L, info = dpotrf(V, lower=1, clean=1, overwrite_a=1)
    del V
    if info != 0:
        raise NumericalError(f"Cholesky factor of lam K + I failed (LAPACK info {info}, "
                             f"lam = {lam:.6g})")
    Lw = dtrsm(1.0, L, np.asfortranarray(eig.Wq), lower=1)
    Q = np.asfortranarray(qr(Lw, mode="economic")[0])
    yw = L.T @ Py
    q = float(np.dot(w, model.yt * model.yt))
    return Whitener(L=L, Q=Q, yw=yw, q=q, seconds=time.perf_counter() - t0)


def whitened_sums_reference(wh: Whitener, Xw: np.ndarray):
    """Plain-numpy :func:`gwaslmm.scan_kernels.whitened_sums`: (a, b) each (m,)."""
    R = Xw - wh.Q @ (wh.Q.T @ Xw)
    return np.einsum("ij,ij->j", R, R), wh.yw @ R


def whitened_block(model: ScanModel, wh: Whitener, Xw: np.ndarray) -> dict:
    """Fixed-lam Wald and score for a whitened block Xw = L^-1 X (n, m): the
    same statistics as :func:`fast_block` on B'X (numba kernel)."""
    from .scan_kernels import whitened_sums

    Xw = np.asarray(Xw, dtype=np.float64)
    a = np.empty(Xw.shape[1])
    b = np.empty(Xw.shape[1])
    whitened_sums(wh.Q, wh.yw, Xw, a, b)
    w = 1.0 / (model.lam_reml * model.d + 1.0)
    return _fixed_lambda_stats(model, w, a, b)


def _fixed_lambda_stats(model: ScanModel, w, a, b) -> dict:
    q = float(np.dot(w, model.yt * model.yt))
    df = model.df
    with np.errstate(invalid="ignore", divide="ignore"):
        Q1 = q - b * b / a
        tau = df / Q1
        beta = b / a
        se = np.sqrt(1.0 / (tau * a))
        F = beta * beta / (se * se)
        score = model.n * b * b / (q * a)
    return dict(beta=beta, se=se, F_wald=F, F_score=score)


LD_TABLE_STEP = 0.005  # in ln lam


def ld_table(model: ScanModel):
    """Table of d/dlam ln det S, its u-derivative (u = ln lam) and d2/dlam2
    ln det S at u = ln(L_MIN) - 0.1 + i h, h = LD_TABLE_STEP, up to ln(L_MAX) + 0.1.

    Returns (lt (3, nu), lp = [u0, h]); an empty table when there is no
    covariate block (k = 0).  Computed once per model, cached on it.
    """
    cache = model.__dict__.setdefault("_ld_cache", {})
    if "lt" in cache:
        return cache["lt"], cache["lp"]
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
    cache["lt"], cache["lp"] = lt, lp
    return lt, lp


def grid_sums(model: ScanModel, Xt: np.ndarray, with_ml: bool):
    """Sums at the lam grid for a whole block, by matrix products.

    Returns (gA, gB, gA1, gB1) each (nk, m) — sum w x^2, sum w x y,
    sum d w^2 x^2, sum d w^2 x y — and (gq, gq1, gtr1, gsl, gld, gld1) each (nk,):
    sum w y^2, sum d w^2 y^2, sum d w, sum ln w, ln det S and its derivative
    (zeros unless with_ml).
    """
    grid = lambda_grid()
    d, yt = model.d, model.yt
    w = 1.0 / (grid[:, None] * d[None, :] + 1.0)
    t1 = d[None, :] * w * w
    X2 = Xt * Xt
    XY = Xt * yt[:, None]
    yy = yt * yt
    nk = grid.size
    gld = np.zeros(nk)
    gld1 = np.zeros(nk)
    if with_ml:
        for k, lam in enumerate(grid):
            gld[k], gld1[k] = logdet_s(lam, model.d, model.G, model.C)[:2]
    return (w @ X2, w @ XY, t1 @ X2, t1 @ XY, w @ yy, t1 @ yy, (d[None, :] * w).sum(1),
            np.log(w).sum(1), gld, gld1)


def exact_block(model: ScanModel, Xt: np.ndarray, test: str) -> dict:
    """Exact tests (numba kernel) for a rotated block Xt (n', m) float64."""
    from .scan_kernels import exact_scan

    Xt = np.asarray(Xt, dtype=np.float64)
    m = Xt.shape[1]
    out = np.empty((m, 10))
    do_reml = test in ("wald", "all")
    do_ml = test in ("lrt", "all")
    lam_score = model.lam_ml if test in ("score", "all") else -1.0
    if do_reml or do_ml:
        gs = grid_sums(model, Xt, do_ml)
    else:  # score only: no lam optimization, no grid
        z2, z1 = np.zeros((1, 1)), np.zeros(1)
        gs = (z2, z2, z2, z2, z1, z1, z1, z1, z1, z1)
    if do_ml:
        lt, lp = ld_table(model)
    else:
        lt, lp = np.zeros((3, 1)), np.zeros(2)
    exact_scan(model.d, model.yt, Xt, model.G, model.C, model.n, model.c, lambda_grid(), gs, gs,
               do_reml, do_ml, lam_score, out, NEWTON_RTOL, MAX_ITER, model.lam_reml,
               model.lam_ml, lt, lp)
    res = dict(beta=out[:, 0], se=out[:, 1], F_wald=out[:, 2], lam_remle=out[:, 3],
               logl_remle=out[:, 4], lam_mle=out[:, 5], logl_mle=out[:, 6], F_score=out[:, 7],
               where_remle=out[:, 8], where_mle=out[:, 9])
    if test == "score":
        # beta and se at the score test's lam (GEMMA -lmm 3 reports these).
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
    from .nullmodel import LN2PI

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


def pvalues(model: ScanModel, res: dict, test: str, fast: bool) -> dict:
    """Add -log10 p columns (neglog10_wald/lrt/score) to a block result."""
    df = model.df
    out = {}
    if test in ("wald", "all") or fast:
        out["nl_wald"] = neglog10_f1(res["F_wald"], df)
    if test in ("lrt", "all") and not fast:
        stat = 2.0 * (res["logl_mle"] - model.logl_ml)
        out["nl_lrt"] = neglog10_chi2_1(np.maximum(stat, 0.0))
        out["chi2_lrt"] = stat
    if test in ("score", "all"):
        out["nl_score"] = neglog10_f1(res["F_score"], df)
    return out
