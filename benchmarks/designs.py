"""The cost of each per-variant design relative to the additive scan (issue 16).

    .venv/bin/python benchmarks/designs.py --n 5000 --m 50000 --date 2026-11-27-designs

On the project's simulation (N samples x M SNPs, families included), one
eigendecomposition is saved (``assoc --save-eigen``) and every scan reuses it
(``--eigen``), so the times compare the scans alone: additive, ``--gxe age``
and ``--within-family``, each exact (lambda per SNP) and ``--fast``, all
with the covariates age and bmi.  One run each after a warm-up run of the
smallest job (numba's cache); 2-core machine.  Writes
benchmarks/results/<date>.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from speed import gwaslmm_exe, simulate, timed, write_report  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--m", type=int, default=50_000)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-designs")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "designs"))
    a = ap.parse_args()
    d = os.path.join(a.data_dir, f"{a.n}x{a.m}")
    sim = os.path.join(d, "sim")
    simulate(sim, a.n, a.m, 10, 20, 16)
    g = gwaslmm_exe()
    base = ["--bfile", sim, "--pheno", sim + ".pheno", "--pheno-name", "trait", "--covar",
            sim + ".covar", "--covar-name", "age,bmi"]
    eig = os.path.join(d, "e")
    t_prep = None
    if not os.path.exists(eig + ".eigen.npz"):
        t_prep = timed([g, "assoc", *base, "--chr", "1", "--fast", "--save-eigen", "--out", eig])
    timed([g, "assoc", *base, "--eigen", eig, "--chr", "1", "--gxe", "age", "--out",
           os.path.join(d, "warm")])  # compile / load every kernel once
    designs = {"additive": [], "gxe": ["--gxe", "age"], "within-family": ["--within-family"]}
    rows, t = [], {}
    for mode, flag in (("exact", []), ("fast", ["--fast"])):
        for name, extra in designs.items():
            t[mode, name] = timed([g, "assoc", *base, "--eigen", eig, *flag, *extra, "--out",
                                   os.path.join(d, f"{mode}-{name}")])
            print(f"{mode} {name}: {t[mode, name]:.1f} s", flush=True)
        for name in designs:
            rows.append(f"| {mode} | {name} | {t[mode, name]:.1f} | "
                        f"{t[mode, name] / t[mode, 'additive']:.2f} |")
    lines = [f"# Per-variant designs ({a.date})", "",
             f"`python benchmarks/designs.py --n {a.n} --m {a.m} --date {a.date}`", "",
             f"{a.n:,} samples x {a.m:,} SNPs (the project's simulation), covariates age and "
             f"bmi, one saved eigendecomposition reused by every scan (`--eigen`)"
             + (f"; making it took {t_prep:.0f} s" if t_prep else "") + f". {os.cpu_count()} "
             f"cores, one run each (after one warm-up run).", "",
             "| mode | design | s | relative to additive |", "|---|---|---:|---:|", *rows, "",
             "The two-column designs rotate (exact) or whiten (fast) two columns per variant, "
             "twice the additive scan's n^2 m product; the exact GxE/within scan also searches "
             "lambda per variant on a grid of 81 points and by Brent's method.", ""]
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
