"""Dosage blocks: expected effect-allele counts in [0, 2] as float32 (NaN
for a missing dosage), the float twin of :class:`gwaslmm.genotypes.int8.Int8Block`
with the same counts and fill.  A block of hard calls read as dosages
(0, 1, 2 exactly) gives the same counts and the same filled values as its
int8 block (tested), so every model downstream sees one kind of block.

numba kernels ``dosage_stats_kernel`` and ``int8_fill_kernel`` (which
takes either dtype) in :mod:`gwaslmm.genotypes.kernels`; plain-numpy references
:func:`dosage_block_reference` and :func:`dosage_fill_reference`.
"""

from __future__ import annotations

import numpy as np

from .int8 import Int8Block, make_block


class DosageBlock(Int8Block):
    """G (n, m) float32 F-order (NaN missing); n_missing (m,) int64;
    allele_freq (m,) float64 (mean dosage / 2 over the present ones);
    constant (m,) bool.  ``mean`` and ``fill`` are the int8 block's (its
    fill kernel treats NaN as missing)."""


def mach_r2(sums: np.ndarray, sumsq: np.ndarray, n_obs: np.ndarray) -> np.ndarray:
    """MaCH's R-squared per variant from the sum and sum of squares of the
    present dosages: (mean(d^2) - mean(d)^2) / (2 p (1 - p)), p = mean(d) / 2;
    1 where p is 0 or 1 or no dosage is present (REFERENCES-2.md, as minimac
    and plink2's MACH_R2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums / n_obs
        p = mean / 2.0
        den = 2.0 * p * (1.0 - p)
        return np.where((n_obs > 0) & (den > 0), (sumsq / n_obs - mean * mean) / den, 1.0)


def dosage_block(G: np.ndarray) -> DosageBlock:
    """Counts of a float32 dosage block, with MaCH's R-squared in ``info``
    (numba kernel; negative values, a reader's missing code, become NaN in
    place)."""
    from .kernels import dosage_stats_kernel

    G = np.asfortranarray(G, dtype=np.float32)
    m = G.shape[1]
    n_missing = np.empty(m, dtype=np.int64)
    sums = np.empty(m)
    sumsq = np.empty(m)
    constant = np.empty(m, dtype=bool)
    dosage_stats_kernel(G, n_missing, sums, constant, sumsq)
    return dosage_block_of(G, n_missing, sums, constant, sumsq)


def dosage_block_of(G, n_missing, sums, constant, sumsq) -> DosageBlock:
    """A DosageBlock from G and the counts :func:`dosage_stats_kernel` filled."""
    b = make_block(G, n_missing, sums, constant)
    return DosageBlock(G=G, n_missing=b.n_missing, allele_freq=b.allele_freq,
                       constant=b.constant, info=mach_r2(sums, sumsq, G.shape[0] - n_missing))


def dosage_block_reference(G: np.ndarray) -> DosageBlock:
    """Plain-numpy :func:`dosage_block`."""
    miss = np.isnan(G)
    n_missing = miss.sum(axis=0).astype(np.int64)
    n_obs = G.shape[0] - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        af = np.where(n_obs > 0, np.nansum(G.astype(np.float64), axis=0) / np.maximum(n_obs, 1),
                      np.nan) / 2.0
    lo = np.nanmin(np.where(miss, np.inf, G), axis=0)
    hi = np.nanmax(np.where(miss, -np.inf, G), axis=0)
    x = np.where(miss, 0.0, G.astype(np.float64))
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (x * x).sum(axis=0) / n_obs - (x.sum(axis=0) / n_obs) ** 2
        het = 2 * af * (1 - af)
        r2 = np.where((n_obs > 0) & (het > 0), var / het, 1.0)
    return DosageBlock(G=G, n_missing=n_missing, allele_freq=af,
                       constant=(n_obs == 0) | (lo == hi), info=r2)


def dosage_fill_reference(blk: DosageBlock, cols, center=None, scale=None,
                          missing_value=None) -> np.ndarray:
    """Plain-numpy :meth:`DosageBlock.fill`: a new (n, len(cols)) float64 array."""
    k = len(cols)
    center = np.zeros(k) if center is None else np.asarray(center, dtype=float)
    scale = np.ones(k) if scale is None else np.asarray(scale, dtype=float)
    mv = blk.mean[cols] if missing_value is None else np.asarray(missing_value, dtype=float)
    G = blk.G[:, cols].astype(np.float64)
    return np.where(np.isnan(G), mv, (G - center) * scale)
