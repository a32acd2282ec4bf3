"""Saddlepoint-approximation p-values of the binary-trait score test
(Dey et al. 2017 SPAtest; Zhou et al. 2018 SAIGE).

Under the null, the score of a variant is T = g'(y - mu) with g the
covariate-adjusted genotype (g = x - X (X'WX)^-1 X'W x, W = diag mu(1 - mu))
and y_i independent Bernoulli(mu_i) given the fitted probabilities.  The
cumulant generating function of Q = g'y is

    K(t) = sum_i log(1 - mu_i + mu_i e^(g_i t)),  K'(0) = m1 = g'mu,
    var1 = K''(0) = sum_i mu_i (1 - mu_i) g_i^2.

The observed score is put on that scale with the exact variance var2 =
x'Px of the mixed model (SAIGE's rescaling): q = m1 + T sqrt(var1/var2).
For each tail the saddlepoint zeta solves K'(zeta) = q; with
w = sign(zeta) sqrt(2 (zeta q - K(zeta))) and v = zeta sqrt(K''(zeta)),
Barndorff-Nielsen's formula gives the tail as Phi(-Z), Z = w + log(v/w)/w.
The two-sided p is P(Q >= m1 + |s|) + P(Q <= m1 - |s|), s = q - m1.  A q
outside the support (beyond the sum of the positive, or negative, g) has
tail 0 (Z = inf).

The fast version (SAIGE's, for sparse genotypes): when more than half of
the samples carry genotype 0 (or 2, by symmetry: 2 - x has the adjusted
genotype -g and the same two-sided p), those samples enter K by their normal
cumulant mu_NA t + sigma2_NA t^2 / 2 and only the carriers exactly.

The carriers' reach (issue 15).  SAIGE's rescaling moves q by the factor
sqrt(var1/var2) >= 1 (x'Px <= g'Wg: Sigma^-1 <= W), to a value that no
outcome need produce.  Call the carriers the samples off the majority
genotype (0 or 2, held by more than half the samples; all samples if
neither is), C; with the other samples at their mean, Q reaches at most
mu_NA + sum_C max(g_i, 0) and at least mu_NA + sum_C min(g_i, 0).  For a
very rare variant whose carriers are all cases (all controls, on the lower
side) the rescaled q can lie beyond that reach, and then the saddlepoint
tail, full or sparse, comes only from the non-carriers' part, a near-normal
sum of many small g with a small SD: the p-value fell orders of magnitude
below the chance, under the same independent Bernoulli(mu) outcomes, of the
observed statistic itself (0 and 2e-61 where that chance is 5e-6: 5
carriers, mu 0.1, x'Px = 0.8 var1; ``tests/test_binary.py``).  The
rescaling has no meaning there, so for such a variant (judged on the
observed score's side: m1 + |s| above the upper reach when T > 0, m1 - |s|
below the lower one when T < 0) :func:`spa_pvalues` gives instead the
independent-Bernoulli two-sided tail of the *unrescaled* score,
P(Q >= m1 + |T|) + P(Q <= m1 - |T|), a floor the rescaled tail would sit
under anyway (|s| >= |T|): exact over the carriers' 2^|C| outcomes with
the non-carriers' part normal (mean mu_NA, variance sigma2_NA) when
|C| <= :data:`MAX_EXACT_CARRIERS`, else the saddlepoint (full or sparse, as
asked) at the unrescaled score.  p_method keeps the path's code (spa or
spa-fast).  Every other variant keeps the rescaled SPA p, bit for bit.
Clamping q to the reach instead would still leave p below the observed
statistic's own tail when that lies inside the reach.  (SAIGE's src/SPA_binary.cpp,
where q passes the sum of the positive g, takes the normal p of
T/sqrt(var2), smaller still; between the carriers' reach and that sum its
sparse version has the defect described here.)

The kernels return the two tails' Z; :func:`spa_neglog10` turns them into
-log10 p in logs (exact far below the float64 range).  Plain-numpy
reference: :func:`spa_z_reference`.
"""

from __future__ import annotations

import math

import numpy as np

from .._jit import jit

NORMAL, SPA, SPA_FAST = 0, 1, 2  # which approximation gave a p-value (codes)
MAX_EXACT_CARRIERS = 20  # beyond the reach, enumerate up to 2^20 carrier outcomes


