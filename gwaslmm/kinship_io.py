"""Kinship files: GCTA's binary GRM (read and write) and GEMMA's text matrix.

GCTA binary GRM: ``.grm.bin`` float32 lower triangle including the diagonal,
row by row; ``.grm.N.bin`` the SNP count per pair (float32); ``.grm.id``
FID IID per line.  GEMMA text kinship (``.cXX.txt``/``.sXX.txt``): an n x n
matrix whose rows are the samples of the .fam it was made from, in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .ids import duplicated, positions, sample_keys
from .writers import atomic_file, atomic_text


@dataclass(frozen=True)
class Kinship:
    """A kinship matrix and the samples it is over.

    K : ndarray (n, n), float64, symmetric.  fid, iid : ndarray (n,), str.
    n_snps : number of SNPs it was built from (0 if unknown).
    """

    K: np.ndarray
    fid: np.ndarray
    iid: np.ndarray
    n_snps: int
    source: str

    @property
    def keys(self):
        return sample_keys(self.fid, self.iid)

    def subset(self, fid, iid) -> np.ndarray:
        """K restricted and ordered to the given samples; error naming the first
        sample that the kinship lacks."""
        want = sample_keys(fid, iid)
        idx = positions(self.keys, want)
        if (idx < 0).any():
            first = want[idx < 0][0]
            raise InputError(f"kinship {self.source} lacks {int((idx < 0).sum())} of the "
                             f"{want.size} analysed samples (first missing: {first}); its "
                             f"{self.keys.size} samples start with {self.keys[0]}")
        return self.K[np.ix_(idx, idx)]


# ---------------------------------------------------------------------------

def write_gcta_grm(paths, K: np.ndarray, n_snps, fid, iid) -> list:
    """GCTA binary GRM: paths = (PREFIX.grm.bin, PREFIX.grm.N.bin, PREFIX.grm.id)
    (:attr:`gwaslmm.paths.Outputs.grm`): float32 lower triangle with diagonal,
    row by row; float32 SNP count per pair; FID IID.  Each written atomically."""
    n = K.shape[0]
    rows, cols = np.tril_indices(n)
    # Row-major lower triangle: for i, j <= i.  np.tril_indices is ordered that way.
    vals = K[rows, cols].astype(np.float32)
    N = np.broadcast_to(np.asarray(n_snps, dtype=np.float32), (n, n))[rows, cols]
    with atomic_file(paths[0]) as fh:
        fh.write(vals.tobytes())
    with atomic_file(paths[1]) as fh:
        fh.write(np.ascontiguousarray(N, dtype=np.float32).tobytes())
    with atomic_text(paths[2]) as fh:
        for f, i in zip(fid, iid):
            fh.write(f"{f}\t{i}\n")
    return list(paths)


def read_gcta_grm(prefix: str) -> Kinship:
    """Read PREFIX.grm.bin/.grm.id (and .grm.N.bin for the SNP count if present)."""
    id_path, bin_path, n_path = prefix + ".grm.id", prefix + ".grm.bin", prefix + ".grm.N.bin"
    for p in (id_path, bin_path):
        if not os.path.exists(p):
            raise InputError(f"GCTA GRM '{prefix}': {p} not found")
    ids = []
    with open(id_path) as fh:
        for lineno, line in enumerate(fh, 1):
            f = line.split()
            if not f:
                continue
            if len(f) < 2:
                raise InputError(f"{id_path} line {lineno}: expected FID IID")
            ids.append(f[:2])
    n = len(ids)
    want = n * (n + 1) // 2
    size = os.path.getsize(bin_path)
    if size != 4 * want:
        raise InputError(f"{bin_path} has {size} bytes but {n} samples in {id_path} need "
                         f"{4 * want} (float32 lower triangle)")
    vals = np.fromfile(bin_path, dtype=np.float32).astype(np.float64)
    if not np.isfinite(vals).all():
        k = int(np.flatnonzero(~np.isfinite(vals))[0])
        r = int((np.sqrt(8 * k + 1) - 1) // 2)
        raise InputError(f"kinship {bin_path} has {int((~np.isfinite(vals)).sum())} non-finite "
                         f"entries (NaN or inf), first at row {r + 1}, column "
                         f"{k - r * (r + 1) // 2 + 1}: {vals[k]}")
    K = np.empty((n, n))
    rows, cols = np.tril_indices(n)
    K[rows, cols] = vals
    K[cols, rows] = vals
    n_snps = 0
    if os.path.exists(n_path) and os.path.getsize(n_path) == 4 * want:
        N = np.fromfile(n_path, dtype=np.float32, count=1)
        n_snps = int(N[0]) if N.size else 0
    ids = np.array(ids, dtype=str)
    _check_unique(ids[:, 0], ids[:, 1], id_path)
    return Kinship(K=K, fid=ids[:, 0], iid=ids[:, 1], n_snps=n_snps, source=prefix + ".grm.*")


def read_gemma_kinship(path: str, fid, iid) -> Kinship:
    """GEMMA text kinship (.cXX.txt / .sXX.txt): an n x n matrix, samples in
    the order of the .fam it was made from (``fid``/``iid``)."""
    if not os.path.exists(path):
        raise InputError(f"kinship file not found: {path}")
    import warnings

    with open(path, "r", encoding="utf-8-sig", errors="replace") as fh:
        text = fh.read()
    rows = [ln for ln in text.splitlines() if ln.strip()]
    n_rows = len(rows)
    n_cols = len(rows[0].split()) if rows else 0
    with warnings.catch_warnings():
        # numpy's text parser (3x faster than str.split + conversion, 10x faster than
        # np.loadtxt) warns, rather than raising, where it stops at a bad value
        warnings.simplefilter("error")
        try:
            vals = np.fromstring(text, dtype=np.float64, sep=" ")
        except (ValueError, DeprecationWarning) as exc:
            raise InputError(f"{path} is not a numeric matrix ({exc})") from None
    if vals.size != n_rows * n_cols:
        raise InputError(f"{path} is not a rectangular matrix ({n_rows} rows, {vals.size} "
                         f"values)")
    K = vals.reshape(n_rows, n_cols)
    n = len(fid)
    if K.shape != (n, n):
        raise InputError(f"kinship {path} is {K.shape[0]} x {K.shape[1]} but the .fam has {n} "
                         f"samples (a GEMMA kinship lists the .fam's samples in order)")
    _check_finite(K, path)
    if not np.allclose(K, K.T, atol=1e-6 * max(1.0, np.abs(K).max())):
        raise InputError(f"kinship {path} is not symmetric")
    return Kinship(K=K, fid=np.asarray(fid, str), iid=np.asarray(iid, str), n_snps=0,
                   source=path)


def _check_finite(K: np.ndarray, source: str) -> None:
    """A kinship with NaN or infinite entries (or values beyond float64's
    range, read as inf) is named as such, with the first place."""
    bad = ~np.isfinite(K)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(f"kinship {source} has {int(bad.sum())} non-finite entries (NaN, "
                         f"inf or beyond the float64 range), first at row {i + 1}, column "
                         f"{j + 1}: {K[i, j]}")


def write_gemma_kinship(path: str, K: np.ndarray) -> None:
    with atomic_file(path) as fh:
        np.savetxt(fh, K, fmt="%.10g", delimiter="\t")


def _check_unique(fid, iid, where):
    dup = duplicated(sample_keys(fid, iid))
    if dup.size:
        raise InputError(f"{where} lists sample {dup[0]} more than once")
