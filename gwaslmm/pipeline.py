"""Drivers: read inputs, call the stage kernels, write outputs, log everything.

One function per command (``run_grm``, ``run_reml``, ``run_assoc``,
``run_merge``); each takes an :class:`Options` and a :class:`RunLog`.
"""

from __future__ import annotations

import glob
import gzip
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from . import __version__
from .eigen import ProjectedEigen, decompose, load_eigen, save_eigen
from .errors import InputError, UsageError
from .genotypes import BedFile, fill_float, int8_block, snp_block_size
from .kinship import (finish_grm, grm_sum, read_gcta_grm, read_gemma_kinship,
                      write_gcta_grm)
from .log import RunLog
from .nullmodel import NullFit, fit_null
from .output import (AssocWriter, assoc_columns, fmt_float, format_p, output_path, write_meta_yaml,
                     write_tsv)
from .qc import (VariantFilters, preselect_variants, qc_report_lines, summarize_reasons,
                 variant_qc_counts)
from .samples import SampleSelection, join_samples
from .scan import (ScanModel, Whitener, collinear, exact_block, make_model, make_whitener,
                   pvalues, whitened_block)
from .tables import read_id_list, read_sample_table, read_variant_list, select_columns

CHI2_MEDIAN = 0.45493642311957174  # median of chi-square(1)


@dataclass
class Options:
    bfile: str = ""
    out: str = "gwaslmm"
    pheno: str | None = None
    pheno_name: list | None = None
    pheno_col: int | None = None
    all_pheno: bool = False
    covar: str | None = None
    covar_name: list | None = None
    cat_covar: tuple = ()
    keep: str | None = None
    remove: str | None = None
    extract: str | None = None
    exclude: str | None = None
    chr: str | None = None
    maf: float = 0.01
    geno: float = 0.05
    mac: float | None = None
    missing_code: tuple = ("-9",)
    memory_gb: float = 4.0
    threads: int | None = None
    grm: str | None = None
    kinship: str | None = None
    eigen: str | None = None
    save_eigen: bool = False
    grm_type: str = "standardized"
    test: str = "wald"
    fast: bool = False
    loco: bool = False
    null: str | None = None
    save_null: str | None = None
    chunk: str | None = None
    no_gzip: bool = False
    assembly: str | None = None
    block_size: int | None = None
    rotate_dtype: str = "float64"
    grm_dtype: str | None = None  # None: float32 for assoc --fast, float64 otherwise
    make_plot: bool = False
    top: int = 10
    command_line: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def grm_precision(self) -> str:
        """Precision of each block's kinship product (see gwaslmm.kinship)."""
        return self.grm_dtype or ("float32" if self.fast else "float64")

    @property
    def filters(self) -> VariantFilters:
        return VariantFilters(maf=self.maf, geno=self.geno, mac=self.mac)


# ---------------------------------------------------------------------------
# Shared input handling
# ---------------------------------------------------------------------------

def open_genotypes(opts: Options, log: RunLog) -> BedFile:
    if not opts.bfile:
        raise UsageError("--bfile PREFIX is required")
    bed = BedFile(opts.bfile, num_threads=opts.threads)
    log.file_info("genotypes", bed.bed_path)
    log.write(f"  {bed.n_samples} samples (.fam), {bed.n_snps} variants (.bim)")
    return bed


def select_samples(opts: Options, bed: BedFile, log: RunLog, need_phenotype: bool,
                   multi_pheno: bool = False) -> SampleSelection:
    pheno_table = covar_table = None
    names = None
    if need_phenotype and opts.pheno:
        pheno_table = read_sample_table(opts.pheno, "phenotype", "PHENO")
        log.file_info("phenotypes", opts.pheno)
        if opts.all_pheno:
            names = list(pheno_table.names)
        else:
            names = select_columns(pheno_table, opts.pheno_name, opts.pheno_col, "phenotype")
            if not multi_pheno and len(names) > 1:
                if opts.pheno_name:
                    raise UsageError("assoc analyses one phenotype per run; give a single "
                                     "--pheno-name (run reml for many)")
                names = names[:1]
                log.write(f"  using the first phenotype column '{names[0]}' "
                          f"(--pheno-name picks another)")
    elif need_phenotype and (opts.pheno_name or opts.pheno_col or opts.all_pheno):
        raise UsageError("--pheno-name/--pheno-col/--all-pheno need --pheno FILE")
    if opts.covar:
        covar_table = read_sample_table(opts.covar, "covariate", "COVAR")
        log.file_info("covariates", opts.covar)
        covar_names = select_columns(covar_table, opts.covar_name, None, "covariate")
    else:
        if opts.covar_name or opts.cat_covar:
            raise UsageError("--covar-name/--cat-covar need --covar FILE")
        covar_names = None
    keep = read_id_list(opts.keep, "--keep") if opts.keep else None
    remove = read_id_list(opts.remove, "--remove") if opts.remove else None
    sel = join_samples(bed.fam, pheno_table=pheno_table, pheno_names=names,
                       covar_table=covar_table, covar_names=covar_names,
                       cat_covar=tuple(opts.cat_covar or ()), keep=keep, remove=remove,
                       missing_codes=tuple(opts.missing_code), need_phenotype=need_phenotype,
                       drop_missing="all" if multi_pheno else "any", bed_path=bed.fam_path)
    log.write("sample join:")
    log.lines("  " + ln for ln in sel.report)
    log.write(f"covariates ({sel.W.shape[1]} columns): {', '.join(sel.covar_names)}")
    return sel


