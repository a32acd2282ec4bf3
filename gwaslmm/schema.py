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
from .columns import METHOD_LABELS
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
    info: np.ndarray | None = None


def _p(attr):
    return lambda b: format_p(b.result.value(attr)) if b.result.value(attr) is not None \
        else ["NA"] * b.idx.size


def _num(attr, spec=".8g"):
    return lambda b: fmt_float(b.result.value(attr), spec)


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
    "info": lambda b: fmt_float(b.info, ".6g"),
    "score_z": _num("score_z"),
    "p_method": lambda b: [METHOD_LABELS[int(x)] for x in b.result.value("p_method")],
    "af_cases": _num("af_cases", ".6g"),
    "af_controls": _num("af_controls", ".6g"),
    "n_cases": lambda b: [str(int(b.result.value("n_cases")))] * b.idx.size,
    "n_controls": lambda b: [str(int(b.result.value("n_controls")))] * b.idx.size,
    "beta_firth": _num("beta_firth"),
    "se_firth": _num("se_firth"),
    "p_firth": _p("neglog10_p_firth"),
    **{c: _num(c) for c in ("beta_gxe", "se_gxe", "beta_between", "se_between", "beta_diff",
                            "se_diff")},
    **{c: _p("neglog10_" + c) for c in ("p_gxe", "p_joint", "p_between", "p_diff")},
}


def format_rows(block: RowBlock, header: list) -> dict:
    """Column name -> list of strings for the rows of one block."""
    return {c: _FORMAT[c](block) for c in header}


# ---------------------------------------------------------------------------
# The same rows as bytes, by the numba kernel of gwaslmm.format_kernels
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TextTables:
    """The variant table's text columns as fixed-width bytes, made once per
    scan: tables (4 uint8 arrays (m, w)) for variant ID, chromosome, effect and
    other allele, and their lengths (4, m) int64."""

    tables: tuple
    lens: np.ndarray

    @classmethod
    def of(cls, variants) -> "TextTables":
        cols, lens = [], []
        for arr in (variants.id, variants.chromosome, variants.effect_allele,
                    variants.other_allele):
            a = np.asarray(arr)
            try:
                b = a.astype("S") if a.size else np.zeros(0, "S1")
            except UnicodeEncodeError:  # non-ASCII text: encode each as UTF-8
                b = np.array([str(x).encode("utf-8") for x in a.tolist()])
            w = max(1, b.dtype.itemsize)
            t = np.frombuffer(np.ascontiguousarray(b, dtype=f"S{w}").tobytes(),
                              dtype=np.uint8).reshape(a.size, w) if a.size else \
                np.zeros((0, w), np.uint8)
            cols.append(np.ascontiguousarray(t))
            lens.append(np.char.str_len(b).astype(np.int64) if a.size else np.zeros(0, np.int64))
        return cls(tables=tuple(cols), lens=np.ascontiguousarray(np.vstack(lens)))


# column -> (kind, where): kinds of gwaslmm.format_kernels; where: a text table
# (0 ID, 1 chromosome, 2 effect, 3 other allele), or the attribute holding the values
_KINDS = {
    "chromosome": (0, 1), "base_pair_location": (1, "position"), "variant_id": (0, 0),
    "effect_allele": (0, 2), "other_allele": (0, 3), "effect_allele_frequency": (3, "af"),
    "n": (5, "n"), "beta": (2, "beta"), "standard_error": (2, "se"),
    "p_value": (4, "neglog10_p"), "neg_log_10_p_value": (3, "neglog10_p"),
    "p_wald": (4, "neglog10_p_wald"), "p_lrt": (4, "neglog10_p_lrt"),
    "p_score": (4, "neglog10_p_score"), "lambda_remle": (2, "lambda_remle"),
    "lambda_mle": (2, "lambda_mle"), "logl_h1": (2, "logl_h1"), "n_miss": (1, "n_miss"),
    "t_stat": (2, "t_stat"), "chi2_lrt": (2, "chi2_lrt"), "f_score": (2, "f_score"),
    "info": (3, "info"), "score_z": (2, "score_z"), "p_method": (6, "p_method"),
    "af_cases": (3, "af_cases"), "af_controls": (3, "af_controls"),
    "n_cases": (5, "n_cases"), "n_controls": (5, "n_controls"),
    "beta_firth": (2, "beta_firth"), "se_firth": (2, "se_firth"),
    "p_firth": (4, "neglog10_p_firth"),
    **{c: (2, c) for c in ("beta_gxe", "se_gxe", "beta_between", "se_between", "beta_diff",
                           "se_diff")},
    **{c: (4, "neglog10_" + c) for c in ("p_gxe", "p_joint", "p_between", "p_diff")},
}
POW10 = np.array([10.0 ** k for k in range(23)])


