"""The runs whose outputs were captured before the round-2 restructuring
(issue 11), and the comparison that holds today's outputs against them.

``python tests/golden/capture.py`` ran these commands with the code of
commit c1687e9 (the last commit before the restructuring) and stored their
outputs in ``tests/golden/expected/``; ``tests/test_golden.py`` reruns them
with today's code and compares.

What is compared, and how:

* result tables (``.assoc.tsv[.gz]``, ``.reml*.tsv``, ``.grm.id``): every
  column the capture had, in its order, byte for byte; columns added on
  purpose since (``ADDED_COLUMNS``) are dropped from today's table first;
* ``-meta.yaml``: every key the capture had, with the same value
  (``CHANGED_META`` lists keys whose value changed on purpose, with why);
* GCTA binary GRMs: sha256 of the bytes;
* saved null models and decompositions (``.npz``): the scalar estimates and
  the eigenvalues, as exact float64 bits (zip timestamps and the sign of
  eigenvectors are not outputs anyone compares).

Byte-identical results need the same floating-point environment: the same
CPU family (OpenBLAS picks kernels by CPU), BLAS build and numpy/scipy/numba
versions.  The capture records that environment; where today's differs, the
comparison falls back to numbers equal to a relative 1e-6 (text columns
still exactly), and says so.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import platform

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
EXPECTED = os.path.join(HERE, "expected")
ROOT = os.path.dirname(os.path.dirname(HERE))
TESTDATA = os.path.join(ROOT, "testdata")

# Columns added to the association table on purpose after the capture.
ADDED_COLUMNS = {
    "n_miss": "issue 11: per-variant missing calls among the analysed samples (GEMMA n_miss)",
    "t_stat": "issue 11: Wald statistic beta/se (PLINK 2 T_STAT)",
    "chi2_lrt": "issue 11: likelihood-ratio statistic",
    "f_score": "issue 11: score statistic (GEMMA's F form)",
    "boundary": "issue 12: reml says when lambda sits on a bound of its range",
}
# meta.yaml keys whose value changed on purpose after the capture.
CHANGED_META = {
    "software": "the version number moves with each release",
}


def _files(d):
    return {
        "keep": os.path.join(d, "keep.txt"),
        "exclude": os.path.join(d, "exclude.txt"),
    }


def prepare(d: str) -> None:
    """Input files the runs use: a keep list (9 in 10 samples) and an exclude
    list (every 7th variant), written with plain Python."""
    f = _files(d)
    with open(os.path.join(TESTDATA, "sim.fam")) as fh:
        fam = [ln.split()[:2] for ln in fh if ln.strip()]
    with open(f["keep"], "w") as fh:
        for k, (a, b) in enumerate(fam):
            if k % 10 != 3:
                fh.write(f"{a} {b}\n")
    with open(os.path.join(TESTDATA, "sim.bim")) as fh:
        ids = [ln.split()[1] for ln in fh if ln.strip()]
    with open(f["exclude"], "w") as fh:
        for k, v in enumerate(ids):
            if k % 7 == 0:
                fh.write(v + "\n")


def gemma_text_kinship(d: str, grm_prefix: str, path: str) -> None:
    """Write a GCTA binary GRM as a GEMMA text matrix (plain numpy)."""
    with open(grm_prefix + ".grm.id") as fh:
        n = sum(1 for ln in fh if ln.strip())
    vals = np.fromfile(grm_prefix + ".grm.bin", dtype=np.float32).astype(np.float64)
    K = np.empty((n, n))
    r, c = np.tril_indices(n)
    K[r, c] = vals
    K[c, r] = vals
    np.savetxt(path, K, fmt="%.10g", delimiter="\t")


def runs(d: str) -> list:
    """(name, argv, outputs) in the order they run; outputs are file names in d."""
    sim = os.path.join(TESTDATA, "sim")
    pheno = os.path.join(TESTDATA, "sim.pheno")
    covar = os.path.join(TESTDATA, "sim.covar")
    f = _files(d)

    def o(name):
        return os.path.join(d, name)

    base = ["--bfile", sim]
    ph = ["--pheno", pheno, "--pheno-name", "trait", "--covar", covar]
    return [
        # float64 products, as when captured (grm's default became float32 after
        # the capture; grm_cen32 checks that path)
        ("grm_std", ["grm", *base, "--grm-dtype", "float64", "--out", o("grm_std")],
         ["grm_std.grm.bin", "grm_std.grm.N.bin", "grm_std.grm.id"]),
        ("grm_cen32", ["grm", *base, "--grm-type", "centered", "--grm-dtype", "float32",
                       "--keep", f["keep"], "--out", o("grm_cen32")],
         ["grm_cen32.grm.bin", "grm_cen32.grm.N.bin", "grm_cen32.grm.id"]),
        ("reml_trait", ["reml", *base, *ph, "--save-null", o("null_trait"), "--save-eigen",
                        "--out", o("reml_trait")],
         ["reml_trait.reml.tsv", "reml_trait.reml.fixed.tsv", "null_trait.null.npz",
          "reml_trait.eigen.npz"]),
        ("reml_all", ["reml", *base, "--pheno", pheno, "--all-pheno", "--covar", covar,
                      "--covar-name", "age,batch", "--keep", f["keep"], "--out", o("reml_all")],
         ["reml_all.reml.tsv", "reml_all.reml.fixed.tsv"]),
        ("reml_fam", ["reml", *base, "--exclude", f["exclude"], "--grm-type", "centered",
                      "--out", o("reml_fam")],
         ["reml_fam.reml.tsv", "reml_fam.reml.fixed.tsv"]),
        ("reml_loco", ["reml", *base, "--pheno", pheno, "--pheno-name", "trait2", "--covar",
                       covar, "--loco", "--save-null", o("loco"), "--out", o("reml_loco")],
         ["reml_loco.reml.loco.tsv", "loco.chr1.null.npz", "loco.chr8.null.npz"]),
        ("assoc_wald", ["assoc", *base, *ph, "--chunk", "2/5", "--out", o("a_wald")],
         ["a_wald.chunk2of5.assoc.tsv.gz", "a_wald.chunk2of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_all", ["assoc", *base, *ph, "--test", "all", "--chunk", "4/5", "--no-gzip",
                       "--out", o("a_all")],
         ["a_all.chunk4of5.assoc.tsv", "a_all.chunk4of5.assoc.tsv-meta.yaml"]),
        ("assoc_lrt", ["assoc", *base, *ph, "--test", "lrt", "--chunk", "1/5",
                       "--out", o("a_lrt")],
         ["a_lrt.chunk1of5.assoc.tsv.gz", "a_lrt.chunk1of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_score", ["assoc", *base, *ph, "--test", "score", "--chunk", "5/5",
                         "--out", o("a_score")],
         ["a_score.chunk5of5.assoc.tsv.gz", "a_score.chunk5of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_fast", ["assoc", *base, *ph, "--fast", "--chunk", "3/5", "--out", o("a_fast")],
         ["a_fast.chunk3of5.assoc.tsv.gz", "a_fast.chunk3of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_fast_score", ["assoc", *base, *ph, "--fast", "--test", "score", "--chunk", "2/5",
                              "--rotate-dtype", "float32", "--out", o("a_fscore")],
         ["a_fscore.chunk2of5.assoc.tsv.gz", "a_fscore.chunk2of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_loco", ["assoc", *base, *ph, "--loco", "--chunk", "3/4", "--out", o("a_loco")],
         ["a_loco.chunk3of4.assoc.tsv.gz", "a_loco.chunk3of4.assoc.tsv.gz-meta.yaml"]),
        ("assoc_fast_loco", ["assoc", *base, *ph, "--fast", "--loco", "--chunk", "1/4",
                             "--out", o("a_floco")],
         ["a_floco.chunk1of4.assoc.tsv.gz", "a_floco.chunk1of4.assoc.tsv.gz-meta.yaml"]),
        ("assoc_null", ["assoc", *base, "--null", o("null_trait"), "--chunk", "2/5",
                        "--out", o("a_null")],
         ["a_null.chunk2of5.assoc.tsv.gz", "a_null.chunk2of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_null_loco", ["assoc", *base, "--null", o("loco"), "--loco", "--fast",
                             "--chunk", "4/4", "--out", o("a_nloco")],
         ["a_nloco.chunk4of4.assoc.tsv.gz", "a_nloco.chunk4of4.assoc.tsv.gz-meta.yaml"]),
        ("assoc_grm_chr", ["assoc", *base, *ph, "--grm", o("grm_std"), "--chr", "3",
                           "--covar-name", "age,bmi", "--exclude", f["exclude"],
                           "--out", o("a_chr")],
         ["a_chr.assoc.tsv.gz", "a_chr.assoc.tsv.gz-meta.yaml"]),
        ("kinship_text", None, ["kin.txt"]),
        ("assoc_kinship", ["assoc", *base, *ph, "--kinship", o("kin.txt"), "--save-eigen",
                           "--chunk", "1/5", "--out", o("a_kin")],
         ["a_kin.chunk1of5.assoc.tsv.gz", "a_kin.chunk1of5.assoc.tsv.gz-meta.yaml"]),
        ("assoc_eigen", ["assoc", *base, *ph, "--eigen", o("a_kin"), "--test", "all",
                         "--chunk", "1/5", "--out", o("a_eig")],
         ["a_eig.chunk1of5.assoc.tsv.gz", "a_eig.chunk1of5.assoc.tsv.gz-meta.yaml"]),
        *[(f"assoc_part{k}", ["assoc", *base, "--null", o("null_trait"), "--chr", "7-8",
                               "--chunk", f"{k}/3", "--out", o("part")], [])
          for k in (1, 2, 3)],
        ("merge", ["merge", o("part.chunk*of3.assoc.tsv.gz"), "--out", o("merged")],
         ["merged.assoc.tsv.gz", "merged.assoc.tsv.gz-meta.yaml"]),
        ("assoc_filters", ["assoc", *base, "--covar", covar, "--cat-covar", "batch",
                           "--maf", "0.05", "--mac", "30", "--geno", "0.02", "--keep", f["keep"],
                           "--chunk", "5/5", "--out", o("a_filt")],
         ["a_filt.chunk5of5.assoc.tsv.gz", "a_filt.chunk5of5.assoc.tsv.gz-meta.yaml"]),
    ]


# ---------------------------------------------------------------------------
# Environment and summaries
# ---------------------------------------------------------------------------

def environment() -> dict:
    """What decides the floating-point results: CPU, BLAS, library versions."""
    import numba
    import scipy
    from threadpoolctl import threadpool_info

    cpu = ""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    blas = sorted(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}"
                  for i in threadpool_info() if i.get("user_api") == "blas")
    return dict(machine=platform.machine(), cpu=cpu, cores=os.cpu_count(), blas=blas,
                numpy=np.__version__, scipy=scipy.__version__, numba=numba.__version__)


NPZ_SCALARS = ("lam", "lam_ml", "logl_reml", "logl_ml", "h2", "h2_se", "sigma_g2",
               "sigma_e2", "p_h2", "t", "n_zeroed")
NPZ_ARRAYS = ("d", "beta", "beta_se")


def npz_summary(path: str) -> dict:
    """The estimates of a saved null model / decomposition as float64 bit
    patterns (hex), so that 'equal' means bit-equal."""
    out = {}
    with np.load(path, allow_pickle=False) as z:
        for k in NPZ_SCALARS + NPZ_ARRAYS:
            if k in z.files:
                a = np.asarray(z[k], dtype=np.float64).ravel()
                out[k] = [float(x).hex() for x in a]
    return out


def binary_summary(path: str) -> dict:
    with open(path, "rb") as fh:
        data = fh.read()
    vals = np.frombuffer(data, dtype=np.float32)
    return dict(sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                sample=[float(x) for x in vals[::997]])


def read_text(path: str) -> str:
    if path.endswith(".gz"):
        with gzip.open(path, "rt", encoding="utf-8") as fh:
            return fh.read()
    with open(path, encoding="utf-8") as fh:
        return fh.read()


def kind(name: str) -> str:
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(".grm.bin") or name.endswith(".grm.N.bin"):
        return "binary"
    if name.endswith("-meta.yaml"):
        return "meta"
    if name.endswith(".grm.id") or name.endswith(".txt"):
        return "text"
    return "table"


def expected_name(name: str) -> str:
    """Where a captured output is stored (tables gzipped, binaries summarized)."""
    k = kind(name)
    if k in ("npz", "binary"):
        return name + ".json"
    if k == "table" and not name.endswith(".gz"):
        return name + ".gz"
    return name


# ---------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------

def _unquote(v: str) -> str:
    return v[1:-1] if len(v) >= 2 and v[0] == v[-1] == '"' else v


def _parse_meta(text: str) -> dict:
    """Keys and values of a -meta.yaml, values unquoted: merge used to quote
    the numbers and booleans it copied (loco: "false"); issue 12 fixed that,
    and the values are compared, not their YAML quoting."""
    out, key = {}, None
    for line in text.splitlines():
        if line.startswith("  - ") and key is not None:
            out.setdefault(key, []).append(_unquote(line[4:]))
        elif ":" in line:
            key, _, v = line.partition(":")
            out[key] = _unquote(v.strip()) if v.strip() else []
    return out


def _numbers_close(a: str, b: str, rtol: float) -> bool:
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    if np.isnan(x) and np.isnan(y):
        return True
    return abs(x - y) <= rtol * max(abs(x), abs(y), 1e-300)


def compare_table(got: str, want: str, strict: bool, what: str) -> list:
    """Problems (empty if none) comparing today's table text with the capture's."""
    g_lines = got.splitlines()
    w_lines = want.splitlines()
    gh = g_lines[0].split("\t")
    wh = w_lines[0].split("\t")
    problems = []
    extra = [c for c in gh if c not in wh]
    unplanned = [c for c in extra if c not in ADDED_COLUMNS]
    if unplanned:
        problems.append(f"{what}: columns {unplanned} are new and not listed in ADDED_COLUMNS")
    lost = [c for c in wh if c not in gh]
    if lost:
        return problems + [f"{what}: columns {lost} are gone"]
    idx = [gh.index(c) for c in wh]
    if idx != sorted(idx):
        problems.append(f"{what}: the captured columns are in another order")
    if len(g_lines) != len(w_lines):
        return problems + [f"{what}: {len(g_lines)} lines, captured {len(w_lines)}"]
    for ln, (g, w) in enumerate(zip(g_lines[1:], w_lines[1:]), 2):
        gf = g.split("\t")
        sub = "\t".join(gf[j] for j in idx)
        if sub == w:
            continue
        if strict:
            problems.append(f"{what} line {ln}: {sub!r} != captured {w!r}")
        else:
            for a, b in zip(sub.split("\t"), w.split("\t")):
                if not _numbers_close(a, b, 1e-6):
                    problems.append(f"{what} line {ln}: {a!r} vs captured {b!r}")
                    break
        if len(problems) >= 5:
            break
    return problems


def compare_meta(got: str, want: str, what: str) -> list:
    g, w = _parse_meta(got), _parse_meta(want)
    problems = []
    for k, v in w.items():
        if k in CHANGED_META:
            continue
        if k not in g:
            problems.append(f"{what}: key {k} is gone")
        elif g[k] != v:
            problems.append(f"{what}: {k} = {g[k]!r}, captured {v!r}")
    return problems


def compare_binary(got: dict, want: dict, strict: bool, what: str) -> list:
    if got["size"] != want["size"]:
        return [f"{what}: {got['size']} bytes, captured {want['size']}"]
    if strict:
        return [] if got["sha256"] == want["sha256"] else [f"{what}: bytes differ"]
    a, b = np.array(got["sample"]), np.array(want["sample"])
    ok = np.allclose(a, b, rtol=1e-6, atol=1e-7)
    return [] if ok else [f"{what}: values differ beyond 1e-6"]


def compare_npz(got: dict, want: dict, strict: bool, what: str) -> list:
    problems = []
    for k, v in want.items():
        if k not in got:
            problems.append(f"{what}: {k} is gone")
            continue
        a = np.array([float.fromhex(x) for x in got[k]])
        b = np.array([float.fromhex(x) for x in v])
        if a.shape != b.shape:
            problems.append(f"{what}: {k} has shape {a.shape}, captured {b.shape}")
        elif strict and not np.array_equal(a, b, equal_nan=True):
            problems.append(f"{what}: {k} differs (largest {np.nanmax(np.abs(a - b)):.3g})")
        elif not strict and not np.allclose(a, b, rtol=1e-6, atol=1e-9, equal_nan=True):
            problems.append(f"{what}: {k} differs beyond 1e-6")
    return problems


def load_expected(name: str):
    p = os.path.join(EXPECTED, expected_name(name))
    k = kind(name)
    if k in ("npz", "binary"):
        with open(p) as fh:
            return json.load(fh)
    return read_text(p)


def summarize(path: str, name: str):
    k = kind(name)
    if k == "npz":
        return npz_summary(path)
    if k == "binary":
        return binary_summary(path)
    return read_text(path)


def compare(path: str, name: str, strict: bool) -> list:
    k = kind(name)
    got, want = summarize(path, name), load_expected(name)
    if k == "npz":
        return compare_npz(got, want, strict, name)
    if k == "binary":
        return compare_binary(got, want, strict, name)
    if k == "meta":
        return compare_meta(got, want, name)
    if k == "text":
        return [] if got == want else [f"{name}: text differs"]
    return compare_table(got, want, strict, name)


def cli_main():
    """The click entry point, wherever this version of gwaslmm keeps it."""
    try:
        from gwaslmm_cli.main import cli
    except ImportError:
        from cli.main import cli
    return cli


def run_all(d: str, invoke) -> None:
    """Prepare the inputs and run every command in d; ``invoke(argv)`` runs one."""
    prepare(d)
    for name, argv, outputs in runs(d):
        if argv is None:
            gemma_text_kinship(d, os.path.join(d, "grm_std"), os.path.join(d, outputs[0]))
            continue
        invoke(name, argv)
