"""Every output file goes through here: written under a unique temporary name
in its target folder and renamed onto its final name only when complete.

The temporary name is created exclusively (``tempfile.mkstemp``: a name no
other process can hold, never through an existing file or symlink), so two
runs writing the same prefix never write into each other's unfinished file;
the rename is atomic on POSIX file systems.  A failure or an interruption
removes the temporary file.
"""

from __future__ import annotations

import gzip
import io
import os
import tempfile
from contextlib import contextmanager

import numpy as np

TMP_TAG = ".partial"


def ensure_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)


def temp_path(path: str, suffix: str = "") -> str:
    """Create (exclusively) and return a unique temporary file beside ``path``:
    ``<name>.partial.<random><suffix>``."""
    ensure_parent(path)
    d, name = os.path.split(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=name + TMP_TAG + ".", suffix=suffix, dir=d)
    os.close(fd)
    return tmp


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@contextmanager
def atomic_path(path: str, suffix: str = ""):
    """Yield a temporary path beside ``path``; rename it to ``path`` if the
    block succeeds, remove it if it fails.  ``suffix`` for writers that insist
    on an extension (np.savez adds '.npz', matplotlib picks the format by it)."""
    tmp = temp_path(path, suffix)
    try:
        yield tmp
    except BaseException:
        _unlink_quietly(tmp)
        raise
    try:
        os.replace(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


@contextmanager
def atomic_text(path: str):
    """A text file handle on a temporary name, renamed to ``path`` on success."""
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as fh:
            yield fh


def write_tsv(path: str, columns: list, rows: list) -> str:
    with atomic_text(path) as fh:
        fh.write("\t".join(columns) + "\n")
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    return path


def write_npz(path: str, arrays: dict) -> str:
    """np.savez of plain arrays (no pickle), atomically."""
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez(tmp, **arrays)
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
    with open(path, encoding="utf-8") as fh:
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


class TableWriter:
    """Streams a tab-separated table (gzip when the name ends in .gz) to a
    temporary file; :meth:`finish` checks the row count and renames it."""

    def __init__(self, path: str, columns: list):
        self.path = path
        self.columns = list(columns)
        self.tmp = temp_path(path)
        raw = open(self.tmp, "wb")
        if path.endswith(".gz"):
            # mtime=0 so identical content gives identical bytes (chunk merge test).
            self._fh = io.TextIOWrapper(gzip.GzipFile(fileobj=raw, mode="wb", mtime=0,
                                                      compresslevel=6), encoding="utf-8")
            self._raw = raw
        else:
            self._fh = io.TextIOWrapper(raw, encoding="utf-8")
            self._raw = None
        self._fh.write("\t".join(self.columns) + "\n")
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

    def _close(self) -> None:
        self._fh.close()
        if self._raw is not None:
            self._raw.close()

    def finish(self, expected_rows: int | None = None) -> str:
        try:
            self._close()
            if expected_rows is not None and expected_rows != self.rows:
                raise RuntimeError(f"wrote {self.rows} rows to {self.path}, expected "
                                   f"{expected_rows}")
            os.replace(self.tmp, self.path)
        except BaseException:
            _unlink_quietly(self.tmp)
            raise
        return self.path

    def abort(self) -> None:
        try:
            self._close()
        finally:
            _unlink_quietly(self.tmp)
