"""The one-kinship mixed model without the n x n kinship: products with K
from the packed genotypes, V^-1 B by batched conjugate gradient, REML h2
by Monte-Carlo REML (BOLT-LMM's; Loh et al. 2015).

Model and scale.  y = W alpha + g + e, g ~ N(0, sigma_g^2 K), e ~ N(0,
sigma_e^2 I), K = Z Z' / M from :mod:`gwaslmm.genotypes.packed`; V =
sigma_g^2 H with H = K + delta I, delta = sigma_e^2 / sigma_g^2 = 1 / lam.
The covariates are projected out: with Q = I - Wq Wq', REML's projection
is P = Q (Q H Q)^+ Q / sigma_g^2, and P_H B = sigma_g^2 P B is the solution
x in range(Q) of (Q K Q + delta I) x = Q B, which CG finds from x0 = 0
(every iterate stays in range(Q)).  A LOCO mask c replaces K by K_-c =
sum over variants off chromosome c of z z' / M_-c: one right-hand side per
chromosome, all in the same passes over the genotypes
(:class:`KinshipOperator`).  h2 = lam t / (lam t + 1) with t = tr(Kc)/n,
GEMMA's (and the dense engine's) definition.

Monte-Carlo REML: at REML's optimum y'PKPy / y'PPy = tr(PK) / tr(P); for
y_r ~ N(0, H) (projected), E[y_r' P K P y_r] = tr(PK) and E[y_r' P P y_r] =
tr(P), so delta is the root of f(log delta) = log(y'PKPy / y'PPy) -
log(sum_r y_r'PKPy_r / sum_r y_r'PPy_r) over random phenotypes with fixed
genetic and noise draws (secant in log delta).  Its SEs: the AI-REML
information at the estimate (sampling SE, two more solves) and a
jackknife over the random phenotypes (Monte-Carlo SE).

The dense references are in the tests: the operator against K formed from
the decoded genotypes, CG against numpy's solve, h2 against the dense REML.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from ..errors import NumericalError

ALL = -1  # the mask of "no chromosome left out"
REML_TOL = 5e-3   # CG relative residual while estimating delta (BOLT-LMM's)
SOLVE_TOL = 5e-4  # the LOCO solves of the phenotype and the calibration variants
MAX_ITER = 500
SECANT_STEPS = 10
LOG_DELTA_TOL = 1e-3


def n_probes(n: int) -> int:
    """BOLT-LMM's number of Monte-Carlo phenotypes: max(min(4e9 / n^2, 15), 3)."""
    return int(max(min(4e9 / float(n) ** 2, 15), 3))


