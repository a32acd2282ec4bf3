"""``gwaslmm reml`` with several variance components: kinships (the one built
or given, or several with --mgrm), random intercepts of groups (--random),
random slopes (--random-slope NAME:GROUP) and their covariance with the
group's intercept (--slope-cov); fitted by AI-REML
(:mod:`gwaslmm.nullmodel.vc_reml`).

Writes OUT.vc.tsv (one row per component, then Vp and the REML
log-likelihood), OUT.reml.fixed.tsv and OUT.samples.tsv.  Each component is
tested against zero by a likelihood-ratio test with the model refitted
without it (boundary-corrected mixture p-values).
"""

from __future__ import annotations

import functools
import os
import time
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, NumericalError, UsageError
from ..columns import FIXED_COLUMNS
from ..ids import positions, sample_keys
from ..kinship_io import read_gcta_grm
from ..nullmodel.vc_reml import Term, VcFit, ai_reml
from ..paths import Outputs
from ..tables import parse_numeric, read_sample_table
from ..writers import write_tsv
from .inputs import kinship_for, write_samples

VC_COLUMNS = ["phenotype", "component", "type", "estimate", "se", "share", "share_se", "lrt",
              "p_lrt", "boundary"]


def wants_components(opts) -> bool:
    """Whether the options ask for more than the one-kinship model."""
    return bool(opts.random or opts.random_slope or opts.mgrm or opts.no_kinship or opts.gxe_vc
                or opts.grm_split)


@dataclass
class Component:
    """One covariance parameter with its matrix (None: the identity)."""

    term: Term
    matrix: np.ndarray | None
    drops: tuple = ()  # names of the terms that go with it when it is tested against 0


def _covariate_table(path: str):
    """The covariate file, read once per build of the components (each
    grouping or slope column asks for it; keyed by the file's identity so a
    changed file is read again)."""
    st = os.stat(path)
    return _read_table(path, st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=2)
def _read_table(path: str, mtime_ns: int, size: int):
    return read_sample_table(path, "covariate", "COVAR")


def _column(opts, sel, name: str, flag: str) -> np.ndarray:
    """The covariate-file column ``name`` for the analysed samples, as text."""
    table = _covariate_table(opts.covar)
    if name not in table.names:
        raise UsageError(f"{flag}: no column {name} in {opts.covar} (columns: "
                         f"{', '.join(table.names)})")
    tkeys = table.iid if table.by_iid else sample_keys(table.fid, table.iid)
    rows = positions(tkeys, sel.iid if table.by_iid else sel.keys)
    if (rows < 0).any():
        raise InputError(f"{flag} {name}: {int((rows < 0).sum())} analysed samples have no row "
                         f"in {opts.covar}")
    return table.columns[name][rows].astype(str)


def _groups(opts, sel, name: str, flag: str) -> np.ndarray:
    labels = _column(opts, sel, name, flag)
    bad = np.isin(np.char.upper(labels), ["", "NA", "NAN", "-9"] + [
        c.upper() for c in opts.missing_code])
    if bad.any():
        raise InputError(f"{flag} {name}: {int(bad.sum())} of the {sel.n} analysed samples have "
                         f"no group (first: {sel.keys[bad][0]}, '{labels[bad][0]}')")
    code = np.unique(labels, return_inverse=True)[1].reshape(-1)
    k = int(code.max()) + 1
    if k < 2:
        raise InputError(f"{flag} {name}: every analysed sample is in one group ('{labels[0]}'): "
                         f"its effect cannot be told apart from the intercept")
    if k == sel.n:
        raise InputError(f"{flag} {name}: each of the {sel.n} analysed samples is its own group: "
                         f"its effect cannot be told apart from the residual")
    return code


