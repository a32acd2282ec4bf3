"""Every output file goes through here: written under a unique temporary name
in its target folder and renamed onto its final name only when complete.

* The temporary file is created exclusively (``tempfile.mkstemp``: a new name
  no other process can hold, never through an existing file or symlink) and
  written through the descriptor that created it, never reopened by name.
* The final rename is atomic on POSIX file systems; a symbolic link planted
  at the final name is not replaced (nor followed): the run stops and says so.
* A failure, an interruption or a signal handled as one removes the
  temporary file; an ``OSError`` (disk full, a read-only folder, a folder
  where a file should be) becomes one error line naming the path.
* :class:`RunLock` keeps two runs from writing the same output prefix at
  once: the second stops with a message naming the first.
"""

from __future__ import annotations

import errno
import gzip
import io
import os
import socket
import tempfile
import time
from contextlib import contextmanager

import numpy as np

from .errors import GwaslmmError, UsageError

TMP_TAG = ".partial"
_PATH_ERRORS = {errno.EACCES, errno.EPERM, errno.EROFS, errno.EISDIR, errno.ENOTDIR,
                errno.ENOENT, errno.ELOOP, errno.ENAMETOOLONG, errno.EEXIST}


class OutputError(GwaslmmError):
    """An output could not be written (disk full, I/O error)."""

    exit_code = 1


def output_error(exc: OSError, path: str) -> GwaslmmError:
    """The one-line error for an OSError met writing ``path``: a usage error
    where the path itself is the problem (permissions, a folder in the way),
    else a data error (disk full, quota, I/O)."""
    what = exc.strerror or str(exc)
    if exc.errno == errno.ENOSPC or exc.errno == errno.EDQUOT:
        return OutputError(f"cannot write {path}: {what} (the disk or quota is full); nothing "
                           f"was written under that name")
    cls = UsageError if exc.errno in _PATH_ERRORS else OutputError
    return cls(f"cannot write {path}: {what}")


@contextmanager
def reporting(path: str):
    """Turn an OSError raised inside the block into :func:`output_error`."""
    try:
        yield
    except GwaslmmError:
        raise
    except OSError as exc:
        raise output_error(exc, path) from None


def ensure_parent(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    with reporting(path):
        os.makedirs(parent, exist_ok=True)


def refuse_symlink(path: str) -> None:
    if os.path.islink(path):
        raise UsageError(f"{path} is a symbolic link (to {os.readlink(path)}); gwaslmm does not "
                         f"write through or replace a link: remove it or choose another --out")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _temp(path: str, suffix: str = ""):
    """(fd, name) of a new, exclusively created temporary file beside ``path``:
    ``<name>.partial.<random><suffix>``, with the permissions a plain new file
    would get (mkstemp makes it private, 0600)."""
    ensure_parent(path)
    d, name = os.path.split(os.path.abspath(path))
    with reporting(path):
        fd, tmp = tempfile.mkstemp(prefix=name + TMP_TAG + ".", suffix=suffix, dir=d)
        os.fchmod(fd, 0o666 & ~_umask())
        return fd, tmp


def _unlink_quietly(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def _commit(tmp: str, path: str) -> None:
    """Rename the finished temporary file onto ``path`` (not onto a link)."""
    refuse_symlink(path)
    with reporting(path):
        os.replace(tmp, path)


@contextmanager
def atomic_file(path: str, suffix: str = ""):
    """A binary file object on a new temporary file beside ``path``, renamed
    to ``path`` if the block succeeds and removed if it fails.  ``suffix``
    for writers that look at the name (none do, since they get the file)."""
    refuse_symlink(path)
    fd, tmp = _temp(path, suffix)
    try:
        with reporting(path), os.fdopen(fd, "wb") as fh:
            yield fh
        _commit(tmp, path)
    except BaseException:
        _unlink_quietly(tmp)
        raise


@contextmanager
def atomic_text(path: str):
    """A text file handle (UTF-8) on a temporary file, renamed to ``path`` on success."""
    with atomic_file(path) as raw:
        fh = io.TextIOWrapper(raw, encoding="utf-8", write_through=False)
        try:
            yield fh
            fh.flush()
        finally:
            fh.detach()


class RunLock:
    """An advisory lock on ``<prefix>.lock`` for the length of a run, so that a
    second run writing the same output prefix stops at once instead of
    mixing its files with the first's.  POSIX record locks (``fcntl.lockf``)
    are released by the system when a process dies, also on NFS with lockd,
    so a killed run never leaves a stale lock.  The lock file is removed at
    the end; a run that finds it replaced by a newer one locks that one."""

    def __init__(self, prefix: str):
        self.path = prefix + ".lock"
        self.fd = None

    def __enter__(self):
        import fcntl

        refuse_symlink(self.path)
        ensure_parent(self.path)
        for _ in range(5):
            with reporting(self.path):
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0),
                             0o644)
            try:
                fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = os.pread(fd, 200, 0).decode("utf-8", "replace").strip()
                os.close(fd)
                raise UsageError(f"another gwaslmm run is writing the outputs {self.path[:-5]}.* "
                                 f"({holder or 'holder unknown'}); wait for it, or give this run "
                                 f"another --out") from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if same:  # not unlinked by a run that finished meanwhile
                os.ftruncate(fd, 0)
                os.pwrite(fd, f"pid {os.getpid()} on {socket.gethostname()} since "
                              f"{time.strftime('%Y-%m-%d %H:%M:%S')}".encode(), 0)
                self.fd = fd
                return self
            os.close(fd)
        raise UsageError(f"could not lock {self.path}: it keeps being replaced")

    def __exit__(self, *exc):
        if self.fd is not None:
            _unlink_quietly(self.path)
            os.close(self.fd)
            self.fd = None
        return False


