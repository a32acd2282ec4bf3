"""p-values that stay exact in the far tail, and the one lambda_GC.

Tests report -log10 p, computed from log survival functions so that it stays
exact where p underflows float64 (below 1e-308); p itself is printed from it
(:func:`gwaslmm.schema.format_p`).

lambda_GC (Devlin & Roeder 1999): the median of the 1-df chi-square
statistics equivalent to the p-values, divided by the chi-square(1) median
0.4549364 (``chi2.ppf(0.5, 1)``).  The statistic of a p-value is
``chi2.isf(p, 1) = ndtri(p / 2)**2``, computed from -log10 p through
``ndtri_exp`` so it stays exact below the float64 range; with an even count
the median is the mean of the two middle statistics.  The log, the
metadata, merge and the QQ plot all use this one function.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import InputError

LN10 = np.log(10.0)
CHI2_1_MEDIAN = 0.45493642311957174  # scipy.stats.chi2.ppf(0.5, 1)


def neglog10_f1(F: np.ndarray, df: float) -> np.ndarray:
    """-log10 of the upper tail of F(1, df) at F, exact where p underflows.

    p = I_x(df/2, 1/2) with x = df/(df+F); below 1e-290 the log is taken from
    I_x(a,b) = x^a (1-x)^b / (a B(a,b)) 2F1(a+b, 1; a+1; x) (DLMF 8.17.8).
    """
    F = np.asarray(F, dtype=float)
    out = np.full(F.shape, np.nan)
    ok = np.isfinite(F) & (F >= 0)
    from scipy import special

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
    from scipy import special

    out[ok] = -(special.log_ndtr(-np.sqrt(stat[ok])) + np.log(2.0)) / LN10
    return out


def p_from_neglog10(L: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore", under="ignore"):
        return np.power(10.0, -L)


def check_neglog10(y: np.ndarray, what: str = "neglog10p") -> np.ndarray:
    """Raise InputError unless y is 1-d with no NaN or negative value (no big temporaries)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"{what} must be one-dimensional (got shape {y.shape})")
    if y.size:
        lo = y.min()                   # NaN propagates through min
        if np.isnan(lo) or lo < 0:
            bad = np.isnan(y) | (y < 0)
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{what}: {int(bad.sum())} of {y.size} values are NaN or "
                             f"negative (first at index {i}: {y[i]})")
    return y


def chi2_from_neglog10(y) -> np.ndarray:
    """chi2.isf(p, 1) = ndtri(p/2)^2 from y = -log10 p (exact below 1e-308)."""
    from scipy.special import ndtri_exp

    y = np.asarray(y, dtype=np.float64)
    return ndtri_exp(-y * math.log(10.0) - math.log(2.0)) ** 2


def lambda_from_middle(mid) -> float:
    """lambda_GC from the middle one or two -log10 p of the sorted values."""
    return float(chi2_from_neglog10(mid).mean() / CHI2_1_MEDIAN)


def lambda_gc(neglog10p) -> float:
    """Genomic inflation factor lambda_GC (see the module docstring).

    neglog10p : array_like, shape (n,), float -- -log10 p; inf allowed (p = 0),
        NaN and negative values raise InputError (drop untested variants first).
    """
    y = check_neglog10(neglog10p)
    n = y.size
    if n == 0:
        raise InputError("lambda_GC needs at least one p-value (got 0)")
    k = n // 2
    if n % 2:
        mid = np.partition(y, k)[k:k + 1]
    else:
        part = np.partition(y, [k - 1, k])
        mid = part[k - 1:k + 1]
    return lambda_from_middle(mid)
