"""``gwaslmm assoc``: the per-variant association scan.

Samples, tested variants and the kinship's variants are chosen
(:mod:`.inputs`); null models are made or loaded, one per run or one per
left-out chromosome (:mod:`.models`); the decision table
(:mod:`gwaslmm.methods`) gives each its scanner; the one block loop
(:mod:`.scan_loop`) streams the rows to OUT.assoc.tsv.gz, whose metadata,
the analysed samples and (``--plot``) the plots are written beside it.
"""

from __future__ import annotations

import hashlib
import os
import re

import numpy as np

from .. import __version__
from .options import given_flags
from ..errors import InputError, UsageError
from ..methods import method_for
from ..paths import Outputs
from ..startup import import_in_background
from ..store import null_kind
from ..scan.binary import FIRTH_COLUMNS
from ..scan.designs import ADDITIVE, GxE, WithinBetween
from ..scan.pvalues import lambda_gc
from ..schema import assoc_header
from ..writers import TableWriter, write_meta_yaml
from .inputs import model_variants, open_source, select_samples, selected_variants, write_samples
from .models import chromosomes_of, load_selection, loco_fingerprint, null_models
from .scan_loop import ScanSummary, scan_variants
from .binary import (binary_models, binary_phenotype, binary_scanner_factory,
                     check_binary_assoc, check_binary_options)
from .cg import cg_models, check_cg_options, resolve_engine
from .vc import component_models, wants_components


def parse_chunk_spec(spec: str | None):
    """'K/N' -> (K, N), or None."""
    if not spec:
        return None
    mt = re.fullmatch(r"\s*(\d+)\s*/\s*(\d+)\s*", spec)
    if not mt:
        raise UsageError(f"--chunk '{spec}' must look like K/N (for example 3/10)")
    k, n = int(mt.group(1)), int(mt.group(2))
    if not 1 <= k <= n:
        raise UsageError(f"--chunk {spec}: K must be between 1 and N")
    return k, n


def chunk_rows(spec: str, k: int, n: int, m_total: int):
    """The K-th of N balanced ranges [lo, hi) of the genotype file's variants."""
    if n > m_total:
        raise UsageError(f"--chunk {spec}: more chunks than the {m_total} variants")
    return (k - 1) * m_total // n, k * m_total // n


def outputs_of(opts) -> Outputs:
    """Every file this run writes (the log's path too, known before it starts)."""
    return Outputs(opts.out, chunk=parse_chunk_spec(opts.chunk), gzip=not opts.no_gzip)


def _check_options(opts) -> None:
    if opts.bgzip and (opts.no_gzip or opts.chunk):
        raise UsageError("--bgzip indexes a whole compressed result: drop --no-gzip, and with "
                         "--chunk index the merged file (merge --bgzip)")
    if wants_components(opts):
        if opts.null:
            raise UsageError("--null already fixes the variance components; drop --random, "
                             "--random-slope, --mgrm, --no-kinship, --gxe-vc")
        given = given_flags(opts, "--gxe", "--within-family", "--eigen", "--save-eigen")
        if given:
            raise UsageError(f"several variance components: {', '.join(given)} not offered "
                             f"with them yet")
    if opts.null:
        given = given_flags(opts, "--pheno", "--covar", "--grm", "--kinship", "--eigen",
                            "--keep", "--remove", "--model-snps", "--save-eigen")
        if given:
            raise UsageError(f"--null already fixes the samples, phenotype, covariates and "
                             f"kinship; drop {', '.join(given)}")
    if opts.gxe and opts.test != "wald":
        raise UsageError(f"--gxe tests the interaction by Wald (GEMMA -gxe -lmm 1); --test "
                         f"{opts.test} is not offered with it yet")
    if opts.gxe_joint and not opts.gxe:
        raise UsageError("--gxe-joint adds the 2-df test to --gxe NAME; give --gxe")
    if opts.within_family and opts.test != "wald":
        raise UsageError(f"--within-family gives Wald tests; --test {opts.test} is not offered "
                         f"with it yet")
    if opts.family_col and not opts.within_family:
        raise UsageError("--family-col NAME gives the families of --within-family; add "
                         "--within-family")
    if opts.family_col and not opts.covar:
        raise UsageError("--family-col NAME is a column of the covariate file: give --covar FILE")
    if opts.within_family and opts.gxe:
        raise UsageError("--gxe and --within-family are two different per-variant models; "
                         "choose one")
    if opts.model_snps and (opts.grm or opts.kinship or opts.eigen):
        raise UsageError("--model-snps chooses the variants of a kinship built from the "
                         "genotypes; drop --grm/--kinship/--eigen")


