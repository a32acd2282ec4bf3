"""Null model: REML and ML estimates of lam = sigma_g^2 / sigma_e^2, h2, fixed effects.

Works in the contrast basis of :mod:`gwaslmm.eigen`: y~ = B'y (length n-c),
d the eigenvalues of the projected kinship, w_j = 1/(lam d_j + 1), Q = sum w y~^2.
Log-likelihoods use GEMMA's constants (Zhou & Stephens 2012), so printed
values compare directly with GEMMA's log:

    REML(lam) = df/2 (ln df - ln 2pi - 1) - df/2 ln Q + 1/2 sum_j ln w_j,   df = n - c
    ML(lam)   = n/2 (ln n - ln 2pi - 1) - n/2 ln Q - 1/2 ln det V(lam),    V = lam Kc + I

(the REML form equals GEMMA's -1/2 sum_i ln(lam s_i + 1) - 1/2 ln det(W'V^-1 W)
+ 1/2 ln det(W'W) by the error-contrast identity), with
ln det V = sum_j ln(lam d_j + 1) + ln det S(lam),  S = lam C + I - lam^2 G' diag(w) G.

lam is found as GEMMA does: the derivative is evaluated at the ends of 10
equal log-intervals over [1e-5, 1e5]; every interval where it falls from
positive to negative holds a local maximum, refined by safeguarded Newton
(bisection when a Newton step leaves the bracket) to a relative step of 1e-12;
the best local maximum and both end points are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special

from .eigen import ProjectedEigen
from .errors import InputError

L_MIN, L_MAX, N_REGION = 1e-5, 1e5, 10
NEWTON_RTOL = 1e-12
MAX_ITER = 100
LN2PI = np.log(2 * np.pi)


def lambda_grid(lmin=L_MIN, lmax=L_MAX, n_region=N_REGION) -> np.ndarray:
    return lmin * np.exp(np.arange(n_region + 1) * np.log(lmax / lmin) / n_region)


# --------------------------------------------------------------------------
# Likelihood terms (pure functions, numpy; the reference for the numba kernels)
# --------------------------------------------------------------------------

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
    ln det V.  d (n-c,), G (n-c, k), C (k, k) float64 (see ProjectedEigen)."""
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


def logdet_v(lam: float, eig: ProjectedEigen):
    """ln det(lam Kc + I) and its first two derivatives in lam."""
    d = eig.d
    w = 1.0 / (lam * d + 1.0)
    ls, ls1, ls2 = logdet_s(lam, d, eig.G, eig.C)
    return (np.log1p(lam * d).sum() + ls, (d * w).sum() + ls1, -((d * w) ** 2).sum() + ls2)


def ml_null(lam: float, eig: ProjectedEigen, yt: np.ndarray):
    """ML log-likelihood of the null model and its first two derivatives."""
    n = eig.n
    _, _, q0, q1, q2 = _y_sums(lam, eig.d, yt)
    ld, ld1, ld2 = logdet_v(lam, eig)
    logl = 0.5 * n * (np.log(n) - LN2PI - 1) - 0.5 * n * np.log(q0) - 0.5 * ld
    d1 = 0.5 * n * q1 / q0 - 0.5 * ld1
    d2 = 0.5 * n * (-2 * q2 / q0 + (q1 / q0) ** 2) - 0.5 * ld2
    return logl, d1, d2


# --------------------------------------------------------------------------
# 1-D maximization over lam
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class LambdaFit:
    lam: float
    logl: float
    where: str  # 'interior', 'lower bound', 'upper bound'
    n_maxima: int
    iterations: int


def newton_bracket(f, a: float, b: float, rtol: float = NEWTON_RTOL, max_iter: int = MAX_ITER):
    """Root of the derivative inside [a, b] where f(a)[1] > 0 > f(b)[1].

    f(lam) -> (logl, d1, d2).  Safeguarded Newton: a step that would leave the
    bracket, or that does not halve the bracket's worth of progress, is
    replaced by bisection in log lam.  Returns (lam, iterations).
    """
    x = np.sqrt(a * b)
    for it in range(1, max_iter + 1):
        _, g, h = f(x)
        if g > 0:
            a = x
        else:
            b = x
        if g == 0:
            return x, it
        step_ok = h < 0
        xn = x - g / h if step_ok else np.nan
        if not (step_ok and a < xn < b):
            xn = np.sqrt(a * b)
        if abs(xn - x) <= rtol * x or (b - a) <= rtol * x:
            return xn, it
        x = xn
    return x, max_iter


