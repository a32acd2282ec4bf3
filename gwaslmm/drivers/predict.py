"""``gwaslmm predict``: genetic values by BLUP from a null model fitted on the
phenotyped samples, for every sample of the genotype file (training or not),
with prediction error variance and reliability, and SNP effects ready for
``plink2 --score`` (numerics in :mod:`gwaslmm.predict`).

The kinship covers every kept sample of the genotype file: built from the
genotypes with QC and allele frequencies of the training samples (so a
sample without phenotype does not change the training kinship), or read
from --grm/--kinship (then no SNP effects: the file's definition is not known).
"""

from __future__ import annotations

import time

import numpy as np

from ..eigen import decompose
from .options import given_flags
from ..errors import InputError, UsageError
from ..ids import positions
from ..kinship import finish_grm, grm_sum
from ..kinship_io import read_gcta_grm, read_gemma_kinship
from ..methods import method_for
from ..paths import Outputs
from ..predict import accuracy, blup, cv_folds, expected_accuracy, snp_effects
from ..qc import qc_report_lines
from ..samples import join_samples
from ..tables import read_id_lists
from ..writers import write_tsv
from .inputs import decompose_for, open_source, select_samples, selected_variants

PREDICT_COLUMNS = ["FID", "IID", "in_training", "phenotype", "genetic_value", "pev",
                   "reliability", "fitted"]
SNP_COLUMNS = ["variant_id", "effect_allele", "weight", "center", "u"]
CV_COLUMNS = ["fold", "n_train", "n_test", "h2", "lambda", "r", "r2", "slope", "r_genetic",
              "r_expected"]


def _kinship_all(opts, source, every, train_pos, snp_idx, log):
    """K over every kept sample, and (grm pieces for SNP effects or None)."""
    if opts.grm or opts.kinship:
        if opts.grm and opts.kinship:
            raise UsageError("give --grm or --kinship, not both")
        kin = read_gcta_grm(opts.grm) if opts.grm else read_gemma_kinship(
            opts.kinship, source.samples.fid, source.samples.iid)
        log.write(f"kinship: {opts.grm or opts.kinship} ({kin.keys.size} samples); no SNP "
                  f"effects (the file's kinship definition is not known)")
        return kin.subset(every.fid, every.iid), None
    t0 = time.perf_counter()
    gs = grm_sum(source, every.idx, snp_idx, opts.grm_type, opts.filters, opts.memory_gb,
                 progress=log.progress("kinship: variants", snp_idx.size),
                 block_size=opts.block_size, dtype=np.float64, ref_rows=train_pos)
    log.lines(qc_report_lines(gs.reason_counts, opts.filters, snp_idx.size, gs.m))
    log.write(f"kinship ({opts.grm_type}) over {every.n} samples x {gs.m} SNPs, allele "
              f"frequencies and QC from the {train_pos.size} training samples, in "
              f"{time.perf_counter() - t0:.2f}s")
    return finish_grm(gs.S, gs.m, inplace=True), gs


def _snp_effect_rows(opts, source, sel, snp_idx, gs, py, lam):
    """(variant, allele, weight, center, u) for every SNP of the kinship."""
    from ..genotypes import snp_block_size

    cand = snp_idx[gs.passed]
    p = gs.freq[gs.passed]
    sd = np.sqrt(2.0 * p * (1.0 - p)) if opts.grm_type == "standardized" else np.ones(p.size)
    bs = opts.block_size or snp_block_size(sel.n, opts.memory_gb)
    u = np.empty(cand.size)
    buf = np.empty((sel.n, min(bs, max(1, cand.size))), order="F")
    for a in range(0, cand.size, bs):
        b = min(cand.size, a + bs)
        blk = source.read_block(sel.idx, cand[a:b])
        Z = blk.fill(np.arange(b - a), buf, center=2.0 * p[a:b], scale=1.0 / sd[a:b],
                     missing_value=np.zeros(b - a))
        u[a:b] = snp_effects(Z, py, lam, gs.m)
    v = source.variants
    w = u / sd
    return [[v.id[j], v.effect_allele[j], f"{w[k]:.10g}", f"{2.0 * p[k]:.10g}", f"{u[k]:.10g}"]
            for k, j in enumerate(cand)]


