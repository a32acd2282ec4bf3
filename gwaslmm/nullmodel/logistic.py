"""The logistic mixed model of a binary trait without any tested variant.

logit(mu) = W alpha + g,  g ~ N(0, tau K),  y_i ~ Bernoulli(mu_i),

fitted by penalized quasi-likelihood (Breslow & Clayton 1993) with AI-REML
for tau (Gilmour et al. 1995), as GMMAT (Chen et al. 2016) and SAIGE (Zhou
et al. 2018) do.  Each iteration linearizes the model at the current linear
predictor eta: working weights w = mu (1 - mu), working phenotype
Y = eta + (y - mu) / w, and the working linear mixed model
Y ~ N(W alpha, Sigma), Sigma = diag(1/w) + tau K.  With Sigma's Cholesky
factor the iteration computes alpha (GLS), P Y = Sigma^-1 (Y - W alpha), the
random-effect prediction g = tau K P Y, and the REML score and average
information of tau:

    S = (Y'PKPY - tr(PK)) / 2,   AI = (KPY)' P (KPY) / 2,

then a new tau (see :func:`fit_glmm`: for each tau the random effects are
iterated to their mode, and tau is the root of the resulting profile score,
found by AI-Newton and secant steps; SAIGE's first step tau + 2 tau^2 S / n
from the start).  The traces are exact: tr(Sigma^-1 K) = (n - sum_i
[Sigma^-1]_ii / w_i) / tau from the diagonal of Sigma^-1 (the inverse
Cholesky factor's column norms), so a score costs 2n^3/3 flops (Cholesky +
triangular inverse) and each inner iteration n^3/3.  SAIGE needs conjugate
gradients and random-probe traces because it never forms K; at the sample
sizes the dense path serves, exact is affordable.

At the fixed point P Y = y - mu (the working residual), so the score of a variant is
x'(y - mu) = x'PY and its exact variance x'Px (see :mod:`gwaslmm.scan.binary`).

Kernels here are plain numpy/LAPACK (no numba); the test suite checks
them against a dense implementation with explicit inverses and a root of
the REML score found by bracketing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import InputError, NumericalError

LOGIT_RESIDUAL = math.pi ** 2 / 3  # variance of the standard logistic distribution
MIN_CASES = 10  # fewer cases or controls than this is an error
TAU_TOL = 1e-8  # converged when the Newton step of tau is below TAU_TOL (|tau| + TAU_TOL)
MODE_TOL = 1e-10  # the random effects' mode: eta moves by less than this, relative


def expit(eta: np.ndarray) -> np.ndarray:
    """1 / (1 + exp(-eta)), (n,) float64, without overflow."""
    out = np.empty_like(eta, dtype=np.float64)
    pos = eta >= 0
    out[pos] = 1.0 / (1.0 + np.exp(-eta[pos]))
    e = np.exp(eta[~pos])
    out[~pos] = e / (1.0 + e)
    return out


def logistic_regression(y: np.ndarray, X: np.ndarray, offset: np.ndarray | None = None,
                        tol: float = 1e-10, max_iter: int = 100) -> tuple:
    """Maximum-likelihood logistic regression by Newton-Raphson (IRLS).

    y (n,) float64 0/1; X (n, c) float64; offset (n,) or None.
    Returns (alpha (c,), mu (n,), iterations).  Raises NumericalError on
    separation (an estimate running off) or non-convergence.
    """
    n, c = X.shape
    off = np.zeros(n) if offset is None else offset
    alpha = np.zeros(c)
    ll_old = -np.inf
    for it in range(1, max_iter + 1):
        eta = off + X @ alpha
        mu = expit(eta)
        w = mu * (1 - mu)
        H = X.T @ (w[:, None] * X)
        try:
            step = np.linalg.solve(H, X.T @ (y - mu))
        except np.linalg.LinAlgError:
            step = np.full(c, np.nan)
        if not np.isfinite(step).all():
            raise NumericalError(
                f"logistic regression on the covariates breaks down at iteration {it}: X'WX "
                f"is singular (fitted probabilities from {mu.min():.3g} to {mu.max():.3g}, "
                f"largest |estimate| {np.max(np.abs(alpha)):.3g} on the logit scale): the "
                f"covariates (quasi-)separate cases from controls, or are collinear")
        halve = 0
        while True:
            new = alpha + step
            eta_new = off + X @ new
            ll = float(np.sum(y * eta_new - np.logaddexp(0.0, eta_new)))
            if ll >= ll_old - 1e-12 * abs(ll_old) or halve > 30:
                break
            step /= 2
            halve += 1
        alpha = new
        if np.max(np.abs(alpha)) > 50:
            raise NumericalError(f"logistic regression on the covariates does not converge: an "
                                 f"estimate reaches {np.max(np.abs(alpha)):.3g} on the logit "
                                 f"scale (the covariates separate cases from controls)")
        if np.max(np.abs(step)) < tol * (1 + np.max(np.abs(alpha))) and abs(ll - ll_old) < 1e-9:
            return alpha, expit(off + X @ alpha), it
        ll_old = ll
    raise NumericalError(f"logistic regression on the covariates did not converge in "
                         f"{max_iter} iterations")


@dataclass
class _Linearized:
    """The working linear mixed model at one (tau, eta), with Sigma's
    Cholesky factor: everything an iteration and the scan need."""

    tau: float
    eta: np.ndarray
    mu: np.ndarray
    w: np.ndarray
    Y: np.ndarray
    L: np.ndarray          # (n, n) lower Cholesky factor of Sigma, F-order
    SiX: np.ndarray        # Sigma^-1 X (n, c)
    XSiX: np.ndarray       # X' Sigma^-1 X (c, c)
    alpha: np.ndarray      # GLS fixed effects (c,)
    PY: np.ndarray         # Sigma^-1 (Y - X alpha) (n,)


def _linearize(K: np.ndarray, X: np.ndarray, y: np.ndarray, tau: float,
               eta: np.ndarray) -> _Linearized:
    from scipy.linalg import cho_solve
    from scipy.linalg.lapack import dpotrf

    mu = expit(eta)
    w = mu * (1 - mu)
    if np.min(w) < 1e-300:
        raise NumericalError(f"the logistic mixed model fit reached fitted probabilities of 0 "
                             f"or 1 (tau = {tau:.6g}): cases and controls are separated")
    Y = eta + (y - mu) / w
    # K is symmetric: its transpose is the same matrix in F order (no copy),
    # and tau K keeps that layout for LAPACK
    Kf = K.T if K.flags.c_contiguous and not K.flags.f_contiguous else K
    S = np.multiply(Kf, tau) if tau > 0 else np.zeros_like(Kf)
    if not S.flags.f_contiguous:
        S = np.asfortranarray(S)
    S[np.diag_indices_from(S)] += 1.0 / w
    L, info = dpotrf(S, lower=1, clean=1, overwrite_a=1)
    if info != 0:
        raise NumericalError(f"Sigma = diag(1/w) + tau K is not positive definite at tau = "
                             f"{tau:.6g} (Cholesky: LAPACK info {info}); is the kinship "
                             f"positive semi-definite?")
    SiX = cho_solve((L, True), X, check_finite=False)
    XSiX = X.T @ SiX
    alpha = np.linalg.solve(XSiX, SiX.T @ Y)
    PY = cho_solve((L, True), Y - X @ alpha, check_finite=False)
    return _Linearized(tau=tau, eta=eta, mu=mu, w=w, Y=Y, L=L, SiX=SiX, XSiX=XSiX,
                       alpha=alpha, PY=PY)


def _score_ai(K: np.ndarray, X: np.ndarray, lin: _Linearized) -> tuple:
    """REML score S and average information AI of tau at ``lin`` (exact traces)."""
    from scipy.linalg import cho_solve
    from scipy.linalg.lapack import dtrtri

    n = X.shape[0]
    KPY = K @ lin.PY
    # P v = Sigma^-1 v - Sigma^-1 X (X'Sigma^-1 X)^-1 X' Sigma^-1 v
    PKPY = cho_solve((lin.L, True), KPY, check_finite=False)
    PKPY -= lin.SiX @ np.linalg.solve(lin.XSiX, lin.SiX.T @ KPY)
    Linv, info = dtrtri(lin.L, lower=1)
    if info != 0:
        raise NumericalError(f"inverting the Cholesky factor of Sigma failed (LAPACK info {info})")
    diag_si = np.einsum("ij,ij->j", Linv, Linv)  # diag(Sigma^-1): column norms of L^-1
    del Linv
    KSiX = K @ lin.SiX
    tr_x = float(np.trace(np.linalg.solve(lin.XSiX, lin.SiX.T @ KSiX)))
    if lin.tau > 0:
        tr_sik = (n - float(np.sum(diag_si / lin.w))) / lin.tau
    else:  # Sigma = diag(1/w): tr(Sigma^-1 K) = sum w_i K_ii
        tr_sik = float(np.sum(lin.w * np.diag(K)))
    tr_pk = tr_sik - tr_x
    S = 0.5 * (float(lin.PY @ KPY) - tr_pk)
    AI = 0.5 * float(KPY @ PKPY)
    return S, AI, tr_pk


@dataclass(frozen=True)
class GlmmFit:
    """A converged logistic mixed model (arrays over the analysed samples).

    tau, tau_se : the genetic variance on the logit scale and its SE
        (1/sqrt(AI)); NaN SE at the boundary tau = 0.
    alpha (c,), alpha_cov (c, c) : fixed effects and their covariance
        (X' Sigma^-1 X)^-1.
    eta, mu, b (n,) : linear predictor, fitted probability, random-effect
        prediction tau K P Y (all conditional on the random effect).
    PY (n,) : Sigma^-1 (Y - X alpha) = y - mu at the fixed point.
    L (n, n) : Cholesky factor of Sigma (F-order); Y (n,) working phenotype.
    iterations, history : iteration count and (tau, S, AI) per iteration.
    """

    tau: float
    tau_se: float
    alpha: np.ndarray
    alpha_cov: np.ndarray
    eta: np.ndarray
    mu: np.ndarray
    b: np.ndarray
    PY: np.ndarray
    Y: np.ndarray
    L: np.ndarray
    iterations: int
    boundary: bool
    history: list = field(default_factory=list)


def _inner(K: np.ndarray, X: np.ndarray, y: np.ndarray, tau: float, eta: np.ndarray,
           tol: float, max_iter: int) -> tuple:
    """alpha and the random effect at fixed tau: the penalized-likelihood
    mode, by iterating the working linear mixed model (Fisher scoring,
    Newton's method for the logit link) until the update moves eta by less
    than tol (relative).  Returns (the linearization at the last eta, that
    eta, iterations): its update moved eta by less than tol, so it is the
    mode to that accuracy, without one more Cholesky factorization."""
    moved = float("nan")
    for it in range(1, max_iter + 1):
        lin = _linearize(K, X, y, tau, eta)
        eta_new = X @ lin.alpha + tau * (K @ lin.PY)
        moved = float(np.max(np.abs(eta_new - eta)))
        if moved < tol * (1.0 + float(np.max(np.abs(eta)))):
            return lin, eta, it
        eta = eta_new
    raise NumericalError(f"the logistic mixed model's random effects did not converge in "
                         f"{max_iter} iterations at tau = {tau:.6g} (last change of the "
                         f"linear predictor {moved:.3g})")


def fit_glmm(K: np.ndarray, X: np.ndarray, y: np.ndarray, tau0: float | None = None,
             fixed_tau: float | None = None, tol: float = TAU_TOL, max_iter: int = 50,
             eta0: np.ndarray | None = None) -> GlmmFit:
    """PQL + AI-REML fit of logit(mu) = X alpha + g, g ~ N(0, tau K).

    K (n, n) float64 kinship (not modified); X (n, c) covariates with an
    intercept; y (n,) 0/1.  ``fixed_tau``: keep tau there and fit alpha and
    g only (LOCO refits with tau fixed, as SAIGE does).  ``tau0``: start
    (default 0.1 over K's mean diagonal, SAIGE's start).  ``eta0``: a
    starting linear predictor (default: the covariate-only logistic
    regression's).

    For each tau the random effects are iterated to the penalized-likelihood
    mode (:func:`_inner`), so the REML score S(tau) is a function of tau
    alone (the profile score); its root is found by AI-Newton or secant
    steps (:func:`_next_tau`), kept inside the sign-change bracket once
    there is one (AI ignores the working
    phenotype's dependence on tau and overshoots near the root: GMMAT's
    alternation of one AI step and one update of the random effects
    converges only linearly).  Converged when the Newton step
    |S|/AI is below ``tol`` (|tau| + tol).  tau = 0 is the boundary, taken
    when the score there is negative.  Far from the root the random effects
    need not be exact: the inner tolerance is 1e-3 of the last relative step
    of tau (at most 1e-5, at least 1e-10), and a convergence reached with a
    loose inner tolerance is confirmed with the tight one.
    """
    if eta0 is None:
        alpha0, _, _ = logistic_regression(y, X)
        eta = X @ alpha0
    else:
        eta = eta0.copy()
    scale = float(np.mean(np.diag(K)))
    if not scale > 0:
        raise InputError(f"the kinship's mean diagonal is {scale:.4g}: not a kinship")
    tight = min(tol, MODE_TOL)
    if fixed_tau is not None:
        lin, eta, it = _inner(K, X, y, float(fixed_tau), eta, tight, max_iter)
        return _final(K, lin, eta, it, False, [])
    tau = 0.1 / scale if tau0 is None else float(tau0)
    history = []  # (tau, S, AI)
    iterations = 0
    boundary = False
    inner_tol = 1e-5
    for outer in range(1, max_iter + 1):
        lin, eta, it = _inner(K, X, y, tau, eta, inner_tol, max_iter)
        iterations += it
        S, AI, _ = _score_ai(K, X, lin)
        history.append((tau, S, AI))
        if not (AI > 0 and math.isfinite(S)):
            raise NumericalError(f"AI-REML for tau broke down: tau = {tau:.6g}, score {S:.4g}, "
                                 f"average information {AI:.4g}")
        if tau == 0.0 and S <= 0:
            boundary = True
            break
        if abs(S) / AI <= tol * (abs(tau) + tol):
            if inner_tol <= tight:
                break
            inner_tol = tight  # confirm at this tau with the exact mode
            continue
        new = _next_tau(history, first=outer == 1 and tau0 is None, n=y.size)
        step = abs(new - tau) / max(abs(tau), 1e-12)
        inner_tol = min(1e-5, max(tight, 1e-3 * step))
        tau = new
    else:
        last = history[-1]
        raise NumericalError(
            f"the logistic mixed model did not converge in {max_iter} iterations: tau = "
            f"{tau:.6g} (last values tried: "
            f"{', '.join(f'{h[0]:.6g}' for h in history[-3:])}; score {last[1]:.4g}, "
            f"average information {last[2]:.4g})")
    return _final(K, lin, eta, iterations, boundary, history, AI=AI)


def _next_tau(history: list, first: bool, n: int) -> float:
    """The next tau to try, never below 0: SAIGE's first step; then, until
    the score has changed sign, the longer of the AI-Newton step and the
    secant step through the last two points (AI overstates the profile
    score's slope on some data and understates it on others: the longer
    step brackets the root soonest); once bracketed, the secant step kept
    inside the bracket (bisection where it falls outside)."""
    tau, S, AI = history[-1]
    if first:
        cand = tau + 2 * tau * tau * S / n
    else:
        cand = tau + S / AI
        sec = float("nan")
        if len(history) >= 2:
            t0, s0, _ = history[-2]
            if S != s0 and (S - s0) / (tau - t0) < 0:
                sec = tau - S * (tau - t0) / (S - s0)
        pos = [h for h in history if h[1] > 0]
        neg = [h for h in history if h[1] < 0]
        lo = max(pos)[0] if pos else None
        hi = min(neg)[0] if neg else None
        if lo is not None and hi is not None and lo < hi:  # bracketed
            cand = sec if lo < sec < hi else 0.5 * (lo + hi)
        elif math.isfinite(sec) and abs(sec - tau) > abs(cand - tau):
            cand = sec
    if cand <= 0:
        # toward the boundary: a quarter of the way, then 0 itself
        cand = 0.0 if tau < 1e-6 else tau / 4
    return float(cand)


def _final(K, lin: _Linearized, eta, iterations, boundary, history,
           AI: float = float("nan")) -> GlmmFit:
    tau = lin.tau
    tau_se = float("nan") if (boundary or not AI > 0) else 1.0 / math.sqrt(AI)
    b = tau * (K @ lin.PY)
    return GlmmFit(tau=tau, tau_se=tau_se, alpha=lin.alpha, alpha_cov=np.linalg.inv(lin.XSiX),
                   eta=eta, mu=lin.mu, b=b, PY=lin.PY, Y=lin.Y, L=lin.L,
                   iterations=iterations, boundary=boundary, history=history)


def binary_coding(y: np.ndarray, name: str) -> tuple:
    """0/1 values from a phenotype coded 0/1 or PLINK's 1/2 (1 control,
    2 case); NaN stays missing.  Returns (y01 (n,) float64, what was
    detected).  Anything else is an InputError naming the values found."""
    present = y[~np.isnan(y)]
    vals = np.unique(present)
    if vals.size and set(vals.tolist()) <= {0.0, 1.0}:
        return y.copy(), "0/1 (0 control, 1 case)"
    if vals.size and set(vals.tolist()) <= {1.0, 2.0}:
        return y - 1.0, "PLINK 1/2 (1 control, 2 case)"
    shown = ", ".join(f"{v:g}" for v in vals[:8]) + (f", ... ({vals.size} distinct)"
                                                     if vals.size > 8 else "")
    raise InputError(f"--binary: phenotype '{name}' takes the values {shown}; a binary trait "
                     f"is coded 0/1 or PLINK's 1/2 (1 control, 2 case), missing -9 or NA")


def check_counts(y01: np.ndarray, name: str) -> tuple:
    """(cases, controls); too few of either is an InputError with the counts."""
    cases = int(np.sum(y01 == 1))
    controls = int(np.sum(y01 == 0))
    if cases < MIN_CASES or controls < MIN_CASES:
        raise InputError(f"--binary: phenotype '{name}' has {cases} cases and {controls} "
                         f"controls among the analysed samples; at least {MIN_CASES} of each "
                         f"are needed")
    return cases, controls