def run_settings(opts, method, selection: str) -> list:
    """Every setting that shapes a chunk's rows, for merge to compare
    (``variant_selection`` hashes the tested variants before chunking)."""
    comps = ([f"random={','.join(opts.random)}"] if opts.random else []) + (
        [f"random_slope={','.join(opts.random_slope)}"] if opts.random_slope else []) + (
        ["slope_cov=True"] if opts.slope_cov else []) + (
        [f"mgrm={opts.mgrm}"] if opts.mgrm else []) + (["no_kinship=True"] if opts.no_kinship
                                                       else [])
    binary = ["binary=True", f"spa_cutoff={opts.spa_cutoff!r}",
              *([f"firth_p={opts.firth_p!r}"] if opts.firth else [])] if opts.binary else []
    cg = ([f"loco_h2={opts.loco_h2}", f"retest_p={opts.retest_p!r}", f"cg_tol={opts.cg_tol!r}",
           f"seed={opts.seed}", f"mc_probes={opts.mc_probes}"] if method.engine == "cg" else [])
    return [f"engine={method.engine}", f"test={opts.test}", f"loco={opts.loco}", *comps, *binary,
            *cg,
            *([f"gxe={opts.gxe}"] if opts.gxe else []),
            *(["gxe_joint=True"] if opts.gxe_joint else []),
            *(["within_family=True"] if opts.within_family else []),
            *([f"family_col={opts.family_col}"] if opts.family_col else []), f"maf={opts.maf!r}",
            f"geno={opts.geno!r}", f"mac={opts.mac!r}",
            f"rotate_dtype={opts.rotate_dtype}",
            f"kinship_precision={opts.grm_dtype or method.kinship_precision}",
            f"grm_type={opts.grm_type}", f"assembly={opts.assembly or 'unknown'}",
            f"variant_selection={selection}"]


def summarize(opts, log, summary: ScanSummary, n: int, h2_text,
              tested_in_kinship: bool = True) -> float:
    """The run summary in the log; returns lambda_GC.  ``tested_in_kinship``:
    some tested variant may be among the kinship's (False only when the run
    built the kinship from variants it does not test)."""
    nl = summary.all_neglog10()
    nl = nl[~np.isnan(nl)]
    lgc = lambda_gc(nl) if nl.size else float("nan")
    removed_qc = sum(summary.qc_reasons.values())
    log.write("summary:")
    log.write(f"  samples analysed: {n}")
    if h2_text is not None:
        log.write(f"  h2 (null model): {h2_text}")
    log.write(f"  SNPs tested: {summary.tested}; skipped: {removed_qc} by QC "
              f"({', '.join(f'{k} {v}' for k, v in summary.qc_reasons.items() if v)}), "
              f"{summary.collinear} collinear with the covariates (r2 > 0.9999)")
    if summary.failed:
        log.write(f"  {summary.failed} SNPs have no p-value (non-finite statistic), written as NA")
    if summary.boundary:
        log.write(f"  {summary.boundary} SNPs have their REML lambda at a bound of [1e-5, 1e5]")
    log.write(f"  lambda_GC: {lgc:.4f}")
    if not opts.loco and lgc < 0.97 and tested_in_kinship:
        log.write("  note: without --loco each tested SNP is also in the kinship, which deflates "
                  "the statistics (expected lambda_GC about 1/(1 + n h2/M)); consider --loco")
    if summary.top:
        log.write(f"  top {len(summary.top)} hits:")
        log.write("    chromosome\tposition\tvariant_id\tbeta\tp_value")
        for _, r in summary.top:
            log.write(f"    {r['chromosome']}\t{r['position']}\t{r['variant_id']}\t{r['beta']}\t"
                      f"{r['p']}")
    return lgc


