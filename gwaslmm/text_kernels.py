"""numba kernels that read numbers from text, exactly as Python's ``float()``.

:func:`scan_field` converts one field as it scans it: a decimal number with
at most 15 significant digits and a decimal exponent within +-22 is exact
by Clinger's fast path (one correctly rounded multiplication or division of
two exactly representable doubles); anything else (``1.2e-300``, ``inf``,
``NA``) is left to the caller, who uses ``float()``; :func:`parse_decimal`
is the same for a field whose bounds are known.  :func:`parse_matrix` reads
a whitespace-separated numeric matrix (a GEMMA text kinship) with it;
:func:`parse_chunks` the same in parallel over chunks of whole lines, after
:func:`count_values` has found where each chunk's values start, and
:func:`parse_chunks_kept` only the rows and columns of the analysed samples
(after :func:`count_rows`).  :func:`first_repeat` finds a repeated ID.  The
plain-Python references are ``float``, ``numpy.fromstring`` and
``numpy.unique``, which tests compare them with.  :func:`square_stats`
checks the parsed kinship (finite, symmetric) in one parallel pass; its
reference is numpy's.
"""

from __future__ import annotations

import math

import numpy as np
from numba import prange

from ._jit import jit

POW10 = np.array([10.0 ** k for k in range(23)])


@jit()
def parse_decimal(buf, s, e, pow10):
    """(value, exact) of the text buf[s:e] (uint8); exact False where the fast
    path does not apply and the value must come from ``float()``
    (:func:`scan_field`'s rules; a field with whitespace inside is not exact)."""
    if e <= s:
        return 0.0, False
    v, exact, i = scan_field(buf, s, e, pow10)
    return v, exact and i == e


@jit()
def parse_matrix(buf, out, spans, pow10):
    """Whitespace-separated numbers of buf (uint8) into out (float64), row by
    row (a row is a line with at least one value).

    Returns (count, rows, columns of the first row, first row whose count
    differs from it (-1: none), slow).  ``spans`` (int64 (s, 3)) receives the
    byte span and the index in ``out`` of each of the first ``slow`` values
    the fast path could not convert (the caller converts them with
    ``float()``).  count > out.size, or slow > s, means the arrays were too
    small: nothing more was written to them.
    """
    return parse_range(buf, 0, buf.size, out, 0, out.size, spans, pow10)


@jit(inline=True)
def scan_field(buf, i, e0, pow10):
    """The field starting at buf[i] (not whitespace), converted as it is
    scanned by the fast path of the module docstring (exact where it
    applies; ``exact`` False leaves the field to ``float()``): (value,
    exact, index past the field).  One
    pass: scanning a field first and converting it in a second read took
    0.092 s instead of 0.058 s for GEMMA's 1,940 x 1,940 kinship on two
    threads (measured by hand when the two-pass parser was replaced)."""
    neg = buf[i] == 45
    if neg or buf[i] == 43:
        i += 1
    # digits, then an optional '.' and digits: mant holds the significant
    # digits (leading zeros add none), at most 18 of them
    mant, sig, exp10, ndig, exact = 0, 0, 0, 0, True
    while i < e0:
        dg = np.int64(buf[i]) - 48
        if dg < 0 or dg > 9:
            break
        if sig < 18:
            mant = mant * 10 + dg
            if mant != 0:
                sig += 1
        else:
            exp10 += 1
            exact = False
        ndig += 1
        i += 1
    if i < e0 and buf[i] == 46:
        i += 1
        while i < e0:
            dg = np.int64(buf[i]) - 48
            if dg < 0 or dg > 9:
                break
            if sig < 18:
                mant = mant * 10 + dg
                exp10 -= 1
                if mant != 0:
                    sig += 1
            else:
                exact = False
            ndig += 1
            i += 1
    if ndig == 0:
        exact = False
    if exact and i < e0 and (buf[i] == 101 or buf[i] == 69):
        i += 1
        eneg = i < e0 and buf[i] == 45
        if i < e0 and (eneg or buf[i] == 43):
            i += 1
        ev, nexp = 0, 0
        while i < e0:
            dg = np.int64(buf[i]) - 48
            if dg < 0 or dg > 9:
                break
            if ev < 100000:
                ev = ev * 10 + dg
            nexp += 1
            i += 1
        if nexp == 0:
            exact = False
        exp10 += -ev if eneg else ev
    if i < e0:  # anything else before the field's end: float() decides
        c = buf[i]
        if not (c == 32 or c == 9 or c == 13 or c == 10):
            exact = False
            i = skip_field(buf, i, e0)
    v = 0.0
    if exact and mant == 0:
        v = -0.0 if neg else 0.0
    elif exact and sig <= 15 and -22 <= exp10 <= 22:
        v = float(mant) * pow10[exp10] if exp10 >= 0 else float(mant) / pow10[-exp10]
        if neg:
            v = -v
    else:
        exact = False
    return v, exact, i


