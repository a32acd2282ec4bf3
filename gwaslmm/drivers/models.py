"""How null models are made: one for the run, or one per left-out chromosome
(LOCO), fitted here or loaded from ``reml --save-null`` files.

For LOCO, K_-c = (S - S_c) / (M - M_c): S summed once over every kinship
variant, S_c recomputed from chromosome c's variants (one extra pass over
the genotypes in total), then K_-c's own decomposition and null fit.
Each model is handed out as a :class:`Fitted` (with its scanner already
built when the caller gives ``make_scanner``) and forgotten by the
generator before the next one is made, so only one model's n x n arrays
are held at a time.
"""

from __future__ import annotations

import glob
import hashlib
import os
import time
from dataclasses import dataclass

import numpy as np

from ..chromosomes import chromosome_sort_key
from ..eigen import fingerprint
from ..errors import InputError, UsageError
from ..kinship import finish_grm
from ..paths import Outputs, loco_null_path, loco_null_pattern, null_path
from ..store import load_null, save_eigen
from .inputs import build_grm, decompose_for, kinship_for


@dataclass
class Fitted:
    """One null model: ``scope`` the left-out chromosome (None: no LOCO); its
    estimates and fingerprint; the model itself (only when no scanner was
    asked for: ``reml`` saves it) or the scanner built on it."""

    scope: str | None
    fit: object
    fingerprint: str
    model: object = None
    scanner: object = None


def loco_fingerprint(sel) -> str:
    """The same for every chunk of a LOCO run: samples, covariates and phenotype."""
    return hashlib.sha256((fingerprint(None, sel.W, sel.keys) + "loco").encode()
                          + np.ascontiguousarray(sel.y[:, 0]).tobytes()).hexdigest()[:16]


def load_selection(opts, source, log):
    """The analysed samples stored with ``--null`` (the first per-chromosome
    file for ``--null --loco``)."""
    from ..store import file_kind, load_binary_null, load_vc_null, null_kind

    cg = getattr(opts, "engine_choice", "dense") == "cg"
    kind = file_kind(null_path(opts.null))
    if cg or kind == "cg":  # one file, every LOCO mask in it
        if kind == "unreadable":
            from ..store import load_cg_null

            return load_cg_null(null_path(opts.null), source)[0]
        if kind != "cg":
            raise UsageError(f"--null {opts.null} holds a null model of the dense engine: drop "
                             f"--engine cg (or fit one with reml --engine cg --save-null)")
        if not cg:
            raise UsageError(f"--null {opts.null} holds a null model of the CG engine: add "
                             f"--engine cg")
        from ..store import load_cg_null

        return load_cg_null(null_path(opts.null), source)[0]
    if opts.loco:
        first = sorted(glob.glob(loco_null_pattern(opts.null)))
        if not first and null_kind(opts.null) == "components":
            raise UsageError(f"--null {opts.null} holds one model with several variance "
                             f"components (no LOCO files): drop --loco, or refit per "
                             f"chromosome with assoc --loco and the component options instead "
                             f"of --null")
        if not first:
            raise InputError(f"--loco --null {opts.null}: no {loco_null_pattern(opts.null)} "
                             f"files (save them with reml --loco --save-null)")
        path = first[0]
    else:
        path = null_path(opts.null)
    kind = file_kind(path)
    binary = getattr(opts, "binary", False)
    if kind == "unreadable" and binary:  # the loader says why
        return load_binary_null(path, source)[0]
    if kind != "unreadable" and (kind == "binary") != binary:
        raise UsageError(f"--null {opts.null} holds the null model of a "
                         f"{'binary' if kind == 'binary' else 'quantitative'} trait: "
                         + ("add --binary" if kind == "binary" else "drop --binary"))
    if kind == "binary":
        return load_binary_null(path, source)[0]
    if opts.loco:
        return load_null(path, source).selection
    if kind == "components":
        return load_vc_null(opts.null, source)[0]
    return load_null(opts.null, source).selection


def _handout(scope, model, kinship, make_scanner) -> Fitted:
    if make_scanner is None:
        return Fitted(scope=scope, fit=model.fit, fingerprint=model.fingerprint, model=model)
    scanner = make_scanner(model, kinship)
    return Fitted(scope=scope, fit=model.fit, fingerprint=model.fingerprint, scanner=scanner)


def _log_loaded(log, path, stored):
    sel, fit = stored.selection, stored.model.fit
    log.write(f"null model: loaded {path} ({sel.n} samples, phenotype '{fit.name}', "
              f"covariates {', '.join(sel.covar_names)})")


