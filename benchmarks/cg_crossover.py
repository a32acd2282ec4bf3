"""Where the large-sample engine overtakes the dense one (issue 20, --engine auto).

Subsets of the first n samples of the 10,000 x 20,000 simulation that
benchmarks/cg_bench.py makes (benchmarks/data/sim_n10000_m20000; run that
first), with its phenotype and covariates; one command at a time, each after
an untimed warm-up of the CG engine (numba's cache):

* with LOCO:    dense ``assoc --loco`` (exact Wald, the default test),
  dense ``assoc --fast --loco``, ``assoc --loco --engine cg``;
* without LOCO: dense ``assoc``, dense ``assoc --fast``, ``assoc --engine cg``.

    .venv/bin/python benchmarks/cg_crossover.py --sizes 1000,2000,4000 \
        --date 2026-12-07-cg-crossover

Writes benchmarks/results/<date>.md: wall seconds per command and size, and
the smallest size at which the CG engine was faster than each dense variant.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
GWASLMM = os.path.join(os.path.dirname(sys.executable), "gwaslmm")


def timed(argv: list) -> float:
    t0 = time.perf_counter()
    r = subprocess.run([GWASLMM, *argv], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"failed: gwaslmm {' '.join(argv)}\n{r.stderr[-2000:]}")
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="1000,2000,4000")
    ap.add_argument("--data", default=os.path.join(HERE, "data", "sim_n10000_m20000"))
    ap.add_argument("--work", default=os.path.join(HERE, "data", "work-crossover"))
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-cg-crossover")
    a = ap.parse_args()
    prefix = os.path.join(a.data, "sim")
    if not os.path.exists(prefix + ".bed"):
        raise SystemExit(f"{prefix}.bed not found: run benchmarks/cg_bench.py --sizes "
                         f"10000x20000 first")
    os.makedirs(a.work, exist_ok=True)
    with open(prefix + ".fam") as fh:
        fam = [ln.split()[:2] for ln in fh]
    sizes = [int(s) for s in a.sizes.split(",")]
    base = ["assoc", "--bfile", prefix, "--pheno", prefix + ".pheno", "--pheno-name", "trait",
            "--covar", prefix + ".covar"]
    runs = {"dense --loco": ["--loco"], "dense --fast --loco": ["--fast", "--loco"],
            "cg --loco": ["--loco", "--engine", "cg"], "dense": [], "dense --fast": ["--fast"],
            "cg": ["--engine", "cg"]}
    timed(base + ["--keep", _keep(a.work, fam, 500), "--loco", "--engine", "cg", "--out",
                  os.path.join(a.work, "warmup")])
    t = {k: {} for k in runs}
    for n in sizes:
        keep = _keep(a.work, fam, n)
        for k, extra in runs.items():
            t[k][n] = timed(base + ["--keep", keep, *extra, "--out",
                                    os.path.join(a.work, f"{k.replace(' ', '_')}_{n}")])
            print(f"[{time.strftime('%H:%M:%S')}] n={n} {k}: {t[k][n]:.1f} s", flush=True)
    lines = [f"# Dense vs CG engine crossover ({a.date})", "",
             f"`.venv/bin/python benchmarks/cg_crossover.py --sizes {a.sizes} --date {a.date}`",
             "", "The first n samples of the 10,000 x 20,000 simulation (20,000 SNPs, 8 "
             "chromosomes), its trait and covariates; wall seconds, one command at a time on "
             f"{os.cpu_count()} cores.", "",
             "| command | " + " | ".join(f"n = {n:,}" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for k in runs:
        lines.append(f"| `assoc {runs[k] and ' '.join(runs[k]) or ''}` ({k}) | "
                     + " | ".join(f"{t[k][n]:.1f}" for n in sizes) + " |")
    lines.append("")
    for cg, dense in (("cg --loco", "dense --loco"), ("cg --loco", "dense --fast --loco"),
                      ("cg", "dense"), ("cg", "dense --fast")):
        faster = [n for n in sizes if t[cg][n] < t[dense][n]]
        lines.append(f"- `{cg}` faster than `{dense}` from n = "
                     f"{faster[0]:,}" if faster else f"- `{cg}` never faster than `{dense}` "
                     f"up to n = {sizes[-1]:,}")
    out = os.path.join(HERE, "results", f"{a.date}.md")
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print(f"wrote {out}")
    return 0


def _keep(work: str, fam: list, n: int) -> str:
    path = os.path.join(work, f"keep{n}.txt")
    with open(path, "w") as fh:
        fh.writelines(f"{f} {i}\n" for f, i in fam[:n])
    return path


if __name__ == "__main__":
    sys.exit(main())
