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
