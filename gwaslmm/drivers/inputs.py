"""Input handling shared by the commands: genotypes, the sample join, the
variant selections, the kinship and its decomposition.

Which variants make the kinship: in ``grm`` and ``reml`` the selection
options (--chr/--extract/--exclude) choose them; in ``assoc`` those options
choose the tested variants, and the kinship it builds uses every variant
of the file (QC-passing), or the ``--model-snps`` lists (as BOLT-LMM's
--modelSnps); either way the log says which.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..eigen import decompose
from ..errors import InputError, UsageError
from ..genotypes import open_genotypes
from ..ids import duplicated
from ..kinship import finish_grm, grm_sum
from ..kinship_io import read_gcta_grm, read_gemma_kinship
from ..qc import preselect_variants, qc_report_lines
from ..samples import SampleSelection, fam_phenotype_names, join_samples
from ..tables import read_id_lists, read_sample_table, read_variant_lists, select_columns
from ..writers import write_tsv
from .options import PhenotypeOptions


def open_source(opts, log):
    src = open_genotypes(opts.bfile, threads=opts.threads, pfile=opts.pfile,
                         hard_calls=opts.hard_calls, bgen=opts.bgen, sample=opts.sample,
                         ref_first=opts.ref_first, other_allele=opts.count_other_allele)
    log.file_info("genotypes", src.path)
    if src.samples.source != src.path and opts.bgen is not None:
        log.file_info("samples", src.samples.source)
    fmt = getattr(src, "format_note", None)
    log.write(f"  {src.samples.n} samples, {src.variants.m} variants"
              f"{'; ' + fmt if fmt else ''}; effect allele: {src.effect_allele_note}")
    for note in getattr(src, "notes", ()):
        log.write(f"  note: {note}")
    if src.info_kind:
        log.write(f"  imputation quality: {src.info_kind} over the analysed samples, column "
                  f"'info' of the association output")
    flt = getattr(opts, "filters", None)
    if flt is not None and flt.info_min is not None and src.info_kind is None:
        raise InputError(f"{flt.info_flag}: {src.path} gives no imputation quality (it stores "
                         f"hard calls only)")
    dup = duplicated(src.variants.id)
    if dup.size:
        times = int(np.count_nonzero(src.variants.id == dup[0]))
        log.write(f"  note: {dup.size} variant ID(s) appear more than once "
                  f"(first: {dup[0]}, {times} times); "
                  f"--extract/--exclude of such an ID take every copy")
    return src


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def _fam_columns(opts, source, log, multi_pheno: bool) -> tuple:
    """Which of the genotype file's phenotype columns are analysed."""
    k = len(source.samples.phenotypes)
    names = fam_phenotype_names(source.samples)
    if opts.pheno_name:
        raise UsageError("--pheno-name needs --pheno FILE (the .fam's phenotype columns are "
                         "chosen with --pheno-col K)")
    if opts.pheno_col is not None:
        if not 1 <= opts.pheno_col <= k:
            raise UsageError(f"--pheno-col {opts.pheno_col} does not exist: "
                             f"{source.samples.source} has {k} phenotype column(s) "
                             f"(column 6 onward)")
        return (opts.pheno_col - 1,)
    if getattr(opts, "all_pheno", False) and multi_pheno:
        return tuple(range(k))
    if k > 1:
        log.write(f"  {source.samples.source} has {k} phenotype columns ({', '.join(names)}); "
                  f"using the first (--pheno-col K picks another"
                  f"{', --all-pheno takes all' if multi_pheno else ''})")
    return (0,)


def grouping_columns(opts) -> list:
    """(flag, column) of the covariate-file columns that group samples
    (--family-col, --random, the groups of --random-slope): never covariates."""
    out = []
    if getattr(opts, "family_col", None):
        out.append(("--family-col", opts.family_col))
    for name in getattr(opts, "random", ()):
        out.append(("--random", name))
    for spec in getattr(opts, "random_slope", ()):
        if spec.count(":") != 1:
            raise UsageError(f"--random-slope {spec}: give NAME:GROUP (a covariate and the "
                             f"column grouping the samples)")
        group = spec.partition(":")[2]
        if group and group not in getattr(opts, "random", ()):
            out.append(("--random-slope", group))
    return out


