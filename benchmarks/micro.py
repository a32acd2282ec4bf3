"""Micro-benchmarks behind figures quoted in README.md, on the bundled data.

    python benchmarks/micro.py            # ~1 min; writes benchmarks/results/<date>-micro.md

1. Per-SNP exact kernel cost (ns per sample x SNP, 2 threads) for each test,
   on the rotated SNPs of testdata/sim with the centered GRM.
2. Rotation precision: float32 vs float64 B'X — speed of the product at
   n = 4,000, and the change it makes to beta and -log10 p on the bundled data.
3. LOCO kinship pieces: one full GRM pass vs the per-chromosome passes that
   --loco adds (recompute strategy), and the memory keeping the pieces would take.
4. The fast mode's dense pieces: the whitening solve L^-1 X (dtrsm) against the
   rotation B'X (dgemm) at n = 4,000; the factored decomposition (dsytrd +
   dstevd) against dsyevd and whether MRRR (dstemr) copes, at n = 3,000 for a
   full-rank and a rank-deficient kinship; float32 vs float64 kinship blocks
   on the bundled data (rate of the block products, largest change in K).
"""

import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from gwaslmm.eigen import decompose  # noqa: E402
from gwaslmm.genotypes import impute_mean  # noqa: E402
from gwaslmm.genotypes.plink1 import BedFile  # noqa: E402
from gwaslmm.kinship import finish_grm, grm_sum  # noqa: E402
from gwaslmm.nullmodel.eigen_reml import fit_null  # noqa: E402
from gwaslmm.qc import VariantFilters  # noqa: E402
from gwaslmm.samples import join_samples  # noqa: E402
from gwaslmm.scan.exact import exact_block, make_model  # noqa: E402
from gwaslmm.scan.fixed import fast_block  # noqa: E402
from gwaslmm.scan.pvalues import neglog10_f1  # noqa: E402
from gwaslmm.tables import read_sample_table  # noqa: E402

SIM = os.path.join(ROOT, "testdata", "sim")


def best(f, k=3):
    ts = []
    for _ in range(k):
        t = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t)
    return min(ts)


def fast_mode_pieces(bed, sel, filters):
    from scipy.linalg import LinAlgError, cholesky, eigh, eigh_tridiagonal
    from scipy.linalg.blas import dgemm, dtrsm
    from scipy.linalg.lapack import dsytrd, dsytrd_lwork

    from gwaslmm.eigen import tridiagonal_eigh

    rng = np.random.default_rng(0)
    out = []
    n, m = 4000, 2000
    A = rng.standard_normal((n, 600))
    V = np.asfortranarray(A @ A.T / 600 + np.eye(n))
    L = np.asfortranarray(cholesky(V, lower=True))
    X = np.asfortranarray(rng.integers(0, 3, (n, m)).astype(np.float64))
    t_gemm = best(lambda: dgemm(1.0, V, X))
    t_trsm = best(lambda: dtrsm(1.0, L, X, lower=1))
    out.append(f"Whitening vs rotation at ({n} x {n}) and {m} SNPs: dtrsm {t_trsm:.3f} s "
               f"({n * n * m / t_trsm / 1e9:.1f} GFLOP/s on n^2 m flops), dgemm {t_gemm:.3f} s "
               f"({2 * n * n * m / t_gemm / 1e9:.1f} GFLOP/s on 2 n^2 m): the solve takes "
               f"{t_trsm / t_gemm:.2f} of the rotation's time.")
    out += ["", "| kinship at n = 3,000 | dsyevd s | dsytrd + dstevd s | dstemr (MRRR) |",
            "|---|---:|---:|---|"]
    n = 3000
    for label, r in (("full rank (5,000 SNPs)", 5000), ("rank-deficient (1,000 SNPs)", 1000)):
        Z = rng.standard_normal((n, r))
        K = Z @ Z.T / r
        t_evd = best(lambda: eigh(K, driver="evd"), k=1)
        t_fac = best(lambda: tridiagonal_eigh(np.asfortranarray(K)), k=1)
        _, dd, ee, _, _ = dsytrd(np.asfortranarray(K), lower=1,
                                 lwork=int(dsytrd_lwork(n, lower=1)[0]))
        try:
            eigh_tridiagonal(dd, ee, lapack_driver="stemr")
            mrrr = "converges"
        except LinAlgError as exc:
            mrrr = f"fails ({str(exc)[:60]})"
        out.append(f"| {label} | {t_evd:.2f} | {t_fac:.2f} | {mrrr} |")
    res = {}
    for dt in (np.float64, np.float32):
        gs = grm_sum(bed, sel.idx, np.arange(bed.n_snps), "standardized", filters, 4.0,
                     dtype=dt)
        res[dt] = (finish_grm(gs.S, gs.m), best(lambda: grm_sum(
            bed, sel.idx, np.arange(bed.n_snps), "standardized", filters, 4.0,
            dtype=dt).seconds_syrk))
    (K64, s64), (K32, s32) = res[np.float64], res[np.float32]
    nn = sel.n
    out += ["", f"Kinship block products on the bundled data ({nn} samples): float64 "
            f"{s64:.3f} s, float32 {s32:.3f} s ({s64 / s32:.2f}x); largest change in K "
            f"{np.abs(K32 - K64).max():.1e} (diagonal about 1)."]
    return out


