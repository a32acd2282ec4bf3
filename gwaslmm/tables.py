"""Tables keyed by sample: phenotypes, covariates, keep/remove lists; variant lists.

Conventions (PLINK 2, GCTA, REGENIE): ``FID IID col...`` with or without a
header line (``FID IID ...`` or ``#FID IID ...``); tab-separated when the
first line has a tab, else whitespace-separated.  Missing values: ``NA``,
``nan`` (any case), an empty field, and the missing code (``-9`` by default).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import InputError, UsageError
from .ids import duplicated, sample_keys

MISSING_TOKENS = {"na", "nan", "", "."}


@dataclass(frozen=True)
class SampleTable:
    """A table of per-sample columns as strings.

    fid, iid : ndarray (n_rows,), str.  columns : dict name -> ndarray (n_rows,), str.
    has_header : whether names came from a header line (else 1-based positions
    after IID, named ``<prefix>1``, ``<prefix>2``, ...).
    """

    path: str
    fid: np.ndarray
    iid: np.ndarray
    names: list
    columns: dict
    has_header: bool
    by_iid: bool = False  # PLINK 2's '#IID ...' header: no FID column, match on IID

    @property
    def n(self) -> int:
        return self.iid.size


def _split(line: str, tabbed: bool) -> list[str]:
    if tabbed:
        return [f.strip() for f in line.rstrip("\r\n").split("\t")]
    return line.split()


def text_rows(path: str, what: str):
    """(line number, whitespace-split fields) of each non-blank line of a text
    file, a UTF-8 byte-order mark dropped; InputError if the file is missing."""
    _check_readable(path, what)
    try:
        with open(path, "r", encoding="utf-8-sig", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                fields = line.split()
                if fields:
                    yield lineno, fields
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None


def _check_readable(path: str, what: str) -> None:
    """InputError naming a missing file or a folder given as a file."""
    if not os.path.exists(path):
        raise InputError(f"{what} file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"{what} file {path} is a folder, not a file")


def split_table(data: bytes, path: str, what: str, ncol: int, more: bool = False,
                tabs: bool = False, line0: int = 0, numbers: dict | None = None) -> tuple:
    """The columns of whitespace- (or ``tabs``: tab-) separated text as str
    arrays, split by a numba kernel (:func:`gwaslmm.text_kernels.split_fields`;
    the plain-Python reference is ``str.split``, compared in tests).  Every
    non-blank line has ``ncol`` fields (``more``: at least ``ncol``, the same
    count on every line, all of them returned).  ``line0``: lines before
    ``data`` in the file, for messages.  Text that is not UTF-8 is decoded
    with replacement characters, as Python's text reading would.
    ``numbers`` maps a column index to "float" or "int": that column comes
    back as float64 / int64 values, parsed as Python's ``float()`` / ``int()``
    would (numba fast path, :func:`_number_column`)."""
    from .text_kernels import gather_text, split_fields

    buf = np.frombuffer(data, dtype=np.uint8)
    lines = data.count(b"\n") + 1
    width = ncol
    if more:  # the first line decides how many columns there are
        first = next((ln.split() for ln in data.split(b"\n", 64) if ln.split()), [])
        width = max(ncol, len(first))
    spans = np.empty((lines, width, 2), dtype=np.int64)
    rows, got, bad_line, bad_count = split_fields(buf, width, more, spans, tabs)
    if bad_line:
        where = f"{path} line {line0 + bad_line}"
        if more and got >= 0 and bad_count >= ncol:
            raise InputError(f"{where}: {bad_count} columns, but the lines before have {got}")
        if more:
            raise InputError(f"{where}: expected {ncol} or more columns in a {what} file, found "
                             f"{bad_count}")
        raise InputError(f"{where}: expected {ncol} columns in a {what} file, found {bad_count}")
    cols = []
    numbers = numbers or {}
    for j in range(max(got, 0)):
        if j in numbers:
            cols.append(_number_column(buf, spans[:rows], j, numbers[j], path, line0))
            continue
        w = max(1, int((spans[:rows, j, 1] - spans[:rows, j, 0]).max()) if rows else 1)
        out = np.zeros((rows, w), dtype=np.uint8)
        gather_text(buf, spans, j, out)
        if rows and int(out.max()) < 128:  # ASCII: widen the bytes to UCS-4 code points
            cols.append(out.astype(np.uint32).view(np.dtype(f"U{w}")).reshape(rows))
            continue
        b = out.view(f"S{w}").reshape(rows)
        try:
            cols.append(b.astype(str))
        except UnicodeDecodeError:
            cols.append(np.array([x.decode("utf-8", "replace") for x in b.tolist()], dtype=str))
    return tuple(cols)


def _number_column(buf: np.ndarray, spans: np.ndarray, j: int, kind: str, path: str,
                   line0: int) -> np.ndarray:
    """Field j of every row as float64 (``kind`` "float") or int64 ("int"):
    the numba fast path, then ``float()`` / ``int()`` on the fields it left;
    a field neither accepts is an InputError naming its line."""
    from .text_kernels import POW10, parse_fields

    rows = spans.shape[0]
    ints = kind == "int"
    out = np.empty(rows, dtype=np.int64 if ints else np.float64)
    slow = np.empty(rows, dtype=np.int64)
    k = parse_fields(buf, spans, j, POW10, ints, out, slow)
    convert = int if ints else float
    for r in slow[:k].tolist():
        a, b = int(spans[r, j, 0]), int(spans[r, j, 1])
        text = bytes(buf[a:b]).decode("utf-8", "replace")
        try:
            out[r] = convert(text)
        except (ValueError, OverflowError) as exc:
            line = line0 + int(np.count_nonzero(buf[:a] == 10)) + 1
            want = ("a 64-bit integer" if isinstance(exc, OverflowError) else "an integer"
                    ) if ints else "a number"
            raise InputError(f"{path} line {line}, column {j + 1}: '{text}' is not {want}"
                             ) from None
    return out


def _bytes_of(path: str, what: str) -> bytes:
    _check_readable(path, what)
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read {what} file {path}: {exc.strerror or exc}") from None
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def read_columns(path: str, what: str, ncol: int, more: bool = False,
                 numbers: dict | None = None) -> tuple:
    """The columns of a whitespace-separated file without a header (.bim,
    .fam) as str arrays, or numbers where ``numbers`` says (:func:`split_table`);
    a UTF-8 byte-order mark is dropped."""
    return split_table(_bytes_of(path, what), path, what, ncol, more, numbers=numbers)


def read_sample_table(path: str, what: str, prefix: str,
                      ids_only_ok: bool = False) -> SampleTable:
    """Read an ``FID IID col...`` table (see module docstring); the body is
    split by a numba kernel (:func:`split_table`).  ``ids_only_ok``: a table
    with a header and no columns after the IDs is fine (a .psam)."""
    data = _bytes_of(path, what)
    at, line0 = 0, 0
    for raw in data.split(b"\n"):  # the first non-blank line: the header, or the first row
        if raw.strip():
            break
        at += len(raw) + 1
        line0 += 1
    head = data[at:data.find(b"\n", at) if data.find(b"\n", at) >= 0 else len(data)]
    if not head.strip():
        raise InputError(f"{what} file {path} is empty")
    head_text = head.decode("utf-8", "replace")
    tabbed = "\t" in head_text
    first = _split(head_text, tabbed)
    by_iid = bool(first) and first[0].lstrip("#").upper() == "IID"
    has_header = by_iid or (len(first) >= 2 and first[0].lstrip("#").upper() == "FID"
                            and first[1].upper() == "IID")
    nid = 1 if by_iid else 2
    if has_header:
        names = first[nid:]
        body, line0 = data[at + len(head) + 1:], line0 + 1
    else:
        names = [f"{prefix}{k}" for k in range(1, len(first) - 1)]
        body = data[at:]
    ncol = len(names) + nid
    if len(names) == 0 and not (ids_only_ok and has_header):
        raise InputError(f"{what} file {path} has no columns after "
                         f"{'IID' if by_iid else 'FID and IID'}")
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise InputError(f"{what} file {path} has duplicated column name(s): {', '.join(dup)}")
    cols = split_table(body, path, what, ncol, tabs=tabbed, line0=line0)
    if not cols or cols[0].size == 0:
        raise InputError(f"{what} file {path} has a header but no samples")
    iid = cols[nid - 1]
    fid = iid if by_iid else cols[0]  # by_iid: FID unused
    dup = duplicated(iid if by_iid else sample_keys(fid, iid))
    if dup.size:
        raise InputError(f"{what} file {path} lists {dup.size} sample(s) more than "
                         f"once, first: {dup[0]}")
    columns = {name: cols[k + nid] for k, name in enumerate(names)}
    return SampleTable(path=path, fid=fid, iid=iid, names=names, columns=columns,
                       has_header=has_header, by_iid=by_iid)


def _text_missing(values: np.ndarray) -> np.ndarray:
    return np.isin(np.char.lower(values.astype(str)), list(MISSING_TOKENS))


def _floats(values: np.ndarray, skip: np.ndarray):
    """float64 of the non-skipped entries (NaN elsewhere) and the index of the
    first entry that is not a number (or None)."""
    out = np.full(values.size, np.nan)
    idx = np.flatnonzero(~skip)
    try:
        out[idx] = values[idx].astype(np.float64)
        return out, None
    except ValueError:
        for k in idx:
            try:
                out[k] = float(values[k])
            except ValueError:
                return out, k
    return out, None


def missing_mask(values: np.ndarray, missing_codes: tuple) -> np.ndarray:
    """True where a string value is missing: NA/nan/empty/'.', or equal to a
    missing code (as text, or as a number: '-9' also matches '-9.0')."""
    miss = _text_missing(values) | np.isin(values, list(missing_codes))
    codes = []
    for code in missing_codes:
        try:
            codes.append(float(code))
        except ValueError:
            pass
    if codes:
        miss |= np.isin(_floats_lenient(values, miss), codes)
    return miss


def _floats_lenient(values: np.ndarray, skip: np.ndarray) -> np.ndarray:
    out, bad = _floats(values, skip)
    if bad is None:
        return out
    out = np.full(values.size, np.nan)
    for k in np.flatnonzero(~skip):
        try:
            out[k] = float(values[k])
        except ValueError:
            pass
    return out


def parse_numeric(values: np.ndarray, missing_codes: tuple, path: str, column: str,
                  what: str, ids=None) -> np.ndarray:
    """Strings -> float64 with NaN for missing; non-numeric is an InputError."""
    miss = missing_mask(values, missing_codes)
    out, bad = _floats(values, miss)
    if bad is not None:
        who = f" (sample {ids[bad]})" if ids is not None else ""
        raise InputError(f"{what} '{column}' in {path} has a non-numeric value "
                         f"'{values[bad]}'{who}")
    if not np.isfinite(out[~miss]).all():
        k = np.flatnonzero(~miss & ~np.isfinite(out))[0]
        raise InputError(f"{what} '{column}' in {path} has a non-finite value '{values[k]}'")
    return out


def is_numeric_column(values: np.ndarray, missing_codes: tuple) -> bool:
    miss = missing_mask(values, missing_codes)
    return _floats(values, miss)[1] is None


@dataclass(frozen=True)
class IdList:
    """Samples listed by ``--keep``/``--remove``: keys "FID IID", or, for a
    PLINK 2 single-ID list (a '#IID' header, or one column), IIDs
    (``by_iid``)."""

    ids: np.ndarray
    by_iid: bool = False

    @property
    def size(self) -> int:
        return int(self.ids.size)

    def tolist(self) -> list:
        return self.ids.tolist()


def read_id_list(path: str, what: str) -> IdList:
    """FID IID list (``--keep``/``--remove``); extra columns ignored; a header
    ``FID IID``/``#FID IID`` is skipped; a header ``#IID`` (PLINK 2), or a
    single column throughout, lists IIDs only."""
    fid, iid = [], []
    by_iid = None
    for lineno, f in text_rows(path, what):
        if lineno == 1 and f[0].lstrip("#").upper() in ("FID", "IID") and \
                (f[0].startswith("#") or len(f) >= 2 and f[1].upper() == "IID"):
            by_iid = f[0].lstrip("#").upper() == "IID"
            continue
        if by_iid is None:
            by_iid = len(f) == 1
        if by_iid:
            iid.append(f[0])
            continue
        if len(f) < 2:
            raise InputError(f"{path} line {lineno}: a {what} file needs FID and IID columns "
                             f"(or a '#IID' header for IIDs alone)")
        fid.append(f[0])
        iid.append(f[1])
    if by_iid:
        return IdList(np.array(iid, dtype=str), by_iid=True)
    return IdList(sample_keys(np.array(fid, dtype=str), np.array(iid, dtype=str)))


def read_variant_list(path: str, what: str) -> set:
    """Variant IDs, first column of each line (``--extract``/``--exclude``)."""
    return {f[0] for _, f in text_rows(path, what)}


def select_columns(table: SampleTable, names: list | None, col_index: int | None,
                   what: str) -> list:
    """Column names picked by ``--pheno-name a,b`` or ``--pheno-col K`` (1-based after IID)."""
    if names and col_index is not None:
        raise UsageError(f"give either a {what} name or a {what} column number, not both")
    if col_index is not None:
        if not 1 <= col_index <= len(table.names):
            raise UsageError(f"{what} column {col_index} does not exist: {table.path} has "
                             f"{len(table.names)} column(s) after FID IID")
        return [table.names[col_index - 1]]
    if names:
        missing = [x for x in names if x not in table.columns]
        if missing:
            raise UsageError(f"{what} '{missing[0]}' not found in {table.path} (columns: "
                             f"{', '.join(table.names[:10])}{' ...' if len(table.names) > 10 else ''})")
        return list(names)
    return list(table.names)


def read_id_lists(paths, what: str) -> IdList | None:
    """The union of the ID lists in ``paths`` (a repeated ``--keep``/``--remove``,
    as PLINK 2 takes several files); None when no file is given."""
    if not paths:
        return None
    lists = [read_id_list(p, what) for p in paths]
    if len(lists) == 1:
        return lists[0]
    if len({x.by_iid for x in lists}) > 1:
        raise InputError(f"{what}: some files list FID IID and others IIDs alone; use one form")
    ids = np.concatenate([x.ids for x in lists])
    _, first = np.unique(ids, return_index=True)
    return IdList(ids[np.sort(first)], by_iid=lists[0].by_iid)


def read_variant_lists(paths, what: str) -> set | None:
    """The union of the variant lists in ``paths`` (repeated ``--extract``/``--exclude``)."""
    if not paths:
        return None
    out: set = set()
    for p in paths:
        out |= read_variant_list(p, what)
    return out