@jit()
def _majority_genotype(x):
    """0.0 or 2.0 when more than half of x (n,) hold it, else -1.0."""
    n = x.size
    n0 = 0
    n2 = 0
    for i in range(n):
        if x[i] == 0.0:
            n0 += 1
        elif x[i] == 2.0:
            n2 += 1
    if 2 * n0 > n:
        return 0.0
    if 2 * n2 > n:
        return 2.0
    return -1.0


@jit()
def _cgf(t, g, mu, idx, mu_na, s2_na):
    """K, K', K'' at t over the samples idx (plus the normal part)."""
    k0 = mu_na * t + 0.5 * s2_na * t * t
    k1 = mu_na + s2_na * t
    k2 = s2_na
    for ii in range(idx.size):
        i = idx[ii]
        gi = g[i]
        m = mu[i]
        gt = gi * t
        if gt > 0:
            e = math.exp(-gt)  # in (0, 1]
            den = (1.0 - m) * e + m
            k0 += gt + math.log(den)
            k1 += m * gi / den
            k2 += (1.0 - m) * m * gi * gi * e / (den * den)
        else:
            e = math.exp(gt)  # in (0, 1]
            den = (1.0 - m) + m * e
            k0 += math.log(den)
            k1 += m * gi * e / den
            k2 += (1.0 - m) * m * gi * gi * e / (den * den)
    return k0, k1, k2


@jit()
def _tail_z(q, g, mu, idx, mu_na, s2_na, lo_sup, hi_sup, m1, var1):
    """Z of the tail beyond q (upper when q > m1, lower when q < m1, as
    Phi(-Z) for the upper and Phi(-Z) of the reflected lower tail), inf
    where q lies outside the support, NaN if the root search fails."""
    if q >= hi_sup or q <= lo_sup:
        return math.inf
    sgn = 1.0 if q > m1 else -1.0
    # bracket the root of K'(t) = q on the side of sgn (K' increasing)
    a = 0.0
    b = sgn * max(abs(q - m1) / var1, 1e-8)
    for _ in range(200):
        _, k1, _ = _cgf(b, g, mu, idx, mu_na, s2_na)
        if (k1 - q) * sgn > 0:
            break
        a = b
        b *= 2.0
    lo, hi = (a, b) if a < b else (b, a)
    t = 0.5 * (lo + hi)
    for _ in range(200):
        k0, k1, k2 = _cgf(t, g, mu, idx, mu_na, s2_na)
        f = k1 - q
        if f > 0:
            hi = t
        else:
            lo = t
        if abs(f) <= 1e-12 * (abs(q) + math.sqrt(var1)) or hi - lo <= 1e-15 * abs(t):
            break
        step = f / k2 if k2 > 0 else 0.0
        tn = t - step
        if not (lo < tn < hi) or k2 <= 0:
            tn = 0.5 * (lo + hi)
        t = tn
    k0, k1, k2 = _cgf(t, g, mu, idx, mu_na, s2_na)
    arg = 2.0 * (t * q - k0)
    if arg <= 0 or k2 <= 0:
        return math.nan
    w = sgn * math.sqrt(arg)
    v = t * math.sqrt(k2)
    z = w + math.log(v / w) / w
    return z * sgn


@jit()
def spa_z(G, mu, s, fast, X0, Z):
    """Saddlepoint Z of both tails for each column.

    G : float64 (n, k), F-order -- covariate-adjusted genotypes g.
    mu : float64 (n,) -- fitted probabilities.
    s : float64 (k,) -- scores on g's scale, q - m1 = T sqrt(var1/var2).
    fast : bool -- use the sparse version where it applies.
    X0 : float64 (n, k), F-order -- the raw (imputed) genotypes, whose 0s
        (or 2s) make the sparse partition.
    Z : float64 (k, 3) out -- Z of the upper tail at m1 + |s|, Z of the
        lower tail at m1 - |s| (each: tail = Phi(-Z)), and the code of the
        version used (SPA or SPA_FAST).
    """
    n, k = G.shape
    all_idx = np.arange(n)
    for j in range(k):
        g = G[:, j]
        x = X0[:, j]
        m1 = 0.0
        var1 = 0.0
        pos = 0.0
        neg = 0.0
        for i in range(n):
            m1 += mu[i] * g[i]
            var1 += mu[i] * (1.0 - mu[i]) * g[i] * g[i]
            if g[i] > 0:
                pos += g[i]
            else:
                neg += g[i]
        idx = all_idx
        mu_na = 0.0
        s2_na = 0.0
        code = 1
        if fast:
            ref = _majority_genotype(x)
            if ref >= 0:
                cnt = 0
                for i in range(n):
                    if x[i] != ref:
                        cnt += 1
                idx = np.empty(cnt, np.int64)
                c = 0
                for i in range(n):
                    if x[i] != ref:
                        idx[c] = i
                        c += 1
                    else:
                        mu_na += mu[i] * g[i]
                        s2_na += mu[i] * (1.0 - mu[i]) * g[i] * g[i]
                code = 2
                pos = math.inf  # the normal part has unbounded support
                neg = -math.inf
        a = abs(s[j])
        Z[j, 0] = _tail_z(m1 + a, g, mu, idx, mu_na, s2_na, neg, pos, m1, var1)
        Z[j, 1] = _tail_z(m1 - a, g, mu, idx, mu_na, s2_na, neg, pos, m1, var1)
        Z[j, 2] = code


