"""Maximizing a likelihood over lam = sigma_g^2 / sigma_e^2, as GEMMA does.

The derivative is evaluated at the ends of 10 equal log-intervals over
[1e-5, 1e5]; every interval where it falls from positive to negative holds a
local maximum, refined by safeguarded Newton (bisection when a Newton step
leaves the bracket) to a relative step of 1e-12; the best local maximum and
both end points are compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

L_MIN, L_MAX, N_REGION = 1e-5, 1e5, 10
NEWTON_RTOL = 1e-12
MAX_ITER = 100


def lambda_grid(lmin=L_MIN, lmax=L_MAX, n_region=N_REGION) -> np.ndarray:
    return lmin * np.exp(np.arange(n_region + 1) * np.log(lmax / lmin) / n_region)


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
