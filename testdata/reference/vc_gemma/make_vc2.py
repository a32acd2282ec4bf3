"""A two-kinship phenotype on the bundled simulation, for GEMMA -vc 2 -mk.

    python make_vc2.py K1_PREFIX K2_PREFIX SCRATCH_DIR [OUT_DIR]

K1_PREFIX / K2_PREFIX are GCTA binary GRMs (PREFIX.grm.bin, float32 lower
triangle with diagonal, row by row; PREFIX.grm.id) written by
`gwaslmm grm --bfile testdata/sim --chr 1-4` and `--chr 5-8`.  numpy only,
fixed seed (20261127), deterministic:

    y = 1 + 0.3 c + g1 + g2 + eps,   c ~ N(0, 1),
    g1 ~ N(0, 0.4 K1),  g2 ~ N(0, 0.3 K2),  eps ~ N(0, 0.3 I).

g_k = sqrt(s_k) L_k z_k with L_k the Cholesky factor of K_k + j_k I, where
j_k = 1e-6 * mean(diag K_k) is a tiny jitter: a standardized GRM is
singular (K 1 = 0, the genotypes are centred), so plain Cholesky fails.
Cholesky (unlike an eigendecomposition) is unique, so the draw does not
depend on eigenvector signs chosen by the LAPACK build.  Draw order:
z1, z2, eps, c (each n standard normals from one Generator(PCG64)).

Writes into OUT_DIR (default: this script's folder)
    vc2.pheno       one value per line, .fam order (GEMMA -p)
    vc2.pheno.tsv   FID IID y (tab separated, header)
    vc2.covar       '1<TAB>c' per line, .fam order (GEMMA -c: intercept + c)
    vc2.covar.tsv   FID IID c (tab separated, header)
and into SCRATCH_DIR (not committed, ~17 MB each)
    k1.txt, k2.txt  the two GRMs as n x n GEMMA text matrices ('%.9g', which
                    round-trips float32 exactly, so GEMMA sees the GRM bits)
    kin_list.txt    the two paths, one per line (GEMMA -mk)
"""

import os
import sys

import numpy as np

SEED = 20261127
S1, S2, SE, BETA_C, MU = 0.4, 0.3, 0.3, 0.3, 1.0
HERE = os.path.dirname(os.path.abspath(__file__))


def read_grm(prefix):
    ids = [tuple(ln.split()[:2]) for ln in open(prefix + ".grm.id").read().splitlines()]
    n = len(ids)
    tri = np.fromfile(prefix + ".grm.bin", dtype="<f4")
    if tri.size != n * (n + 1) // 2:
        raise SystemExit(f"{prefix}.grm.bin: {tri.size} values, expected {n * (n + 1) // 2}")
    K = np.zeros((n, n), dtype=np.float64)
    K[np.tril_indices(n)] = tri  # row-major lower triangle == tril_indices order
    K = K + K.T - np.diag(np.diag(K))
    return ids, K


def chol_jitter(K):
    jit = 1e-6 * float(np.mean(np.diag(K)))
    return np.linalg.cholesky(K + jit * np.eye(K.shape[0])), jit


def main():
    if len(sys.argv) not in (4, 5):
        raise SystemExit(__doc__)
    p1, p2, scratch = sys.argv[1:4]
    out = sys.argv[4] if len(sys.argv) == 5 else HERE
    ids1, K1 = read_grm(p1)
    ids2, K2 = read_grm(p2)
    root = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
    fam = [tuple(ln.split()[:2]) for ln in open(os.path.join(root, "testdata", "sim.fam")).read().splitlines()]
    if not (ids1 == ids2 == fam):
        raise SystemExit("GRM sample order differs from testdata/sim.fam")
    n = len(fam)

    L1, j1 = chol_jitter(K1)
    L2, j2 = chol_jitter(K2)
    rng = np.random.Generator(np.random.PCG64(SEED))
    z1 = rng.standard_normal(n)
    z2 = rng.standard_normal(n)
    e = rng.standard_normal(n)
    c = rng.standard_normal(n)
    y = MU + BETA_C * c + np.sqrt(S1) * (L1 @ z1) + np.sqrt(S2) * (L2 @ z2) + np.sqrt(SE) * e

    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "vc2.pheno"), "w") as f:
        f.writelines(f"{v:.10g}\n" for v in y)
    with open(os.path.join(out, "vc2.pheno.tsv"), "w") as f:
        f.write("FID\tIID\ty\n")
        f.writelines(f"{a}\t{b}\t{v:.10g}\n" for (a, b), v in zip(fam, y))
    with open(os.path.join(out, "vc2.covar"), "w") as f:
        f.writelines(f"1\t{v:.10g}\n" for v in c)
    with open(os.path.join(out, "vc2.covar.tsv"), "w") as f:
        f.write("FID\tIID\tc\n")
        f.writelines(f"{a}\t{b}\t{v:.10g}\n" for (a, b), v in zip(fam, c))

    os.makedirs(scratch, exist_ok=True)
    paths = []
    for name, K in (("k1.txt", K1), ("k2.txt", K2)):
        path = os.path.abspath(os.path.join(scratch, name))
        np.savetxt(path, K, fmt="%.9g", delimiter="\t")
        paths.append(path)
    with open(os.path.join(scratch, "kin_list.txt"), "w") as f:
        f.write("\n".join(paths) + "\n")
    print(f"n={n} seed={SEED} jitter K1={j1:.3g} K2={j2:.3g}; "
          f"var(y)={y.var(ddof=1):.4f} mean diag K1={np.mean(np.diag(K1)):.6f} K2={np.mean(np.diag(K2)):.6f}")


if __name__ == "__main__":
    main()