def spa_neglog10(Z: np.ndarray) -> np.ndarray:
    """-log10 of the two-sided p from the tails' Z (k, 2+): Phi(-Z1) + Phi(-Z2),
    in logs."""
    from scipy.special import log_ndtr

    with np.errstate(divide="ignore"):
        lp = np.logaddexp(log_ndtr(-Z[:, 0]), log_ndtr(-Z[:, 1]))
    return np.minimum(-lp / math.log(10.0), np.inf)


def spa_scale(G: np.ndarray, mu: np.ndarray, T: np.ndarray, var2: np.ndarray) -> np.ndarray:
    """s = T sqrt(var1/var2), var1 = sum mu (1 - mu) g^2 per column: (k,)."""
    var1 = (mu * (1 - mu)) @ (G * G)
    return T * np.sqrt(var1 / var2)


@jit()
def carrier_reach(G, mu, X0, R):
    """The carriers' reach of Q = g'y per column (module docstring).

    G : float64 (n, k), F-order -- covariate-adjusted genotypes g.
    mu : float64 (n,) -- fitted probabilities.
    X0 : float64 (n, k), F-order -- the raw genotypes (carriers: x != the
        majority genotype; all samples when no genotype has a majority).
    R : float64 (k, 4) out -- mu_NA + sum_C min(g, 0), mu_NA + sum_C max(g, 0),
        m1 = g'mu and the number of carriers |C|.
    """
    n, k = G.shape
    for j in range(k):
        ref = _majority_genotype(X0[:, j])
        lo = 0.0
        hi = 0.0
        m1 = 0.0
        nc = 0
        for i in range(n):
            gi = G[i, j]
            m1 += mu[i] * gi
            if X0[i, j] != ref:
                nc += 1
                if gi > 0:
                    hi += gi
                else:
                    lo += gi
            else:
                lo += mu[i] * gi
                hi += mu[i] * gi
        R[j, 0] = lo
        R[j, 1] = hi
        R[j, 2] = m1
        R[j, 3] = nc


def independent_tail_neglog10(g: np.ndarray, mu: np.ndarray, T: float,
                              x: np.ndarray) -> float:
    """-log10 of P(Q >= m1 + |T|) + P(Q <= m1 - |T|), Q = g'y with y_i
    independent Bernoulli(mu_i), for one column g (n,) (raw genotypes x) of
    at most :data:`MAX_EXACT_CARRIERS` carriers: their 2^|C| outcomes
    enumerated, the non-carriers' part N(mu_NA, sigma2_NA) (exact but for
    that normal part)."""
    from scipy.special import log_ndtr, logsumexp

    ref = _majority_genotype(np.ascontiguousarray(x, dtype=np.float64))
    car = x != ref
    nc = ~car
    mu_na = float(mu[nc] @ g[nc])
    s2_na = float((mu[nc] * (1 - mu[nc])) @ (g[nc] ** 2))
    v = np.zeros(1)  # the carriers' part g_C'y_C of each outcome, and its log-probability
    lp = np.zeros(1)
    for gi, mi in zip(g[car], mu[car]):
        v = np.concatenate([v, v + gi])
        lp = np.concatenate([lp + math.log1p(-mi), lp + math.log(mi)])
    m1 = float(mu @ g)
    q_up, q_lo = m1 + abs(T), m1 - abs(T)
    if s2_na > 0:
        sd = math.sqrt(s2_na)
        up = logsumexp(lp + log_ndtr((v + mu_na - q_up) / sd))
        lo = logsumexp(lp + log_ndtr((q_lo - v - mu_na) / sd))
    else:  # no non-carriers: Q is discrete; the observed value counts (to rounding)
        tol = 1e-9 * (float(np.abs(g).sum()) + abs(m1))
        with np.errstate(divide="ignore"):
            up = logsumexp(np.where(v >= q_up - tol, lp, -np.inf))
            lo = logsumexp(np.where(v <= q_lo + tol, lp, -np.inf))
    return float(-np.logaddexp(up, lo) / math.log(10.0))


