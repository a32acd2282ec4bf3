"""int8 genotype blocks, the form every genotype source hands to the
pipeline: A1 (effect-allele) counts as int8 with -127 for a missing call,
with per-variant counts for QC, and a fill of chosen variants as floats
(mean-imputed, centred or standardized) into a reused buffer.

numba kernels in :mod:`gwaslmm.genotypes.kernels`; plain-numpy references
:func:`int8_block_reference` and :func:`fill_float_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Int8Block:
    """An int8 genotype block and its per-variant counts over the rows read
    (a :class:`gwaslmm.genotypes.base.GenotypeBlock`).

    G (n, m) int8, F-order (-127 missing); n_missing (m,) int64; allele_freq
    (m,) float64, the A1 frequency (NaN if every call is missing); constant (m,) bool;
    info (m,) float64 or None: imputation quality over the rows read (IMPUTE
    INFO from BGEN probabilities, MaCH R-squared from .pgen dosages).
    :class:`gwaslmm.genotypes.dosage.DosageBlock` is the same with float32
    dosages (NaN missing); the fill kernel takes either.
    """

    G: np.ndarray
    n_missing: np.ndarray
    allele_freq: np.ndarray
    constant: np.ndarray
    info: np.ndarray | None = None  # imputation quality (m,), where the source gives one

    @property
    def mean(self) -> np.ndarray:
        return 2.0 * self.allele_freq

    def fill(self, cols, out: np.ndarray, center=None, scale=None,
             missing_value=None) -> np.ndarray:
        """Variants ``cols`` as floats (out's dtype: float64 or float32) in
        ``out[:, :len(cols)]``, a reused F-order buffer: (x - center) * scale
        with missing calls set to ``missing_value``; defaults: mean imputation
        of the raw counts.  Returns the view (numba kernel; reference
        :func:`fill_float_reference`)."""
        from .kernels import int8_fill_kernel

        cols = np.asarray(cols, dtype=np.int64)
        k = cols.size
        mean = self.mean[cols]
        center = np.zeros(k) if center is None else np.asarray(center, dtype=float)
        scale = np.ones(k) if scale is None else np.asarray(scale, dtype=float)
        missing_value = mean if missing_value is None else np.asarray(missing_value, dtype=float)
        int8_fill_kernel(self.G, cols, center, scale, missing_value, out)
        return out[:, :k]


def int8_block(G: np.ndarray) -> Int8Block:
    """Counts of an int8 block (numba kernel; reference :func:`int8_block_reference`)."""
    from .kernels import int8_stats_kernel

    m = G.shape[1]
    n_missing = np.empty(m, dtype=np.int64)
    sums = np.empty(m)
    constant = np.empty(m, dtype=bool)
    G = np.asfortranarray(G)
    int8_stats_kernel(G, n_missing, sums, constant)
    return make_block(G, n_missing, sums, constant)


def make_block(G, n_missing, sums, constant) -> Int8Block:
    """An Int8Block from G and its counts (as the kernels fill them: sums of
    the non-missing counts, float64); the A1 frequency is NaN where every call
    is missing."""
    n_obs = G.shape[0] - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        af = np.where(n_obs > 0, sums / np.maximum(n_obs, 1), np.nan) / 2.0
    return Int8Block(G=G, n_missing=n_missing, allele_freq=af, constant=constant)


def int8_block_reference(G: np.ndarray) -> Int8Block:
    """Plain-numpy :func:`int8_block` (the reference for its numba kernel)."""
    miss = G < 0
    n_missing = miss.sum(axis=0).astype(np.int64)
    n_obs = G.shape[0] - n_missing
    x = np.where(miss, 0, G).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        af = np.where(n_obs > 0, x.sum(axis=0) / np.maximum(n_obs, 1), np.nan) / 2.0
    lo = np.where(miss, 127, G).min(axis=0)
    hi = np.where(miss, -127, G).max(axis=0)
    return Int8Block(G=G, n_missing=n_missing, allele_freq=af,
                     constant=(n_obs == 0) | (lo == hi))


def fill_float_reference(blk: Int8Block, cols: np.ndarray, center=None, scale=None,
                         missing_value=None) -> np.ndarray:
    """Plain-numpy :meth:`Int8Block.fill`: a new (n, len(cols)) float64 array."""
    k = len(cols)
    center = np.zeros(k) if center is None else np.asarray(center, dtype=float)
    scale = np.ones(k) if scale is None else np.asarray(scale, dtype=float)
    mv = blk.mean[cols] if missing_value is None else np.asarray(missing_value, dtype=float)
    G = blk.G[:, cols]
    return np.where(G < 0, mv, (G - center) * scale)