def preselect(opts: Options, bed: BedFile, log: RunLog) -> np.ndarray:
    extract = read_variant_list(opts.extract, "--extract") if opts.extract else None
    exclude = read_variant_list(opts.exclude, "--exclude") if opts.exclude else None
    idx, report = preselect_variants(bed.bim, opts.chr, extract, exclude)
    log.write("variant selection:")
    log.lines("  " + ln for ln in report)
    return idx


def build_grm(opts: Options, bed: BedFile, samples: np.ndarray, snp_idx: np.ndarray,
              log: RunLog, label: str = "kinship"):
    """GRM sum over the given samples/SNPs with QC, logging throughput."""
    t0 = time.perf_counter()
    gs = grm_sum(bed, samples, snp_idx, opts.grm_type, opts.filters, opts.memory_gb,
                 progress=log.progress(f"{label}: variants", snp_idx.size),
                 block_size=opts.block_size, dtype=np.dtype(opts.grm_precision))
    dt = time.perf_counter() - t0
    n = samples.size
    gflops = n * n * gs.m / max(gs.seconds_syrk, 1e-9) / 1e9
    log.lines(qc_report_lines(gs.reason_counts, opts.filters, snp_idx.size, gs.m))
    log.write(f"{label} ({opts.grm_type}, {opts.grm_precision} blocks): {n} samples x {gs.m} "
              f"SNPs in {dt:.2f}s "
              f"(read+standardize {gs.seconds_read:.2f}s, accumulate {gs.seconds_syrk:.2f}s "
              f"at {gflops:.1f} GFLOP/s)")
    log.stage("read", gs.seconds_read)
    log.stage("grm", gs.seconds_syrk)
    return gs


def kinship_for(opts: Options, bed: BedFile, sel: SampleSelection, snp_idx: np.ndarray,
                log: RunLog) -> np.ndarray:
    """K over the analysed samples, from --grm, --kinship or built from genotypes."""
    if opts.grm and opts.kinship:
        raise UsageError("give --grm or --kinship, not both")
    if opts.grm or opts.kinship:
        t0 = time.perf_counter()
        if opts.grm:
            kin = read_gcta_grm(opts.grm)
            what = f"GCTA GRM {opts.grm}"
        else:
            kin = read_gemma_kinship(opts.kinship, bed.fam.fid, bed.fam.iid)
            what = f"GEMMA text matrix {opts.kinship}"
        K = kin.subset(sel.fid, sel.iid)
        dt = time.perf_counter() - t0
        log.stage("kinship_read", dt)
        log.write(f"kinship: {what} ({kin.keys.size} samples), read in {dt:.2f}s")
        return K
    gs = build_grm(opts, bed, sel.idx, snp_idx, log)
    return finish_grm(gs.S, gs.m, inplace=True)


def eigen_for(opts: Options, K: np.ndarray | None, sel: SampleSelection, W: np.ndarray,
              log: RunLog, idx_in_sel=None, vectors: bool = True) -> ProjectedEigen:
    """Load --eigen, or decompose K (``vectors=False``: B kept factored, for --fast)."""
    keys = sel.keys if idx_in_sel is None else sel.keys[idx_in_sel]
    fid = sel.fid if idx_in_sel is None else sel.fid[idx_in_sel]
    iid = sel.iid if idx_in_sel is None else sel.iid[idx_in_sel]
    if opts.eigen:
        eig = load_eigen(opts.eigen, fid, iid, W)
        log.write(f"eigendecomposition: loaded {opts.eigen} ({eig.n} samples)")
        return eig
    t0 = time.perf_counter()
    eig = decompose(K, W, keys, vectors=vectors)
    dt = time.perf_counter() - t0
    log.stage("eigen", dt)
    how = "" if vectors else " (tridiagonal, eigenvectors kept factored)"
    log.write(f"eigendecomposition{how} of the covariate-projected kinship: {eig.n} samples, "
              f"{eig.c} covariate columns, {dt:.2f}s; {eig.n_zeroed} eigenvalues below 1e-10 "
              f"set to 0 (smallest {eig.min_eigenvalue:.3g}); tr(Kc)/n = {eig.t:.6g}")
    if eig.min_eigenvalue < -1e-3 * max(1.0, float(eig.d.max())):
        log.write(f"warning: the kinship has a clearly negative eigenvalue "
                  f"({eig.min_eigenvalue:.4g}); it is not positive semi-definite")
    return eig


def log_null(log: RunLog, fit: NullFit, label: str = "") -> None:
    pre = f"null model{label} '{fit.name}'"
    log.write(f"{pre}: n = {fit.n}, lambda (REML) = {fit.lam:.6g} [{fit.where}], "
              f"h2 = {fit.h2:.6g} (se {fit.h2_se:.6g}), sigma_g2 = {fit.sigma_g2:.6g}, "
              f"sigma_e2 = {fit.sigma_e2:.6g}")
    log.write(f"  REML logL = {fit.logl_reml:.6f}, ML logL = {fit.logl_ml:.6f} "
              f"(lambda ML = {fit.lam_ml:.6g} [{fit.where_ml}]), LRT h2 = 0: p = {fit.p_h2:.4g}")
    if fit.where != "interior":
        log.write(f"  note: the REML estimate of lambda is at the {fit.where} of "
                  f"[1e-5, 1e5] (h2 = {fit.h2:.4g}); the likelihood has no interior maximum")


