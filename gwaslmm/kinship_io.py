"""Kinship files: GCTA's binary GRM (read and write) and GEMMA's text matrix.

GCTA binary GRM: ``.grm.bin`` float32 lower triangle including the diagonal,
row by row; ``.grm.N.bin`` the SNP count per pair (float32); ``.grm.id``
FID IID per line.  GEMMA text kinship (``.cXX.txt``/``.sXX.txt``): an n x n
matrix whose rows are the samples of the .fam it was made from, in order.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .errors import InputError
from .ids import duplicated, positions, sample_keys
from .writers import atomic_file, atomic_text


@dataclass(frozen=True)
class Kinship:
    """A kinship matrix and the samples it is over.

    K : ndarray (n, n), float64, symmetric.  fid, iid : ndarray (n,), str.
    n_snps : number of SNPs it was built from (0 if unknown).
    """

    K: np.ndarray
    fid: np.ndarray
    iid: np.ndarray
    n_snps: int
    source: str

    @property
    def keys(self):
        return sample_keys(self.fid, self.iid)

    def subset(self, fid, iid) -> np.ndarray:
        """K restricted and ordered to the given samples; error naming the first
        sample that the kinship lacks."""
        want = sample_keys(fid, iid)
        idx = positions(self.keys, want)
        if (idx < 0).any():
            first = want[idx < 0][0]
            raise InputError(f"kinship {self.source} lacks {int((idx < 0).sum())} of the "
                             f"{want.size} analysed samples (first missing: {first}); its "
                             f"{self.keys.size} samples start with {self.keys[0]}")
        return self.K[np.ix_(idx, idx)]


# ---------------------------------------------------------------------------

def write_gcta_grm(paths, K: np.ndarray, n_snps, fid, iid) -> list:
    """GCTA binary GRM: paths = (PREFIX.grm.bin, PREFIX.grm.N.bin, PREFIX.grm.id)
    (:attr:`gwaslmm.paths.Outputs.grm`): float32 lower triangle with diagonal,
    row by row; float32 SNP count per pair; FID IID.  Each written atomically."""
    n = K.shape[0]
    rows, cols = np.tril_indices(n)
    # Row-major lower triangle: for i, j <= i.  np.tril_indices is ordered that way.
    vals = K[rows, cols].astype(np.float32)
    N = np.broadcast_to(np.asarray(n_snps, dtype=np.float32), (n, n))[rows, cols]
    with atomic_file(paths[0]) as fh:
        fh.write(vals.tobytes())
    with atomic_file(paths[1]) as fh:
        fh.write(np.ascontiguousarray(N, dtype=np.float32).tobytes())
    with atomic_text(paths[2]) as fh:
        for f, i in zip(fid, iid):
            fh.write(f"{f}\t{i}\n")
    return list(paths)


def read_gcta_grm(prefix: str) -> Kinship:
    """Read PREFIX.grm.bin/.grm.id (and .grm.N.bin for the SNP count if present)."""
    id_path, bin_path, n_path = prefix + ".grm.id", prefix + ".grm.bin", prefix + ".grm.N.bin"
    for p in (id_path, bin_path):
        if not os.path.exists(p):
            raise InputError(f"GCTA GRM '{prefix}': {p} not found")
    ids = []
    with open(id_path) as fh:
        for lineno, line in enumerate(fh, 1):
            f = line.split()
            if not f:
                continue
            if len(f) < 2:
                raise InputError(f"{id_path} line {lineno}: expected FID IID")
            ids.append(f[:2])
    n = len(ids)
    want = n * (n + 1) // 2
    size = os.path.getsize(bin_path)
    if size != 4 * want:
        raise InputError(f"{bin_path} has {size} bytes but {n} samples in {id_path} need "
                         f"{4 * want} (float32 lower triangle)")
    vals = np.fromfile(bin_path, dtype=np.float32).astype(np.float64)
    if not np.isfinite(vals).all():
        k = int(np.flatnonzero(~np.isfinite(vals))[0])
        r = int((np.sqrt(8 * k + 1) - 1) // 2)
        raise InputError(f"kinship {bin_path} has {int((~np.isfinite(vals)).sum())} non-finite "
                         f"entries (NaN or inf), first at row {r + 1}, column "
                         f"{k - r * (r + 1) // 2 + 1}: {vals[k]}")
    K = np.empty((n, n))
    rows, cols = np.tril_indices(n)
    K[rows, cols] = vals
    K[cols, rows] = vals
    n_snps = 0
    if os.path.exists(n_path) and os.path.getsize(n_path) == 4 * want:
        N = np.fromfile(n_path, dtype=np.float32, count=1)
        n_snps = int(N[0]) if N.size else 0
    ids = np.array(ids, dtype=str)
    _check_unique(ids[:, 0], ids[:, 1], id_path)
    return Kinship(K=K, fid=ids[:, 0], iid=ids[:, 1], n_snps=n_snps, source=prefix + ".grm.*")


PARALLEL_PARSE_BYTES = 1 << 22  # texts above 4 MiB are parsed in parallel chunks


def parse_text_matrix(data: bytes, path: str, expect: int = 0) -> np.ndarray:
    """A whitespace-separated numeric matrix (rows on lines) as float64 (r, c):
    numba kernel (:func:`gwaslmm.text_kernels.parse_matrix`, or
    :func:`~gwaslmm.text_kernels.parse_chunks` in parallel for a large
    text), the values it cannot convert exactly by the fast path through
    ``float()``; a token that is not a number or a ragged row is an
    InputError naming it.  ``expect``: the number of values expected (room is
    made for it first)."""
    from .text_kernels import POW10, parse_matrix

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    buf = np.frombuffer(data, dtype=np.uint8)
    parsed = _parse_parallel(data, buf) if len(data) > PARALLEL_PARSE_BYTES else None
    if parsed is None:
        cap = expect + 1 if expect else len(data) // 2 + 1
        out = np.empty(cap)
        spans = np.empty((1024, 3), dtype=np.int64)
        count, rows, ncol, bad_row, slow = parse_matrix(buf, out, spans, POW10)
        if count > out.size or slow > spans.shape[0]:  # rare: make room for every value
            cap = len(data) // 2 + 1
            out = np.empty(cap)
            spans = np.empty((cap, 3), dtype=np.int64)
            count, rows, ncol, bad_row, slow = parse_matrix(buf, out, spans, POW10)
        spans = spans[:slow]
    else:
        out, count, rows, ncol, bad_row, spans = parsed
    for s0, s1, at in spans:
        tok = data[s0:s1]
        try:
            out[at] = float(tok)
        except ValueError:
            line = data[:s0].count(b"\n") + 1
            raise InputError(f"{path} line {line}: '{tok.decode('utf-8', 'replace')[:40]}' is "
                             f"not a number (a kinship is a numeric matrix)") from None
    if bad_row >= 0:
        raise InputError(f"{path} is not a rectangular matrix: its row {bad_row + 1} has another "
                         f"number of values than the first ({ncol})")
    return out[:count].reshape(rows, max(ncol, 0)) if count else np.zeros((0, 0))


def _line_chunks(buf: np.ndarray) -> np.ndarray:
    """Bounds (int64) of 4 chunks of whole lines per numba thread in the text
    buf (uint8)."""
    import numba

    k = 4 * numba.get_num_threads()
    size = buf.size
    cuts = [0]
    for j in range(1, k):
        at = max(cuts[-1], j * size // k)
        while at < size:  # the next newline, a window at a time
            nl = np.flatnonzero(buf[at:at + 65536] == 10)
            if nl.size:
                at += int(nl[0])
                break
            at += 65536
        if at >= size:
            break
        cuts.append(at + 1)
    cuts.append(size)
    return np.array(sorted(set(cuts)), dtype=np.int64)


def _read_text(path: str) -> np.ndarray:
    """The file's bytes as a uint8 array, read straight into it: numpy backs
    a large array with huge pages, so far fewer page faults than a bytes
    object (0.022 s against 0.040 s for a 55 MB kinship text,
    benchmarks/speed_pieces.py)."""
    size = os.path.getsize(path)
    buf = np.empty(size, dtype=np.uint8)
    got = 0
    with open(path, "rb", buffering=0) as fh:
        while got < size:
            k = fh.readinto(memoryview(buf)[got:])
            if not k:
                break
            got += k
    return buf[:got]


def parse_kept_block(buf: np.ndarray, n: int, keep: np.ndarray) -> np.ndarray | None:
    """The (k, k) float64 block of the kept samples (``keep``: increasing
    indices, k of them) of a square text matrix over ``n`` samples, in
    parallel chunks of whole lines (:func:`gwaslmm.text_kernels.parse_chunks_kept`):
    buf: the text (uint8).  The other samples' fields are counted, not
    converted (GEMMA's example analyses 1,410 of its kinship's 1,940
    samples: half the values).  None where the text is not n rows of n
    fields or a kept field is not a number: the caller then parses all of
    it, and its errors name the problem."""
    from .text_kernels import POW10, count_rows, parse_chunks_kept

    if buf[:3].tobytes() == b"\xef\xbb\xbf":
        buf = buf[3:]
    bounds = _line_chunks(buf)
    counts = np.zeros(bounds.size - 1, dtype=np.int64)
    count_rows(buf, bounds, counts)
    if int(counts.sum()) != n:
        return None
    row0 = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    k = keep.size
    rank = np.full(n, -1, dtype=np.int64)
    rank[keep] = np.arange(k)
    out = np.empty(k * k)
    spans = np.empty((counts.size, 1024, 3), dtype=np.int64)
    res = np.zeros((counts.size, 3), dtype=np.int64)
    parse_chunks_kept(buf, bounds, row0, rank, k, out, spans, POW10, res)
    if (res[:, 1] >= 0).any() or (res[:, 2] > spans.shape[1]).any():
        return None
    for c in range(counts.size):
        for s0, s1, at in spans[c, :res[c, 2]]:
            try:
                out[at] = float(buf[s0:s1].tobytes())
            except ValueError:
                return None
    return out.reshape(k, k)


def _parse_parallel(data: bytes, buf: np.ndarray):
    """(out, count, rows, ncol, bad_row, slow spans) of :func:`parse_text_matrix`
    parsed in chunks of whole lines on every thread; None where a chunk has
    more values the fast path cannot convert than its span table holds (the
    caller then parses sequentially)."""
    from .text_kernels import POW10, count_values, parse_chunks

    bounds = _line_chunks(buf)
    counts = np.zeros(bounds.size - 1, dtype=np.int64)
    count_values(buf, bounds, counts)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    out = np.empty(int(offsets[-1]))
    spans = np.empty((counts.size, 1024, 3), dtype=np.int64)
    res = np.zeros((counts.size, 5), dtype=np.int64)
    parse_chunks(buf, bounds, offsets, out, spans, POW10, res)
    if (res[:, 4] > spans.shape[1]).any():
        return None
    rows = 0
    bad_row = ncol = -1
    for c, (cnt, r, nc, bad, _) in enumerate(res):
        if r == 0:
            continue
        if ncol < 0:
            ncol = int(nc)
        if bad_row < 0 and (nc != ncol or bad >= 0):
            bad_row = rows + (0 if nc != ncol else int(bad))
        rows += int(r)
    slow = np.concatenate([spans[c, :res[c, 4]] for c in range(counts.size)])
    return out, int(offsets[-1]), rows, max(ncol, 0), bad_row, slow


def read_gemma_kinship(path: str, fid, iid, keep=None) -> Kinship:
    """GEMMA text kinship (.cXX.txt / .sXX.txt): an n x n matrix, samples in
    the order of the .fam it was made from (``fid``/``iid``).

    ``keep`` (increasing indices into fid/iid): only those samples are
    needed; a large text then has only their rows and columns converted
    (:func:`parse_kept_block`; every row's field count is still checked)
    and the Kinship is over them.  Its values are checked (finite,
    symmetric) over the samples it returns."""
    if not os.path.exists(path):
        raise InputError(f"kinship file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"kinship {path} is a folder, not a file")
    fid, iid = np.asarray(fid, str), np.asarray(iid, str)
    n = len(fid)
    K = text = None
    try:
        if keep is not None and os.path.getsize(path) > PARALLEL_PARSE_BYTES:
            keep = np.asarray(keep, dtype=np.int64)
            text = _read_text(path)
            K = parse_kept_block(text, n, keep)
            if K is not None:
                fid, iid = fid[keep], iid[keep]
        if K is None and text is None:
            with open(path, "rb") as fh:
                text = fh.read()
    except OSError as exc:
        raise InputError(f"cannot read kinship {path}: {exc.strerror or exc}") from None
    if K is None:
        K = parse_text_matrix(bytes(text), path, expect=n * n)
        if K.shape != (n, n):
            raise InputError(f"kinship {path} is {K.shape[0]} x {K.shape[1]} but the .fam has "
                             f"{n} samples (a GEMMA kinship lists the .fam's samples in order)")
    del text
    _check_square(K, path)
    return Kinship(K=K, fid=fid, iid=iid, n_snps=0, source=path)


def _check_square(K: np.ndarray, source: str) -> None:
    """:func:`_check_finite` and :func:`_check_symmetric` in one parallel pass
    over K (:func:`gwaslmm.text_kernels.square_stats`; the numpy checks
    took 0.04 s on 1,940 samples, mostly K - K.T's transposed reads); where
    it finds a problem, the numpy check names it."""
    from .text_kernels import square_stats

    h = (K.shape[0] + 1) // 2
    asym, amax, bad = np.zeros(h), np.zeros(h), np.zeros(h, dtype=np.int64)
    square_stats(K, asym, amax, bad)
    if bad.any():
        _check_finite(K, source)
    if h and asym.max() > 1e-6 * max(1.0, float(amax.max())):
        _check_symmetric(K, source)


def _check_symmetric(K: np.ndarray, source: str) -> None:
    """np.allclose(K, K.T, atol=1e-6 * max(1, max |K|)), with one n x n
    temporary in the usual case (every asymmetry within atol)."""
    atol = 1e-6 * max(1.0, float(np.abs(K).max())) if K.size else 1e-6
    D = np.subtract(K, K.T)
    np.abs(D, out=D)
    if D.size == 0 or D.max() <= atol or np.allclose(K, K.T, atol=atol):
        return
    i, j = (int(v) for v in np.unravel_index(int(np.argmax(D)), D.shape))
    raise InputError(f"kinship {source} is not symmetric: entry ({i + 1}, {j + 1}) is {K[i, j]!r} "
                     f"but ({j + 1}, {i + 1}) is {K[j, i]!r}")


def _check_finite(K: np.ndarray, source: str) -> None:
    """A kinship with NaN or infinite entries (or values beyond float64's
    range, read as inf) is named as such, with the first place."""
    bad = ~np.isfinite(K)
    if bad.any():
        i, j = (int(v) for v in np.argwhere(bad)[0])
        raise InputError(f"kinship {source} has {int(bad.sum())} non-finite entries (NaN, "
                         f"inf or beyond the float64 range), first at row {i + 1}, column "
                         f"{j + 1}: {K[i, j]}")


def write_gemma_kinship(path: str, K: np.ndarray) -> None:
    with atomic_file(path) as fh:
        np.savetxt(fh, K, fmt="%.10g", delimiter="\t")


def _check_unique(fid, iid, where):
    dup = duplicated(sample_keys(fid, iid))
    if dup.size:
        raise InputError(f"{where} lists sample {dup[0]} more than once")
