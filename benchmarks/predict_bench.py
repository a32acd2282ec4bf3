"""Prediction time (issue 18): ``gwaslmm predict`` on N samples x M SNPs of the
project's simulation, of which the last ``--new`` samples have no phenotype
(predicted from their kinship alone), with SNP effects and without
``--cv``; then the same with ``--cv 5``.

    .venv/bin/python benchmarks/predict_bench.py --n 5000 --m 50000 --new 1000 \\
        --date 2026-11-27-predict

Writes benchmarks/results/<date>.md with the stage times from the run's
timings file.  2-core machine, one run each after the data exist.
"""

from __future__ import annotations

import argparse
import json
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
    ap.add_argument("--new", type=int, default=1000)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-predict")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "designs"))
    a = ap.parse_args()
    d = os.path.join(a.data_dir, f"{a.n}x{a.m}")
    sim = os.path.join(d, "sim")
    simulate(sim, a.n, a.m, 10, 20, 16)
    with open(sim + ".pheno") as fh:
        head, *rows = fh.read().splitlines()
    pheno = os.path.join(d, f"train{a.new}.pheno")
    with open(pheno, "w") as fh:
        fh.write("\n".join([head] + rows[:len(rows) - a.new]) + "\n")
    base = [gwaslmm_exe(), "predict", "--bfile", sim, "--pheno", pheno, "--pheno-name", "trait",
            "--covar", sim + ".covar", "--covar-name", "age,bmi"]
    lines = [f"# Prediction ({a.date})", "",
             f"`python benchmarks/predict_bench.py --n {a.n} --m {a.m} --new {a.new} --date "
             f"{a.date}`", "",
             f"{a.n:,} samples x {a.m:,} SNPs (the project's simulation); the last {a.new:,} "
             f"samples have no phenotype and are predicted from their kinship alone. "
             f"{os.cpu_count()} cores, one run each.", "",
             "| run | s | stages (s) |", "|---|---:|---|"]
    for tag, extra in (("predict", []), ("predict --cv 5", ["--cv", "5"])):
        out = os.path.join(d, "pred" + ("cv" if extra else ""))
        t = timed([*base, *extra, "--out", out])
        with open(out + ".timings.json") as fh:
            st = json.load(fh)
        stages = ", ".join(f"{k} {v:.1f}" for k, v in st.items() if isinstance(v, (int, float))
                           and v >= 0.05)
        lines.append(f"| `{tag}` | {t:.1f} | {stages} |")
        print(lines[-1], flush=True)
    lines.append("")
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
