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
    if not os.path.exists(path):
        raise InputError(f"{what} file not found: {path}")
    with open(path, "r", encoding="utf-8-sig", errors="replace") as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.split()
            if fields:
                yield lineno, fields


def read_sample_table(path: str, what: str, prefix: str) -> SampleTable:
    """Read an ``FID IID col...`` table (see module docstring)."""
    if not os.path.exists(path):
        raise InputError(f"{what} file not found: {path}")
    with open(path, "r", encoding="utf-8-sig", errors="replace") as fh:  # -sig: drop a BOM
        lines = [ln for ln in fh if ln.strip()]
    if not lines:
        raise InputError(f"{what} file {path} is empty")
    tabbed = "\t" in lines[0]
    first = _split(lines[0], tabbed)
    by_iid = bool(first) and first[0].lstrip("#").upper() == "IID"
    has_header = by_iid or (len(first) >= 2 and first[0].lstrip("#").upper() == "FID"
                            and first[1].upper() == "IID")
    nid = 1 if by_iid else 2
    if has_header:
        names = first[nid:]
        body = lines[1:]
    else:
        names = [f"{prefix}{k}" for k in range(1, len(first) - 1)]
        body = lines
    ncol = len(names) + nid
    if len(names) == 0:
        raise InputError(f"{what} file {path} has no columns after {'IID' if by_iid else 'FID and IID'}")
    if len(set(names)) != len(names):
        dup = sorted({x for x in names if names.count(x) > 1})
        raise InputError(f"{what} file {path} has duplicated column name(s): {', '.join(dup)}")
    rows = []
    start = 2 if has_header else 1
    for k, line in enumerate(body):
        f = _split(line, tabbed)
        if len(f) != ncol:
            raise InputError(f"{path} line {k + start}: expected {ncol} columns, found {len(f)}")
        rows.append(f)
    if not rows:
        raise InputError(f"{what} file {path} has a header but no samples")
    arr = np.array(rows, dtype=object).astype(str)
    iid = arr[:, nid - 1]
    fid = iid if by_iid else arr[:, 0]  # by_iid: FID unused
    dup = duplicated(iid if by_iid else sample_keys(fid, iid))
    if dup.size:
        raise InputError(f"{what} file {path} lists {dup.size} sample(s) more than "
                         f"once, first: {dup[0]}")
    columns = {name: arr[:, k + nid] for k, name in enumerate(names)}
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
