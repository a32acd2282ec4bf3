"""Binary-trait scan time (issue 15): ``gwaslmm assoc --binary`` (logistic
mixed model null fit + score test with SPA) against ``gwaslmm assoc --fast``
on the quantitative trait of the same data and against ``plink2 --glm``
logistic regression (no kinship), side by side.

    .venv/bin/python benchmarks/binary_bench.py --n 5000 --m 50000 --repeats 2 \\
        --date 2026-12-06-binary-bench

Data: the project's simulation (the same as benchmarks/predict_bench.py and
designs.py: 10 chromosomes, seed 16); the binary trait is the liability
threshold of the simulated quantitative trait (its top 10% are cases, PLINK
1/2 coding).  Covariates age and bmi for every tool.  Each command runs once
untimed (numba compilation, file cache), then ``--repeats`` rounds in
alternating order; medians reported with the binary run's stage times.
Writes benchmarks/results/<date>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from speed import alternate, gwaslmm_exe, med, simulate, write_report  # noqa: E402


def write_binary_pheno(sim: str, path: str, prevalence: float) -> int:
    """cc = 2 for the top ``prevalence`` of the simulated trait, else 1 (NA
    stays NA); returns the number of cases."""
    with open(sim + ".pheno") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        rows = [ln.rstrip("\n").split("\t") for ln in fh]
    k = head.index("trait")
    vals = np.array([float(r[k]) if r[k] != "NA" else np.nan for r in rows])
    ok = ~np.isnan(vals)
    cut = np.quantile(vals[ok], 1 - prevalence)
    with open(path, "w") as fh:
        fh.write("FID\tIID\tcc\n")
        for r, v in zip(rows, vals):
            fh.write(f"{r[0]}\t{r[1]}\t{'NA' if np.isnan(v) else (2 if v > cut else 1)}\n")
    return int((vals[ok] > cut).sum())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--m", type=int, default=50_000)
    ap.add_argument("--prevalence", type=float, default=0.1)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-binary-bench")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "designs"))
    a = ap.parse_args()
    d = os.path.join(a.data_dir, f"{a.n}x{a.m}")
    sim = os.path.join(d, "sim")
    simulate(sim, a.n, a.m, 10, 20, 16)
    cc = os.path.join(d, "cc.pheno")
    cases = write_binary_pheno(sim, cc, a.prevalence)
    cov = ["--covar", sim + ".covar", "--covar-name", "age,bmi"]
    out = {k: os.path.join(d, k) for k in ("binary", "fast", "plink2")}
    cmds = {
        "gwaslmm assoc --binary": [gwaslmm_exe(), "assoc", "--bfile", sim, "--pheno", cc,
                                   "--pheno-name", "cc", "--binary", *cov, "--out",
                                   out["binary"]],
        "gwaslmm assoc --fast (quantitative)": [gwaslmm_exe(), "assoc", "--bfile", sim,
                                                "--pheno", sim + ".pheno", "--pheno-name",
                                                "trait", "--fast", *cov, "--out", out["fast"]],
    }
    plink2 = shutil.which("plink2")
    if plink2:
        cmds["plink2 --glm (logistic, no kinship)"] = [
            plink2, "--bfile", sim, "--pheno", cc, "--pheno-name", "cc", *cov,
            "--glm", "hide-covar", "omit-ref", "--maf", "0.01", "--geno", "0.05",
            "--threads", str(os.cpu_count()), "--out", out["plink2"]]
    t = alternate(cmds, a.repeats)
    with open(out["binary"] + ".timings.json") as fh:
        st = json.load(fh)
    stages = ", ".join(f"{k} {v:.1f}" for k, v in st.items()
                       if isinstance(v, (int, float)) and v >= 0.05)
    base = med(t["gwaslmm assoc --fast (quantitative)"])
    lines = [f"# Binary-trait scan time ({a.date})", "",
             f"`python benchmarks/binary_bench.py --n {a.n} --m {a.m} --repeats {a.repeats} "
             f"--date {a.date}`", "",
             f"{a.n:,} samples x {a.m:,} SNPs (the project's simulation, 10 chromosomes); "
             f"binary trait: the top {a.prevalence:.0%} of the simulated quantitative trait "
             f"({cases} cases); covariates age, bmi. {os.cpu_count()} cores; medians of "
             f"{a.repeats} alternating runs after one untimed run each.", "",
             "| command | median s | runs | ratio to assoc --fast |", "|---|---:|---|---:|"]
    for k, v in t.items():
        lines.append(f"| `{k}` | {med(v):.1f} | {', '.join(f'{x:.1f}' for x in v)} | "
                     f"{med(v) / base:.2f} |")
    lines += ["", f"Stages of the last `assoc --binary` run (s): {stages}", ""]
    with open(out["binary"] + ".log") as fh:
        lines += ["Its null fit:", ""] + ["    " + ln.rstrip() for ln in fh
                                          if "null model" in ln or "iterations (tau" in ln]
    lines.append("")
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
