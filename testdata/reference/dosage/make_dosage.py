"""Simulate imputed-style dosages for the dosage reference (issue 14).

50 families of 4 siblings (200 samples) x 500 biallelic variants on 2
chromosomes: parents' alleles drawn with a per-variant frequency, each child
gets one allele of each parent; the dosage is the true count plus N(0, 0.15)
noise, clipped to [0, 2] and printed with 3 decimals (as imputation servers
print DS).  The phenotype has 5 causal variants and a polygenic part over
all of them, h2 about 0.5.  Writes, into the folder given:

  dose.vcf       VCF 4.2 with GT and DS (DS = ALT dosage)
  dose.pheno     '#IID trait' for gwaslmm
  bimbam.geno    GEMMA BIMBAM mean genotypes: 'id, ALT, REF, ALT dosages...'
  bimbam.pheno   GEMMA phenotype column (same sample order)

    python testdata/reference/dosage/make_dosage.py OUTDIR
"""

import os
import sys

import numpy as np


def main(out: str) -> None:
    rng = np.random.default_rng(2026)
    fam, kids, m = 50, 4, 500
    n = fam * kids
    p = rng.uniform(0.05, 0.5, m)
    par = rng.random((fam, 2, 2, m)) < p  # family, parent, haplotype, variant
    pick = rng.integers(0, 2, (fam, kids, 2, m))
    hap = np.empty((fam, kids, 2, m), dtype=bool)
    for k in range(2):  # allele from parent k
        hap[:, :, k, :] = np.take_along_axis(par[:, k][:, None, :, :].repeat(kids, 1),
                                             pick[:, :, k, :][:, :, None, :], axis=2)[:, :, 0, :]
    G = hap.sum(axis=2).reshape(n, m).astype(float)
    D = np.round(np.clip(G + rng.normal(0, 0.15, G.shape), 0, 2), 3)
    causal = rng.choice(m, 5, replace=False)
    Z = (D - D.mean(0)) / D.std(0)
    g = Z[:, causal] @ rng.normal(0, 0.35, 5) + Z @ rng.normal(0, np.sqrt(0.3 / m), m)
    y = g + rng.normal(0, np.sqrt(max(1e-6, 1 - g.var())), n) if g.var() < 1 else g
    y = np.round(y, 6)
    iid = [f"f{i // kids}_{i % kids}" for i in range(n)]
    chrom = np.where(np.arange(m) < m // 2, 1, 2)
    pos = np.concatenate([np.arange(1, m // 2 + 1), np.arange(1, m - m // 2 + 1)]) * 1000
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "dose.vcf"), "w") as fh:
        fh.write("##fileformat=VCFv4.2\n")
        fh.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        fh.write('##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">\n')
        for c in (1, 2):
            fh.write(f"##contig=<ID={c}>\n")
        fh.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(iid) + "\n")
        gt = {0: "0/0", 1: "0/1", 2: "1/1"}
        for j in range(m):
            cells = [f"{gt[int(round(d))]}:{d:.3f}" for d in D[:, j]]
            fh.write(f"{chrom[j]}\t{pos[j]}\tv{j}\tA\tG\t.\tPASS\t.\tGT:DS\t" + "\t".join(cells)
                     + "\n")
    with open(os.path.join(out, "dose.pheno"), "w") as fh:
        fh.write("#IID\ttrait\n")
        fh.writelines(f"{i}\t{v:.6f}\n" for i, v in zip(iid, y))
    with open(os.path.join(out, "bimbam.geno"), "w") as fh:
        for j in range(m):
            fh.write(f"v{j}, G, A, " + ", ".join(f"{d:.3f}" for d in D[:, j]) + "\n")
    with open(os.path.join(out, "bimbam.pheno"), "w") as fh:
        fh.writelines(f"{v:.6f}\n" for v in y)


if __name__ == "__main__":
    main(sys.argv[1])
