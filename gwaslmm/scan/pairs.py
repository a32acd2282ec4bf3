"""Per-variant designs with two columns: gene-by-environment (``assoc --gxe
NAME``; GEMMA ``-gxe``) and within/between-family (``assoc --within-family``).

Per variant the model has two columns u, v beyond the covariates W:

* GxE: u = x (the main effect), v = x e (the interaction; e is a column of W),
  y = W alpha + x beta + (x e) delta + g + eps, testing delta;
* within/between: u = x - (family mean of x), v = the family mean, testing
  the within-family (direct) effect, with the between-family effect and the
  difference between the two reported too.

The exact scanner re-estimates lam = sigma_g^2 / sigma_e^2 per variant by
REML under this model, as GEMMA ``-gxe -lmm 1`` does (GEMMA puts e and x among
the covariates and tests x e; it fits its null lam without e, which only its
score test uses); the fast scanner fixes lam at the null estimate.  Wald
tests against F(1, n - c - 2); the design maps the two coefficients, their
SEs and covariance to output columns (:meth:`GxE.result`,
:meth:`WithinBetween.result` in :mod:`.designs`).

Kernels in :mod:`gwaslmm.scan.pair_kernels`; :func:`pair_reference` is the
plain-numpy reference (scipy's bounded optimizer on the same likelihood).
"""

from __future__ import annotations

import numpy as np

from ..lambda_opt import L_MAX, L_MIN, N_REGION
from .base import BlockResult, Prepared, column_sumsq

GRID_PER_REGION = 8  # grid points per GEMMA lam region (10 regions over [1e-5, 1e5])
BRENT_TOL = 1e-10
BRENT_ITER = 200

EXACT_COLUMNS = ("lambda_remle", "logl_h1")  # before the design's own columns


def lambda_grid_u() -> np.ndarray:
    """u = ln lam at the grid points (increasing)."""
    k = N_REGION * GRID_PER_REGION
    return np.log(L_MIN) + np.arange(k + 1) * (np.log(L_MAX / L_MIN) / k)


PAIR_R2_MAX = 1.0 - 1e-10  # GEMMA -gxe tests every variant: skip only numerical collinearity


