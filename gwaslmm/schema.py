"""The association table: every column's name, meaning and format, in one place.

Columns, in this order (GWAS-SSF v1.1 names first), then the optional
columns a scanner declares, in the order of OPTIONAL_COLUMNS.  Numbers are
printed with 8 significant digits (frequencies and -log10 p with 6), p-values
from -log10 p so that they stay exact below the float64 range, missing
values as NA.  Readers of this table are in :mod:`gwaslmm.results`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .columns import ALWAYS, ASSOC_COLUMNS, BASE_COLUMNS, OPTIONAL_COLUMNS  # noqa: F401
from .scan.base import BlockResult

def assoc_header(scanner_columns) -> list:
    """Base columns, then the scanner's and the always-written optional ones."""
    want = set(scanner_columns) | set(ALWAYS)
    unknown = want - set(OPTIONAL_COLUMNS)
    if unknown:
        raise ValueError(f"unknown output columns {sorted(unknown)}")
    return list(BASE_COLUMNS) + [c for c in OPTIONAL_COLUMNS if c in want]


def format_p(neglog10: np.ndarray) -> list:
    """p-values as text from -log10 p, exact also below the float64 range."""
    out = []
    for L in neglog10:
        if not np.isfinite(L):
            out.append("NA")
        elif L < 290:
            out.append(f"{10.0 ** (-L):.6g}")
        else:
            e = int(np.floor(L))
            mant = 10.0 ** (e - L)  # in (0.1, 1]
            if mant < 1:
                mant *= 10
                e += 1
            out.append(f"{mant:.5f}e-{e}")
    return out


def fmt_float(v: np.ndarray, spec: str = ".8g") -> list:
    return ["NA" if not np.isfinite(x) else format(x, spec) for x in v]


@dataclass(frozen=True)
class RowBlock:
    """What the rows of one block are made of: the variant table, the indices
    ``idx`` (k,) of the tested variants, their allele frequencies and missing
    calls (k,), the sample count n and the scanner's result."""

    variants: object
    idx: np.ndarray
    allele_freq: np.ndarray
    n_miss: np.ndarray
    n: int
    result: BlockResult


def _p(attr):
    return lambda b: format_p(getattr(b.result, attr)) if getattr(b.result, attr) is not None \
        else ["NA"] * b.idx.size


def _num(attr, spec=".8g"):
    return lambda b: fmt_float(getattr(b.result, attr), spec)


_FORMAT = {
    "chromosome": lambda b: b.variants.chromosome[b.idx].tolist(),
    "base_pair_location": lambda b: [str(x) for x in b.variants.position[b.idx]],
    "variant_id": lambda b: b.variants.id[b.idx].tolist(),
    "effect_allele": lambda b: b.variants.effect_allele[b.idx].tolist(),
    "other_allele": lambda b: b.variants.other_allele[b.idx].tolist(),
    "effect_allele_frequency": lambda b: fmt_float(b.allele_freq, ".6g"),
    "n": lambda b: [str(b.n)] * b.idx.size,
    "beta": _num("beta"),
    "standard_error": _num("se"),
    "p_value": _p("neglog10_p"),
    "neg_log_10_p_value": _num("neglog10_p", ".6g"),
    "p_wald": _p("neglog10_p_wald"),
    "p_lrt": _p("neglog10_p_lrt"),
    "p_score": _p("neglog10_p_score"),
    "lambda_remle": _num("lambda_remle"),
    "lambda_mle": _num("lambda_mle"),
    "logl_h1": _num("logl_h1"),
    "n_miss": lambda b: [str(int(x)) for x in b.n_miss],
    "t_stat": _num("t_stat"),
    "chi2_lrt": _num("chi2_lrt"),
    "f_score": _num("f_score"),
}


def format_rows(block: RowBlock, header: list) -> dict:
    """Column name -> list of strings for the rows of one block."""
    return {c: _FORMAT[c](block) for c in header}