def write_tsv(path: str, columns: list, rows: list) -> str:
    with atomic_text(path) as fh:
        fh.write("\t".join(columns) + "\n")
        for r in rows:
            fh.write("\t".join(str(x) for x in r) + "\n")
    return path


def write_npz(path: str, arrays: dict) -> str:
    """np.savez of plain arrays (no pickle), atomically."""
    with atomic_file(path) as fh:
        np.savez(fh, **arrays)
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
    """The fields of a file :func:`write_meta_yaml` wrote, with their types
    (quoted text, true/false, numbers), so that writing them again gives the
    same text."""
    out: dict = {}
    key = None
    with open(path, encoding="utf-8-sig") as fh:
        for line in fh:
            line = line.rstrip("\n")
            if line.startswith("  - ") and key is not None:
                out.setdefault(key, []).append(_scalar(line[4:]))
            elif ":" in line:
                key, _, v = line.partition(":")
                v = v.strip()
                out[key] = _scalar(v) if v else []
    return out


def _scalar(v: str):
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return v[1:-1].replace('\\"', '"')
    if v in ("true", "false"):
        return v == "true"
    for cast in (int, float):
        try:
            return cast(v)
        except ValueError:
            pass
    return v


class TableWriter:
    """Streams a tab-separated table (gzip when the name ends in .gz) to a
    temporary file; :meth:`finish` checks the row count and renames it."""

    def __init__(self, path: str, columns: list):
        self.path = path
        self.columns = list(columns)
        refuse_symlink(path)
        fd, self.tmp = _temp(path)
        raw = os.fdopen(fd, "wb")
        if path.endswith(".gz"):
            # mtime=0 so identical content gives identical bytes (chunk merge test).
            # the final name in the gzip header (not the temporary one), and
            # mtime=0: identical content gives identical bytes
            self._fh = io.TextIOWrapper(gzip.GzipFile(filename=os.path.basename(path),
                                                      fileobj=raw, mode="wb", mtime=0,
                                                      compresslevel=6), encoding="utf-8")
            self._raw = raw
        else:
            self._fh = io.TextIOWrapper(raw, encoding="utf-8")
            self._raw = None
        self.rows = 0
        with reporting(path):
            self._fh.write("\t".join(self.columns) + "\n")

    def write_block(self, cols: dict) -> None:
        """cols: column name -> list of strings (all the same length)."""
        lists = [cols[c] for c in self.columns]
        lines = ["\t".join(row) for row in zip(*lists)]
        if lines:
            with reporting(self.path):
                self._fh.write("\n".join(lines) + "\n")
        self.rows += len(lines)

    def write_lines(self, lines: list) -> None:
        if lines:
            with reporting(self.path):
                self._fh.write("".join(lines))
        self.rows += len(lines)

    def _close(self) -> None:
        try:
            self._fh.close()
        finally:
            if self._raw is not None:
                self._raw.close()

    def finish(self, expected_rows: int | None = None) -> str:
        try:
            with reporting(self.path):
                self._close()
            if expected_rows is not None and expected_rows != self.rows:
                raise RuntimeError(f"wrote {self.rows} rows to {self.path}, expected "
                                   f"{expected_rows}")
            _commit(self.tmp, self.path)
        except BaseException:
            _unlink_quietly(self.tmp)
            raise
        return self.path

    def abort(self) -> None:
        try:
            self._close()
        except OSError:
            pass  # a write already failed (disk full): the file is removed below
        finally:
            _unlink_quietly(self.tmp)