class KinshipOperator:
    """K_mask B without K, from packed genotypes (block GEMMs on decoded floats).

    packed : :class:`~gwaslmm.genotypes.packed.PackedGenotypes`.
    Wq : ndarray (n, c) float64, orthonormal basis of the covariates.
    dtype : the precision of the decoded blocks and their products
        (float32: half the time; float64 for the exact re-tests).
    block : variants decoded at a time (the buffer is n x block).
    """

    def __init__(self, packed, Wq: np.ndarray, dtype=np.float32, block: int = 2048):
        self.packed = packed
        self.Wq = np.asarray(Wq, dtype=np.float64)
        self.dtype = np.dtype(dtype)
        self.block = int(max(16, block))
        self.blocks = packed.runs(self.block)
        nch = len(packed.chromosomes)
        self.m_chrom = np.bincount(packed.chrom, minlength=nch).astype(np.int64)
        self.m = int(packed.m)
        tr_c = np.bincount(packed.chrom, weights=packed.centred_sumsq, minlength=nch)
        self.trace_chrom = tr_c  # tr(Kc) * M per chromosome's variants
        self.passes = 0
        self.seconds = 0.0
        self._buf = None
        self._wq32 = None

    def with_dtype(self, dtype, block: int | None = None) -> "KinshipOperator":
        """The same products in another precision (its own buffer)."""
        return KinshipOperator(self.packed, self.Wq, dtype, block or self.block)

    def m_without(self, masks: np.ndarray) -> np.ndarray:
        """M_-c per mask (ALL: M)."""
        masks = np.asarray(masks)
        out = np.full(masks.size, float(self.m))
        sel = masks >= 0
        out[sel] -= self.m_chrom[masks[sel]]
        return out

    def t(self, mask: int = ALL) -> float:
        """tr(Kc_mask) / n."""
        tot = self.trace_chrom.sum() - (self.trace_chrom[mask] if mask >= 0 else 0.0)
        return float(tot / self.m_without(np.array([mask]))[0] / self.packed.n)

    def release(self) -> None:
        """Free the decode buffer (made again on the next product)."""
        self._buf = None

    def _buffer(self):
        if self._buf is None:
            self._buf = np.empty((self.packed.n, self.block), dtype=self.dtype, order="F")
        return self._buf

    def kinship_times(self, B: np.ndarray, masks: np.ndarray, out_dtype=np.float64) -> np.ndarray:
        """K_mask[j] B[:, j] for every column j: B (n, k) float64 (or float32),
        masks (k,) int (chromosome index or ALL); returns (n, k) of
        ``out_dtype`` (float32: the blocks' products summed in single
        precision, for a solve whose state is float32)."""
        t0 = time.perf_counter()
        n, k = B.shape
        masks = np.asarray(masks, dtype=np.int64)
        Bd = np.asfortranarray(B, dtype=self.dtype)
        out = np.zeros((n, k), dtype=out_dtype)
        buf = self._buffer()
        for a, b in self.blocks:
            ch = self.packed.chrom[a]
            drop = masks == ch
            if drop.all():
                continue
            Z = self.packed.decode(a, b, buf)
            T = Z.T @ Bd
            if drop.any():
                T[:, drop] = 0.0
            out += Z @ T
        out /= self.m_without(masks)
        self.passes += 1
        self.seconds += time.perf_counter() - t0
        return out

    def genotypes_t_times(self, B: np.ndarray) -> np.ndarray:
        """Z' B: B (n, k) float64 -> (M, k) float64 (one pass)."""
        t0 = time.perf_counter()
        Bd = np.asfortranarray(B, dtype=self.dtype)
        out = np.empty((self.m, B.shape[1]))
        buf = self._buffer()
        for a, b in self.blocks:
            out[a:b] = self.packed.decode(a, b, buf).T @ Bd
        self.passes += 1
        self.seconds += time.perf_counter() - t0
        return out

    def genotypes_times(self, C: np.ndarray) -> np.ndarray:
        """Z C: C (M, k) float64 -> (n, k) float64 (one pass)."""
        t0 = time.perf_counter()
        out = np.zeros((self.packed.n, C.shape[1]))
        buf = self._buffer()
        for a, b in self.blocks:
            out += self.packed.decode(a, b, buf) @ np.asarray(C[a:b], dtype=self.dtype)
        self.passes += 1
        self.seconds += time.perf_counter() - t0
        return out

    def genotypes_times_by_chromosome(self, C: np.ndarray) -> np.ndarray:
        """Z_c C_c for every chromosome c: C (M, k) float64 -> (n_chrom, n, k)
        float64 (one pass)."""
        t0 = time.perf_counter()
        out = np.zeros((self.m_chrom.size, self.packed.n, C.shape[1]))
        buf = self._buffer()
        for a, b in self.blocks:
            out[self.packed.chrom[a]] += (self.packed.decode(a, b, buf)
                                          @ np.asarray(C[a:b], dtype=self.dtype))
        self.passes += 1
        self.seconds += time.perf_counter() - t0
        return out

    def columns(self, rows: np.ndarray) -> np.ndarray:
        """The standardized genotypes of packed variants ``rows``: (n, len) float64."""
        out = np.empty((self.packed.n, len(rows)), order="F")
        one = np.empty((self.packed.n, 1), order="F")
        for t, r in enumerate(rows):
            out[:, t] = self.packed.decode(int(r), int(r) + 1, one)[:, 0]
        return out

    def project(self, B: np.ndarray) -> np.ndarray:
        """Q B = B - Wq Wq' B (in B's precision, float64 or float32)."""
        Wq = self.Wq
        if B.dtype == np.float32:
            if self._wq32 is None:
                self._wq32 = Wq.astype(np.float32)
            Wq = self._wq32
        return B - Wq @ (Wq.T @ B)