def _folds(opts, sel) -> np.ndarray:
    """The --cv fold of every training sample, checked before any work: each
    fold must hold samples, and the others at least 10."""
    k = opts.cv
    fold = cv_folds(sel.keys if opts.cv_by_sample else sel.fid, k, opts.seed)
    sizes = np.bincount(fold, minlength=k)
    bad = np.flatnonzero((sizes == 0) | (sel.n - sizes < 10))
    if bad.size:
        f = int(bad[0])
        raise InputError(f"--cv {k}: fold {f + 1} would hold {int(sizes[f])} of the {sel.n} "
                         f"training samples ({'samples' if opts.cv_by_sample else 'families'}: "
                         f"{np.unique(sel.keys if opts.cv_by_sample else sel.fid).size}); use "
                         f"fewer folds")
    return fold


def _cross_validate(opts, K, train_pos, sel, fold, log, method) -> list:
    """K-fold cross-validation over the training samples (``fold`` from
    :func:`_folds`): per fold the null model refitted on the other folds, the
    held-out samples predicted (fitted = W alpha + g); rows of CV_COLUMNS,
    the last 'all' (pooled)."""
    k = opts.cv
    how = "by sample" if opts.cv_by_sample else "by family (FID): relatives stay in one fold"
    sizes = ", ".join(str(int((fold == f).sum())) for f in range(k))
    log.write(f"cross-validation: {k} folds {how} (seed {opts.seed}); fold sizes {sizes}")
    y, W = sel.y[:, 0], sel.W
    pred = np.full(sel.n, np.nan)
    gen = np.full(sel.n, np.nan)
    resid = np.full(sel.n, np.nan)
    a_rel = np.zeros((sel.n, 3))  # per held-out sample: sigma_g2 K_ii, reliability, sigma_e2
    rows = []
    for f in range(k):
        tr, te = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        both = np.concatenate([tr, te])
        Kf = K[np.ix_(train_pos[both], train_pos[both])]
        sp, basis = decompose(np.ascontiguousarray(Kf[:tr.size, :tr.size]), W[tr],
                              vectors=True, overwrite_k=True)
        fit = method.null_model(sp, basis, y[tr], sel.pheno_names[0]).fit
        res = blup(Kf, np.arange(tr.size), W[tr], y[tr], fit.lam, fit.sigma_g2)
        g = res.g[tr.size:]
        pred[te] = W[te] @ res.alpha + g
        gen[te] = g
        resid[te] = y[te] - W[te] @ res.alpha
        r, r2, slope = accuracy(y[te], pred[te])
        rg = accuracy(resid[te], g)[0]
        kii = np.diag(Kf)[tr.size:]
        a_rel[te] = np.column_stack([fit.sigma_g2 * kii, res.reliability[tr.size:],
                                     np.full(te.size, fit.sigma_e2)])
        rx = expected_accuracy(kii, res.reliability[tr.size:], fit.sigma_g2, fit.sigma_e2)
        rows.append([str(f + 1), str(tr.size), str(te.size), f"{fit.h2:.6g}", f"{fit.lam:.6g}",
                     f"{r:.6g}", f"{r2:.6g}", f"{slope:.6g}", f"{rg:.6g}", f"{rx:.6g}"])
        log.write(f"  fold {f + 1}: {tr.size} training, {te.size} held out; h2 {fit.h2:.4g}; "
                  f"r(y, fitted) {r:.4f}, slope {slope:.4f}; r(y - W alpha, g) {rg:.4f} "
                  f"(expected {rx:.4f})")
    r, r2, slope = accuracy(y, pred)
    rg = accuracy(resid, gen)[0]
    rx = float(np.sqrt(np.sum(a_rel[:, 0] * a_rel[:, 1]) / np.sum(a_rel[:, 0] + a_rel[:, 2])))
    rows.append(["all", str(sel.n), str(sel.n), "NA", "NA", f"{r:.6g}", f"{r2:.6g}",
                 f"{slope:.6g}", f"{rg:.6g}", f"{rx:.6g}"])
    log.write(f"  all folds pooled: r(y, fitted) {r:.4f} (R2 {r2:.4f}), slope {slope:.4f}; "
              f"r(y - W alpha, g) {rg:.4f}, expected under the fitted model {rx:.4f}")
    return rows