def _check_unique(opts) -> None:
    """A component named twice cannot be told apart from itself: refused at
    once (the fit would end on a singular information matrix)."""
    names = list(opts.random)
    if opts.pheno_name and set(names) & set(opts.pheno_name):
        raise UsageError(f"--random {sorted(set(names) & set(opts.pheno_name))[0]} is the "
                         f"phenotype")
    for what, items in (("--random", names), ("--random-slope", list(opts.random_slope))):
        dup = sorted({x for x in items if items.count(x) > 1})
        if dup:
            raise UsageError(f"{what} {dup[0]} is given twice")
    for spec in opts.random_slope:
        if spec.count(":") != 1:
            raise UsageError(f"--random-slope {spec}: give NAME:GROUP (a covariate and the "
                             f"column grouping the samples)")


def _same_group(code: np.ndarray) -> np.ndarray:
    return (code[:, None] == code[None, :]).astype(np.float64)


def parse_grm_split(spec: str, source, snp_idx: np.ndarray) -> tuple:
    """--grm-split SPEC: (k, set_of, descriptions).  'chr:1-4/5-8' (chromosome
    sets, each in --chr syntax, separated by '/'), or 'maf:0.01,0.05,0.5'
    (minor-allele-frequency bins between the edges, the last edge included;
    frequencies over the analysed samples)."""
    from ..chromosomes import parse_chr_spec

    kind, _, rest = spec.partition(":")
    if kind == "chr":
        sets = [t for t in rest.split("/") if t.strip()]
        if len(sets) < 2:
            raise UsageError(f"--grm-split {spec}: give two or more chromosome sets, e.g. "
                             f"chr:1-11/12-22")
        chrom = source.variants.chromosome[snp_idx]
        pos_set = np.full(snp_idx.size, -1, dtype=np.int64)
        for g, t in enumerate(sets):
            try:
                labels, _ = parse_chr_spec(t)
            except UsageError as exc:
                raise UsageError(f"--grm-split {spec}: {str(exc).replace('--chr ', '', 1)}") \
                    from None
            hit = np.isin(chrom, sorted(labels))
            if (hit & (pos_set >= 0)).any():
                raise UsageError(f"--grm-split {spec}: chromosome set '{t}' overlaps an "
                                 f"earlier one")
            pos_set[hit] = g
        return len(sets), (lambda pos, p: pos_set[pos]), [f"chromosomes {t}" for t in sets]
    if kind == "maf":
        try:
            edges = np.array([float(x) for x in rest.split(",") if x.strip()])
        except ValueError:
            raise UsageError(f"--grm-split {spec}: MAF edges must be numbers") from None
        if edges.size < 3 or not (np.diff(edges) > 0).all() or edges[0] < 0 or edges[-1] > 0.5:
            raise UsageError(f"--grm-split {spec}: give three or more increasing MAF edges in "
                             f"[0, 0.5], e.g. maf:0.01,0.05,0.5")

        def set_of(pos, p):
            maf = np.minimum(p, 1.0 - p)
            g = np.searchsorted(edges, maf, side="right") - 1
            g[maf == edges[-1]] = edges.size - 2
            return np.where((g >= 0) & (g < edges.size - 1), g, -1)

        return edges.size - 1, set_of, [f"MAF [{edges[g]:g}, {edges[g + 1]:g}"
                                        + ("]" if g == edges.size - 2 else ")")
                                        for g in range(edges.size - 1)]
    raise UsageError(f"--grm-split {spec}: give chr:SETS (e.g. chr:1-11/12-22) or maf:EDGES "
                     f"(e.g. maf:0.01,0.05,0.5)")


def _split_kinships(opts, source, sel, snp_idx, log) -> list:
    from ..kinship import finish_grm
    from .inputs import build_grm

    if opts.mgrm or opts.grm or opts.kinship or opts.no_kinship:
        raise UsageError("--grm-split builds its kinships from the genotypes; drop --grm/"
                         "--kinship/--mgrm/--no-kinship")
    k, set_of, what = parse_grm_split(opts.grm_split, source, snp_idx)
    gs = build_grm(opts, source, sel.idx, snp_idx, log, "float64",
                   label=f"{k} kinships (--grm-split)", split=(k, set_of))
    out = []
    for g in range(k):
        if gs.m_parts[g] == 0:
            raise InputError(f"--grm-split {opts.grm_split}: no variant passing QC falls in "
                             f"{what[g]}")
        out.append((f"G{g + 1}", finish_grm(gs.parts[g], gs.m_parts[g], inplace=True)))
        log.write(f"kinship G{g + 1}: {what[g]}, {gs.m_parts[g]} SNPs")
    left = gs.m - sum(gs.m_parts)
    if left:
        log.write(f"  {left} SNPs passing QC fall in no set of --grm-split (not in any kinship)")
    return out


