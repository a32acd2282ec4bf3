"""Null models of the large-sample engine (``assoc --engine cg``): the
kinship's variants packed at 2 bits, h2 by Monte-Carlo REML on all of them,
then one batched CG solve for every LOCO mask's P y and the calibration
variants, the re-tests of the packed variants solved together, and one
:class:`~gwaslmm.scan.calibrated.CalibratedScanner` per mask handed to the
scan loop (as :func:`gwaslmm.drivers.models.null_models` does for the
dense engine).  Which engine runs (``--engine auto``) is decided here.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np

from ..errors import InputError, UsageError
from ..qc import qc_report_lines
from .models import Fitted

# --engine auto: the CG engine from this many analysed samples (README, Performance)
# --engine auto: analysed samples from which the CG engine is picked, with and
# without --loco (benchmarks/cg_crossover.py, results/2026-12-07-cg-crossover.md:
# with LOCO cg was faster at every size measured, 4.2 s vs 6.7 s at 1,000 and
# 6.4 s vs 17.2 s at 2,000; without, about equal at 2,000 and 12.3 s vs 22.3 s
# at 4,000; below these the dense engine's exact REML is kept, at a cost of
# seconds)
AUTO_CROSSOVER_LOCO = 2000
AUTO_CROSSOVER = 4000
CALIBRATION_VARIANTS = 30  # in all, spread over the LOCO masks
CALIBRATION_MIN = 8  # per mask
RETEST_TOL = 1e-4  # the re-tests' float32 solve, before the float64 correction
DEFLATE = 20  # leading eigenpairs of the kinship for the preconditioner and the calibration
RETEST_P = 1e-5
# A batch of re-tests holds about RETEST_BYTES_PER n bytes per column (the
# float32 CG iterates and temporaries, the float64 right-hand sides and
# residual pass); its budget is half the packed genotypes' size, within
# RETEST_MEMORY_MIN..RETEST_MEMORY_MAX: memory scales with what the run
# already holds, and one or two batches cover the usual few hundred hits.
RETEST_BYTES_PER = 48
RETEST_MEMORY_MIN = 32 * 2**20
RETEST_MEMORY_MAX = 256 * 2**20


def resolve_engine(opts, n: int, log):
    """``--engine auto``: the options with engine_choice 'cg' from
    AUTO_CROSSOVER_LOCO (with --loco) or AUTO_CROSSOVER analysed samples when
    the run is one the CG engine offers, else 'dense'; the log says which and
    why."""
    from dataclasses import replace

    cut = AUTO_CROSSOVER_LOCO if getattr(opts, "loco", False) else AUTO_CROSSOVER
    pick, why = "dense", (f"{n} analysed samples (cg from {cut}"
                          f"{' with --loco' if cut == AUTO_CROSSOVER_LOCO else ''})")
    if n >= cut:
        try:
            check_cg_options(replace(opts, engine_choice="cg"))
            pick = "cg"
        except UsageError as exc:
            why = f"{n} analysed samples, but {exc}"
    log.write(f"--engine auto: the {pick} engine ({why})")
    return replace(opts, engine_choice=pick)


def check_cg_options(opts) -> None:
    """What the CG engine does not offer (yet): one usage error naming it."""
    from .options import given_flags

    given = given_flags(opts, "--grm", "--kinship", "--eigen", "--save-eigen",
                        "--gxe", "--within-family", "--binary", "--random", "--random-slope",
                        "--mgrm", "--no-kinship", "--model-snps")
    if given:
        raise UsageError(f"--engine cg builds its kinship from the genotypes and fits one "
                         f"kinship for a quantitative trait; {', '.join(given)} not offered "
                         f"with it (yet): use the dense engine")
    if len(opts.pheno_name) > 1 or opts.all_pheno:
        raise UsageError("--engine cg scans one phenotype per run (yet): give a single "
                         "--pheno-name")
    if opts.test not in ("wald", "score"):
        raise UsageError(f"--engine cg fixes the variance ratio at the null estimate (like "
                         f"--fast): --test {opts.test} is not offered; choose wald or score")
    if opts.loco_h2 == "each" and not opts.loco:
        raise UsageError("--loco-h2 each estimates h2 per left-out chromosome: add --loco")
    if not 0 < opts.retest_p < 1:
        raise UsageError(f"--retest-p must be in (0, 1), got {opts.retest_p}")


@dataclass
class CGNull:
    """A fitted null model of the CG engine, per LOCO mask (``labels``: the
    left-out chromosome, or None): the Monte-Carlo REML fits, the solutions
    the scan needs (P y, y'Py, the calibration) and the deflation; what
    ``reml --engine cg --save-null`` stores and ``assoc --null`` loads."""

    labels: list
    fits: list
    sols: list
    deflation: object
    variant_idx: np.ndarray  # the packed kinship variants (indices into the source)

    @property
    def deltas(self) -> np.ndarray:
        return np.array([f.delta for f in self.fits])


def pack_for(opts, source, sel, kin_idx, log):
    """Pack the kinship's variants of the analysed samples; (packed, operator)."""
    from ..genotypes.packed import pack_source
    from ..nullmodel.cg import KinshipOperator

    packed, _, reasons, secs = pack_source(
        source, sel.idx, kin_idx, opts.grm_type, opts.filters, opts.memory_gb,
        progress=log.progress("kinship variants (packing): variants", kin_idx.size))
    log.lines(qc_report_lines(reasons, opts.filters, kin_idx.size, packed.m))
    log.write(f"packed genotypes: {sel.n} samples x {packed.m} variants at 2 bits "
              f"({packed.nbytes / 2**20:.1f} MiB) in {secs:.2f}s; the kinship ({opts.grm_type}) "
              f"is never formed")
    log.stage("pack", secs)
    block = _decode_block(sel.n, opts.memory_gb, packed.nbytes)
    return packed, KinshipOperator(packed, np.linalg.qr(sel.W)[0], np.float32, block)


def loco_masks(op, labels: list) -> list:
    """The operator's mask of each scope: the packed chromosome's index for a
    left-out chromosome, ALL (-1) for None or a chromosome without kinship
    variants; a chromosome that holds every kinship variant is an error, as
    in the dense engine."""
    chroms = list(op.packed.chromosomes)
    masks = [chroms.index(c) if c in chroms else -1 for c in labels]
    for c, mk in zip(labels, masks):
        if mk >= 0 and op.m_without(np.array([mk]))[0] <= 0:
            raise InputError(f"--loco: no SNP outside chromosome {c} passes QC, so there is no "
                             f"kinship without it")
    return masks


def fit_cg_null(opts, op, sel, labels: list, each: bool, log,
                fixed_effects: bool = False) -> CGNull:
    """The leading eigenpairs, the Monte-Carlo REML (once, or per mask with
    ``each``) and one batched solve for P y of every mask of ``labels``
    (chromosome labels, or [None]) with the calibration variants."""
    from ..nullmodel.cg import ALL, h_solve, mc_reml, mc_reml_masks, top_eigen
    from ..scan.calibrated import MaskSolution, deflated_parts

    packed = op.packed
    y, name = sel.y[:, 0], sel.pheno_names[0]
    t_e = time.perf_counter()
    defl = top_eigen(op, DEFLATE, seed=opts.seed + 2)
    log.write(f"leading eigenvalues of the kinship (covariates projected out): "
              f"{', '.join(f'{v:.4g}' for v in defl.s[:6])}{', ...' if defl.s.size > 6 else ''}"
              f" ({defl.s.size} kept; the rest average {defl.rest:.4g}): the CG preconditioner "
              f"and the calibration deflate them ({time.perf_counter() - t_e:.1f}s)")
    log.stage("eigen", time.perf_counter() - t_e)
    t_e = time.perf_counter()
    masks = loco_masks(op, labels)
    nm = len(masks)
    if each:  # h2 per left-out chromosome, as the dense engine
        fits = mc_reml_masks(op, y, sel.W, name, masks, seed=opts.seed, probes=opts.mc_probes,
                             deflation=defl, fixed_effects=fixed_effects)
        for sc, ft in zip(labels, fits):
            log.lines(ft.log_lines(label=f" without chr {sc}"))
    else:  # h2 once, on every variant (BOLT-LMM's LOCO)
        fits = [mc_reml(op, y, sel.W, name, seed=opts.seed, probes=opts.mc_probes,
                        deflation=defl, fixed_effects=fixed_effects)] * nm
        log.lines(fits[0].log_lines())
    log.stage("null", time.perf_counter() - t_e)
    deltas = np.array([ft.delta for ft in fits])
    # one right-hand side per LOCO mask, plus calibration variants: with h2 per mask, each
    # mask's own (gamma depends on delta); with one h2, 30 in all (the masks' gammas agree)
    rng = np.random.default_rng(opts.seed + 1)
    labels_mask = np.array(masks, dtype=np.int64)
    if each:
        per = max(CALIBRATION_MIN, CALIBRATION_VARIANTS // nm)
        cal, cal_of = [], []
        for j, mk in enumerate(masks):
            pool = np.flatnonzero(packed.chrom == mk) if mk >= 0 else np.arange(packed.m)
            pick = np.sort(rng.choice(pool, size=min(per, pool.size), replace=False))
            cal.append(pick)
            cal_of.append(np.full(pick.size, j))
        cal, cal_of = np.concatenate(cal), np.concatenate(cal_of)
        cal_masks = labels_mask[cal_of]
    else:
        per = min(CALIBRATION_VARIANTS, packed.m)
        cal = np.sort(rng.choice(packed.m, size=per, replace=False))
        cal_of = np.zeros(per, dtype=np.int64)  # one pooled gamma
        cal_masks = (packed.chrom[cal].astype(np.int64) if labels != [None]
                     else np.full(per, ALL))
    n_cal = cal.size
    Zc = op.project(op.columns(cal))
    yq = op.project(y)
    B = np.column_stack([np.repeat(yq[:, None], nm, axis=1), Zc])
    t1 = time.perf_counter()
    res = h_solve(op, B, np.concatenate([labels_mask, cal_masks]),
                  np.concatenate([deltas, deltas[cal_of]]), opts.cg_tol, what="LOCO solve",
                  deflation=defl)
    PY = res.X[:, :nm]
    zz = np.einsum("ij,ij->j", Zc, Zc)
    exact = np.einsum("ij,ij->j", Zc, res.X[:, nm:])
    inv = np.array([1.0 / (defl.eigenvalues(mk) + d) for mk, d in zip(masks, deltas)])
    inv_cal = np.array([1.0 / (defl.eigenvalues(int(mk)) + deltas[j])
                        for mk, j in zip(cal_masks, cal_of)])
    top, rest = deflated_parts(defl.U.T @ Zc, zz, inv_cal.T)
    ratio = (exact - top) / rest
    groups = [np.flatnonzero(cal_of == j) for j in range(nm if each else 1)]
    gam = np.array([ratio[g].mean() for g in groups])
    spread = np.sqrt(np.mean([np.var(ratio[g] / ratio[g].mean(), ddof=1)
                              for g in groups if g.size > 1]))
    plain = exact / zz
    plain_spread = np.sqrt(np.mean([np.var(plain[g] / plain[g].mean(), ddof=1)
                                    for g in groups if g.size > 1]))
    if not each:
        gam = np.repeat(gam, nm)
    log.write(f"solve: {B.shape[1]} right-hand sides ({nm} phenotype mask(s) + {n_cal} "
              f"calibration variants), {res.iterations} CG passes to relative residual "
              f"{opts.cg_tol:g} (largest reached {res.residual.max():.2g}) in "
              f"{time.perf_counter() - t1:.1f}s")
    log.write("calibration: x'Px = sum_i (u_i'x)^2 / (s_i + delta) + gamma (x'Qx - sum_i "
              "(u_i'x)^2) over the leading eigenpairs, gamma "
              + (f"per mask from {per} random variants of its chromosome ("
                 f"{', '.join(f'{g:.5g}' for g in gam[:8])}{', ...' if nm > 8 else ''})"
                 if each else f"{gam[0]:.6g} from {per} random variants, each solved with its "
                              f"chromosome left out")
              + f"; the remainder's relative spread between variants "
              f"{spread:.3g} (the plain ratio x'Px/x'Qx's: {plain_spread:.3g}), so the "
              f"calibrated gamma's relative se is about {spread / np.sqrt(per):.2g}")
    log.stage("solve", time.perf_counter() - t1)
    sols = [MaskSolution(mask=mk, py=PY[:, j], q=float(yq @ PY[:, j]), gamma=float(gam[j]),
                         gamma_se=float(spread * gam[j] / np.sqrt(per)), exact={},
                         inv_top=inv[j])
            for j, mk in enumerate(masks)]
    return CGNull(labels=list(labels), fits=fits, sols=sols, deflation=defl,
                  variant_idx=packed.variant_idx)


def load_cg_null(prefix: str, source, sel, log) -> CGNull:
    """A saved CG null model (``reml --engine cg --save-null``) as a :class:`CGNull`."""
    from ..nullmodel.cg import Deflation, McRemlFit
    from ..paths import null_path
    from ..scan.calibrated import MaskSolution
    from ..store import load_cg_null as load

    path = null_path(prefix)
    _, z = load(path, source)
    nm = z["cg_delta"].size
    fits = []
    for j in range(nm):
        all_mask = j == 0 or not bool(z["cg_each"])
        fits.append(McRemlFit(
            name=str(z["name"]), n=sel.n, c=sel.W.shape[1], m=int(z["cg_m"][j]),
            delta=float(z["cg_delta"][j]), sigma_g2=float(z["cg_sigma_g2"][j]),
            sigma_e2=float(z["cg_sigma_e2"][j]), h2=float(z["cg_h2"][j]),
            h2_se=float(z["cg_h2_se"][j]), h2_se_mc=float(z["cg_h2_se_mc"][j]),
            probes=int(z["cg_probes"][j]), t=float(z["cg_t"][j]),
            beta=z["beta"] if all_mask else np.full(sel.W.shape[1], np.nan),
            beta_se=z["beta_se"] if all_mask else np.full(sel.W.shape[1], np.nan),
            boundary=str(z["cg_boundary"][j])))
    sols = [MaskSolution(mask=-1, py=z["PY"][:, j], q=float(z["cg_q"][j]),
                         gamma=float(z["cg_gamma"][j]), gamma_se=float(z["cg_gamma_se"][j]),
                         exact={}, inv_top=z["cg_inv_top"][j]) for j in range(nm)]
    defl = Deflation(U=z["U"], s=z["cg_s"], s_mask=z["cg_s_mask"], rest=float(z["cg_rest"]),
                     rest_mask=z["cg_rest_mask"])
    labels = [None if lab == "" else str(lab) for lab in z["cg_labels"].tolist()]
    log.write(f"null model: loaded {path} ({sel.n} samples, phenotype '{z['name']}', "
              f"{'LOCO masks ' + ', '.join(labels) if labels != [None] else 'no LOCO'}; h2 "
              + ", ".join(f"{f.h2:.4g}" for f in fits[:8]) + ")")
    return CGNull(labels=labels, fits=fits, sols=sols, deflation=defl,
                  variant_idx=z["cg_variant_idx"])


def cg_models(opts, source, sel, kin_idx, tested, chromosomes, log):
    """Yield a :class:`Fitted` (scanner built) per LOCO mask, or one for the
    run: the null model fitted here, or loaded (``--null``)."""
    from ..scan.calibrated import CalibratedScanner

    if opts.loco and not chromosomes:
        return  # nothing to scan (an empty chunk): no null model to fit
    t0 = time.perf_counter()
    scopes = list(chromosomes) if opts.loco else [None]
    if opts.null:
        null = load_cg_null(opts.null, source, sel, log)
        packed, op = pack_for(opts, source, sel, null.variant_idx, log)
        if not np.array_equal(packed.variant_idx, null.variant_idx):
            raise InputError(f"--null {opts.null}: {packed.m} kinship variants pass QC now, "
                             f"{null.variant_idx.size} did when it was fitted (other genotypes "
                             f"or QC options?)")
        if (null.labels == [None]) != (scopes == [None]):
            raise UsageError(f"--null {opts.null} was fitted "
                             + ("without --loco (no LOCO masks): drop --loco"
                                if null.labels == [None] else "with --loco: add --loco"))
        missing = [c for c in scopes if c not in null.labels]
        if missing:
            raise UsageError(f"--null {opts.null} holds no LOCO mask for chromosome(s) "
                             f"{', '.join(missing[:5])} (fitted on other variants?)")
        keep = [null.labels.index(c) for c in scopes]
        null = CGNull(labels=scopes, fits=[null.fits[j] for j in keep],
                      sols=[null.sols[j] for j in keep], deflation=null.deflation,
                      variant_idx=null.variant_idx)
    else:
        packed, op = pack_for(opts, source, sel, kin_idx, log)
        null = fit_cg_null(opts, op, sel, scopes, bool(opts.loco and opts.loco_h2 == "each"),
                           log)
    masks = loco_masks(op, scopes)
    for sol, mk in zip(null.sols, masks):
        sol.mask = mk
    # one pass in float64: half the block, so its buffer takes the float32 one's bytes
    op64 = op.with_dtype(np.float64, block=max(32, op.block // 2))
    solver = ExactSolver(op, op64, sel.y[:, 0], dict(zip(masks, null.deltas.tolist())),
                         null.deflation)
    t2 = time.perf_counter()
    n_re = retest_packed(op, solver, null.sols, masks, sel.W.shape[1], tested, opts.retest_p,
                         log)
    log.stage("retest", time.perf_counter() - t2)
    op.release()  # the decode buffers, until an in-scan re-test needs them again
    op64.release()
    fp = _fingerprint(null.fits[0], sel)
    log.write(f"CG engine: {op.passes} passes over the packed genotypes in {op.seconds:.1f}s "
              f"(float32 blocks of {op.block} variants), {op64.passes} in float64 (re-test "
              f"residuals, {n_re} variants); {time.perf_counter() - t0:.1f}s before the scan")
    Wq = op.Wq
    for scope, sol, ft in zip(scopes, null.sols, null.fits):
        scanner = CalibratedScanner(sol, Wq, null.deflation.U, opts.test, solver, opts.retest_p)
        yield Fitted(scope=scope, fit=ft, fingerprint=fp, scanner=scanner)


def _decode_block(n: int, memory_gb: float, packed_bytes: int) -> int:
    """Variants decoded at a time into the float32 buffer: at most 1/16 of the
    budget and an eighth of the packed genotypes (within 16-64 MiB), 64 to
    1,024 variants (wider blocks make the block GEMMs more efficient; beyond
    about 1,024 they gained nothing here)."""
    per = 4 * n
    cap = min(64 * 2**20, max(16 * 2**20, packed_bytes / 8))
    return int(max(64, min(1024, memory_gb * 2**30 / 16 / per, cap / per)))


def _fingerprint(fit, sel) -> str:
    h = hashlib.sha256()
    h.update(np.float64(fit.delta).tobytes())
    h.update(np.ascontiguousarray(sel.y[:, 0]).tobytes())
    h.update(np.ascontiguousarray(sel.idx).tobytes())
    return h.hexdigest()[:16]


class ExactSolver:
    """Exact a = x'P_H x, b = x'P_H y (each (k,)) and q = y'P_H y for columns
    X (n, k) under LOCO masks, by mixed precision: one batched CG solve of
    [Q X, Q y per mask] on the float32 operator to relative residual
    RETEST_TOL, then one pass of the float64 operator for the true residuals
    r, which correct each quadratic form to second order (a = x'u + u'r_x,
    b = y'u + p'r_x, q = y'p + p'r_y with u, p the float32 solutions; the
    error left is O(|r|^2 / lambda_min))."""

    def __init__(self, op32, op64, y: np.ndarray, delta_of: dict, deflation=None):
        self.op32, self.op = op32, op64
        self.yq, self.delta_of = op64.project(y), delta_of
        self.deflation = deflation

    def __call__(self, X: np.ndarray, masks):
        """(a, b, q), each (k,), for columns X (n, k) under ``masks`` (one per
        column, or one for all)."""
        from ..nullmodel.cg import h_solve

        k = X.shape[1]
        masks = np.broadcast_to(np.asarray(masks, dtype=np.int64), (k,))
        uniq, which = np.unique(masks, return_inverse=True)
        which = which.reshape(-1)
        B = np.empty((X.shape[0], k + uniq.size))
        B[:, :k] = X
        B[:, :k] = self.op.project(B[:, :k])
        B[:, k:] = self.yq[:, None]
        cm = np.concatenate([masks, uniq])
        cd = np.array([self.delta_of[int(mk)] for mk in cm])
        # float32 iterates: the float64 residual below makes the result exact
        # to second order whatever the precision the solve was carried in
        res = h_solve(self.op32, B, cm, cd, RETEST_TOL, what="re-test solve",
                      deflation=self.deflation, dtype=np.float32)
        S = res.X
        del res
        self.op32.release()  # its decode buffer, while the float64 pass has its own
        R = self.op.kinship_times(S, cm)  # float64 residuals B - A S, column chunks in place
        for j in range(0, R.shape[1], 32):
            Rj = R[:, j:j + 32]
            Rj -= self.op.Wq @ (self.op.Wq.T @ Rj)
            Rj += cd[j:j + 32] * S[:, j:j + 32]
            np.subtract(B[:, j:j + 32], Rj, out=Rj)
        U, Rx = S[:, :k], R[:, :k]
        PY, Ry = S[:, k:], R[:, k:]
        f8 = np.float64
        a = (np.einsum("ij,ij->j", B[:, :k], U, dtype=f8)
             + np.einsum("ij,ij->j", U, Rx, dtype=f8))
        b = (np.einsum("i,ij->j", self.yq, U, dtype=f8)
             + np.einsum("ij,ij->j", PY[:, which], Rx, dtype=f8))
        q = np.einsum("i,ij->j", self.yq, PY, dtype=f8) + np.einsum("ij,ij->j", PY, Ry, dtype=f8)
        return a, b, q[which]


def retest_packed(op, solver: ExactSolver, sols, masks, c: int, tested: np.ndarray,
                  retest_p: float, log) -> int:
    """Exact a, b, q for the packed variants that are tested and whose
    calibrated p is below ``retest_p`` (with a margin of 1.5x): Z'[P y per
    mask, Wq] in one pass, then their solves batched per mask.  Fills each
    solution's ``exact`` (raw genotype scale) and ``q_exact``."""
    from ..scan.calibrated import approximate_neglog10, deflated_parts

    packed = op.packed
    n = packed.n
    nm = len(sols)
    U = solver.deflation.U
    k = U.shape[1]
    ZtV = op.genotypes_t_times(np.column_stack([np.column_stack([s.py for s in sols]), op.Wq,
                                                U]))
    if nm > 1:  # LOCO: each variant with its own chromosome's mask (-1: not scanned)
        lut = np.full(len(packed.chromosomes), -1, dtype=np.int64)
        lut[[mk for mk in masks if mk >= 0]] = [j for j, mk in enumerate(masks) if mk >= 0]
        col = lut[packed.chrom]
    else:
        col = np.zeros(packed.m, dtype=np.int64)
    ok = col >= 0
    colc = np.maximum(col, 0)
    wz = ZtV[:, nm:ZtV.shape[1] - k]
    sxx = packed.centred_sumsq - np.einsum("ij,ij->i", wz, wz)
    b = ZtV[np.arange(packed.m), colc]
    q = np.array([s.q for s in sols])[colc]
    inv_top = np.array([s.inv_top for s in sols])[colc]  # (m, k)
    top, rest = deflated_parts(ZtV[:, -k:].T, sxx, inv_top.T)
    nl = approximate_neglog10(q, n - c - 1, n, top + sols[0].gamma * rest, b)
    is_tested = np.isin(packed.variant_idx, tested)
    hits = np.flatnonzero(ok & is_tested & (nl > -np.log10(retest_p * 1.5)))
    if not hits.size:
        log.write(f"re-test: no tested kinship variant has a calibrated p below {retest_p:g}")
        return 0
    budget = np.clip(packed.codes.nbytes / 2, RETEST_MEMORY_MIN, RETEST_MEMORY_MAX)
    batch = int(np.clip(budget // (RETEST_BYTES_PER * n) - nm, 16, 512))
    for s0 in range(0, hits.size, batch):  # every mask in the same passes
        part = hits[s0:s0 + batch]
        a_std, b_std, q = solver(op.columns(part), np.asarray(masks)[col[part]])
        # the scan's raw genotypes x = z / scale + const: a / scale^2, b / scale
        scale = packed.scale[part]
        for r, v, ai, bi, qi in zip(part.tolist(), packed.variant_idx[part].tolist(),
                                    a_std / scale ** 2, b_std / scale, q):
            sol = sols[col[r]]
            sol.exact[v] = (float(ai), float(bi))
            sol.q_exact = float(qi)
    log.write(f"re-test: {hits.size} tested kinship variants with a calibrated p below "
              f"{retest_p:g} (with a 1.5x margin) solved exactly (float32 CG to relative "
              f"residual {RETEST_TOL:g}, corrected to second order by the float64 residual)")
    return int(hits.size)


def run_reml_cg(opts, source, sel, snp_idx, log, out) -> dict:
    """``reml --engine cg``: Monte-Carlo REML of each phenotype (with --loco,
    of one phenotype per left-out chromosome, the masks in the same passes)
    on the packed kinship variants; OUT.reml.tsv (or OUT.reml.loco.tsv),
    OUT.reml.fixed.tsv and OUT.samples.tsv as the dense engine writes them."""
    from ..columns import FIXED_COLUMNS, REML_COLUMNS
    from ..nullmodel.cg import mc_reml, mc_reml_masks, top_eigen
    from ..paths import null_path
    from ..store import save_cg_null
    from ..writers import write_tsv
    from .inputs import write_samples
    from .options import given_flags

    given = given_flags(opts, "--grm", "--kinship", "--eigen", "--save-eigen", "--binary",
                        "--random", "--random-slope", "--mgrm", "--no-kinship")
    if given:
        raise UsageError(f"reml --engine cg builds its kinship from the genotypes and fits one "
                         f"kinship for a quantitative trait; {', '.join(given)} not offered "
                         f"with it (yet): use the dense engine")
    if opts.loco_h2 == "each" and not opts.loco:
        raise UsageError("--loco-h2 each estimates h2 per left-out chromosome: add --loco")
    if opts.save_null and len(sel.pheno_names) > 1:
        raise UsageError("--save-null stores the null model of one phenotype; pick one with "
                         "--pheno-name")
    missing = np.isnan(sel.y).any(axis=0)
    if missing.any():
        names = [nm for nm, mi in zip(sel.pheno_names, missing) if mi]
        raise UsageError(f"reml --engine cg fits phenotypes observed in every analysed sample; "
                         f"{', '.join(names[:5])} {'has' if len(names) == 1 else 'have'} missing "
                         f"values there: fit {'it' if len(names) == 1 else 'them'} alone with "
                         f"--pheno-name")
    packed, op = pack_for(opts, source, sel, snp_idx, log)
    t0 = time.perf_counter()
    labels = list(packed.chromosomes) if opts.loco else [None]
    loco_masks(op, labels)  # a chromosome holding every kinship variant: the dense engine's error
    each = bool(opts.loco and opts.loco_h2 == "each")
    if opts.save_null:  # what assoc --null needs: the fits and the solves of every mask
        null = fit_cg_null(opts, op, sel, labels, each, log, fixed_effects=True)
        path = save_cg_null(null_path(opts.save_null), null, sel, source, opts.grm_type, each)
        fits = null.fits
    else:
        defl = top_eigen(op, DEFLATE, seed=opts.seed + 2)
        log.stage("eigen", time.perf_counter() - t0)
        if each:
            fits = mc_reml_masks(op, sel.y[:, 0], sel.W, sel.pheno_names[0],
                                 loco_masks(op, labels), seed=opts.seed,
                                 probes=opts.mc_probes, deflation=defl)
        else:
            fits = [mc_reml(op, sel.y[:, k], sel.W, name, seed=opts.seed, probes=opts.mc_probes,
                            deflation=defl) for k, name in enumerate(sel.pheno_names)]
            if opts.loco:
                fits = fits * len(labels)
        for lab, ft in zip(labels if opts.loco else [None] * len(fits), fits):
            if len(fits) <= 20:
                log.lines(ft.log_lines(label=f" without chr {lab}" if each else ""))
    if opts.loco:
        path_loco = write_tsv(out.reml_loco, ["left_out_chromosome"] + REML_COLUMNS,
                              [[ch] + ft.row() for ch, ft in zip(labels, fits)])
        log.write("h2 per left-out chromosome: " + ", ".join(
            f"chr {c}: {f.h2:.4g}" for c, f in zip(labels, fits)))
        log.write(f"wrote {path_loco}")
    else:
        log.write(f"wrote {write_tsv(out.reml, REML_COLUMNS, [f.row() for f in fits])}")
        frows = [[f.name, nm, f"{b:.8g}", f"{s:.8g}"] for f in fits
                 for nm, b, s in zip(sel.covar_names, f.beta, f.beta_se)]
        log.write(f"wrote {write_tsv(out.reml_fixed, FIXED_COLUMNS, frows)}")
    if opts.save_null:
        log.write(f"wrote {path}")
    log.stage("null", time.perf_counter() - t0)
    log.write(f"CG engine: {op.passes} passes over the packed genotypes in {op.seconds:.1f}s")
    log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
    return dict(fits=fits)
