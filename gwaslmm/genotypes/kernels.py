"""numba kernels for int8 genotype blocks; references: gwaslmm.genotypes.int8.int8_block_reference,
gwaslmm.genotypes.int8.fill_float_reference and, for the .bed decoders,
bed-reader (``read(dtype='int8', count_A1=True)``) with int8_block_reference
(gwaslmm.genotypes.plink1.decode_bed_reference is their plain-numpy twin)."""

import numpy as np

from .._jit import jit

# A .bed genotype code (two bits) -> A1 count, -127 missing (00 hom A1, 01
# missing, 10 het, 11 hom A2), its contribution to the count sum, to the
# missing count, and a bit for "this count was seen" (counts 0, 1, 2 -> 1, 2, 4).
CODE_VALUE = np.array([2, -127, 1, 0], dtype=np.int8)
CODE_SUM = np.array([2, 0, 1, 0], dtype=np.int64)
CODE_MISSING = np.array([0, 1, 0, 0], dtype=np.int64)
CODE_SEEN = np.array([4, 0, 2, 1], dtype=np.int64)


def _byte_tables():
    """The same for a whole byte (four samples): values (256, 4) int8 and the
    byte's missing count, count sum and seen bits (256,) int64."""
    codes = (np.arange(256)[:, None] >> (2 * np.arange(4))[None, :]) & 3
    seen = np.bitwise_or.reduce(CODE_SEEN[codes], axis=1)
    return (CODE_VALUE[codes], CODE_MISSING[codes].sum(axis=1), CODE_SUM[codes].sum(axis=1),
            seen)


BYTE_VALUE, BYTE_MISSING, BYTE_SUM, BYTE_SEEN = _byte_tables()


@jit()
def int8_stats_kernel(G, n_missing, sums, constant):
    """Per-SNP counts from an int8 block of A1 counts (-127 = missing; any
    other negative value, such as pgenlib's -9, is set to -127 here).

    G (n, m) int8 Fortran order; fills n_missing (m,) int64, sums (m,) float64
    (sum of the non-missing counts) and constant (m,) bool (every non-missing
    call equal, or none).  Branch-free inner loop (selects and bit masks),
    which LLVM vectorizes.
    """
    n, m = G.shape
    for j in range(m):
        k = 0
        tot = 0
        seen = 0
        other = 0
        for i in range(n):
            v = np.int64(G[i, j])
            miss = v < 0
            k += miss
            tot += 0 if miss else v
            seen |= np.int64(1) << (np.int64(3) if miss else v)
            other |= miss and v != -127
        if other:
            for i in range(n):
                if G[i, j] < 0:
                    G[i, j] = -127
        n_missing[j] = k
        sums[j] = tot
        s = seen & 7  # bits of the counts 0, 1, 2 present
        constant[j] = s == 0 or s == 1 or s == 2 or s == 4


@jit()
def int8_fill_kernel(G, cols, center, scale, missing_value, out):
    """out[:, k] = (G[:, cols[k]] - center[k]) * scale[k], missing -> missing_value[k].

    G (n, m) int8 (negative = missing) or float32 dosages (NaN = missing);
    cols (m_out,) int64; center, scale, missing_value (m_out,) float64; out
    (n, >= m_out) float64 or float32, Fortran order (computed in float64,
    rounded once on store).
    With center = 0, scale = 1, missing_value = mean this is mean imputation;
    with center = mean, missing_value = 0 it is centring (standardizing with
    scale = 1/sd).
    """
    n = G.shape[0]
    for k in range(cols.size):
        j = cols[k]
        c = center[k]
        s = scale[k]
        mv = missing_value[k]
        for i in range(n):
            v = G[i, j]
            if v < 0 or v != v:  # int8 missing, or NaN
                out[i, k] = mv
            else:
                out[i, k] = (v - c) * s


@jit()
def _store_counts(j, k, tot, seen, n_missing, sums, constant):
    """Variant j's counts: k missing calls, count sum tot, ``seen`` the bits of
    the counts present (constant: at most one of them)."""
    n_missing[j] = k
    sums[j] = tot
    constant[j] = seen == 0 or seen == 1 or seen == 2 or seen == 4


@jit()
def bed_decode_all_kernel(raw, n, byte_value, byte_missing, byte_sum, byte_seen, code_value,
                          code_missing, code_sum, code_seen, G, n_missing, sums, constant):
    """Decode PLINK 1 .bed rows of every sample into int8 A1 counts and their
    per-variant counts in one pass, a byte (four samples) per table lookup.

    raw (m, bytes_per_variant) uint8: the variants' .bed rows (two bits per
    sample, first sample in the lowest bits, the last byte padded); n: the
    sample count; the tables are this module's BYTE_* and CODE_* arrays.
    Fills G (n, m) int8 Fortran order (-127 missing) and, as
    int8_stats_kernel does, n_missing (m,) int64, sums (m,) float64 and
    constant (m,) bool.
    """
    m = raw.shape[0]
    whole = n // 4
    rest = n - 4 * whole
    for j in range(m):
        k = 0
        tot = 0
        seen = 0
        for b in range(whole):
            x = raw[j, b]
            i = 4 * b
            G[i, j] = byte_value[x, 0]
            G[i + 1, j] = byte_value[x, 1]
            G[i + 2, j] = byte_value[x, 2]
            G[i + 3, j] = byte_value[x, 3]
            k += byte_missing[x]
            tot += byte_sum[x]
            seen |= byte_seen[x]
        if rest:
            x = raw[j, whole]
            for q in range(rest):
                c = (x >> (2 * q)) & 3
                G[4 * whole + q, j] = code_value[c]
                k += code_missing[c]
                tot += code_sum[c]
                seen |= code_seen[c]
        _store_counts(j, k, tot, seen, n_missing, sums, constant)


@jit()
def bed_decode_subset_kernel(raw, byte_idx, shift, code_value, code_missing, code_sum,
                             code_seen, G, n_missing, sums, constant):
    """bed_decode_all_kernel for chosen samples, in any order: sample i of
    the output is the two bits at ``raw[:, byte_idx[i]] >> shift[i]``
    (byte_idx, shift (n,) int64: ``s // 4`` and ``2 * (s % 4)`` of its .fam
    row s).  G (n, m) int8 Fortran order; n_missing, sums, constant as there.
    """
    m = raw.shape[0]
    n = byte_idx.size
    for j in range(m):
        k = 0
        tot = 0
        seen = 0
        for i in range(n):
            c = (raw[j, byte_idx[i]] >> shift[i]) & 3
            G[i, j] = code_value[c]
            k += code_missing[c]
            tot += code_sum[c]
            seen |= code_seen[c]
        _store_counts(j, k, tot, seen, n_missing, sums, constant)


@jit()
def dosage_stats_kernel(G, n_missing, sums, constant, sumsq):
    """int8_stats_kernel for a float dosage block: G (n, m) float32 Fortran
    order, NaN (or any negative value, pgenlib's -9, which is set to NaN
    here) for a missing dosage; constant: every present dosage equal;
    sumsq (m,) float64: the sum of the squared present dosages."""
    n, m = G.shape
    for j in range(m):
        k = 0
        tot = 0.0
        tot2 = 0.0
        lo = np.inf
        hi = -np.inf
        for i in range(n):
            v = G[i, j]
            if v >= 0:  # False for NaN
                x = np.float64(v)
                tot += x
                tot2 += x * x
                lo = min(lo, x)
                hi = max(hi, x)
            else:
                G[i, j] = np.nan
                k += 1
        n_missing[j] = k
        sums[j] = tot
        sumsq[j] = tot2
        constant[j] = not lo < hi
