"""Read every tool's output and compare it with gwaslmm's on the same data.

Association results are matched on the variant ID and compared on
-log10 p: the Pearson correlation over the SNPs both tools report, and the
largest absolute difference.  For GEMMA (the same model, the same kinship, the
same SNPs) the difference is expected at print precision; FaST-LMM builds its
own (standardized) kinship, PLINK 2 ``--glm`` has no kinship at all and drops
missing calls instead of imputing them, BOLT-LMM prints p to two significant
digits and estimates its variance ratio by Monte Carlo: for those the
correlation is the check, not the difference.
"""

from __future__ import annotations

import csv
import gzip
import math
import os
import re

import numpy as np


def _neglog10(text):
    try:
        p = float(text)
    except ValueError:
        return float("nan")
    if not p > 0 or p > 1 or math.isnan(p):
        return float("nan")
    return -math.log10(p)


def _read_table(path, sep=None):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        if sep is None:
            rows = [line.split() for line in fh if line.strip()]
        else:
            rows = list(csv.reader(fh, delimiter=sep))
    head = [h.lstrip("#") for h in rows[0]]
    return head, rows[1:]


def _columns(path, id_col, cols, sep=None, keep=None):
    """{column: {variant id: -log10 p}} for the p-value columns ``cols``."""
    head, rows = _read_table(path, sep)
    ix = {h: i for i, h in enumerate(head)}
    if id_col not in ix:
        raise ValueError(f"{path}: no column {id_col} (columns: {' '.join(head)})")
    out = {}
    for c in cols:
        if c not in ix:
            continue
        j = ix[c]
        out[c] = {r[ix[id_col]]: _neglog10(r[j]) for r in rows if keep is None or keep(r, ix)}
    return out


def gwaslmm_assoc(prefix):
    """gwaslmm's OUT.assoc.tsv.gz: main test from neg_log_10_p_value (exact
    where p underflows), the others from their p columns."""
    path = prefix + ".assoc.tsv.gz"
    if not os.path.exists(path):
        path = prefix + ".assoc.tsv"
    head, rows = _read_table(path, "\t")
    ix = {h: i for i, h in enumerate(head)}
    out = {"main": {r[ix["variant_id"]]: float(r[ix["neg_log_10_p_value"]]) for r in rows}}
    for c in ("p_wald", "p_lrt", "p_score"):
        if c in ix:
            out[c] = {r[ix["variant_id"]]: _neglog10(r[ix[c]]) for r in rows}
    return out


def gemma_assoc(prefix):
    return _columns(prefix + ".assoc.txt", "rs", ("p_wald", "p_lrt", "p_score"))


def plink2_glm(path):
    return _columns(path, "ID", ("P",), keep=lambda r, ix: r[ix["TEST"]] == "ADD")


def fastlmm_assoc(path):
    return _columns(path, "SNP", ("PValue",), sep="\t")


def bolt_assoc(path):
    return _columns(path, "SNP", ("P_BOLT_LMM_INF", "P_BOLT_LMM"))


def compare_p(a: dict, b: dict):
    """SNPs in common (both finite), Pearson r and max |difference| of -log10 p."""
    ids = [k for k in a if k in b and np.isfinite(a[k]) and np.isfinite(b[k])]
    if len(ids) < 3:
        return dict(n=len(ids), r=float("nan"), max_abs=float("nan"), n_a=len(a), n_b=len(b))
    x = np.array([a[k] for k in ids])
    y = np.array([b[k] for k in ids])
    r = float(np.corrcoef(x, y)[0, 1]) if x.std() > 0 and y.std() > 0 else float("nan")
    return dict(n=len(ids), r=r, max_abs=float(np.abs(x - y).max()), n_a=len(a), n_b=len(b))


