"""The one-kinship null model by REML on one eigendecomposition.

y = W alpha + g + e, g ~ N(0, sigma_g^2 K), e ~ N(0, sigma_e^2 I),
lam = sigma_g^2 / sigma_e^2.  REML and ML estimates of lam are found over
the spectrum of :mod:`gwaslmm.eigen` (likelihoods in :mod:`gwaslmm.likelihood`,
the search in :mod:`gwaslmm.lambda_opt`, both as GEMMA); h2 = lam t / (lam t + 1)
with t = tr(Kc)/n (GEMMA's pve), its SE by the delta method from the REML
curvature; fixed effects by GLS.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np

from ..eigen import Spectrum
from ..errors import InputError, NumericalError
from ..lambda_opt import maximize_lambda
from ..likelihood import ml_null, reml_null


@dataclass(frozen=True)
class NullFit:
    """Fitted null model for one phenotype (all arrays float64); yt = B'y (n-c,)."""

    name: str
    n: int
    c: int
    lam: float  # REML
    lam_ml: float
    logl_reml: float
    logl_ml: float
    logl_reml_h0: float  # REML at lam = 0 (h2 = 0)
    sigma_e2: float
    sigma_g2: float
    h2: float
    h2_se: float
    lam_se: float
    p_h2: float
    beta: np.ndarray
    beta_se: np.ndarray
    where: str
    where_ml: str
    yt: np.ndarray

    @property
    def boundary(self) -> str:
        """'none', or 'lower'/'upper' when the REML lambda sits on that end of
        [1e-5, 1e5] (h2 near 0 or 1): then there is no delta-method SE."""
        return {"interior": "none", "lower bound": "lower", "upper bound": "upper"}[self.where]

    def row(self) -> list:
        se = self.h2_se if self.boundary == "none" else float("nan")
        return [self.name, self.n] + ["NA" if not np.isfinite(v) else f"{v:.8g}" for v in (
            self.h2, se, self.sigma_g2, self.sigma_e2, self.lam, self.logl_reml,
            self.logl_ml, self.p_h2)] + [self.boundary]

    def log_lines(self, label: str = "") -> list:
        lines = [
            f"null model{label} '{self.name}': n = {self.n}, lambda (REML) = {self.lam:.6g} "
            f"[{self.where}], h2 = {self.h2:.6g} (se {self.h2_se:.6g}), sigma_g2 = "
            f"{self.sigma_g2:.6g}, sigma_e2 = {self.sigma_e2:.6g}",
            f"  REML logL = {self.logl_reml:.6f}, ML logL = {self.logl_ml:.6f} (lambda ML = "
            f"{self.lam_ml:.6g} [{self.where_ml}]), LRT h2 = 0: p = {self.p_h2:.4g}"]
        if self.where != "interior":
            lines.append(f"  note: the REML estimate of lambda is at the {self.where} of "
                         f"[1e-5, 1e5] (h2 = {self.h2:.4g}); the likelihood has no interior "
                         f"maximum, so h2 has no standard error (reml.tsv: NA, boundary "
                         f"{self.boundary})")
        return lines


def _s_matrix(lam: float, sp: Spectrum) -> np.ndarray:
    """S(lam) = lam C + I - lam^2 G' diag(w) G (c, c): V's covariate block after
    eliminating the contrast block (the Schur complement)."""
    w = 1.0 / (lam * sp.d + 1.0)
    return lam * sp.C + np.eye(sp.c) - lam * lam * (sp.G.T @ (w[:, None] * sp.G))


def fixed_effects(lam: float, sp: Spectrum, y: np.ndarray, yt: np.ndarray, sigma_e2: float):
    """GLS fixed effects and standard errors at lam.

    alpha_q = Wq'y - lam G'(w y~), Cov(alpha_q) = sigma_e2 S(lam) (block inverse
    of V in the basis [Wq, B]); alpha = R^-1 alpha_q.
    """
    w = 1.0 / (lam * sp.d + 1.0)
    aq = sp.Wq.T @ y - lam * (sp.G.T @ (w * yt))
    S = _s_matrix(lam, sp)
    Ri = np.linalg.inv(sp.R)
    beta = Ri @ aq
    cov = sigma_e2 * (Ri @ S @ Ri.T)
    return beta, np.sqrt(np.diag(cov))


SCALE_RANGE = (1e-100, 1e100)  # phenotype SD the likelihood is evaluated for
EXPLAINED_TOL = 1e-12          # residual / total sum of squares: nothing left to model


def check_scale(y: np.ndarray, name: str) -> None:
    """Refuse a phenotype whose sums of squares over- or underflow float64 (the
    likelihood could not be evaluated; rescaling it changes nothing but
    the units of beta)."""
    yc = y - y.mean() if np.isfinite(y.mean()) else y
    with np.errstate(over="ignore", under="ignore", invalid="ignore"):
        sd = float(np.sqrt(np.dot(yc, yc) / max(y.size, 1)))
    big = float(np.abs(y).max()) if y.size else 0.0
    if not (np.isfinite(sd) and SCALE_RANGE[0] < sd < SCALE_RANGE[1]) or big > 1e150:
        raise InputError(f"phenotype '{name}' is on a scale the likelihood cannot be evaluated "
                         f"at (standard deviation {sd:.4g}, largest |value| {big:.4g}; allowed "
                         f"SD {SCALE_RANGE[0]:g} to {SCALE_RANGE[1]:g}): rescale it, for "
                         f"example to standard units")