def select_samples(opts, source, log, need_phenotype: bool,
                   multi_pheno: bool = False) -> SampleSelection:
    """The sample join for a command's options (``grm`` has no phenotype or
    covariate options: its samples are the genotype file's, --keep/--remove)."""
    if not isinstance(opts, PhenotypeOptions):
        sel = join_samples(source.samples, keep=read_id_lists(opts.keep, "--keep"),
                           remove=read_id_lists(opts.remove, "--remove"), need_phenotype=False)
        log.write("sample join:")
        log.lines("  " + ln for ln in sel.report)
        return sel
    pheno_table = covar_table = None
    names = None
    fam_columns = (0,)
    if getattr(opts, "all_pheno", False) and (opts.pheno_name or opts.pheno_col is not None):
        raise UsageError("--all-pheno takes every phenotype column; drop --pheno-name/--pheno-col "
                         "or --all-pheno")
    if need_phenotype and opts.pheno:
        pheno_table = read_sample_table(opts.pheno, "phenotype", "PHENO")
        log.file_info("phenotypes", opts.pheno)
        if getattr(opts, "all_pheno", False):
            names = list(pheno_table.names)
        else:
            names = select_columns(pheno_table, list(opts.pheno_name) or None, opts.pheno_col,
                                   "phenotype")
            if not multi_pheno and len(names) > 1:
                if opts.pheno_name:
                    cmd = (opts.command_line.split() + ["", ""])[1] or "this command"
                    raise UsageError(f"{cmd} analyses one phenotype per run; give a single "
                                     f"--pheno-name (run reml for many)")
                names = names[:1]
                log.write(f"  using the first phenotype column '{names[0]}' "
                          f"(--pheno-name picks another)")
    elif need_phenotype:
        fam_columns = _fam_columns(opts, source, log, multi_pheno)
    covar_names = None
    if opts.covar:
        covar_table = read_sample_table(opts.covar, "covariate", "COVAR")
        log.file_info("covariates", opts.covar)
        covar_names = select_columns(covar_table, list(opts.covar_name) or None, None,
                                     "covariate")
        for flag, group in grouping_columns(opts):
            if group not in covar_table.names:
                raise UsageError(f"{flag} {group}: no such column in {opts.covar} "
                                 f"(columns: {', '.join(covar_table.names)})")
            if group in covar_names and opts.covar_name:
                raise UsageError(f"{flag} {group} groups samples; it is not also a covariate: "
                                 f"drop it from --covar-name")
            if group in covar_names:
                covar_names = [c for c in covar_names if c != group]
                log.write(f"  column {group} ({flag}) groups the samples, it is not a "
                          f"covariate")
        if pheno_table is not None and _same_file(opts.pheno, opts.covar):
            clash = [c for c in covar_names if c in names]
            if clash and opts.covar_name:
                raise UsageError(f"--covar-name lists '{clash[0]}', the phenotype: a phenotype "
                                 f"is never a covariate")
            if clash:
                covar_names = [c for c in covar_names if c not in clash]
                log.write(f"  the covariate file is the phenotype file: phenotype column(s) "
                          f"{', '.join(clash)} left out of the covariates")
        if not covar_names:
            log.write("  no covariate column is left: intercept only")
            covar_table = None
    elif opts.covar_name or opts.cat_covar:
        raise UsageError("--covar-name/--cat-covar need --covar FILE")
    sel = join_samples(source.samples, pheno_table=pheno_table, pheno_names=names,
                       fam_columns=fam_columns, covar_table=covar_table, covar_names=covar_names,
                       cat_covar=tuple(opts.cat_covar), keep=read_id_lists(opts.keep, "--keep"),
                       remove=read_id_lists(opts.remove, "--remove"),
                       missing_codes=tuple(opts.missing_code), need_phenotype=need_phenotype,
                       drop_missing="all" if multi_pheno else "any")
    log.write("sample join:")
    log.lines("  " + ln for ln in sel.report)
    log.write(f"covariates ({sel.W.shape[1]} columns): {', '.join(sel.covar_names)}")
    return sel


def write_samples(path: str, sel: SampleSelection) -> str:
    """The analysed samples, ``#FID IID`` (PLINK 2's .id form; --keep reads it)."""
    return write_tsv(path, ["#FID", "IID"], list(zip(sel.fid.tolist(), sel.iid.tolist())))


def selected_variants(opts, source, log, what: str = "variant selection") -> np.ndarray:
    """Indices of the variants kept by --chr/--extract/--exclude."""
    idx, report = preselect_variants(source.variants, opts.chr,
                                     read_variant_lists(opts.extract, "--extract"),
                                     read_variant_lists(opts.exclude, "--exclude"))
    log.write(f"{what}:")
    log.lines("  " + ln for ln in report)
    return idx


def model_variants(opts, source, log) -> np.ndarray:
    """The variants a kinship built by ``assoc`` uses: --model-snps, else all."""
    v = source.variants
    if not opts.model_snps:
        log.write(f"kinship variants: all {v.m} variants of {v.source} (before QC); "
                  f"--chr/--extract/--exclude choose the tested variants only, --model-snps "
                  f"FILE the kinship's")
        return np.arange(v.m)
    ids = read_variant_lists(opts.model_snps, "--model-snps")
    idx = np.flatnonzero(np.isin(v.id, sorted(ids)))
    log.write(f"kinship variants (--model-snps): {len(ids)} IDs listed, {idx.size} of them in "
              f"{v.source}")
    if idx.size == 0:
        raise InputError(f"--model-snps lists no variant of {v.source} ({len(ids)} IDs listed)")
    return idx