@jit(inline=True)
def skip_field(buf, i, e0):
    """The index past the field at buf[i] (its first whitespace byte, or e0)."""
    while i < e0:
        c = buf[i]
        if c == 32 or c == 9 or c == 13 or c == 10:
            break
        i += 1
    return i


@jit()
def parse_range(buf, s0, e0, out, o0, lim, spans, pow10):
    """:func:`parse_matrix` on the lines buf[s0:e0] (e0 at a line end or the
    text's end), writing values from out[o0] and at most up to out[lim - 1];
    returns (count written, rows, columns of its first row, its first row
    (0-based, within the range) whose count differs, slow).  Fields are
    converted by :func:`scan_field`."""
    count = 0
    rows = 0
    ncol0 = -1
    bad_row = -1
    in_row = 0
    slow = 0
    i = s0
    while True:
        while i < e0:  # blanks; a newline ends a row that has values
            c = buf[i]
            if c == 32 or c == 9 or c == 13:
                i += 1
            elif c == 10:
                if in_row:
                    if ncol0 < 0:
                        ncol0 = in_row
                    elif in_row != ncol0 and bad_row < 0:
                        bad_row = rows
                    rows += 1
                    in_row = 0
                i += 1
            else:
                break
        if i >= e0:
            break
        s = i
        v, exact, i = scan_field(buf, i, e0, pow10)
        if o0 + count >= lim:
            return count + 1, rows, ncol0, bad_row, slow
        if not exact:
            if slow >= spans.shape[0]:
                return count, rows, ncol0, bad_row, slow + 1
            spans[slow, 0] = s
            spans[slow, 1] = i
            spans[slow, 2] = o0 + count
            slow += 1
        out[o0 + count] = v
        count += 1
        in_row += 1
    if in_row:  # the range's end ends its last row
        if ncol0 < 0:
            ncol0 = in_row
        elif in_row != ncol0 and bad_row < 0:
            bad_row = rows
        rows += 1
    return count, rows, ncol0, bad_row, slow


@jit(parallel=True)
def count_rows(buf, bounds, counts):
    """counts[k] = the lines with at least one field in buf[bounds[k]:bounds[k + 1]]
    (uint8; int64 bounds, each chunk whole lines)."""
    for k in prange(bounds.size - 1):
        c = 0
        has = False
        for i in range(bounds[k], bounds[k + 1]):
            ch = buf[i]
            if ch == 10:
                if has:
                    c += 1
                has = False
            elif not (ch == 32 or ch == 9 or ch == 13):
                has = True
        if has:
            c += 1
        counts[k] = c


@jit()
def parse_rows_kept(buf, s0, e0, r0, rank, k, out, spans, pow10):
    """The rows r0, r0 + 1, ... of the lines buf[s0:e0] of a square text matrix
    over n = rank.size samples, keeping the analysed ones: field j of row r
    goes to out[rank[r] * k + rank[j]] where rank[r] >= 0 and rank[j] >= 0
    (rank: position among the k kept samples, -1 for the others); the other
    fields are only counted, not converted.  Returns (rows, first row
    (global, 0-based) whose field count is not n, -1 if none; slow), spans
    as in :func:`parse_range` (index into out) for the kept fields the fast
    path left to ``float()``."""
    n = rank.size
    rows = 0
    bad_row = -1
    slow = 0
    i = s0
    while True:
        while i < e0:  # to the next row's first field
            c = buf[i]
            if c == 32 or c == 9 or c == 13 or c == 10:
                i += 1
            else:
                break
        if i >= e0:
            break
        r = r0 + rows
        base = rank[r] * k if r < n and rank[r] >= 0 else -1
        j = 0
        while i < e0 and buf[i] != 10:
            c = buf[i]
            if c == 32 or c == 9 or c == 13:
                i += 1
                continue
            if base >= 0 and j < n and rank[j] >= 0:
                s = i
                v, exact, i = scan_field(buf, i, e0, pow10)
                at = base + rank[j]
                if not exact:
                    if slow >= spans.shape[0]:
                        return rows, bad_row, slow + 1
                    spans[slow, 0] = s
                    spans[slow, 1] = i
                    spans[slow, 2] = at
                    slow += 1
                out[at] = v
            else:
                i = skip_field(buf, i, e0)
            j += 1
        if j != n and bad_row < 0:
            bad_row = r
        rows += 1
    return rows, bad_row, slow


