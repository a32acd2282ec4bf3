"""Unrelated samples with two case/control phenotypes, for the PLINK 2 Firth
reference (make_firth_reference.sh).  Deterministic (fixed seeds).

    python testdata/reference/binary_firth/make_data.py     # from the repository root

Genotypes come from the project's simulator (gwaslmm.simulate.simulate) with
no families and one population: 600 unrelated samples x 300 SNPs on
chromosomes 1-2 (150 each), ancestral MAF uniform in [0.05, 0.5] for common
and in [0.005, 0.05] for rare SNPs (rare_fraction 0.35), Fst 0.01 around the
ancestral frequency, 0.3% missing calls at random.  Age (N(50, 10), 0.1
years) and sex come from the same simulation; the simulator's quantitative
traits are not used.

Two phenotypes from a logistic model (second generator, seed 20261202), both
with the same three causal SNPs (common, log-odds 0.8, 0.6, 0.4 per copy of
the .bim column-5 allele):

    logit P(case) = a + 0.03 (age - 50) + 0.5 sex01 + sum_k b_k x_k

x_k the column-5 allele count, a missing call replaced by twice the
column-5 allele frequency (for the phenotype only; the .bed keeps it
missing).  The intercept a is solved so that the expected prevalence is 12%
(case10) or 3% (case03); the cases are then drawn.

Files written beside this script (all samples have both phenotypes and
both covariates):

    firth.bed/.bim/.fam  PLINK 1 fileset (the .fam phenotype column is -9)
    firth.pheno          FID IID case10 case03, coded 1 = control, 2 = case
    firth.covar          FID IID age sex01 (sex01 = .fam sex - 1)
    firth.causal.tsv     the causal SNPs, their log-odds and the intercepts
"""

from __future__ import annotations

import os
import sys

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, ROOT)

from gwaslmm.genotypes.plink1 import write_plink  # noqa: E402
from gwaslmm.simulate import MISSING_INT8, SimulationConfig, simulate  # noqa: E402

CONFIG = SimulationConfig(
    n_samples=600, n_snps=300, n_chromosomes=2, n_pops=1, fst=0.01,
    trios_per_pop=0, sibpairs_per_pop=0,  # unrelated: every sample a founder
    rare_fraction=0.35, missing_rate=0.003,
    n_large=1, n_polygenic=10, causal_chromosomes=2,  # simulator's own traits (unused)
    n_missing_pheno=0, n_missing_covar=0, seed=20261201)
PHENO_SEED = 20261202
PREVALENCE = {"case10": 0.12, "case03": 0.03}
LOG_ODDS = (0.8, 0.6, 0.4)
AGE_EFFECT, SEX_EFFECT = 0.03, 0.5


def main() -> None:
    d = simulate(CONFIG)
    if len(set(d.fid)) != d.fid.size or np.any(d.father != "0") or np.any(d.mother != "0"):
        raise RuntimeError("expected unrelated samples (one family per sample, no parents)")
    n, m = d.genotypes.shape
    rng = np.random.default_rng(PHENO_SEED)

    G = d.genotypes.astype(float)
    G[d.genotypes == MISSING_INT8] = np.nan
    freq = np.nanmean(G, axis=0) / 2  # column-5 (allele_1) frequency
    maf = np.minimum(freq, 1 - freq)
    n_miss = np.isnan(G).sum(axis=0)
    causal = np.sort(rng.choice(np.flatnonzero((maf > 0.2) & (n_miss == 0)), len(LOG_ODDS),
                                replace=False))
    X = G[:, causal]
    age = d.covariates["age"]
    sex01 = (d.sex - 1).astype(float)
    eta0 = AGE_EFFECT * (age - 50) + SEX_EFFECT * sex01 + X @ np.array(LOG_ODDS)

    pheno, intercept = {}, {}
    for name, prev in PREVALENCE.items():
        a = brentq(lambda a: expit(a + eta0).mean() - prev, -20, 20, xtol=1e-12)
        intercept[name] = a
        pheno[name] = rng.random(n) < expit(a + eta0)

    prefix = os.path.join(HERE, "firth")
    write_plink(prefix, d.genotypes, d.fid, d.iid, d.father, d.mother, d.sex,
                np.full(n, np.nan), d.chromosome, d.snp_id, np.zeros(m), d.bp_position,
                d.allele_1, d.allele_2)
    with open(prefix + ".pheno", "w") as fh:
        fh.write("FID\tIID\t" + "\t".join(pheno) + "\n")
        for i in range(n):
            codes = (str(1 + int(pheno[k][i])) for k in pheno)  # 1 control, 2 case
            fh.write(f"{d.fid[i]}\t{d.iid[i]}\t" + "\t".join(codes) + "\n")
    with open(prefix + ".covar", "w") as fh:
        fh.write("FID\tIID\tage\tsex01\n")
        for i in range(n):
            fh.write(f"{d.fid[i]}\t{d.iid[i]}\t{age[i]:.1f}\t{int(sex01[i])}\n")
    with open(prefix + ".causal.tsv", "w") as fh:
        fh.write("variant_id\tchromosome\tposition\teffect_allele\tlog_odds\tfreq_effect_allele\n")
        for j, b in zip(causal, LOG_ODDS):
            fh.write(f"{d.snp_id[j]}\t{d.chromosome[j]}\t{d.bp_position[j]}\t{d.allele_1[j]}\t{b}\t"
                     f"{freq[j]:.4f}\n")
        for name in pheno:
            fh.write(f"# {name}: intercept {intercept[name]:.6f}, target prevalence "
                     f"{PREVALENCE[name]}, cases {int(pheno[name].sum())} of {n}\n")
        fh.write(f"# logit P(case) = intercept + {AGE_EFFECT} (age - 50) + {SEX_EFFECT} sex01"
                 " + sum log_odds * count of effect_allele\n")

    print(f"{n} samples x {m} SNPs; missing calls {int(n_miss.sum())} "
          f"(SNPs with any: {int((n_miss > 0).sum())}, max per SNP {int(n_miss.max())}); "
          f"MAF < 0.05: {int((maf < 0.05).sum())}, monomorphic: {int((maf == 0).sum())}")
    for name in pheno:
        print(f"{name}: {int(pheno[name].sum())} cases of {n}, intercept {intercept[name]:.4f}")
    for f in sorted(os.listdir(HERE)):
        if f.startswith("firth."):
            print(f"{f}\t{os.path.getsize(os.path.join(HERE, f))}")


if __name__ == "__main__":
    main()
