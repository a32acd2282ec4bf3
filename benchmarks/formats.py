"""Genotype formats side by side (issue 14): decode throughput and
end-to-end ``assoc --fast`` on the same genotypes as .bed, .pgen (hard
calls and dosages) and BGEN, with plink2 reading the same files as the floor.

    .venv/bin/python benchmarks/formats.py --repeats 3 --date 2026-11-27-formats

Data (made once under benchmarks/data/formats, by this script): the
project's simulator writes 2,000 samples x 50,000 SNPs (hard calls, 0.5%
missing, a phenotype); dosages are those calls plus N(0, 0.1) noise clipped
to [0, 2] (missing calls stay missing), written as a dosage .pgen by pgenlib;
plink2 then makes every other file from that .pgen:

* ``hard.pgen``: ``--make-pgen erase-dosage --hard-call-threshold 0.4999``
  (hard calls: each dosage rounded, i.e. the simulated calls)
* ``hard.bed``: ``--make-bed`` (the same hard calls)
* ``b12.bgen``: ``--export bgen-1.2 bits=16`` (zlib); ``b13.bgen``:
  ``--export bgen-1.3`` (zstd); ``b8.bgen``: ``--export bgen-1.2 bits=8``

Measured, one command at a time:

1. decode: every variant of every sample through gwaslmm's genotype source
   in blocks of 4,096 variants on one thread (as the scan's reader thread
   reads), shortest of ``--repeats``; genotypes per second.  The floor:
   ``plink2 --freq`` on the same file (it reads every genotype; for BGEN it
   first imports the file, which is its decode), 2 threads.
2. end to end: ``gwaslmm assoc --fast`` (kinship built from the same file,
   so the genotypes are read twice) against ``plink2 --glm`` (linear
   regression without a kinship, the I/O floor of a scan); medians of
   ``--repeats`` alternating runs after a warm-up run of each.

Writes benchmarks/results/<date>.md.  Needs ``plink2`` on the PATH.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from speed import alternate, best_of, gwaslmm_exe, med, simulate, write_report  # noqa: E402

N, M = 2000, 50_000


def make_data(d: str, plink2: str) -> dict:
    """The files, made once; returns name -> gwaslmm source arguments."""
    import pgenlib

    from gwaslmm.genotypes.plink1 import BedFile

    base = os.path.join(d, "sim")
    simulate(base, N, M, 10, 0, 2014)
    dose = os.path.join(d, "dose")
    if not os.path.exists(dose + ".pgen"):
        bed = BedFile(base)
        G = bed.read_block(None, slice(None)).G.astype(np.float64)
        G[G < 0] = np.nan
        rng = np.random.default_rng(14)
        D = np.clip(G + rng.normal(0, 0.1, G.shape), 0, 2)
        with pgenlib.PgenWriter(f"{dose}.pgen".encode(), N, variant_ct=M, nonref_flags=False,
                                dosage_present=True) as w:
            for a in range(0, M, 5000):  # A1 dosages = ALT
                blk = D[:, a:a + 5000]
                w.append_dosages_batch(np.ascontiguousarray(np.where(np.isnan(blk), -9, blk).T))
        b = bed.bim
        with open(dose + ".pvar", "w") as fh:
            fh.write("#CHROM\tPOS\tID\tREF\tALT\n")
            fh.writelines(f"{b.chromosome[j]}\t{b.bp[j]}\t{b.snp[j]}\t{b.a2[j]}\t{b.a1[j]}\n"
                          for j in range(M))
        f = bed.fam
        with open(dose + ".psam", "w") as fh:
            fh.write("#FID\tIID\n")
            fh.writelines(f"{f.fid[i]}\t{f.iid[i]}\n" for i in range(N))
    p2 = [plink2, "--threads", "2", "--pfile", dose, "--hard-call-threshold", "0.4999"]
    jobs = {"hard.pgen": ["--make-pgen", "erase-dosage", "--out", os.path.join(d, "hard")],
            "hard.bed": ["--make-bed", "--out", os.path.join(d, "hard")],
            "b12.bgen": ["--export", "bgen-1.2", "bits=16", "--out", os.path.join(d, "b12")],
            "b13.bgen": ["--export", "bgen-1.3", "--out", os.path.join(d, "b13")],
            "b8.bgen": ["--export", "bgen-1.2", "bits=8", "--out", os.path.join(d, "b8")]}
    for out, args in jobs.items():
        if not os.path.exists(os.path.join(d, out)):
            subprocess.run(p2 + args, check=True, capture_output=True)
    j = lambda x: os.path.join(d, x)  # noqa: E731
    return {
        ".bed (hard calls)": ["--bfile", j("hard")],
        ".pgen hard calls": ["--pfile", j("hard")],
        ".pgen dosages": ["--pfile", j("dose")],
        "BGEN 1.2 16-bit zlib": ["--bgen", j("b12.bgen"), "--sample", j("b12.sample")],
        "BGEN 1.3 16-bit zstd": ["--bgen", j("b13.bgen"), "--sample", j("b13.sample")],
        "BGEN 1.2 8-bit zlib": ["--bgen", j("b8.bgen"), "--sample", j("b8.sample")],
    }


def plink2_source(args: list) -> list:
    """The same file in plink2's input flags."""
    if args[0] == "--bgen":
        return ["--bgen", args[1], "ref-last", "--sample", args[3]]
    return args[:2]