def _kinships(opts, source, sel, snp_idx, log) -> list:
    """(name, K) of every kinship component."""
    if opts.grm_split:
        return _split_kinships(opts, source, sel, snp_idx, log)
    if opts.no_kinship:
        if opts.mgrm or opts.grm or opts.kinship:
            raise UsageError("--no-kinship fits group effects only; drop --grm/--kinship/--mgrm")
        log.write("kinship: none (--no-kinship): group random effects only")
        return []
    if opts.mgrm:
        if opts.grm or opts.kinship:
            raise UsageError("give --mgrm or --grm/--kinship, not both")
        base = os.path.dirname(opts.mgrm)
        try:
            with open(opts.mgrm) as fh:
                prefixes = [ln.strip() for ln in fh if ln.strip()]
        except OSError as exc:
            raise InputError(f"--mgrm {opts.mgrm}: {exc.strerror}") from None
        if not prefixes:
            raise InputError(f"--mgrm {opts.mgrm} lists no GRM")
        out, seen = [], []
        for k, pre in enumerate(prefixes):
            path = pre if os.path.isabs(pre) or os.path.exists(pre + ".grm.id") else \
                os.path.join(base, pre)
            if any(os.path.realpath(path) == os.path.realpath(p0) for p0 in seen):
                raise UsageError(f"--mgrm {opts.mgrm} lists {pre} twice")
            seen.append(path)
            kin = read_gcta_grm(path)
            out.append((f"G{k + 1}", kin.subset(sel.fid, sel.iid)))
            log.write(f"kinship G{k + 1}: GCTA GRM {path} ({kin.keys.size} samples)")
        return out
    return [("G1", kinship_for(opts, source, sel, snp_idx, log, "float64"))]


def _gxe_component(opts, sel, comps, log) -> None:
    """--gxe-vc NAME: the genetic effect's slope on covariate e, covariance
    K o ee' (the first kinship); with --slope-cov also its covariance with the
    genetic intercept, K o (1e' + e1')."""
    name = opts.gxe_vc
    if not comps:
        raise UsageError(f"--gxe-vc {name}: the GxE component needs a kinship; drop "
                         f"--no-kinship")
    if not opts.covar:
        raise UsageError(f"--gxe-vc {name} names a column of --covar FILE")
    e = _covariate_values(opts, sel, name, "--gxe-vc", f"--gxe-vc {name}",
                          "so K o ee' is a multiple of the kinship itself")
    g = comps[0].term.name
    _add_slope(comps, 0, comps[0].matrix, e, f"{g}:{name}",
               f"{g}:cov({name})" if opts.slope_cov else None)
    log.write(f"GxE variance component {g}:{name}: covariance K o ee' ({name} as given"
              + ("" if name in sel.covar_names else f"; note: {name} is not a fixed covariate")
              + ")")


def _covariate_values(opts, sel, var: str, flag: str, what: str, constant: str) -> np.ndarray:
    """Covariate column ``var`` for the analysed samples (a slope's variable):
    numeric, present for every sample and not constant (``constant`` says
    why that would not do)."""
    x = parse_numeric(_column(opts, sel, var, flag), tuple(opts.missing_code), opts.covar, var,
                      "covariate")
    if np.isnan(x).any():
        raise InputError(f"{what}: {int(np.isnan(x).sum())} analysed samples have no value of "
                         f"{var}")
    if np.ptp(x) == 0:
        raise InputError(f"{what}: {var} is the same ({x[0]:g}) for every analysed sample: "
                         f"{constant}" + (" (or nothing: it is 0)" if x[0] == 0 else ""))
    return x


