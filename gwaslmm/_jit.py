"""The one place that configures numba.

Kernels are compiled with nopython, nogil and an on-disk cache, so only the
first run on a machine pays compilation.  Set GWASLMM_NUMBA_CACHE=0 to
disable the cache (for example on a read-only install); numba's own
NUMBA_CACHE_DIR moves it.
"""

from __future__ import annotations

import os


def jit(parallel: bool = False):
    """Decorator: numba.njit with the project's settings."""
    import numba

    cache = os.environ.get("GWASLMM_NUMBA_CACHE", "1") != "0"
    return numba.njit(cache=cache, nogil=True, parallel=parallel, fastmath=False,
                      error_model="numpy")


def set_threads(n: int | None) -> int:
    """Set numba's and the BLAS libraries' thread counts; returns the count used."""
    import numba
    from threadpoolctl import threadpool_limits

    total = numba.config.NUMBA_NUM_THREADS
    k = total if not n else max(1, min(int(n), total))
    numba.set_num_threads(k)
    threadpool_limits(limits=k)
    return k
