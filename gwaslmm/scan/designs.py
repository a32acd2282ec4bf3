"""Per-variant designs: what a variant contributes to the tested model.

A design turns a block of genotypes X (n, m) into the columns tested per
variant: the additive model tests x itself; a gene-by-environment design
would test (x, x e), a within/between-family design (x - family mean,
family mean).  Scanners take a design and say which they support.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Additive:
    """y = W alpha + x beta + g + e: one tested column per variant, x itself."""

    terms: tuple = ("x",)

    def columns(self, X: np.ndarray) -> tuple:
        return (X,)


ADDITIVE = Additive()


@dataclass(frozen=True, eq=False)
class GxE:
    """y = W alpha + x beta + (x e) delta + g + e: the variant's main effect x
    and its interaction with the environment e (n,) float64, a column of W
    (:mod:`gwaslmm.scan.gxe`)."""

    env: np.ndarray
    name: str = "e"
    terms: tuple = ("x", "x*e")

    def columns(self, X: np.ndarray) -> tuple:
        return X, X * self.env[:, None]
