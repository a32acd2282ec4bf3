"""Regenerate the bundled example data (deterministic, fixed seed).

    python testdata/make_testdata.py            # writes testdata/sim.* and testdata/tiny.*

sim.*   1,000 samples (3 Balding-Nichols subpopulations, Fst 0.05, with
        parent-offspring trios and sibling pairs) x 10,000 SNPs on chromosomes
        1-8, ~1% missing calls; phenotype 'trait' (h2 0.5: 4 large-effect SNPs
        explaining 4% each plus 300 polygenic SNPs, all on chromosomes 1-4) and
        'trait2' (h2 0.3, polygenic only); covariates age, bmi (quantitative)
        and batch (categorical b1/b2/b3); a few samples miss a phenotype or a
        covariate.  The truth is in sim.causal.tsv and sim.truth.json.
tiny.*  20 samples x 12 SNPs with every kind of chromosome code (1, 2, X, Y,
        XY, MT, their numeric aliases 23-26, 0, a non-human contig name), used
        by the tests to derive malformed fixtures.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))

from gwaslmm.genotypes.plink1 import write_plink  # noqa: E402
from gwaslmm.simulate import SimulationConfig, simulate  # noqa: E402


def fmt(v):
    if isinstance(v, str):
        return v if v else "NA"
    return "NA" if np.isnan(v) else f"{v:.6g}"


def write_sim(prefix: str, cfg: SimulationConfig) -> None:
    d = simulate(cfg)
    n, m = d.genotypes.shape
    write_plink(prefix, d.genotypes, d.fid, d.iid, d.father, d.mother, d.sex,
                d.phenotypes["trait"], d.chromosome, d.snp_id, np.zeros(m), d.bp_position,
                d.allele_1, d.allele_2)
    names = list(d.phenotypes)
    with open(prefix + ".pheno", "w") as fh:
        fh.write("FID\tIID\t" + "\t".join(names) + "\n")
        for i in range(n):
            fh.write(f"{d.fid[i]}\t{d.iid[i]}\t" + "\t".join(fmt(d.phenotypes[k][i]) for k in names)
                     + "\n")
    cov = list(d.covariates)
    with open(prefix + ".covar", "w") as fh:
        fh.write("FID\tIID\t" + "\t".join(cov) + "\n")
        for i in range(n):
            fh.write(f"{d.fid[i]}\t{d.iid[i]}\t" + "\t".join(fmt(d.covariates[k][i]) for k in cov)
                     + "\n")
    with open(prefix + ".causal.tsv", "w") as fh:
        cols = ["phenotype", "variant_id", "chromosome", "position", "effect_allele", "beta",
                "var_explained", "kind"]
        fh.write("\t".join(cols) + "\n")
        for trait, rows in d.causal.items():
            for r in rows:
                fh.write("\t".join([trait] + [str(r[c]) if not isinstance(r[c], float)
                                              else f"{r[c]:.6g}" for c in cols[1:]]) + "\n")
    with open(prefix + ".truth.json", "w") as fh:
        json.dump(d.truth, fh, indent=2, default=float)
        fh.write("\n")


def write_tiny(prefix: str) -> None:
    rng = np.random.default_rng(7)
    n, m = 20, 12
    g = rng.integers(0, 3, (n, m)).astype(np.int8)
    g[rng.random((n, m)) < 0.05] = -127
    chrom = ["1", "1", "2", "X", "23", "Y", "24", "XY", "25", "MT", "0", "scaffold_7"]
    fid = [f"F{i // 2}" for i in range(n)]
    iid = [f"S{i}" for i in range(n)]
    pheno = np.round(rng.normal(0, 1, n), 4)
    pheno[3] = np.nan
    write_plink(prefix, g, fid, iid, ["0"] * n, ["0"] * n, [1 + i % 2 for i in range(n)], pheno,
                chrom, [f"v{j}" for j in range(m)], np.zeros(m), 1000 * np.arange(1, m + 1),
                ["A"] * m, ["G"] * m)


if __name__ == "__main__":
    write_sim(os.path.join(HERE, "sim"), SimulationConfig())
    write_tiny(os.path.join(HERE, "tiny"))
    for f in sorted(os.listdir(HERE)):
        print(f"{f}\t{os.path.getsize(os.path.join(HERE, f))}")