# ---------------------------------------------------------------------------
# grm
# ---------------------------------------------------------------------------

def run_grm(opts: Options, log: RunLog) -> dict:
    bed = open_genotypes(opts, log)
    sel = select_samples(opts, bed, log, need_phenotype=False)
    snp_idx = preselect(opts, bed, log)
    gs = build_grm(opts, bed, sel.idx, snp_idx, log)
    K = finish_grm(gs.S, gs.m, inplace=True)
    t0 = time.perf_counter()
    paths = write_gcta_grm(opts.out, K, gs.m, sel.fid, sel.iid)
    log.stage("write", time.perf_counter() - t0)
    for p in paths:
        log.write(f"wrote {p}")
    return dict(K=K, n_snps=gs.m, paths=paths)


# ---------------------------------------------------------------------------
# reml
# ---------------------------------------------------------------------------

def run_reml(opts: Options, log: RunLog) -> dict:
    bed = open_genotypes(opts, log)
    multi = bool(opts.all_pheno or (opts.pheno_name and len(opts.pheno_name) > 1))
    if opts.loco and multi:
        raise UsageError("reml --loco fits one phenotype; pick it with --pheno-name")
    sel = select_samples(opts, bed, log, need_phenotype=True, multi_pheno=multi)
    snp_idx = preselect(opts, bed, log)
    if opts.loco:
        return _reml_loco(opts, bed, sel, snp_idx, log)
    K = None if opts.eigen else kinship_for(opts, bed, sel, snp_idx, log)
    # Group phenotypes by missingness pattern: one decomposition per pattern.
    miss = np.isnan(sel.y)
    patterns: dict = {}
    for k in range(sel.y.shape[1]):
        patterns.setdefault(miss[:, k].tobytes(), []).append(k)
    log.write(f"{sel.y.shape[1]} phenotype(s) in {len(patterns)} missingness pattern(s): one "
              f"eigendecomposition per pattern")
    fits: list = []
    t_fit = 0.0
    for key, cols in patterns.items():
        present = ~np.frombuffer(key, dtype=bool)
        sub = np.flatnonzero(present)
        if sub.size < 10:
            raise InputError(f"phenotype(s) {', '.join(sel.pheno_names[c] for c in cols)} have "
                             f"only {sub.size} samples with a value")
        W = sel.W[sub]
        if opts.eigen and sub.size != sel.n:
            raise UsageError("--eigen needs every phenotype present in every analysed sample")
        Ksub = None if K is None else K[np.ix_(sub, sub)]
        eig = eigen_for(opts, Ksub, sel, W, log, idx_in_sel=None if sub.size == sel.n else sub)
        if opts.save_eigen:
            if len(patterns) > 1:
                log.write("note: --save-eigen skipped, the phenotypes have several missingness "
                          "patterns")
            else:
                p = save_eigen(opts.out, eig, sel.fid[sub], sel.iid[sub], sel.covar_names)
                log.write(f"wrote {p}")
        t0 = time.perf_counter()
        for k in cols:
            fit = fit_null(eig, sel.y[sub, k], sel.pheno_names[k])
            fits.append(fit)
            if len(cols) <= 20:
                log_null(log, fit)
        t_fit += time.perf_counter() - t0
        if opts.save_null:
            if len(fits) != 1 or len(patterns) != 1:
                raise UsageError("--save-null stores the null model of one phenotype; pick one "
                                 "with --pheno-name")
            from .nullstore import save_null

            p = save_null(opts.save_null, eig, fits[0], sel, bed)
            log.write(f"wrote {p}")
    log.stage("null", t_fit)
    log.write(f"null models: {len(fits)} phenotype(s) fitted in {t_fit:.2f}s")
    order = {nm: i for i, nm in enumerate(sel.pheno_names)}
    fits.sort(key=lambda f: order[f.name])
    cols = ["phenotype", "n", "h2", "h2_se", "sigma_g2", "sigma_e2", "lambda", "logl_reml",
            "logl_ml", "p_h2"]
    rows = [[f.name, f.n] + [f"{getattr(f, a):.8g}" for a in ("h2", "h2_se", "sigma_g2",
                                                             "sigma_e2", "lam", "logl_reml",
                                                             "logl_ml", "p_h2")] for f in fits]
    p1 = write_tsv(opts.out + ".reml.tsv", cols, rows)
    frows = []
    for f in fits:
        for nm, b, s in zip(sel.covar_names, f.beta, f.beta_se):
            frows.append([f.name, nm, f"{b:.8g}", f"{s:.8g}"])
    p2 = write_tsv(opts.out + ".reml.fixed.tsv", ["phenotype", "covariate", "beta",
                                                   "standard_error"], frows)
    log.write(f"wrote {p1}")
    log.write(f"wrote {p2}")
    return dict(fits=fits)