def _add_slope(comps, base: int, B: np.ndarray, x: np.ndarray, name: str,
               cov_name: str | None) -> None:
    """A slope on x of the effect with covariance B (comps[base]): B o xx';
    with ``cov_name`` also its covariance with that effect, B o (1x' + x1'),
    tested against 0 together with either variance."""
    comps.append(Component(Term(name, "variance"), B * np.outer(x, x)))
    if cov_name:
        b = len(comps) - 1
        comps.append(Component(Term(cov_name, "covariance", (base, b)), B * np.add.outer(x, x)))
        comps[base].drops += (cov_name,)
        comps[b].drops += (cov_name,)


def build_components(opts, source, sel, snp_idx, log, kinships=None) -> list:
    """The model's covariance parameters, residual last; ``kinships``: (name,
    K) pairs to use instead of those of the options (LOCO)."""
    if (opts.random or opts.random_slope) and not opts.covar:
        raise UsageError("--random/--random-slope name columns of --covar FILE")
    _check_unique(opts)
    if kinships is None:
        kinships = _kinships(opts, source, sel, snp_idx, log)
    comps = [Component(Term(name, "variance"), K) for name, K in kinships]
    if opts.gxe_vc:
        _gxe_component(opts, sel, comps, log)
    codes = {}
    for name in opts.random:
        codes[name] = _groups(opts, sel, name, "--random")
        comps.append(Component(Term(name, "variance"), _same_group(codes[name])))
        log.write(f"random intercept {name}: {int(codes[name].max()) + 1} groups")
    for spec in opts.random_slope:
        var, _, group = spec.partition(":")
        if not var or not group:
            raise UsageError(f"--random-slope {spec}: give NAME:GROUP (a covariate and the "
                             f"column grouping the samples)")
        if opts.slope_cov and group not in codes:
            raise UsageError(f"--slope-cov: the slope {spec} has no intercept of {group} to "
                             f"co-vary with; add --random {group}")
        code = codes.get(group)
        if code is None:
            code = _groups(opts, sel, group, "--random-slope")
        x = _covariate_values(opts, sel, var, "--random-slope", f"--random-slope {spec}",
                              "a slope on it is the group's intercept")
        base = next((i for i, c in enumerate(comps) if c.term.name == group), -1)
        _add_slope(comps, base, _same_group(code), x, f"{group}:{var}",
                   f"{group}:cov({var})" if opts.slope_cov else None)
        log.write(f"random slope of {var} by {group}: {int(code.max()) + 1} groups"
                  + ("" if var in sel.covar_names else f" (note: {var} is not a fixed "
                                                      f"covariate; its mean slope is then 0)"))
    if opts.slope_cov and not (opts.random_slope or opts.gxe_vc):
        raise UsageError("--slope-cov goes with --random-slope NAME:GROUP or --gxe-vc NAME")
    if not comps:
        raise UsageError("no variance component besides the residual")
    comps.append(Component(Term("residual", "residual"), None))
    return comps


def _fit(y, W, comps, keep=None, start=None) -> VcFit:
    use = [c for c in comps if keep is None or c.term.name in keep]
    idx = {c.term.name: i for i, c in enumerate(use)}
    terms = tuple(Term(c.term.name, c.term.kind,
                       None if c.term.pair is None else
                       (idx[comps[c.term.pair[0]].term.name], idx[comps[c.term.pair[1]].term.name]))
                  for c in use)
    return ai_reml(y, W, [c.matrix for c in use], terms, start=start)


