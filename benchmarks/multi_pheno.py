"""Many phenotypes in one scan (issue 19): ``assoc --fast`` over 100
phenotypes in one run against one phenotype, and against separate runs.

    .venv/bin/python benchmarks/multi_pheno.py --n 2000 --m 20000 --phenotypes 100 \\
        --separate 100 --date 2026-11-27-multi-pheno

Data: the project's simulation (n x m, 10 chromosomes); phenotypes
y_k = trait + N(0, 1) noise (seed 19), all present.  Runs, one at a time:
one phenotype; all phenotypes in one run (one pass over the genotypes, one
rotation per block shared by every phenotype); ``--separate`` single runs,
one per phenotype (fewer than the phenotypes: their mean time x the number
of phenotypes, stated as an estimate).  The one run's files are compared
with the single runs' (decompressed tables).  Writes
benchmarks/results/<date>.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from speed import gwaslmm_exe, simulate, timed, write_report  # noqa: E402


def compare(pairs) -> str:
    """Rows of the one run's tables that differ from the single runs' (the
    --fast single run whitens, the many-phenotype run rotates: the same
    statistics, printed to 8 digits), and the largest relative difference."""
    import gzip

    rows = diff = 0
    worst = 0.0
    for a, b in pairs:
        with gzip.open(a, "rt") as fa, gzip.open(b, "rt") as fb:
            la, lb = fa.read().splitlines(), fb.read().splitlines()
        rows += len(la) - 1
        for x, y in zip(la[1:], lb[1:]):
            if x != y:
                diff += 1
                for u, v in zip(x.split("\t"), y.split("\t")):
                    if u != v:
                        worst = max(worst, abs(float(u) - float(v)) / max(abs(float(v)), 1e-300))
    return (f"{len(pairs)} phenotypes, {rows:,} rows: {diff} differ, in the last printed digit "
            f"(largest relative difference {worst:.2g})" if diff else
            f"{len(pairs)} phenotypes, {rows:,} rows: every row identical")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--m", type=int, default=20_000)
    ap.add_argument("--phenotypes", type=int, default=100)
    ap.add_argument("--separate", type=int, default=5)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-multi-pheno")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "multi-pheno"))
    a = ap.parse_args()
    d = os.path.join(a.data_dir, f"{a.n}x{a.m}")
    os.makedirs(d, exist_ok=True)
    sim = os.path.join(d, "sim")
    simulate(sim, a.n, a.m, 10, 20, 19)
    with open(sim + ".pheno") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        rows = [ln.rstrip("\n").split("\t") for ln in fh]
    t = head.index("trait")
    rng = np.random.default_rng(19)
    names = [f"p{k + 1}" for k in range(a.phenotypes)]
    pheno = os.path.join(d, "many.pheno")
    with open(pheno, "w") as fh:
        fh.write("FID\tIID\t" + "\t".join(names) + "\n")
        for r in rows:
            base = float(r[t]) if r[t] != "NA" else 0.0
            fh.write(f"{r[0]}\t{r[1]}\t" + "\t".join(f"{base + e:.6f}" for e in
                                                  rng.normal(size=a.phenotypes)) + "\n")
    base = [gwaslmm_exe(), "assoc", "--bfile", sim, "--pheno", pheno, "--fast"]
    t_one = timed([*base, "--pheno-name", names[0], "--out", os.path.join(d, "one")])
    t_all = timed([*base, "--all-pheno", "--out", os.path.join(d, "all")])
    seps = [timed([*base, "--pheno-name", names[k % a.phenotypes], "--out",
                   os.path.join(d, f"sep{k % a.phenotypes}")])
            for k in range(1, 1 + a.separate)]
    est = float(np.mean(seps)) * a.phenotypes
    # every phenotype's file of the one run equals its single run
    pairs = [(os.path.join(d, f"all.{names[k % a.phenotypes]}.assoc.tsv.gz"),
              os.path.join(d, f"sep{k % a.phenotypes}.assoc.tsv.gz"))
             for k in range(1, 1 + a.separate)]
    same = compare(pairs)
    lines = [f"# Many phenotypes in one scan ({a.date})", "",
             f"`python benchmarks/multi_pheno.py --n {a.n} --m {a.m} --phenotypes "
             f"{a.phenotypes} --separate {a.separate} --date {a.date}`", "",
             f"{a.n:,} samples x {a.m:,} SNPs, `assoc --fast`; {os.cpu_count()} cores.", "",
             "| run | s | ratio to one phenotype |", "|---|---:|---:|",
             f"| one phenotype | {t_one:.1f} | 1.00 |",
             f"| {a.phenotypes} phenotypes, one run (`--all-pheno`) | {t_all:.1f} | "
             f"{t_all / t_one:.2f} |",
             (f"| {a.phenotypes} separate runs (measured, one after the other; mean "
              f"{np.mean(seps):.1f} s) | {sum(seps):.0f} | {sum(seps) / t_one:.1f} |"
              if a.separate >= a.phenotypes else
              f"| {a.phenotypes} separate runs (estimated: mean of {a.separate} runs, "
              f"{np.mean(seps):.1f} s, x {a.phenotypes}) | {est:.0f} | {est / t_one:.1f} |"),
             "",
             f"The one run's files against the single runs': {same}.", ""]
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