@jit(parallel=True)
def parse_chunks_kept(buf, bounds, row0, rank, k, out, spans, pow10, res):
    """:func:`parse_rows_kept` on each chunk buf[bounds[c]:bounds[c + 1]] in
    parallel, its first row row0[c]; res (chunks, 3) int64 receives each
    chunk's (rows, bad_row, slow)."""
    for c in prange(bounds.size - 1):
        r = parse_rows_kept(buf, bounds[c], bounds[c + 1], row0[c], rank, k, out, spans[c],
                            pow10)
        for j in range(3):
            res[c, j] = r[j]


@jit(parallel=True)
def count_values(buf, bounds, counts):
    """counts[k] = the number of whitespace-separated fields in
    buf[bounds[k]:bounds[k + 1]] (uint8; int64 bounds, each chunk whole lines)."""
    for k in prange(bounds.size - 1):
        c = 0
        prev_ws = True
        for i in range(bounds[k], bounds[k + 1]):
            ch = buf[i]
            ws = ch == 32 or ch == 9 or ch == 10 or ch == 13
            if prev_ws and not ws:
                c += 1
            prev_ws = ws
        counts[k] = c


@jit(parallel=True)
def parse_chunks(buf, bounds, offsets, out, spans, pow10, res):
    """:func:`parse_range` on each chunk buf[bounds[k]:bounds[k + 1]] in
    parallel, its values from out[offsets[k]] up to out[offsets[k + 1] - 1];
    spans (chunks, s, 3) int64 per chunk; res (chunks, 5) int64 receives each
    chunk's (count, rows, ncol0, bad_row, slow)."""
    for k in prange(bounds.size - 1):
        r = parse_range(buf, bounds[k], bounds[k + 1], out, offsets[k], offsets[k + 1], spans[k],
                        pow10)
        for j in range(5):
            res[k, j] = r[j]


@jit()
def split_fields(buf, ncol, more, spans, tabs=False):
    """Fields of the non-blank lines of buf (uint8): separated by runs of
    whitespace, or (``tabs``) by single tabs, each field trimmed of spaces
    (so empty fields count).

    Every line must have ``ncol`` fields (``more``: at least ``ncol``, the
    same count on every line); spans (int64 (rows, ncol, 2)) receives the
    byte span [start, end) of each line's first ``ncol`` fields.  Returns
    (rows, fields of the first line, 1-based line number of the first line
    whose count is wrong (0: none), its count).
    """
    n = buf.size
    rows = 0
    width = -1
    line = 0
    i = 0
    while i < n:
        line += 1
        k = 0
        end = i
        while end < n and buf[end] != 10:
            end += 1
        blank = True
        for j in range(i, end):
            if buf[j] != 32 and buf[j] != 9 and buf[j] != 13:
                blank = False
                break
        if not blank:
            while i <= end:
                if tabs:
                    s = i
                    while i < end and buf[i] != 9:
                        i += 1
                    e = i
                    while s < e and (buf[s] == 32 or buf[s] == 13):
                        s += 1
                    while e > s and (buf[e - 1] == 32 or buf[e - 1] == 13):
                        e -= 1
                    i += 1  # past the tab (or the end of the line)
                else:
                    while i < end and (buf[i] == 32 or buf[i] == 9 or buf[i] == 13):
                        i += 1
                    if i >= end:
                        break
                    s = i
                    while i < end and buf[i] != 32 and buf[i] != 9 and buf[i] != 13:
                        i += 1
                    e = i
                if k < ncol and rows < spans.shape[0]:
                    spans[rows, k, 0] = s
                    spans[rows, k, 1] = e
                k += 1
            if (k != ncol and not more) or k < ncol or (width >= 0 and k != width):
                return rows, width, line, k
            if width < 0:
                width = k
            rows += 1
        i = end + 1  # past the newline
    return rows, width, 0, 0