# ------------------------------------------------------------------ kinships
def read_gcta_triangle(path, n):
    """float32 lower triangle with diagonal, row by row -> (n, n) float64."""
    vals = np.fromfile(path, dtype=np.float32).astype(np.float64)
    if vals.size != n * (n + 1) // 2:
        raise ValueError(f"{path}: {vals.size} values, expected {n * (n + 1) // 2} for n={n}")
    K = np.empty((n, n))
    r, c = np.tril_indices(n)
    K[r, c] = vals
    K[c, r] = vals
    return K


def read_gemma_text_kinship(path, n):
    vals = np.fromfile(path, sep=" ")  # whitespace incl. tabs and newlines
    if vals.size != n * n:
        raise ValueError(f"{path}: {vals.size} values, expected {n * n}")
    return vals.reshape(n, n)


def compare_kinship(A, B):
    off = ~np.eye(A.shape[0], dtype=bool)
    return dict(max_abs=float(np.abs(A - B).max()),
                r_offdiag=float(np.corrcoef(A[off], B[off])[0, 1]),
                max_abs_diag=float(np.abs(np.diag(A) - np.diag(B)).max()))


# ---------------------------------------------------------------- heritability
def gwaslmm_h2(prefix):
    head, rows = _read_table(prefix + ".reml.tsv", "\t")
    r = dict(zip(head, rows[0]))
    return float(r["h2"]), float(r["h2_se"])


def gemma_pve(log_path):
    text = open(log_path).read()
    m = re.search(r"pve estimate in the null model = (\S+)", text)
    s = re.search(r"se\(pve\) in the null model = (\S+)", text)
    return (float(m.group(1)) if m else float("nan")), (float(s.group(1)) if s else float("nan"))


def bolt_h2(stdout_path):
    """BOLT's REML h2 and se ('h2g (1,1): h (se)', from --reml) if present,
    else its (pseudo-)heritability from --lmm/--lmmInfOnly (no se)."""
    text = open(stdout_path, errors="replace").read()
    m = re.search(r"h2g \(1,1\): (\S+) \((\S+)\)", text)
    if m:
        return float(m.group(1)), float(m.group(2)), "REML (--reml)"
    m = re.search(r"Estimated \(pseudo-\)heritability: h2g = (\S+)", text)
    if m:
        return float(m.group(1)), float("nan"), "pseudo-h2 from the LMM's variance-component fit"
    return float("nan"), float("nan"), "not found in the log"


def fastlmm_h2(path):
    head, rows = _read_table(path, "\t")
    ix = {h: i for i, h in enumerate(head)}
    if "Nullh2" not in ix or not rows:
        return float("nan")
    return float(rows[0][ix["Nullh2"]])


