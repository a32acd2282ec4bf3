"""Fixed-variance tests for the large-sample (CG) engine: x'Py exact from one
solve per LOCO mask, x'Px from a calibration factor, exact where it matters.

With H = K_c + delta I (the null model of :mod:`gwaslmm.nullmodel.cg`, delta
fixed at its REML estimate) the statistics are those of the dense engine's
``--fast`` scan (:func:`gwaslmm.scan.fixed.fixed_variance_stats`: Wald F
with the scale re-estimated per variant) from q = y'P y, b = x'P y and a =
x'P x.  b comes from P y (one CG solve per left-out chromosome); a is
approximated with the leading eigenpairs (u_i, s_i) of the kinship:
x'Px ~ sum_i (u_i'x)^2 / (s_i + delta) + gamma (x'Qx - sum_i (u_i'x)^2), Q
the covariate projection, gamma the mean of that remainder's ratio over
random variants solved exactly (the device of BOLT-LMM, fastGWA and SAIGE,
whose single ratio x'Px / x'Qx varies by about 5% between variants on
structured samples; deflating the population-structure directions leaves
about 0.4%: benchmarks/cg_continuity.py, 5,000-sample simulation).  Every variant whose
approximate p is below a threshold is re-tested with its own solve, so a, b
and q are exact there (``p_method`` ``exact``; the others ``calibrated``).
Re-tests of the packed (kinship) variants are solved together before the scan
(:func:`retest_packed`); a
tested variant outside them is solved in its block.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from ..columns import METHOD_LABELS
from .base import BlockResult, Prepared, collinear, column_sumsq
from .designs import ADDITIVE
from .fixed import block_result, fixed_variance_stats
from .pvalues import neglog10_f1

CALIBRATED = METHOD_LABELS.index("calibrated")
EXACT = METHOD_LABELS.index("exact")
COLUMNS = {"wald": ("t_stat", "p_method"), "score": ("t_stat", "f_score", "p_method")}


@dataclass(frozen=True)
class CGPrepared(Prepared):
    """A block for :class:`CalibratedScanner`: Xt the kept raw (mean-imputed)
    genotypes (n, k) float64; sxx (k,) = x'Qx; idx (k,) their variant indices."""

    sxx: np.ndarray = None
    idx: np.ndarray = None


@dataclass
class MaskSolution:
    """What the scan of one LOCO mask needs: py = P_H y (n,), q = y'P_H y,
    gamma the calibration factor and its SE, ``exact`` {variant index: (a, b)}
    on the raw genotype scale and ``q_exact`` (float64 solve) when there are
    re-tested variants."""

    mask: int
    py: np.ndarray
    q: float
    gamma: float
    gamma_se: float
    exact: dict
    inv_top: np.ndarray = None  # (k,) 1 / (s_i + delta) of the mask's leading eigenvalues
    q_exact: float | None = None
    _table: tuple | None = field(default=None, repr=False)  # ``exact`` as sorted arrays

    def exact_rows(self, idx: np.ndarray):
        """(hit (k,) bool, a, b of the hits) for variant indices ``idx``: the
        re-tested values, looked up in ``exact`` (filled before the scan)."""
        if self._table is None or self._table[0].size != len(self.exact):
            keys = np.array(sorted(self.exact), dtype=np.int64)
            vals = np.array([self.exact[k] for k in keys.tolist()]).reshape(-1, 2)
            self._table = (keys, vals)
        keys, vals = self._table
        if not keys.size:
            return np.zeros(idx.size, dtype=bool), vals[:0, 0], vals[:0, 1]
        at = np.minimum(np.searchsorted(keys, idx), keys.size - 1)
        hit = keys[at] == idx
        return hit, vals[at[hit], 0], vals[at[hit], 1]