def format_text(block: RowBlock, header: list, text: TextTables) -> bytes:
    """The rows of one block as UTF-8 text, tab-separated, one per line: the
    same bytes as joining :func:`format_rows` (numba kernel; the few values it
    cannot round with certainty, or p-values below 1e-290, are formatted by
    Python and the block written again with them)."""
    from .format_kernels import format_block

    k = block.idx.size
    res = block.result
    floats, ints, const, labels = [], [], [], []
    kinds = np.empty(len(header), np.int64)
    src = np.empty(len(header), np.int64)
    for c, name in enumerate(header):
        kind, where = _KINDS[name]
        kinds[c] = kind
        if kind == 0:
            src[c] = where
        elif kind == 5:
            src[c] = len(const)
            const.append(block.n if where == "n" else int(res.value(where)))
        elif kind == 6:  # a label per row: written through the override table
            kinds[c], src[c] = 0, 0
            labels.append((c, res.value(where)))
        elif kind == 1:
            src[c] = len(ints)
            ints.append(block.variants.position[block.idx] if where == "position"
                        else block.n_miss)
        else:
            src[c] = len(floats)
            v = block.allele_freq if where == "af" else block.info if where == "info" \
                else res.value(where)
            floats.append(np.full(k, np.nan) if v is None else v)
    F = np.ascontiguousarray(np.vstack(floats) if floats else np.zeros((0, k)), np.float64)
    Iv = np.ascontiguousarray(np.vstack(ints) if ints else np.zeros((0, k)), np.int64)
    t = text.tables
    width = sum(tb.shape[1] for tb in t) + 24 * len(header) + 8
    out = np.empty(k * width + 16, np.uint8)
    ov = np.full((k, len(header)), -1, np.int64)
    flags = np.empty((k * len(header), 2), np.int64)
    args = (kinds, src, F, Iv, t[0], t[1], t[2], t[3], text.lens,
            np.ascontiguousarray(block.idx, np.int64), np.array(const, np.int64), POW10)
    parts = [lab.encode() for lab in METHOD_LABELS] if labels else []
    for c, codes in labels:
        ov[:, c] = codes
    off0 = np.zeros(len(parts) + 1, np.int64)
    off0[1:] = np.cumsum([len(p) for p in parts])
    base = (np.frombuffer(b"".join(parts), np.uint8).copy(), off0)
    n, nflag = format_block(*args, ov, *base, out, flags)
    if nflag:  # format those values in Python, then write the block again with them
        parts = list(parts)
        for r, c in flags[:nflag]:
            kind, x = kinds[c], F[src[c], r]
            txt = format_p([x])[0] if kind == 4 else fmt_float([x], ".8g" if kind == 2 else
                                                             ".6g")[0]
            ov[r, c] = len(parts)
            parts.append(txt.encode())
        off = np.zeros(len(parts) + 1, np.int64)
        off[1:] = np.cumsum([len(p) for p in parts])
        n, _ = format_block(*args, ov, np.frombuffer(b"".join(parts), np.uint8).copy(), off,
                            out, flags)
    return out[:n].tobytes()