def _plot(summary, out: Outputs, title: str, label_top: int, log) -> None:
    """assoc --plot from the values the scan holds; a failure is logged, never
    fatal: the results are complete by then."""
    import time

    from ..report.plot import draw

    t0 = time.perf_counter()
    try:
        nl = summary.all_neglog10()
        draw(summary.plot.finish(label_top), nl[~np.isnan(nl)], out.run, title, log)
    except Exception as exc:  # noqa: BLE001 - the scan's results stand whatever the plot does
        log.write(f"warning: the plots could not be drawn ({type(exc).__name__}: {exc}); the "
                  f"association results are complete")
    log.stage("plot", time.perf_counter() - t0)


def gxe_design(name: str, sel, log, joint: bool = False) -> GxE:
    """The GxE design for ``--gxe NAME``: NAME is a quantitative covariate
    of the analysed samples (kept in W as the environment's main effect)."""
    names = list(sel.covar_names)
    if name not in names[1:]:
        raise UsageError(f"--gxe {name}: not a covariate of this run (covariates: "
                         f"{', '.join(names[1:]) or 'none'}); give the environment with --covar "
                         f"(and --covar-name) as a quantitative or 0/1 column")
    env = np.ascontiguousarray(sel.W[:, names.index(name)], dtype=np.float64)
    vals = np.unique(env)
    if vals.size < 2:
        raise InputError(f"--gxe {name}: the environment takes one value ({vals[0]:g}) in the "
                         f"{env.size} analysed samples; there is no interaction to test")
    log.write(f"GxE: environment '{name}' (mean {env.mean():.6g}, sd {env.std():.6g}, "
              f"{vals.size} distinct values): per variant y ~ covariates + x + x*{name} + g + "
              f"e, Wald test of x*{name}; beta/standard_error are x's main effect in that "
              f"model, beta_gxe/se_gxe/p_gxe the interaction (p_value = p_gxe)"
              + ("; p_joint the 2-df test of both (F(2, n-c-2))" if joint else ""))
    return GxE(env=env, name=name, joint=joint)


def families_of(opts, sel) -> tuple:
    """(family label per analysed sample, what they are): the FIDs, or the
    --family-col column of the covariate file."""
    if not opts.family_col:
        return sel.fid, "FID"
    from ..ids import positions, sample_keys
    from ..tables import read_sample_table

    table = read_sample_table(opts.covar, "covariate", "COVAR")
    tkeys = table.iid if table.by_iid else sample_keys(table.fid, table.iid)
    rows = positions(tkeys, sel.iid if table.by_iid else sel.keys)
    labels = table.columns[opts.family_col][rows]
    bad = np.isin(np.char.upper(labels.astype(str)), ["", "NA", "NAN", "-9"])
    if bad.any():
        raise InputError(f"--family-col {opts.family_col}: {int(bad.sum())} of the {sel.n} "
                         f"analysed samples have no family (first: {sel.keys[bad][0]}, "
                         f"'{labels[bad][0]}')")
    return labels, f"column {opts.family_col} of {opts.covar}"


def family_design(sel, log, families=None) -> WithinBetween:
    """The within/between-family design: families (labels per analysed
    sample, and what they are; default the FIDs)."""
    labels, what = families if families is not None else (sel.fid, "FID")
    fams, family, size = np.unique(labels, return_inverse=True, return_counts=True)
    family = family.reshape(-1).astype(np.int64)
    multi = size >= 2
    if not multi.any():
        raise InputError(f"--within-family: no family ({what}) has 2 or more analysed samples "
                         f"({fams.size} families, all of 1 sample among {sel.n} analysed): "
                         f"there is no within-family variation to test")
    sizes, counts = np.unique(size[multi], return_counts=True)
    n_single = int((~multi).sum())
    log.write(f"within/between-family (families by {what}): {fams.size} families among {sel.n} "
              f"analysed samples; {int(multi.sum())} of 2 or more samples ("
              + ", ".join(f"{c} of {s}" for s, c in zip(sizes, counts)) + f"), {n_single} "
              f"singletons (their x equals the family mean: they inform the between-family "
              f"effect and the residual variance, not the within-family one). Per variant y ~ "
              f"covariates + (x - family mean) + family mean + g + e: beta/standard_error/"
              f"p_value the within-family (direct) effect, beta_between/se_between/p_between "
              f"the family mean's, beta_diff = beta_between - beta with se_diff/p_diff")
    return WithinBetween(family=family)


