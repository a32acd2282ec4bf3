"""Calibration with a shared household environment (issue 17): the
kinship-only scan against the scan with the household modelled.

    .venv/bin/python benchmarks/vc_calibration.py --replicates 4 --date 2026-11-27-vc-calibration

Data: the project's simulator with many sibships (1,500 samples, 3
populations, 220 sib pairs and 10 trios per population, 10,000 SNPs on 8
chromosomes, seed 7).  Phenotypes (one per replicate, seed = replicate):
y = g + c_household + e with g ~ N(0, 0.3 K_1-4) (K_1-4 the kinship of
chromosomes 1-4 only), the household (= FID) effect c ~ N(0, 0.5) and e ~
N(0, 0.2).  Both scans use the kinship of chromosomes 1-4 (--model-snps) and
test chromosomes 5-8, which carry no effect, so lambda_GC there should be 1:
``assoc --fast`` (kinship only) against ``assoc --random household``.
Writes benchmarks/results/<date>.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "testdata"))

from speed import gwaslmm_exe, timed, write_report  # noqa: E402


def make_data(d: str) -> str:
    from make_testdata import write_sim

    from gwaslmm.simulate import SimulationConfig

    pre = os.path.join(d, "sim")
    if not os.path.exists(pre + ".bed"):
        os.makedirs(d, exist_ok=True)
        write_sim(pre, SimulationConfig(n_samples=1500, n_snps=10000, sibpairs_per_pop=220,
                                        trios_per_pop=10, seed=7))
    return pre


def household_phenotype(pre: str, d: str, rep: int, sg=0.3, sc=0.5, se=0.2) -> tuple:
    """(phenotype file, covariate file with 'household', model-snps file)."""
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.kinship import finish_grm, grm_sum
    from gwaslmm.qc import VariantFilters

    bed = BedFile(pre)
    chr14 = np.flatnonzero(np.isin(bed.variants.chromosome, ["1", "2", "3", "4"]))
    n = bed.samples.n
    gs = grm_sum(bed, np.arange(n), chr14, "standardized", VariantFilters(), 2.0)
    K = finish_grm(gs.S, gs.m, inplace=True)
    w, U = np.linalg.eigh(K)
    rng = np.random.default_rng(rep)
    fid = bed.samples.fid
    h = np.unique(fid, return_inverse=True)[1].reshape(-1)
    g = U @ (np.sqrt(np.clip(w, 0, None)) * rng.normal(size=n))
    y = (np.sqrt(sg) * g + np.sqrt(sc) * rng.normal(size=h.max() + 1)[h]
         + np.sqrt(se) * rng.normal(size=n))
    pheno, covar, snps = (os.path.join(d, f) for f in ("y.pheno", "h.covar", "chr1-4.txt"))
    with open(pheno, "w") as fh:
        fh.write("FID\tIID\ty\n")
        fh.writelines(f"{a}\t{b}\t{v:.6f}\n" for a, b, v in zip(fid, bed.samples.iid, y))
    with open(covar, "w") as fh:
        fh.write("FID\tIID\thousehold\n")
        fh.writelines(f"{a}\t{b}\tH{c}\n" for a, b, c in zip(fid, bed.samples.iid, h))
    with open(snps, "w") as fh:
        fh.writelines(f"{v}\n" for v in bed.variants.id[chr14])
    return pheno, covar, snps


def lambda_null_chromosomes(path: str) -> float:
    from scipy.stats import chi2

    from gwaslmm.results import numeric, read_columns

    res = read_columns(path)
    p = numeric(res["p_value"])
    return float(np.median(chi2.isf(p, 1)) / chi2.ppf(0.5, 1))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicates", type=int, default=4)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-vc-calibration")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "vc-calibration"))
    a = ap.parse_args()
    pre = make_data(a.data_dir)
    lines = [f"# Calibration with a household environment ({a.date})", "",
             f"`python benchmarks/vc_calibration.py --replicates {a.replicates} --date {a.date}`",
             "", __doc__.split("\n\n")[2].replace("\n", " "), "",
             "| replicate | lambda_GC kinship only | lambda_GC household modelled | s (both) |",
             "|---:|---:|---:|---:|"]
    for rep in range(a.replicates):
        pheno, covar, snps = household_phenotype(pre, a.data_dir, rep)
        base = [gwaslmm_exe(), "assoc", "--bfile", pre, "--pheno", pheno, "--model-snps", snps,
                "--chr", "5-8", "--no-gzip"]
        out1, out2 = (os.path.join(a.data_dir, f) for f in ("kin", "hh"))
        t = timed([*base, "--fast", "--out", out1])
        t += timed([*base, "--covar", covar, "--random", "household", "--out", out2])
        l1 = lambda_null_chromosomes(out1 + ".assoc.tsv")
        l2 = lambda_null_chromosomes(out2 + ".assoc.tsv")
        lines.append(f"| {rep} | {l1:.4f} | {l2:.4f} | {t:.1f} |")
        print(lines[-1], flush=True)
    lines.append("")
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
