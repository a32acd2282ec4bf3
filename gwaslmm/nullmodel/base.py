"""The null-model interface: a fitted model of one phenotype without any
tested variant, which hands the scan what it needs.

A null model carries its estimates (``fit``: variance components with SEs,
fixed effects, h2, log-likelihoods; :meth:`NullEstimates.row` gives the
``reml`` output row, :meth:`NullEstimates.log_lines` its log lines), a
``fingerprint`` that ties result chunks to the model, and ``solve(B)`` =
V^-1 B (prediction).  Which scanner runs on which null model is decided in
one table, :mod:`gwaslmm.methods`.  LOCO is a property of how null models
are made (one per left-out chromosome, :mod:`gwaslmm.drivers.models`), not
of the model.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np

from ..columns import FIXED_COLUMNS, REML_COLUMNS  # noqa: F401


@runtime_checkable
class NullEstimates(Protocol):
    name: str
    n: int
    h2: float
    h2_se: float
    beta: np.ndarray
    beta_se: np.ndarray

    def row(self) -> list:
        """Values of REML_COLUMNS, formatted."""

    def log_lines(self, label: str = "") -> list:
        """What the log says about the fit."""


@runtime_checkable
class NullModel(Protocol):
    fit: NullEstimates

    @property
    def fingerprint(self) -> str: ...

    def solve(self, B: np.ndarray) -> np.ndarray:
        """V^-1 B for B (n,) or (n, k) float64 over the analysed samples."""
