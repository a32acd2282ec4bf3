"""The pieces behind README's fixed-costs figures, each against its alternative.

    python benchmarks/speed_pieces.py [--date D]   # ~2 min; writes results/<D>-speed-pieces.md

1. A GEMMA text kinship of 1,940 samples (55 MB, "%.10g" as GEMMA writes):
   the whole matrix parsed against the block of 1,410 analysed samples alone,
   and the file read as a bytes object against straight into a numpy buffer.
2. Duplicate check of 350,000 variant IDs: one hash pass against numpy's sort.
3. grm's float32 block product at 400 x 8,192: ssyrk against the full sgemm.
4. The exact kernel on a 4,096-SNP block right after a rotation-sized dgemm,
   in a fresh process with OpenBLAS's default worker timeout and with the
   OPENBLAS_THREAD_TIMEOUT=16 the entry point sets.
Medians of alternating repeats; 2-core machines are noisy, so only large
differences mean anything.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def alternate(fns: dict, repeats: int) -> dict:
    for f in fns.values():
        f()
    out = {k: [] for k in fns}
    for _ in range(repeats):
        for k, f in fns.items():
            t = time.perf_counter()
            f()
            out[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in out.items()}


def kinship_text(d: str) -> list:
    from gwaslmm.kinship_io import _read_text, parse_kept_block, parse_text_matrix

    n, k = 1940, 1410
    rng = np.random.default_rng(0)
    G = rng.standard_normal((n, 600))
    path = os.path.join(d, "k.cXX.txt")
    np.savetxt(path, G @ G.T / 600, fmt="%.10g", delimiter="\t")
    keep = np.sort(rng.choice(n, k, replace=False))
    text = _read_text(path)
    data = text.tobytes()
    t = alternate({"full": lambda: parse_text_matrix(data, path, expect=n * n),
                   "kept": lambda: parse_kept_block(text, n, keep),
                   "bytes": lambda: open(path, "rb").read(),
                   "buffer": lambda: _read_text(path)}, 7)
    return ["## 1. GEMMA text kinship", "",
            f"{n} x {n}, {len(data) / 1e6:.0f} MB: whole matrix parsed {t['full']:.3f} s, the "
            f"{k} analysed samples' block alone {t['kept']:.3f} s; the file read as bytes "
            f"{t['bytes']:.3f} s, into a numpy buffer {t['buffer']:.3f} s.", ""]


def duplicate_ids() -> list:
    from gwaslmm import ids

    rng = np.random.default_rng(1)
    v = np.array([f"rs{k}_{p}" for k, p in enumerate(rng.integers(1, 2 ** 28, 350_000))])
    t = alternate({"hash": lambda: ids.duplicated(v),
                   "sort": lambda: np.unique(v, return_counts=True)}, 7)
    return ["## 2. Duplicate variant IDs", "",
            f"350,000 IDs: hash pass {t['hash']:.3f} s, numpy.unique {t['sort']:.3f} s.", ""]


def grm_product() -> list:
    from scipy.linalg.blas import ssyrk

    rng = np.random.default_rng(2)
    Z = np.asfortranarray(rng.standard_normal((400, 8192)).astype(np.float32))
    T = np.zeros((400, 400), order="F", dtype=np.float32)
    U = np.zeros((400, 400), dtype=np.float32)

    def syrk():
        for _ in range(10):
            ssyrk(1.0, Z, beta=0.0, c=T, trans=0, lower=1, overwrite_c=1)

    def gemm():
        for _ in range(10):
            np.matmul(Z, Z.T, out=U)

    t = alternate({"syrk": syrk, "gemm": gemm}, 8)
    same = np.array_equal(np.tril(T), np.tril(U))
    return ["## 3. grm's float32 block product", "",
            f"10 blocks of 400 x 8,192: ssyrk {t['syrk']:.3f} s, sgemm (full product) "
            f"{t['gemm']:.3f} s; lower triangles bit-identical: {same}.", ""]


CHILD = r"""
import sys, time, statistics, numpy as np
sys.path.insert(0, sys.argv[1])
from conftest import small_problem
from gwaslmm.eigen import decompose
from gwaslmm.nullmodel.eigen_reml import fit_null
from gwaslmm.scan.exact import exact_block, grid_weights, ld_table, make_model
K, W, y, X = small_problem(n=1410, m=4096, c=1, seed=3, h=0.5)
sp, basis = decompose(K, W)
model = make_model(sp, fit_null(sp, basis, y))
B = basis.matrix()
buf = np.empty((X.shape[1], B.shape[1]))
ld, w = ld_table(model), grid_weights(model, True)
tk = []
for r in range(7):
    np.matmul(X.T, B, out=buf)
    t = time.perf_counter()
    exact_block(model, buf.T, "all", ld, w)
    tk.append(time.perf_counter() - t)
print(statistics.median(tk[1:]))
"""


def blas_timeout() -> list:
    res = {}
    for label, value in (("default", None), ("16", "16")):
        env = dict(os.environ)
        env.pop("OPENBLAS_THREAD_TIMEOUT", None)
        if value:
            env["OPENBLAS_THREAD_TIMEOUT"] = value
        runs = []
        for _ in range(3):
            out = subprocess.run([sys.executable, "-c", CHILD, os.path.join(ROOT, "tests")],
                                 env=env, capture_output=True, text=True, check=True)
            runs.append(float(out.stdout.split()[-1]))
        res[label] = statistics.median(runs)
    return ["## 4. The exact kernel after a rotation", "",
            f"1,410 samples, 4,096 SNPs, --test all, right after B'X: OpenBLAS's default "
            f"worker timeout {res['default']:.3f} s, OPENBLAS_THREAD_TIMEOUT=16 "
            f"{res['16']:.3f} s (medians of 3 processes x 6 blocks).", ""]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d"))
    args = ap.parse_args()
    lines = [f"# Speed pieces ({args.date})", "",
             f"`python benchmarks/speed_pieces.py --date {args.date}` on {os.cpu_count()} cores.",
             ""]
    with tempfile.TemporaryDirectory() as d:
        lines += kinship_text(d)
    lines += duplicate_ids() + grm_product() + blas_timeout()
    out = os.path.join(ROOT, "benchmarks", "results", f"{args.date}-speed-pieces.md")
    with open(out, "w") as fh:
        fh.write("\n".join(lines))
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
