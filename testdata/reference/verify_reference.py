"""Check the conventions of the GEMMA / PLINK 2 reference outputs with numpy.

    .venv/bin/python testdata/reference/verify_reference.py    # from the repo root

Uses only testdata/sim.* and the committed files in testdata/reference/ (the
full GEMMA kinship is recomputed from the genotypes, then compared with the
committed rows 0-99 and diagonal).  Prints the numbers quoted in README.md.
"""

from __future__ import annotations

import gzip
import os

import numpy as np
from bed_reader import open_bed

REF = "testdata/reference"


def read_geno(prefix):
    with open_bed(prefix + ".bed", count_A1=True) as b:
        return b.read(dtype="float64")  # A1 counts, NaN = missing


def gemma_kinship(G, filter_rows, maf=0.01, miss=0.05):
    """GEMMA -gk 1 as observed: SNP filters over `filter_rows`; centring and
    mean imputation over all samples; divide by the number of SNPs kept."""
    Gf = G[filter_rows]
    af = np.nanmean(Gf, 0) / 2
    keep = (np.isnan(Gf).mean(0) <= miss) & (np.minimum(af, 1 - af) >= maf)
    Gk = G[:, keep]
    mu = np.nanmean(Gk, 0)
    X = np.where(np.isnan(Gk), mu, Gk) - mu
    return X @ X.T / keep.sum(), int(keep.sum()), keep


def main():
    G = read_geno("testdata/sim")
    n, m = G.shape
    fam = np.loadtxt("testdata/sim.fam", dtype=str)
    bim = np.loadtxt("testdata/sim.bim", dtype=str)

    # ---- kinship
    K, m_used, keep = gemma_kinship(G, np.ones(n, bool))
    rows = np.loadtxt(gzip.open(f"{REF}/gemma_gk1.rows0-99.txt.gz"))
    diag = np.loadtxt(f"{REF}/gemma_gk1.diag.txt")
    print(f"[gk1] SNPs kept by maf>=0.01 & miss<=0.05 over all {n} samples: {m_used}")
    print(f"[gk1] max |K_numpy - K_gemma| rows 0-99: {np.abs(K[:100] - rows).max():.3g}; "
          f"diagonal: {np.abs(np.diag(K) - diag).max():.3g}")
    print(f"[gk1] same but dividing by all {m} SNPs: {np.abs(K[:100] * m_used / m - rows).max():.3g}")
    Gk = G[:, keep]
    sub = np.arange(n)[::2]  # centring over a subset instead of all samples
    mu = np.nanmean(Gk[sub], 0)
    Xs = np.where(np.isnan(Gk), mu, Gk) - mu
    print(f"[gk1] same but centring over half the samples: "
          f"{np.abs((Xs[:100] @ Xs.T) / m_used - rows).max():.3g}")

    # ---- association
    C = np.genfromtxt(f"{REF}/sim.gemma_covar.txt", missing_values="NA")
    y1 = fam[:, 5].astype(float)
    y1[y1 == -9] = np.nan
    y2 = np.genfromtxt(f"{REF}/sim.gemma_trait2.txt", missing_values="NA")
    idx = {r: i for i, r in enumerate(bim[:, 1])}
    for t, y in (("trait", y1), ("trait2", y2)):
        A = np.genfromtxt(gzip.open(f"{REF}/gemma_lmm4.{t}.assoc.txt.gz"), names=True,
                          dtype=None, encoding=None)
        ok = ~np.isnan(y) & ~np.isnan(C).any(1)
        j = np.array([idx[r] for r in A["rs"]])
        _, m_a, _ = gemma_kinship(G, ok)
        print(f"[{t}] analysed samples {ok.sum()}; SNPs passing filters over them {m_a}; "
              f"assoc rows {len(A)}")
        same_alleles = (A["allele1"] == bim[j, 4]).all() and (A["allele0"] == bim[j, 5]).all()
        print(f"[{t}] allele1 == bim col 5 (A1) and allele0 == bim col 6 for every row: "
              f"{same_alleles}")
        Gs = G[ok][:, j]
        print(f"[{t}] max |af - A1 freq over analysed samples| = "
              f"{np.abs(np.nanmean(Gs, 0) / 2 - A['af']).max():.3g} (af printed with 3 decimals); "
              f"vs A1 freq over all {n}: {np.abs(np.nanmean(G[:, j], 0) / 2 - A['af']).max():.3g}")
        print(f"[{t}] n_miss == missing calls among analysed samples: "
              f"{bool((np.isnan(Gs).sum(0) == A['n_miss']).all())}")
        # GLS with GEMMA's per-SNP lambda (l_remle): beta and se (REML variance, n - c - 1 df)
        d, U = np.linalg.eigh(K[np.ix_(ok, ok)])
        Wt, Yt = U.T @ C[ok], U.T @ y[ok]
        db = dse = 0.0
        for k in range(0, len(A), 50):
            g = Gs[:, k].copy()
            g[np.isnan(g)] = np.nanmean(g)
            X = np.column_stack([Wt, U.T @ g])
            w = 1 / (A["l_remle"][k] * d + 1)
            XtX = X.T @ (X * w[:, None])
            b = np.linalg.solve(XtX, X.T @ (Yt * w))
            r = Yt - X @ b
            se = np.sqrt((r * w) @ r / (X.shape[0] - X.shape[1]) * np.linalg.inv(XtX)[-1, -1])
            db = max(db, abs(b[-1] - A["beta"][k]) / A["se"][k])
            dse = max(dse, abs(se - A["se"][k]) / A["se"][k])
        print(f"[{t}] GLS (A1 dosage, mean-imputed over analysed, lambda = l_remle) vs GEMMA, "
              f"every 50th SNP: max |dbeta|/se {db:.3g}, max rel diff se {dse:.3g}")

    # ---- plink2 --make-rel square on the complete dataset
    Gc = read_geno(f"{REF}/complete")
    famc = np.loadtxt(f"{REF}/complete.fam", dtype=str)
    R = np.loadtxt(gzip.open(f"{REF}/plink2_rel.complete.rel.gz"))
    founder = (famc[:, 2] == "0") & (famc[:, 3] == "0")
    print(f"[plink2] complete: {Gc.shape[0]} samples ({founder.sum()} founders) x {Gc.shape[1]} "
          f"variants, missing calls {int(np.isnan(Gc).sum())}")
    for name, rows_ in (("founders", founder), ("all samples", np.ones(len(Gc), bool))):
        p = Gc[rows_].mean(0) / 2
        poly = (p > 0) & (p < 1)
        X = (Gc[:, poly] - 2 * p[poly]) / np.sqrt(2 * p[poly] * (1 - p[poly]))
        for dn, den in (("all variants", Gc.shape[1]), ("polymorphic only", poly.sum())):
            print(f"[plink2] freq from {name} ({(~poly).sum()} monomorphic), divide by {dn} "
                  f"({den}): max |dR| = {np.abs(X @ X.T / den - R).max():.3g}")


if __name__ == "__main__":
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    main()
