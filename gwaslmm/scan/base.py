"""The scanner interface: per-variant tests on blocks, against a null model.

The scan loop (:mod:`gwaslmm.drivers.scan_loop`) hands a scanner each block
of mean-imputed genotypes X (n, m); ``prepare(X)`` brings it into the
scanner's space (rotated by the eigenvectors, or whitened) and drops the
variants that GEMMA's rule calls collinear with the covariates; ``test``
returns a :class:`BlockResult`.  A scanner declares up front which optional
output columns it fills (``columns``, names of :mod:`gwaslmm.schema`), the
n x n memory it holds (``reserved_bytes``, for the block size), its label
for the metadata, and takes a per-variant design (:mod:`.designs`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

R2_MAX = 0.9999
TESTS = ("wald", "lrt", "score", "all")


@dataclass(frozen=True)
class Prepared:
    """A block in the scanner's space: Xt (n', k) float64, the k variants kept (a
    two-column design: a pair of such arrays);
    keep (m,) bool over the block's variants (False: collinear, not tested)."""

    Xt: np.ndarray
    keep: np.ndarray


@dataclass(frozen=True)
class BlockResult:
    """Per-variant results of the k tested variants of a block (each (k,) float64).

    keep (m,) bool: which variants of the block were tested.  beta, se: the
    effect of one copy of the effect allele and its SE; t_stat = beta/se;
    neglog10_p: -log10 p of the scanner's main test.  The rest is None where
    the scanner does not compute it: -log10 p of each test, the LRT and score
    statistics, the per-variant lambda estimates and log-likelihood.
    n_boundary: variants whose REML lambda sits at a bound of its range.
    """

    keep: np.ndarray
    beta: np.ndarray
    se: np.ndarray
    t_stat: np.ndarray
    neglog10_p: np.ndarray
    neglog10_p_wald: np.ndarray | None = None
    neglog10_p_lrt: np.ndarray | None = None
    neglog10_p_score: np.ndarray | None = None
    chi2_lrt: np.ndarray | None = None
    f_score: np.ndarray | None = None
    lambda_remle: np.ndarray | None = None
    lambda_mle: np.ndarray | None = None
    logl_h1: np.ndarray | None = None
    n_boundary: int = 0
    extra: dict | None = None  # a design's own columns: name -> (k,) values

    def value(self, name: str):
        """A field, or a design's extra column (None where absent)."""
        if self.extra is not None and name in self.extra:
            return self.extra[name]
        return getattr(self, name, None)


@runtime_checkable
class Scanner(Protocol):
    label: str            # for the metadata, e.g. "exact wald"
    columns: tuple        # optional output columns it fills (gwaslmm.schema)
    reserved_bytes: int   # n x n memory it holds, for the block size
    stages: dict          # seconds spent building it, by stage name, for the log

    def prepare(self, X: np.ndarray) -> Prepared:
        """X (n, m) float64, F-order, mean-imputed genotypes; may be overwritten."""

    def test(self, prepared: Prepared) -> BlockResult: ...


def collinear(X_raw_sq: np.ndarray, sxx: np.ndarray) -> np.ndarray:
    """GEMMA's skip rule: uncentred r^2 of x on W = 1 - |B'x|^2/|x|^2 > 0.9999.

    X_raw_sq (m,) = x'x of the imputed (uncentred) SNP; sxx (m,) = |B'x|^2.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = 1.0 - sxx / X_raw_sq
    return ~(r2 <= R2_MAX)


def column_sumsq(X: np.ndarray) -> np.ndarray:
    """x'x of every column of X (n, m): (m,) float64."""
    return np.einsum("ij,ij->j", X, X)


def safe_ratio(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return a / b