class _Quiet:
    """A log that keeps nothing (a second sample join, not worth repeating)."""

    def write(self, *a, **k):
        pass

    lines = file_info = write


def _covariates_of_others(opts, source, every, in_train, sel, log):
    """W (every.n, c) for the samples outside training whose covariates are
    all present (NaN rows otherwise), from the same --covar columns; None
    when there are none or their categories differ from the training ones."""
    import dataclasses

    if not opts.covar or in_train.all():
        return None
    o = dataclasses.replace(opts, pheno=None, pheno_name=(), pheno_col=None)
    try:
        cov = select_samples(o, source, _Quiet(), need_phenotype=False)
    except (InputError, UsageError) as exc:
        log.write(f"  covariates of the predicted samples could not be read ({exc}): their "
                  f"fitted values are NA")
        return None
    if list(cov.covar_names) != list(sel.covar_names):
        log.write(f"  the predicted samples' covariates code other columns "
                  f"({', '.join(cov.covar_names)}) than the training ones "
                  f"({', '.join(sel.covar_names)}; categories differ): their fitted values "
                  f"are NA")
        return None
    W = np.full((every.n, sel.W.shape[1]), np.nan)
    at = positions(every.keys, cov.keys)
    W[at] = cov.W
    return W


def _load_null(opts, source, log):
    """``--null PREFIX``: training samples, phenotype, covariates and variance
    components of a saved null model (``reml --save-null``)."""
    from ..paths import null_path
    from ..store import load_null

    given = given_flags(opts, "--pheno", "--grm", "--kinship")
    if given:
        raise UsageError(f"--null already fixes the training samples, phenotype and variance "
                         f"components, and the kinship is rebuilt from the genotypes; drop "
                         f"{', '.join(given)}")
    from ..store import null_kind

    if null_kind(opts.null) == "components":
        raise UsageError(f"--null {opts.null} holds a model with several variance components; "
                         f"predict uses the one-kinship model (save it with reml --save-null "
                         f"without --random/--mgrm)")
    stored = load_null(opts.null, source)
    sel, fit = stored.selection, stored.model.fit
    log.write(f"null model: loaded {null_path(opts.null)} ({sel.n} training samples, phenotype "
              f"'{fit.name}', covariates {', '.join(sel.covar_names)}); no refit"
              f"{'; --covar gives the covariates of the other samples' if opts.covar else ''}")
    return stored


def _check_kinship(Ktt: np.ndarray, stored, prefix: str, log, hint: str = "",
                   tol: float = 1e-5) -> None:
    """The kinship rebuilt here must be the one the saved null model was fitted
    on: its decomposition (P Kc P = B diag(d) B') checked on random vectors
    x = B u, whose P K x equals B (d u) for the same kinship (O(n^2) each)."""
    sp, B = stored.model.spectrum, stored.model.basis.matrix()
    Wq = sp.Wq
    u = np.random.default_rng(0).normal(size=(B.shape[1], 3))
    x = B @ u
    kx = Ktt @ x
    kx -= Wq @ (Wq.T @ kx)
    want = B @ (sp.d[:, None] * u)
    rel = float(np.linalg.norm(kx - want) / np.linalg.norm(want))
    if not rel <= tol:
        raise InputError(f"the kinship built here differs from the one the null model {prefix} "
                         f"was fitted on (relative difference {rel:.3g} on random vectors, "
                         f"tolerance {tol:g}): give the genotypes, variant selection and QC "
                         f"options of the reml run{hint} (a model fitted on a kinship from "
                         f"--grm/--kinship cannot be rebuilt here: run predict with that --grm "
                         f"instead of --null)")
    log.write(f"  kinship checked against the saved null model's decomposition (relative "
              f"difference {rel:.2g})")


