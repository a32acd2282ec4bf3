"""Result files: the association table (GWAS-SSF column names), its metadata,
and the atomic-write helpers every output goes through.

Columns, in this order (GWAS-SSF v1.1 names first):
chromosome, base_pair_location, variant_id, effect_allele (A1, .bim column 5),
other_allele, effect_allele_frequency (A1 frequency over the analysed samples),
n, beta, standard_error, p_value, neg_log_10_p_value; then, by test,
p_wald, p_lrt, p_score (with --test all) and lambda_remle, lambda_mle,
logl_h1 (exact mode).
"""

from __future__ import annotations

import gzip
import io
import os
from contextlib import contextmanager

import numpy as np

BASE_COLUMNS = ["chromosome", "base_pair_location", "variant_id", "effect_allele",
                "other_allele", "effect_allele_frequency", "n", "beta", "standard_error",
                "p_value", "neg_log_10_p_value"]


def assoc_columns(test: str, fast: bool) -> list:
    cols = list(BASE_COLUMNS)
    if test == "all":
        cols += ["p_wald", "p_lrt", "p_score"]
    if not fast:
        if test in ("wald", "all"):
            cols.append("lambda_remle")
        if test in ("lrt", "all"):
            cols.append("lambda_mle")
        if test in ("wald", "lrt", "all"):
            cols.append("logl_h1")
    return cols


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


def output_path(prefix: str, no_gzip: bool) -> str:
    return prefix + (".assoc.tsv" if no_gzip else ".assoc.tsv.gz")


def ensure_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)


class AssocWriter:
    """Streams row blocks to ``<path>.partial`` and renames on :meth:`finish`."""

    def __init__(self, path: str, columns: list):
        self.path = path
        self.tmp = path + ".partial"
        self.columns = columns
        ensure_parent(path)
        raw = open(self.tmp, "wb")
        if path.endswith(".gz"):
            # mtime=0 so identical content gives identical bytes (chunk merge test).
            self._fh = io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                      compresslevel=6), encoding="utf-8")
            self._raw = raw
        else:
            self._fh = io.TextIOWrapper(raw, encoding="utf-8")
            self._raw = None
        self._fh.write("\t".join(columns) + "\n")
        self.rows = 0

    def write_block(self, cols: dict) -> None:
        """cols: column name -> list of strings (all the same length)."""
        lists = [cols[c] for c in self.columns]
        lines = ["\t".join(row) for row in zip(*lists)]
        if lines:
            self._fh.write("\n".join(lines) + "\n")
        self.rows += len(lines)

    def write_lines(self, lines: list) -> None:
        if lines:
            self._fh.write("".join(lines))
        self.rows += len(lines)

    def finish(self, expected_rows: int | None = None) -> str:
        self._fh.close()
        if self._raw is not None:
            self._raw.close()
        if expected_rows is not None and expected_rows != self.rows:
            os.unlink(self.tmp)
            raise RuntimeError(f"wrote {self.rows} rows to {self.path}, expected {expected_rows}")
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        try:
            self._fh.close()
            if self._raw is not None:
                self._raw.close()
        finally:
            if os.path.exists(self.tmp):
                os.unlink(self.tmp)


@contextmanager
def atomic_text(path: str):
    """Open ``path.partial`` for writing; rename to ``path`` if the block succeeds."""
    ensure_parent(path)
    tmp = path + ".partial"
    fh = open(tmp, "w", encoding="utf-8")
    try:
        yield fh
    except BaseException:
        fh.close()
        os.unlink(tmp)
        raise
    fh.close()
    os.replace(tmp, path)


def write_tsv(path: str, columns: list, rows: list) -> str:
    with atomic_text(path) as fh:
        fh.write("\t".join(columns) + "\n")
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    return path


def write_meta_yaml(path: str, fields: dict) -> str:
    """A flat GWAS-SSF style ``-meta.yaml`` (keys and scalar values, one level of lists)."""
    def val(v):
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float, np.integer, np.floating)):
            return str(v)
        s = str(v)
        return '"' + s.replace('"', '\\"') + '"'

    with atomic_text(path) as fh:
        for k, v in fields.items():
            if isinstance(v, (list, tuple)):
                fh.write(f"{k}:\n")
                for x in v:
                    fh.write(f"  - {val(x)}\n")
            else:
                fh.write(f"{k}: {val(v)}\n")
    return path


def read_meta_yaml(path: str) -> dict:
    out: dict = {}
    key = None
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("  - ") and key is not None:
                out.setdefault(key, []).append(_unquote(line[4:]))
            elif ":" in line:
                key, _, v = line.partition(":")
                v = v.strip()
                out[key] = _unquote(v) if v else []
    return out


def _unquote(v: str):
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1].replace('\\"', '"')
    return v
