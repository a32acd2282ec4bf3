"""Kinship (genetic relationship matrix), built by streaming genotype blocks.

File formats are in :mod:`gwaslmm.kinship_io`.

Definitions, over the samples in the GRM (M = SNPs passing QC, x = A1 counts
mean-imputed over those samples, p = A1 frequency over those samples):

* ``standardized`` (default; FaST-LMM, LDAK): K = (1/M) sum_j z_j z_j',
  z_ij = (x_ij - 2 p_j) / sqrt(2 p_j (1 - p_j)).
* ``centered`` (GEMMA ``-gk 1``): K = (1/M) sum_j c_j c_j', c_ij = x_ij - mean_j.

A missing call is imputed with the mean, so it contributes 0 after centring.
Blocks of SNPs are accumulated with a symmetric rank-k BLAS update (dsyrk),
only the lower triangle is computed, in float64.  ``dtype=float32`` (what
``assoc --fast`` and ``grm`` use) standardizes and multiplies each block in
single precision (the full product by sgemm, about 2x the rate; OpenBLAS's
ssyrk was slower for the same lower triangle) and adds the block's sum into
the float64 total: K then carries a relative error of about 1e-7, the precision
GCTA stores a GRM in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .genotypes.base import GenotypeSource, snp_block_size
from .qc import VariantFilters, block_qc, summarize_reasons

GRM_TYPES = ("standardized", "centered")


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
    freq: np.ndarray | None = None  # effect-allele frequency used per candidate SNP
    parts: list | None = None  # with a split: one S per set (S is then None)
    m_parts: list | None = None  # SNPs per set
    part_of: np.ndarray | None = None  # set per candidate SNP (-1: none or failed QC)


def _counted(G: np.ndarray):
    """Counts of the rows G (a copy) of a block, int8 or float32 dosages."""
    from .genotypes.dosage import dosage_block
    from .genotypes.int8 import int8_block

    G = np.asfortranarray(G)
    return int8_block(G) if G.dtype == np.int8 else dosage_block(G)


def grm_sum(source: GenotypeSource, samples: np.ndarray, snp_idx: np.ndarray, grm_type: str,
            filters: VariantFilters, memory_gb: float, progress=None,
            block_size: int | None = None, dtype=np.float64, ref_rows=None,
            split=None) -> GrmSum:
    """Stream SNP blocks and accumulate S = sum_j z_j z_j' (lower triangle),
    float64; ``dtype`` is the precision of each block's product (float64 or
    float32, see the module docstring).  ``ref_rows`` (positions within
    ``samples``): QC and allele frequencies from those rows only (the
    training samples of a prediction), every row standardized with them.
    ``split`` = (k, f): k kinships in the same pass, f(positions in snp_idx,
    allele frequencies) giving each QC-passing SNP's set (0..k-1, or -1 for
    none); the sums are then in ``parts`` and ``m_parts`` (float64 only)."""
    if grm_type not in GRM_TYPES:
        raise InputError(f"unknown GRM type '{grm_type}' (choose {', '.join(GRM_TYPES)})")
    dtype = np.dtype(dtype)
    if dtype not in (np.float64, np.float32):
        raise InputError(f"GRM precision must be float64 or float32, not {dtype}")
    single = dtype == np.float32
    n = samples.size
    if split is not None:
        if single:
            raise InputError("a split kinship is built in float64")
        n_sets, set_of = split
        parts = [np.zeros((n, n), order="F") for _ in range(n_sets)]
        part_of = np.full(snp_idx.size, -1, dtype=np.int64)
    S = np.zeros((n, n), order="F") if split is None else None
    # float32: one n x n single-precision block sum, added into S per block
    T = np.zeros((n, n), dtype=np.float32) if single else None
    if block_size is None:
        block_size = snp_block_size(n, memory_gb, bytes_per_value=dtype.itemsize, copies=4,
                                    reserved_bytes=(12 if single else 8) * n * n)
    passed = np.zeros(snp_idx.size, dtype=bool)
    freq = np.full(snp_idx.size, np.nan)
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
        blk = source.read_block(samples, snp_idx[a:b])
        ref = blk if ref_rows is None else _counted(blk.G[ref_rows])
        ok, reason = block_qc(ref, n if ref_rows is None else len(ref_rows), filters)
        cols = np.flatnonzero(ok)
        p = ref.allele_freq[cols]
        freq[a + cols] = p
        scale = (1.0 / np.sqrt(2.0 * p * (1.0 - p)) if grm_type == "standardized"
                 else np.ones(cols.size))
        Z = blk.fill(cols, buf, center=2.0 * p, scale=scale, missing_value=np.zeros(cols.size))
        t1 = time.perf_counter()
        if split is not None:
            sets = np.asarray(set_of(a + cols, p), dtype=np.int64)
            part_of[a + cols] = sets
            for g in range(n_sets):
                in_g = np.flatnonzero(sets == g)
                if in_g.size:
                    syrk_update(parts[g], Z[:, in_g])
        elif not single:
            syrk_update(S, Z)
        elif Z.shape[1]:
            # the full product (sgemm), not ssyrk's lower triangle: OpenBLAS's
            # ssyrk took 0.183 s against 0.167 s for 10 blocks of 400 x 8,192,
            # the same lower-triangle bits (benchmarks/speed_pieces.py;
            # finish_grm keeps the lower triangle)
            np.matmul(Z, Z.T, out=T)
            S += T
        t_syrk += time.perf_counter() - t1
        t_read += t1 - t0
        passed[a:b] = ok
        reason_all[a:b] = reason
        if progress is not None:
            progress(b, snp_idx.size)
    out = GrmSum(S=S, m=int(passed.sum()), passed=passed,
                 reason_counts=summarize_reasons(reason_all), seconds_read=t_read,
                 seconds_syrk=t_syrk, freq=freq)
    if split is not None:
        out.parts, out.part_of = parts, part_of
        out.m_parts = [int((part_of == g).sum()) for g in range(n_sets)]
    return out


def finish_grm(S: np.ndarray, m: int, inplace: bool = False) -> np.ndarray:
    """K = S / m, symmetric (from a lower-triangle sum)."""
    if m <= 0:
        raise InputError("no SNP passed QC, so there is no kinship to build")
    K = S if inplace else S.copy(order="F")
    symmetrize_lower(K)
    K /= m
    return K