def open_source(args: list):
    from gwaslmm.genotypes import open_genotypes

    kw = {"--bfile": "bfile", "--pfile": "pfile", "--bgen": "bgen", "--sample": "sample"}
    return open_genotypes(**{kw[args[k]]: args[k + 1] for k in range(0, len(args), 2)})


def setup(doc: str, suffix: str):
    """(arguments, plink2, sources) of a benchmark on these files: --repeats,
    --date (default today-<suffix>), --data-dir."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-" + suffix)
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "formats"))
    a = ap.parse_args()
    plink2 = shutil.which("plink2")
    if not plink2:
        raise SystemExit("plink2 is needed (Debian package plink2)")
    os.makedirs(a.data_dir, exist_ok=True)
    return a, plink2, make_data(a.data_dir, plink2)


def main() -> int:
    a, plink2, sources = setup(__doc__, "formats")
    pheno = os.path.join(a.data_dir, "sim.pheno")
    n_geno = N * M
    rows, e2e = [], []
    for name, args in sources.items():
        src = open_source(args)
        blocks = [slice(s, min(M, s + 4096)) for s in range(0, M, 4096)]
        t1 = best_of(lambda: [src.read_block(None, b, threads=1) for b in blocks], a.repeats)
        t2 = best_of(lambda: [src.read_block(None, b, threads=2) for b in blocks], a.repeats)
        scratch = os.path.join(a.data_dir, "runs")
        os.makedirs(scratch, exist_ok=True)
        p2 = [plink2, "--threads", "2", *plink2_source(args)]
        tf = alternate({k: [plink2, "--threads", k, *plink2_source(args), "--freq", "--out",
                            os.path.join(scratch, "f")] for k in ("1", "2")}, a.repeats)
        f1, f2 = med(tf["1"]), med(tf["2"])
        rows.append(f"| {name} | {os.path.getsize(src.path) / 1e6:.0f} | {t1:.2f} | {t2:.2f} | "
                    f"{n_geno / t2 / 1e6:.0f} | {f1:.2f} | {f2:.2f} | {n_geno / f2 / 1e6:.0f} | "
                    f"{t1 / f1:.2f} | {t2 / f2:.2f} |")
        t = alternate({
            "gwaslmm": [gwaslmm_exe(), "assoc", *args, "--pheno", pheno, "--pheno-name", "trait",
                        "--fast", "--out", os.path.join(scratch, "g")],
            "plink2": p2 + ["--pheno", pheno, "--pheno-name", "trait", "--glm",
                            "allow-no-covars", "--out", os.path.join(scratch, "p")]},
            a.repeats)
        e2e.append(f"| {name} | {med(t['gwaslmm']):.2f} | {med(t['plink2']):.2f} | "
                   f"{med(t['gwaslmm']) / med(t['plink2']):.2f} |")
        print(rows[-1], e2e[-1], flush=True)
    lines = [f"# Genotype formats ({a.date})", "",
             f"`python benchmarks/formats.py --repeats {a.repeats} --date {a.date}`", "",
             f"Machine: {os.cpu_count()} cores. {N:,} samples x {M:,} variants "
             f"({n_geno / 1e6:.0f} M genotypes), the same calls in every file (see the "
             f"script's docstring for how each file is made).", "",
             "## 1. Decode", "",
             "gwaslmm: every variant through its genotype source into float blocks with their "
             "QC counts (and INFO), blocks of 4,096, with 1 and 2 threads (BGEN decompresses "
             "in threads; the .pgen and .bed readers use one), shortest of the repeats. plink2: "
             "`--freq` on the same file with `--threads 1` and `2` (BGEN is imported to .pgen "
             "first: that is its decode), medians, process start included. Ratio: gwaslmm "
             "time / plink2 time (below 1: gwaslmm faster).", "",
             "| file | MB | gwaslmm 1 thr s | 2 thr s | M genotypes/s (2 thr) | plink2 1 thr s "
             "| 2 thr s | M genotypes/s (2 thr) | ratio 1 thr | ratio 2 thr |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
             "## 2. End to end", "",
             "`gwaslmm assoc --fast` (kinship built from the same file: two passes) against "
             "`plink2 --glm allow-no-covars` (no kinship; the I/O floor of a scan).", "",
             "| file | gwaslmm s | plink2 --glm s | ratio |", "|---|---:|---:|---:|", *e2e, ""]
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