def spa_pvalues(G: np.ndarray, mu: np.ndarray, T: np.ndarray, var2: np.ndarray, fast: bool,
                X0: np.ndarray) -> tuple:
    """(-log10 p, code) of the scores T with variances var2: the saddlepoint
    at SAIGE's rescaled quantile, except where that quantile lies beyond the
    carriers' reach on the observed score's side, which get the
    independent-Bernoulli tail of the unrescaled score
    (:func:`independent_tail_neglog10`; module docstring).

    G : float64 (n, k), F-order -- covariate-adjusted genotypes g.
    mu : float64 (n,) -- fitted probabilities.
    T, var2 : float64 (k,) -- scores x'(y - mu) = g'(y - mu) and x'Px.
    fast : bool -- the sparse version where it applies.
    X0 : float64 (n, k), F-order -- the raw genotypes.
    Returns float64 (k,), int64 (k,) (SPA or SPA_FAST).
    """
    s = spa_scale(G, mu, T, var2)
    k = G.shape[1]
    Z = np.empty((k, 3))
    spa_z(G, mu, s, fast, X0, Z)
    nl, code = spa_neglog10(Z), Z[:, 2].astype(np.int64)
    R = np.empty((k, 4))
    carrier_reach(G, mu, X0, R)
    a = np.abs(s)
    beyond = ((T > 0) & (R[:, 2] + a > R[:, 1])) | ((T < 0) & (R[:, 2] - a < R[:, 0]))
    many = np.flatnonzero(beyond & (R[:, 3] > MAX_EXACT_CARRIERS))
    if many.size:  # the saddlepoint (full, or sparse with fast) at the unrescaled s = |T|
        Zm = np.empty((many.size, 3))
        spa_z(np.asfortranarray(G[:, many]), mu, np.abs(T[many]), fast,
              np.asfortranarray(X0[:, many]), Zm)
        nl[many] = spa_neglog10(Zm)
    for j in np.flatnonzero(beyond & (R[:, 3] <= MAX_EXACT_CARRIERS)):
        nl[j] = independent_tail_neglog10(G[:, j], mu, float(T[j]), X0[:, j])
    return nl, code


# ---------------------------------------------------------------------------
# plain-numpy reference
# ---------------------------------------------------------------------------

def _cgf_ref(t, g, mu):
    e = np.exp(g * t)
    k0 = np.sum(np.log1p(mu * (e - 1)))
    k1 = np.sum(mu * g * e / (1 - mu + mu * e))
    k2 = np.sum((1 - mu) * mu * g * g * e / (1 - mu + mu * e) ** 2)
    return k0, k1, k2


def spa_z_reference(g: np.ndarray, mu: np.ndarray, s: float, carriers=None) -> tuple:
    """Z of both tails of one column by scipy's root finder (the full CGF,
    or with ``carriers`` (bool (n,)) the sparse version)."""
    from scipy.optimize import brentq

    m1 = float(mu @ g)
    if carriers is None:
        carriers = np.ones(g.size, bool)
    nc = ~carriers
    mu_na = float(mu[nc] @ g[nc])
    s2_na = float((mu[nc] * (1 - mu[nc])) @ (g[nc] ** 2))
    gc, mc = g[carriers], mu[carriers]

    def cgf(t):
        k0, k1, k2 = _cgf_ref(t, gc, mc)
        return k0 + mu_na * t + 0.5 * s2_na * t * t, k1 + mu_na + s2_na * t, k2 + s2_na

    out = []
    for q in (m1 + abs(s), m1 - abs(s)):
        sgn = 1.0 if q > m1 else -1.0
        if not nc.any():
            if q >= g[g > 0].sum() or q <= g[g < 0].sum():
                out.append(np.inf)
                continue
        b = sgn * 1e-3
        while (cgf(b)[1] - q) * sgn <= 0:
            b *= 2
        t = brentq(lambda u: cgf(u)[1] - q, min(0.0, b), max(0.0, b), xtol=1e-300,
                   rtol=4 * np.finfo(float).eps, maxiter=500)
        k0, _, k2 = cgf(t)
        w = sgn * np.sqrt(2 * (t * q - k0))
        v = t * np.sqrt(k2)
        out.append(sgn * (w + np.log(v / w) / w))
    return tuple(out)
