"""Gene-by-environment scans (``assoc --gxe NAME``; GEMMA ``-gxe``).

Per variant: y = W alpha + x beta + (x e) delta + g + eps, with the
environment e a column of W (its main effect), testing delta by Wald.  The
exact scanner re-estimates lam = sigma_g^2 / sigma_e^2 per variant by REML
under this model, as GEMMA ``-gxe -lmm 1`` does (GEMMA puts e and x among
the covariates and tests x e; it fits its null lam without e, which only its
score test uses); the fast scanner fixes lam at the null estimate.  Both
report the main effect (beta, standard_error) and the interaction
(beta_gxe, se_gxe, p_gxe, which is also p_value), df = n - c - 2.

Kernels in :mod:`gwaslmm.scan.gxe_kernels`; :func:`gxe_reference` is the
plain-numpy reference (scipy's bounded optimizer on the same likelihood).
"""

from __future__ import annotations

import numpy as np

from ..lambda_opt import L_MAX, L_MIN, N_REGION
from .base import BlockResult, Prepared, column_sumsq
from .designs import GxE
from .pvalues import neglog10_f1

GRID_PER_REGION = 8  # grid points per GEMMA lam region (10 regions over [1e-5, 1e5])
BRENT_TOL = 1e-10
BRENT_ITER = 200

COLUMNS = {"exact": ("lambda_remle", "logl_h1", "beta_gxe", "se_gxe", "p_gxe"),
           "fast": ("beta_gxe", "se_gxe", "p_gxe")}


def gxe_grid() -> np.ndarray:
    """u = ln lam at the grid points (increasing)."""
    k = N_REGION * GRID_PER_REGION
    return np.log(L_MIN) + np.arange(k + 1) * (np.log(L_MAX / L_MIN) / k)


GXE_R2_MAX = 1.0 - 1e-10  # GEMMA -gxe tests every variant; skip only numerical collinearity


def _degenerate(raw_sq: np.ndarray, resid_sq: np.ndarray) -> np.ndarray:
    """r^2 = 1 - resid/raw above GXE_R2_MAX (or undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return ~(1.0 - resid_sq / raw_sq <= GXE_R2_MAX)


def keep_variants(raw_x, raw_z, sx, sz, xz) -> np.ndarray:
    """Variants whose x is not (numerically) a combination of the covariates
    and whose x e is not one of the covariates and x.  GEMMA -gxe applies no
    r^2 rule (the additive scan's 0.9999 would drop rare variants whose x e
    is close to 2 e), so only exact collinearity, which leaves the model
    singular, is skipped.  raw_x, raw_z: x'x, z'z; sx, sz, xz: the same
    after projecting out the covariates (m,)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        resid = sz - np.where(sx > 0, xz * xz / sx, 0.0)
    return ~_degenerate(raw_x, sx) & ~_degenerate(raw_z, resid)


def _keep(X, Z, Xt, Zt) -> np.ndarray:
    return keep_variants(column_sumsq(X), column_sumsq(Z), column_sumsq(Xt), column_sumsq(Zt),
                         np.einsum("ij,ij->j", Xt, Zt))


def _logdet0(Xt, Zt) -> np.ndarray:
    sx, sz = column_sumsq(Xt), column_sumsq(Zt)
    xz = np.einsum("ij,ij->j", Xt, Zt)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.log(sx * sz - xz * xz)


def gxe_exact_block(model, Xt: np.ndarray, Zt: np.ndarray) -> np.ndarray:
    """Exact GxE Wald for rotated blocks Xt, Zt (n', m): (m, 9) array of
    beta_x, se_x, beta_z, se_z, F_z, Q, lam, l_R, where (numba kernel)."""
    from .gxe_kernels import gxe_remle_scan

    u = gxe_grid()
    lam = np.exp(u)
    d, yt = model.d, model.yt
    w = 1.0 / (lam[:, None] * d[None, :] + 1.0)  # (nk, n')
    wy = w * yt[None, :]
    gs = np.stack([w @ (Xt * Xt), w @ (Xt * Zt), w @ (Zt * Zt), wy @ Xt, wy @ Zt])
    out = np.empty((Xt.shape[1], 9))
    gxe_remle_scan(d, yt, np.ascontiguousarray(Xt), np.ascontiguousarray(Zt), u,
                   np.ascontiguousarray(gs), w @ (yt * yt), np.log(w).sum(1),
                   _logdet0(Xt, Zt), float(model.n - model.c - 2), BRENT_TOL, BRENT_ITER, out)
    return out