def _degenerate(raw_sq: np.ndarray, resid_sq: np.ndarray) -> np.ndarray:
    """r^2 = 1 - resid/raw above PAIR_R2_MAX (or undefined)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return ~(1.0 - resid_sq / raw_sq <= PAIR_R2_MAX)


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


def pair_exact_block(model, Xt: np.ndarray, Zt: np.ndarray) -> np.ndarray:
    """Exact two-column Wald for rotated blocks Xt, Zt (n', m): (m, 10) array
    of beta_u, se_u, beta_v, se_v, F_v, Q, lam, l_R, where, cov(beta_u, beta_v)
    (numba kernel)."""
    from .pair_kernels import pair_remle_scan

    u = lambda_grid_u()
    lam = np.exp(u)
    d, yt = model.d, model.yt
    w = 1.0 / (lam[:, None] * d[None, :] + 1.0)  # (nk, n')
    wy = w * yt[None, :]
    gs = np.stack([w @ (Xt * Xt), w @ (Xt * Zt), w @ (Zt * Zt), wy @ Xt, wy @ Zt])
    out = np.empty((Xt.shape[1], 10))
    # column-major: the kernel runs down each variant's column
    pair_remle_scan(d, yt, np.asfortranarray(Xt), np.asfortranarray(Zt), u,
                   np.ascontiguousarray(gs), w @ (yt * yt), np.log(w).sum(1),
                   _logdet0(Xt, Zt), float(model.n - model.c - 2), BRENT_TOL, BRENT_ITER, out)
    return out


def pair_loglik_reference(model, x: np.ndarray, z: np.ndarray, lam: float) -> float:
    """Plain-numpy REML log-likelihood of the two-column model at lam (x, z rotated)."""
    w = 1.0 / (lam * model.d + 1.0)
    X = np.column_stack([x, z])
    A = X.T @ (w[:, None] * X)
    b = X.T @ (w * model.yt)
    Q = np.dot(w, model.yt ** 2) - b @ np.linalg.solve(A, b)
    df = model.n - model.c - 2
    return float(0.5 * df * (np.log(df) - np.log(2 * np.pi) - 1) - 0.5 * df * np.log(Q)
                 + 0.5 * np.log(w).sum() - 0.5 * np.linalg.slogdet(A)[1]
                 + 0.5 * np.linalg.slogdet(X.T @ X)[1])


def pair_stats_reference(model, x, z, lam: float) -> tuple:
    """(beta_u, se_u, beta_v, se_v, F_v, cov) at lam, plain numpy."""
    w = 1.0 / (lam * model.d + 1.0)
    X = np.column_stack([x, z])
    A = X.T @ (w[:, None] * X)
    b = X.T @ (w * model.yt)
    Ai = np.linalg.inv(A)
    coef = Ai @ b
    df = model.n - model.c - 2
    s2 = (np.dot(w, model.yt ** 2) - b @ coef) / df
    se = np.sqrt(np.diag(Ai) * s2)
    return coef[0], se[0], coef[1], se[1], coef[1] ** 2 / se[1] ** 2, Ai[0, 1] * s2


def pair_reference(model, Xt: np.ndarray, Zt: np.ndarray) -> np.ndarray:
    """Plain-numpy :func:`pair_exact_block`: a dense grid in ln lam, then
    scipy's bounded Brent around the best point; (m, 8): beta_u, se_u,
    beta_v, se_v, F_v, cov, lam, l_R."""
    from scipy.optimize import minimize_scalar

    u = lambda_grid_u()
    out = np.empty((Xt.shape[1], 8))
    for s in range(Xt.shape[1]):
        x, z = Xt[:, s], Zt[:, s]
        ll = np.array([pair_loglik_reference(model, x, z, np.exp(t)) for t in u])
        k = int(np.argmax(ll))
        r = minimize_scalar(lambda t: -pair_loglik_reference(model, x, z, np.exp(t)),
                            bounds=(u[max(k - 1, 0)], u[min(k + 1, u.size - 1)]),
                            method="bounded", options={"xatol": 1e-10})
        ub, lb = (r.x, -r.fun) if -r.fun > ll[k] else (u[k], ll[k])
        out[s, :6] = pair_stats_reference(model, x, z, np.exp(ub))
        out[s, 6:] = np.exp(ub), lb
    return out


def stats_from_sums(sums: np.ndarray, q, df: int) -> np.ndarray:
    """The Wald statistics of :func:`gwaslmm.scan.pair_kernels.pair_stats`,
    vectorized: sums (m, 5) = A's uu, uv, vv and b's u, v; q (scalar or
    (m,)).  Returns (m, 7): beta_u, se_u, beta_v, se_v, F_v, Q, cov."""
    axx, axz, azz, bx, bz = sums.T
    with np.errstate(invalid="ignore", divide="ignore"):
        det = axx * azz - axz * axz
        cx = (azz * bx - axz * bz) / det
        cz = (axx * bz - axz * bx) / det
        Q = q - bx * cx - bz * cz
        s2 = Q / df
        vz = axx / det * s2
        return np.column_stack([cx, np.sqrt(azz / det * s2), cz, np.sqrt(vz), cz * cz / vz, Q,
                                -axz / det * s2])


class PairExactScanner:
    """Exact two-column Wald on the rotated columns of a design
    (:class:`~gwaslmm.scan.base.Scanner`): the rotation of
    :class:`gwaslmm.scan.exact.ExactScanner`, two blocks per block."""

    copies_per_variant = 8  # x, z, [x z], its rotation (2), and the kernel's copies

    def __init__(self, spectrum, basis, fit, test: str, design, precision="float64"):
        from .exact import Rotator, make_model

        if test != "wald":
            raise ValueError("the two-column scans offer the Wald test")
        self._rot = Rotator(basis, precision)
        self.model = make_model(spectrum, fit)
        self.design, self.test_name = design, test
        self.label = f"exact {design.label} wald"
        self.columns = EXACT_COLUMNS + design.output_columns
        self.stages = {}
        self.reserved_bytes = self._rot.nbytes

    def prepare(self, X: np.ndarray) -> Prepared:
        X, Z = self.design.columns(X)
        m = X.shape[1]
        R = self._rot.rotate(np.hstack([X, Z]))  # one product for both (n', 2m)
        Xt, Zt = R[:, :m], R[:, m:]
        keep = _keep(X, Z, Xt, Zt)
        if not keep.all():
            Xt, Zt = Xt[:, keep], Zt[:, keep]
        # views of the rotator's buffer, used by test() before the next block
        return Prepared(Xt=(Xt, Zt), keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        st = pair_exact_block(self.model, prep.Xt[0], prep.Xt[1])
        return self.design.result(prep.keep, st, self.model.n - self.model.c - 2, exact=True)


class PairFastScanner:
    """Two-column Wald with lam fixed at the null estimate, on the whitened
    columns of a design (the Cholesky whitening of
    :class:`gwaslmm.scan.fixed.WhitenedScanner`)."""

    copies_per_variant = 8  # x, z, their covariate products, [x z] whitened, projections

    def __init__(self, spectrum, basis, fit, test: str, design, precision="float64",
                 kinship=None):
        from .exact import make_model
        from .fixed import Whitening

        if test != "wald":
            raise ValueError("the two-column scans offer the Wald test")
        self.model = make_model(spectrum, fit)
        self.design, self.test_name = design, test
        self.label, self.columns = f"fast {design.label} wald", design.output_columns
        self.whitening = Whitening(spectrum, basis, self.model, kinship, precision)
        self.Wq, self.whitener = self.whitening.Wq, self.whitening.whitener
        self.stages = {"cholesky": self.whitener.seconds}
        self.reserved_bytes = self.whitening.nbytes

    def prepare(self, X: np.ndarray) -> Prepared:
        X, Z = self.design.columns(X)
        # B'x for the collinearity rule: |B'x|^2 = |x|^2 - |Wq'x|^2, B'x.B'z likewise
        wx, wz = self.Wq.T @ X, self.Wq.T @ Z
        rx, rz = column_sumsq(X), column_sumsq(Z)
        keep = keep_variants(rx, rz, rx - column_sumsq(wx), rz - column_sumsq(wz),
                             np.einsum("ij,ij->j", X, Z) - np.einsum("ij,ij->j", wx, wz))
        wh = self.whitener
        k = int(keep.sum())
        R = self.whitening.whiten(np.asfortranarray(np.hstack([X[:, keep], Z[:, keep]])))
        R -= wh.Q @ (wh.Q.T @ R)  # (I - QQ') L^-1 [x, z], one solve for both
        return Prepared(Xt=(R[:, :k], R[:, k:]), keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        from .pair_kernels import pair_cross_sums

        Rx, Rz = prep.Xt
        sums = np.empty((Rx.shape[1], 5))
        pair_cross_sums(np.asfortranarray(Rx), np.asfortranarray(Rz), self.whitener.yw,
                       sums)
        df = self.model.n - self.model.c - 2
        st = np.full((Rx.shape[1], 10), np.nan)
        sv = stats_from_sums(sums, self.whitener.q, df)
        st[:, :6], st[:, 9] = sv[:, :6], sv[:, 6]
        return self.design.result(prep.keep, st, df, exact=False)
