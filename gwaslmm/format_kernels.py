"""numba kernels that write result rows as text: numbers exactly as Python's
``format(x, ".8g")`` / ``".6g"`` and ``str(int)`` print them, fields joined by
tabs, rows ended by newlines, into one byte buffer per block.

%.Pg (C99, Python): with X the decimal exponent of x rounded to P significant
digits, fixed notation with P - 1 - X decimals if -4 <= X < P, else
d.ddde+XX (an exponent of at least two digits); trailing zeros of the
fraction and a bare decimal point are removed.  The kernel rounds
a * 10^(P-1-X) to an integer in double precision: its error is at most a few
units in the last place, so the result equals the exactly rounded one unless
the scaled value lies within 4e-8 of a rounding tie.  Such a value is
flagged and the caller formats that block with Python instead (about once in
10^7 values).  The plain-Python reference is :func:`gwaslmm.schema.format_rows`.

Column kinds (ints): 0 text (a row of a fixed-width uint8 table), 1 integer,
2 %.8g, 3 %.6g, 4 p-value from -log10 p (%.6g of 10^-L; NA beyond 1e-290,
where the caller formats it), 5 the same integer on every row.  A
non-finite number is written NA.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import jit

TEXT, INT, G8, G6, PVAL, CONST = 0, 1, 2, 3, 4, 5
TIE_MARGIN = 4e-8
P_TEXT_LIMIT = 290.0  # -log10 p beyond which p is printed from the exact log (in Python)


@jit()
def _put(buf, pos, table, row, n):
    for j in range(n):
        buf[pos + j] = table[row, j]
    return pos + n


@jit()
def _put_int(buf, pos, v, tmp):
    """Decimal digits of the int64 ``v`` at buf[pos:] (``tmp``: uint8 scratch,
    20 bytes at least); returns the new position."""
    if v < 0:
        buf[pos] = 45
        pos += 1
        v = -v
    if v == 0:
        buf[pos] = 48
        return pos + 1
    k = 0
    while v > 0:
        tmp[k] = 48 + v % 10
        v //= 10
        k += 1
    for j in range(k - 1, -1, -1):
        buf[pos] = tmp[j]
        pos += 1
    return pos


@jit()
def _put_na(buf, pos):
    buf[pos] = 78
    buf[pos + 1] = 65
    return pos + 2


@jit()
def _put_g(buf, pos, x, prec, pow10, digits):
    """``format(x, f".{prec}g")`` for a finite double at buf[pos:] (``digits``:
    uint8 scratch, 20 bytes at least).  Returns the new position, or -1 where
    the rounding is too close to a tie to trust."""
    if x == 0.0:
        if math.copysign(1.0, x) < 0:
            buf[pos] = 45
            pos += 1
        buf[pos] = 48
        return pos + 1
    if x < 0:
        buf[pos] = 45
        pos += 1
        x = -x
    e = int(math.floor(math.log10(x)))
    m = 0
    for _ in range(3):  # the estimate of e can be off by one near powers of 10
        k = prec - 1 - e
        if 0 <= k <= 22:
            scaled = x * pow10[k]
        elif -22 <= k < 0:
            scaled = x / pow10[-k]
        else:
            scaled = x * 10.0 ** k
        lo = pow10[prec - 1]
        if scaled < lo * (1 - 1e-15):
            e -= 1
            continue
        if scaled >= lo * 10.0:
            e += 1
            continue
        f = scaled - math.floor(scaled)
        if abs(f - 0.5) < TIE_MARGIN * scaled / lo:
            return -1
        m = int(math.floor(scaled + 0.5))
        if m >= int(lo * 10.0):  # rounded up to the next power of ten
            m //= 10
            e += 1
        if m < int(lo):
            return -1
        break
    else:
        return -1
    for j in range(prec - 1, -1, -1):
        digits[j] = 48 + m % 10
        m //= 10
    nd = prec  # significant digits without trailing zeros
    while nd > 1 and digits[nd - 1] == 48:
        nd -= 1
    if -4 <= e < prec:
        if e >= 0:
            for j in range(e + 1):
                buf[pos] = digits[j] if j < prec else 48
                pos += 1
            if nd > e + 1:
                buf[pos] = 46
                pos += 1
                for j in range(e + 1, nd):
                    buf[pos] = digits[j]
                    pos += 1
        else:
            buf[pos] = 48
            buf[pos + 1] = 46
            pos += 2
            for _ in range(-e - 1):
                buf[pos] = 48
                pos += 1
            for j in range(nd):
                buf[pos] = digits[j]
                pos += 1
    else:
        buf[pos] = digits[0]
        pos += 1
        if nd > 1:
            buf[pos] = 46
            pos += 1
            for j in range(1, nd):
                buf[pos] = digits[j]
                pos += 1
        buf[pos] = 101
        pos += 1
        if e < 0:
            buf[pos] = 45
            e = -e
        else:
            buf[pos] = 43
        pos += 1
        if e < 10:
            buf[pos] = 48
            pos += 1
        pos = _put_int(buf, pos, e, digits[prec:])
    return pos


@jit()
def format_block(kinds, src, floats, ints, t0, t1, t2, t3, lens, idx, const, pow10, ov,
                 ov_text, ov_off, out, flags):
    """Rows of one block as tab-separated text in ``out`` (uint8, large enough).

    kinds, src : int64 (ncol,) -- each column's kind and its row in ``floats``
        (kinds 2-4), ``ints`` (1), ``const`` (5) or its text table 0-3 (0).
    floats : float64 (nf, k); ints : int64 (ni, k); const : int64 (nc,).
    t0..t3 : uint8 (m, w_j) fixed-width text tables (variant ID, chromosome,
        alleles), lens : int64 (4, m) their lengths; idx : int64 (k,) the
        rows' variants in those tables.
    ov : int64 (k, ncol) -- -1, or the index into ov_off (int64) of text in
        ov_text (uint8) to write instead (the values Python formatted).
    flags : int64 (k * ncol, 2) -- receives (row, column) of the values that
        need Python's formatting (too close to a rounding tie, a p-value
        below 1e-290); those are written as '?' for now.
    Returns (bytes written, number of flagged values).
    """
    k = idx.size
    ncol = kinds.size
    pos = 0
    nflag = 0
    scratch = np.empty(64, np.uint8)
    for r in range(k):
        for c in range(ncol):
            if c > 0:
                out[pos] = 9
                pos += 1
            o = ov[r, c]
            if o >= 0:
                for j in range(ov_off[o], ov_off[o + 1]):
                    out[pos] = ov_text[j]
                    pos += 1
                continue
            kind = kinds[c]
            s = src[c]
            if kind == 0:
                v = idx[r]
                n = lens[s, v]
                if s == 0:
                    pos = _put(out, pos, t0, v, n)
                elif s == 1:
                    pos = _put(out, pos, t1, v, n)
                elif s == 2:
                    pos = _put(out, pos, t2, v, n)
                else:
                    pos = _put(out, pos, t3, v, n)
            elif kind == 1:
                pos = _put_int(out, pos, ints[s, r], scratch)
            elif kind == 5:
                pos = _put_int(out, pos, const[s], scratch)
            else:
                x = floats[s, r]
                p = -1
                if math.isfinite(x) and not (kind == 4 and x >= P_TEXT_LIMIT):
                    if kind == 4:
                        x = 10.0 ** (-x)
                    p = _put_g(out, pos, x, 8 if kind == 2 else 6, pow10, scratch)
                elif not math.isfinite(x):
                    p = _put_na(out, pos)
                if p < 0:
                    flags[nflag, 0] = r
                    flags[nflag, 1] = c
                    nflag += 1
                    out[pos] = 63
                    p = pos + 1
                pos = p
        out[pos] = 10
        pos += 1
    return pos, nflag