def _finish(opts, log, method, source, sel, out, summary, fits, fps, selection, chunk,
            tested_in_kinship: bool = True) -> float:
    """After a phenotype's scan: its summary in the log, the analysed samples,
    the GWAS-SSF metadata and the plots; returns lambda_GC."""
    if opts.loco and method.engine == "cg" and opts.loco_h2 == "once":
        h2_text = (f"{fits[0][1].h2:.4g} (se {fits[0][1].h2_se:.3g}; all variants, the same "
                   f"for every LOCO mask)") if fits else "NA"
    elif opts.loco:
        log.write("h2 per left-out chromosome: " + ", ".join(f"chr {c}: {f.h2:.4g}"
                                                             for c, f in fits))
        h2_text = "LOCO " + ", ".join(f"{c}:{f.h2:.3g}" for c, f in fits)
    else:
        h2_text = f"{fits[0][1].h2:.4g} (se {fits[0][1].h2_se:.3g})"
    lgc = summarize(opts, log, summary, sel.n, h2_text, tested_in_kinship)
    meta = dict(
        file_type="GWAS-SSF v1.1 (gwaslmm)", data_file_name=os.path.basename(out.assoc),
        file_type_note="tab-separated; p_value from the test named in test",
        genome_assembly=opts.assembly or "unknown", software=f"gwaslmm {__version__}",
        test=f"{method.engine} {opts.test}", loco=bool(opts.loco), sample_size=int(sel.n),
        covariates=list(sel.covar_names), phenotype=sel.pheno_names[0],
        variants=int(summary.tested), lambda_gc=round(lgc, 4),
        effect_allele=source.effect_allele_note,
        null_model=loco_fingerprint(sel) if opts.loco else fps[0])
    if opts.binary:
        from ..nullmodel.logistic import binary_coding

        cases = int(np.nansum(binary_coding(sel.y[:, 0], sel.pheno_names[0])[0]))
        meta.update(trait="binary", n_cases=cases, n_controls=int(sel.n - cases))
        if fits:  # none in a LOCO chunk without variants
            meta["tau"] = round(fits[0][1].tau, 8)
        meta.update(spa_cutoff=opts.spa_cutoff,
                    effect_scale="log-odds ratio, conditional on the random effect (score "
                                 "estimate T/x'Px)")
        if opts.firth:
            meta["firth_p_threshold"] = opts.firth_p
    meta["run_settings"] = run_settings(opts, method, selection)
    if chunk:
        meta["chunk"] = f"{chunk[0]}/{chunk[1]}"
        meta["chunk_bim_rows"] = f"{chunk[2]}-{chunk[3]}"
    meta["analysed_samples"] = os.path.basename(out.samples)
    log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
    write_meta_yaml(out.assoc_meta, meta)
    if opts.make_plot and summary.tested:
        _plot(summary, out, sel.pheno_names[0], min(opts.top, 5), log)
    elif opts.make_plot:
        log.write("no variant was tested, so there is nothing to plot")
    return lgc


def _chunk_of(opts, out, source, tested, log) -> tuple:
    """(the tested variants of this --chunk, (k, n, lo, hi) or None)."""
    if not out.chunk:
        return tested, None
    k, nch = out.chunk
    lo, hi = chunk_rows(opts.chunk, k, nch, source.variants.m)
    before = tested.size
    tested = tested[(tested >= lo) & (tested < hi)]
    log.write(f"--chunk {k}/{nch}: variants {lo + 1}-{hi} of the file; {tested.size} of "
              f"{before} selected variants in this chunk")
    return tested, (k, nch, lo, hi)


