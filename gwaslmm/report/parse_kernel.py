"""The line-splitting and number-parsing kernel of the result-file reader
(:mod:`.assoc_reader`), compiled by numba.  Its plain-Python form,
:func:`parse_rows_py`, is the reference the tests run against it."""

from __future__ import annotations

from ..text_kernels import POW10, parse_decimal  # noqa: F401 - POW10 for the callers


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
                    val, ok = parse_decimal(buf, s, e, pow10)
                    y_out[row] = val
                    y_flag[row] = 0 if ok else 1
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