class CalibratedScanner:
    """:class:`~gwaslmm.scan.base.Scanner` of the CG engine for one LOCO mask.

    sol : :class:`MaskSolution`; Wq (n, c) the covariates' basis; solver :
    ``solver(X (n, k), mask) -> (a, b, q)`` (each (k,)) exact values by a
    float64 CG solve (for re-tests found in a block); retest_p : re-test
    variants with an approximate p below it."""

    copies_per_variant = 2  # the block's float64 buffer and U'X, P y products are small
    max_block = 256  # variants per block: the engine is for many samples, keep blocks small

    def __init__(self, sol: MaskSolution, Wq: np.ndarray, U: np.ndarray, test: str, solver,
                 retest_p: float):
        self.sol, self.Wq, self.U, self.solver = sol, Wq, U, solver
        self.test_name, self.design = test, ADDITIVE
        self.label = f"cg {test}"
        self.columns = COLUMNS[test]
        self.n, self.c = Wq.shape
        self.df = self.n - self.c - 1
        self.retest_nl = -np.log10(retest_p)
        self.stages = {}
        self.reserved_bytes = 0
        self._idx = None
        self.retested_in_scan = 0

    def locate(self, idx: np.ndarray) -> None:
        """The variant indices of the columns the next ``prepare`` gets."""
        self._idx = np.asarray(idx, dtype=np.int64)

    def prepare(self, X: np.ndarray) -> Prepared:
        raw = column_sumsq(X)
        sxx = raw - column_sumsq(self.Wq.T @ X)
        keep = ~collinear(raw, sxx)
        idx = self._idx if self._idx is not None else np.full(X.shape[1], -1)
        Xk = X[:, keep] if not keep.all() else X  # tested before the next block is read
        return CGPrepared(Xt=Xk, keep=keep, sxx=sxx[keep], idx=idx[keep])

    def test(self, prep: CGPrepared) -> BlockResult:
        sol = self.sol
        X = prep.Xt
        b = X.T @ sol.py
        top, rest = deflated_parts(self.U.T @ X, prep.sxx, sol.inv_top[:, None])
        a = top + sol.gamma * rest
        q = np.full(b.size, sol.q)
        code = np.full(b.size, CALIBRATED, dtype=np.int64)
        hit, a_exact, b_exact = sol.exact_rows(prep.idx)
        if hit.any():
            a[hit], b[hit], q[hit], code[hit] = a_exact, b_exact, sol.q_exact, EXACT
        st = fixed_variance_stats(q, self.df, self.n, a, b)
        nl = neglog10_f1(st["F_wald"], self.df)
        miss = np.flatnonzero((code == CALIBRATED) & (nl > self.retest_nl))
        if miss.size:  # below the threshold yet not solved before the scan
            ae, be, qe = self.solver(X[:, miss], sol.mask)
            a[miss], b[miss], q[miss] = ae, be, qe
            code[miss] = EXACT
            self.retested_in_scan += miss.size
            st = fixed_variance_stats(q, self.df, self.n, a, b)
        return replace(block_result(prep, st, self.df, self.test_name),
                       extra={"p_method": code})


def deflated_parts(UX: np.ndarray, sxx: np.ndarray, inv_top: np.ndarray):
    """The calibrated x'Px in two parts, per variant: top = sum_i (u_i'x)^2 /
    (s_i + delta) over the leading eigenpairs (exact where U is the mask's
    eigenbasis) and rest = x'Qx - sum_i (u_i'x)^2, which gamma multiplies.
    UX (k, m) = U'x; sxx (m,) = x'Qx; inv_top (k, m) or (k, 1) = 1/(s_i + delta)."""
    sq = UX * UX
    return (sq * inv_top).sum(axis=0), sxx - sq.sum(axis=0)


def inverse_top(deflation, masks: np.ndarray, delta: float) -> np.ndarray:
    """1 / (s_i + delta) per mask: (len(masks), k)."""
    return np.array([1.0 / (deflation.eigenvalues(int(mk)) + delta) for mk in masks])


def approximate_neglog10(q, df: int, n: int, a, b) -> np.ndarray:
    """-log10 p of the fixed-variance Wald test from q, a, b (arrays (m,))."""
    return neglog10_f1(fixed_variance_stats(q, df, n, a, b)["F_wald"], df)
