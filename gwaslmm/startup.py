"""Start-up costs: modules a command needs later are imported in a
background thread while the main thread runs kernels that release the GIL.

scipy.special takes about 0.2 s to import (most of it in scipy's array-API
layer) and is needed only for p-values, after the kinship is read and
decomposed; numba's text and LAPACK's kernels release the GIL, so the import
overlaps with them (about 0.07 s of a 2.6 s run on GEMMA's example shape,
measured by hand with the thread switched on and off; no committed
benchmark isolates it).  Python's per-module import locks make a concurrent
import from the main thread wait for this one, never import twice.
"""

from __future__ import annotations

import importlib
import threading


def import_in_background(*modules: str) -> threading.Thread:
    """Import ``modules`` in a daemon thread; an import error is left for the
    main thread's own import to report."""

    def run():
        for name in modules:
            try:
                importlib.import_module(name)
            except Exception:  # the main thread's import raises it where it matters
                pass

    t = threading.Thread(target=run, name="gwaslmm-imports", daemon=True)
    t.start()
    return t
