"""The one place that configures numba and the thread pools.

Kernels are compiled with nopython, nogil and an on-disk cache, so only the
first run on a machine pays compilation.  The cache lives in a user cache
directory, never inside the installed package (a cache written into
``site-packages/gwaslmm`` survives a reinstall and shadows the new code):
``$GWASLMM_CACHE_DIR``, else numba's own ``$NUMBA_CACHE_DIR``, else
``$XDG_CACHE_HOME/gwaslmm`` (``~/.cache/gwaslmm``), each with a ``numba``
subfolder.  ``GWASLMM_NUMBA_CACHE=0`` disables the cache (a read-only home);
an unwritable cache folder does the same, with the reason kept for the log.

Threads: numba's parallel kernels run on numba's 'workqueue' threading layer
(idle workers sleep; OpenMP workers spin after each kernel and take the CPU
from the BLAS call that follows, which under contention from other jobs
slowed the eigendecomposition several-fold).  The default thread count is
the number of cores this process may use (its CPU affinity and cgroup
quota, as SLURM and containers set them), not every core of the node.
"""

from __future__ import annotations

import math
import os

_STATE: dict = {}


def cache_dir() -> str | None:
    """Folder for numba's compiled kernels, or None when caching is off."""
    if os.environ.get("GWASLMM_NUMBA_CACHE", "1") == "0":
        return None
    base = os.environ.get("GWASLMM_CACHE_DIR") or os.environ.get("NUMBA_CACHE_DIR")
    if base:
        return os.path.join(base, "numba") if "GWASLMM_CACHE_DIR" in os.environ else base
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "gwaslmm", "numba")


def _configure() -> None:
    """Set numba's cache folder and threading layer once, before any kernel is made."""
    if _STATE.get("configured"):
        return
    import numba

    path = cache_dir()
    if path is not None:
        try:
            os.makedirs(path, exist_ok=True)
            if not os.access(path, os.W_OK):
                raise OSError(f"{path} is not writable")
            numba.config.CACHE_DIR = path
        except OSError as exc:
            _STATE["cache_note"] = f"numba cache disabled ({exc})"
            path = None
    _STATE["cache"] = path
    from numba.core import event

    _STATE["compile_timer"] = event.TimingListener()  # real compilations, not cache loads
    event.register("numba:compile", _STATE["compile_timer"])
    if "NUMBA_THREADING_LAYER" not in os.environ:
        numba.config.THREADING_LAYER = "workqueue"
    _STATE["configured"] = True


def cache_note() -> str:
    """One line for the log: where compiled kernels are cached."""
    _configure()
    if _STATE.get("cache"):
        return f"numba cache: {_STATE['cache']}"
    return _STATE.get("cache_note", "numba cache: off (GWASLMM_NUMBA_CACHE=0)")


def compile_note() -> str | None:
    """A log line when this process compiled numba kernels (the first run
    after installing, or after the cache was cleared), else None."""
    timer = _STATE.get("compile_timer")
    if timer is None or not timer.done:
        return None
    where = f"cached them in {_STATE['cache']}" if _STATE.get("cache") else "could not cache them"
    return (f"numba: compiled kernels on first use in {timer.duration:.1f}s and {where}; later "
            f"runs load them")


def jit(parallel: bool = False, reassoc: bool = False, inline: bool = False):
    """Decorator: numba.njit with the project's settings.

    ``inline``: numba inlines the function into its callers (``inline='always'``)
    rather than calling it; for small helpers in a kernel's inner loop, where
    LLVM left the call and its returned tuple in place.

    ``reassoc``: let LLVM reorder floating-point additions (and only that:
    no approximate division, no assumptions about NaN or infinity), so that
    sums over samples are vectorized; the result differs from the sequential
    sum in the last bits only.
    """
    import numba

    _configure()
    return numba.njit(cache=_STATE["cache"] is not None, nogil=True, parallel=parallel,
                      fastmath={"reassoc"} if reassoc else False, error_model="numpy",
                      inline="always" if inline else "never")


def available_cores() -> int:
    """Cores this process may use: its CPU affinity, capped by a cgroup v2 CPU
    quota (``cpu.max``) where one is set."""
    try:
        n = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        n = os.cpu_count() or 1
    try:
        with open("/sys/fs/cgroup/cpu.max") as fh:
            quota, period = fh.read().split()[:2]
        if quota != "max":
            n = min(n, max(1, math.ceil(int(quota) / int(period))))
    except (OSError, ValueError):
        pass
    return max(1, n)


def set_threads(n: int | None) -> int:
    """Set numba's and the BLAS libraries' thread counts (default: the cores
    this process may use); returns the count used."""
    import numba
    from threadpoolctl import threadpool_limits

    _configure()
    total = numba.config.NUMBA_NUM_THREADS
    k = available_cores() if not n else int(n)
    k = max(1, min(k, total))
    numba.set_num_threads(k)
    threadpool_limits(limits=k)
    return k
