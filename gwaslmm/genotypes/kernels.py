"""numba kernels for int8 genotype blocks; references: gwaslmm.genotypes.plink1.int8_block_reference
and gwaslmm.genotypes.plink1.fill_float_reference."""

from .._jit import jit


@jit()
def int8_stats_kernel(G, n_missing, sums, constant):
    """Per-SNP counts from an int8 block of A1 counts (-127 = missing).

    G (n, m) int8 Fortran order; fills n_missing (m,) int64, sums (m,) float64
    (sum of the non-missing counts) and constant (m,) bool (every non-missing
    call equal, or none).
    """
    n, m = G.shape
    for j in range(m):
        k = 0
        tot = 0
        lo = 127
        hi = -127
        for i in range(n):
            v = G[i, j]
            if v < 0:
                k += 1
            else:
                tot += v
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
        n_missing[j] = k
        sums[j] = tot
        constant[j] = k == n or lo == hi


@jit()
def int8_fill_kernel(G, cols, center, scale, missing_value, out):
    """out[:, k] = (G[:, cols[k]] - center[k]) * scale[k], missing -> missing_value[k].

    G (n, m) int8 (-127 missing); cols (m_out,) int64; center, scale,
    missing_value (m_out,) float64; out (n, >= m_out) float64 or float32, Fortran
    order (computed in float64, rounded once on store).
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
            if v < 0:
                out[i, k] = mv
            else:
                out[i, k] = (v - c) * s