def gxe_loglik_reference(model, x: np.ndarray, z: np.ndarray, lam: float) -> float:
    """Plain-numpy REML log-likelihood of the GxE model at lam (x, z rotated)."""
    w = 1.0 / (lam * model.d + 1.0)
    X = np.column_stack([x, z])
    A = X.T @ (w[:, None] * X)
    b = X.T @ (w * model.yt)
    Q = np.dot(w, model.yt ** 2) - b @ np.linalg.solve(A, b)
    df = model.n - model.c - 2
    return float(0.5 * df * (np.log(df) - np.log(2 * np.pi) - 1) - 0.5 * df * np.log(Q)
                 + 0.5 * np.log(w).sum() - 0.5 * np.linalg.slogdet(A)[1]
                 + 0.5 * np.linalg.slogdet(X.T @ X)[1])


def gxe_stats_reference(model, x, z, lam: float) -> tuple:
    """(beta_x, se_x, beta_z, se_z, F_z) at lam, plain numpy."""
    w = 1.0 / (lam * model.d + 1.0)
    X = np.column_stack([x, z])
    A = X.T @ (w[:, None] * X)
    b = X.T @ (w * model.yt)
    Ai = np.linalg.inv(A)
    coef = Ai @ b
    df = model.n - model.c - 2
    s2 = (np.dot(w, model.yt ** 2) - b @ coef) / df
    se = np.sqrt(np.diag(Ai) * s2)
    return coef[0], se[0], coef[1], se[1], coef[1] ** 2 / se[1] ** 2


def gxe_reference(model, Xt: np.ndarray, Zt: np.ndarray) -> np.ndarray:
    """Plain-numpy :func:`gxe_exact_block`: a dense grid in ln lam, then
    scipy's bounded Brent around the best point; (m, 7): beta_x, se_x,
    beta_z, se_z, F_z, lam, l_R."""
    from scipy.optimize import minimize_scalar

    u = gxe_grid()
    out = np.empty((Xt.shape[1], 7))
    for s in range(Xt.shape[1]):
        x, z = Xt[:, s], Zt[:, s]
        ll = np.array([gxe_loglik_reference(model, x, z, np.exp(t)) for t in u])
        k = int(np.argmax(ll))
        r = minimize_scalar(lambda t: -gxe_loglik_reference(model, x, z, np.exp(t)),
                            bounds=(u[max(k - 1, 0)], u[min(k + 1, u.size - 1)]),
                            method="bounded", options={"xatol": 1e-10})
        ub, lb = (r.x, -r.fun) if -r.fun > ll[k] else (u[k], ll[k])
        out[s, :5] = gxe_stats_reference(model, x, z, np.exp(ub))
        out[s, 5:] = np.exp(ub), lb
    return out


def stats_from_sums(sums: np.ndarray, q, df: int) -> np.ndarray:
    """The Wald statistics of :func:`gwaslmm.scan.gxe_kernels.gxe_stats`,
    vectorized: sums (m, 5) = A's xx, xz, zz and b's x, z; q (scalar or
    (m,)).  Returns (m, 6): beta_x, se_x, beta_z, se_z, F_z, Q."""
    axx, axz, azz, bx, bz = sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        det = axx * azz - axz * axz
        cx = (azz * bx - axz * bz) / det
        cz = (axx * bz - axz * bx) / det
        Q = q - bx * cx - bz * cz
        s2 = Q / df
        vz = axx / det * s2
        return np.column_stack([cx, np.sqrt(azz / det * s2), cz, np.sqrt(vz), cz * cz / vz, Q])