def _reml_loco(opts, bed, sel, snp_idx, log) -> dict:
    """One null model per left-out chromosome: OUT.reml.loco.tsv, and with
    --save-null PREFIX the files PREFIX.chr<c>.null.npz for assoc --null --loco."""
    from .nullstore import save_null

    if opts.null:
        raise UsageError("reml --loco computes the null models; --null is for assoc")
    rows, fits = [], []
    for ch, eig, fit, _ in loco_null_models(opts, bed, sel, snp_idx, log):
        fits.append((ch, fit))
        rows.append([ch, fit.name, fit.n] + [f"{getattr(fit, a):.8g}" for a in (
            "h2", "h2_se", "sigma_g2", "sigma_e2", "lam", "logl_reml", "logl_ml", "p_h2")])
        if opts.save_null:
            log.write(f"wrote {save_null(f'{opts.save_null}.chr{ch}', eig, fit, sel, bed)}")
    path = write_tsv(opts.out + ".reml.loco.tsv",
                     ["left_out_chromosome", "phenotype", "n", "h2", "h2_se", "sigma_g2",
                      "sigma_e2", "lambda", "logl_reml", "logl_ml", "p_h2"], rows)
    log.write("h2 per left-out chromosome: " + ", ".join(f"chr {c}: {f.h2:.4g}" for c, f in fits))
    log.write(f"wrote {path}")
    return dict(fits=fits)


# ---------------------------------------------------------------------------
# assoc
# ---------------------------------------------------------------------------

def parse_chunk(spec: str | None, m_total: int):
    """'K/N' -> (K, N, lo, hi): the K-th of N balanced ranges of .bim rows."""
    if not spec:
        return None
    mt = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not mt:
        raise UsageError(f"--chunk '{spec}' must look like K/N (for example 3/10)")
    k, n = int(mt.group(1)), int(mt.group(2))
    if not 1 <= k <= n:
        raise UsageError(f"--chunk {spec}: K must be between 1 and N")
    if n > m_total:
        raise UsageError(f"--chunk {spec}: more chunks than the {m_total} variants")
    lo = (k - 1) * m_total // n
    hi = k * m_total // n
    return k, n, lo, hi


@dataclass
class ScanSummary:
    tested: int = 0
    qc_reasons: dict = field(default_factory=dict)
    collinear: int = 0
    failed: int = 0
    boundary: int = 0
    neglog10: list = field(default_factory=list)
    top: list = field(default_factory=list)  # (neglog10, row dict)

    def add_qc(self, counts: dict):
        for k, v in counts.items():
            self.qc_reasons[k] = self.qc_reasons.get(k, 0) + v


def scan_snps(opts: Options, bed: BedFile, samples: np.ndarray, snp_idx: np.ndarray,
              eig: ProjectedEigen, model: ScanModel, writer: AssocWriter, log: RunLog,
              summary: ScanSummary, label: str = "scan", whitener: Whitener | None = None) -> None:
    """Stream blocks: read, impute, QC, rotate (B'X; --fast: whiten, L^-1 X), test,
    write rows.  ``whitener``: a prebuilt one for --fast (else built here)."""
    n = samples.size
    # B (exact mode) or the Cholesky factor L (fast mode; plus a float32 copy of
    # L with --rotate-dtype float32)
    reserved = 8 * n * n + (4 * n * n if opts.fast and opts.rotate_dtype == "float32" else 0)
    bs = opts.block_size or snp_block_size(n, opts.memory_gb, copies=4, reserved_bytes=reserved,
                                           max_block=4096)
    bim = bed.bim
    blocks = [(a, min(snp_idx.size, a + bs)) for a in range(0, snp_idx.size, bs)]
    dtype = np.dtype(opts.rotate_dtype)
    wh = whitener
    if opts.fast and wh is None:
        wh = make_whitener(eig, model)
        log.stage("cholesky", wh.seconds)

    def read(ab):
        t0 = time.perf_counter()
        G = bed.read_int8(samples, snp_idx[ab[0]:ab[1]])
        return G, time.perf_counter() - t0

    width = min(bs, max(1, snp_idx.size))
    buf = np.empty((n, width), order="F")  # imputed genotypes, reused per block
    # rotated genotypes (transposed), reused per block (exact mode)
    rot = None if opts.fast else np.empty((width, eig.n - eig.c))
    progress = log.progress(f"{label}: variants", snp_idx.size)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        fut = pool.submit(read, blocks[0]) if blocks else None
        for bi, (a, b) in enumerate(blocks):
            G, t_read = fut.result()
            if bi + 1 < len(blocks):
                fut = pool.submit(read, blocks[bi + 1])
            log.stage("read", t_read)
            t0 = time.perf_counter()
            blk = int8_block(G)
            ok, reason = variant_qc_counts(n, blk.n_missing, blk.a1_freq, blk.constant,
                                           opts.filters)
            summary.add_qc(summarize_reasons(reason))
            cols = np.flatnonzero(ok)
            idx = snp_idx[a:b][cols]
            Xo = fill_float(blk, cols, buf)  # mean-imputed A1 counts
            af = blk.a1_freq
            raw = np.einsum("ij,ij->j", Xo, Xo)
            if opts.fast:
                # |B'x|^2 = |x|^2 - |Wq'x|^2, for the collinearity rule
                wx = eig.Wq.T @ Xo
                sxx = raw - np.einsum("ij,ij->j", wx, wx)
            t1 = time.perf_counter()
            log.stage("qc", t1 - t0)
            if opts.fast:
                Xt = wh.whiten(Xo, dtype)  # L^-1 X, in place for float64
            else:
                Xt = eig.rotate(Xo, dtype, out=rot).astype(np.float64, copy=False)
                sxx = np.einsum("ij,ij->j", Xt, Xt)
            t2 = time.perf_counter()
            log.stage("rotate", t2 - t1)
            skip = collinear(raw, sxx)
            summary.collinear += int(skip.sum())
            keep = ~skip
            if skip.any():
                Xt = Xt[:, keep]
            idx = idx[keep]
            af_k = af[cols][keep]
            if opts.fast:
                res = whitened_block(model, wh, Xt)
            else:
                res = exact_block(model, Xt, opts.test)
            pv = pvalues(model, res, opts.test, opts.fast)
            t3 = time.perf_counter()
            log.stage("kernel", t3 - t2)
            _write_rows(opts, bim, idx, af_k, model.n, res, pv, writer, summary)
            log.stage("write", time.perf_counter() - t3)
            progress(b, snp_idx.size)
    finally:
        pool.shutdown(wait=True)


