"""Sample identity: the one way a sample's key is built from its FID and IID.

A key is ``"FID IID"`` (one space).  PLINK, GCTA and GEMMA files separate the
two by whitespace, so neither can hold a space and the key is unambiguous.
Saved decompositions and null models hash these keys, so the form is part of
their file format.
"""

from __future__ import annotations

import numpy as np

SHOW_IDS = 3


def sample_keys(fid, iid) -> np.ndarray:
    """Keys "FID IID" for arrays (n,) of FIDs and IIDs: ndarray (n,), str."""
    return np.char.add(np.char.add(np.asarray(fid, str), " "), np.asarray(iid, str))


def first_ids(ids, k: int = SHOW_IDS) -> str:
    """The first ``k`` IDs for an error message, with ' ...' if there are more."""
    ids = list(ids)
    s = ", ".join(str(x) for x in ids[:k])
    return s + (" ..." if len(ids) > k else "")


HASHED_CHECK = 100_000  # from this many keys, a hash pass first (numba kernel)


def duplicated(keys: np.ndarray) -> np.ndarray:
    """The keys (sorted, unique) that occur more than once.

    From ``HASHED_CHECK`` str keys on, one hash pass
    (:func:`gwaslmm.text_kernels.first_repeat`) answers the usual case, no
    repeat, before numpy's sort: 0.072 s -> 0.025 s for 350,000 variant IDs
    (benchmarks/speed_pieces.py)
    (below that, loading the kernel costs more than the sort saves)."""
    keys = np.asarray(keys)
    if keys.ndim == 1 and keys.size >= HASHED_CHECK and keys.dtype.kind in "US" \
            and keys.dtype.itemsize:
        from .text_kernels import first_repeat

        codes = np.ascontiguousarray(keys).view(np.uint32 if keys.dtype.kind == "U"
                                                else np.uint8).reshape(keys.size, -1)
        if first_repeat(codes) < 0:
            return keys[:0]
    uniq, counts = np.unique(keys, return_counts=True)
    return uniq[counts > 1]


def positions(keys: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Index of each of ``want`` in ``keys`` (-1 where absent): int64 (len(want),)."""
    pos = {k: i for i, k in enumerate(keys.tolist())}
    return np.array([pos.get(k, -1) for k in want.tolist()], dtype=np.int64)
