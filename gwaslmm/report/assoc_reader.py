"""Streaming reader of association result files for the plots.

The file (gzip, detected by its magic bytes, or plain text) is streamed in
blocks of whole lines (``chunk_bytes``, 8 MiB by default, about 80 000 rows
of gwaslmm's own output).  Its header decides the format and the columns
(:func:`gwaslmm.results.read_header`: gwaslmm's own, GEMMA, PLINK 2,
BOLT-LMM, REGENIE).  A numba kernel splits the lines and parses the
numbers; decimal numbers with at most 15 significant digits and a decimal
exponent within +-22 are converted exactly (Clinger's fast path: one
correctly rounded multiplication or division of two exactly representable
doubles), everything else (``1.2e-300``, ``inf``, ``NA``) goes through
Python's ``float``, so every value equals ``float(text)``; a p-value
printed below the float64 range (BOLT-LMM writes such as ``4.1E-400``) is
turned into -log10 p from its text.  ``NA``, ``nan``, ``.`` and empty
fields are missing p-values: such rows are counted and reported.  A p-value
of 0 (-log10 p = inf) keeps its rank in the QQ plot and in lambda_GC but
cannot be drawn; those rows are counted and reported.  Rows of other tests
than ADD (PLINK 2 and REGENIE write one row per model term) are skipped and
counted.

Memory is bounded by ``chunk_bytes`` (two blocks in flight: one being
decompressed by a reader thread while the other is parsed), the thinned
Manhattan bins (:mod:`.thinning`), the p <= 0.01 points, and 4 bytes per row
(float32 -log10 p) for the QQ plot and lambda_GC (40 MB at 10 million rows;
relative rounding 6e-8, far below anything visible or relevant to lambda_GC).
"""

from __future__ import annotations

import gzip
import math
import re
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..results import MISSING_TOKENS, open_binary, read_header
from .parse_kernel import POW10, parse_kernel
from .thinning import ManhattanAccumulator, ManhattanData

CHUNK_BYTES = 8 << 20
_SCI = re.compile(rb"^\s*\+?(\d+(?:\.\d*)?|\.\d+)[eE]([+-]?\d+)\s*$")


@dataclass(frozen=True)
class AssocPoints:
    """What :func:`read_assoc_points` gathers from a result file."""

    manhattan: ManhattanData
    neglog10p: np.ndarray   # shape (n_snps,), float32, file order
    n_rows: int
    n_missing: int
    n_blank: int
    n_other_tests: int
    p_column: str
    fmt: str


def neglog10_from_text(tok: bytes) -> float:
    """-log10 of a p-value written as mantissa and decimal exponent, exact
    where the value itself underflows float64 (``4.1E-400`` -> 399.387...);
    NaN if ``tok`` is not of that form or not positive."""
    m = _SCI.match(tok)
    if not m:
        return float("nan")
    mant = float(m.group(1))
    if not mant > 0:
        return float("nan")
    return -(math.log10(mant) + int(m.group(2)))


def _line_number(chunk: bytes, base_line: int, row: int) -> int:
    """1-based file line of data row ``row`` of a block whose first line is base_line + 1."""
    line = 0
    r = -1
    for ln in chunk.split(b"\n"):
        line += 1
        if ln.strip(b"\r"):
            r += 1
            if r == row:
                break
    return base_line + line


def read_assoc_points(path: str, label_top: int = 5, chunk_bytes: int = CHUNK_BYTES,
                      log=None) -> AssocPoints:
    """Stream an association file into thinned Manhattan data and all -log10 p (float32).

    Memory is bounded by ``chunk_bytes`` (two blocks in flight: one being
    decompressed by a reader thread while the other is parsed), the thinned
    bins, the p <= 0.01 points, and 4 bytes per row for the QQ plot.
    """
    t0 = time.perf_counter()
    kernel = parse_kernel()
    fh, raw, is_gz = open_binary(path)
    acc = ManhattanAccumulator()
    ys: list = []
    n_rows = n_missing = n_blank = n_other = 0
    line_base = 1                      # lines consumed (header = line 1)
    try:
        try:
            hdr = read_header(path, fh.readline())
            carry = b""
            with ThreadPoolExecutor(max_workers=1) as pool:
                fut = pool.submit(fh.read, chunk_bytes)
                eof = False
                while not eof:
                    block = fut.result()
                    if block:
                        fut = pool.submit(fh.read, chunk_bytes)
                        data = carry + block if carry else block
                        cut = data.rfind(b"\n")
                        if cut < 0:
                            carry = data
                            continue
                        chunk, carry = data[:cut + 1], data[cut + 1:]
                    else:
                        eof = True
                        if not carry:
                            break
                        chunk, carry = carry + b"\n", b""
                    res = _parse_block(kernel, chunk, hdr, path, line_base, acc)
                    ys.append(res[0])
                    n_rows += res[1]
                    n_missing += res[2]
                    n_blank += res[3]
                    line_base += res[4]
                    n_other += res[5]
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(f"association file {path}: gzip data is corrupt or truncated "
                             f"after line {line_base} ({exc})") from None
        except OSError as exc:
            raise InputError(f"association file {path}: read failed after line {line_base} "
                             f"({exc})") from None
    finally:
        fh.close()
        raw.close()
    if n_rows == 0:
        raise InputError(f"association file {path} has a header but no data rows")
    y_all = np.concatenate(ys) if ys else np.zeros(0, np.float32)
    if y_all.size == 0:
        raise InputError(f"association file {path}: all {n_rows} rows lack a p-value "
                         f"({hdr.p_name} is NA)")
    man = acc.finish(label_top)
    if log is not None:
        log.write(f"read {n_rows} rows from {path} ({hdr.fmt} format, "
                  f"{'gzip' if is_gz else 'plain text'}, p-values from {hdr.p_name}) in "
                  f"{time.perf_counter() - t0:.2f}s")
        if n_other:
            log.write(f"  {n_other} rows of other tests than ADD (covariate terms) skipped")
        if n_missing:
            log.write(f"  {n_missing} rows with a missing p-value (NA) are not plotted")
        if man.n_infinite:
            log.write(f"  {man.n_infinite} rows with p = 0 (-log10 p = inf) count in the QQ "
                      f"ranks and lambda_GC but cannot be drawn")
        if n_blank:
            log.write(f"  {n_blank} blank lines skipped")
        if man.n_unplaced:
            log.write(f"  {man.n_unplaced} rows without a position (base_pair_location <= 0) "
                      f"are left out of the Manhattan plot; they count in the QQ plot and "
                      f"lambda_GC")
    return AssocPoints(manhattan=man, neglog10p=y_all, n_rows=n_rows, n_missing=n_missing,
                       n_blank=n_blank, n_other_tests=n_other, p_column=hdr.p_name, fmt=hdr.fmt)