def primary_key(test: str, fast: bool) -> str:
    if fast:
        return "nl_score" if test == "score" else "nl_wald"
    return {"wald": "nl_wald", "lrt": "nl_lrt", "score": "nl_score", "all": "nl_wald"}[test]


def _write_rows(opts, bim, idx, af, n, res, pv, writer, summary):
    m = idx.size
    if m == 0:
        return
    main = pv[primary_key(opts.test, opts.fast)]
    cols = {
        "chromosome": bim.chromosome[idx].tolist(),
        "base_pair_location": [str(x) for x in bim.bp[idx]],
        "variant_id": bim.snp[idx].tolist(),
        "effect_allele": bim.a1[idx].tolist(),
        "other_allele": bim.a2[idx].tolist(),
        "effect_allele_frequency": fmt_float(af, ".6g"),
        "n": [str(n)] * m,
        "beta": fmt_float(res["beta"]),
        "standard_error": fmt_float(res["se"]),
        "p_value": format_p(main),
        "neg_log_10_p_value": fmt_float(main, ".6g"),
    }
    if opts.test == "all":
        cols["p_wald"] = format_p(pv["nl_wald"])
        cols["p_lrt"] = format_p(pv["nl_lrt"]) if "nl_lrt" in pv else ["NA"] * m
        cols["p_score"] = format_p(pv["nl_score"])
    if not opts.fast:
        if "lam_remle" in res:
            cols["lambda_remle"] = fmt_float(res["lam_remle"])
            cols["lambda_mle"] = fmt_float(res["lam_mle"])
            # GEMMA -lmm 1 reports the REML logL, -lmm 2/4 the ML one.
            ll = res["logl_mle"] if opts.test in ("lrt", "all") else res["logl_remle"]
            cols["logl_h1"] = fmt_float(ll)
        summary.boundary += int(np.sum(res.get("where_remle", np.zeros(0)) == 1)
                                + np.sum(res.get("where_remle", np.zeros(0)) == 2))
    bad = ~np.isfinite(main)
    summary.failed += int(bad.sum())
    writer.write_block(cols)
    summary.tested += m
    summary.neglog10.append(main.astype(np.float32))
    order = np.argsort(-np.nan_to_num(main, nan=-1))[: opts.top]
    for j in order:
        summary.top.append((float(main[j]), dict(chromosome=cols["chromosome"][j],
                                                 position=cols["base_pair_location"][j],
                                                 variant_id=cols["variant_id"][j],
                                                 beta=cols["beta"][j], p=cols["p_value"][j])))
    summary.top.sort(key=lambda t: -np.nan_to_num(t[0], nan=-1))
    del summary.top[opts.top:]


def lambda_gc(neglog10: np.ndarray) -> float:
    """Median chi-square(1) of the p-values over 0.4549 (the chi2(1) median)."""
    v = neglog10[np.isfinite(neglog10)]
    if v.size == 0:
        return float("nan")
    med = float(np.median(v.astype(np.float64)))
    p = 10.0 ** (-med)
    return float(special.chdtri(1, p) / CHI2_MEDIAN)


