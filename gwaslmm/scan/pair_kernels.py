"""numba kernels of the two-column scans (:mod:`gwaslmm.scan.pairs`).

Per variant the model has two columns beyond the covariates W, here x and z
(GxE: x and x e; within/between-family: x minus its family mean and the
family mean).  In the contrast basis (W projected out,
the kinship diagonal: weights w_i = 1 / (lam d_i + 1)) everything follows
from six weighted sums per variant:

    A = [[sum w x^2, sum w x z], [sum w x z, sum w z^2]],
    b = [sum w x y, sum w z y],  q = sum w y^2,

coef = A^-1 b, Q = q - b'coef, df = n - c - 2 (c counts W's columns), and
the REML log-likelihood with GEMMA's constants (the one-column formula of
:mod:`gwaslmm.scan.exact` with 2 x 2 determinants):

    l_R = df/2 (ln df - ln 2 pi - 1) - df/2 ln Q + 1/2 sum ln w - 1/2 ln det A
          + 1/2 ln det([x z]'[x z])  (unweighted, in the contrast basis).

Plain-numpy references in :mod:`gwaslmm.scan.pairs` (``pair_reference``).
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._jit import jit

LN2PI = np.log(2.0 * np.pi)
LN2 = np.log(2.0)
GOLD = 0.3819660112501051  # (3 - sqrt 5) / 2


@jit()
def pair_loglik(axx, axz, azz, bx, bz, q, sl, df, logdet0):
    """REML log-likelihood from the sums (see the module docstring); -inf
    where A is singular or Q not positive."""
    det = axx * azz - axz * axz
    if not det > 0.0:
        return -np.inf
    cx = (azz * bx - axz * bz) / det
    cz = (axx * bz - axz * bx) / det
    Q = q - bx * cx - bz * cz
    if not Q > 0.0:
        return -np.inf
    return (0.5 * df * (np.log(df) - LN2PI - 1.0) - 0.5 * df * np.log(Q) + 0.5 * sl
            - 0.5 * np.log(det) + 0.5 * logdet0)


@jit()
def _sums_at(lam, d, yt, Xt, Zt, s):
    """The six weighted sums at lam, and sum ln w = -sum ln(lam d + 1) as the
    log of a running product renormalized by frexp every 8 factors (one log
    per variant and lam instead of n': the sums' cost without it is a third)."""
    axx = 0.0
    axz = 0.0
    azz = 0.0
    bx = 0.0
    bz = 0.0
    q = 0.0
    prod = 1.0
    expo = 0
    n = d.shape[0]
    for i in range(n):
        v = lam * d[i] + 1.0
        w = 1.0 / v
        x = Xt[i, s]
        z = Zt[i, s]
        y = yt[i]
        axx += w * x * x
        axz += w * x * z
        azz += w * z * z
        bx += w * x * y
        bz += w * z * y
        q += w * y * y
        prod *= v
        if (i & 7) == 7:
            mant, e = math.frexp(prod)
            prod = mant
            expo += e
    sl = -(np.log(prod) + expo * LN2)
    return axx, axz, azz, bx, bz, q, sl


@jit()
def _ll_u(u, d, yt, Xt, Zt, s, df, logdet0):
    axx, axz, azz, bx, bz, q, sl = _sums_at(np.exp(u), d, yt, Xt, Zt, s)
    return pair_loglik(axx, axz, azz, bx, bz, q, sl, df, logdet0)


@jit()
def _brent_max(a, b, d, yt, Xt, Zt, s, df, logdet0, tol, max_iter):
    """Brent's minimization (golden section with parabolic steps) of -l_R(e^u)
    on [a, b]; returns (u, l_R)."""
    x = w = v = a + GOLD * (b - a)
    fx = fw = fv = -_ll_u(x, d, yt, Xt, Zt, s, df, logdet0)
    e = 0.0
    step = 0.0
    for _ in range(max_iter):
        xm = 0.5 * (a + b)
        tol1 = tol * abs(x) + 1e-12
        tol2 = 2.0 * tol1
        if abs(x - xm) <= tol2 - 0.5 * (b - a):
            break
        if abs(e) > tol1:
            r = (x - w) * (fx - fv)
            qq = (x - v) * (fx - fw)
            p = (x - v) * qq - (x - w) * r
            qq = 2.0 * (qq - r)
            if qq > 0.0:
                p = -p
            qq = abs(qq)
            etemp = e
            e = step
            if abs(p) >= abs(0.5 * qq * etemp) or p <= qq * (a - x) or p >= qq * (b - x):
                e = (a - x) if x >= xm else (b - x)
                step = GOLD * e
            else:
                step = p / qq
                uu = x + step
                if uu - a < tol2 or b - uu < tol2:
                    step = tol1 if xm - x >= 0 else -tol1
        else:
            e = (a - x) if x >= xm else (b - x)
            step = GOLD * e
        uu = x + step if abs(step) >= tol1 else x + (tol1 if step >= 0 else -tol1)
        fu = -_ll_u(uu, d, yt, Xt, Zt, s, df, logdet0)
        if fu <= fx:
            if uu >= x:
                a = x
            else:
                b = x
            v, w, x = w, x, uu
            fv, fw, fx = fw, fx, fu
        else:
            if uu < x:
                a = uu
            else:
                b = uu
            if fu <= fw or w == x:
                v, w = w, uu
                fv, fw = fw, fu
            elif fu <= fv or v == x or v == w:
                v = uu
                fv = fu
    return x, -fx


@jit()
def pair_stats(axx, axz, azz, bx, bz, q, df, out, s):
    """Wald statistics at one lam into out[s, :6] and out[s, 9]: beta_x,
    se_x, beta_z, se_z, F_z = beta_z^2 / se_z^2 (against F(1, df)), Q, and
    cov(beta_x, beta_z)."""
    det = axx * azz - axz * axz
    cx = (azz * bx - axz * bz) / det
    cz = (axx * bz - axz * bx) / det
    Q = q - bx * cx - bz * cz
    tau = df / Q
    out[s, 0] = cx
    out[s, 1] = np.sqrt(azz / det / tau)
    out[s, 2] = cz
    out[s, 3] = np.sqrt(axx / det / tau)
    out[s, 4] = cz * cz / (axx / det / tau)
    out[s, 5] = Q
    out[s, 9] = -axz / det / tau


@jit(parallel=True)
def pair_remle_scan(d, yt, Xt, Zt, ugrid, gsums, gq, gsl, logdet0, df, tol, max_iter, out):
    """Per variant: lam maximizing l_R (grid of u = ln lam, then Brent between
    the best grid point's neighbours), and the Wald statistics there.

    d, yt (n',) float64; Xt, Zt (n', m) float64 (rotated x and x e); ugrid
    (nk,) increasing; gsums (5, nk, m): the sums w x^2, w x z, w z^2, w x y,
    w z y at each grid lam; gq, gsl (nk,): sum w y^2, sum ln w; logdet0 (m,);
    out (m, 10): beta_x, se_x, beta_z, se_z, F_z, Q, lam, l_R, where (0
    interior, 1 lower bound, 2 upper bound), cov(beta_x, beta_z).
    """
    m = Xt.shape[1]
    nk = ugrid.shape[0]
    for s in prange(m):
        best = -np.inf
        kb = 0
        for k in range(nk):
            ll = pair_loglik(gsums[0, k, s], gsums[1, k, s], gsums[2, k, s], gsums[3, k, s],
                            gsums[4, k, s], gq[k], gsl[k], df, logdet0[s])
            if ll > best:
                best = ll
                kb = k
        lo = ugrid[max(kb - 1, 0)]
        hi = ugrid[min(kb + 1, nk - 1)]
        u, ll = _brent_max(lo, hi, d, yt, Xt, Zt, s, df, logdet0[s], tol, max_iter)
        where = 0.0
        if best >= ll:  # the grid point itself (a bound, or the refinement did not gain)
            u, ll = ugrid[kb], best
        if kb == 0 and u <= ugrid[0] + 1e-6:
            where = 1.0
        elif kb == nk - 1 and u >= ugrid[nk - 1] - 1e-6:
            where = 2.0
        lam = np.exp(u)
        axx, axz, azz, bx, bz, q, sl = _sums_at(lam, d, yt, Xt, Zt, s)
        pair_stats(axx, axz, azz, bx, bz, q, df, out, s)
        out[s, 6] = lam
        out[s, 7] = ll
        out[s, 8] = where


@jit(parallel=True)
def pair_cross_sums(Rx, Rz, yw, out):
    """out[s] = (rx.rx, rx.rz, rz.rz, rx.yw, rz.yw) for whitened, projected
    columns Rx, Rz (n, m) float64 and the whitened phenotype yw (n,)."""
    n, m = Rx.shape
    for s in prange(m):
        axx = 0.0
        axz = 0.0
        azz = 0.0
        bx = 0.0
        bz = 0.0
        for i in range(n):
            x = Rx[i, s]
            z = Rz[i, s]
            axx += x * x
            axz += x * z
            azz += z * z
            bx += x * yw[i]
            bz += z * yw[i]
        out[s, 0] = axx
        out[s, 1] = axz
        out[s, 2] = azz
        out[s, 3] = bx
        out[s, 4] = bz


@jit(parallel=True)
def family_means(X, family, n_fam, out):
    """out[i, s] = mean of X[j, s] over the samples j of i's family.

    X (n, m) float64 F-order; family (n,) int64 in [0, n_fam); out (n, m)
    float64.  Reference: :func:`gwaslmm.scan.designs.family_means_reference`.
    """
    n, m = X.shape
    size = np.zeros(n_fam)
    for i in range(n):
        size[family[i]] += 1.0
    for s in prange(m):
        acc = np.zeros(n_fam)
        for i in range(n):
            acc[family[i]] += X[i, s]
        for i in range(n):
            out[i, s] = acc[family[i]] / size[family[i]]