def maximize_lambda(f, lmin=L_MIN, lmax=L_MAX, n_region=N_REGION) -> LambdaFit:
    """Global maximum of f over [lmin, lmax] (see module docstring)."""
    grid = lambda_grid(lmin, lmax, n_region)
    vals = [f(x) for x in grid]
    best_lam, best_l, where, n_max, iters = None, -np.inf, "", 0, 0
    for k in range(n_region):
        if vals[k][1] > 0 and vals[k + 1][1] < 0:
            n_max += 1
            lam, it = newton_bracket(f, grid[k], grid[k + 1])
            iters += it
            ll = f(lam)[0]
            if ll > best_l:
                best_lam, best_l, where = lam, ll, "interior"
    for k, label in ((0, "lower bound"), (n_region, "upper bound")):
        if vals[k][0] > best_l:
            best_lam, best_l, where = grid[k], vals[k][0], label
    if best_lam is None or not np.isfinite(best_l):
        return LambdaFit(np.nan, np.nan, "failed", n_max, iters)
    return LambdaFit(float(best_lam), float(best_l), where, n_max, iters)


# --------------------------------------------------------------------------
# The null fit
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class NullFit:
    """Fitted null model for one phenotype (all arrays float64)."""

    name: str
    n: int
    c: int
    lam: float  # REML
    lam_ml: float
    logl_reml: float
    logl_ml: float
    logl_reml_h0: float  # REML at lam = 0 (h2 = 0)
    sigma_e2: float
    sigma_g2: float
    h2: float
    h2_se: float
    lam_se: float
    p_h2: float
    beta: np.ndarray
    beta_se: np.ndarray
    where: str
    where_ml: str
    yt: np.ndarray  # B'y

    def summary(self) -> dict:
        return dict(phenotype=self.name, n=self.n, h2=self.h2, h2_se=self.h2_se,
                    sigma_g2=self.sigma_g2, sigma_e2=self.sigma_e2, **{"lambda": self.lam},
                    logl_reml=self.logl_reml, logl_ml=self.logl_ml, p_h2=self.p_h2)


def fixed_effects(lam: float, eig: ProjectedEigen, y: np.ndarray, yt: np.ndarray,
                  sigma_e2: float):
    """GLS fixed effects and standard errors at lam.

    alpha_q = Wq'y - lam G'(w y~), Cov(alpha_q) = sigma_e2 S(lam) (block inverse
    of V in the basis [Wq, B]); alpha = R^-1 alpha_q.
    """
    w = 1.0 / (lam * eig.d + 1.0)
    aq = eig.Wq.T @ y - lam * (eig.G.T @ (w * yt))
    S = lam * eig.C + np.eye(eig.c) - lam * lam * (eig.G.T @ (w[:, None] * eig.G))
    Ri = np.linalg.inv(eig.R)
    beta = Ri @ aq
    cov = sigma_e2 * (Ri @ S @ Ri.T)
    return beta, np.sqrt(np.diag(cov))


def fit_null(eig: ProjectedEigen, y: np.ndarray, name: str = "phenotype") -> NullFit:
    """REML and ML fit of y = W alpha + g + e (y over the analysed samples, no NaN)."""
    if np.isnan(y).any():
        raise InputError(f"phenotype '{name}' has missing values inside the analysed samples")
    n, c = eig.n, eig.c
    yt = eig.project(y)
    d = eig.d
    reml = maximize_lambda(lambda x: reml_null(x, d, yt))
    ml = maximize_lambda(lambda x: ml_null(x, eig, yt))
    lam = reml.lam
    _, _, d2 = reml_null(lam, d, yt)
    w = 1.0 / (lam * d + 1.0)
    q0 = float(np.dot(w, yt * yt))
    sigma_e2 = q0 / (n - c)
    lam_se = float(np.sqrt(-1.0 / d2)) if d2 < 0 else np.nan
    t = eig.t
    h2 = lam * t / (lam * t + 1)
    h2_se = lam_se * t / (lam * t + 1) ** 2
    logl_ml = ml_null(ml.lam, eig, yt)[0]
    l0 = reml_null(0.0, d, yt)[0]
    stat = max(2 * (reml.logl - l0), 0.0)
    p_h2 = 0.5 * special.chdtrc(1, stat) if stat > 0 else 1.0
    beta, beta_se = fixed_effects(lam, eig, y, yt, sigma_e2)
    return NullFit(name=name, n=n, c=c, lam=lam, lam_ml=ml.lam, logl_reml=reml.logl,
                   logl_ml=float(logl_ml), logl_reml_h0=float(l0), sigma_e2=sigma_e2,
                   sigma_g2=lam * sigma_e2, h2=h2, h2_se=h2_se, lam_se=lam_se, p_h2=float(p_h2),
                   beta=beta, beta_se=beta_se, where=reml.where, where_ml=ml.where, yt=yt)
