"""Benchmark of ``gwaslmm plot`` (gwaslmm.plot.plot_assoc) on a large result file.

    python benchmarks/plot_bench.py                  # 10 million synthetic rows in a temp dir
    python benchmarks/plot_bench.py --rows 2000000   # fewer rows
    python benchmarks/plot_bench.py --path FILE      # an existing .assoc.tsv[.gz]

The synthetic file has gwaslmm's 11 GWAS-SSF base columns (as ``assoc --fast``
writes them), the 22 autosomes and X with GRCh38 lengths, uniform null
p-values and six loci with peaks from -log10 p 9 to 60.  It is written by a
child process (gzip level 1, for speed) so that the peak RSS reported is that
of plotting alone.  Peak RSS is ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
of this process; "baseline" is the same measure after imports, before the
call.  Not part of the test suite.
"""

from __future__ import annotations

import argparse
import gzip
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

CHROM_LENGTHS = {  # GRCh38, bp
    "1": 248956422, "2": 242193529, "3": 198295559, "4": 190214555, "5": 181538259,
    "6": 170805979, "7": 159345973, "8": 145138636, "9": 138394717, "10": 133797422,
    "11": 135086622, "12": 133275309, "13": 114364328, "14": 107043718, "15": 101991189,
    "16": 90338345, "17": 83257441, "18": 80373285, "19": 58617616, "20": 64444167,
    "21": 46709983, "22": 50818468, "X": 156040895,
}
LOCI = [("1", 120_000_000, 60.0), ("3", 45_000_000, 25.0), ("6", 32_000_000, 40.0),
        ("11", 70_000_000, 12.0), ("17", 40_000_000, 9.0), ("X", 80_000_000, 15.0)]
COLUMNS = ["chromosome", "base_pair_location", "variant_id", "effect_allele", "other_allele",
           "effect_allele_frequency", "n", "beta", "standard_error", "p_value",
           "neg_log_10_p_value"]


def generate(path: str, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    total = sum(CHROM_LENGTHS.values())
    counts = {c: int(round(rows * L / total)) for c, L in CHROM_LENGTHS.items()}
    counts["1"] += rows - sum(counts.values())
    alleles = ["A", "C", "G", "T"]
    freq_pool = [f"{x:.6g}" for x in rng.uniform(0.01, 0.99, 4096)]
    beta_pool = [f"{x:.8g}" for x in rng.normal(0, 0.05, 4096)]
    se_pool = [f"{x:.8g}" for x in rng.uniform(0.02, 0.2, 4096)]
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=1,
                                                 mtime=0) as gz:
        gz.write(("\t".join(COLUMNS) + "\n").encode())
        for chrom, m in counts.items():
            L = CHROM_LENGTHS[chrom]
            for a in range(0, m, 500_000):
                k = min(500_000, m - a)
                lo, hi = int(L * a / m), int(L * (a + k) / m)
                pos = np.sort(rng.integers(lo + 1, max(hi, lo + 2), k))
                y = -np.log10(rng.uniform(size=k))
                for lc, centre, peak in LOCI:
                    if lc == chrom:
                        d = np.abs(pos - centre)
                        near = d < 1_000_000
                        sig = peak * np.exp(-d[near] / 80_000.0) * rng.uniform(0.3, 1.0, near.sum())
                        y[near] = np.maximum(y[near], sig)
                ai = rng.integers(0, 4, (k, 2))
                fi = rng.integers(0, 4096, (k, 3))
                lines = [
                    f"{chrom}\t{p}\trs{chrom}_{p}\t{alleles[u]}\t{alleles[(u + 1 + v % 3) % 4]}\t"
                    f"{freq_pool[f0]}\t5000\t{beta_pool[f1]}\t{se_pool[f2]}\t{10.0 ** -yy:.6g}\t"
                    f"{yy:.6g}\n"
                    for p, yy, (u, v), (f0, f1, f2) in zip(pos.tolist(), y.tolist(), ai.tolist(),
                                                           fi.tolist())]
                gz.write("".join(lines).encode())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", help="existing association file (default: synthesize one)")
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--keep", action="store_true", help="keep the synthetic file and plots")
    ap.add_argument("--generate", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.generate:
        generate(args.generate, args.rows)
        return

    tmp = None if args.path and args.keep else tempfile.mkdtemp(prefix="gwaslmm_plot_bench_")
    path = args.path
    if path is None:
        path = os.path.join(tmp, "synthetic.assoc.tsv.gz")
        t = time.perf_counter()
        subprocess.run([sys.executable, os.path.abspath(__file__), "--generate", path,
                        "--rows", str(args.rows)], check=True)
        print(f"wrote {args.rows:,} rows to {path} ({os.path.getsize(path) / 2**20:.0f} MiB) "
              f"in {time.perf_counter() - t:.1f}s", flush=True)

    t = time.perf_counter()
    from gwaslmm.log import RunLog
    from gwaslmm.report.parse_kernel import parse_kernel
    from gwaslmm.report.plot import plot_assoc

    parse_kernel()  # numba compilation (cached on disk after the first run)
    t_kernel = time.perf_counter() - t
    t = time.perf_counter()
    import matplotlib.figure  # noqa: F401  imports that plot_assoc makes lazily
    import scipy.stats  # noqa: F401
    t_imports = time.perf_counter() - t
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = os.path.join(tmp or os.path.dirname(os.path.abspath(path)), "bench")
    log = RunLog(None, quiet=True)
    t = time.perf_counter()
    res = plot_assoc(path, out, log=log)
    wall = time.perf_counter() - t
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    stages = ", ".join(f"{k} {v:.2f}s" for k, v in log.timings.items())
    print(f"imports: gwaslmm.plot + numba kernel {t_kernel:.2f}s, scipy.stats + matplotlib "
          f"{t_imports:.2f}s (not in the time below)")
    print(f"plot_assoc: {wall:.2f}s wall ({stages}); rows {res['n_snps']:,}; Manhattan points "
          f"drawn {res['n_plotted']:,}; QQ points drawn {res['n_qq_plotted']:,}; "
          f"lambda_GC {res['lambda_gc']:.4f}")
    print(f"peak RSS {peak:.0f} MiB (baseline after imports {base:.0f} MiB)")
    print(f"outputs: {res['manhattan']}, {res['qq']}")
    if tmp and not args.keep:
        for f in os.listdir(tmp):
            os.unlink(os.path.join(tmp, f))
        os.rmdir(tmp)


if __name__ == "__main__":
    main()