@jit()
def gather_text(buf, spans, col, out):
    """Copy field ``col`` of every row (spans from :func:`split_fields`) into
    out (uint8 (rows, w), zero-filled: a fixed-width 'S' table)."""
    for r in range(out.shape[0]):
        s = spans[r, col, 0]
        e = spans[r, col, 1]
        for j in range(e - s):
            out[r, j] = buf[s + j]


@jit()
def parse_fields(buf, spans, col, pow10, integers, out, slow):
    """Field ``col`` of every row (spans from :func:`split_fields`) as a
    number: out (rows,) float64 (``integers``: int64, a sign and at most 18
    digits).  Rows the fast path cannot convert (see :func:`parse_decimal`)
    are listed in slow (int64 (rows,)) for the caller's ``float()`` or
    ``int()``; returns their count.
    """
    k = 0
    for r in range(out.shape[0]):
        s = spans[r, col, 0]
        e = spans[r, col, 1]
        if integers:
            neg = e > s and buf[s] == 45
            i = s + 1 if e > s and (neg or buf[s] == 43) else s
            ok = 0 < e - i <= 18
            v = 0
            while ok and i < e:
                d = buf[i] - 48
                if d < 0 or d > 9:
                    ok = False
                v = v * 10 + d
                i += 1
            if ok:
                out[r] = -v if neg else v
            else:
                out[r] = 0
                slow[k] = r
                k += 1
        else:
            v, ok = parse_decimal(buf, s, e, pow10)
            out[r] = v
            if not ok:
                slow[k] = r
                k += 1
    return k


@jit(parallel=True)
def square_stats(K, asym, amax, bad):
    """Checks on a parsed square matrix K (n, n) float64 in one parallel
    pass, by pairs of rows (i, n - 1 - i) so that the threads' work is even:
    for t in range((n + 1) // 2), asym[t] = max |K[i, j] - K[j, i]| over j < i
    of its rows, amax[t] = max |K[i, j]| of its finite entries, bad[t] = its
    count of non-finite entries (float64 / int64 arrays of that size).
    Reference: ``np.abs(K - K.T).max()``, ``np.abs(K[finite]).max()``,
    ``(~np.isfinite(K)).sum()`` (the asymmetry only where every entry is
    finite)."""
    n = K.shape[0]
    for t in prange((n + 1) // 2):
        a = 0.0
        m = 0.0
        b = 0
        t0 = np.int64(t)  # prange's index may be unsigned: int64 for the arithmetic
        for r in range(2):
            i = t0 if r == 0 else n - 1 - t0
            if r == 1 and i == t0:
                break
            for j in range(n):
                v = K[i, j]
                if not math.isfinite(v):
                    b += 1
                    continue
                if abs(v) > m:
                    m = abs(v)
                if j < i:
                    dv = abs(v - K[j, i])
                    if dv > a:
                        a = dv
        asym[t] = a
        amax[t] = m
        bad[t] = b


@jit()
def first_repeat(codes):
    """The first row of codes (m, w) (uint32: a 'U' array's code points, or
    uint8: an 'S' array's bytes) equal to an earlier row, -1 if every row is
    distinct: one pass with an open-addressing hash table (FNV-1a), each hash
    match compared in full.  Its reference is ``numpy.unique``."""
    m, w = codes.shape
    size = 16
    while size < 2 * m:
        size *= 2
    mask = size - 1
    table = np.full(size, -1, dtype=np.int64)
    for r in range(m):
        h = np.uint64(14695981039346656037)
        for j in range(w):
            h = (h ^ np.uint64(codes[r, j])) * np.uint64(1099511628211)
        h ^= h >> np.uint64(32)
        k = np.int64(h & np.uint64(mask))
        while True:
            t = table[k]
            if t < 0:
                table[k] = r
                break
            same = True
            for j in range(w):
                if codes[t, j] != codes[r, j]:
                    same = False
                    break
            if same:
                return r
            k = (k + 1) & mask
    return -1
