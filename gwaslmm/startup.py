"""Start-up costs: modules a command needs later are imported in a
background thread while the main thread reads inputs.

scipy.special takes about 0.2 s to import (most of it in scipy's array-API
layer) and is needed only for p-values, after the kinship is read and
decomposed; numba's text and LAPACK's kernels release the GIL, so the import
overlaps with them.  Measured on GEMMA's example shape (1,410 x 11,684,
``assoc --test all --kinship``, 2 cores): 2.63 s -> 2.55 s median of 5
alternating runs.  Python's per-module import locks make a concurrent
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