def run_assoc(opts, log) -> dict:
    check_binary_options(opts)
    if opts.engine_choice == "cg":
        check_cg_options(opts)
    if opts.binary and (len(opts.pheno_name) > 1 or opts.all_pheno):
        raise UsageError(f"--binary scans one phenotype per run; give a single --pheno-name "
                         f"instead of {'--all-pheno' if opts.all_pheno else 'several'}")
    if len(opts.pheno_name) > 1 or opts.all_pheno:
        from .assoc_multi import run_assoc_multi

        return run_assoc_multi(opts, log)
    if opts.binary:
        check_binary_assoc(opts)
    components = not opts.binary and (wants_components(opts) or bool(
        opts.null and not opts.loco and null_kind(opts.null) == "components"))
    method = method_for("binary", "score") if opts.binary else \
        method_for("quantitative", "fast" if components else opts.engine)
    if components and opts.test not in method.tests:
        raise UsageError(f"--test {opts.test} is not offered with several variance components "
                         f"(they are fixed at the null estimates): choose "
                         f"{' or '.join(method.tests)}")
    method.check_test(opts.test)
    _check_options(opts)
    if components and (opts.gxe or opts.within_family):
        raise UsageError("several variance components: --gxe and --within-family are not "
                         "offered with them yet")
    out = outputs_of(opts)
    source = open_source(opts, log)
    if opts.null:
        sel = load_selection(opts, source, log)
    else:
        sel = select_samples(opts, source, log, need_phenotype=True)
    # scipy.special is needed for p-values, after the kinship is read and
    # decomposed: imported meanwhile, while those kernels run free of the
    # GIL (not earlier, where it would hold the GIL against numba's set-up)
    import_in_background("scipy.special")
    if opts.engine_choice == "auto":
        opts = resolve_engine(opts, sel.n, log)
        if opts.engine_choice == "cg":
            method = method_for("quantitative", "cg")
    tested = selected_variants(opts, source, log, "tested variants")
    selection = hashlib.sha256(np.ascontiguousarray(tested).tobytes()).hexdigest()[:16]
    tested, chunk = _chunk_of(opts, out, source, tested, log)
    builds_kinship = not (opts.null or opts.grm or opts.kinship or opts.eigen)
    kin_idx = model_variants(opts, source, log) if builds_kinship else None
    chromosomes = chromosomes_of(source, tested) if opts.loco else None

    y01 = binary_phenotype(sel.y[:, 0], sel.pheno_names[0], log)[0] if opts.binary else None
    design = (gxe_design(opts.gxe, sel, log, opts.gxe_joint) if opts.gxe
              else family_design(sel, log, families_of(opts, sel)) if opts.within_family
              else ADDITIVE)

    def make_scanner(model, kinship):
        return method.scanner(model, opts.test, design=design, precision=opts.rotate_dtype,
                              kinship=kinship)

    info_col = ("info",) if source.info_kind else ()
    firth_col = FIRTH_COLUMNS if opts.binary and opts.firth else ()
    writer = TableWriter(out.assoc, assoc_header((*method.columns(opts.test, design),
                                                  *firth_col, *info_col)))
    summary = ScanSummary(n_top=opts.top)
    if opts.make_plot:
        from ..report.thinning import ManhattanAccumulator

        summary.plot = ManhattanAccumulator()
    fits, fps = [], []
    chroms = source.variants.chromosome
    try:
        models = (cg_models(opts, source, sel, kin_idx, tested, chromosomes, log)
                  if method.engine == "cg" else
                  binary_models(opts, source, sel, y01, kin_idx, chromosomes, log,
                                binary_scanner_factory(opts, sel, y01)) if opts.binary else
                  component_models(opts, source, sel, kin_idx, log, opts.test,
                                   opts.rotate_dtype, chromosomes) if components else
                  null_models(opts, source, sel, chromosomes, kin_idx, log, method,
                              make_scanner))
        for item in models:
            if item.scope is None:
                log.lines(item.fit.log_lines())
            for stage, secs in item.scanner.stages.items():
                log.stage(stage, secs)
            idx = tested if item.scope is None else tested[chroms[tested] == item.scope]
            label = "scan" if item.scope is None else f"scan chr {item.scope}"
            scan_variants(item.scanner, source, sel.idx, idx, writer, summary, log,
                          filters=opts.filters, memory_gb=opts.memory_gb,
                          block_size=opts.block_size, label=label)
            fits.append((item.scope, item.fit))
            fps.append(item.fingerprint)
            del item  # before the next model is made
        writer.finish(expected_rows=summary.tested)
    except BaseException:
        writer.abort()
        raise
    log.write(f"wrote {out.assoc} ({summary.tested} rows)")
    if opts.bgzip:
        from ..bgzf import bgzip_and_index

        _, tbi = bgzip_and_index(out.assoc)
        log.write(f"  as BGZF with its tabix index {tbi}")
    # the LOCO note applies unless the kinship built here leaves every tested variant out
    in_kinship = kin_idx is None or bool(np.isin(tested, kin_idx).any())
    lgc = _finish(opts, log, method, source, sel, out, summary, fits, fps, selection, chunk,
                  in_kinship)
    return dict(path=out.assoc, lambda_gc=lgc, tested=summary.tested,
                collinear=summary.collinear, qc=summary.qc_reasons, top=summary.top)
