"""Several variance components (issue 17): AI-REML time per iteration and in
all against the one-kinship fit, at n = 2,000 and 5,000 samples.

    .venv/bin/python benchmarks/vc_bench.py --sizes 2000,5000 --m 20000 \\
        --date 2026-11-27-vc

Data: the project's simulation (n samples x m SNPs, 10 chromosomes), its
phenotype 'trait' plus a household effect (households of 4 consecutive
samples, variance 0.3) and a clinic effect (20 clinics at random, variance
0.2), drawn by this script (seed 17).  Runs, one at a time: ``reml`` (one
kinship: eigendecomposition + GEMMA's lambda search), ``reml --random
household,clinic`` (kinship + two group factors by AI-REML, then one refit
per component for its LRT) and ``assoc --random household,clinic`` (the
same fit, no LRTs, then the scan).  Stage times from each run's timings
file; iterations and time per likelihood evaluation from its log.
Writes benchmarks/results/<date>.md.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from speed import gwaslmm_exe, simulate, timed, write_report  # noqa: E402


def make_groups(sim: str, d: str) -> tuple:
    """(phenotype file, covariate file) with the household and clinic effects."""
    rng = np.random.default_rng(17)
    with open(sim + ".pheno") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        rows = [ln.rstrip("\n").split("\t") for ln in fh]
    t = head.index("trait")
    n = len(rows)
    house = np.arange(n) // 4
    clinic = rng.integers(0, 20, n)
    extra = (rng.normal(0, np.sqrt(0.3), house.max() + 1)[house]
             + rng.normal(0, np.sqrt(0.2), 20)[clinic])
    pheno, covar = os.path.join(d, "groups.pheno"), os.path.join(d, "groups.covar")
    with open(pheno, "w") as fh:
        fh.write("FID\tIID\ty\n")
        for r, e in zip(rows, extra):
            v = r[t]
            fh.write(f"{r[0]}\t{r[1]}\t{'NA' if v == 'NA' else f'{float(v) + e:.6f}'}\n")
    with open(covar, "w") as fh:
        fh.write("FID\tIID\thousehold\tclinic\n")
        for r, h, c in zip(rows, house, clinic):
            fh.write(f"{r[0]}\t{r[1]}\tH{h}\tC{c}\n")
    return pheno, covar


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="2000,5000")
    ap.add_argument("--m", type=int, default=20_000)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-vc")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "vc"))
    a = ap.parse_args()
    lines = [f"# Several variance components ({a.date})", "",
             f"`python benchmarks/vc_bench.py --sizes {a.sizes} --m {a.m} --date {a.date}`", "",
             "The project's simulation with a household (variance 0.3) and a clinic (0.2) "
             f"effect added to 'trait'; {os.cpu_count()} cores, one run each.", "",
             "| n | run | s | iterations | s per evaluation | stages (s) |",
             "|---:|---|---:|---:|---:|---|"]
    notes = []
    for n in (int(x) for x in a.sizes.split(",")):
        d = os.path.join(a.data_dir, f"{n}x{a.m}")
        os.makedirs(d, exist_ok=True)
        sim = os.path.join(d, "sim")
        simulate(sim, n, a.m, 10, 20, 17)
        pheno, covar = make_groups(sim, d)
        base = ["--bfile", sim, "--pheno", pheno, "--pheno-name", "y"]
        groups = ["--covar", covar, "--random", "household,clinic"]
        for tag, cmd in (("reml (one kinship)", ["reml", *base]),
                         ("reml --random household,clinic", ["reml", *base, *groups]),
                         ("assoc --random household,clinic", ["assoc", *base, *groups])):
            out = os.path.join(d, tag.split()[0] + str(len(cmd)))
            t = timed([gwaslmm_exe(), *cmd, "--out", out])
            with open(out + ".timings.json") as fh:
                st = json.load(fh)
            with open(out + ".log") as fh:
                log = fh.read()
            m = re.search(r"AI-REML: \d+ samples, (\d+) iterations, [0-9.]+s \(([0-9.]+)s per", log)
            its, per = (m.group(1), m.group(2)) if m else ("-", "-")
            stages = ", ".join(f"{k} {v:.1f}" for k, v in st.items()
                               if isinstance(v, (int, float)) and v >= 0.05)
            lines.append(f"| {n:,} | `{tag}` | {t:.1f} | {its} | {per} | {stages} |")
            print(lines[-1], flush=True)
            est = re.findall(r"^  (G1|household|clinic|residual): ([0-9.e-]+) \(se ([0-9.e-]+)\)",
                             log, flags=re.M)
            if est:
                notes.append(f"- n = {n:,}, `{tag}`: " + "; ".join(f"{k} {v} (se {s})"
                                                                for k, v, s in est))
    lines += ["", "Estimates (truth for the groups: household 0.3, clinic 0.2):", "", *notes, ""]
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