def _shared_hint(allsrc, source) -> str:
    if allsrc is source or allsrc.shared.all():
        return ""
    return (f"; with --bfile-new/--pfile-new the kinship uses only the variants both files "
            f"share ({int(allsrc.shared.sum())} of its {source.variants.m} variants): fit the "
            f"null model with --extract {allsrc.shared_list}")


def _with_new_samples(opts, source, log):
    """The genotype source of every sample to predict: ``source`` itself, or
    with --bfile-new/--pfile-new a :class:`StackedSource` of both files."""
    if not (opts.bfile_new or opts.pfile_new):
        return source
    from ..genotypes import open_genotypes
    from ..genotypes.stacked import StackedSource

    if opts.bfile_new and opts.pfile_new:
        raise UsageError("give --bfile-new or --pfile-new, not both")
    if opts.grm or opts.kinship:
        raise UsageError("--bfile-new/--pfile-new: the kinship of the new samples is built from "
                         "the genotypes; drop --grm/--kinship")
    new = open_genotypes(opts.bfile_new, threads=opts.threads, pfile=opts.pfile_new,
                         hard_calls=opts.hard_calls)
    log.file_info("genotypes of samples to predict", new.path)
    log.write(f"  {new.samples.n} samples, {new.variants.m} variants; effect allele: "
              f"{new.effect_allele_note}")
    both = StackedSource(source, new)
    mt = both.match
    flips = int(mt.flip.sum())
    log.write(f"  variants matched by ID: {int(mt.shared.sum())} of the {source.variants.m} of "
              f"{source.variants.source} are in both files ({flips} of them with the alleles "
              f"swapped, their counts flipped); not in the new file {mt.absent}, other alleles "
              f"{mt.allele_mismatch}, ID listed more than once there {mt.duplicated}")
    if not mt.shared.any():
        raise InputError(f"no variant of {source.variants.source} is in {new.variants.source} "
                         f"with the same alleles (matched by ID)")
    if not mt.shared.all():
        from ..writers import write_lines

        both.shared_list = write_lines(Outputs(opts.out).shared,
                                       source.variants.id[mt.shared].tolist())
        log.write(f"  wrote {both.shared_list} (the shared variants' IDs, for --extract)")
    return both


