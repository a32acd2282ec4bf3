"""Manhattan and QQ plots of an association result (GWAS-SSF-like TSV).

Pipeline stage: a finished ``.assoc.tsv[.gz]`` -> ``PREFIX.manhattan.png`` and
``PREFIX.qq.png``.

Reading (driver :func:`read_assoc_points`)
    The file (gzip, detected by its magic bytes, or plain text) is streamed in
    blocks of whole lines (``chunk_bytes``, 8 MiB by default, about 80 000
    rows of gwaslmm's own output).  Needed columns: ``chromosome``,
    ``base_pair_location`` and ``neg_log_10_p_value`` (or, when that column is
    absent, ``p_value``, turned into -log10 p); ``variant_id`` is optional and
    only used for labels.  A numba kernel splits the lines and parses the
    numbers; decimal numbers with at most 15 significant digits and a decimal
    exponent within +-22 are converted exactly (Clinger's fast path: one
    correctly rounded multiplication or division of two exactly representable
    doubles), everything else (``1.2e-300``, ``inf``, ``NA``) goes through
    Python's ``float``, so every value equals ``float(text)``.  ``NA``,
    ``nan``, ``.`` and empty fields are missing p-values: such rows are
    counted and reported, and their positions still set the chromosome length.
    A p-value of 0 (-log10 p = inf) keeps its rank in the QQ plot and in
    lambda_GC but cannot be drawn; those rows are counted and reported.

Memory (bounded, independent of the row count except for the two items below)
    Manhattan points are thinned while streaming (:class:`_ManhattanAccumulator`):
    every point with -log10 p >= 2 (p <= 0.01) is kept exactly, which keeps
    every point above the suggestive (1e-5) and genome-wide (5e-8) lines; the
    rest is binned per chromosome into x bins of ``w`` base pairs and y bins
    of 0.025 in -log10 p, one point (the most significant, then the lowest
    position) per occupied bin.  ``w`` is the smallest power of two with
    genome width / w <= 1000, i.e. between 1/1000 and 1/500 of the genome
    width (the sum of the chromosomes' largest positions); it only grows
    while streaming, and the kept bins are re-binned when it doubles, so the
    result does not depend on the chunking.  At most (1000 + number of
    chromosomes) x 80 thinned points, usually fewer.
    Why these bins: the Manhattan axes are ~1110 x 400 px and a marker is
    3.3 px across; an x bin is 1.1-2.2 px and a y bin at most 1.2 px (the
    y axis spans at least 0..8.5), so the bins are smaller than a marker and
    the thinned plot looks the same as the full one.  (Finer bins, 1/2000 of
    the genome by 0.01, keep ~60% of a 200 000-row null scan; these keep ~25%.
    Measured on a 1-million-row synthetic scan: 65 000 points drawn, and
    0.05% of the pixels differ from a rendering of all 1 000 000.)
    For the QQ plot and lambda_GC, -log10 p of every row with a p-value is
    stored as float32 (4 bytes a row: 40 MB at 10 million rows; relative
    rounding 6e-8, far below anything visible or relevant to lambda_GC).
    Points with p <= 0.01 are also stored in full with their variant IDs
    (about 1% of a null scan).

Plotting data (pure kernels: :func:`manhattan_data`, :func:`qq_data`, :func:`lambda_gc`)
    Chromosomes are ordered 1..22 numerically, X, Y, XY, MT, then the others
    (:func:`gwaslmm.genotypes.chromosome_sort_key` on
    :func:`gwaslmm.genotypes.normalize_chromosome` labels, so 'chr1' and '1'
    are the same chromosome).  x = offset of the chromosome + position, the
    offset being the running sum of the earlier chromosomes' largest positions
    plus a gap of 0.4% of the genome width each.  The top ``label_top`` hits
    are labelled with their variant ID, one per locus: a hit within 1 Mb of a
    stronger labelled hit on the same chromosome is skipped.  Label
    candidates are the points with p <= 0.01.

QQ plot
    Observed -log10 p against the expected -log10(i / (N + 1)) for rank i of
    N (i = 1 the smallest p), the mean of the i-th uniform order statistic,
    which is Beta(i, N - i + 1) distributed; the 95% band is that Beta's
    2.5% and 97.5% quantiles.  Every plotted point carries its true rank among
    all N p-values.  Plotted: every rank with observed or expected -log10 p
    >= 2, plus the first rank of every 0.005-wide bin of expected or observed
    -log10 p below that (both are monotone in rank).

lambda_GC (Devlin & Roeder 1999)
    median of the 1-df chi-square statistics equivalent to the p-values
    divided by the chi-square(1) median 0.4549364 (``chi2.ppf(0.5, 1)``).
    The statistic of a p-value is ``chi2.isf(p, 1) = ndtri(p / 2)**2``,
    computed from -log10 p through ``ndtri_exp`` so it stays exact below the
    float64 range; with an even count the median is the mean of the two
    middle statistics.

Rendering uses matplotlib's Agg canvas through the object-oriented API
(``matplotlib.figure.Figure`` + ``FigureCanvasAgg``), imported lazily: no
pyplot, no global backend switch, nothing shown on screen.  Manhattan
12 x 5 in and QQ 6 x 6 in, both at 100 dpi (1200 x 500 and 600 x 600 px).
PNGs are written to ``PREFIX.<kind>.partial.png`` and renamed on success.
"""

from __future__ import annotations

import gzip
import math
import os
import time
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from .errors import InputError, UsageError
from .genotypes import chromosome_sort_key, normalize_chromosome

