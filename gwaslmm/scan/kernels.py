"""numba kernels of the per-SNP tests (parallel over SNPs).

Plain-numpy references, compared with them in tests:
:func:`gwaslmm.scan.exact.exact_reference` (exact_scan),
:func:`gwaslmm.scan.fixed.fast_block_reference` (fixed_lambda_sums) and
:func:`gwaslmm.scan.fixed.whitened_sums_reference` (whitened_sums, the fast scan,
on L^-1 x in sample space).  The others work in the contrast basis (see
:mod:`gwaslmm.eigen`): d (n'), y~ (n'), x~ (n') with n' = n - c.

For one SNP and lam, with w = 1/(lam d + 1):
  a = sum w x~^2, b = sum w x~ y~, q = sum w y~^2  (and their lam-derivatives
  through a1 = sum d w^2 x~^2, a2 = sum d^2 w^3 x~^2, likewise b1, b2, q1, q2),
  Q1 = q - b^2/a is the residual sum of squares with the SNP in the model.
REML(lam) = df/2 (ln df - ln 2pi - 1) - df/2 ln Q1 + 1/2 sum ln w - 1/2 ln a
            + 1/2 ln sum x~^2,                                      df = n - c - 1
ML(lam)   = n/2 (ln n - ln 2pi - 1) - n/2 ln Q1 - 1/2 ln det V(lam)
(GEMMA's constants; the REML form is GEMMA's LogRL_f with X = [W, x].)
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from .._jit import jit

LN2PI = math.log(2.0 * math.pi)


@jit(reassoc=True)
def _sumsq(x):
    """sum_j x_j^2, vectorized (a plain loop in a kernel without reassoc is
    one serial chain of additions: 1.7 us at 1,409 samples, 0.2 us here)."""
    s = 0.0
    for j in range(x.size):
        s += x[j] * x[j]
    return s


@jit(reassoc=True)
def _sums(lam, d, x, y, out, with_log):
    """out[:] = a, b, q, a1, b1, q1, a2, b2, q2, tr1, tr2, slogw (slogw only
    if with_log, else 0)."""
    a = b = q = a1 = b1 = q1 = a2 = b2 = q2 = tr1 = tr2 = 0.0
    for j in range(d.size):
        w = 1.0 / (lam * d[j] + 1.0)
        dw = d[j] * w
        xx = x[j] * x[j]
        xy = x[j] * y[j]
        yy = y[j] * y[j]
        a += w * xx
        b += w * xy
        q += w * yy
        t1 = dw * w
        a1 += t1 * xx
        b1 += t1 * xy
        q1 += t1 * yy
        t2 = dw * t1
        a2 += t2 * xx
        b2 += t2 * xy
        q2 += t2 * yy
        tr1 += dw
        tr2 += dw * dw
    out[0] = a; out[1] = b; out[2] = q
    out[3] = a1; out[4] = b1; out[5] = q1
    out[6] = a2; out[7] = b2; out[8] = q2
    out[9] = tr1; out[10] = tr2
    out[11] = -_sum_log1p(lam, d) if with_log else 0.0


@jit(reassoc=True)
def _sum_log1p(lam, d):
    """sum_j ln(1 + lam d_j) (= -sum ln w) for d_j >= 0, lam > 0, with one
    logarithm per 64 factors: their product, vectorized (each factor is
    >= 1; a run whose product overflows, where lam d_j passes about 1e4,
    sums its factors' own logarithms instead).  The logarithm was the
    costliest part of a pass: 2.7 of 4.7 us at 1,409 samples with one
    logarithm per 8 factors, 0.4 us now.  The runs are slices: indexing
    d[j0 + k] with a start numba cannot prove non-negative adds a
    negative-index check to every load, which keeps LLVM from vectorizing
    (3.6 us)."""
    s = 0.0
    for j0 in range(0, d.size, 64):
        run = d[j0:j0 + 64]
        p = 1.0
        for j in range(run.size):
            p *= lam * run[j] + 1.0
        if p < 1e308:
            s += math.log(p)
        else:
            for j in range(run.size):
                s += math.log(lam * run[j] + 1.0)
    return s


@jit()
def _logdet_s(lam, d, G, C, work):
    """ln det S(lam) and its first two derivatives, S = lam C + I - lam^2 G' diag(w) G.

    G (n', k), C (k, k) with k small; work (3, k, k) scratch.
    """
    k = C.shape[0]
    if k == 0:
        return 0.0, 0.0, 0.0
    g0 = work[0]; g1 = work[1]; g2 = work[2]
    for p in range(k):
        for r in range(k):
            g0[p, r] = 0.0; g1[p, r] = 0.0; g2[p, r] = 0.0
    for j in range(d.size):
        w = 1.0 / (lam * d[j] + 1.0)
        w1 = d[j] * w * w
        w2 = d[j] * w1 * d[j] * w
        for p in range(k):
            gp = G[j, p]
            for r in range(p + 1):
                gg = gp * G[j, r]
                g0[p, r] += w * gg
                g1[p, r] += w1 * gg
                g2[p, r] += w2 * gg
    S = np.empty((k, k)); S1 = np.empty((k, k)); S2 = np.empty((k, k))
    for p in range(k):
        for r in range(p + 1):
            s0 = lam * C[p, r] - lam * lam * g0[p, r]
            if p == r:
                s0 += 1.0
            s1 = C[p, r] - 2.0 * lam * g0[p, r] + lam * lam * g1[p, r]
            s2 = -(2.0 * g0[p, r] - 4.0 * lam * g1[p, r] + 2.0 * lam * lam * g2[p, r])
            S[p, r] = s0; S[r, p] = s0
            S1[p, r] = s1; S1[r, p] = s1
            S2[p, r] = s2; S2[r, p] = s2
    Si = np.linalg.inv(S)
    sign, ld = np.linalg.slogdet(S)
    A = Si @ S1
    t1 = 0.0
    t2 = 0.0
    tAA = 0.0
    B2 = Si @ S2
    for p in range(k):
        t1 += A[p, p]
        t2 += B2[p, p]
        for r in range(k):
            tAA += A[p, r] * A[r, p]
    return ld, t1, t2 - tAA


@jit()
def _ld_interp(lam, lt, lp):
    """First and second lam-derivatives of ln det S from the table ``lt``
    (rows: ld1, d ld1/du, ld2 at u = lp[0] + i lp[1], u = ln lam): cubic
    Hermite in u for ld1 (error ~ h^4/384 times its 4th u-derivative, about
    1e-12 relative at h = 0.005), linear for ld2, which only steers Newton."""
    u = (math.log(lam) - lp[0]) / lp[1]
    i = int(math.floor(u))
    if i < 0:
        i = 0
    if i > lt.shape[1] - 2:
        i = lt.shape[1] - 2
    t = u - i
    h = lp[1]
    t2 = t * t
    t3 = t2 * t
    h00 = 2.0 * t3 - 3.0 * t2 + 1.0
    h10 = t3 - 2.0 * t2 + t
    h01 = -2.0 * t3 + 3.0 * t2
    h11 = t3 - t2
    ld1 = h00 * lt[0, i] + h10 * h * lt[1, i] + h01 * lt[0, i + 1] + h11 * h * lt[1, i + 1]
    ld2 = (1.0 - t) * lt[2, i] + t * lt[2, i + 1]
    return ld1, ld2


@jit()
def _eval(lam, mode, d, x, y, G, C, df, n, sxx, buf, work, with_log, lt, lp):
    """(logl, d1, d2) of the alternative model at lam.  mode 0 = REML, 1 = ML.
    logl is NaN unless with_log.  In ML mode the covariate part of ln det V
    comes exactly from _logdet_s where a likelihood value is needed, and from
    the interpolation table otherwise (Newton steps)."""
    _sums(lam, d, x, y, buf, with_log)
    return _terms(lam, mode, d, G, C, df, n, sxx, buf, work, with_log, lt, lp)


@jit()
def _terms(lam, mode, d, G, C, df, n, sxx, buf, work, with_log, lt, lp):
    """:func:`_eval` from the sums already in buf (for lam; buf[11] holds
    -sum ln(1 + lam d) where with_log)."""
    a, b, q = buf[0], buf[1], buf[2]
    a1, b1, q1 = buf[3], buf[4], buf[5]
    a2, b2, q2 = buf[6], buf[7], buf[8]
    tr1, tr2, sl = buf[9], buf[10], buf[11]
    Q = q - b * b / a
    dQ = -q1 + 2.0 * b * b1 / a - b * b * a1 / (a * a)
    f2 = (2.0 * b1 * b1 / a + 4.0 * b * b2 / a - 4.0 * b * b1 * a1 / (a * a)
          - 2.0 * b * b * a2 / (a * a) + 2.0 * b * b * a1 * a1 / (a * a * a))
    d2Q = 2.0 * q2 - f2
    r1 = dQ / Q
    r2 = d2Q / Q - r1 * r1
    logl = np.nan
    if mode == 0:
        if with_log:
            logl = (0.5 * df * (math.log(df) - LN2PI - 1.0) - 0.5 * df * math.log(Q) + 0.5 * sl
                    - 0.5 * math.log(a) + 0.5 * math.log(sxx))
        g = -0.5 * df * r1 - 0.5 * tr1 + 0.5 * a1 / a
        h = -0.5 * df * r2 + 0.5 * tr2 - 0.5 * (2.0 * a2 / a - (a1 / a) ** 2)
    else:
        if with_log or lt.shape[1] < 2:
            ld, ld1, ld2 = _logdet_s(lam, d, G, C, work)
        else:
            ld = 0.0
            ld1, ld2 = _ld_interp(lam, lt, lp)
        if with_log:
            logl = (0.5 * n * (math.log(n) - LN2PI - 1.0) - 0.5 * n * math.log(Q)
                    - 0.5 * (-sl + ld))
        g = -0.5 * n * r1 - 0.5 * (tr1 + ld1)
        h = -0.5 * n * r2 - 0.5 * (-tr2 + ld2)
    return logl, g, h


@jit(reassoc=True)
def snp_grid_sums(W2, x, y, xx, xy, g):
    """The lam-grid sums of one SNP: for each row k of W2 (2 nk, n') — the
    weights w and d w^2 at the grid points, :func:`gwaslmm.scan.exact.grid_weights`
    — g[0, k] = sum_j W2[k, j] x_j^2 and g[1, k] = sum_j W2[k, j] x_j y_j;
    xx, xy (n') are scratch.  Per SNP while x is in cache: the block-wide
    matrix products this replaces (:func:`gwaslmm.scan.exact.grid_sums`, its
    reference) read and wrote the block four times."""
    for j in range(x.size):
        xx[j] = x[j] * x[j]
        xy[j] = x[j] * y[j]
    for k in range(W2.shape[0]):
        row = W2[k]
        a = 0.0
        b = 0.0
        for j in range(row.size):
            a += row[j] * xx[j]
            b += row[j] * xy[j]
        g[0, k] = a
        g[1, k] = b


@jit()
def _grid_terms(mode, k, nk, gs, gq, gq1, gtr1, gsl, gld, gld1, df, n, sxx):
    """(logl, d1) at grid point k from the SNP's grid sums gs (2, 2 nk)
    (:func:`snp_grid_sums`) and the SNP-free ones."""
    a = gs[0, k]
    b = gs[1, k]
    a1 = gs[0, nk + k]
    b1 = gs[1, nk + k]
    Q = gq[k] - b * b / a
    dQ = -gq1[k] + 2.0 * b * b1 / a - b * b * a1 / (a * a)
    r1 = dQ / Q
    if mode == 0:
        logl = (0.5 * df * (math.log(df) - LN2PI - 1.0) - 0.5 * df * math.log(Q) + 0.5 * gsl[k]
                - 0.5 * math.log(a) + 0.5 * math.log(sxx))
        g = -0.5 * df * r1 - 0.5 * gtr1[k] + 0.5 * a1 / a
    else:
        logl = (0.5 * n * (math.log(n) - LN2PI - 1.0) - 0.5 * n * math.log(Q)
                - 0.5 * (-gsl[k] + gld[k]))
        g = -0.5 * n * r1 - 0.5 * (gtr1[k] + gld1[k])
    return logl, g


@jit()
def _maximize(mode, d, x, y, G, C, df, n, sxx, grid, gs, gq, gq1, gtr1, gsl, gld, gld1, buf,
              work, rtol, max_iter, lam0, lt, lp):
    """Global maximum over the grid's range; returns (lam, logl, where, iters).

    The derivative at the grid points comes from the SNP's grid sums gs
    (:func:`snp_grid_sums`); each interval where it falls from + to - is refined
    by safeguarded Newton, started at lam0 (the null estimate, usually within
    a few percent of the SNP's) when it lies in the interval.  On return buf
    holds the sums at the returned lam.  where: 0 interior, 1 lower bound,
    2 upper bound, 3 failed.
    """
    nk = grid.size
    best_l = -np.inf
    best_lam = np.nan
    where = 3
    iters = 0
    l_hi = -np.inf
    n_cand = 0
    l_lo, g_prev = _grid_terms(mode, 0, nk, gs, gq, gq1, gtr1, gsl, gld, gld1, df, n, sxx)
    for k in range(nk - 1):
        l_k1, g_next = _grid_terms(mode, k + 1, nk, gs, gq, gq1, gtr1, gsl, gld, gld1, df, n,
                                   sxx)
        if g_prev > 0.0 and g_next < 0.0:
            lo = grid[k]
            hi = grid[k + 1]
            xk = lam0 if lo < lam0 < hi else math.sqrt(lo * hi)
            xe = xk
            for it in range(max_iter):
                iters += 1
                _, g, h = _eval(xk, mode, d, x, y, G, C, df, n, sxx, buf, work, False, lt, lp)
                xe = xk
                if g > 0.0:
                    lo = xk
                else:
                    hi = xk
                if g == 0.0:
                    break
                xn = xk - g / h if h < 0.0 else np.nan
                if not (lo < xn < hi):
                    xn = math.sqrt(lo * hi)
                done = abs(xn - xk) <= rtol * xk or (hi - lo) <= rtol * xk
                xk = xn
                if done:
                    break
            # the root is the last point evaluated: Newton's next step from it
            # is below rtol, and buf holds its sums (no pass for that step)
            buf[11] = -_sum_log1p(xe, d)
            ll, _, _ = _terms(xe, mode, d, G, C, df, n, sxx, buf, work, True, lt, lp)
            n_cand += 1
            if ll > best_l:
                best_l = ll
                best_lam = xe
                where = 0
        g_prev = g_next
        if k == nk - 2:
            l_hi = l_k1
    if l_lo > best_l:
        best_l = l_lo; best_lam = grid[0]; where = 1
    if l_hi > best_l:
        best_l = l_hi; best_lam = grid[nk - 1]; where = 2
    if not math.isfinite(best_l):
        where = 3
    elif where != 0 or n_cand > 1:
        _sums(best_lam, d, x, y, buf, False)
    return best_lam, best_l, where, iters


@jit(parallel=True)
def exact_scan(d, yt, Xt, G, C, n, c, grid, W2, gc, do_reml, do_ml, lam_score, out, rtol,
               max_iter, lam_reml0, lam_ml0, lt, lp):
    """Per-SNP exact tests for a block.

    d (n',), yt (n',), Xt (n', m) float64 rotated SNPs (x~ = B'x); G (n', k),
    C (k, k) the kinship's covariate blocks (k may be 0); n samples, c covariates.
    W2 (2 nk, n') the grid weights and gc the SNP-free grid sums, a tuple
    (gq, gq1, gtr1, gsl, gld, gld1), each (nk,), from
    :func:`gwaslmm.scan.exact.grid_weights`;
    lt (3, nu), lp (2,): the ln det S derivative table of :func:`gwaslmm.scan.exact.ld_table`.
    out (m, 10) float64 receives per SNP:
      0 beta, 1 se, 2 F_wald, 3 lam_remle, 4 logl_remle, 5 lam_mle,
      6 logl_mle, 7 F_score, 8 where_remle, 9 where_mle
    (NaN where a test was not asked for).
    """
    m = Xt.shape[1]
    nd = d.size
    df = float(n - c - 1)
    for s in prange(m):
        x = np.ascontiguousarray(Xt[:, s])
        buf = np.empty(12)
        work = np.empty((3, C.shape[0], C.shape[0]))
        sxx = _sumsq(x)
        for k in range(10):
            out[s, k] = np.nan
        gs = np.empty((2, W2.shape[0]))
        if do_reml or do_ml:
            scratch = np.empty((2, nd))
            snp_grid_sums(W2, x, yt, scratch[0], scratch[1], gs)
        for mode in range(2):  # 0: REML (Wald), 1: ML (LRT)
            if not (do_reml if mode == 0 else do_ml):
                continue
            lam, ll, where, _ = _maximize(mode, d, x, yt, G, C, df, float(n), sxx, grid, gs,
                                          gc[0], gc[1], gc[2], gc[3], gc[4], gc[5], buf, work,
                                          rtol, max_iter, lam_reml0 if mode == 0 else lam_ml0,
                                          lt, lp)
            out[s, 3 + 2 * mode] = lam
            out[s, 4 + 2 * mode] = ll
            out[s, 8 + mode] = where
            if mode == 0:
                a, b, q = buf[0], buf[1], buf[2]  # sums at lam, left by _maximize
                Q = q - b * b / a
                tau = df / Q
                out[s, 0] = b / a
                out[s, 1] = math.sqrt(1.0 / (tau * a))
                out[s, 2] = b * b / a * tau
        if lam_score > 0.0:
            _sums(lam_score, d, x, yt, buf, False)
            a, b, q = buf[0], buf[1], buf[2]
            out[s, 7] = n * b * b / (q * a)


@jit(parallel=True)
def fixed_lambda_sums(w, yt, Xt, a, b):
    """a[s] = sum_j w_j x~_js^2, b[s] = sum_j w_j x~_js y~_j for every SNP s.

    w, yt (n',) float64; Xt (n', m) float64 (columns contiguous is fastest);
    a, b (m,) float64 outputs.  Reference: the matrix products in
    :func:`gwaslmm.scan.fixed.fast_block_reference`.
    """
    m = Xt.shape[1]
    for s in prange(m):
        sa = 0.0
        sb = 0.0
        for j in range(w.size):
            x = Xt[j, s]
            wx = w[j] * x
            sa += wx * x
            sb += wx * yt[j]
        a[s] = sa
        b[s] = sb


@jit(parallel=True)
def whitened_sums(Q, yw, Xw, a, b):
    """Fixed-lam sums from whitened genotypes (the fast scan, see
    :class:`gwaslmm.scan.fixed.Whitener`): for every SNP s, with r the residual of
    the whitened SNP x_s on the whitened covariates' orthonormal basis Q
    (removed one column at a time, modified Gram-Schmidt):
    a[s] = r'r = x'P x,  b[s] = r'yw = x'P y.

    Q (n, c) float64 (F-order is fastest); yw (n,) float64; Xw (n, m)
    float64 (columns contiguous is fastest); a, b (m,) float64 outputs.
    Reference: :func:`gwaslmm.scan.fixed.whitened_sums_reference`.
    """
    n, c = Q.shape
    m = Xw.shape[1]
    for s in prange(m):
        r = Xw[:, s].copy()
        for k in range(c):
            qk = 0.0
            for j in range(n):
                qk += Q[j, k] * r[j]
            for j in range(n):
                r[j] -= qk * Q[j, k]
        sa = 0.0
        sb = 0.0
        for j in range(n):
            sa += r[j] * r[j]
            sb += r[j] * yw[j]
        a[s] = sa
        b[s] = sb