def null_models(opts, source, sel, chromosomes, kin_idx, log, method, make_scanner=None):
    """Yield a :class:`Fitted` per null model: one for the run, or with
    ``opts.loco`` one per chromosome of ``chromosomes`` (sorted labels).
    kin_idx: the kinship's variants (when it is built here)."""
    vectors = method.explicit_basis
    precision = opts.grm_dtype or method.kinship_precision
    y, name = sel.y[:, 0], sel.pheno_names[0]
    null = getattr(opts, "null", None)  # reml has no --null
    if null and opts.loco:
        missing = [loco_null_path(null, ch) for ch in chromosomes
                   if not os.path.exists(loco_null_path(null, ch))]
        if missing:
            raise InputError(f"--null {null} --loco: {len(missing)} of the {len(chromosomes)} "
                             f"chromosomes to scan have no saved null model (first: "
                             f"{missing[0]}); was reml --loco run with another --chr?")
        for ch in chromosomes:
            path = loco_null_path(null, ch)
            stored = load_null(path, source)
            _log_loaded(log, path, stored)
            if not np.array_equal(stored.selection.idx, sel.idx):
                raise InputError(f"{path} is for other samples than "
                                 f"{loco_null_path(null, chromosomes[0])}")
            item = _handout(ch, stored.model, None, make_scanner)
            del stored
            yield item
            del item
        return
    if null:
        stored = load_null(null, source)
        _log_loaded(log, null_path(null), stored)
        item = _handout(None, stored.model, None, make_scanner)
        del stored
        yield item
        return
    if not opts.loco:
        K = None if opts.eigen else kinship_for(opts, source, sel, kin_idx, log, precision)
        # the exact scan needs K no more: it becomes the decomposition's workspace
        sp, basis = decompose_for(opts, K, sel, sel.W, log, vectors=vectors, overwrite_k=vectors)
        if vectors:
            K = None
        if opts.save_eigen:
            path = save_eigen(Outputs(opts.out).eigen, sp, basis, sel.fid, sel.iid,
                              sel.covar_names)
            log.write(f"wrote {path}")
        t0 = time.perf_counter()
        model = method.null_model(sp, basis, y, name)
        log.stage("null", time.perf_counter() - t0)
        del sp, basis
        item = _handout(None, model, K, make_scanner)
        del model, K
        yield item
        return
    if opts.grm or opts.kinship or opts.eigen or opts.save_eigen:
        raise UsageError("--loco builds its kinships from the genotypes, one decomposition "
                         "per chromosome; drop --grm/--kinship/--eigen/--save-eigen")
    if not chromosomes:
        return  # nothing to scan (an empty chunk): no kinship to build
    for ch, K in loco_kinships(opts, source, sel, kin_idx, chromosomes, log, precision):
        sp, basis = decompose_for(opts, K, sel, sel.W, log, vectors=vectors, overwrite_k=vectors)
        if vectors:
            K = None
        t0 = time.perf_counter()
        model = method.null_model(sp, basis, y, name)
        log.stage("null", time.perf_counter() - t0)
        del sp, basis
        log.lines(model.fit.log_lines(label=f" without chr {ch}"))
        item = _handout(ch, model, K, make_scanner)
        del model, K
        yield item
        del item


def loco_kinships(opts, source, sel, kin_idx, chromosomes, log, precision, total=None):
    """Yield (chromosome, K_-c) for each chromosome to leave out: K_-c = (S -
    S_c)/(M - M_c), S over every kinship variant (one pass; ``total``: that
    sum when the caller has built it) and S_c recomputed from chromosome c's."""
    chroms = source.variants.chromosome
    if total is None:
        total = build_grm(opts, source, sel.idx, kin_idx, log, precision,
                          label="kinship (all chromosomes)")
    for ch in chromosomes:
        c_idx = kin_idx[chroms[kin_idx] == ch]
        part = build_grm(opts, source, sel.idx, c_idx, log, precision,
                         label=f"kinship piece chr {ch}")
        m_rest = total.m - part.m
        if m_rest <= 0:
            raise InputError(f"--loco: no SNP outside chromosome {ch} passes QC, so there is no "
                             f"kinship without it")
        K = finish_grm(total.S - part.S, m_rest, inplace=True)
        del part
        yield ch, K
        del K


def chromosomes_of(source, idx) -> list:
    """The chromosomes of the variants ``idx``, in plot/sort order."""
    return sorted(set(source.variants.chromosome[idx].tolist()), key=chromosome_sort_key)