def _parse_block(kernel, chunk: bytes, hdr, path, line_base, acc):
    """Parse one block of whole lines; feed the accumulator.  Returns
    (neglog10p float32 of the rows with a p-value, rows, missing, blank, lines,
    rows of other tests)."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    cap = chunk.count(b"\n")
    ncol = len(hdr.columns)
    c_id, c_test = hdr.variant_id, hdr.test_col
    pos = np.empty(cap, dtype=np.int64)
    y = np.empty(cap, dtype=np.float64)
    flag = np.empty(cap, dtype=np.uint8)
    y_span = np.empty((cap, 2), dtype=np.int64)
    id_span = np.empty((cap, 2) if c_id >= 0 else (0, 2), dtype=np.int64)
    test_span = np.empty((cap, 2) if c_test >= 0 else (0, 2), dtype=np.int64)
    run_row = np.empty(cap, dtype=np.int64)
    run_span = np.empty((cap, 2), dtype=np.int64)
    rows, runs, blanks, err_line, code, val = kernel(
        buf, ncol, hdr.sep[0], hdr.chromosome, hdr.position, hdr.p, c_id, c_test, pos, y, flag,
        y_span, id_span, test_span, run_row, run_span, POW10)
    sep = hdr.sep.decode()
    if code:
        line_no = line_base + err_line + 1
        text = chunk.split(b"\n")[err_line].decode("utf-8", "replace").rstrip("\r")
        if code == 1:
            raise InputError(f"association file {path} line {line_no} has {val} fields, "
                             f"the header has {ncol}")
        fields = text.split(sep)
        field = fields[hdr.position] if hdr.position < len(fields) else ""
        raise InputError(f"association file {path} line {line_no}: "
                         f"{hdr.columns[hdr.position]} '{field[:40]}' is not an integer")
    pos, y, flag, y_span = pos[:rows], y[:rows], flag[:rows], y_span[:rows]
    p_name = hdr.p_name
    exact_tail = {}
    for r in np.flatnonzero(flag):
        tok = chunk[y_span[r, 0]:y_span[r, 1]]
        try:
            y[r] = float(tok)
        except ValueError:
            if tok.strip() in MISSING_TOKENS:
                y[r] = np.nan
                continue
            line_no = _line_number(chunk, line_base, int(r))
            raise InputError(f"association file {path} line {line_no}: {p_name} "
                             f"'{tok.decode('utf-8', 'replace')[:40]}' is not a number") \
                from None
        if not hdr.p_is_neglog10 and y[r] == 0.0:
            nl = neglog10_from_text(tok)
            if np.isfinite(nl):
                exact_tail[int(r)] = nl
    if not hdr.p_is_neglog10:
        bad = (y < 0) | (y > 1)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"association file {path} line {_line_number(chunk, line_base, r)}: "
                             f"{p_name} {y[r]} is outside [0, 1] ({int(bad.sum())} such rows "
                             f"in this block)")
        with np.errstate(divide="ignore"):
            y = -np.log10(y)
        for r, nl in exact_tail.items():
            y[r] = nl
    else:
        bad = y < 0
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"association file {path} line {_line_number(chunk, line_base, r)}: "
                             f"{p_name} {y[r]} is negative ({int(bad.sum())} such "
                             f"rows in this block)")
    # chromosome of every row from its runs
    run_ids = np.empty(runs, dtype=np.int32)
    for j in range(runs):
        run_ids[j] = acc.chrom_id(chunk[run_span[j, 0]:run_span[j, 1]])
    lens = np.diff(np.append(run_row[:runs], rows))
    chrom = np.repeat(run_ids, lens)
    n_other = 0
    rowmap = None
    if c_test >= 0:
        want = hdr.test_value
        is_test = np.array([chunk[test_span[r, 0]:test_span[r, 1]] == want
                            for r in range(rows)], dtype=bool)
        n_other = int(rows - is_test.sum())
        if n_other:
            rowmap = np.flatnonzero(is_test)
            chrom, pos, y = chrom[rowmap], pos[rowmap], y[rowmap]
    ids_for = None
    if c_id >= 0:
        def ids_for(idx):
            src = idx if rowmap is None else rowmap[idx]
            return [chunk[id_span[r, 0]:id_span[r, 1]].decode("utf-8", "replace") for r in src]
    try:
        acc.add(chrom, pos, y, ids_for)
    except InputError as exc:
        raise InputError(f"association file {path} (lines {line_base + 1}-"
                         f"{line_base + rows + blanks}): {exc}") from None
    has = ~np.isnan(y)
    n_kept = y.size
    return (y[has].astype(np.float32), n_kept, int(n_kept - has.sum()), blanks, rows + blanks,
            n_other)