def finish_summary(opts: Options, log: RunLog, summary: ScanSummary, n: int, h2,
                   m_grm: int | None) -> dict:
    nl = np.concatenate(summary.neglog10) if summary.neglog10 else np.zeros(0)
    lgc = lambda_gc(nl)
    removed_qc = sum(summary.qc_reasons.values())
    log.write("summary:")
    log.write(f"  samples analysed: {n}")
    if h2 is not None:
        log.write(f"  h2 (null model): {h2}")
    log.write(f"  SNPs tested: {summary.tested}; skipped: {removed_qc} by QC "
              f"({', '.join(f'{k} {v}' for k, v in summary.qc_reasons.items() if v)}), "
              f"{summary.collinear} collinear with the covariates (r2 > 0.9999)")
    if summary.failed:
        log.write(f"  {summary.failed} SNPs have no p-value (non-finite statistic), written as NA")
    if summary.boundary and not opts.fast:
        log.write(f"  {summary.boundary} SNPs have their REML lambda at a bound of [1e-5, 1e5]")
    log.write(f"  lambda_GC: {lgc:.4f}")
    if not opts.loco and not opts.fast and m_grm and lgc < 0.97:
        log.write("  note: without --loco each tested SNP is also in the kinship, which deflates "
                  "the statistics (expected lambda_GC about 1/(1 + n h2/M)); consider --loco")
    elif not opts.loco and m_grm and lgc < 0.97:
        log.write("  note: lambda_GC is well below 1; without --loco each tested SNP is also in "
                  "the kinship, which deflates the statistics; consider --loco")
    if summary.top:
        log.write(f"  top {len(summary.top)} hits:")
        log.write("    chromosome\tposition\tvariant_id\tbeta\tp_value")
        for _, r in summary.top:
            log.write(f"    {r['chromosome']}\t{r['position']}\t{r['variant_id']}\t{r['beta']}\t"
                      f"{r['p']}")
    return dict(lambda_gc=lgc, tested=summary.tested, collinear=summary.collinear,
                qc=summary.qc_reasons, top=summary.top)


def run_assoc(opts: Options, log: RunLog) -> dict:
    if opts.test not in ("wald", "lrt", "score", "all"):
        raise UsageError(f"--test must be wald, lrt, score or all, not '{opts.test}'")
    if opts.fast and opts.test in ("lrt", "all"):
        raise UsageError("--fast fixes lambda at the null estimate: it offers --test wald or "
                         "score; the likelihood-ratio test needs the exact mode")
    if opts.null:
        given = [flag for flag, v in (("--pheno", opts.pheno), ("--covar", opts.covar),
                                      ("--grm", opts.grm), ("--kinship", opts.kinship),
                                      ("--eigen", opts.eigen), ("--keep", opts.keep),
                                      ("--remove", opts.remove)) if v]
        if given:
            raise UsageError(f"--null already fixes the samples, phenotype, covariates and "
                             f"kinship; drop {', '.join(given)}")
    bed = open_genotypes(opts, log)
    chunk = parse_chunk(opts.chunk, bed.n_snps)
    loco_fp = None
    if opts.null and opts.loco:
        from .nullstore import load_null

        first = sorted(glob.glob(f"{opts.null}.chr*.null.npz"))
        if not first:
            raise InputError(f"--loco --null {opts.null}: no {opts.null}.chr*.null.npz files "
                             f"(save them with reml --loco --save-null)")
        sel = load_null(first[0][: -len(".null.npz")], bed, log).selection
        snp_idx = preselect(opts, bed, log)
        eig = null = None
        K_m = 1
    elif opts.null:
        from .nullstore import load_null

        stored = load_null(opts.null, bed, log)
        sel, eig, null = stored.selection, stored.eig, stored.fit
        snp_idx = preselect(opts, bed, log)
        K_m = stored.n_snps_grm
    else:
        sel = select_samples(opts, bed, log, need_phenotype=True)
        snp_idx = preselect(opts, bed, log)
        eig = null = None
        K_m = None
    if chunk:
        k, nch, lo, hi = chunk
        before = snp_idx.size
        snp_idx = snp_idx[(snp_idx >= lo) & (snp_idx < hi)]
        log.write(f"--chunk {k}/{nch}: .bim rows {lo + 1}-{hi}; {snp_idx.size} of {before} "
                  f"selected variants in this chunk")
    path = output_path(opts.out if not chunk else f"{opts.out}.chunk{chunk[0]}of{chunk[1]}",
                       opts.no_gzip)
    columns = assoc_columns(opts.test, opts.fast)
    writer = AssocWriter(path, columns)
    summary = ScanSummary()
    h2_text = None
    try:
        if opts.loco:
            h2_text, loco_fp = _assoc_loco(opts, bed, sel, snp_idx, writer, log, summary)
            K_m = 1
        else:
            K = None
            if eig is None:
                K = None if opts.eigen else kinship_for(opts, bed, sel, preselect_all(opts, bed,
                                                                                    snp_idx),
                                                        log)
                K_m = 1
                eig = eigen_for(opts, K, sel, sel.W, log, vectors=not opts.fast)
                if not opts.fast:
                    K = None
                if opts.save_eigen:
                    log.write(f"wrote {save_eigen(opts.out, eig, sel.fid, sel.iid, sel.covar_names)}")
                    eig.drop_caches()  # B formed from the factors for saving
                t0 = time.perf_counter()
                null = fit_null(eig, sel.y[:, 0], sel.pheno_names[0])
                log.stage("null", time.perf_counter() - t0)
            log_null(log, null)
            h2_text = f"{null.h2:.4g} (se {null.h2_se:.3g})"
            model = make_model(eig, null)
            wh = None
            if opts.fast:  # from K when this run built or read it (O(n^2), not O(n^3))
                wh = make_whitener(eig, model, K, overwrite_k=True)
                log.stage("cholesky", wh.seconds)
                eig = eig.without_vectors()  # the scan needs only L, Q, d and Wq now
            K = None
            scan_snps(opts, bed, sel.idx, snp_idx, eig, model, writer, log, summary, whitener=wh)
        writer.finish(expected_rows=summary.tested)
    except BaseException:
        writer.abort()
        raise
    log.write(f"wrote {path} ({summary.tested} rows)")
    info = finish_summary(opts, log, summary, sel.n, h2_text, K_m)
    meta = dict(
        file_type="GWAS-SSF v1.1 (gwaslmm)", data_file_name=os.path.basename(path),
        file_type_note="tab-separated; p_value from the test named in test",
        genome_assembly=opts.assembly or "unknown", software=f"gwaslmm {__version__}",
        test=("fast " if opts.fast else "exact ") + opts.test, loco=bool(opts.loco),
        sample_size=int(sel.n), covariates=list(sel.covar_names),
        phenotype=sel.pheno_names[0], variants=int(summary.tested),
        lambda_gc=round(info["lambda_gc"], 4),
        effect_allele="A1 (.bim column 5)",
        null_model=loco_fp if opts.loco else null_fingerprint(eig, null),
    )
    if chunk:
        meta["chunk"] = f"{chunk[0]}/{chunk[1]}"
        meta["chunk_bim_rows"] = f"{chunk[2]}-{chunk[3]}"
    write_meta_yaml(path + "-meta.yaml", meta)
    if opts.make_plot:
        from .plot import plot_assoc

        t0 = time.perf_counter()
        plot_assoc(path, opts.out, label_top=min(opts.top, 5), log=log)  # logs what it wrote
        log.stage("plot", time.perf_counter() - t0)
    return dict(path=path, **info)


