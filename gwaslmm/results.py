"""Reading association result files: gwaslmm's own table (:mod:`gwaslmm.schema`)
and, for plotting, the result files of GEMMA, PLINK 2, BOLT-LMM and REGENIE.

:func:`read_header` recognizes a file by its header and maps its columns to
the canonical names (chromosome, base_pair_location, variant_id, and the
p-value as p_value or neg_log_10_p_value), with the row filter the format
needs (PLINK 2 and REGENIE write one row per term; only ``TEST == ADD`` rows
are the variant's additive test).  merge, plot and the tests read through
this module.

| format | chromosome | position | ID | p-value (first present) | separator |
|---|---|---|---|---|---|
| gwaslmm (GWAS-SSF) | chromosome | base_pair_location | variant_id | neg_log_10_p_value, p_value | tab |
| GEMMA .assoc.txt | chr | ps | rs | p_wald, p_lrt, p_score | tab |
| PLINK 2 .glm.* | #CHROM | POS | ID | LOG10_P (-log10), P | tab |
| BOLT-LMM .stats | CHR | BP | SNP | P_BOLT_LMM, P_BOLT_LMM_INF | tab |
| REGENIE .regenie | CHROM | GENPOS | ID | LOG10P (-log10) | space |
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass

import numpy as np

from .errors import InputError

# (name, {canonical: [candidates]}, p candidates [(column, is -log10)], filter, separator)
_FORMATS = [
    ("gwaslmm", {"chromosome": ["chromosome"], "base_pair_location": ["base_pair_location"],
                 "variant_id": ["variant_id"]},
     [("neg_log_10_p_value", True), ("p_value", False)], None, "\t"),
    ("PLINK 2", {"chromosome": ["#CHROM", "CHROM"], "base_pair_location": ["POS"],
                 "variant_id": ["ID"]},
     [("LOG10_P", True), ("P", False)], ("TEST", "ADD"), "\t"),
    ("REGENIE", {"chromosome": ["CHROM"], "base_pair_location": ["GENPOS"],
                 "variant_id": ["ID"]},
     [("LOG10P", True), ("P", False)], ("TEST", "ADD"), " "),
    ("BOLT-LMM", {"chromosome": ["CHR"], "base_pair_location": ["BP"], "variant_id": ["SNP"]},
     [("P_BOLT_LMM", False), ("P_BOLT_LMM_INF", False)], None, "\t"),
    ("GEMMA", {"chromosome": ["chr"], "base_pair_location": ["ps"], "variant_id": ["rs"]},
     [("p_wald", False), ("p_lrt", False), ("p_score", False)], None, "\t"),
]
MISSING_TOKENS = {b"NA", b"na", b"NaN", b"nan", b"", b".", b"-nan"}


@dataclass(frozen=True)
class Header:
    """A result file's header, mapped to canonical columns.

    columns : the header's names as written; fmt : which tool wrote it;
    chromosome, position, p : column indices; variant_id : index or -1;
    p_is_neglog10 : whether the p column holds -log10 p; p_name : its name;
    test_col : index of the TEST column whose value must equal ``test_value``
    (-1: no filter); sep : the field separator byte.
    """

    columns: list
    fmt: str
    chromosome: int
    position: int
    p: int
    variant_id: int
    p_is_neglog10: bool
    p_name: str
    test_col: int
    test_value: bytes
    sep: bytes


def open_binary(path: str):
    """(binary stream, underlying raw file, is_gzip); gzip detected by its magic
    bytes (1f 8b), whatever the file name."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"association file {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot open association file {path}: {exc.strerror}") from None
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, True
    return raw, raw, False


def _split_header(text: str, sep: str) -> list:
    return [c.strip() for c in (text.split(sep) if sep == "\t" else text.split())]


def read_header(path: str, header: bytes) -> Header:
    """Recognize the format from the header line (bytes) and map its columns."""
    if not header:
        raise InputError(f"association file {path} is empty (no header line)")
    try:
        text = header.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(f"association file {path}: header line is not text "
                         f"(is it a compressed format other than gzip?)") from None
    tried = []
    for name, cols_map, p_cands, filt, sep in _FORMATS:
        cols = _split_header(text, sep)
        plain = [c.lstrip("#") if k == 0 and name == "gwaslmm" else c
                 for k, c in enumerate(cols)]
        found = {}
        for canon, cands in cols_map.items():
            found[canon] = next((plain.index(c) for c in cands if c in plain), -1)
        p = next(((plain.index(c), c, lg) for c, lg in p_cands if c in plain), None)
        if found["chromosome"] < 0 or found["base_pair_location"] < 0 or p is None:
            tried.append((name, found, p, plain))
            continue
        for c in [plain[found["chromosome"]], plain[found["base_pair_location"]], p[1]] + \
                ([plain[found["variant_id"]]] if found["variant_id"] >= 0 else []):
            if plain.count(c) > 1:
                raise InputError(f"association file {path}: column {c} appears "
                                 f"{plain.count(c)} times in the header")
        test_col = plain.index(filt[0]) if filt and filt[0] in plain else -1
        return Header(columns=plain, fmt=name, chromosome=found["chromosome"],
                      position=found["base_pair_location"], p=p[0],
                      variant_id=found["variant_id"], p_is_neglog10=p[2], p_name=p[1],
                      test_col=test_col, test_value=(filt[1].encode() if filt else b""),
                      sep=sep.encode())
    cols = _split_header(text, "\t")
    shown = ", ".join(cols[:12]) + (f", ... ({len(cols)} columns)" if len(cols) > 12 else "")
    missing = ["chromosome", "base_pair_location", "neg_log_10_p_value (or p_value)"]
    own = tried[0]
    missing = [m for m, ok in zip(missing, (own[1]["chromosome"] >= 0,
                                            own[1]["base_pair_location"] >= 0,
                                            own[2] is not None)) if not ok]
    hint = ("; the header has no tab: the file must be tab-separated"
            if len(cols) == 1 and (" " in text or "," in text) else "")
    raise InputError(f"association file {path} lacks column(s) {', '.join(missing)} "
                     f"(header: {shown}){hint}; GEMMA, PLINK 2, BOLT-LMM and REGENIE result "
                     f"files are also recognized by their headers")


def read_table(path: str) -> tuple:
    """A gwaslmm result table (gzip or plain) as (header list, rows as lists of str)."""
    fh, raw, _ = open_binary(path)
    try:
        text = fh.read().decode("utf-8")
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read {path} ({exc}); is it complete?") from None
    finally:
        fh.close()
        raw.close()
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise InputError(f"{path} is empty (no header line)")
    return lines[0].split("\t"), lines[1:]


def read_columns(path: str) -> dict:
    """A gwaslmm result table as {column: ndarray of str} (for small files and tests)."""
    header, lines = read_table(path)
    rows = [ln.split("\t") for ln in lines]
    if not rows:
        return {c: np.zeros(0, dtype=str) for c in header}
    arr = np.array(rows, dtype=str)
    return {c: arr[:, j] for j, c in enumerate(header)}


def numeric(values: np.ndarray) -> np.ndarray:
    """float64 of text values, NA as NaN."""
    out = np.full(values.size, np.nan)
    ok = values != "NA"
    out[ok] = values[ok].astype(float)
    return out
