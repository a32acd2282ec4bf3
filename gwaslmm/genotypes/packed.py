"""Genotypes held in memory at 2 bits per call, for the large-sample (CG) engine.

The CG engine multiplies by the kinship K = Z Z' / M without forming it: Z
(n x M) holds the standardized genotypes z = (x - 2p) / sqrt(2p(1-p))
(``centered`` GRM type: z = x - 2p), missing calls 0 -- the definition of
:func:`gwaslmm.kinship.grm_sum`, with the same QC, so K equals the dense
engine's kinship.  Z is never stored as floats: each variant's calls over
the analysed samples are packed 4 to a byte (codes 0, 1, 2 = effect-allele
count, 3 = missing; n M / 4 bytes, like a .bed) and decoded block by block
into a float buffer that feeds BLAS (:func:`decode_standardized`).

numba kernels with plain-numpy references (:func:`pack_reference`,
:func:`decode_reference`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from numba import prange

from .._jit import jit
from ..errors import InputError

MISSING_CODE = 3


@dataclass(frozen=True)
class PackedGenotypes:
    """Standardized genotypes of M variants over n samples, packed.

    codes : ndarray (M, ceil(n / 4)), uint8, C-order; sample i of variant j
        in bits 2(i % 4) of byte i // 4 (0, 1, 2 the count, 3 missing).
    center, scale : ndarray (M,), float64 -- z = (x - center) * scale.
    chrom : ndarray (M,), int32 -- index into ``chromosomes``.
    chromosomes : tuple of str, the labels.
    variant_idx : ndarray (M,), int64 -- the variants' indices in the source.
    centred_sumsq : ndarray (M,), float64 -- sum_i (z_ij - mean_i z_ij)^2, the
        variant's share of tr(Kc) * M (for h2 = sigma_g^2 t / (sigma_g^2 t + sigma_e^2)).
    """

    n: int
    codes: np.ndarray
    center: np.ndarray
    scale: np.ndarray
    chrom: np.ndarray
    chromosomes: tuple
    variant_idx: np.ndarray
    centred_sumsq: np.ndarray

    @property
    def m(self) -> int:
        return int(self.center.size)

    @property
    def nbytes(self) -> int:
        return int(self.codes.nbytes)

    def runs(self, max_block: int) -> list:
        """Blocks (a, b) of at most ``max_block`` variants, none spanning two
        chromosomes (a LOCO mask drops whole blocks)."""
        out = []
        change = np.flatnonzero(np.diff(self.chrom)) + 1
        starts = np.concatenate([[0], change])
        ends = np.concatenate([change, [self.m]])
        for s, e in zip(starts.tolist(), ends.tolist()):
            for a in range(s, e, max_block):
                out.append((a, min(e, a + max_block)))
        return out

    def decode(self, a: int, b: int, out: np.ndarray) -> np.ndarray:
        """Variants a..b-1 as standardized floats into ``out[:, :b-a]`` (out
        (n, >= b-a), float32 or float64, F-order); returns that view."""
        decode_standardized(self.codes, a, b, self.center, self.scale, out)
        return out[:, :b - a]


@jit()
def pack_int8(G, cols, center, out, row0, sumsq):
    """Pack columns ``cols`` of an int8 block G (n, m) F-order (counts 0..2,
    negative = missing) into rows row0.. of ``out`` (M, ceil(n/4)) uint8;
    sumsq[t] = sum over the observed calls of (x - center[t])^2."""
    n = G.shape[0]
    nb = out.shape[1]
    for t in range(cols.size):
        j = cols[t]
        r = row0 + t
        c = center[t]
        ss = 0.0
        for k in range(nb):
            byte = 0
            for s in range(4):
                i = 4 * k + s
                code = 0
                if i < n:
                    v = G[i, j]
                    if v < 0:
                        code = 3
                    else:
                        code = v
                        ss += (v - c) * (v - c)
                byte |= code << (2 * s)
            out[r, k] = byte
        sumsq[t] = ss


def pack_reference(G: np.ndarray) -> np.ndarray:
    """Plain-numpy :func:`pack_int8` of every column: (m, ceil(n/4)) uint8."""
    n, m = G.shape
    nb = (n + 3) // 4
    codes = np.where(G < 0, MISSING_CODE, G).astype(np.uint8).T  # (m, n)
    padded = np.zeros((m, 4 * nb), dtype=np.uint8)
    padded[:, :n] = codes
    quads = padded.reshape(m, nb, 4).astype(np.uint16)
    return (quads[..., 0] | (quads[..., 1] << 2) | (quads[..., 2] << 4)
            | (quads[..., 3] << 6)).astype(np.uint8)


@jit(parallel=True)
def decode_standardized(codes, a, b, center, scale, out):
    """Variants a..b-1 of ``codes`` (M, nb) uint8 as (x - center) * scale,
    missing 0, into out (n, >= b-a) float32/float64 F-order, parallel over
    variants, by a 256-entry table per variant (the four values of a packed
    byte, one table row per byte: fewer operations per genotype than a
    4-entry table per 2-bit code once n is large against the 1,024 entries)."""
    n = out.shape[0]
    nb = codes.shape[1]
    full = n // 4
    for t in prange(b - a):
        j = a + t
        c = center[j]
        s = scale[j]
        vals = np.empty(4, dtype=out.dtype)
        vals[0] = (0.0 - c) * s
        vals[1] = (1.0 - c) * s
        vals[2] = (2.0 - c) * s
        vals[3] = 0.0
        tab = np.empty((256, 4), dtype=out.dtype)
        for byte in range(256):
            tab[byte, 0] = vals[byte & 3]
            tab[byte, 1] = vals[(byte >> 2) & 3]
            tab[byte, 2] = vals[(byte >> 4) & 3]
            tab[byte, 3] = vals[(byte >> 6) & 3]
        for k in range(full):
            row = tab[codes[j, k]]
            i = 4 * k
            out[i, t] = row[0]
            out[i + 1, t] = row[1]
            out[i + 2, t] = row[2]
            out[i + 3, t] = row[3]
        if full < nb:
            byte = codes[j, full]
            for i in range(4 * full, n):
                out[i, t] = vals[(byte >> (2 * (i - 4 * full))) & 3]


def decode_reference(packed: PackedGenotypes, a: int, b: int) -> np.ndarray:
    """Plain-numpy :meth:`PackedGenotypes.decode`: (n, b-a) float64."""
    codes = packed.codes[a:b]
    shifts = (2 * np.arange(4)).astype(np.uint8)
    calls = ((codes[:, :, None] >> shifts) & 3).reshape(b - a, -1)[:, :packed.n].T
    z = (calls - packed.center[a:b]) * packed.scale[a:b]
    return np.where(calls == MISSING_CODE, 0.0, z)


def pack_source(source, samples: np.ndarray, variant_idx: np.ndarray, grm_type: str, filters,
                memory_gb: float, progress=None, block_size: int | None = None):
    """Read variants ``variant_idx`` of the analysed ``samples`` in blocks, QC
    them as the kinship builder does and pack those that pass.

    Returns (PackedGenotypes, passed (len(variant_idx),) bool, reason counts,
    seconds).  Hard calls only: a source of dosages is an error."""
    from ..chromosomes import chromosome_sort_key
    from ..qc import block_qc, summarize_reasons
    from .base import snp_block_size
    from .int8 import Int8Block

    t0 = time.perf_counter()
    n = samples.size
    nb = (n + 3) // 4
    if block_size is None:
        block_size = snp_block_size(n, memory_gb, bytes_per_value=1, copies=4, max_block=2048)
    labels = sorted(set(source.variants.chromosome[variant_idx].tolist()),
                    key=chromosome_sort_key)
    code_of = {c: i for i, c in enumerate(labels)}
    codes = np.empty((variant_idx.size, nb), dtype=np.uint8)
    center = np.empty(variant_idx.size)
    scale = np.empty(variant_idx.size)
    csq = np.empty(variant_idx.size)
    passed = np.zeros(variant_idx.size, dtype=bool)
    reasons = np.full(variant_idx.size, -1, dtype=np.int8)
    row = 0
    for a in range(0, variant_idx.size, block_size):
        b = min(variant_idx.size, a + block_size)
        blk = source.read_block(samples, variant_idx[a:b])
        if not isinstance(blk, Int8Block):
            raise InputError(f"--engine cg keeps hard calls at 2 bits per genotype; "
                             f"{source.path} gives dosages: use the dense engine, or hard "
                             f"calls (.bed, or a .pgen without dosages)")
        ok, reason = block_qc(blk, n, filters)
        cols = np.flatnonzero(ok)
        passed[a:b], reasons[a:b] = ok, reason
        p = blk.allele_freq[cols]
        k = cols.size
        center[row:row + k] = 2.0 * p
        scale[row:row + k] = (1.0 / np.sqrt(2.0 * p * (1.0 - p)) if grm_type == "standardized"
                              else 1.0)
        obs_sumsq = np.empty(k)
        pack_int8(blk.G, cols.astype(np.int64), center[row:row + k], codes, row, obs_sumsq)
        # z sums to 0 over the samples (p is the observed calls' mean, missing z = 0),
        # so its centred sum of squares is scale^2 times the observed one
        csq[row:row + k] = scale[row:row + k] ** 2 * obs_sumsq
        row += k
        if progress is not None:
            progress(b, variant_idx.size)
    keep = np.flatnonzero(passed)
    m = keep.size
    if m == 0:
        raise InputError("no SNP passed QC, so there is no kinship to build")
    chrom = np.array([code_of[c] for c in source.variants.chromosome[variant_idx[keep]]],
                     dtype=np.int32)
    packed = PackedGenotypes(n=n, codes=codes[:m] if m < codes.shape[0] else codes,
                             center=center[:m], scale=scale[:m], chrom=chrom,
                             chromosomes=tuple(labels), variant_idx=variant_idx[keep],
                             centred_sumsq=csq[:m])
    return packed, passed, summarize_reasons(reasons), time.perf_counter() - t0