def preselect_all(opts: Options, bed: BedFile, snp_idx: np.ndarray) -> np.ndarray:
    """SNPs used for a kinship built inside assoc: the whole selection (not the chunk)."""
    extract = read_variant_list(opts.extract, "--extract") if opts.extract else None
    exclude = read_variant_list(opts.exclude, "--exclude") if opts.exclude else None
    idx, _ = preselect_variants(bed.bim, opts.chr, extract, exclude)
    return idx


def null_fingerprint(eig: ProjectedEigen, null: NullFit) -> str:
    import hashlib

    h = hashlib.sha256()
    h.update(eig.fingerprint.encode())
    h.update(np.float64(null.lam).tobytes())
    h.update(np.ascontiguousarray(null.yt[:50]).tobytes())
    return h.hexdigest()[:16]


def loco_null_models(opts, bed, sel, snp_idx, log, chromosomes=None, fast=False):
    """Yield (chromosome, eig, null, whitener) for leave-one-chromosome-out;
    with ``fast`` the whitener of K_-c is built here (eig keeps B factored and
    comes back without it), else None.

    K_-c = (S - S_c) / (M - M_c): S summed once over every selected SNP, S_c
    recomputed from chromosome c's SNPs (one extra pass over the genotypes in
    total), then K_-c's own decomposition and null fit.  With ``opts.null``
    the per-chromosome models saved by ``reml --loco --save-null`` are loaded.
    """
    from .genotypes import chromosome_sort_key

    chroms = bed.bim.chromosome
    wanted = sorted(set(chroms[snp_idx].tolist()), key=chromosome_sort_key)
    if chromosomes is not None:
        wanted = [c for c in wanted if c in chromosomes]
    if opts.null:
        from .nullstore import load_null

        for ch in wanted:
            stored = load_null(f"{opts.null}.chr{ch}", bed, log)
            if not np.array_equal(stored.selection.idx, sel.idx):
                raise InputError(f"{opts.null}.chr{ch}.null.npz is for other samples than "
                                 f"{opts.null}.chr{wanted[0]}.null.npz")
            eig, null, wh = stored.eig, stored.fit, None
            del stored
            if fast:
                wh = make_whitener(eig, make_model(eig, null))
                log.stage("cholesky", wh.seconds)
                eig = eig.without_vectors()
            yield ch, eig, null, wh
            eig = null = wh = None  # not held while the next one is loaded
        return
    if opts.grm or opts.kinship or opts.eigen:
        raise UsageError("--loco builds its kinships from the genotypes; drop "
                         "--grm/--kinship/--eigen")
    all_idx = preselect_all(opts, bed, snp_idx)
    total = build_grm(opts, bed, sel.idx, all_idx, log, label="kinship (all chromosomes)")
    for ch in wanted:
        c_idx = all_idx[chroms[all_idx] == ch]
        part = build_grm(opts, bed, sel.idx, c_idx, log, label=f"kinship piece chr {ch}")
        m_rest = total.m - part.m
        if m_rest <= 0:
            raise InputError(f"--loco: no SNP outside chromosome {ch} passes QC, so there is no "
                             f"kinship without it")
        K = finish_grm(total.S - part.S, m_rest, inplace=True)
        del part
        eig = eigen_for(opts, K, sel, sel.W, log, vectors=not fast)
        t0 = time.perf_counter()
        null = fit_null(eig, sel.y[:, 0], sel.pheno_names[0])
        log.stage("null", time.perf_counter() - t0)
        log_null(log, null, label=f" without chr {ch}")
        wh = None
        if fast:
            wh = make_whitener(eig, make_model(eig, null), K, overwrite_k=True)
            log.stage("cholesky", wh.seconds)
            eig = eig.without_vectors()
        del K
        yield ch, eig, null, wh
        eig = null = wh = None  # not held while the next one is built