def check_not_explained(y: np.ndarray, yt: np.ndarray, name: str) -> None:
    """Refuse a phenotype that the covariates explain (the residual after
    least squares on W, whose squared norm is |B'y|^2, at rounding level)."""
    yc = y - y.mean()
    total = float(np.dot(yc, yc))
    resid = float(np.dot(yt, yt))
    if resid <= EXPLAINED_TOL * total:
        raise InputError(f"phenotype '{name}' is explained by the covariates: the residual sum "
                         f"of squares after regressing on them is {resid:.3g} of {total:.3g} "
                         f"(at rounding level), so there is no variance left to split; is the "
                         f"phenotype, or a linear function of it, among the covariates?")


def fit_null(sp: Spectrum, basis, y: np.ndarray, name: str = "phenotype") -> NullFit:
    """REML and ML fit of y = W alpha + g + e (y (n,) over the analysed samples,
    no NaN); ``basis`` gives y~ = B'y."""
    from scipy import special  # imported here: 0.2 s that grm and --help need not pay

    if np.isnan(y).any():
        raise InputError(f"phenotype '{name}' has missing values inside the analysed samples")
    check_scale(y, name)
    n, c = sp.n, sp.c
    yt = basis.project(y)
    d = sp.d
    check_not_explained(y, yt, name)
    reml = maximize_lambda(lambda x: reml_null(x, d, yt))
    ml = maximize_lambda(lambda x: ml_null(x, sp, yt))
    for what, f in (("REML", reml), ("ML", ml)):
        if f.where == "failed" or not np.isfinite(f.logl):
            raise NumericalError(f"the {what} likelihood of phenotype '{name}' could not be "
                                 f"maximized over lambda in [1e-5, 1e5] ({f.n_maxima} local "
                                 f"maxima, best log-likelihood {f.logl}); phenotype variance "
                                 f"{np.var(y):.4g}, largest |y| {np.abs(y).max():.4g}")
    lam = reml.lam
    _, _, d2 = reml_null(lam, d, yt)
    w = 1.0 / (lam * d + 1.0)
    q0 = float(np.dot(w, yt * yt))
    sigma_e2 = q0 / (n - c)
    lam_se = float(np.sqrt(-1.0 / d2)) if d2 < 0 else np.nan
    t = sp.t
    h2 = lam * t / (lam * t + 1)
    h2_se = lam_se * t / (lam * t + 1) ** 2
    logl_ml = ml_null(ml.lam, sp, yt)[0]
    l0 = reml_null(0.0, d, yt)[0]
    stat = max(2 * (reml.logl - l0), 0.0)
    p_h2 = 0.5 * special.chdtrc(1, stat) if stat > 0 else 1.0
    beta, beta_se = fixed_effects(lam, sp, y, yt, sigma_e2)
    return NullFit(name=name, n=n, c=c, lam=lam, lam_ml=ml.lam, logl_reml=reml.logl,
                   logl_ml=float(logl_ml), logl_reml_h0=float(l0), sigma_e2=sigma_e2,
                   sigma_g2=lam * sigma_e2, h2=h2, h2_se=h2_se, lam_se=lam_se, p_h2=float(p_h2),
                   beta=beta, beta_se=beta_se, where=reml.where, where_ml=ml.where, yt=yt)


def null_fingerprint(sp: Spectrum, fit: NullFit) -> str:
    """Ties result chunks to the null model they were scanned with."""
    h = hashlib.sha256()
    h.update(sp.fingerprint.encode())
    h.update(np.float64(fit.lam).tobytes())
    h.update(np.ascontiguousarray(fit.yt[:50]).tobytes())
    return h.hexdigest()[:16]


@dataclass(frozen=True)
class EigenNullModel:
    """A fitted one-kinship null model: its spectrum, its basis (an
    ExplicitBasis, a FactoredBasis, or None where only the spectrum was kept)
    and its estimates."""

    spectrum: Spectrum
    basis: object
    fit: NullFit

    @classmethod
    def fit_phenotype(cls, spectrum: Spectrum, basis, y: np.ndarray, name: str):
        return cls(spectrum=spectrum, basis=basis, fit=fit_null(spectrum, basis, y, name))

    @property
    def fingerprint(self) -> str:
        return null_fingerprint(self.spectrum, self.fit)

    def solve(self, B: np.ndarray) -> np.ndarray:
        """V^-1 B, V = sigma_e^2 (lam Kc + I) the fitted covariance, for B (n,)
        or (n, k) float64: by the block inverse of V in the basis [Wq, B]
        (V = sigma_e^2 Q M Q', M = [[lam C + I, lam G'], [lam G, lam D + I]]),
        O(n^2 k) with the basis."""
        if self.basis is None:
            raise ValueError("this null model was kept without its basis; solve needs it")
        sp, lam = self.spectrum, self.fit.lam
        a = sp.Wq.T @ B
        b = self.basis.project(B)
        e = lam * sp.d + 1.0
        eb = b / (e if b.ndim == 1 else e[:, None])
        u = np.linalg.solve(_s_matrix(lam, sp), a - lam * (sp.G.T @ eb))
        r = b - lam * (sp.G @ u)
        v = r / (e if r.ndim == 1 else e[:, None])
        return (sp.Wq @ u + self.basis.unproject(v)) / self.fit.sigma_e2