GENOME_WIDE_P = 5e-8
SUGGESTIVE_P = 1e-5
KEEP_ALL_NEGLOG10 = 2.0      # points with -log10 p >= 2 (p <= 0.01) are never thinned
Y_BIN = 0.025                # Manhattan thinning: y bin width in -log10 p
X_BINS = 1000                # Manhattan thinning: x bin between 1/X_BINS and 2/X_BINS of the genome
GAP_FRACTION = 0.004         # gap between chromosomes, fraction of the genome width
LOCUS_BP = 1_000_000         # one label per 1 Mb locus
QQ_BIN = 0.005               # QQ thinning bin in -log10 p
QQ_BAND_POINTS = 400         # ranks at which the 95% band is evaluated
CHUNK_BYTES = 8 << 20
CHI2_1_MEDIAN = 0.45493642311957174  # scipy.stats.chi2.ppf(0.5, 1)

MANHATTAN_SIZE_IN = (12.0, 5.0)
QQ_SIZE_IN = (6.0, 6.0)
DPI = 100
COLORS = ("#1f4e89", "#74a9dc")  # alternating chromosome colours
GW_COLOR = "#c0392b"
SUGG_COLOR = "#808080"

REQUIRED_COLUMNS = ("chromosome", "base_pair_location")
P_COLUMNS = ("neg_log_10_p_value", "p_value")
MISSING_TOKENS = {b"NA", b"na", b"NaN", b"nan", b"", b".", b"-nan"}

# Bin keys pack (chromosome id, x bin, y bin) into one int64.  x bins stay
# below X_BINS (the width is set before binning), y bins below 2 / Y_BIN = 200.
_Y_BITS, _X_BITS = 8, 16
_MAX_CHROMS = 1 << (63 - _X_BITS - _Y_BITS)
_MAX_POS = 1 << 50


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

@dataclass(frozen=True)
class TopHit:
    variant_id: str
    chromosome: str
    position: int
    x: float
    neglog10p: float


@dataclass(frozen=True)
class ManhattanData:
    """Thinned Manhattan points and the axis layout.

    x : ndarray, shape (k,), float64 -- cumulative position (offset + bp)
    y : ndarray, shape (k,), float64 -- -log10 p (finite)
    chrom_index : ndarray, shape (k,), int32 -- index into ``chromosomes``
    position : ndarray, shape (k,), int64 -- base-pair position
    chromosomes : tuple of str, shape (c,) -- plot order
    offsets, ticks : ndarray, shape (c,), float64 -- chromosome start and centre on x
    genome_width : float -- x of the end of the last chromosome
    """

    x: np.ndarray
    y: np.ndarray
    chrom_index: np.ndarray
    position: np.ndarray
    chromosomes: tuple
    offsets: np.ndarray
    ticks: np.ndarray
    genome_width: float
    top_hits: tuple
    n_snps: int          # rows with a p-value (including p = 0)
    n_full: int          # points kept exactly (-log10 p >= 2)
    n_binned: int        # one point per occupied bin, from the rest
    n_infinite: int      # p = 0: not drawable
    x_bin_bp: int

    @property
    def n_plotted(self) -> int:
        return int(self.x.size)


@dataclass(frozen=True)
class QQData:
    """QQ points and 95% band.

    expected, observed : ndarray, shape (k,), float64 -- -log10 p, by increasing rank
    rank : ndarray, shape (k,), int64 -- 1-based rank among all n (1 = smallest p)
    band_expected, band_lower, band_upper : ndarray, shape (b,), float64
    """

    expected: np.ndarray
    observed: np.ndarray
    rank: np.ndarray
    band_expected: np.ndarray
    band_lower: np.ndarray
    band_upper: np.ndarray
    n: int
    n_infinite: int
    lambda_gc: float


@dataclass(frozen=True)
class AssocPoints:
    """What :func:`read_assoc_points` gathers from a result file."""

    manhattan: ManhattanData
    neglog10p: np.ndarray   # shape (n_snps,), float32, file order
    n_rows: int
    n_missing: int
    n_blank: int
    p_column: str


# ---------------------------------------------------------------------------
# kernels
# ---------------------------------------------------------------------------

