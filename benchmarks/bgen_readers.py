"""Why gwaslmm reads BGEN with its own decoder (issue 14): the readers on PyPI
against it, on the BGEN files plink2 writes, with plink2's own import.

    .venv/bin/pip install bgen cbgen      # only for this comparison
    .venv/bin/python benchmarks/bgen_readers.py --repeats 3 --date 2026-11-27-bgen-readers

The files: those of benchmarks/formats.py (2,000 samples x 50,000 variants;
BGEN 1.2 16-bit zlib, 1.3 zstd, 1.2 8-bit, made by plink2), and BGEN 1.2
16-bit zlib of benchmarks/speed.py's wide simulation (400 x 350,000: many
small variants, where a per-variant cost shows).  Each
reader turns every variant into dosages (float32, all samples) on one
thread: gwaslmm's BgenFile.read_block in blocks of 4,096; ``bgen`` 1.10.3
(BgenReader, one Python object per variant); ``cbgen`` (probabilities by
file offset from its metafile, the dosage computed from them); the shortest
of the repeats.  plink2: ``--bgen F ref-last --sample S --make-pgen`` (its
import is its decode), ``--threads 1`` and 2, median.  A reader that is not
installed is reported as such.  (``pybgen`` 0.7.1 needs a .bgi index from
bgenix and an extra package for zstd: not timed.)
"""

from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import numpy as np  # noqa: E402

from formats import setup  # noqa: E402
from speed import alternate, best_of, med, simulate, write_report  # noqa: E402


def _shape(path):
    """(m, n) from the BGEN header."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return int.from_bytes(head[8:12], "little"), int.from_bytes(head[12:16], "little")


def ours(path, sample):
    from gwaslmm.genotypes.bgen import BgenFile

    src = BgenFile(path, sample_path=sample)
    m = src.variants.m
    return lambda: [src.read_block(None, slice(a, min(m, a + 4096)), threads=1)
                    for a in range(0, m, 4096)]


def jm_bgen(path, sample):
    from bgen import BgenReader

    def run():
        out = np.empty(_shape(path), np.float32)
        for i, v in enumerate(BgenReader(path, delay_parsing=True)):
            out[i] = v.alt_dosage
        return out
    return run


def cbgen_reader(path, sample):
    from cbgen import bgen_file, bgen_metafile

    meta = os.path.join(tempfile.mkdtemp(), "m.metafile")
    with bgen_file(path) as b:
        b.create_metafile(meta, verbose=False)
    with bgen_metafile(meta) as mf:
        offs = np.concatenate([mf.read_partition(i).variants.offset
                               for i in range(mf.npartitions)])

    def run():
        out = np.empty(_shape(path), np.float32)
        with bgen_file(path) as b:
            for i, o in enumerate(offs):
                p = b.read_probability(o, precision=32)
                out[i] = p[:, 1] + 2 * p[:, 2]
        return out
    return run


def main() -> int:
    a, plink2, data = setup(__doc__, "bgen-readers")
    sources = {f"2,000 x 50,000, {k}": v for k, v in data.items() if v[0] == "--bgen"}
    wide = os.path.join(HERE, "data", "speed", "wide", "sim")
    simulate(wide, 400, 350_000, 22, 8, 400)  # benchmarks/speed.py's wide data
    if not os.path.exists(wide + "_b12.bgen"):
        import subprocess

        subprocess.run([plink2, "--threads", "2", "--bfile", wide, "--export", "bgen-1.2",
                        "bits=16", "--out", wide + "_b12"], check=True, capture_output=True)
    sources["400 x 350,000, BGEN 1.2 16-bit zlib"] = ["--bgen", wide + "_b12.bgen", "--sample",
                                                      wide + "_b12.sample"]
    readers = {"gwaslmm": ours, "bgen 1.10.3": jm_bgen, "cbgen": cbgen_reader}
    head = " | ".join(readers)
    rows = []
    for name, args in sources.items():
        path, sample = args[1], args[3]
        cells = []
        for rname, make in readers.items():
            try:
                fn = make(path, sample)
            except ImportError:
                cells.append("not installed")
                continue
            cells.append(f"{best_of(fn, a.repeats):.2f}")
            print(name, rname, cells[-1], flush=True)
        scratch = tempfile.mkdtemp()
        ids = os.path.join(scratch, "ids.sample")  # IDs only: plink2 2.00a3.5 stops at an
        with open(sample) as src, open(ids, "w") as dst:  # 'NA' phenotype in its own .sample
            dst.writelines(" ".join(ln.split()[:4]) + "\n" for ln in src)
        t = alternate({k: [plink2, "--threads", k, "--bgen", path, "ref-last", "--sample",
                           ids, "--make-pgen", "--out", os.path.join(scratch, "p")]
                       for k in ("1", "2")}, a.repeats)
        rows.append(f"| {name} | " + " | ".join(cells)
                    + f" | {med(t['1']):.2f} | {med(t['2']):.2f} |")
    lines = [f"# BGEN readers ({a.date})", "",
             f"`python benchmarks/bgen_readers.py --repeats {a.repeats} --date {a.date}`", "",
             f"Every variant to dosages on one thread (seconds, shortest of {a.repeats}); "
             f"plink2's import to .pgen with 1 and 2 threads (median). {os.cpu_count()} "
             f"cores.", "",
             f"| file | {head} | plink2 1 thr | plink2 2 thr |",
             "|---|" + "---:|" * (len(readers) + 2), *rows, ""]
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