def _lrt(full: VcFit, y, W, comps, log) -> list:
    """(lrt, p) per component: the model refitted without it (and the
    covariances that go with it); variances on the boundary: the mixture
    1/2 chi2(d-1) + 1/2 chi2(d), d the parameters dropped; covariances chi2(1)."""
    out = []
    for c in comps:
        if c.term.kind == "residual":
            out.append((np.nan, np.nan))
            continue
        dropped = {c.term.name, *c.drops}
        keep = [d.term.name for d in comps if d.term.name not in dropped]
        # start from the full fit, the dropped variances moved to the residual
        start = np.array([full.theta[i] for i, d in enumerate(comps) if d.term.name in keep])
        gone = sum(full.theta[i] for i, d in enumerate(comps)
                   if d.term.name in dropped and d.term.kind == "variance")
        start[-1] += gone
        try:
            l0 = _fit(y, W, comps, keep=keep, start=start).logl
        except NumericalError as exc:
            log.write(f"  note: the model without {c.term.name} did not fit ({exc}); no LRT")
            out.append((np.nan, np.nan))
            continue
        lrt = max(0.0, 2.0 * (full.logl - l0))
        d = len(dropped)
        from scipy.special import chdtrc  # chi2.sf(x, d) = chdtrc(d, x), without scipy.stats
        if c.term.kind == "covariance":
            p = float(chdtrc(1, lrt))
        elif lrt <= 0:
            p = 1.0
        else:
            p = float(0.5 * chdtrc(d, lrt) + (0.5 * chdtrc(d - 1, lrt) if d > 1 else 0.0))
        out.append((lrt, p))
    return out


def _shares(fit: VcFit, comps) -> tuple:
    """share = theta_k / Vp for kinships and random intercepts (Vp: their sum
    with the residual; NA for slopes and covariances), SE by the delta method
    (components held at the boundary count as constants)."""
    is_int = np.array([c.term.kind == "residual" or (c.term.kind == "variance" and
                                                    ":" not in c.term.name) for c in comps])
    vp = float(fit.theta[is_int].sum())
    share = np.where(is_int, fit.theta / vp, np.nan)
    se = np.full(len(comps), np.nan)
    C = fit.cov
    for k in np.flatnonzero(is_int & ~fit.boundary):
        g = np.where(is_int, -fit.theta[k] / vp ** 2, 0.0)
        g[k] += 1.0 / vp
        g[fit.boundary] = 0.0  # held at 0: a constant, no variance
        sub = C[np.ix_(is_int, is_int)]
        gi = g[is_int]
        nz = gi != 0
        if np.isfinite(sub[np.ix_(nz, nz)]).all():
            se[k] = float(np.sqrt(max(gi[nz] @ sub[np.ix_(nz, nz)] @ gi[nz], 0.0)))
    return vp, share, se, is_int


@dataclass(frozen=True)
class VcEstimates:
    """A several-component fit as the scan and its summary see it: h2 the
    kinships' share of Vp (NaN without a kinship; its SE with one kinship)."""

    name: str
    n: int
    fit: VcFit
    names: tuple
    h2: float
    h2_se: float

    @property
    def beta(self):
        return self.fit.beta

    @property
    def beta_se(self):
        return self.fit.beta_se

    def log_lines(self, label: str = "") -> list:
        return [f"null model{label} '{self.name}': n = {self.n}, " + ", ".join(
            f"{nm} {v:.6g}" for nm, v in zip(self.names, self.fit.theta))
            + f"; REML logL {self.fit.logl:.10g}"]


def fit_components(opts, sel, comps, log, start=None, label: str = "") -> VcEstimates:
    """AI-REML of the analysed phenotype with these components, logged."""
    y, W = sel.y[:, 0], sel.W
    log.write(f"variance components{label} ({len(comps)}): "
              + ", ".join(f"{c.term.name} ({c.term.kind})" for c in comps))
    t0 = time.perf_counter()
    fit = _fit(y, W, comps, start=start)
    t_fit = time.perf_counter() - t0
    log.stage("vc_fit", t_fit)
    log.write(f"AI-REML: {sel.n} samples, {fit.iterations} iterations, {t_fit:.2f}s "
              f"({t_fit / max(1, len(fit.history) - 1):.3f}s per likelihood evaluation)")
    for it, ll, th, note in fit.history:
        log.write(f"  iteration {it}: REML logL {ll:.10g}; " + ", ".join(
            f"{c.term.name} {v:.6g}" for c, v in zip(comps, th)) + f"  [{note}]")
    vp, share, share_se, _ = _shares(fit, comps)
    kin = [k for k, c in enumerate(comps) if c.matrix is not None and c.term.kind == "variance"
           and ":" not in c.term.name and c.term.name.startswith("G")
           and c.term.name[1:].isdigit()]
    h2 = float(share[kin].sum()) if kin else float("nan")
    h2_se = float(share_se[kin[0]]) if len(kin) == 1 else float("nan")
    return VcEstimates(name=sel.pheno_names[0], n=sel.n, fit=fit,
                       names=tuple(c.term.name for c in comps), h2=h2, h2_se=h2_se)