def _check_neglog10(y: np.ndarray, what: str = "neglog10p") -> np.ndarray:
    """Raise InputError unless y is 1-d with no NaN or negative value (no big temporaries)."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise InputError(f"{what} must be one-dimensional (got shape {y.shape})")
    if y.size:
        lo = y.min()                   # NaN propagates through min
        if np.isnan(lo) or lo < 0:
            bad = np.isnan(y) | (y < 0)
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{what}: {int(bad.sum())} of {y.size} values are NaN or "
                             f"negative (first at index {i}: {y[i]})")
    return y


def _chi2_from_neglog10(y) -> np.ndarray:
    """chi2.isf(p, 1) = ndtri(p/2)^2 from y = -log10 p (exact below 1e-308)."""
    from scipy.special import ndtri_exp

    y = np.asarray(y, dtype=np.float64)
    return ndtri_exp(-y * math.log(10.0) - math.log(2.0)) ** 2


def _lambda_from_middle(mid) -> float:
    return float(_chi2_from_neglog10(mid).mean() / CHI2_1_MEDIAN)


def lambda_gc(neglog10p) -> float:
    """Genomic inflation factor lambda_GC (Devlin & Roeder 1999).

    neglog10p : array_like, shape (n,), float -- -log10 p; inf allowed (p = 0),
        NaN and negative values raise InputError.
    Returns median(chi2_1 statistic) / 0.4549364, the statistic being
    chi2.isf(p, 1); the mean of the two middle statistics for even n.
    """
    y = _check_neglog10(neglog10p)
    n = y.size
    if n == 0:
        raise InputError("lambda_GC needs at least one p-value (got 0)")
    k = n // 2
    if n % 2:
        mid = np.partition(y, k)[k:k + 1]
    else:
        part = np.partition(y, [k - 1, k])
        mid = part[k - 1:k + 1]
    return _lambda_from_middle(mid)


def qq_data(neglog10p, band_points: int = QQ_BAND_POINTS,
            overwrite_input: bool = False) -> QQData:
    """QQ plot points (thinned) with their exact expected quantiles, 95% band, lambda_GC.

    neglog10p : array_like, shape (n,), float32 or float64 -- -log10 p of every
        test, any order; inf (p = 0) counts in the ranks but is not plotted.
    overwrite_input : sort ``neglog10p`` in place instead of a copy (saves
        4 bytes a row for float32 input).
    Rank i (1 = smallest p) has expected -log10(i / (n + 1)); the band is
    -log10 of the Beta(i, n - i + 1) 97.5% and 2.5% quantiles.
    """
    from scipy import stats

    y = np.asarray(neglog10p)
    if y.ndim != 1:
        raise InputError(f"neglog10p must be one-dimensional (got shape {y.shape})")
    n = int(y.size)
    if n == 0:
        raise InputError("QQ plot needs at least one p-value (got 0)")
    if overwrite_input and y.flags.writeable:
        y.sort()
        asc = y                        # ascending -log10 p: index t <-> rank n - t
    else:
        asc = np.sort(y)
    if np.isnan(asc[-1]) or asc[0] < 0:  # NaN sorts last
        _check_neglog10(asc)
    k = n // 2
    lam = _lambda_from_middle(asc[k:k + 1] if n % 2 else asc[k - 1:k + 1])
    n_inf = n - int(np.searchsorted(asc, np.inf, side="left"))
    n_fin = n - n_inf
    keep = [np.array([0, n_fin - 1], dtype=np.int64)] if n_fin else []
    if n_fin:
        # top ranks: observed >= 2 or expected >= 2 (-> rank <= (n + 1) / 100)
        t_obs = int(np.searchsorted(asc[:n_fin], KEEP_ALL_NEGLOG10, side="left"))
        t_exp = int(math.ceil(n - (n + 1) * 10.0 ** (-KEEP_ALL_NEGLOG10)))
        t0 = max(0, min(t_obs, t_exp))
        keep.append(np.arange(t0, n_fin, dtype=np.int64))
        # below: first index of each 0.005-wide observed and expected bin
        edges = np.arange(0.0, KEEP_ALL_NEGLOG10 + QQ_BIN, QQ_BIN)
        keep.append(np.searchsorted(asc[:n_fin], edges, side="left"))
        t_e = np.ceil(n - (n + 1) * 10.0 ** (-edges)).astype(np.int64)
        keep.append(t_e)
    if keep:
        t = np.unique(np.concatenate(keep))
        t = t[(t >= 0) & (t < n_fin)]
    else:
        t = np.zeros(0, dtype=np.int64)
    rank = (n - t).astype(np.int64)
    order = np.argsort(rank)
    rank, t = rank[order], t[order]
    expected = -np.log10(rank / (n + 1.0))
    observed = asc[t].astype(np.float64)
    # band at log-spaced ranks
    br = np.unique(np.round(np.logspace(0.0, math.log10(n), band_points)).astype(np.int64))
    br = br[(br >= 1) & (br <= n)]
    b_exp = -np.log10(br / (n + 1.0))
    b_hi = -np.log10(stats.beta.ppf(0.025, br, n - br + 1))
    b_lo = -np.log10(stats.beta.ppf(0.975, br, n - br + 1))
    return QQData(expected=expected, observed=observed, rank=rank, band_expected=b_exp,
                  band_lower=b_lo, band_upper=b_hi, n=n, n_infinite=n_inf, lambda_gc=lam)


class _ManhattanAccumulator:
    """Streaming thinning of Manhattan points (see the module docstring).

    Feed chunks with :meth:`add`; :meth:`finish` returns :class:`ManhattanData`.
    Chromosome ids come from :meth:`chrom_id` (labels normalised, so 'chr1'
    and '1' share an id).
    """

    def __init__(self):
        self.labels: list = []          # id -> normalised label
        self._by_norm: dict = {}
        self._by_raw: dict = {}
        self.pos_min = np.zeros(0, dtype=np.int64)
        self.pos_max = np.zeros(0, dtype=np.int64)
        self.width = 1
        self.full: list = []            # (chrom, pos, y, ids) per chunk
        self.t_key = np.zeros(0, dtype=np.int64)
        self.t_pos = np.zeros(0, dtype=np.int64)
        self.t_y = np.zeros(0, dtype=np.float64)
        self.n_snps = 0
        self.n_infinite = 0

    def chrom_id(self, raw) -> int:
        cid = self._by_raw.get(raw)
        if cid is not None:
            return cid
        text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        norm = normalize_chromosome(text)
        if not norm:
            raise InputError("empty chromosome name")
        cid = self._by_norm.get(norm)
        if cid is None:
            cid = len(self.labels)
            if cid >= _MAX_CHROMS:
                raise InputError(f"more than {_MAX_CHROMS} distinct chromosome names")
            self.labels.append(norm)
            self._by_norm[norm] = cid
            self.pos_min = np.append(self.pos_min, np.iinfo(np.int64).max)
            self.pos_max = np.append(self.pos_max, -1)
        self._by_raw[raw] = cid
        return cid

    def _keys(self, chrom, pos, y):
        """Bin key (chromosome id, pos // width, floor(y / Y_BIN)) packed in an int64."""
        yb = np.floor(y / Y_BIN).astype(np.int64)
        return ((chrom.astype(np.int64) << (_X_BITS + _Y_BITS))
                | ((pos // self.width) << _Y_BITS) | yb)

    @staticmethod
    def _reduce(key, y, pos):
        """One point per distinct key: the largest y, ties to the lowest position.

        key, pos : int64 (n,); y : float64 (n,).  Returns (key, y, pos), sorted by key.
        """
        order = np.argsort(key)
        ks, ys, ps = key[order], y[order], pos[order]
        start = np.flatnonzero(np.concatenate(([True], ks[1:] != ks[:-1])))
        ymax = np.maximum.reduceat(ys, start)
        counts = np.diff(np.append(start, ks.size))
        cand = np.where(ys == np.repeat(ymax, counts), ps, np.iinfo(np.int64).max)
        return ks[start], ymax, np.minimum.reduceat(cand, start)

    def add(self, chrom, pos, y, ids_for=None) -> None:
        """One chunk of rows.

        chrom : ndarray, shape (n,), int32 -- ids from :meth:`chrom_id`
        pos : ndarray, shape (n,), int64 -- base-pair positions (>= 0)
        y : ndarray, shape (n,), float64 -- -log10 p; NaN = missing (position
            still counts for the chromosome length), inf = p of 0
        ids_for : callable(index array) -> sequence of str, or None -- variant
            IDs of the given rows (asked only for the rows kept in full)
        """
        if pos.size == 0:
            return
        if int(pos.min()) < 0 or int(pos.max()) >= _MAX_POS:
            bad = int(np.flatnonzero((pos < 0) | (pos >= _MAX_POS))[0])
            raise InputError(f"base_pair_location {int(pos[bad])} out of range "
                             f"(0 .. {_MAX_POS - 1})")
        # chromosome extents
        ids_here = np.unique(chrom)
        if ids_here.size == 1:
            c = int(ids_here[0])
            self.pos_min[c] = min(self.pos_min[c], int(pos.min()))
            self.pos_max[c] = max(self.pos_max[c], int(pos.max()))
        else:
            np.minimum.at(self.pos_min, chrom, pos)
            np.maximum.at(self.pos_max, chrom, pos)
        total = int(np.maximum(self.pos_max, 0).sum())
        if total > X_BINS * self.width:
            while total > X_BINS * self.width:
                self.width *= 2
            if self.t_key.size:
                chrom_t = (self.t_key >> (_X_BITS + _Y_BITS)).astype(np.int32)
                self.t_key, self.t_y, self.t_pos = self._reduce(
                    self._keys(chrom_t, self.t_pos, self.t_y), self.t_y, self.t_pos)
        has_p = ~np.isnan(y)
        self.n_snps += int(has_p.sum())
        self.n_infinite += int(np.isposinf(y).sum())
        full = np.flatnonzero(has_p & (y >= KEEP_ALL_NEGLOG10) & np.isfinite(y))
        if full.size:
            ids = None
            if ids_for is not None:
                ids = np.asarray(ids_for(full), dtype=object)
            self.full.append((chrom[full], pos[full], y[full].astype(np.float64), ids))
        low = np.flatnonzero(has_p & (y < KEEP_ALL_NEGLOG10))
        if low.size == 0:
            return
        ly = y[low].astype(np.float64)
        lk, ly, lp = self._reduce(self._keys(chrom[low], pos[low], ly), ly, pos[low])
        idx = np.searchsorted(self.t_key, lk)
        present = np.zeros(lk.size, dtype=bool)
        inb = idx < self.t_key.size
        present[inb] = self.t_key[idx[inb]] == lk[inb]
        # bin already held: keep the better point (larger y, then lower position)
        pi = idx[present]
        yp, pp = ly[present], lp[present]
        better = (yp > self.t_y[pi]) | ((yp == self.t_y[pi]) & (pp < self.t_pos[pi]))
        self.t_y[pi[better]] = yp[better]
        self.t_pos[pi[better]] = pp[better]
        new = ~present
        if new.any():
            at = idx[new]
            self.t_key = np.insert(self.t_key, at, lk[new])
            self.t_pos = np.insert(self.t_pos, at, lp[new])
            self.t_y = np.insert(self.t_y, at, ly[new])

    def finish(self, label_top: int = 5) -> ManhattanData:
        if not self.labels:
            raise InputError("no rows to plot")
        order = sorted(range(len(self.labels)), key=lambda c: chromosome_sort_key(self.labels[c]))
        present = [c for c in order if self.pos_max[c] >= 0]
        rank_of = np.full(len(self.labels), -1, dtype=np.int32)
        rank_of[present] = np.arange(len(present), dtype=np.int32)
        lengths = np.array([self.pos_max[c] for c in present], dtype=np.float64)
        mins = np.array([self.pos_min[c] for c in present], dtype=np.float64)
        gap = GAP_FRACTION * max(float(lengths.sum()), 1.0)
        offsets = np.concatenate([[0.0], np.cumsum(lengths + gap)[:-1]])
        ticks = offsets + (mins + lengths) / 2.0
        width = float(offsets[-1] + lengths[-1]) if len(present) else 0.0

        if self.full:
            f_chrom = np.concatenate([f[0] for f in self.full])
            f_pos = np.concatenate([f[1] for f in self.full])
            f_y = np.concatenate([f[2] for f in self.full])
            if all(f[3] is not None for f in self.full):
                f_ids = np.concatenate([f[3] for f in self.full])
            else:
                f_ids = None
        else:
            f_chrom = np.zeros(0, np.int32)
            f_pos = np.zeros(0, np.int64)
            f_y = np.zeros(0, np.float64)
            f_ids = None
        t_chrom = (self.t_key >> (_X_BITS + _Y_BITS)).astype(np.int32)
        chrom = np.concatenate([f_chrom, t_chrom])
        pos = np.concatenate([f_pos, self.t_pos])
        y = np.concatenate([f_y, self.t_y])
        ci = rank_of[chrom]
        x = offsets[ci] + pos if ci.size else np.zeros(0)
        srt = np.lexsort((pos, ci))
        top = []
        if label_top > 0 and f_y.size:
            # strongest first; ties by chromosome order and position
            cand = np.lexsort((f_pos, rank_of[f_chrom], -f_y))
            taken: list = []
            for i in cand:
                c, p = int(f_chrom[i]), int(f_pos[i])
                if any(tc == c and abs(tp - p) < LOCUS_BP for tc, tp in taken):
                    continue
                taken.append((c, p))
                label = self.labels[c]
                vid = str(f_ids[i]) if f_ids is not None else f"{label}:{p}"
                top.append(TopHit(variant_id=vid, chromosome=label, position=p,
                                  x=float(offsets[rank_of[c]] + p), neglog10p=float(f_y[i])))
                if len(top) >= label_top:
                    break
        return ManhattanData(
            x=np.asarray(x, dtype=np.float64)[srt], y=y[srt], chrom_index=ci[srt],
            position=pos[srt], chromosomes=tuple(self.labels[c] for c in present),
            offsets=offsets, ticks=ticks, genome_width=width, top_hits=tuple(top),
            n_snps=self.n_snps, n_full=int(f_y.size), n_binned=int(self.t_y.size),
            n_infinite=self.n_infinite, x_bin_bp=self.width)


def manhattan_data(chromosome, position, neglog10p, variant_id=None, label_top: int = 5,
                   chunk_rows: int | None = None) -> ManhattanData:
    """Thinned Manhattan plotting data from in-memory columns.

    chromosome : sequence of str, shape (n,)
    position : array_like, shape (n,), int -- base-pair positions
    neglog10p : array_like, shape (n,), float -- -log10 p; NaN = missing, inf = p of 0
    variant_id : sequence of str, shape (n,), or None (labels become 'chr:pos')
    chunk_rows : feed the rows in chunks of this size (the streaming path; the
        result does not depend on it)
    """
    chromosome = np.asarray(chromosome)
    pos = np.asarray(position, dtype=np.int64)
    y = np.asarray(neglog10p, dtype=np.float64)
    n = y.size
    if not (chromosome.shape == pos.shape == y.shape == (n,)):
        raise InputError(f"chromosome, position and neglog10p must have the same length "
                         f"(got {chromosome.shape}, {pos.shape}, {y.shape})")
    if (y < 0).any():
        raise InputError(f"{int((y < 0).sum())} negative -log10 p values")
    acc = _ManhattanAccumulator()
    uniq, inv = np.unique(chromosome, return_inverse=True)
    ids = np.array([acc.chrom_id(str(u)) for u in uniq], dtype=np.int32)
    chrom = ids[inv.reshape(-1)] if n else np.zeros(0, np.int32)
    step = n if not chunk_rows else int(chunk_rows)
    for a in range(0, n, max(step, 1)):
        b = min(n, a + step)
        ids_for = None
        if variant_id is not None:
            ids_for = (lambda idx, a=a: [str(variant_id[a + i]) for i in idx])
        acc.add(chrom[a:b], pos[a:b], y[a:b], ids_for)
    return acc.finish(label_top)


# ---------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------

_POW10 = np.array([10.0 ** k for k in range(23)])


def _parse_rows_py(buf, ncol, c_chr, c_pos, c_y, c_id, pos_out, y_out, y_flag, y_span,
                   id_span, run_row, run_span, pow10):
    """Parse whole lines of a TSV block (numba kernel; see :func:`_parse_kernel`).

    buf : ndarray, shape (nbytes,), uint8 -- complete lines, each ending in '\\n'
    ncol : int -- fields every line must have
    c_chr, c_pos, c_y, c_id : int -- column indexes (c_id -1: none)
    pos_out : int64 (>= rows); y_out : float64; y_flag : uint8 (1: parse in Python)
    y_span, id_span : int64 (rows, 2) -- byte spans [start, end) of the fields
    run_row : int64 (rows,), run_span : int64 (rows, 2) -- rows where the
        chromosome text changes from the previous row, and its span
    Returns (rows, runs, blank_lines, err_line, err_code, err_value):
    err_code 0 none, 1 wrong field count (err_value = fields),
    2 bad base_pair_location; err_line is the 0-based line in the block.
    """
    n = buf.size
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
            if c == 9 or c == 10:
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
                    ok = e > s
                    for k in range(s, e):
                        d = buf[k] - 48
                        if d < 0 or d > 9 or v > 100000000000000:
                            ok = False
                            break
                        v = v * 10 + d
                    if not ok:
                        return row, runs, blanks, line, 2, 0
                    pos_out[row] = v
                elif f == c_y:
                    y_span[row, 0] = s
                    y_span[row, 1] = e
                    k = s
                    neg = False
                    if k < e and (buf[k] == 45 or buf[k] == 43):
                        neg = buf[k] == 45
                        k += 1
                    mant = 0
                    sig = 0
                    exp10 = 0
                    ndig = 0
                    exact = True
                    while k < e and buf[k] >= 48 and buf[k] <= 57:
                        d = buf[k] - 48
                        ndig += 1
                        if mant == 0 and d == 0:
                            pass
                        elif sig < 18:
                            mant = mant * 10 + d
                            sig += 1
                        else:
                            exp10 += 1
                            exact = False
                        k += 1
                    if k < e and buf[k] == 46:
                        k += 1
                        while k < e and buf[k] >= 48 and buf[k] <= 57:
                            d = buf[k] - 48
                            ndig += 1
                            if mant == 0 and d == 0:
                                exp10 -= 1
                            elif sig < 18:
                                mant = mant * 10 + d
                                sig += 1
                                exp10 -= 1
                            else:
                                exact = False
                            k += 1
                    if ndig == 0:
                        exact = False
                    if exact and k < e and (buf[k] == 101 or buf[k] == 69):
                        k += 1
                        eneg = False
                        if k < e and (buf[k] == 45 or buf[k] == 43):
                            eneg = buf[k] == 45
                            k += 1
                        ev = 0
                        nexp = 0
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


def _parse_kernel():
    """The numba-compiled :func:`_parse_rows_py` (compiled on first use, cached on disk)."""
    global _KERNEL
    if _KERNEL is None:
        from ._jit import jit

        _KERNEL = jit()(_parse_rows_py)
    return _KERNEL


def _open_binary(path: str):
    """(binary stream, underlying raw file, is_gzip); gzip detected by its magic
    bytes (1f 8b), whatever the file name."""
    try:
        raw = open(path, "rb")
    except FileNotFoundError:
        raise InputError(f"association file {path} does not exist") from None
    except OSError as exc:
        raise InputError(f"cannot open association file {path}: {exc.strerror}") from None
    magic = raw.read(2)
    raw.seek(0)
    if magic == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), raw, True
    return raw, raw, False


def _header_columns(path: str, header: bytes):
    if not header:
        raise InputError(f"association file {path} is empty (no header line)")
    try:
        text = header.decode("utf-8").rstrip("\r\n")
    except UnicodeDecodeError:
        raise InputError(f"association file {path}: header line is not text "
                         f"(is it a compressed format other than gzip?)") from None
    if text.startswith("#"):
        text = text[1:]
    cols = [c.strip() for c in text.split("\t")]
    need = list(REQUIRED_COLUMNS)
    p_col = next((c for c in P_COLUMNS if c in cols), None)
    missing = [c for c in need if c not in cols]
    if p_col is None:
        missing.append("neg_log_10_p_value (or p_value)")
    if missing:
        shown = ", ".join(cols[:12]) + (f", ... ({len(cols)} columns)" if len(cols) > 12 else "")
        hint = ("; the header has no tab: the file must be tab-separated"
                if len(cols) == 1 and (" " in text or "," in text) else "")
        raise InputError(f"association file {path} lacks column(s) {', '.join(missing)} "
                         f"(header: {shown}){hint}")
    for c in need + [p_col, "variant_id"]:
        if cols.count(c) > 1:
            raise InputError(f"association file {path}: column {c} appears "
                             f"{cols.count(c)} times in the header")
    return cols, p_col


def _line_number(chunk: bytes, base_line: int, row: int) -> int:
    """1-based file line of data row ``row`` of a block whose first line is base_line + 1."""
    line = 0
    r = -1
    for ln in chunk.split(b"\n"):
        line += 1
        if ln.strip(b"\r"):
            r += 1
            if r == row:
                break
    return base_line + line


def read_assoc_points(path: str, label_top: int = 5, chunk_bytes: int = CHUNK_BYTES,
                      log=None) -> AssocPoints:
    """Stream an association file into thinned Manhattan data and all -log10 p (float32).

    Memory is bounded by ``chunk_bytes`` (two blocks in flight: one being
    decompressed by a reader thread while the other is parsed), the thinned
    bins, the p <= 0.01 points, and 4 bytes per row for the QQ plot.
    """
    t0 = time.perf_counter()
    kernel = _parse_kernel()
    fh, raw, is_gz = _open_binary(path)
    acc = _ManhattanAccumulator()
    ys: list = []
    n_rows = n_missing = n_blank = 0
    line_base = 1                      # lines consumed (header = line 1)
    try:
        try:
            cols, p_col = _header_columns(path, fh.readline())
            ncol = len(cols)
            c_chr = cols.index("chromosome")
            c_pos = cols.index("base_pair_location")
            c_y = cols.index(p_col)
            c_id = cols.index("variant_id") if "variant_id" in cols else -1
            y_is_p = p_col == "p_value"
            carry = b""
            with ThreadPoolExecutor(max_workers=1) as pool:
                fut = pool.submit(fh.read, chunk_bytes)
                eof = False
                while not eof:
                    block = fut.result()
                    if block:
                        fut = pool.submit(fh.read, chunk_bytes)
                        data = carry + block if carry else block
                        cut = data.rfind(b"\n")
                        if cut < 0:
                            carry = data
                            continue
                        chunk, carry = data[:cut + 1], data[cut + 1:]
                    else:
                        eof = True
                        if not carry:
                            break
                        chunk, carry = carry + b"\n", b""
                    res = _parse_block(kernel, chunk, ncol, c_chr, c_pos, c_y, c_id, y_is_p,
                                       path, line_base, cols, acc)
                    ys.append(res[0])
                    n_rows += res[1]
                    n_missing += res[2]
                    n_blank += res[3]
                    line_base += res[4]
        except (EOFError, zlib.error, gzip.BadGzipFile) as exc:
            raise InputError(f"association file {path}: gzip data is corrupt or truncated "
                             f"after line {line_base} ({exc})") from None
        except OSError as exc:
            raise InputError(f"association file {path}: read failed after line {line_base} "
                             f"({exc})") from None
    finally:
        fh.close()
        raw.close()
    if n_rows == 0:
        raise InputError(f"association file {path} has a header but no data rows")
    y_all = np.concatenate(ys) if ys else np.zeros(0, np.float32)
    if y_all.size == 0:
        raise InputError(f"association file {path}: all {n_rows} rows lack a p-value "
                         f"({p_col} is NA)")
    man = acc.finish(label_top)
    if log is not None:
        log.write(f"read {n_rows} rows from {path} ({'gzip' if is_gz else 'plain text'}, "
                  f"p-values from {p_col}) in {time.perf_counter() - t0:.2f}s")
        if n_missing:
            log.write(f"  {n_missing} rows with a missing p-value (NA) are not plotted")
        if man.n_infinite:
            log.write(f"  {man.n_infinite} rows with p = 0 (-log10 p = inf) count in the QQ "
                      f"ranks and lambda_GC but cannot be drawn")
        if n_blank:
            log.write(f"  {n_blank} blank lines skipped")
    return AssocPoints(manhattan=man, neglog10p=y_all, n_rows=n_rows, n_missing=n_missing,
                       n_blank=n_blank, p_column=p_col)


def _parse_block(kernel, chunk: bytes, ncol, c_chr, c_pos, c_y, c_id, y_is_p, path,
                 line_base, cols, acc):
    """Parse one block of whole lines; feed the accumulator.  Returns
    (neglog10p float32 of the rows with a p-value, rows, missing, blank, lines)."""
    buf = np.frombuffer(chunk, dtype=np.uint8)
    cap = chunk.count(b"\n")
    pos = np.empty(cap, dtype=np.int64)
    y = np.empty(cap, dtype=np.float64)
    flag = np.empty(cap, dtype=np.uint8)
    y_span = np.empty((cap, 2), dtype=np.int64)
    id_span = np.empty((cap, 2) if c_id >= 0 else (0, 2), dtype=np.int64)
    run_row = np.empty(cap, dtype=np.int64)
    run_span = np.empty((cap, 2), dtype=np.int64)
    rows, runs, blanks, err_line, code, val = kernel(
        buf, ncol, c_chr, c_pos, c_y, c_id, pos, y, flag, y_span, id_span, run_row, run_span,
        _POW10)
    if code:
        line_no = line_base + err_line + 1
        text = chunk.split(b"\n")[err_line].decode("utf-8", "replace").rstrip("\r")
        if code == 1:
            raise InputError(f"association file {path} line {line_no} has {val} fields, "
                             f"the header has {ncol}")
        field = text.split("\t")[c_pos] if c_pos < len(text.split("\t")) else ""
        raise InputError(f"association file {path} line {line_no}: base_pair_location "
                         f"'{field[:40]}' is not a non-negative integer")
    pos, y, flag, y_span = pos[:rows], y[:rows], flag[:rows], y_span[:rows]
    slow = np.flatnonzero(flag)
    for r in slow:
        tok = chunk[y_span[r, 0]:y_span[r, 1]]
        try:
            y[r] = float(tok)
        except ValueError:
            if tok.strip() in MISSING_TOKENS:
                y[r] = np.nan
            else:
                line_no = _line_number(chunk, line_base, int(r))
                raise InputError(f"association file {path} line {line_no}: {cols[c_y]} "
                                 f"'{tok.decode('utf-8', 'replace')[:40]}' is not a number") \
                    from None
    if y_is_p:
        bad = (y < 0) | (y > 1)
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"association file {path} line {_line_number(chunk, line_base, r)}: "
                             f"p_value {y[r]} is outside [0, 1] ({int(bad.sum())} such rows "
                             f"in this block)")
        with np.errstate(divide="ignore"):
            y = -np.log10(y)
    else:
        bad = y < 0
        if bad.any():
            r = int(np.flatnonzero(bad)[0])
            raise InputError(f"association file {path} line {_line_number(chunk, line_base, r)}: "
                             f"neg_log_10_p_value {y[r]} is negative ({int(bad.sum())} such "
                             f"rows in this block)")
    # chromosome of every row from its runs
    run_ids = np.empty(runs, dtype=np.int32)
    for j in range(runs):
        run_ids[j] = acc.chrom_id(chunk[run_span[j, 0]:run_span[j, 1]])
    lens = np.diff(np.append(run_row[:runs], rows))
    chrom = np.repeat(run_ids, lens)
    ids_for = None
    if c_id >= 0:
        def ids_for(idx):
            return [chunk[id_span[r, 0]:id_span[r, 1]].decode("utf-8", "replace") for r in idx]
    try:
        acc.add(chrom, pos, y, ids_for)
    except InputError as exc:
        raise InputError(f"association file {path} (lines {line_base + 1}-"
                         f"{line_base + rows + blanks}): {exc}") from None
    has = ~np.isnan(y)
    return (y[has].astype(np.float32), rows, int(rows - has.sum()), blanks, rows + blanks)


# ---------------------------------------------------------------------------
# rendering
# ---------------------------------------------------------------------------

def _new_figure(size_in):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig, path: str) -> str:
    """Write ``fig`` to ``path`` through ``<path without .png>.partial.png``."""
    parent = os.path.dirname(os.path.abspath(path))
    os.makedirs(parent, exist_ok=True)
    stem = path[:-4] if path.endswith(".png") else path
    tmp = stem + ".partial.png"
    try:
        fig.savefig(tmp, dpi=DPI, format="png")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return path


def _spread_labels(fig, ax, texts) -> None:
    """Move overlapping labels up (in display space) until none overlap."""
    if len(texts) < 2:
        return
    renderer = fig.canvas.get_renderer()
    for _ in range(len(texts) * 3):
        moved = False
        boxes = [t.get_window_extent(renderer) for t in texts]
        for a in range(len(texts)):
            for b in range(a):
                if boxes[a].overlaps(boxes[b]):
                    x, y = texts[a].get_position()
                    texts[a].set_position((x, y + boxes[a].height + 2))
                    moved = True
                    boxes[a] = texts[a].get_window_extent(renderer)
        if not moved:
            break


def render_manhattan(data: ManhattanData, path: str, title: str | None = None) -> str:
    """Draw the Manhattan plot (1200 x 500 px PNG) to ``path`` atomically."""
    fig = _new_figure(MANHATTAN_SIZE_IN)
    ax = fig.add_axes((0.06, 0.11, 0.925, 0.80))
    nchr = len(data.chromosomes)
    for parity in (0, 1):
        sel = (data.chrom_index % 2) == parity
        if sel.any():
            ax.plot(data.x[sel], data.y[sel], ls="none", marker="o", ms=2.4, mew=0,
                    color=COLORS[parity])
    gw, sg = -math.log10(GENOME_WIDE_P), -math.log10(SUGGESTIVE_P)
    lines = [ax.axhline(gw, color=GW_COLOR, lw=1.0, ls="--", label="genome-wide (p = 5e-8)"),
             ax.axhline(sg, color=SUGG_COLOR, lw=0.9, ls=":", label="suggestive (p = 1e-5)")]
    ymax = max(float(data.y.max()) if data.y.size else 0.0, gw)
    ax.set_ylim(0, ymax * 1.12 + 0.3)
    pad = 0.005 * max(data.genome_width, 1.0)
    ax.set_xlim(-pad, data.genome_width + pad)
    ax.set_xticks(data.ticks)
    fs = 9 if nchr <= 26 else (7 if nchr <= 40 else 5)
    ax.set_xticklabels(data.chromosomes, fontsize=fs,
                       rotation=0 if nchr <= 26 else 90)
    if nchr > 26:
        ax.tick_params(axis="x", length=2)
    ax.set_xlabel("Chromosome", fontsize=10)
    ax.set_ylabel(r"$-\log_{10}(p)$", fontsize=10)
    ax.tick_params(axis="y", labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    texts = []
    for h in data.top_hits:
        ax.plot([h.x], [h.neglog10p], ls="none", marker="o", ms=5, mfc="none",
                mec="#222222", mew=0.8)
        frac = (h.x + pad) / (data.genome_width + 2 * pad) if data.genome_width else 0.5
        ha = "left" if frac < 0.06 else ("right" if frac > 0.94 else "center")
        dx = {"left": -4, "right": 4, "center": 0}[ha]
        texts.append(ax.annotate(h.variant_id, xy=(h.x, h.neglog10p), xytext=(dx, 6),
                                 textcoords="offset points", ha=ha, va="bottom",
                                 fontsize=8, color="#222222", annotation_clip=False))
    if texts:
        _spread_labels(fig, ax, texts)
    fig.legend(handles=lines, loc="upper right", bbox_to_anchor=(0.985, 0.995), fontsize=8, frameon=False,
               ncol=2)
    head = title if title is not None else "Manhattan plot"
    note = f"{data.n_snps:,} SNPs"
    if data.n_infinite:
        note += f"; {data.n_infinite:,} with p = 0 not shown"
    ax.set_title(f"{head}  ({note})", fontsize=11, loc="left")
    return _save_png(fig, path)


def render_qq(data: QQData, path: str, title: str | None = None) -> str:
    """Draw the QQ plot (600 x 600 px PNG) with its 95% band to ``path`` atomically."""
    fig = _new_figure(QQ_SIZE_IN)
    ax = fig.add_axes((0.13, 0.11, 0.82, 0.80))
    ax.fill_between(data.band_expected, data.band_lower, data.band_upper, color="#d9d9d9",
                    lw=0, label="95% band")
    emax = float(data.band_expected.max()) if data.band_expected.size else 1.0
    ax.plot([0, emax], [0, emax], color="#c0392b", lw=1.0)
    ax.plot(data.expected, data.observed, ls="none", marker="o", ms=3, mew=0,
            color=COLORS[0])
    omax = float(data.observed.max()) if data.observed.size else 1.0
    ax.set_xlim(0, emax * 1.04)
    ax.set_ylim(0, max(omax, float(data.band_upper.max()), emax) * 1.06)
    ax.set_xlabel(r"Expected $-\log_{10}(p)$", fontsize=10)
    ax.set_ylabel(r"Observed $-\log_{10}(p)$", fontsize=10)
    ax.tick_params(labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    head = title + "\n" if title else ""
    extra = f", {data.n_infinite:,} with p = 0 not shown" if data.n_infinite else ""
    ax.set_title(f"{head}$\\lambda_{{GC}}$ = {data.lambda_gc:.3f}   "
                 f"(N = {data.n:,} SNPs{extra})", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return _save_png(fig, path)


# ---------------------------------------------------------------------------
# driver
# ---------------------------------------------------------------------------

def plot_assoc(path: str, out_prefix: str, label_top: int = 5, log=None,
               chunk_bytes: int = CHUNK_BYTES) -> dict:
    """Read an association file and write ``out_prefix.manhattan.png`` and ``.qq.png``.

    Returns {'manhattan', 'qq': paths, 'lambda_gc', 'n_snps', 'n_plotted'
    (Manhattan points drawn), 'n_qq_plotted', 'n_rows', 'n_missing', 'seconds'}.
    """
    if isinstance(label_top, bool) or not isinstance(label_top, (int, np.integer)) \
            or label_top < 0:
        raise UsageError(f"--label-top must be a non-negative integer (got {label_top!r})")
    if chunk_bytes < 1:
        raise UsageError(f"chunk_bytes must be positive (got {chunk_bytes})")
    t0 = time.perf_counter()
    pts = read_assoc_points(path, label_top=int(label_top), chunk_bytes=chunk_bytes, log=log)
    t_read = time.perf_counter() - t0
    man = pts.manhattan
    n_rows, n_missing = pts.n_rows, pts.n_missing
    t1 = time.perf_counter()
    qq = qq_data(pts.neglog10p, overwrite_input=True)
    del pts                      # drop the float32 copy of every -log10 p before drawing
    t_qq = time.perf_counter() - t1
    name = os.path.basename(path)
    t2 = time.perf_counter()
    man_path = render_manhattan(man, out_prefix + ".manhattan.png", title=name)
    qq_path = render_qq(qq, out_prefix + ".qq.png", title=name)
    t_draw = time.perf_counter() - t2
    seconds = time.perf_counter() - t0
    if log is not None:
        log.write(f"Manhattan: {man.n_plotted} of {man.n_snps} points drawn ({man.n_full} with "
                  f"p <= 0.01 kept exactly, {man.n_binned} bin representatives of the rest, "
                  f"x bin {man.x_bin_bp} bp, y bin {Y_BIN}); {len(man.chromosomes)} chromosomes")
        for h in man.top_hits:
            log.write(f"  top hit {h.variant_id} chr{h.chromosome}:{h.position} "
                      f"-log10 p {h.neglog10p:.3f}")
        log.write(f"QQ: {qq.expected.size} of {qq.n} points drawn; lambda_GC = {qq.lambda_gc:.4f}")
        log.write(f"wrote {man_path} and {qq_path}")
        log.stage("read", t_read)
        log.stage("qq", t_qq)
        log.stage("draw", t_draw)
    return {"manhattan": man_path, "qq": qq_path, "lambda_gc": qq.lambda_gc,
            "n_snps": qq.n, "n_plotted": man.n_plotted, "n_qq_plotted": int(qq.expected.size),
            "n_rows": n_rows, "n_missing": n_missing, "seconds": seconds}
