"""Manhattan plotting data, thinned while streaming.

Every point with -log10 p >= 2 (p <= 0.01) is kept exactly, which keeps
every point above the suggestive (1e-5) and genome-wide (5e-8) lines; the
rest is binned per chromosome into x bins of ``w`` base pairs and y bins of
0.025 in -log10 p, one point (the most significant, then the lowest
position) per occupied bin.  ``w`` is the smallest power of two with genome
width / w <= 1000, i.e. between 1/1000 and 1/500 of the genome width (the
sum of the chromosomes' largest positions); it only grows while streaming,
and the kept bins are re-binned when it doubles, so the result does not
depend on the chunking.  At most (1000 + number of chromosomes) x 80
thinned points, usually fewer.  Why these bins: the Manhattan axes are
~1110 x 400 px and a marker is 3.3 px across; an x bin is 1.1-2.2 px and a
y bin at most 1.2 px (the y axis spans at least 0..8.5), so the bins are
smaller than a marker and the thinned plot looks the same as the full one.
(Finer bins, 1/2000 of the genome by 0.01, keep ~60% of a 200 000-row null
scan; these keep ~25%.  Measured on a 1-million-row synthetic scan: 65 000
points drawn, and 0.05% of the pixels differ from a rendering of all
1 000 000.)

Chromosomes are ordered 1..22 numerically, X, Y, XY, MT, 0, then the others
(:mod:`gwaslmm.chromosomes`, so 'chr1' and '1' are the same chromosome).
x = offset of the chromosome + position, the offset being the running sum
of the earlier chromosomes' largest positions plus a gap of 0.4% of the
genome width each.  Variants without a position (base_pair_location <= 0,
as PLINK writes 0 or -9 for unplaced variants) cannot be placed on the x
axis: they are counted (``n_unplaced``) and left out of the Manhattan plot,
but keep their place in the QQ plot and lambda_GC.  The ``label_top``
strongest hits above the suggestive line (p <= 1e-5) are labelled with
their variant ID, one per locus: a hit within 1 Mb of a stronger labelled
hit on the same chromosome is skipped.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..chromosomes import chromosome_sort_key, normalize_chromosome
from ..errors import InputError

GENOME_WIDE_P = 5e-8
SUGGESTIVE_P = 1e-5
KEEP_ALL_NEGLOG10 = 2.0      # points with -log10 p >= 2 (p <= 0.01) are never thinned
Y_BIN = 0.025                # y bin width in -log10 p
X_BINS = 1000                # x bin between 1/X_BINS and 2/X_BINS of the genome
GAP_FRACTION = 0.004         # gap between chromosomes, fraction of the genome width
LOCUS_BP = 1_000_000         # one label per 1 Mb locus
LABEL_MIN_NEGLOG10 = -math.log10(SUGGESTIVE_P)  # labels only above the suggestive line

# Bin keys pack (chromosome id, x bin, y bin) into one int64.  x bins stay
# below X_BINS (the width is set before binning), y bins below 2 / Y_BIN = 200.
_Y_BITS, _X_BITS = 8, 16
_MAX_CHROMS = 1 << (63 - _X_BITS - _Y_BITS)
_MAX_POS = 1 << 50


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
    n_unplaced: int      # base_pair_location <= 0: no place on the x axis
    x_bin_bp: int

    @property
    def n_plotted(self) -> int:
        return int(self.x.size)



class ManhattanAccumulator:
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
        self.n_unplaced = 0

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
        if int(pos.max()) >= _MAX_POS:
            bad = int(np.flatnonzero(pos >= _MAX_POS)[0])
            raise InputError(f"base_pair_location {int(pos[bad])} out of range "
                             f"(at most {_MAX_POS - 1})")
        unplaced = pos <= 0
        if unplaced.any():
            has = ~np.isnan(y[unplaced])
            self.n_unplaced += int(has.sum())
            self.n_snps += int(has.sum())
            self.n_infinite += int(np.isposinf(y[unplaced]).sum())
            keep = np.flatnonzero(~unplaced)
            chrom, pos, y = chrom[keep], pos[keep], y[keep]
            if ids_for is not None:
                ids_for = (lambda idx, f=ids_for, k=keep: f(k[idx]))
            if pos.size == 0:
                return
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
                if f_y[i] < LABEL_MIN_NEGLOG10:
                    break  # cand is ordered by -log10 p, strongest first
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
            n_infinite=self.n_infinite, n_unplaced=self.n_unplaced, x_bin_bp=self.width)


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
    acc = ManhattanAccumulator()
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


