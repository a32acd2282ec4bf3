"""Binary traits: the 0/1 phenotype, the logistic mixed model's null fits
(one for the run, or with LOCO tau fitted once on the whole kinship and the
fixed and random effects refitted per left-out chromosome with tau fixed,
as SAIGE does), their estimates for ``reml --binary``, and the scanners of
``assoc --binary``.

Heritability, with t = tr(Kc)/n of the double-centred kinship (GEMMA's
scale, as the linear model's h2):

* latent (logit) scale: h2 = tau t / (tau t + pi^2/3);
* observed 0/1 scale (de Villemereuil et al. 2016, Genetics 204:1281):
  h2_obs = tau t psi^2 / (p (1 - p)), psi = mean of mu (1 - mu) over the
  samples (the plug-in average derivative of the inverse link), p the
  sample's case share;
* liability scale with --prevalence K (Lee et al. 2011, AJHG 88:294):
  h2_liab = h2_obs K^2 (1 - K)^2 / (z^2 p (1 - p)), z the standard normal
  density at the threshold Phi^-1(1 - K).

Standard errors by the delta method from tau's (each is linear in tau
or, for the latent scale, a ratio).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass

import numpy as np

from ..columns import BINARY_REML_COLUMNS
from ..eigen import double_centre
from .options import given_flags
from ..errors import InputError, UsageError
from ..nullmodel.logistic import (LOGIT_RESIDUAL, MODE_TOL, TAU_TOL, binary_coding,
                                  check_counts, fit_glmm)
from .inputs import build_grm, kinship_for
from .models import Fitted, loco_kinships



def kinship_precision(opts) -> str:
    """The precision of a kinship built for a binary trait (reml and assoc
    alike, so that a saved null model equals the scan's own): float32 blocks
    summed in float64 as ``assoc --fast`` (entries within 1e-6, 1.7x the
    rate; the decision table's precision for binary traits), or --grm-dtype."""
    from ..methods import method_for

    return opts.grm_dtype or method_for("binary", "score").kinship_precision


def binary_phenotype(y: np.ndarray, name: str, log) -> tuple:
    """(y01 (n,), cases, controls) of a phenotype column, with the log line
    saying which coding was detected and the counts."""
    y01, what = binary_coding(y, name)
    cases, controls = check_counts(y01[~np.isnan(y01)], name)
    n = cases + controls
    log.write(f"binary trait '{name}': coded {what}; {cases} cases and {controls} controls "
              f"among {n} analysed samples (case share {cases / n:.4g})")
    return y01, cases, controls


@dataclass(frozen=True)
class BinaryEstimates:
    """The null estimates of a binary trait (the NullEstimates protocol)."""

    name: str
    n: int
    n_cases: int
    n_controls: int
    tau: float
    tau_se: float
    t: float
    psi: float
    prevalence: float | None
    beta: np.ndarray
    beta_se: np.ndarray
    iterations: int
    boundary: bool
    history: tuple = ()

    @property
    def p(self) -> float:
        return self.n_cases / self.n

    @property
    def h2(self) -> float:
        return self.tau * self.t / (self.tau * self.t + LOGIT_RESIDUAL)

    @property
    def h2_se(self) -> float:
        return self.tau_se * self.t * LOGIT_RESIDUAL / (self.tau * self.t + LOGIT_RESIDUAL) ** 2

    @property
    def _obs_factor(self) -> float:
        return self.t * self.psi ** 2 / (self.p * (1 - self.p))

    @property
    def h2_observed(self) -> float:
        return self.tau * self._obs_factor

    @property
    def h2_observed_se(self) -> float:
        return self.tau_se * self._obs_factor

    @property
    def _liab_factor(self) -> float:
        from scipy.stats import norm

        K = self.prevalence
        z = norm.pdf(norm.isf(K))
        return K * K * (1 - K) ** 2 / (z * z * self.p * (1 - self.p))

    @property
    def h2_liability(self) -> float:
        return float("nan") if self.prevalence is None else self.h2_observed * self._liab_factor

    @property
    def h2_liability_se(self) -> float:
        return float("nan") if self.prevalence is None else \
            self.h2_observed_se * self._liab_factor

    def row(self) -> list:
        def f(x):
            return "NA" if x is None or not np.isfinite(x) else f"{x:.6g}"
        return [self.name, str(self.n), str(self.n_cases), str(self.n_controls), f(self.tau),
                f(self.tau_se), f(self.h2), f(self.h2_se), f(self.h2_observed),
                f(self.h2_observed_se), f(self.prevalence), f(self.h2_liability),
                f(self.h2_liability_se), str(self.iterations),
                "lower" if self.boundary else "none"]

    def log_lines(self, label: str = "") -> list:
        lines = [f"null model{label} '{self.name}' (logistic mixed model, PQL + AI-REML): "
                 f"n = {self.n} ({self.n_cases} cases, {self.n_controls} controls), tau = "
                 f"{self.tau:.6g} (se {self.tau_se:.4g}), h2 latent (logit) scale {self.h2:.4g} "
                 f"(se {self.h2_se:.3g}), observed 0/1 scale {self.h2_observed:.4g}"
                 + (f", liability scale (prevalence {self.prevalence:g}) "
                    f"{self.h2_liability:.4g} (se {self.h2_liability_se:.3g})"
                    if self.prevalence is not None else "")
                 + f"; {self.iterations} random-effect iterations"
                 + (f" over {len(self.history)} values of tau" if self.history else "")]
        if self.history:
            lines.append(f"  converged when the Newton step |score|/AI is below {TAU_TOL:g} "
                         f"(|tau| + {TAU_TOL:g}), the random effects to {MODE_TOL:g} relative; "
                         f"iterations (tau, REML score, average information): " + "; ".join(
                f"{t:.6g}, {s:.3g}, {a:.4g}" for t, s, a in self.history))
        if self.boundary:
            lines.append("  note: tau is at its lower bound 0 (the REML score is negative there): "
                         "no genetic variance detected, no standard error; the scan is then a "
                         "logistic-regression score test")
        return lines


def estimates(fit, name: str, y01: np.ndarray, t: float, prevalence) -> BinaryEstimates:
    mu = fit.mu
    return BinaryEstimates(
        name=name, n=y01.size, n_cases=int(y01.sum()), n_controls=int(y01.size - y01.sum()),
        tau=fit.tau, tau_se=fit.tau_se, t=t, psi=float(np.mean(mu * (1 - mu))),
        prevalence=prevalence, beta=fit.alpha, beta_se=np.sqrt(np.diag(fit.alpha_cov)),
        iterations=fit.iterations, boundary=fit.boundary, history=tuple(fit.history))


def centred(K: np.ndarray) -> tuple:
    """(Kc, t): the kinship double-centred in place, and tr(Kc)/n."""
    Kc = double_centre(K, out=K)
    return Kc, float(np.trace(Kc)) / Kc.shape[0]


def fit_binary(K: np.ndarray, W: np.ndarray, y01: np.ndarray, name: str, log, prevalence=None,
               label: str = "", fixed_tau=None, eta0=None, report: bool = True) -> tuple:
    """(GlmmFit, BinaryEstimates) on a kinship K (n, n) float64, which is
    double-centred in place; ``report``: the estimates' log lines (False
    where the caller logs the model it is handed, as assoc does)."""
    Kc, t = centred(K)
    t0 = time.perf_counter()
    fit = fit_glmm(Kc, W, y01, fixed_tau=fixed_tau, eta0=eta0)
    log.stage("null", time.perf_counter() - t0)
    est = estimates(fit, name, y01, t, prevalence)
    if fixed_tau is None:
        if report:
            log.lines(est.log_lines(label))
    else:
        log.write(f"null model{label}: fixed and random effects refitted with tau = "
                  f"{fixed_tau:.6g} fixed ({fit.iterations} iterations)")
    return fit, est


def fingerprint(sel, y01, scope) -> str:
    """The same for a fitting run and for the runs using its saved model:
    samples, covariates, phenotype and whether it is LOCO."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.round(sel.W, 10)).tobytes())
    h.update("\n".join(map(str, sel.keys)).encode())
    h.update(np.ascontiguousarray(y01).tobytes())
    h.update(f"binary {'loco' if scope is not None else ''}".encode())
    return h.hexdigest()[:16]


def _handout(scope, sel, y01, fit, est, make_scanner) -> Fitted:
    fp = fingerprint(sel, y01, scope)
    if make_scanner is None:  # reml: the model itself, to save
        return Fitted(scope=scope, fit=est, fingerprint=fp, model=fit)
    return Fitted(scope=scope, fit=est, fingerprint=fp, scanner=make_scanner(fit))


def binary_models(opts, source, sel, y01: np.ndarray, kin_idx, chromosomes, log,
                  make_scanner=None):
    """Yield a :class:`Fitted` per null model (one, or one per left-out
    chromosome of ``chromosomes``), fitted here or loaded (``--null``),
    each with its scanner (``make_scanner(glmm_fit)``) or, without
    ``make_scanner``, the fit itself."""
    name = sel.pheno_names[0]
    prevalence = getattr(opts, "prevalence", None)
    null = getattr(opts, "null", None)
    if null:
        from ..paths import loco_null_path, null_path

        paths = ([(ch, loco_null_path(null, ch)) for ch in chromosomes] if opts.loco
                 else [(None, null_path(null))])
        for ch, path in paths:
            fit, est, stored = stored_binary(path, source, log)
            if not np.array_equal(stored.idx, sel.idx):
                raise InputError(f"{path} is for other samples than {paths[0][1]}")
            yield _handout(ch, sel, y01, fit, est, make_scanner)
        return
    if not opts.loco:
        K = kinship_for(opts, source, sel, kin_idx, log, kinship_precision(opts))
        fit, est = fit_binary(K, sel.W, y01, name, log, prevalence,
                              report=make_scanner is None)
        del K
        yield _handout(None, sel, y01, fit, est, make_scanner)
        return
    if opts.grm or opts.kinship:
        raise UsageError("--loco builds its kinships from the genotypes, one per chromosome; "
                         "drop --grm/--kinship")
    if not chromosomes:
        return
    total = build_grm(opts, source, sel.idx, kin_idx, log, kinship_precision(opts),
                      label="kinship (all chromosomes)")
    from ..kinship import finish_grm

    K = finish_grm(total.S, total.m, inplace=False)
    full, est = fit_binary(K, sel.W, y01, name, log, prevalence,
                           label=" (all chromosomes: tau for every LOCO model)")
    del K
    for ch, K in loco_kinships(opts, source, sel, kin_idx, chromosomes, log,
                               kinship_precision(opts),
                               total=total):
        fit, est_c = fit_binary(K, sel.W, y01, name, log, prevalence,
                                label=f" without chr {ch}", fixed_tau=full.tau, eta0=full.eta)
        del K
        est_c = BinaryEstimates(**{**est.__dict__, "beta": est_c.beta, "beta_se": est_c.beta_se,
                                   "psi": est_c.psi, "iterations": est_c.iterations})
        yield _handout(ch, sel, y01, fit, est_c, make_scanner)


def stored_binary(path: str, source, log) -> tuple:
    """(GlmmFit, BinaryEstimates, SampleSelection) of a saved binary null model."""
    from ..nullmodel.logistic import GlmmFit
    from ..store import load_binary_null

    sel, z = load_binary_null(path, source)
    mu = z["mu"]
    prev = float(z["bin_prevalence"])
    est = BinaryEstimates(
        name=sel.pheno_names[0], n=sel.n, n_cases=int(z["y"].sum()),
        n_controls=int(sel.n - z["y"].sum()), tau=float(z["bin_tau"]),
        tau_se=float(z["bin_tau_se"]), t=float(z["bin_t"]), psi=float(z["bin_psi"]),
        prevalence=None if np.isnan(prev) else prev, beta=z["beta"], beta_se=z["beta_se"],
        iterations=int(z["bin_iterations"]), boundary=bool(z["bin_boundary"]))
    fit = GlmmFit(tau=est.tau, tau_se=est.tau_se, alpha=z["beta"],
                  alpha_cov=np.diag(z["beta_se"] ** 2), eta=np.log(mu / (1 - mu)), mu=mu,
                  b=z["b"], PY=z["y"] - mu, Y=z["Y"], L=np.asfortranarray(z["L"]),
                  iterations=est.iterations, boundary=est.boundary)
    log.write(f"null model: loaded {path} ({sel.n} samples, binary phenotype '{est.name}', "
              f"{est.n_cases} cases, tau = {est.tau:.6g}, covariates "
              f"{', '.join(sel.covar_names)})")
    return fit, est, sel


def binary_scanner_factory(opts, sel, y01):
    """make_scanner(glmm_fit) for assoc --binary's options."""
    from ..scan.binary import BinaryScanner, FirthSettings

    def make(fit):
        firth = FirthSettings(p_threshold=opts.firth_p, offset=fit.b) if opts.firth else None
        return BinaryScanner(fit, sel.W, y01, spa_cutoff=opts.spa_cutoff, firth=firth,
                             precision=opts.rotate_dtype)
    return make


def check_binary_assoc(opts) -> None:
    """The options assoc --binary does not take (yet), each named."""
    if opts.test != "score":
        raise UsageError(f"--binary tests each variant by the score test with saddlepoint "
                         f"p-values (and --firth); --test {opts.test} is not offered with it")
    given = given_flags(opts, "--fast", "--gxe", "--within-family", "--eigen",
                        "--save-eigen", "--random", "--random-slope", "--mgrm", "--no-kinship",
                        "--gxe-vc", "--grm-split")
    if given:
        raise UsageError(f"--binary: {', '.join(given)} not offered with a binary trait (it has "
                         f"one engine: the score test against the logistic mixed model)")


def check_binary_options(opts) -> None:
    """--prevalence/--firth/--spa-cutoff/--firth-p need --binary (--firth-p
    also --firth); values in range, NaN refused."""
    scan = hasattr(opts, "spa_cutoff")
    set_ = {"--prevalence": getattr(opts, "prevalence", None) is not None,
            "--firth": getattr(opts, "firth", False),
            "--spa-cutoff": scan and opts.spa_cutoff != 2.0,
            "--firth-p": scan and opts.firth_p != 0.05}
    if not getattr(opts, "binary", False):
        given = [flag for flag, v in set_.items() if v]
        if given:
            raise UsageError(f"{' and '.join(given)} {'go' if len(given) > 1 else 'goes'} "
                             f"with --binary")
        return
    K = getattr(opts, "prevalence", None)
    if K is not None and not 0 < K < 1:
        raise UsageError(f"--prevalence {K:g}: give the population prevalence as a share in "
                         f"(0, 1)")
    if scan:
        if set_["--firth-p"] and not opts.firth:
            raise UsageError("--firth-p sets the threshold of --firth; add --firth")
        if not opts.spa_cutoff >= 0:  # NaN too
            raise UsageError(f"--spa-cutoff {opts.spa_cutoff}: give a number >= 0")
        if not 0 < opts.firth_p <= 1:
            raise UsageError(f"--firth-p {opts.firth_p}: give a p-value in (0, 1]")
        if opts.null and K is not None:
            raise UsageError("--prevalence is used when the null model is fitted (reml "
                             "--binary --prevalence); drop it with --null")


def run_reml_binary(opts, source, sel, snp_idx, log, out) -> dict:
    """reml --binary: one logistic mixed model per phenotype column (each on
    its samples with a value), OUT.reml.tsv and OUT.reml.fixed.tsv; with
    --loco one phenotype's per left-out chromosome (OUT.reml.loco.tsv); with
    --save-null PREFIX the model(s) for assoc --binary --null."""
    from ..columns import FIXED_COLUMNS
    from ..paths import loco_null_path, null_path
    from ..store import save_binary_null
    from ..writers import write_tsv
    from .inputs import write_samples
    from .models import chromosomes_of

    given = given_flags(opts, "--eigen", "--save-eigen")
    if given:
        raise UsageError(f"reml --binary: {', '.join(given)} not offered with a binary trait "
                         f"(its model has no eigendecomposition)")
    if opts.save_null and sel.y.shape[1] != 1:
        raise UsageError("--save-null stores the null model of one phenotype; pick one with "
                         "--pheno-name")
    for k, name in enumerate(sel.pheno_names):  # every phenotype's coding and counts first
        col = sel.y[~np.isnan(sel.y[:, k]), k]
        check_counts(binary_coding(col, name)[0], name)
    if opts.loco:
        y01, _, _ = binary_phenotype(sel.y[:, 0], sel.pheno_names[0], log)
        rows, fits = [], []
        for item in binary_models(opts, source, sel, y01, snp_idx,
                                  chromosomes_of(source, snp_idx), log):
            rows.append([item.scope] + item.fit.row())
            fits.append((item.scope, item.fit))
            if opts.save_null:
                path = save_binary_null(loco_null_path(opts.save_null, item.scope), item.fit,
                                        item.model, sel, y01, source)
                log.write(f"wrote {path}")
        path = write_tsv(out.reml_loco, ["left_out_chromosome"] + BINARY_REML_COLUMNS, rows)
        log.write(f"wrote {path}")
        log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
        return dict(fits=fits)
    K = kinship_for(opts, source, sel, snp_idx, log, kinship_precision(opts))
    rows, frows, fits = [], [], []
    for k, name in enumerate(sel.pheno_names):
        present = ~np.isnan(sel.y[:, k])
        y01, _, _ = binary_phenotype(sel.y[present, k], name, log)
        sub = np.flatnonzero(present)
        last = k == len(sel.pheno_names) - 1
        Ksub = K[np.ix_(sub, sub)] if sub.size != sel.n else K if last else K.copy()
        fit, est = fit_binary(Ksub, sel.W[sub], y01, name, log, opts.prevalence)
        del Ksub
        fits.append(est)
        rows.append(est.row())
        for nm, b, s in zip(sel.covar_names, est.beta, est.beta_se):
            frows.append([name, nm, f"{b:.8g}", f"{s:.8g}"])
        if opts.save_null:  # one phenotype (checked above): every analysed sample has it
            path = save_binary_null(null_path(opts.save_null), est, fit, sel, y01, source)
            log.write(f"wrote {path}")
    p1 = write_tsv(out.reml, BINARY_REML_COLUMNS, rows)
    p2 = write_tsv(out.reml_fixed, FIXED_COLUMNS, frows)
    log.write(f"wrote {p1}")
    log.write(f"wrote {p2}")
    log.write(f"wrote {write_samples(out.samples, sel)} ({sel.n} analysed samples)")
    return dict(fits=fits)
