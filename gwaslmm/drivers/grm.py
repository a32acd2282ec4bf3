"""``gwaslmm grm``: a kinship from the genotypes, written as a GCTA binary GRM."""

from __future__ import annotations

import time

from ..kinship import finish_grm
from ..kinship_io import write_gcta_grm
from ..paths import Outputs
from .inputs import build_grm, open_source, select_samples, selected_variants


def run_grm(opts, log) -> dict:
    source = open_source(opts, log)
    sel = select_samples(opts, source, log, need_phenotype=False)
    snp_idx = selected_variants(opts, source, log)
    # float32 block products by default: the file stores float32 (GCTA's
    # format), and the products' error (~1e-7 relative) is that rounding's size
    gs = build_grm(opts, source, sel.idx, snp_idx, log, precision=opts.grm_dtype or "float32")
    K = finish_grm(gs.S, gs.m, inplace=True)
    t0 = time.perf_counter()
    paths = write_gcta_grm(Outputs(opts.out).grm, K, gs.m, sel.fid, sel.iid)
    log.stage("write", time.perf_counter() - t0)
    for p in paths:
        log.write(f"wrote {p}")
    return dict(K=K, n_snps=gs.m, paths=paths)