def run_predict(opts, log) -> dict:
    if opts.cv is not None and opts.cv < 2:
        raise UsageError(f"--cv {opts.cv}: give 2 or more folds")
    if opts.cv_by_sample and opts.cv is None:
        raise UsageError("--cv-by-sample goes with --cv K")
    if opts.eigen or opts.save_eigen:
        raise UsageError("predict needs the kinship itself (of every predicted sample): drop "
                         "--eigen/--save-eigen")
    source = open_source(opts, log)
    stored = None
    if opts.null:
        stored = _load_null(opts, source, log)
        sel = stored.selection
    else:
        sel = select_samples(opts, source, log, need_phenotype=True)
    if sel.y.shape[1] != 1:
        raise UsageError("predict fits one phenotype; pick it with --pheno-name")
    allsrc = _with_new_samples(opts, source, log)
    every = join_samples(allsrc.samples, keep=read_id_lists(opts.keep, "--keep"),
                         remove=read_id_lists(opts.remove, "--remove"), need_phenotype=False)
    if allsrc is not source:
        n_new = int((every.idx >= source.samples.n).sum())
        log.write(f"  {n_new} of the {allsrc.second.samples.n} samples of "
                  f"{allsrc.second.samples.source} are kept")
        if n_new == 0:
            raise InputError(f"--keep/--remove leave none of the {allsrc.second.samples.n} "
                             f"samples of {allsrc.second.samples.source} to predict")
    folds = _folds(opts, sel) if opts.cv else None
    train_pos = positions(every.keys, sel.keys)
    if (train_pos < 0).any():
        raise InputError(f"training sample {sel.keys[train_pos < 0][0]} is not among the samples "
                         f"kept (--keep/--remove drop it)")
    log.write(f"prediction: {sel.n} training samples (phenotype and covariates present), "
              f"{every.n - sel.n} more samples of the genotype file predicted from their "
              f"kinship with them")
    snp_idx = selected_variants(opts, source, log)
    if allsrc is not source:
        keep = allsrc.shared[snp_idx]
        log.write(f"  {int(keep.sum())} of the {snp_idx.size} selected variants are in both "
                  f"genotype files; the kinship (training samples included) is built from "
                  f"those")
        snp_idx = snp_idx[keep]
        if snp_idx.size == 0:
            raise InputError(f"no selected variant of {source.variants.source} is in "
                             f"{allsrc.second.variants.source} with the same alleles")
    K, gs = _kinship_all(opts, allsrc, every, np.sort(train_pos), snp_idx, log)
    Ktt = K[np.ix_(train_pos, train_pos)]
    method = method_for("quantitative", "exact")
    if stored is not None:
        _check_kinship(Ktt, stored, opts.null, log, _shared_hint(allsrc, source))
        fit = stored.model.fit
    else:
        sp, basis = decompose_for(opts, Ktt, sel, sel.W, log, overwrite_k=True)
        fit = method.null_model(sp, basis, sel.y[:, 0], sel.pheno_names[0]).fit
    del Ktt
    log.lines(fit.log_lines())
    t0 = time.perf_counter()
    res = blup(K, train_pos, sel.W, sel.y[:, 0], fit.lam, fit.sigma_g2)
    log.stage("blup", time.perf_counter() - t0)
    in_train = np.zeros(every.n, bool)
    in_train[train_pos] = True
    fitted = np.full(every.n, np.nan)
    fitted[train_pos] = sel.W @ res.alpha + res.g[train_pos]
    W_all = _covariates_of_others(opts, allsrc, every, in_train, sel, log)
    if W_all is not None:
        others = ~in_train & np.isfinite(W_all).all(axis=1)
        fitted[others] = W_all[others] @ res.alpha + res.g[others]
        log.write(f"  fitted values (covariates x fixed effects + genetic value) for "
                  f"{int(others.sum())} of the {int((~in_train).sum())} predicted samples "
                  f"(those with every covariate); the others have the genetic value alone")
    elif (~in_train).any():
        log.write("  the predicted samples have the genetic value alone (fitted NA): no "
                  "covariates for them")
    pheno = np.full(every.n, np.nan)
    pheno[train_pos] = sel.y[:, 0]

    def f(x):
        return "NA" if not np.isfinite(x) else f"{x:.8g}"

    rows = [[every.fid[i], every.iid[i], str(int(in_train[i])), f(pheno[i]), f(res.g[i]),
             f(res.pev[i]), f(res.reliability[i]), f(fitted[i])] for i in range(every.n)]
    srows = cv_rows = None
    if gs is not None:
        t0 = time.perf_counter()
        srows = _snp_effect_rows(opts, source, sel, snp_idx, gs, res.py, fit.lam)
        log.stage("snp_effects", time.perf_counter() - t0)
    if opts.cv:
        t0 = time.perf_counter()
        cv_rows = _cross_validate(opts, K, train_pos, sel, folds, log, method)
        log.stage("cv", time.perf_counter() - t0)
    # every output written only once everything has been computed: a failure
    # above (a fold's fit, say) leaves none of them behind
    files = Outputs(opts.out)
    path = write_tsv(files.predict, PREDICT_COLUMNS, rows)
    r_other = res.reliability[~in_train].mean() if (~in_train).any() else float("nan")
    log.write(f"wrote {path} ({every.n} samples; mean reliability "
              f"{res.reliability[in_train].mean():.4f} training, {r_other:.4f} others)")
    out = dict(path=path, lam=fit.lam, h2=fit.h2)
    if srows is not None:
        spath = write_tsv(files.snp_effects, SNP_COLUMNS, srows)
        log.write(f"wrote {spath} ({len(srows)} SNPs): genetic_value = sum of weight x (count "
                  f"of effect_allele - center); plink2 --score {spath} 1 2 3 header "
                  f"cols=+scoresums gives the sum of weight x count (the same up to a constant)")
        out["snp_effects"] = spath
    if cv_rows is not None:
        out["cv"] = write_tsv(files.cv, CV_COLUMNS, cv_rows)
        log.write(f"wrote {out['cv']}")
    return out