def _assoc_loco(opts, bed, sel, snp_idx, writer, log, summary):
    """Scan each chromosome against its leave-one-out null model."""
    import hashlib

    chroms = bed.bim.chromosome
    from .eigen import fingerprint

    h2s = []
    # the same for every chunk of a LOCO run: samples, covariates and phenotype
    fp = hashlib.sha256((fingerprint(None, sel.W, sel.keys) + "loco").encode()
                        + np.ascontiguousarray(sel.y[:, 0]).tobytes()).hexdigest()[:16]
    for ch, eig, null, wh in loco_null_models(opts, bed, sel, snp_idx, log, fast=opts.fast):
        h2s.append((ch, null.h2))
        model = make_model(eig, null)
        scan_snps(opts, bed, sel.idx, snp_idx[chroms[snp_idx] == ch], eig, model, writer, log,
                  summary, label=f"scan chr {ch}", whitener=wh)
        del eig, null, wh, model  # before the generator builds the next chromosome's
    log.write("h2 per left-out chromosome: " + ", ".join(f"chr {c}: {h:.4g}" for c, h in h2s))
    return "LOCO " + ", ".join(f"{c}:{h:.3g}" for c, h in h2s), fp


# ---------------------------------------------------------------------------
# merge
# ---------------------------------------------------------------------------

def run_merge(files: list, out: str, log: RunLog, no_gzip: bool = False) -> str:
    """Concatenate chunk files K = 1..N in order after checking they belong together."""
    from .output import read_meta_yaml

    expanded = []
    for f in files:
        hits = sorted(glob.glob(f)) if any(ch in f for ch in "*?[") else [f]
        expanded += [h for h in hits if not h.endswith("-meta.yaml") and not h.endswith(".partial")]
    if not expanded:
        raise InputError("merge: no chunk files given")
    chunks = {}
    ref = None
    for f in expanded:
        meta_path = f + "-meta.yaml"
        if not os.path.exists(f) or not os.path.exists(meta_path):
            raise InputError(f"merge: {f} or its metadata {meta_path} is missing")
        meta = read_meta_yaml(meta_path)
        if "chunk" not in meta:
            raise InputError(f"merge: {f} is not a chunk file (no 'chunk' in its metadata)")
        k, n = (int(x) for x in meta["chunk"].split("/"))
        if k in chunks:
            raise InputError(f"merge: chunk {k}/{n} given twice ({chunks[k][0]} and {f})")
        sig = {key: meta.get(key) for key in ("null_model", "test", "sample_size", "phenotype",
                                              "covariates", "loco")}
        sig["n_chunks"] = n
        if ref is None:
            ref = (f, sig)
        elif sig != ref[1]:
            diff = [key for key in sig if sig[key] != ref[1][key]]
            raise InputError(f"merge: {f} does not match {ref[0]} ({', '.join(diff)} differ): "
                             f"chunks must come from the same null model and settings")
        chunks[k] = (f, meta)
    n = ref[1]["n_chunks"]
    missing = [k for k in range(1, n + 1) if k not in chunks]
    if missing:
        raise InputError(f"merge: {len(missing)} of {n} chunks missing (first: {missing[0]}/{n})")
    path = output_path(out, no_gzip)
    header = None
    writer = None
    total = 0
    seen_last = -1
    try:
        for k in range(1, n + 1):
            f, meta = chunks[k]
            lo, hi = (int(x) for x in meta["chunk_bim_rows"].split("-"))
            if lo < seen_last:
                raise InputError(f"merge: chunk {k} overlaps the previous one")
            seen_last = hi
            opener = gzip.open if f.endswith(".gz") else open
            try:
                with opener(f, "rt", encoding="utf-8") as fh:
                    h = fh.readline().rstrip("\n").split("\t")
                    lines = fh.readlines()
            except (OSError, EOFError, UnicodeDecodeError) as exc:
                raise InputError(f"merge: cannot read {f} ({exc}); is the chunk complete?") \
                    from None
            if header is None:
                header = h
                writer = AssocWriter(path, header)
            elif h != header:
                raise InputError(f"merge: {f} has other columns than chunk 1")
            writer.write_lines(lines)
            total += len(lines)
        writer.finish(expected_rows=total)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    meta = dict(chunks[1][1])
    meta.pop("chunk", None)
    meta.pop("chunk_bim_rows", None)
    meta["data_file_name"] = os.path.basename(path)
    meta["variants"] = total
    # lambda_GC over the merged file
    nl = []
    with (gzip.open(path, "rt") if path.endswith(".gz") else open(path)) as fh:
        hdr = fh.readline().rstrip("\n").split("\t")
        j = hdr.index("neg_log_10_p_value")
        for line in fh:
            v = line.rstrip("\n").split("\t")[j]
            nl.append(float(v) if v != "NA" else np.nan)
    meta["lambda_gc"] = round(lambda_gc(np.array(nl)), 4)
    write_meta_yaml(path + "-meta.yaml", meta)
    log.write(f"merged {n} chunks, {total} variants, into {path}; lambda_GC {meta['lambda_gc']}")
    return path
