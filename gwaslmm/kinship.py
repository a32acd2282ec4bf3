"""Kinship (genetic relationship matrix): streamed build and file formats.

Definitions, over the samples in the GRM (M = SNPs passing QC, x = A1 counts
mean-imputed over those samples, p = A1 frequency over those samples):

* ``standardized`` (default; FaST-LMM, LDAK): K = (1/M) sum_j z_j z_j',
  z_ij = (x_ij - 2 p_j) / sqrt(2 p_j (1 - p_j)).
* ``centered`` (GEMMA ``-gk 1``): K = (1/M) sum_j c_j c_j', c_ij = x_ij - mean_j.

A missing call is imputed with the mean, so it contributes 0 after centring.
Blocks of SNPs are accumulated with a symmetric rank-k BLAS update (dsyrk),
only the lower triangle is computed, in float64.  ``dtype=float32`` (what
``assoc --fast`` uses) standardizes and multiplies each block in single
precision (ssyrk, about 2x the rate) and adds the block's sum into the
float64 total: K then carries a relative error of about 1e-7, the precision
GCTA stores a GRM in.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .genotypes import BedFile, fill_float, int8_block, snp_block_size
from .qc import VariantFilters, summarize_reasons, variant_qc_counts

GRM_TYPES = ("standardized", "centered")


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
        return np.char.add(np.char.add(self.fid.astype(str), " "), self.iid.astype(str))

    def subset(self, fid, iid) -> np.ndarray:
        """K restricted and ordered to the given samples; error naming the first
        sample that the kinship lacks."""
        want = np.char.add(np.char.add(np.asarray(fid, str), " "), np.asarray(iid, str))
        pos = {k: i for i, k in enumerate(self.keys)}
        idx = np.array([pos.get(k, -1) for k in want])
        if (idx < 0).any():
            first = want[idx < 0][0]
            raise InputError(f"kinship {self.source} lacks {int((idx < 0).sum())} of the "
                             f"{want.size} analysed samples (first missing: {first}); its "
                             f"{self.keys.size} samples start with {self.keys[0]}")
        return self.K[np.ix_(idx, idx)]


def syrk_update(S: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """S += Z Z' on the lower triangle (BLAS dsyrk).  S (n, n) float64 F-order,
    Z (n, b) float64."""
    from scipy.linalg.blas import dsyrk

    if Z.shape[1] == 0:
        return S
    out = dsyrk(1.0, np.asfortranarray(Z), beta=1.0, c=S, trans=0, lower=1, overwrite_c=1)
    if out is not S:  # dsyrk may return a copy if S was not F-contiguous
        S[...] = out
    return S


def symmetrize_lower(S: np.ndarray) -> np.ndarray:
    """Copy the lower triangle to the upper one, in place."""
    iu = np.triu_indices(S.shape[0], 1)
    S[iu] = S.T[iu]
    return S


@dataclass
class GrmSum:
    """Unnormalized GRM pieces: S = sum over SNPs of z z' (lower triangle
    filled unless ``symmetric``), over ``m`` SNPs."""

    S: np.ndarray
    m: int
    passed: np.ndarray  # bool per candidate SNP
    reason_counts: dict
    seconds_read: float
    seconds_syrk: float


def grm_sum(bed: BedFile, samples: np.ndarray, snp_idx: np.ndarray, grm_type: str,
            filters: VariantFilters, memory_gb: float, progress=None,
            block_size: int | None = None, dtype=np.float64) -> GrmSum:
    """Stream SNP blocks and accumulate S = sum_j z_j z_j' (lower triangle),
    float64; ``dtype`` is the precision of each block's product (float64 or
    float32, see the module docstring)."""
    from scipy.linalg.blas import ssyrk

    if grm_type not in GRM_TYPES:
        raise InputError(f"unknown GRM type '{grm_type}' (choose {', '.join(GRM_TYPES)})")
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise InputError(f"GRM precision must be float64 or float32, not {dtype}")
    single = dtype == np.float32
    n = samples.size
    S = np.zeros((n, n), order="F")
    # float32: one n x n single-precision block sum, added into S per block
    T = np.zeros((n, n), order="F", dtype=np.float32) if single else None
    if block_size is None:
        block_size = snp_block_size(n, memory_gb, bytes_per_value=dtype.itemsize, copies=4,
                                    reserved_bytes=(12 if single else 8) * n * n)
    passed = np.zeros(snp_idx.size, dtype=bool)
    reason_all = np.full(snp_idx.size, -1, dtype=np.int8)
    t_read = t_syrk = 0.0
    blocks = [(a, min(snp_idx.size, a + block_size)) for a in range(0, snp_idx.size, block_size)]

    buf = np.empty((n, min(block_size, max(1, snp_idx.size))), order="F", dtype=dtype)
    for a, b in blocks:
        # Sequential on purpose: preparing the next block in a worker thread while
        # BLAS accumulates was measured slower here (4.8 s vs 3.7 s at 2,000 x
        # 20,000 on 2 cores): the two compete for the same cores.  Blocks are
        # read as int8 and standardized into one reused float64 buffer.
        t0 = time.perf_counter()
        blk = int8_block(bed.read_int8(samples, snp_idx[a:b]))
        ok, reason = variant_qc_counts(n, blk.n_missing, blk.a1_freq, blk.constant, filters)
        cols = np.flatnonzero(ok)
        p = blk.a1_freq[cols]
        scale = (1.0 / np.sqrt(2.0 * p * (1.0 - p)) if grm_type == "standardized"
                 else np.ones(cols.size))
        Z = fill_float(blk, cols, buf, center=2.0 * p, scale=scale,
                       missing_value=np.zeros(cols.size))
        t1 = time.perf_counter()
        if not single:
            syrk_update(S, Z)
        elif Z.shape[1]:
            T = ssyrk(1.0, Z, beta=0.0, c=T, trans=0, lower=1, overwrite_c=1)
            S += T  # the upper triangle of T stays 0
        t_syrk += time.perf_counter() - t1
        t_read += t1 - t0
        passed[a:b] = ok
        reason_all[a:b] = reason
        if progress is not None:
            progress(b, snp_idx.size)
    return GrmSum(S=S, m=int(passed.sum()), passed=passed,
                  reason_counts=summarize_reasons(reason_all), seconds_read=t_read,
                  seconds_syrk=t_syrk)


def finish_grm(S: np.ndarray, m: int, inplace: bool = False) -> np.ndarray:
    """K = S / m, symmetric (from a lower-triangle sum)."""
    if m <= 0:
        raise InputError("no SNP passed QC, so there is no kinship to build")
    K = S if inplace else S.copy(order="F")
    symmetrize_lower(K)
    K /= m
    return K


# ---------------------------------------------------------------------------
# File formats
# ---------------------------------------------------------------------------

def write_gcta_grm(prefix: str, K: np.ndarray, n_snps, fid, iid) -> list:
    """GCTA binary GRM: PREFIX.grm.bin (float32 lower triangle with diagonal,
    row by row), PREFIX.grm.N.bin (float32 SNP count per pair), PREFIX.grm.id.
    Written to temporary names and renamed.  Returns the paths."""
    n = K.shape[0]
    rows, cols = np.tril_indices(n)
    # Row-major lower triangle: for i, j <= i.  np.tril_indices is ordered that way.
    vals = K[rows, cols].astype(np.float32)
    N = np.broadcast_to(np.asarray(n_snps, dtype=np.float32), (n, n))[rows, cols]
    paths = [prefix + ".grm.bin", prefix + ".grm.N.bin", prefix + ".grm.id"]
    tmp = [p + ".partial" for p in paths]
    vals.tofile(tmp[0])
    np.ascontiguousarray(N, dtype=np.float32).tofile(tmp[1])
    with open(tmp[2], "w") as fh:
        for f, i in zip(fid, iid):
            fh.write(f"{f}\t{i}\n")
    for t, p in zip(tmp, paths):
        os.replace(t, p)
    return paths


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

    with open(path, "r") as fh:
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
    if not np.allclose(K, K.T, atol=1e-6 * max(1.0, np.abs(K).max())):
        raise InputError(f"kinship {path} is not symmetric")
    return Kinship(K=K, fid=np.asarray(fid, str), iid=np.asarray(iid, str), n_snps=0,
                   source=path)


def write_gemma_kinship(path: str, K: np.ndarray) -> None:
    tmp = path + ".partial"
    np.savetxt(tmp, K, fmt="%.10g", delimiter="\t")
    os.replace(tmp, path)


def _check_unique(fid, iid, where):
    keys = np.char.add(np.char.add(fid, " "), iid)
    u, c = np.unique(keys, return_counts=True)
    if (c > 1).any():
        raise InputError(f"{where} lists sample {u[c > 1][0]} more than once")
