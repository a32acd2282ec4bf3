"""Continuity of the large-sample engine with the dense one (issue 20), at
5,000 samples x 20,000 SNPs of the project's simulation (8 chromosomes, 3
subpopulations, families; seed 5):

1. h2: ``reml --engine cg`` against the dense ``reml`` on 20 phenotypes
   simulated here on these genotypes (500 causal variants each, h2 0.4, no
   covariates): per phenotype the difference and the Monte-Carlo SE, and
   their mean over the 20;
2. per-variant chi2 (t_stat^2): ``assoc --loco --engine cg`` (``--loco-h2
   once``, ``each``, ``each --mc-probes 60``, ``each --cg-tol 1e-6``) against the dense ``assoc
   --fast --loco`` on the simulated trait with its covariates: median and
   99th percentile of |ratio - 1| over all variants and over dense chi2 > 1,
   > 10, and the wall time of each run (one after the other).

    .venv/bin/python benchmarks/cg_continuity.py --date 2026-12-07 [--chi2-only]

Data are simulated into benchmarks/data/cg5k/ on the first run (not
committed).  Writes benchmarks/results/<date>-cg-continuity.md.
"""

from __future__ import annotations

import argparse
import gzip
import os
import re
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GWASLMM = os.path.join(os.path.dirname(sys.executable), "gwaslmm")


def simulate(d: str, n: int, m: int) -> str:
    prefix = os.path.join(d, "sim")
    if not os.path.exists(prefix + ".bed"):
        os.makedirs(d, exist_ok=True)
        sys.path.insert(0, os.path.join(ROOT, "testdata"))
        sys.path.insert(0, ROOT)
        from make_testdata import write_sim  # noqa: E402

        from gwaslmm.simulate import SimulationConfig

        write_sim(prefix, SimulationConfig(n_samples=n, n_snps=m, n_chromosomes=8, seed=5))
    return prefix


def write_phenotypes(prefix: str, path: str, k: int, h2: float = 0.4, causal: int = 500,
                     seed: int = 11) -> None:
    """k phenotypes y = Z b + e on the genotypes (Z standardized, missing 0),
    ``causal`` variants each, realized genetic variance h2 of the total."""
    from gwaslmm.genotypes.plink1 import BedFile

    if os.path.exists(path):
        return
    rng = np.random.default_rng(seed)
    bed = BedFile(prefix)
    n, m = bed.samples.n, bed.variants.m
    Y = np.empty((n, k))
    for j in range(k):
        idx = np.sort(rng.choice(m, causal, replace=False))
        blk = bed.read_block(None, idx)
        p = blk.allele_freq
        ok = (p > 0.01) & (p < 0.99)
        cols = np.flatnonzero(ok)
        Z = blk.fill(cols, np.empty((n, cols.size), order="F"), center=2 * p[cols],
                     scale=1 / np.sqrt(2 * p[cols] * (1 - p[cols])),
                     missing_value=np.zeros(cols.size))
        g = Z @ rng.standard_normal(cols.size)
        g *= np.sqrt(h2) / g.std()
        Y[:, j] = g + np.sqrt(1 - h2) * rng.standard_normal(n)
    with open(path, "w") as fh:
        fh.write("FID\tIID\t" + "\t".join(f"p{j + 1}" for j in range(k)) + "\n")
        for i in range(n):
            fh.write(f"{bed.samples.fid[i]}\t{bed.samples.iid[i]}\t"
                     + "\t".join(f"{v:.6g}" for v in Y[i]) + "\n")
    bed.close()