def _result(keep, st: np.ndarray, df: int, exact: bool) -> BlockResult:
    nl = neglog10_f1(st[:, 4], df)
    return BlockResult(
        keep=keep, beta=st[:, 0], se=st[:, 1], t_stat=st[:, 0] / st[:, 1], neglog10_p=nl,
        neglog10_p_wald=nl, beta_gxe=st[:, 2], se_gxe=st[:, 3], neglog10_p_gxe=nl,
        lambda_remle=st[:, 6] if exact else None, logl_h1=st[:, 7] if exact else None,
        n_boundary=int(np.sum(st[:, 8] > 0)) if exact else 0)


class GxeExactScanner:
    """Exact GxE Wald on rotated x and x e (:class:`~gwaslmm.scan.base.Scanner`):
    the rotation of :class:`gwaslmm.scan.exact.ExactScanner`, two blocks per block."""

    def __init__(self, spectrum, basis, fit, test: str, design: GxE, precision="float64"):
        from .exact import Rotator, make_model

        if test != "wald":
            raise ValueError("the GxE scan offers the Wald test")
        self._rot = Rotator(basis, precision)
        self.model = make_model(spectrum, fit)
        self.design, self.test_name = design, test
        self.label, self.columns = "exact gxe wald", COLUMNS["exact"]
        self.stages = {}
        self.reserved_bytes = self._rot.nbytes

    def prepare(self, X: np.ndarray) -> Prepared:
        X, Z = self.design.columns(X)
        Xt = np.array(self._rot.rotate(X))  # a copy: rotate() reuses its buffer
        Zt = self._rot.rotate(Z)
        keep = _keep(X, Z, Xt, Zt)
        return Prepared(Xt=np.stack([Xt[:, keep], Zt[:, keep]]), keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        st = gxe_exact_block(self.model, prep.Xt[0], prep.Xt[1])
        return _result(prep.keep, st, self.model.n - self.model.c - 2, True)


class GxeFastScanner:
    """GxE Wald with lam fixed at the null estimate, on whitened x and x e
    (the Cholesky whitening of :class:`gwaslmm.scan.fixed.WhitenedScanner`)."""

    def __init__(self, spectrum, basis, fit, test: str, design: GxE, precision="float64",
                 kinship=None):
        from .exact import make_model
        from .fixed import make_whitener

        if test != "wald":
            raise ValueError("the GxE scan offers the Wald test")
        self.model = make_model(spectrum, fit)
        self.design, self.test_name = design, test
        self.label, self.columns = "fast gxe wald", COLUMNS["fast"]
        self.Wq = spectrum.Wq
        self.whitener = make_whitener(spectrum, basis, self.model, kinship,
                                      overwrite_k=kinship is not None)
        self.stages = {"cholesky": self.whitener.seconds}
        n = spectrum.n
        self.L32 = (np.asfortranarray(self.whitener.L, dtype=np.float32)
                    if np.dtype(precision) == np.float32 else None)
        self.reserved_bytes = 8 * n * n + (4 * n * n if self.L32 is not None else 0)

    def prepare(self, X: np.ndarray) -> Prepared:
        X, Z = self.design.columns(X)
        # B'x for the collinearity rule: |B'x|^2 = |x|^2 - |Wq'x|^2, B'x.B'z likewise
        wx, wz = self.Wq.T @ X, self.Wq.T @ Z
        rx, rz = column_sumsq(X), column_sumsq(Z)
        keep = keep_variants(rx, rz, rx - column_sumsq(wx), rz - column_sumsq(wz),
                             np.einsum("ij,ij->j", X, Z) - np.einsum("ij,ij->j", wx, wz))
        wh = self.whitener
        R = [wh.whiten(np.asfortranarray(M[:, keep]), self.L32) for M in (X, Z)]
        R = [M - wh.Q @ (wh.Q.T @ M) for M in R]  # (I - QQ') L^-1 x
        return Prepared(Xt=np.stack(R), keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        from .gxe_kernels import gxe_cross_sums

        Rx, Rz = prep.Xt
        sums = np.empty((Rx.shape[1], 5))
        gxe_cross_sums(np.ascontiguousarray(Rx), np.ascontiguousarray(Rz), self.whitener.yw,
                       sums)
        df = self.model.n - self.model.c - 2
        st = np.full((Rx.shape[1], 9), np.nan)
        st[:, :6] = stats_from_sums(sums, self.whitener.q, df)
        return _result(prep.keep, st, df, False)
