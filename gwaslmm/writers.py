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
GZIP_LEVEL = 1  # measured: see TableWriter
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
    """Make ``path``'s folder (and those above it) if missing; a file where a
    folder should be is named as such (os.makedirs says only 'File exists')."""
    parent = os.path.dirname(os.path.abspath(path))
    up = parent
    while not os.path.exists(up) and os.path.dirname(up) != up:
        up = os.path.dirname(up)
    if os.path.exists(up) and not os.path.isdir(up):
        raise UsageError(f"cannot write {path}: {up} is a file, not a folder")
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


def write_lines(path: str, lines: list) -> str:
    """One item per line (a variant list for --extract), atomically."""
    with atomic_text(path) as fh:
        fh.write("".join(f"{x}\n" for x in lines))
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
    temporary file; :meth:`finish` checks the row count and renames it.

    Compressing and writing run in a thread of their own, fed through a short
    queue (at most QUEUE_BLOCKS blocks wait), so they overlap the scan's
    computing; zlib releases the interpreter lock while it compresses.  An
    error met there (disk full) is raised by the next write or by finish.
    gzip level 1: on gwaslmm's output it compresses at 116 MB/s against 17 MB/s
    at level 6 (the zlib default), for files 11% larger (ratio 0.428 against
    0.384; ``benchmarks/results/2026-11-27-speed-inputs.md``).
    """

    QUEUE_BLOCKS = 4

    def __init__(self, path: str, columns: list):
        import queue
        import threading

        self.path = path
        self.columns = list(columns)
        refuse_symlink(path)
        fd, self.tmp = _temp(path)
        raw = os.fdopen(fd, "wb")
        if path.endswith(".gz"):
            # the final name in the gzip header (not the temporary one), and
            # mtime=0: identical content gives identical bytes
            self._bin = gzip.GzipFile(filename=os.path.basename(path), fileobj=raw, mode="wb",
                                      mtime=0, compresslevel=GZIP_LEVEL)
            self._raw = raw
        else:
            self._bin = raw
            self._raw = None
        self.rows = 0
        self._error = None
        self._queue = queue.Queue(maxsize=self.QUEUE_BLOCKS)
        self._thread = threading.Thread(target=self._drain, name="gwaslmm-writer", daemon=True)
        self._thread.start()
        self._put(("\t".join(self.columns) + "\n").encode("utf-8"))

    def _drain(self) -> None:
        while True:
            data = self._queue.get()
            if data is None:
                return
            if self._error is None:
                try:
                    self._bin.write(data)
                except BaseException as exc:  # kept for the main thread
                    self._error = exc

    def _check(self) -> None:
        if self._error is not None:
            exc, self._error = self._error, None
            if isinstance(exc, OSError):
                raise output_error(exc, self.path) from None
            raise exc

    def _put(self, data: bytes) -> None:
        self._check()
        if data:
            self._queue.put(data)

    def write_block(self, cols: dict) -> None:
        """cols: column name -> list of strings (all the same length)."""
        lists = [cols[c] for c in self.columns]
        lines = ["\t".join(row) for row in zip(*lists)]
        if lines:
            self._put(("\n".join(lines) + "\n").encode("utf-8"))
        self.rows += len(lines)

    def write_text(self, data: bytes, rows: int) -> None:
        """``rows`` complete lines of UTF-8 text."""
        self._put(data)
        self.rows += rows

    def write_lines(self, lines: list) -> None:
        self._put("".join(lines).encode("utf-8"))
        self.rows += len(lines)

    def _stop(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()

    def _close(self) -> None:
        try:
            self._stop()
            self._check()
            self._bin.close()
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
            self._error = None
            self._close()
        except (OSError, GwaslmmError):
            pass  # a write already failed (disk full): the file is removed below
        finally:
            _unlink_quietly(self.tmp)