def covariance_ratio(comps, fit: VcFit) -> np.ndarray:
    """H = V / sigma_e^2 (n, n) float64 at the fitted components."""
    theta = fit.theta
    res = theta[-1]
    n = fit.n
    H = np.eye(n)
    for t, c in zip(theta[:-1], comps[:-1]):
        if t != 0.0:
            H += (t / res) * c.matrix
    return H


def component_models(opts, source, sel, kin_idx, log, test: str, precision: str,
                     chromosomes=None):
    """assoc with several variance components: the null model (with --loco
    one per left-out chromosome, the kinship K_-c, the group factors as
    they are) and its fixed-variance scanner, as
    :func:`gwaslmm.drivers.models.null_models` yields them."""
    import hashlib

    from ..scan.fixed import CovarianceScanner, whitener_of
    from .models import Fitted

    def handout(scope, est, wh):
        scanner = CovarianceScanner(wh, sel.W, test, precision)
        fp = hashlib.sha256(np.ascontiguousarray(est.fit.theta).tobytes()
                            + "".join(sel.keys.tolist()).encode()
                            + np.ascontiguousarray(sel.W).tobytes()).hexdigest()[:16]
        return Fitted(scope=scope, fit=est, fingerprint=fp, scanner=scanner)

    def whiten(comps, est):
        return whitener_of(covariance_ratio(comps, est.fit), sel.W, sel.y[:, 0], overwrite=True)

    log.write("scan: variance components fixed at the null REML estimates, the scale "
              "re-estimated per SNP (GCTA --mlma; as --fast), by whitening with the Cholesky "
              "factor of V")
    if opts.null:
        est, wh = stored_components(opts.null, source, log)
        yield handout(None, est, wh)
        return
    if not opts.loco:
        comps = build_components(opts, source, sel, kin_idx, log)
        est = fit_components(opts, sel, comps, log)
        item = handout(None, est, whiten(comps, est))
        del comps
        yield item
        return
    if opts.grm or opts.kinship or opts.mgrm or opts.no_kinship or opts.grm_split:
        raise UsageError("--loco with variance components builds the kinship from the "
                         "genotypes, one per left-out chromosome; drop --grm/--kinship/--mgrm/"
                         "--no-kinship/--grm-split")
    if not chromosomes:
        return
    from .models import loco_kinships

    start = None
    for ch, K in loco_kinships(opts, source, sel, kin_idx, chromosomes, log, "float64"):
        comps = build_components(opts, source, sel, kin_idx, _Silent(log) if start is not None
                                 else log, kinships=[("G1", K)])
        est = fit_components(opts, sel, comps, log, start=start, label=f" without chr {ch}")
        start = est.fit.theta
        log.lines(est.log_lines(label=f" without chr {ch}"))
        item = handout(ch, est, whiten(comps, est))
        del comps, K
        yield item
        del item


def stored_components(prefix: str, source, log) -> tuple:
    """(VcEstimates, Whitener) of a null model saved by reml --save-null
    with several variance components."""
    from ..nullmodel.vc_reml import VcFit
    from ..paths import null_path
    from ..scan.fixed import Whitener
    from ..store import load_vc_null

    sel, z = load_vc_null(prefix, source)
    names = tuple(z["vc_names"].tolist())
    q = len(names)
    fit = VcFit(terms=tuple(Term(nm, k) for nm, k in zip(names, z["vc_kinds"].tolist())),
                theta=z["vc_theta"], se=z["vc_se"], cov=np.full((q, q), np.nan),
                beta=z["beta"], beta_se=z["beta_se"], logl=float(z["vc_logl"]), n=sel.n,
                p=sel.W.shape[1], iterations=0, boundary=z["vc_boundary"])
    est = VcEstimates(name=sel.pheno_names[0], n=sel.n, fit=fit, names=names,
                      h2=float(z["vc_h2"]), h2_se=float(z["vc_h2_se"]))
    log.write(f"null model: loaded {null_path(prefix)} ({sel.n} samples, phenotype "
              f"'{est.name}', covariates {', '.join(sel.covar_names)}; variance components "
              + ", ".join(names) + ")")
    wh = Whitener(L=np.asfortranarray(z["L"]), Q=np.asfortranarray(z["Q"]), yw=z["yw"],
                  q=float(z["q"]), seconds=0.0)
    return est, wh