def main():
    lines = []
    bed = BedFile(SIM)
    sel = join_samples(bed.samples, pheno_table=read_sample_table(SIM + ".pheno", "p", "P"),
                       pheno_names=["trait"],
                       covar_table=read_sample_table(SIM + ".covar", "c", "C"))
    filters = VariantFilters()
    gs = grm_sum(bed, sel.idx, np.arange(bed.n_snps), "centered", filters, 4.0)
    K = finish_grm(gs.S, gs.m)
    sp, basis = decompose(K, sel.W)
    null = fit_null(sp, basis, sel.y[:, 0])
    model = make_model(sp, null)
    X, _, af = impute_mean(bed.read(sel.idx, np.arange(bed.n_snps)))
    X = X[:, gs.passed]
    Xt = basis.project(X)
    exact_block(model, Xt[:, :20], "all")  # compile / load the kernels
    n, m = sel.n, X.shape[1]
    lines += ["## 1. Exact per-SNP kernel", "",
              f"testdata/sim, {n} samples x {m} SNPs (rotated), centered GRM, 5 covariates.",
              "", "| test | seconds (best of 3) | ns per sample x SNP |", "|---|---:|---:|"]
    for test in ("wald", "lrt", "score", "all"):
        t = best(lambda: exact_block(model, Xt, test))
        lines.append(f"| {test} | {t:.3f} | {t / (n * m) * 1e9:.1f} |")
    t = best(lambda: fast_block(model, Xt))
    lines.append(f"| fast (fixed lambda) | {t:.3f} | {t / (n * m) * 1e9:.1f} |")

    # 2. rotation precision
    res = {}
    for dt in (np.float64, np.float32):
        BT = np.ascontiguousarray(basis.matrix().T, dtype=dt)
        Xr = (BT @ X.astype(dt)).astype(np.float64)
        r = exact_block(model, Xr, "wald")
        r["nl_wald"] = neglog10_f1(r["F_wald"], model.df)
        res[dt] = r
    a, b = res[np.float64], res[np.float32]
    rel_beta = np.abs(a["beta"] - b["beta"]) / np.abs(a["beta"])
    d_nl = np.abs(a["nl_wald"] - b["nl_wald"])
    nn, mm = 4000, 2000
    rng = np.random.default_rng(0)
    B = rng.random((nn, nn))
    Y = rng.random((nn, mm))
    rates = {}
    for dt in (np.float64, np.float32):
        Bd, Yd = B.astype(dt), Y.astype(dt)
        rates[dt] = 2 * nn * nn * mm / best(lambda: Bd @ Yd) / 1e9
    lines += ["", "## 2. Rotation precision (float32 vs float64)", "",
              f"Product speed at ({nn} x {nn}) @ ({nn} x {mm}): float64 "
              f"{rates[np.float64]:.1f} GFLOP/s, float32 {rates[np.float32]:.1f} GFLOP/s.",
              f"Effect on the exact Wald scan of testdata/sim: -log10 p max abs change "
              f"{d_nl.max():.2g}; beta relative change median {np.median(rel_beta):.2g} "
              f"(max {rel_beta.max():.2g}, at beta near 0)."]

    # 3. LOCO pieces
    chroms = bed.bim.chromosome
    t_full = best(lambda: grm_sum(bed, sel.idx, np.arange(bed.n_snps), "standardized", filters,
                                  4.0), k=2)
    t_pieces = 0.0
    for ch in sorted(set(chroms.tolist()), key=int):
        idx = np.flatnonzero(chroms == ch)
        t_pieces += best(lambda: grm_sum(bed, sel.idx, idx, "standardized", filters, 4.0), k=2)
    n_chr = len(set(chroms.tolist()))
    lines += ["", "## 3. LOCO kinship: recompute vs keep per-chromosome pieces", "",
              f"One full GRM pass over {bed.n_snps} SNPs: {t_full:.2f} s; the {n_chr} "
              f"per-chromosome passes that --loco adds: {t_pieces:.2f} s together.",
              f"Keeping the pieces instead would hold {n_chr} n x n matrices: "
              f"{n_chr * n * n * 8 / 2**20:.0f} MiB here in float64; at n = 10,000 with 22 "
              f"chromosomes {22 * 1e8 * 8 / 1e9:.1f} GB (float64), {22 * 1e8 * 4 / 1e9:.1f} GB "
              f"(float32)."]

    lines += ["", "## 4. Fast mode's dense pieces", ""] + fast_mode_pieces(bed, sel, filters)

    date = time.strftime("%Y-%m-%d")
    head = [f"# Micro-benchmarks ({date})", "",
            f"`python benchmarks/micro.py` on {os.cpu_count()} cores.", ""]
    out = os.path.join(ROOT, "benchmarks", "results", f"{date}-micro.md")
    with open(out, "w") as fh:
        fh.write("\n".join(head + lines) + "\n")
    print("\n".join(head + lines))


if __name__ == "__main__":
    with tempfile.TemporaryDirectory():
        main()
