"""QQ plotting data: observed against expected -log10 p, thinned, with a 95% band.

Observed -log10 p against the expected -log10(i / (N + 1)) for rank i of N
(i = 1 the smallest p), the mean of the i-th uniform order statistic, which
is Beta(i, N - i + 1) distributed; the 95% band is that Beta's 2.5% and
97.5% quantiles.  Every plotted point carries its true rank among all N
p-values.  Plotted: every rank with observed or expected -log10 p >= 2,
plus the first rank of every 0.005-wide bin of expected or observed -log10 p
below that (both are monotone in rank).  lambda_GC is
:func:`gwaslmm.scan.pvalues.lambda_gc`'s, from the same sorted values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..scan.pvalues import check_neglog10, lambda_from_middle
from .thinning import KEEP_ALL_NEGLOG10

QQ_BIN = 0.005               # QQ thinning bin in -log10 p
QQ_BAND_POINTS = 400         # ranks at which the 95% band is evaluated


@dataclass(frozen=True)
class QQData:
    """QQ points and 95% band.

    expected, observed : ndarray, shape (k,), float64 -- -log10 p, by increasing rank
    rank : ndarray, shape (k,), int64 -- 1-based rank among all n (1 = smallest p)
    band_expected, band_lower, band_upper : ndarray, shape (b,), float64
    """

    expected: np.ndarray
    observed: np.ndarray
    rank: np.ndarray
    band_expected: np.ndarray
    band_lower: np.ndarray
    band_upper: np.ndarray
    n: int
    n_infinite: int
    lambda_gc: float



def qq_data(neglog10p, band_points: int = QQ_BAND_POINTS,
            overwrite_input: bool = False) -> QQData:
    """QQ plot points (thinned) with their exact expected quantiles, 95% band, lambda_GC.

    neglog10p : array_like, shape (n,), float32 or float64 -- -log10 p of every
        test, any order; inf (p = 0) counts in the ranks but is not plotted.
    overwrite_input : sort ``neglog10p`` in place instead of a copy (saves
        4 bytes a row for float32 input).
    Rank i (1 = smallest p) has expected -log10(i / (n + 1)); the band is
    -log10 of the Beta(i, n - i + 1) 97.5% and 2.5% quantiles.
    """
    from scipy import stats

    y = np.asarray(neglog10p)
    if y.ndim != 1:
        raise InputError(f"neglog10p must be one-dimensional (got shape {y.shape})")
    n = int(y.size)
    if n == 0:
        raise InputError("QQ plot needs at least one p-value (got 0)")
    if overwrite_input and y.flags.writeable:
        y.sort()
        asc = y                        # ascending -log10 p: index t <-> rank n - t
    else:
        asc = np.sort(y)
    if np.isnan(asc[-1]) or asc[0] < 0:  # NaN sorts last
        check_neglog10(asc)
    k = n // 2
    lam = lambda_from_middle(asc[k:k + 1] if n % 2 else asc[k - 1:k + 1])
    n_inf = n - int(np.searchsorted(asc, np.inf, side="left"))
    n_fin = n - n_inf
    keep = [np.array([0, n_fin - 1], dtype=np.int64)] if n_fin else []
    if n_fin:
        # top ranks: observed >= 2 or expected >= 2 (-> rank <= (n + 1) / 100)
        t_obs = int(np.searchsorted(asc[:n_fin], KEEP_ALL_NEGLOG10, side="left"))
        t_exp = int(math.ceil(n - (n + 1) * 10.0 ** (-KEEP_ALL_NEGLOG10)))
        t0 = max(0, min(t_obs, t_exp))
        keep.append(np.arange(t0, n_fin, dtype=np.int64))
        # below: first index of each 0.005-wide observed and expected bin
        edges = np.arange(0.0, KEEP_ALL_NEGLOG10 + QQ_BIN, QQ_BIN)
        keep.append(np.searchsorted(asc[:n_fin], edges, side="left"))
        t_e = np.ceil(n - (n + 1) * 10.0 ** (-edges)).astype(np.int64)
        keep.append(t_e)
    if keep:
        t = np.unique(np.concatenate(keep))
        t = t[(t >= 0) & (t < n_fin)]
    else:
        t = np.zeros(0, dtype=np.int64)
    rank = (n - t).astype(np.int64)
    order = np.argsort(rank)
    rank, t = rank[order], t[order]
    expected = -np.log10(rank / (n + 1.0))
    observed = asc[t].astype(np.float64)
    # band at log-spaced ranks
    br = np.unique(np.round(np.logspace(0.0, math.log10(n), band_points)).astype(np.int64))
    br = br[(br >= 1) & (br <= n)]
    b_exp = -np.log10(br / (n + 1.0))
    b_hi = -np.log10(stats.beta.ppf(0.025, br, n - br + 1))
    b_lo = -np.log10(stats.beta.ppf(0.975, br, n - br + 1))
    return QQData(expected=expected, observed=observed, rank=rank, band_expected=b_exp,
                  band_lower=b_lo, band_upper=b_hi, n=n, n_infinite=n_inf, lambda_gc=lam)
