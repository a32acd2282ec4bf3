"""numba kernel for genotype blocks; reference: genotypes.impute_mean_reference."""

import math

from numba import prange

from ._jit import jit


@jit(parallel=True)
def impute_mean_kernel(X, n_missing, means):
    """In place: NaN -> column mean over the non-missing rows, one pass per column.

    X (n, m) float64 Fortran order; n_missing (m,) int64 and means (m,) float64
    are filled (mean NaN, column untouched, where every call is missing).
    """
    n, m = X.shape
    for j in prange(m):
        tot = 0.0
        k = 0
        for i in range(n):
            v = X[i, j]
            if math.isnan(v):
                k += 1
            else:
                tot += v
        n_missing[j] = k
        if k == n:
            means[j] = math.nan
            continue
        mu = tot / (n - k)
        means[j] = mu
        if k:
            for i in range(n):
                if math.isnan(X[i, j]):
                    X[i, j] = mu