@dataclass
class CGResult:
    X: np.ndarray          # (n, k) float64 solutions
    iterations: int        # passes until every column met the tolerance
    residual: np.ndarray   # (k,) relative residual |b - A x| / |b| reached (recursive)
    seconds: float


def _dots(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Column dot products (k,), accumulated in float64 for float32 columns too."""
    return np.einsum("ij,ij->j", A, B, dtype=np.float64)


def batched_cg(apply, B: np.ndarray, tol: float, max_iter: int = MAX_ITER,
               what: str = "CG", precond=None, dtype=np.float64) -> CGResult:
    """Solve A_j x_j = b_j for every column of B (n, k) float64 by (preconditioned)
    conjugate gradient, all columns in each pass: ``apply(P, cols)`` returns
    A_j p_j for the columns ``cols`` (indices into B) of P (n, len(cols));
    ``precond(R, cols)`` (optional) M_j^-1 r_j, M_j symmetric positive
    definite.  A column stops when |r| <= tol |b|; a column that does not
    within ``max_iter`` passes is a :class:`NumericalError` with the residual
    reached.  ``dtype``: the precision of the iterates (float32 halves the
    memory of a wide batch; its dot products are still summed in float64)."""
    t0 = time.perf_counter()
    n, k = B.shape
    X = np.zeros((n, k), dtype=dtype)
    R = np.array(B, dtype=dtype, copy=True)
    bnorm = np.sqrt(_dots(B, B))
    rr = _dots(R, R)
    Pd = R.copy() if precond is None else precond(R, np.arange(k))  # search directions
    rz = _dots(R, Pd)
    active = (bnorm > 0) & (np.sqrt(rr) > tol * bnorm)
    it = 0
    while active.any():
        if it >= max_iter:
            rel = np.where(active, np.sqrt(rr) / np.maximum(bnorm, 1e-300), 0)
            raise NumericalError(
                f"{what}: conjugate gradient did not converge in {max_iter} passes: "
                f"{int(active.sum())} of {k} right-hand sides above the relative residual "
                f"{tol:g} (worst {rel.max():.3g})")
        idx = np.flatnonzero(active)
        every = idx.size == k  # views instead of copies while every column is active
        Pa = Pd if every else Pd[:, idx]
        AP = apply(Pa, idx)
        pap = _dots(Pa, AP)
        if not (pap > 0).all():
            raise NumericalError(f"{what}: the system is not positive definite (p'Ap = "
                                 f"{pap.min():.3g}) after {it} passes")
        alpha = (rz[idx] / pap).astype(dtype)
        if every:
            X += Pa * alpha
            AP *= alpha
            R -= AP
            Ra = R
        else:
            X[:, idx] += Pa * alpha
            R[:, idx] -= AP * alpha
            Ra = R[:, idx]
        del AP
        rr[idx] = _dots(Ra, Ra)
        Za = Ra.copy() if precond is None else precond(Ra, idx)  # a new array either way
        rz_new = _dots(Ra, Za)
        Za += Pa * (rz_new / rz[idx]).astype(dtype)  # the new search directions
        if every:
            Pd = Za
        else:
            Pd[:, idx] = Za
        del Za, Pa
        rz[idx] = rz_new
        active[idx] = np.sqrt(rr[idx]) > tol * bnorm[idx]
        it += 1
    return CGResult(X=X, iterations=it, residual=np.sqrt(rr) / np.where(bnorm > 0, bnorm, 1.0),
                    seconds=time.perf_counter() - t0)


@dataclass(frozen=True)
class Deflation:
    """The leading eigenpairs of Q K Q (population structure): U (n, k)
    float64 orthonormal in range(Q), s (k,) their eigenvalues, s_mask
    (n_chrom, k) u'Q K_-c Q u per left-out chromosome, and the mean of the
    remaining spectrum (rest, and rest_mask (n_chrom,)).  Used twice: the CG
    preconditioner M = U diag(s + delta) U' + (rest + delta)(I - UU'), which
    takes the few large eigenvalues out of the condition number, and the
    calibration of x'Px, whose spread across variants comes mostly from
    these directions (:mod:`gwaslmm.scan.calibrated`)."""

    U: np.ndarray
    s: np.ndarray
    s_mask: np.ndarray
    rest: float
    rest_mask: np.ndarray

    def eigenvalues(self, mask: int) -> np.ndarray:
        return self.s if mask < 0 else self.s_mask[mask]

    def preconditioner(self, masks, delta):
        """precond(R, cols) for :func:`batched_cg` (per-column masks and delta)."""
        masks = np.asarray(masks, dtype=np.int64)
        delta = np.broadcast_to(np.asarray(delta, dtype=np.float64), masks.shape)
        S = np.where(masks[:, None] < 0, self.s[None, :],
                     self.s_mask[np.maximum(masks, 0)])  # (k_rhs, k)
        rest = np.where(masks < 0, self.rest, self.rest_mask[np.maximum(masks, 0)])
        inv_top = 1.0 / (S + delta[:, None])  # (k_rhs, k)
        inv_rest = 1.0 / (rest + delta)

        U32 = []

        def precond(R, cols):
            U = self.U
            if R.dtype == np.float32:  # a float32 solve: U in its precision, once
                if not U32:
                    U32.append(U.astype(np.float32))
                U = U32[0]
            C = U.T @ R  # (k, len(cols))
            return ((R - U @ C) * inv_rest[cols].astype(R.dtype)
                    + U @ (C * inv_top[cols].T.astype(R.dtype)))

        return precond


def top_eigen(op: KinshipOperator, k: int, seed: int = 7, iterations: int = 3) -> Deflation:
    """The k leading eigenpairs of Q K Q by randomized subspace iteration
    (k + 10 columns, ``iterations`` power passes, then Rayleigh-Ritz), and
    u' Q K_-c Q u for every chromosome c from one more pass (Z'U)."""
    from scipy.linalg import eigh, qr

    n = op.packed.n
    c = op.Wq.shape[1]
    k = int(max(1, min(k, n - c - 2)))
    p = min(k + 10, n - c)
    rng = np.random.default_rng(seed)
    Y = op.project(rng.standard_normal((n, p)))
    allm = np.full(p, ALL)
    for _ in range(iterations):
        Y = qr(op.project(op.kinship_times(Y, allm)), mode="economic")[0]
        Y = op.project(Y)
    AY = op.project(op.kinship_times(Y, allm))
    T = Y.T @ AY
    w, V = eigh(0.5 * (T + T.T))
    top = np.argsort(w)[::-1][:k]
    U = np.linalg.qr(Y @ V[:, top])[0]
    s = np.maximum(w[top], 0.0)
    # u'K_c u = |Z_c'u|^2 / M_c per chromosome, then K_-c = (M K - M_c K_c) / M_-c
    ZU = op.genotypes_t_times(U)
    nch = op.m_chrom.size
    part = np.zeros((nch, k))
    np.add.at(part, op.packed.chrom, ZU * ZU)  # sum over chromosome c's variants of (z'u)^2
    m_rest = (op.m - op.m_chrom).astype(float)
    s_mask = np.maximum((op.m * s[None, :] - part) / np.maximum(m_rest, 1)[:, None], 0.0)
    tr_all = op.t() * n
    tr_mask = np.array([op.t(ch) * n for ch in range(nch)])
    free = max(n - c - k, 1)
    rest = max((tr_all - s.sum()) / free, 1e-6)
    rest_mask = np.maximum((tr_mask - s_mask.sum(1)) / free, 1e-6)
    return Deflation(U=U, s=s, s_mask=s_mask, rest=float(rest), rest_mask=rest_mask)


def h_solve(op: KinshipOperator, B: np.ndarray, masks, delta, tol: float,
            what: str = "solve", deflation: Deflation | None = None,
            dtype=np.float64) -> CGResult:
    """x_j in range(Q) with (Q K_mask_j Q + delta_j I) x_j = Q b_j (B (n, k));
    delta a scalar or one per column; preconditioned with ``deflation``;
    ``dtype`` the precision of the iterates (see :func:`batched_cg`)."""
    k = B.shape[1]
    masks = np.broadcast_to(np.asarray(masks, dtype=np.int64), (k,))
    deltas = np.broadcast_to(np.asarray(delta, dtype=np.float64), (k,))

    def apply(P, cols):
        KP = op.project(op.kinship_times(P, masks[cols], out_dtype=dtype))
        KP += deltas[cols].astype(dtype) * P
        return KP

    pre = deflation.preconditioner(masks, deltas) if deflation is not None else None
    return batched_cg(apply, op.project(np.asarray(B, dtype=np.float64)), tol, what=what,
                      precond=pre, dtype=dtype)


@dataclass
class McRemlFit:
    """Monte-Carlo REML estimates (one kinship, all variants)."""

    name: str
    n: int
    c: int
    m: int
    delta: float
    sigma_g2: float
    sigma_e2: float
    h2: float
    h2_se: float       # AI-REML sampling SE
    h2_se_mc: float    # Monte-Carlo SE (jackknife over the random phenotypes)
    probes: int
    t: float
    beta: np.ndarray
    beta_se: np.ndarray
    steps: list = field(default_factory=list)  # (h2, f, CG passes) per secant step
    boundary: str = "none"
    seconds: float = 0.0

    @property
    def lam(self) -> float:
        return 1.0 / self.delta

    def row(self) -> list:
        vals = (self.h2, self.h2_se, self.sigma_g2, self.sigma_e2, self.lam, np.nan, np.nan,
                np.nan)
        return [self.name, self.n] + ["NA" if not np.isfinite(v) else f"{v:.8g}"
                                      for v in vals] + [self.boundary]

    def log_lines(self, label: str = "") -> list:
        lines = [f"null model{label} '{self.name}' (Monte-Carlo REML, {self.probes} random "
                 f"phenotypes, {self.m} variants): n = {self.n}, h2 = {self.h2:.6g} (se "
                 f"{self.h2_se:.3g}; Monte-Carlo se {self.h2_se_mc:.3g}), sigma_g2 = "
                 f"{self.sigma_g2:.6g}, sigma_e2 = {self.sigma_e2:.6g}, lambda = "
                 f"{self.lam:.6g}",
                 "  secant steps (h2, f, CG passes): " + "; ".join(
                     f"{h:.5f}, {f:+.4g}, {p}" for h, f, p in self.steps)]
        if self.boundary != "none":
            lines.append(f"  note: the REML equation has no root inside h2 in (0.001, 0.999) "
                         f"(f keeps its sign); h2 is at the {self.boundary} end and has no "
                         f"standard error")
        return lines


def _ratios(X: np.ndarray, B: np.ndarray, delta: float):
    """Per column x'Kx and x'x for solutions X of (QKQ + delta) X = B
    (QKQ x = b - delta x, so x'QKQx = x'b - delta x'x)."""
    xx = np.einsum("ij,ij->j", X, X)
    xkx = np.einsum("ij,ij->j", X, B) - delta * xx
    return xkx, xx


def mc_reml(op: KinshipOperator, y: np.ndarray, W: np.ndarray, name: str, seed: int = 1,
            probes: int | None = None, deflation: Deflation | None = None,
            fixed_effects: bool = True) -> McRemlFit:
    """Monte-Carlo REML of h2 for y (n,) float64 with covariates W (n, c)
    (intercept included) on the operator's kinship (all variants); the
    solves preconditioned with ``deflation`` when given; the GLS fixed
    effects (one more solve) unless ``fixed_effects`` is False (NaN)."""
    return mc_reml_masks(op, y, W, name, [ALL], seed, probes, deflation, fixed_effects)[0]


def mc_reml_masks(op: KinshipOperator, y: np.ndarray, W: np.ndarray, name: str, masks,
                  seed: int = 1, probes: int | None = None,
                  deflation: Deflation | None = None, fixed_effects: bool = True) -> list:
    """:func:`mc_reml` on each kinship K_mask of ``masks`` (ALL or a
    chromosome), every mask's secant steps in the same passes: a list of
    :class:`McRemlFit` (fixed effects only for ALL).  The random phenotypes
    share their draws: g_r = Z_-c beta_r / sqrt(M_-c) from one pass of
    per-chromosome products."""
    t0 = time.perf_counter()
    n, c = W.shape
    masks = [int(mk) for mk in masks]
    nm = len(masks)
    R = probes or n_probes(n)
    rng = np.random.default_rng(seed)
    yq = op.project(y)
    if not np.dot(yq, yq) > 1e-12 * max(np.dot(y, y), 1e-300):
        raise NumericalError(f"phenotype '{name}' is explained by the covariates (its residual "
                             f"variance is {np.dot(yq, yq) / n:.3g})")
    parts = op.genotypes_times_by_chromosome(rng.standard_normal((op.m, R)))
    total = parts.sum(axis=0)
    m_rest = op.m_without(np.array(masks))
    G = [op.project((total - (parts[mk] if mk >= 0 else 0.0)) / np.sqrt(m_rest[j]))
         for j, mk in enumerate(masks)]
    del parts, total
    E = op.project(rng.standard_normal((n, R)))
    t = np.array([op.t(mk) for mk in masks])
    steps = [[] for _ in masks]

    def f(which, log_delta):
        """f at log_delta[j] for masks ``which``: (val, py, jack) per mask."""
        deltas = np.exp(np.asarray(log_delta, dtype=float))
        B = np.column_stack([np.column_stack([yq, G[j] + np.sqrt(d) * E])
                             for j, d in zip(which, deltas)])
        cm = np.repeat([masks[j] for j in which], R + 1)
        cd = np.repeat(deltas, R + 1)
        passes0 = op.passes
        res = h_solve(op, B, cm, cd, REML_TOL, what="Monte-Carlo REML", deflation=deflation)
        out = []
        for i, (j, d) in enumerate(zip(which, deltas)):
            sl = slice(i * (R + 1), (i + 1) * (R + 1))
            xkx, xx = _ratios(res.X[:, sl], B[:, sl], d)
            data = np.log(xkx[0] / xx[0])
            val = float(data - np.log(xkx[1:].sum() / xx[1:].sum()))
            jack = np.array([data - np.log((xkx[1:].sum() - xkx[1 + r])
                                           / (xx[1:].sum() - xx[1 + r])) for r in range(R)])
            steps[j].append((t[j] / (t[j] + d), val, op.passes - passes0))
            out.append((val, res.X[:, sl.start], jack))
        return out

    lo_ld, hi_ld = np.log(t / 0.999 - t), np.log(t / 0.001 - t)  # h2 0.999 .. 0.001
    x0, x1 = np.log(t / 0.25 - t), np.log(t / 0.5 - t)  # start at h2 = 0.25 and 0.5
    everyone = list(range(nm))
    f0 = np.array([v for v, _, _ in f(everyone, x0)])
    got = f(everyone, x1)
    f1 = np.array([v for v, _, _ in got])
    py = [g[1] for g in got]
    jack = [g[2] for g in got]
    boundary = ["none"] * nm
    active = np.ones(nm, dtype=bool)
    for _ in range(SECANT_STEPS):
        which, nxt, last = [], [], []
        for j in np.flatnonzero(active):
            if f1[j] == f0[j]:
                active[j] = False
                continue
            x2 = float(np.clip(x1[j] - f1[j] * (x1[j] - x0[j]) / (f1[j] - f0[j]),
                               lo_ld[j], hi_ld[j]))
            converged = abs(x2 - x1[j]) < LOG_DELTA_TOL
            x0[j], f0[j], x1[j] = x1[j], f1[j], x2
            which.append(j)
            nxt.append(x2)
            last.append(converged)
        if not which:
            break
        for j, conv, (v, p, jk) in zip(which, last, f(which, nxt)):
            f1[j], py[j], jack[j] = v, p, jk
            if conv:
                active[j] = False
            elif x1[j] in (lo_ld[j], hi_ld[j]) and np.sign(f1[j]) == np.sign(f0[j]):
                boundary[j] = "upper" if x1[j] == lo_ld[j] else "lower"
                active[j] = False
    deltas = np.exp(x1)
    # AI-REML information in (sigma_g2, sigma_e2): AI_ij = y'P A_i P A_j P y / 2
    PYm = np.column_stack(py)
    KPY = op.project(op.kinship_times(PYm, np.array(masks)))
    aux = h_solve(op, np.column_stack([KPY, PYm]), np.array(masks * 2),
                  np.concatenate([deltas, deltas]), SOLVE_TOL, what="AI-REML",
                  deflation=deflation)
    fits = []
    for j, mk in enumerate(masks):
        delta = float(deltas[j])
        slope = (f1[j] - f0[j]) / (x1[j] - x0[j]) if x1[j] != x0[j] else np.nan
        sigma_g2 = float(np.dot(yq, py[j]) / (n - c))  # REML scale at delta: y'P_H y / (n - c)
        sigma_e2 = delta * sigma_g2
        h2 = t[j] / (t[j] + delta)
        # Monte-Carlo SE: the jackknife SD of f at the root over its slope in log delta
        var_f = (R - 1) / R * np.sum((jack[j] - jack[j].mean()) ** 2)
        se_mc = (float(h2 * (1 - h2) * np.sqrt(var_f) / abs(slope))
                 if np.isfinite(slope) and slope != 0 else float("nan"))
        vecs = np.column_stack([KPY[:, j], PYm[:, j]])
        U = np.column_stack([aux.X[:, j], aux.X[:, nm + j]])  # P_H K P_H y, P_H P_H y
        ai = 0.5 * (vecs.T @ U) / sigma_g2 ** 3  # sigma_g^2 P = P_H: three P's
        ai = 0.5 * (ai + ai.T)
        try:
            cov = np.linalg.inv(ai)
            grad = np.array([t[j] * sigma_e2, -t[j] * sigma_g2]) / (
                t[j] * sigma_g2 + sigma_e2) ** 2
            h2_se = float(np.sqrt(grad @ cov @ grad))
        except np.linalg.LinAlgError:
            h2_se = float("nan")
        if boundary[j] != "none":
            h2_se = se_mc = float("nan")
        if mk == ALL and fixed_effects:  # GLS: (W'V^-1W)^-1 W'V^-1 y, V^-1 [W, y] by CG
            beta, beta_se = _fixed_effects(op, W, y, delta, sigma_g2, deflation)
        else:
            beta = beta_se = np.full(c, np.nan)
        fits.append(McRemlFit(name=name, n=n, c=c, m=int(m_rest[j]), delta=delta,
                              sigma_g2=sigma_g2, sigma_e2=sigma_e2, h2=float(h2), h2_se=h2_se,
                              h2_se_mc=se_mc, probes=R, t=float(t[j]), beta=beta,
                              beta_se=beta_se, steps=steps[j], boundary=boundary[j],
                              seconds=time.perf_counter() - t0))
    return fits


def _fixed_effects(op: KinshipOperator, W: np.ndarray, y: np.ndarray, delta: float,
                   sigma_g2: float, deflation: Deflation | None = None):
    """GLS alpha and its SE: H^-1 [W, y] by CG on the full space (no projection)."""
    B = np.column_stack([W, y]).astype(np.float64)

    def apply(P, cols):
        return op.kinship_times(P, np.full(P.shape[1], ALL)) + delta * P

    pre = (deflation.preconditioner(np.full(B.shape[1], ALL), delta)
           if deflation is not None else None)
    res = batched_cg(apply, B, SOLVE_TOL, what="fixed effects", precond=pre)
    HiW = res.X[:, :-1]
    A = W.T @ HiW
    try:
        Ai = np.linalg.inv(A)
    except np.linalg.LinAlgError:
        nan = np.full(W.shape[1], np.nan)
        return nan, nan
    beta = Ai @ (W.T @ res.X[:, -1])
    se = np.sqrt(np.clip(np.diag(Ai) * sigma_g2, 0, None))
    return beta, se
