"""The line-splitting and number-parsing kernel of the result-file reader
(:mod:`.assoc_reader`), compiled by numba.  Its plain-Python form,
:func:`parse_rows_py`, is the reference the tests run against it."""

from __future__ import annotations

import numpy as np

POW10 = np.array([10.0 ** k for k in range(23)])


def parse_rows_py(buf, ncol, sep, c_chr, c_pos, c_y, c_id, c_test, pos_out, y_out, y_flag,
                   y_span, id_span, test_span, run_row, run_span, pow10):
    """Parse whole lines of a TSV block (compiled by :func:`parse_kernel`; this
    plain-Python function is its reference).

    buf : ndarray, shape (nbytes,), uint8 -- complete lines, each ending in '\\n'
    ncol : int -- fields every line must have
    sep : int -- the field separator byte (9 tab, 32 space)
    c_chr, c_pos, c_y, c_id, c_test : int -- column indexes (c_id, c_test -1: none)
    pos_out : int64 (>= rows); y_out : float64; y_flag : uint8 (1: parse in Python)
    y_span, id_span, test_span : int64 (rows, 2) -- byte spans [start, end) of the fields
    run_row : int64 (rows,), run_span : int64 (rows, 2) -- rows where the
        chromosome text changes from the previous row, and its span
    Returns (rows, runs, blank_lines, err_line, err_code, err_value):
    err_code 0 none, 1 wrong field count (err_value = fields),
    2 bad base_pair_location (an integer, negative allowed: unplaced);
    err_line is the 0-based line in the block.
    """
    n = len(buf)
    row = 0
    line = 0
    runs = 0
    blanks = 0
    prev_s = -1
    prev_e = -1
    i = 0
    while i < n:
        if buf[i] == 10 or (buf[i] == 13 and i + 1 < n and buf[i + 1] == 10):
            blanks += 1
            line += 1
            i += 1 if buf[i] == 10 else 2
            continue
        f = 0
        s = i
        while True:
            c = buf[i]
            if c == sep or c == 10:
                e = i
                if c == 10 and e > s and buf[e - 1] == 13:
                    e -= 1
                if f == c_chr:
                    same = (e - s) == (prev_e - prev_s)
                    if same:
                        for k in range(e - s):
                            if buf[s + k] != buf[prev_s + k]:
                                same = False
                                break
                    if not same or runs == 0:
                        run_row[runs] = row
                        run_span[runs, 0] = s
                        run_span[runs, 1] = e
                        runs += 1
                        prev_s = s
                        prev_e = e
                elif f == c_pos:
                    v = 0
                    k0 = s
                    pneg = e > s and buf[s] == 45
                    if pneg:
                        k0 = s + 1
                    ok = e > k0
                    for k in range(k0, e):
                        d = buf[k] - 48
                        if d < 0 or d > 9 or v > 100000000000000:
                            ok = False
                            break
                        v = v * 10 + d
                    if not ok:
                        return row, runs, blanks, line, 2, 0
                    pos_out[row] = -v if pneg else v
                elif f == c_y:
                    y_span[row, 0] = s
                    y_span[row, 1] = e
                    neg = e > s and buf[s] == 45
                    k = s + 1 if e > s and (neg or buf[s] == 43) else s
                    mant, sig, exp10, ndig, exact = 0, 0, 0, 0, True
                    frac = False  # digits, then an optional '.' and more digits
                    while k < e:
                        ch = buf[k]
                        if ch == 46 and not frac:
                            frac = True
                            k += 1
                            continue
                        if ch < 48 or ch > 57:
                            break
                        d = ch - 48
                        ndig += 1
                        if mant == 0 and d == 0:
                            if frac:
                                exp10 -= 1
                        elif sig < 18:
                            mant = mant * 10 + d
                            sig += 1
                            if frac:
                                exp10 -= 1
                        else:
                            if not frac:
                                exp10 += 1
                            exact = False
                        k += 1
                    if ndig == 0:
                        exact = False
                    if exact and k < e and (buf[k] == 101 or buf[k] == 69):
                        k += 1
                        eneg = k < e and buf[k] == 45
                        if k < e and (eneg or buf[k] == 43):
                            k += 1
                        ev, nexp = 0, 0
                        while k < e and buf[k] >= 48 and buf[k] <= 57:
                            if ev < 100000:
                                ev = ev * 10 + (buf[k] - 48)
                            nexp += 1
                            k += 1
                        if nexp == 0:
                            exact = False
                        exp10 += -ev if eneg else ev
                    if k != e:
                        exact = False
                    if exact and mant == 0:
                        y_out[row] = -0.0 if neg else 0.0
                        y_flag[row] = 0
                    elif exact and sig <= 15 and exp10 >= -22 and exp10 <= 22:
                        if exp10 >= 0:
                            val = float(mant) * pow10[exp10]
                        else:
                            val = float(mant) / pow10[-exp10]
                        y_out[row] = -val if neg else val
                        y_flag[row] = 0
                    else:
                        y_out[row] = 0.0
                        y_flag[row] = 1
                elif f == c_id:
                    id_span[row, 0] = s
                    id_span[row, 1] = e
                if f == c_test:
                    test_span[row, 0] = s
                    test_span[row, 1] = e
                if c == 10:
                    break
                f += 1
                s = i + 1
            i += 1
        # end of line at i
        if f + 1 != ncol:
            return row, runs, blanks, line, 1, f + 1
        row += 1
        line += 1
        i += 1
    return row, runs, blanks, line, 0, 0


_KERNEL = None


def parse_kernel():
    """The numba-compiled :func:`parse_rows_py` (compiled on first use, cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        from .._jit import jit

        _KERNEL = jit()(parse_rows_py)
    return _KERNEL
