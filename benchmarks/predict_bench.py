"""Prediction time (issue 18): ``gwaslmm predict`` on N samples x M SNPs of the
project's simulation, of which the last ``--new`` samples have no phenotype
(predicted from their kinship alone), with SNP effects and without
``--cv``; then the same with ``--cv 5``; then with the new samples in a
fileset of their own (``--bfile-new``), fitted afresh and from a null model
saved by ``reml --save-null`` (``--null``, no eigendecomposition), checking
that every run gives the same predictions.

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

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from speed import gwaslmm_exe, simulate, timed, write_report  # noqa: E402


def split_fileset(sim: str, d: str, n_train: int) -> tuple:
    """The first n_train samples of ``sim`` as d/train, the others as d/new."""
    from bed_reader import open_bed, to_bed

    train, new = os.path.join(d, "train"), os.path.join(d, "new")
    if os.path.exists(new + ".bed"):
        return train, new
    with open_bed(sim + ".bed") as bed:
        G = bed.read(dtype="int8")
        props = dict(fid=bed.fid, iid=bed.iid, sid=bed.sid, chromosome=bed.chromosome,
                     bp_position=bed.bp_position, cm_position=bed.cm_position,
                     allele_1=bed.allele_1, allele_2=bed.allele_2)
    for path, rows in ((train, slice(0, n_train)), (new, slice(n_train, None))):
        pr = {k: (v[rows] if k in ("fid", "iid") else v) for k, v in props.items()}
        to_bed(path + ".bed", np.ascontiguousarray(G[rows]), properties=pr)
    return train, new


def read_predictions(path: str) -> dict:
    with open(path) as fh:
        head = fh.readline().rstrip("\n").split("\t")
        g = head.index("genetic_value")
        return {tuple(f[:2]): float(f[g]) for f in (ln.rstrip("\n").split("\t") for ln in fh)}


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
    train, new = split_fileset(sim, d, a.n - a.new)
    two = [gwaslmm_exe(), "predict", "--bfile", train, "--bfile-new", new]
    cov = ["--covar", sim + ".covar", "--covar-name", "age,bmi"]
    runs = (("predict", [*base], "pred"),
            ("predict --cv 5", [*base, "--cv", "5"], "predcv"),
            ("predict --bfile-new", [*two, "--pheno", pheno, "--pheno-name", "trait", *cov],
             "prednew"),
            ("reml --save-null (training file)", [gwaslmm_exe(), "reml", "--bfile", train,
                                                  "--pheno", pheno, "--pheno-name", "trait",
                                                  *cov, "--save-null",
                                                  os.path.join(d, "null")], "reml"),
            ("predict --bfile-new --null", [*two, "--null", os.path.join(d, "null"), *cov],
             "prednull"))
    for tag, cmd, name in runs:
        out = os.path.join(d, name)
        t = timed([*cmd, "--out", out])
        with open(out + ".timings.json") as fh:
            st = json.load(fh)
        stages = ", ".join(f"{k} {v:.1f}" for k, v in st.items() if isinstance(v, (int, float))
                           and v >= 0.05)
        lines.append(f"| `{tag}` | {t:.1f} | {stages} |")
        print(lines[-1], flush=True)
    ref = read_predictions(os.path.join(d, "pred.predict.tsv"))
    for name in ("prednew", "prednull"):
        got = read_predictions(os.path.join(d, name + ".predict.tsv"))
        diff = max(abs(got[k] - v) / max(abs(v), 1e-12) for k, v in ref.items())
        lines.append(f"\n`{name}` genetic values against the one-file `predict`: largest "
                     f"relative difference {diff:.2g}")
        print(lines[-1], flush=True)
    lines.append("")
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
