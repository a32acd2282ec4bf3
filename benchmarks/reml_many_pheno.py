"""Benchmark: many phenotypes on one eigendecomposition (gwaslmm reml --all-pheno).

    python benchmarks/reml_many_pheno.py [--n-pheno 1000] [--singles 5]

Simulates N phenotypes (h2 drawn from 0.1-0.8, no missing values, so they
share one missingness pattern) on the bundled genotypes, times one
`gwaslmm reml --all-pheno` run over all of them, and times `--singles`
single-phenotype runs (`--pheno-name`), whose median times N is what fitting
them one by one costs.  Writes benchmarks/results/<date>-reml-many-pheno.md.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIM = os.path.join(ROOT, "testdata", "sim")
COVAR = SIM + ".covar"


def gwaslmm_cmd():
    exe = os.path.join(os.path.dirname(sys.executable), "gwaslmm")
    return [exe] if os.path.exists(exe) else [sys.executable, "-m", "gwaslmm"]


def timed(args):
    t0 = time.perf_counter()
    subprocess.run(gwaslmm_cmd() + args, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n-pheno", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=5)
    args = ap.parse_args()
    sys.path.insert(0, ROOT)
    from gwaslmm.eigen import double_centre
    from gwaslmm.genotypes import impute_mean
    from gwaslmm.genotypes.plink1 import BedFile

    bed = BedFile(SIM)
    X, _, af = impute_mean(bed.read(None, np.arange(bed.n_snps)))
    ok = (np.minimum(af, 1 - af) > 0.01) & (np.ptp(X, 0) > 0)
    Z = (X[:, ok] - 2 * af[ok]) / np.sqrt(2 * af[ok] * (1 - af[ok]))
    K = double_centre(Z @ Z.T / ok.sum())
    w, V = np.linalg.eigh(K)
    L = V * np.sqrt(np.clip(w, 0, None))
    rng = np.random.default_rng(1)
    h2 = rng.uniform(0.1, 0.8, args.n_pheno)
    G = L @ rng.normal(size=(bed.n_samples, args.n_pheno))
    G /= G.std(0)
    Y = np.sqrt(h2) * G + np.sqrt(1 - h2) * rng.normal(size=G.shape)
    with tempfile.TemporaryDirectory() as d:
        pheno = os.path.join(d, "many.pheno")
        with open(pheno, "w") as fh:
            fh.write("FID IID " + " ".join(f"p{k}" for k in range(args.n_pheno)) + "\n")
            for i in range(bed.n_samples):
                fh.write(f"{bed.fam.fid[i]} {bed.fam.iid[i]} "
                         + " ".join(f"{v:.6g}" for v in Y[i]) + "\n")
        base = ["reml", "--bfile", SIM, "--pheno", pheno, "--covar", COVAR]
        timed(base + ["--pheno-name", "p0", "--out", os.path.join(d, "warm")])  # numba/cache warm-up
        t_all = timed(base + ["--all-pheno", "--out", os.path.join(d, "all")])
        singles = [timed(base + ["--pheno-name", f"p{k}", "--out", os.path.join(d, f"s{k}")])
                   for k in range(args.singles)]
        with open(os.path.join(d, "all.reml.tsv")) as fh:
            next(fh)
            est = np.array([float(line.split("\t")[2]) for line in fh])
    t_one = statistics.median(singles)
    corr = float(np.corrcoef(est, h2)[0, 1])
    date = time.strftime("%Y-%m-%d")
    out = os.path.join(ROOT, "benchmarks", "results", f"{date}-reml-many-pheno.md")
    lines = [
        f"# reml --all-pheno: {args.n_pheno} phenotypes on one eigendecomposition ({date})",
        "",
        f"Data: testdata/sim ({bed.n_samples} samples x {bed.n_snps} SNPs), covariates "
        f"testdata/sim.covar, {args.n_pheno} simulated phenotypes (h2 uniform 0.1-0.8, no "
        f"missing values: one missingness pattern). Machine: {os.cpu_count()} cores. Command: "
        f"`python benchmarks/reml_many_pheno.py --n-pheno {args.n_pheno} --singles "
        f"{args.singles}`.",
        "",
        "| run | wall time (s) |",
        "|---|---:|",
        f"| one `reml --all-pheno` run, {args.n_pheno} phenotypes | {t_all:.1f} |",
        f"| one single-phenotype `reml` run (median of {args.singles}) | {t_one:.2f} |",
        f"| {args.n_pheno} single runs (median x {args.n_pheno}) | {t_one * args.n_pheno:.0f} |",
        "",
        f"Ratio: all-pheno / {args.n_pheno} single runs = "
        f"{t_all / (t_one * args.n_pheno):.4f} ({t_one * args.n_pheno / t_all:.0f}x faster). "
        f"Correlation of estimated with simulated h2 over the {args.n_pheno} phenotypes: "
        f"{corr:.3f}.",
        "",
    ]
    with open(out, "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
