"""``gwaslmm reml``: null models of one or many phenotypes (REML/ML variance
components, h2 with its SE, fixed effects), optionally one per left-out
chromosome, optionally saved for ``assoc --null``.

Several phenotypes share one kinship; they are grouped by missingness
pattern, one decomposition per pattern.
"""

from __future__ import annotations

import time

import numpy as np

from ..errors import InputError, UsageError
from ..methods import method_for
from ..columns import FIXED_COLUMNS, REML_COLUMNS
from ..paths import Outputs, loco_null_path, null_path
from ..store import save_eigen, save_null
from ..writers import write_tsv
from .inputs import (
    decompose_for,
    kinship_for,
    open_source,
    select_samples,
    selected_variants,
    write_samples,
)
from .models import chromosomes_of, null_models
from .binary import check_binary_options, run_reml_binary
from .vc import run_reml_components, wants_components


def run_reml(opts, log) -> dict:
    source = open_source(opts, log)
    multi = bool(opts.all_pheno or len(opts.pheno_name) > 1)
    if opts.loco and multi:
        raise UsageError("reml --loco fits one phenotype; pick it with --pheno-name")
    sel = select_samples(opts, source, log, need_phenotype=True, multi_pheno=multi)
    snp_idx = selected_variants(opts, source, log)
    out = Outputs(opts.out)
    check_binary_options(opts)
    if opts.engine_choice == "cg":
        from .cg import run_reml_cg

        return run_reml_cg(opts, source, sel, snp_idx, log, out)
    if opts.binary:
        if wants_components(opts):
            raise UsageError("reml --binary fits the kinship's variance only; several variance "
                             "components are not offered with a binary trait yet")
        return run_reml_binary(opts, source, sel, snp_idx, log, out)
    if wants_components(opts):
        return run_reml_components(opts, source, sel, snp_idx, log, out)
    if opts.loco:
        res = _reml_loco(opts, source, sel, snp_idx, log, out)
        log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
        return res
    method = method_for("quantitative", "exact")
    precision = opts.grm_dtype or method.kinship_precision
    K = None if opts.eigen else kinship_for(opts, source, sel, snp_idx, log, precision)
    # Group phenotypes by missingness pattern: one decomposition per pattern.
    miss = np.isnan(sel.y)
    patterns: dict = {}
    for k in range(sel.y.shape[1]):
        patterns.setdefault(miss[:, k].tobytes(), []).append(k)
    log.write(f"{sel.y.shape[1]} phenotype(s) in {len(patterns)} missingness pattern(s): one "
              f"eigendecomposition per pattern")
    if opts.save_null and (sel.y.shape[1] != 1 or len(patterns) != 1):
        raise UsageError("--save-null stores the null model of one phenotype; pick one "
                         "with --pheno-name")
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
        # K itself when no other pattern needs it, else a copy; either becomes
        # the decomposition's workspace.  A kinship built here is exactly
        # symmetric and F-ordered: its transpose is the same matrix in the
        # C order that the copy K[ix_] has (the same bits from LAPACK).
        if K is None:
            Ksub = None
        elif len(patterns) == 1 and sub.size == sel.n:
            Ksub = K.T if K.flags.f_contiguous and not K.flags.c_contiguous else K
        else:
            Ksub = K[np.ix_(sub, sub)]
        sp, basis = decompose_for(opts, Ksub, sel, W, log,
                                  idx_in_sel=None if sub.size == sel.n else sub, overwrite_k=True)
        del Ksub
        if len(patterns) == 1:
            K = None
        if opts.save_eigen:
            if len(patterns) > 1:
                log.write("note: --save-eigen skipped, the phenotypes have several missingness "
                          "patterns")
            else:
                p = save_eigen(out.eigen, sp, basis, sel.fid[sub], sel.iid[sub], sel.covar_names)
                log.write(f"wrote {p}")
        t0 = time.perf_counter()
        for k in cols:
            model = method.null_model(sp, basis, sel.y[sub, k], sel.pheno_names[k])
            fits.append(model.fit)
            if len(cols) <= 20:
                log.lines(model.fit.log_lines())
            if opts.save_null:
                log.write(f"wrote {save_null(null_path(opts.save_null), model, sel, source)}")
        t_fit += time.perf_counter() - t0
    log.stage("null", t_fit)
    log.write(f"null models: {len(fits)} phenotype(s) fitted in {t_fit:.2f}s")
    order = {nm: i for i, nm in enumerate(sel.pheno_names)}
    fits.sort(key=lambda f: order[f.name])
    p1 = write_tsv(out.reml, REML_COLUMNS, [f.row() for f in fits])
    frows = []
    for f in fits:
        for nm, b, s in zip(sel.covar_names, f.beta, f.beta_se):
            frows.append([f.name, nm, f"{b:.8g}", f"{s:.8g}"])
    p2 = write_tsv(out.reml_fixed, FIXED_COLUMNS, frows)
    log.write(f"wrote {p1}")
    log.write(f"wrote {p2}")
    log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
    return dict(fits=fits)


def _reml_loco(opts, source, sel, snp_idx, log, out) -> dict:
    """One null model per left-out chromosome: OUT.reml.loco.tsv, and with
    --save-null PREFIX the files PREFIX.chr<c>.null.npz for assoc --null --loco."""
    rows, fits = [], []
    method = method_for("quantitative", "exact")
    for item in null_models(opts, source, sel, chromosomes_of(source, snp_idx), snp_idx, log,
                            method):
        ch, fit = item.scope, item.fit
        fits.append((ch, fit))
        rows.append([ch] + fit.row())
        if opts.save_null:
            path = save_null(loco_null_path(opts.save_null, ch), item.model, sel, source)
            log.write(f"wrote {path}")
        del item
    path = write_tsv(out.reml_loco, ["left_out_chromosome"] + REML_COLUMNS, rows)
    log.write("h2 per left-out chromosome: " + ", ".join(f"chr {c}: {f.h2:.4g}" for c, f in fits))
    log.write(f"wrote {path}")
    return dict(fits=fits)