def build_grm(opts, source, samples: np.ndarray, snp_idx: np.ndarray, log, precision: str,
              label: str = "kinship", grm_type: str | None = None, split=None):
    """GRM sum over the given samples/variants with QC, logging throughput
    (``split``: several kinships in the pass, see :func:`grm_sum`)."""
    grm_type = grm_type or opts.grm_type
    t0 = time.perf_counter()
    gs = grm_sum(source, samples, snp_idx, grm_type, opts.filters, opts.memory_gb,
                 progress=log.progress(f"{label}: variants", snp_idx.size),
                 block_size=opts.block_size, dtype=np.dtype(precision), split=split)
    dt = time.perf_counter() - t0
    n = samples.size
    gflops = n * n * gs.m / max(gs.seconds_syrk, 1e-9) / 1e9
    log.lines(qc_report_lines(gs.reason_counts, opts.filters, snp_idx.size, gs.m))
    log.write(f"{label} ({grm_type}, {precision} blocks): {n} samples x {gs.m} "
              f"SNPs in {dt:.2f}s "
              f"(read+standardize {gs.seconds_read:.2f}s, accumulate {gs.seconds_syrk:.2f}s "
              f"at {gflops:.1f} GFLOP/s)")
    log.stage("read", gs.seconds_read)
    log.stage("grm", gs.seconds_syrk)
    return gs


def kinship_for(opts, source, sel: SampleSelection, snp_idx: np.ndarray, log,
                precision: str) -> np.ndarray:
    """K over the analysed samples, from --grm, --kinship or built from genotypes."""
    if opts.grm and opts.kinship:
        raise UsageError("give --grm or --kinship, not both")
    if opts.grm or opts.kinship:
        t0 = time.perf_counter()
        if opts.grm:
            kin = read_gcta_grm(opts.grm)
            what = f"GCTA GRM {opts.grm} ({kin.keys.size} samples)"
        else:
            # only the analysed samples' rows and columns are converted
            kin = read_gemma_kinship(opts.kinship, source.samples.fid, source.samples.iid,
                                     keep=sel.idx)
            what = f"GEMMA text matrix {opts.kinship} ({source.samples.n} samples)"
        K = kin.subset(sel.fid, sel.iid)
        dt = time.perf_counter() - t0
        log.stage("kinship_read", dt)
        log.write(f"kinship: {what}, read in {dt:.2f}s")
        return K
    gs = build_grm(opts, source, sel.idx, snp_idx, log, precision)
    return finish_grm(gs.S, gs.m, inplace=True)


def decompose_for(opts, K, sel: SampleSelection, W: np.ndarray, log, idx_in_sel=None,
                  vectors: bool = True, overwrite_k: bool = False):
    """(Spectrum, basis): load --eigen, or decompose K (n, n) (``vectors=False``:
    the basis kept factored; ``overwrite_k``: K is not needed afterwards and
    becomes the decomposition's workspace, one n x n array less)."""
    keys = sel.keys if idx_in_sel is None else sel.keys[idx_in_sel]
    fid = sel.fid if idx_in_sel is None else sel.fid[idx_in_sel]
    iid = sel.iid if idx_in_sel is None else sel.iid[idx_in_sel]
    if opts.eigen:
        from ..store import load_eigen  # not needed by grm

        sp, basis = load_eigen(opts.eigen, fid, iid, W)
        log.write(f"eigendecomposition: loaded {opts.eigen} ({sp.n} samples)")
        return sp, basis
    t0 = time.perf_counter()
    sp, basis = decompose(K, W, keys, vectors=vectors, overwrite_k=overwrite_k)
    dt = time.perf_counter() - t0
    log.stage("eigen", dt)
    how = "" if vectors else " (tridiagonal, eigenvectors kept factored)"
    log.write(f"eigendecomposition{how} of the covariate-projected kinship: {sp.n} samples, "
              f"{sp.c} covariate columns, {dt:.2f}s; {sp.n_zeroed} eigenvalues below 1e-10 "
              f"set to 0 (smallest {sp.min_eigenvalue:.3g}); tr(Kc)/n = {sp.t:.6g}")
    if sp.min_eigenvalue < -1e-3 * max(1.0, float(sp.d.max())):
        log.write(f"warning: the kinship has a clearly negative eigenvalue "
                  f"({sp.min_eigenvalue:.4g}); it is not positive semi-definite")
    return sp, basis