def run(args: list, log) -> float:
    t0 = time.perf_counter()
    log(" ".join(str(a) for a in args))
    subprocess.run([GWASLMM, *map(str, args)], check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    return time.perf_counter() - t0


def tsv(path: str) -> list:
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        return [dict(zip(head, ln.rstrip("\n").split("\t"))) for ln in fh]


def chi2_of(path: str) -> dict:
    return {r["variant_id"]: float(r["t_stat"]) ** 2 for r in tsv(path)}


def calibration_spread(log_path: str) -> str:
    """The calibration line of a cg run's log: the relative spread between
    variants of the plain ratio x'Px/x'Qx and of the deflated remainder."""
    with open(log_path) as fh:
        m = re.search(r"relative spread between variants ([0-9.eE+-]+) \(the plain ratio "
                      r"x'Px/x'Qx's: ([0-9.eE+-]+)\)", fh.read())
    return f"{float(m.group(2)):.2%} / {float(m.group(1)):.2%}" if m else "not in the log"


def ratio_stats(cg: dict, dense: dict) -> list:
    ids = [k for k in cg if k in dense]
    a = np.array([cg[k] for k in ids])
    b = np.array([dense[k] for k in ids])
    r = np.abs(a / b - 1)
    out = [f"{np.median(r):.2%}"]
    for thr in (1, 10):
        s = b > thr
        out.append(f"{np.median(r[s]):.2%}, {np.quantile(r[s], 0.99):.2%} ({s.sum()})")
    out.append(f"{np.quantile(r, 0.99):.1%}")
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--m", type=int, default=20000)
    ap.add_argument("--phenotypes", type=int, default=20)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d"))
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "cg5k"))
    ap.add_argument("--chi2-only", action="store_true", help="section 2 only (no h2 runs)")
    a = ap.parse_args()
    lines = [f"# The CG engine against the dense engine ({a.date})", "",
             f"`.venv/bin/python benchmarks/cg_continuity.py --date {a.date}"
             f"{' --chi2-only' if a.chi2_only else ''}`", "",
             f"Data: {a.n} samples x {a.m} SNPs of gwaslmm's simulation (8 chromosomes, 3 "
             f"subpopulations, trios and sibling pairs; seed 5), 2 cores, one command at a time.",
             ""]

    def log(msg):
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    d = a.data_dir
    prefix = simulate(d, a.n, a.m)
    pheno20 = os.path.join(d, "p20.pheno")
    write_phenotypes(prefix, pheno20, a.phenotypes)
    work = os.path.join(d, "work")
    os.makedirs(work, exist_ok=True)
    run(["assoc", "--bfile", os.path.join(ROOT, "testdata", "sim"), "--pheno",
         os.path.join(ROOT, "testdata", "sim.pheno"), "--pheno-name", "trait", "--engine", "cg",
         "--out", os.path.join(work, "warmup")], log)  # numba compilation, untimed

    if not a.chi2_only:
        lines += h2_section(a, prefix, pheno20, work, log)
    chi2_section(prefix, work, lines, log)
    out = os.path.join(HERE, "results", f"{a.date}-cg-continuity.md")
    with open(out, "w") as fh:
        fh.write("\n".join(lines))
    log(f"wrote {out}")
    return 0


def h2_section(a, prefix: str, pheno20: str, work: str, log) -> list:
    """1. h2 of the phenotypes, dense against cg, and p1/p2 over five seeds."""
    t_dense = run(["reml", "--bfile", prefix, "--pheno", pheno20, "--all-pheno", "--out",
                   os.path.join(work, "reml_dense")], log)
    t_cg = run(["reml", "--bfile", prefix, "--pheno", pheno20, "--all-pheno", "--engine", "cg",
                "--out", os.path.join(work, "reml_cg")], log)
    dense = tsv(os.path.join(work, "reml_dense.reml.tsv"))
    cg = tsv(os.path.join(work, "reml_cg.reml.tsv"))
    with open(os.path.join(work, "reml_cg.log")) as fh:
        mc = [float(x) for x in re.findall(r"Monte-Carlo se ([0-9.eE+-]+)\)", fh.read())]
    diff = np.array([float(c["h2"]) - float(r["h2"]) for c, r in zip(cg, dense)])
    mc = np.array(mc[:diff.size])
    lines = [f"## 1. h2 of {diff.size} phenotypes (500 causal variants each, h2 0.4; no "
              f"covariates)", "",
              f"`reml --all-pheno`: {t_dense:.1f} s; `reml --all-pheno --engine cg`: {t_cg:.1f} s.",
              "", "| phenotype | dense h2 (se) | cg h2 (AI se) | Monte-Carlo se | cg - dense |",
              "|---|---|---|---|---|"]
    for r, c, s in zip(dense, cg, mc):
        lines.append(f"| {r['phenotype']} | {float(r['h2']):.4f} ({float(r['h2_se']):.4f}) | "
                     f"{float(c['h2']):.4f} ({float(c['h2_se']):.4f}) | {s:.4f} | "
                     f"{float(c['h2']) - float(r['h2']):+.4f} |")
    within = np.abs(diff) <= mc
    lines += ["", f"Mean difference {diff.mean():+.4f} (SE over the phenotypes "
              f"{diff.std(ddof=1) / np.sqrt(diff.size):.4f}); mean Monte-Carlo SE "
              f"{mc.mean():.4f}; |difference| within one Monte-Carlo SE for {within.sum()} of "
              f"{diff.size}, within two for {(np.abs(diff) <= 2 * mc).sum()}; RMS difference / "
              f"RMS Monte-Carlo SE = {np.sqrt(np.mean(diff ** 2) / np.mean(mc ** 2)):.2f}.",
              ""]

    # the 20 share one seed's random phenotypes: their Monte-Carlo errors are one common error;
    # other seeds show whether the difference averages out
    seeds = {1: {r["phenotype"]: float(r["h2"]) for r in cg}}
    for seed in (2, 3, 4, 5):
        run(["reml", "--bfile", prefix, "--pheno", pheno20, "--pheno-name", "p1,p2", "--engine",
             "cg", "--seed", seed, "--out", os.path.join(work, f"reml_seed{seed}")], log)
        seeds[seed] = {r["phenotype"]: float(r["h2"])
                       for r in tsv(os.path.join(work, f"reml_seed{seed}.reml.tsv"))}
    lines += ["The 20 phenotypes share the Monte-Carlo draws of one seed, so their errors are one "
              "common error, not 20 independent ones. p1 and p2 with seeds 1-5 "
              "(`reml --engine cg --pheno-name p1,p2 --seed S`):", "",
              "| phenotype | dense h2 | cg h2, seeds 1-5 | mean over seeds - dense |",
              "|---|---|---|---|"]
    for name in ("p1", "p2"):
        d_h2 = next(float(r["h2"]) for r in dense if r["phenotype"] == name)
        vals = [seeds[sd][name] for sd in sorted(seeds)]
        lines.append(f"| {name} | {d_h2:.4f} | {', '.join(f'{v:.4f}' for v in vals)} | "
                     f"{np.mean(vals) - d_h2:+.4f} |")
    lines.append("")
    return lines


