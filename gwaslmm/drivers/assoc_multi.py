"""``gwaslmm assoc`` over several phenotypes in one pass over the genotypes
(``--pheno-name a,b,c`` or ``--all-pheno``; issue 19).

Phenotypes are grouped by missingness pattern, as ``reml --all-pheno`` does:
each pattern has its samples, its kinship (or one per left-out chromosome)
and one eigendecomposition, then one null model per phenotype.  Every block
of genotypes is read, checked and rotated by the eigenvectors once per
pattern, B'X, and each phenotype's statistics computed from it (the exact
scan rotates anyway; ``--fast`` uses the rotation instead of one whitening
per phenotype, whose Cholesky factor depends on lambda).  One result file
per phenotype, OUT.<phenotype>.assoc.tsv.gz (PLINK 2 names its files
OUT.<phenotype>.glm.linear), each with its metadata and samples file.
"""

from __future__ import annotations

import dataclasses
import hashlib

import numpy as np

from .options import given_flags
from ..errors import InputError, UsageError
from ..methods import method_for
from ..paths import Outputs
from ..scan.designs import ADDITIVE
from ..scan.exact import ExactScanner, Rotator
from ..scan.fixed import RotatedFastScanner
from ..schema import assoc_header
from ..writers import TableWriter
from .inputs import decompose_for, kinship_for, model_variants, open_source, select_samples
from .inputs import selected_variants
from .models import chromosomes_of, loco_fingerprint, loco_kinships
from .scan_loop import ScanSummary, scan_many
from .vc import wants_components


def _check(opts) -> None:
    given = given_flags(opts, "--null", "--gxe", "--within-family", "--eigen", "--save-eigen",
                        "--plot", "--bgzip") + (["variance components"]
                                                if wants_components(opts) else [])
    if given:
        raise UsageError(f"several phenotypes in one scan: {', '.join(given)} not offered "
                         f"with them yet (run one phenotype per assoc)")


def run_assoc_multi(opts, log) -> dict:
    from .assoc import _chunk_of, _finish, outputs_of

    _check(opts)
    method = method_for("quantitative", opts.engine)
    method.check_test(opts.test)
    out = outputs_of(opts)
    source = open_source(opts, log)
    sel = select_samples(opts, source, log, need_phenotype=True, multi_pheno=True)
    names = list(sel.pheno_names)
    if len(set(names)) != len(names):
        raise UsageError("a phenotype is named twice")
    tested = selected_variants(opts, source, log, "tested variants")
    selection = hashlib.sha256(np.ascontiguousarray(tested).tobytes()).hexdigest()[:16]
    tested, chunk = _chunk_of(opts, out, source, tested, log)
    builds_kinship = not (opts.grm or opts.kinship)
    kin_idx = model_variants(opts, source, log) if builds_kinship else None
    chroms = source.variants.chromosome
    chromosomes = chromosomes_of(source, tested) if opts.loco else None
    if opts.loco and not builds_kinship:
        raise UsageError("--loco builds its kinships from the genotypes; drop --grm/--kinship")
    miss = np.isnan(sel.y)
    patterns: dict = {}
    for k in range(sel.y.shape[1]):
        patterns.setdefault(miss[:, k].tobytes(), []).append(k)
    log.write(f"{len(names)} phenotypes in {len(patterns)} missingness pattern(s): one kinship "
              f"decomposition and one pass over the genotypes per pattern; one result file each "
              f"(OUT.<phenotype>.assoc.tsv.gz)")
    precision = opts.grm_dtype or method.kinship_precision
    results = {}
    for key, cols in patterns.items():
        sub = np.flatnonzero(~np.frombuffer(key, dtype=bool))
        if sub.size < 10:
            raise InputError(f"phenotype(s) {', '.join(names[c] for c in cols)} have only "
                             f"{sub.size} samples with a value")
        psel = dataclasses.replace(sel, idx=sel.idx[sub], fid=sel.fid[sub], iid=sel.iid[sub],
                                   y=sel.y[np.ix_(sub, cols)], W=sel.W[sub],
                                   pheno_names=[names[c] for c in cols])
        outs = [Outputs(f"{opts.out}.{names[c]}", chunk=out.chunk, gzip=not opts.no_gzip)
                for c in cols]
        header = assoc_header((*method.columns(opts.test, ADDITIVE), *(
            ("info",) if source.info_kind else ())))
        writers = [TableWriter(o.assoc, header) for o in outs]
        summaries = [ScanSummary(n_top=opts.top) for _ in cols]
        fits: list = [[] for _ in cols]
        fps: list = [[] for _ in cols]
        try:
            scopes = (loco_kinships(opts, source, psel, kin_idx, chromosomes, log, precision)
                      if opts.loco else
                      [(None, kinship_for(opts, source, psel, kin_idx, log, precision))])
            for scope, K in scopes:
                sp, basis = decompose_for(opts, K, psel, psel.W, log, vectors=True,
                                          overwrite_k=True)
                del K
                rotator = Rotator(basis, opts.rotate_dtype)
                targets = []
                for j, c in enumerate(cols):
                    model = method.null_model(sp, basis, psel.y[:, j], names[c])
                    label = "" if scope is None else f" without chr {scope}"
                    log.lines(model.fit.log_lines(label=label))
                    if method.engine == "exact":
                        scanner = ExactScanner(sp, basis, model.fit, opts.test,
                                               precision=opts.rotate_dtype)
                        scanner.rotator = rotator
                    else:
                        scanner = RotatedFastScanner(sp, basis, model.fit, opts.test,
                                                     precision=opts.rotate_dtype, rotator=rotator)
                    targets.append((scanner, writers[j], summaries[j]))
                    fits[j].append((scope, model.fit))
                    fps[j].append(model.fingerprint)
                idx = tested if scope is None else tested[chroms[tested] == scope]
                scan_many(targets, source, psel.idx, idx, log, filters=opts.filters,
                          memory_gb=opts.memory_gb, block_size=opts.block_size,
                          label="scan" if scope is None else f"scan chr {scope}")
                del targets, sp, basis, rotator
            for w, s in zip(writers, summaries):
                w.finish(expected_rows=s.tested)
        except BaseException:
            for w in writers:
                w.abort()
            raise
        for j, c in enumerate(cols):
            one = dataclasses.replace(psel, y=psel.y[:, [j]], pheno_names=[names[c]])
            log.write(f"wrote {outs[j].assoc} ({summaries[j].tested} rows)")
            fp = loco_fingerprint(one) if opts.loco else fps[j][0]
            lgc = _finish(opts, log, method, source, one, outs[j], summaries[j], fits[j], [fp],
                          selection, chunk)
            results[names[c]] = dict(path=outs[j].assoc, lambda_gc=lgc,
                                     tested=summaries[j].tested)
    return dict(phenotypes=results)