# ------------------------------------------------------------- all of a dataset
def evaluate(runs, n_samples, log=print):
    """Agreement rows and heritability rows for one dataset.

    ``runs`` maps (comparison, tool) to a dict with at least ``out`` (the Run's
    output path), ``log`` (its stdout/stderr file) and ``ok`` (its last run
    succeeded).  Returns (agreement rows, h2 rows); each row a dict."""
    rows, h2 = [], []

    def ok(comp, tool):
        r = runs.get((comp, tool))
        return r if r and r["ok"] else None

    def guard(what, fn):
        try:
            fn()
        except (OSError, ValueError, KeyError, IndexError) as exc:
            log(f"agreement: {what}: {exc}")
            rows.append(dict(comparison=what, metric="could not compare", value=str(exc)))

    # kinships
    g, p = ok("grm-centered", "gwaslmm"), ok("grm-centered", "gemma")
    if g and p:
        def _c():
            d = compare_kinship(read_gcta_triangle(g["out"] + ".grm.bin", n_samples),
                                read_gemma_text_kinship(p["out"] + ".cXX.txt", n_samples))
            rows.append(dict(comparison="grm-centered", peer="gemma -gk 1", snps="", r="",
                             max_abs="", note=f"max abs ΔK {d['max_abs']:.2g} (diagonal "
                             f"{d['max_abs_diag']:.2g}); r off-diagonal {d['r_offdiag']:.8f}"))
        guard("grm-centered", _c)
    g, p = ok("grm-standardized", "gwaslmm"), ok("grm-standardized", "plink2")
    if g and p:
        def _s():
            d = compare_kinship(read_gcta_triangle(g["out"] + ".grm.bin", n_samples),
                                read_gcta_triangle(p["out"] + ".rel.bin", n_samples))
            rows.append(dict(comparison="grm-standardized", peer="plink2 --make-rel",
                             snps="", r="", max_abs="",
                             note=f"max abs ΔK {d['max_abs']:.2g} "
                             f"(diagonal {d['max_abs_diag']:.2g}); "
                             f"r off-diagonal {d['r_offdiag']:.6f} (PLINK 2: founders-only "
                             "frequencies, GCTA diagonal, divides by all variants)"))
        guard("grm-standardized", _s)

    def assoc_rows(comp, tool, peer_label, reader, pairs, note=""):
        g, p = ok(comp, "gwaslmm"), ok(comp, tool)
        if not (g and p):
            return

        def _a():
            a = gwaslmm_assoc(g["out"])
            b = reader(p["out"])
            for ga, pb, name in pairs:
                if ga in a and pb in b:
                    d = compare_p(a[ga], b[pb])
                    rows.append(dict(comparison=comp, peer=f"{peer_label}: {name}", snps=d["n"],
                                     r=d["r"], max_abs=d["max_abs"],
                                     note=note + (f" (gwaslmm {d['n_a']}, peer {d['n_b']} SNPs)"
                                                  if d["n_a"] != d["n_b"] else "")))
        guard(comp, _a)

    assoc_rows("exact-all", "gemma", "gemma -lmm 4", gemma_assoc,
               [("p_wald", "p_wald", "p_wald"), ("p_lrt", "p_lrt", "p_lrt"),
                ("p_score", "p_score", "p_score")], "same kinship and SNPs")
    assoc_rows("exact-wald", "gemma", "gemma -lmm 1", gemma_assoc,
               [("main", "p_wald", "p_wald")], "same kinship and SNPs")
    assoc_rows("fast", "fastlmm", "FaST-LMM single_snp", fastlmm_assoc,
               [("main", "PValue", "p")], "own standardized kinship")
    assoc_rows("fast", "plink2", "plink2 --glm", plink2_glm, [("main", "P", "p")],
               "no kinship (linear regression)")
    assoc_rows("loco", "bolt", "BOLT-LMM", bolt_assoc,
               [("main", "P_BOLT_LMM_INF", "P_BOLT_LMM_INF"), ("main", "P_BOLT_LMM", "P_BOLT_LMM")],
               "LOCO both; BOLT prints 2 digits")

    # heritability
    def add_h2(source, value, se, note):
        h2.append(dict(source=source, h2=value, se=se, note=note))

    r = ok("reml", "gwaslmm")
    if r:
        try:
            add_h2("gwaslmm reml --grm-type centered", *gwaslmm_h2(r["out"]), "REML")
        except (OSError, ValueError, KeyError, IndexError) as exc:
            add_h2("gwaslmm reml", float("nan"), float("nan"), f"unreadable: {exc}")
    r = ok("exact-all", "gemma")
    if r:
        add_h2("GEMMA pve (-lmm 4 null model, same kinship)", *gemma_pve(r["out"] + ".log.txt"),
               "REML")
    r = ok("reml", "bolt")
    if r:
        v, se, how = bolt_h2(r["log"])
        add_h2("BOLT-LMM --reml", v, se, how)
    r = ok("loco", "bolt")
    if r:
        v, se, how = bolt_h2(r["log"])
        add_h2("BOLT-LMM " + ("--lmm" if "--lmm" in r["argv"] else "--lmmInfOnly"), v, se, how)
    r = ok("fast", "fastlmm")
    if r:
        try:
            add_h2("FaST-LMM single_snp null h2", fastlmm_h2(r["out"]), float("nan"),
                   "its own null fit (standardized kinship)")
        except (OSError, ValueError, IndexError) as exc:
            add_h2("FaST-LMM", float("nan"), float("nan"), f"unreadable: {exc}")
    return rows, h2