class _Silent:
    """A log for what was already said (the group factors, per chromosome)."""

    def __init__(self, log):
        self.stage = log.stage

    def write(self, *a, **k):
        pass

    lines = file_info = write


def run_reml_components(opts, source, sel, snp_idx, log, out: Outputs) -> dict:
    if opts.loco or opts.eigen or opts.save_eigen:
        raise UsageError("several variance components: --loco and --eigen are not offered yet "
                         "in reml (assoc --loco refits them per chromosome)")
    if sel.y.shape[1] != 1:
        raise UsageError("several variance components: one phenotype per run; pick it with "
                         "--pheno-name")
    comps = build_components(opts, source, sel, snp_idx, log)
    y, W = sel.y[:, 0], sel.W
    est = fit_components(opts, sel, comps, log)
    fit = est.fit
    t1 = time.perf_counter()
    tests = _lrt(fit, y, W, comps, log)
    log.stage("vc_lrt", time.perf_counter() - t1)
    vp, share, share_se, _ = _shares(fit, comps)

    def f(x):
        return "NA" if not np.isfinite(x) else f"{x:.8g}"

    name = sel.pheno_names[0]
    rows = []
    for k, c in enumerate(comps):
        lrt, p = tests[k]
        rows.append([name, c.term.name, c.term.kind, f(fit.theta[k]), f(fit.se[k]), f(share[k]),
                     f(share_se[k]), f(lrt), f(p), "lower" if fit.boundary[k] else "none"])
        extra = "" if not np.isfinite(share[k]) else f", share {share[k]:.4g} (se {f(share_se[k])})"
        test = "" if not np.isfinite(lrt) else f"; LRT against 0: {lrt:.4g}, p = {p:.4g}"
        log.write(f"  {c.term.name}: {fit.theta[k]:.6g} (se {f(fit.se[k])}){extra}{test}"
                  + (" [at the boundary 0: no SE]" if fit.boundary[k] else ""))
    rows.append([name, "Vp", "total", f(vp)] + ["NA"] * 5 + ["none"])
    rows.append([name, "logL", "reml_loglik", f"{fit.logl:.10g}"] + ["NA"] * 5 + ["none"])
    log.write(f"  Vp (kinships, intercepts and residual) {vp:.6g}; REML logL {fit.logl:.10g} "
              f"(lme4's convention: -1/2[(n-p) log 2pi + log|V| + log|X'V^-1X| + y'Py])")
    if opts.save_null:  # first: a failure to write it leaves no result tables behind
        from ..paths import null_path
        from ..scan.fixed import whitener_of
        from ..store import save_vc_null

        wh = whitener_of(covariance_ratio(comps, fit), W, y, overwrite=True)
        log.write(f"wrote {save_vc_null(null_path(opts.save_null), est, wh, sel, source)} (the "
                  f"estimates and the Cholesky factor of V / sigma_e^2, for assoc --null)")
    p1 = write_tsv(out.vc, VC_COLUMNS, rows)
    frows = [[name, nm, f"{b:.8g}", f"{s:.8g}"] for nm, b, s in
             zip(sel.covar_names, fit.beta, fit.beta_se)]
    p2 = write_tsv(out.reml_fixed, FIXED_COLUMNS, frows)
    log.write(f"wrote {p1}")
    log.write(f"wrote {p2}")
    log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
    return dict(fit=fit, components=[c.term for c in comps])
