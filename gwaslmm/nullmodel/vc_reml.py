"""Several variance components by REML with the average-information
algorithm (Gilmour, Thompson & Cullis 1995; as GCTA): dense, O(n^3) per
iteration, for the sample sizes the dense path serves.

    y = X beta + e_total,  V = sum_k theta_k A_k + theta_e I

Each A_k (n, n) is a kinship, a group-indicator product Z Z' (random
intercepts), a slope product Z_e Z_e' (Z_e = Z diag(e)), or the symmetric
cross product Z Z_e' + Z_e Z' of an intercept-slope covariance; the
covariance parameters are linear in V, so one algorithm serves them all.
With P = V^-1 - V^-1 X (X'V^-1 X)^-1 X'V^-1:

* REML log-likelihood (lme4's convention, constants included):
  l = -1/2 [(n - p) log(2 pi) + log|V| + log|X'V^-1 X| + y'P y];
* score s_k = dl/dtheta_k = -1/2 [tr(P A_k) - y'P A_k P y];
* average information AI_kl = 1/2 y'P A_k P A_l P y (the mean of the
  observed and expected information), Newton-type step AI^-1 s.

Start: Var(y) shared equally among the variances, covariances 0, then one
EM-REML step for the variances (theta_k + theta_k^2 (y'PA_kPy - tr(PA_k))/n,
as GCTA).  Each AI step is halved until the likelihood does not decrease
and every intercept-slope covariance matrix stays positive semi-definite; a
variance the step would take below 0 is set to 0 and held there while its
score points down (an active set: a boundary estimate, reported as such,
no SE).  Converged when the log-likelihood changes by less than ``tol`` and
no parameter by more than 1e-6 of the phenotypic variance.  SEs from the
inverse AI matrix at the estimate.  Once the log-likelihood changes by less
than 1e-3, the steps use the observed information (Newton-Raphson, one n x n
product per matrix) while it is positive definite: the AI matrix alone
converges only linearly where components are weakly identified.
:func:`reml_loglik` is the brute-force evaluation the tests
maximize with scipy.optimize.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import NumericalError


@dataclass(frozen=True)
class Term:
    """One covariance parameter: ``kind`` 'variance' (>= 0), 'covariance'
    (``pair`` = the indices of its two variances: their 2x2 matrix stays
    positive semi-definite) or 'residual' (> 0, the identity matrix)."""

    name: str
    kind: str
    pair: tuple | None = None


@dataclass(frozen=True)
class VcFit:
    """A fitted several-component model.

    theta, se (q,) float64 in the order of ``terms`` (se NaN at a boundary);
    cov (q, q) the inverse AI matrix over the free parameters (NaN rows and
    columns for those at a boundary); beta, beta_se (p,) GLS fixed effects;
    logl the REML log-likelihood (lme4's constants); boundary (q,) bool;
    history: per iteration (iteration, logl, theta copy, step note).
    """

    terms: tuple
    theta: np.ndarray
    se: np.ndarray
    cov: np.ndarray
    beta: np.ndarray
    beta_se: np.ndarray
    logl: float
    n: int
    p: int
    iterations: int
    boundary: np.ndarray
    history: list = field(default_factory=list)

    def variance_total(self) -> float:
        """Sum of the variance parameters (residual included; GCTA's Vp for
        kinships and random intercepts)."""
        return float(sum(t for t, term in zip(self.theta, self.terms)
                         if term.kind in ("variance", "residual")))


@dataclass
class _Eval:
    logl: float
    P: np.ndarray
    Py: np.ndarray
    beta: np.ndarray
    XtViX_inv: np.ndarray


def _covariance(theta: np.ndarray, mats: list, n: int) -> np.ndarray:
    """V = sum_k theta_k A_k, the residual (matrix None) on the diagonal."""
    V = np.zeros((n, n))
    for t, A in zip(theta, mats):
        if A is None:
            V[np.diag_indices(n)] += t
        elif t != 0.0:
            V += t * A
    return V


def _evaluate(y: np.ndarray, X: np.ndarray, mats: list, theta: np.ndarray) -> _Eval:
    from scipy.linalg import cho_factor, cho_solve
    from scipy.linalg.lapack import dpotrf, dpotri

    n, p = X.shape
    V = _covariance(theta, mats, n).T  # symmetric: the F-ordered view LAPACK works in
    L, info = dpotrf(V, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise NumericalError(f"V = sum theta_k A_k is not positive definite at theta = "
                             f"{np.array2string(theta, precision=6)}")
    logdet_v = 2.0 * float(np.sum(np.log(np.diag(L))))
    # V^-1 from the factor (dpotri: 2/3 n^3, a third of solving for the identity)
    Vi, info = dpotri(L, lower=1, overwrite_c=1)
    if info != 0:
        raise NumericalError(f"V could not be inverted at theta = "
                             f"{np.array2string(theta, precision=6)} (LAPACK info {info})")
    Vi += np.tril(Vi, -1).T  # the lower triangle holds the inverse, the upper zeros
    ViX = Vi @ X
    XtViX = X.T @ ViX
    try:
        cx = cho_factor(XtViX, lower=True, check_finite=False)
    except np.linalg.LinAlgError:
        raise NumericalError("X'V^-1 X is singular: the covariates are collinear") from None
    logdet_x = 2.0 * float(np.sum(np.log(np.diag(cx[0]))))
    XtViX_inv = cho_solve(cx, np.eye(p), check_finite=False)
    P = Vi
    P -= ViX @ XtViX_inv @ ViX.T
    Py = P @ y
    beta = XtViX_inv @ (ViX.T @ y)
    logl = -0.5 * ((n - p) * math.log(2.0 * math.pi) + logdet_v + logdet_x + float(y @ Py))
    return _Eval(logl=logl, P=P, Py=Py, beta=beta, XtViX_inv=XtViX_inv)


def reml_loglik(y: np.ndarray, X: np.ndarray, mats: list, theta) -> float:
    """The REML log-likelihood at ``theta`` (brute force, explicit
    inverses; the reference the tests maximize).  y (n,), X (n, p), mats:
    (n, n) arrays or None (identity)."""
    n, p = X.shape
    V = _covariance(np.asarray(theta, float), mats, n)
    Vi = np.linalg.inv(V)
    XtViX = X.T @ Vi @ X
    P = Vi - Vi @ X @ np.linalg.inv(XtViX) @ X.T @ Vi
    return float(-0.5 * ((n - p) * np.log(2 * np.pi) + np.linalg.slogdet(V)[1]
                         + np.linalg.slogdet(XtViX)[1] + y @ P @ y))


def _apy(mats: list, Py: np.ndarray) -> np.ndarray:
    """Columns A_k P y (n, q)."""
    return np.column_stack([Py if A is None else A @ Py for A in mats])


def _traces(P: np.ndarray, mats: list) -> np.ndarray:
    """tr(P A_k) for each k (A symmetric: the sum of the elementwise product)."""
    return np.array([np.trace(P) if A is None else float(np.einsum("ij,ij->", P, A))
                     for A in mats])


def _observed_information(P: np.ndarray, mats: list, AI: np.ndarray) -> np.ndarray:
    """-d2l/dtheta_k dtheta_l = 2 AI_kl - 1/2 tr(P A_k P A_l) (q, q): one
    n x n product P A_k per matrix."""
    PA = [P if A is None else P @ A for A in mats]
    q = len(mats)
    T = np.empty((q, q))
    for k in range(q):
        for l in range(k, q):
            T[k, l] = T[l, k] = float(np.einsum("ij,ji->", PA[k], PA[l]))
    return 2.0 * AI - 0.5 * T


def _psd_ok(theta: np.ndarray, terms: tuple) -> bool:
    for k, t in enumerate(terms):
        if t.kind == "covariance":
            a, b = t.pair
            if theta[k] ** 2 > theta[a] * theta[b] * (1.0 + 1e-12):
                return False
    return True


def ai_reml(y: np.ndarray, X: np.ndarray, mats: list, terms: tuple, tol: float = 1e-9,
            max_iter: int = 200, start: np.ndarray | None = None) -> VcFit:
    """AI-REML for V = sum_k theta_k mats[k] (module docstring).

    y (n,) float64; X (n, p) float64 full column rank; mats: list of (n, n)
    float64 symmetric arrays, None for the residual (identity); terms: one
    :class:`Term` per matrix.  Raises NumericalError when it does not
    converge within ``max_iter`` iterations (with the last change)."""
    y = np.asarray(y, float)
    n, p = X.shape
    q = len(terms)
    is_var = np.array([t.kind in ("variance", "residual") for t in terms])
    resid = np.array([t.kind == "residual" for t in terms])
    # the phenotypic variance around the fixed effects: the scale of every parameter
    r0 = y - X @ np.linalg.lstsq(X, y, rcond=None)[0]
    vy = float(r0 @ r0 / max(n - p, 1))
    if not vy > 0:
        raise NumericalError("the phenotype has no variance left after the covariates")
    history = []
    if start is None:
        theta = np.where(is_var, vy / is_var.sum(), 0.0)
        ev = _evaluate(y, X, mats, theta)
        history.append((0, ev.logl, theta.copy(), "start"))
        apy = _apy(mats, ev.Py)
        em = theta + theta ** 2 * (ev.Py @ apy - _traces(ev.P, mats)) / n
        theta = np.where(is_var, np.maximum(em, 1e-6 * vy), theta)
        note = "EM"
    else:
        theta = np.asarray(start, float).copy()
        note = "given start"
    active = np.zeros(q, dtype=bool)
    ev = _evaluate(y, X, mats, theta)
    history.append((len(history), ev.logl, theta.copy(), note))
    newton = False
    for it in range(1, max_iter + 1):
        apy = _apy(mats, ev.Py)
        score = -0.5 * (_traces(ev.P, mats) - ev.Py @ apy)
        AI = 0.5 * apy.T @ (ev.P @ apy)
        if newton:
            # near the optimum: Newton-Raphson with the observed information
            # (the AI matrix alone converges only linearly where components
            # are weakly identified); kept only while positive definite
            obs = _observed_information(ev.P, mats, AI)
            if np.all(np.linalg.eigvalsh(obs[np.ix_(~active, ~active)]) > 0):
                AI = obs
        # a variance held at 0 is released when its score points up; a step
        # that would take a variance below 0 is shortened to end where the
        # first one reaches 0, which is then held there (projected Newton
        # with an active set: the direction stays the AI ascent direction)
        active &= ~(score > 0)
        # a variance that starts at 0 (a given start) with its score pointing
        # down is held too: else the step to the bound would be of length 0
        active |= is_var & ~resid & (theta == 0.0) & (score <= 0)
        free = ~active
        step = np.zeros(q)
        try:
            step[free] = np.linalg.solve(AI[np.ix_(free, free)], score[free])
        except np.linalg.LinAlgError:
            raise NumericalError(f"the average-information matrix is singular at theta = "
                                 f"{np.array2string(theta, precision=6)} (components that "
                                 f"cannot be told apart?)") from None
        down = free & is_var & (step < 0)
        reach = np.full(q, np.inf)
        reach[down] = theta[down] / -step[down]
        reach[resid & down] *= 0.5  # the residual stays positive
        s_max = min(1.0, float(reach.min()))
        hits = ~resid & down & (reach <= s_max)
        direction = s_max * step
        if s_max < 1.0:
            target = theta + direction
            target[hits] = 0.0
            direction = target - theta
        s_len = 1.0
        for halving in range(40):
            cand = theta + s_len * direction
            if _psd_ok(cand, terms):
                try:
                    ev_new = _evaluate(y, X, mats, cand)
                except NumericalError:
                    ev_new = None
                if ev_new is not None and ev_new.logl >= ev.logl - 1e-12 * abs(ev.logl):
                    break
            s_len *= 0.5
        else:
            raise NumericalError(f"AI-REML step {it}: no step along the AI direction raises "
                                 f"the REML log-likelihood ({ev.logl:.10g}) at theta = "
                                 f"{np.array2string(theta, precision=6)} (is a component "
                                 f"confounded with the fixed effects, e.g. a grouping column "
                                 f"also coded as covariates?)")
        if not halving:
            active |= hits & (cand == 0.0)
        change = float(np.max(np.abs(cand - theta)))
        dl = ev_new.logl - ev.logl
        theta, ev = cand, ev_new
        history.append((len(history), ev.logl, theta.copy(),
                        ("NR" if newton else "AI") + (f" halved {halving}x" if halving else "")
                        + (f" ({int(active.sum())} at 0)" if active.any() else "")))
        if abs(dl) < tol and change < 1e-6 * vy:
            break
        newton = abs(dl) < 1e-3 and not halving
    else:
        raise NumericalError(f"AI-REML did not converge in {max_iter} iterations (last change "
                             f"of the log-likelihood {dl:.3g}, of a parameter {change:.3g}; "
                             f"theta = {np.array2string(theta, precision=6)})")
    apy = _apy(mats, ev.Py)
    AI = 0.5 * apy.T @ (ev.P @ apy)
    cov = np.full((q, q), np.nan)
    free = ~active
    try:
        cov[np.ix_(free, free)] = np.linalg.inv(AI[np.ix_(free, free)])
    except np.linalg.LinAlgError:
        pass
    se = np.sqrt(np.where(free, np.diag(cov), np.nan))
    return VcFit(terms=tuple(terms), theta=theta, se=se, cov=cov, beta=ev.beta,
                 beta_se=np.sqrt(np.diag(ev.XtViX_inv)), logl=ev.logl, n=n, p=p,
                 iterations=it, boundary=active.copy(), history=history)