def chi2_section(prefix: str, work: str, lines: list, log) -> None:
    """2. per-variant chi2 of the CG runs against the dense --fast --loco."""
    base = ["assoc", "--bfile", prefix, "--pheno", prefix + ".pheno", "--pheno-name", "trait",
            "--covar", prefix + ".covar", "--loco"]
    t = {"dense": run(base + ["--fast", "--out", os.path.join(work, "dense")], log)}
    runs = {"once": ["--engine", "cg"], "each": ["--engine", "cg", "--loco-h2", "each"],
            "each60": ["--engine", "cg", "--loco-h2", "each", "--mc-probes", "60"],
            "each_tol": ["--engine", "cg", "--loco-h2", "each", "--cg-tol", "1e-6"]}
    for key, extra in runs.items():
        t[key] = run(base + extra + ["--out", os.path.join(work, key)], log)
    d_chi2 = chi2_of(os.path.join(work, "dense.assoc.tsv.gz"))
    lines += ["## 2. Per-variant chi2 against the dense `assoc --fast --loco`", "",
              f"Dense `--fast --loco`: {t['dense']:.1f} s.", "",
              "| `--engine cg` | wall s | median |r-1|, all | dense chi2 > 1: median, 99th pct "
              "(n) | chi2 > 10: median, 99th pct (n) | 99th pct, all | x'Px spread: plain / "
              "deflated |", "|---|---|---|---|---|---|---|"]
    for key, extra in runs.items():
        st = ratio_stats(chi2_of(os.path.join(work, f"{key}.assoc.tsv.gz")), d_chi2)
        lines.append(f"| `{' '.join(extra[2:]) or '--loco-h2 once'}` | {t[key]:.1f} | "
                     + " | ".join(st) + " | "
                     + calibration_spread(os.path.join(work, f"{key}.log")) + " |")
    lines += ["", "r = chi2_cg / chi2_dense. Over all variants the 99th percentile is set by "
              "chi2 near 0, where a tiny absolute difference is a large ratio. x'Px spread: the "
              "relative SD between the calibration variants of x'Px/x'Qx (the single ratio "
              "BOLT-LMM, fastGWA and SAIGE calibrate) and of the remainder after the leading "
              "eigenvectors (what gwaslmm calibrates), from each run's log. `--cg-tol 1e-6` "
              "(default 5e-4) shows how much of the difference the solves' tolerance makes.", ""]


if __name__ == "__main__":
    sys.exit(main())
