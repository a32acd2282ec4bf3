"""PLINK 1 binary filesets (.bed/.bim/.fam): the first genotype source.

The effect allele is A1, the .bim's column 5; genotypes are A1 allele counts
(bed-reader's ``count_A1=True``, as GEMMA and PLINK 1 count).  Blocks are
read as raw .bed bytes (positioned reads) and decoded to int8 (missing =
-127) with their per-variant counts in one pass (numba kernels, a table
lookup per byte: 9x faster than bed-reader's int8 read, 0.09 s against
0.85 s at 400 x 350,000 in benchmarks/results/2026-11-27-speed-inputs.md; it stays
the tests' independent reference) into an
:class:`gwaslmm.genotypes.int8.Int8Block`; the plain-numpy reference of the
decoder is :func:`decode_bed_reference`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from ..chromosomes import normalize_chromosome
from ..errors import InputError
from ..ids import duplicated, sample_keys
from ..tables import read_columns
from .base import SampleInfo, VariantInfo
from .int8 import Int8Block, int8_block_reference, make_block

BED_MAGIC = bytes([0x6C, 0x1B])
SNP_MAJOR = 0x01
EFFECT_ALLELE_NOTE = "A1 (.bim column 5)"


@dataclass(frozen=True)
class Fam:
    """The .fam table as read (strings): FID, IID, father, mother, sex and one
    or more phenotype columns (column 6 onward; GEMMA's ``-n K`` picks one)."""

    fid: np.ndarray
    iid: np.ndarray
    father: np.ndarray
    mother: np.ndarray
    sex: np.ndarray
    phenotypes: tuple

    @property
    def n(self) -> int:
        return self.iid.size

    @property
    def pheno(self) -> np.ndarray:
        """The first phenotype column (column 6)."""
        return self.phenotypes[0]


@dataclass(frozen=True)
class Bim:
    """The .bim table: chromosome (canonical label), variant ID, cM, bp, A1, A2."""

    chromosome: np.ndarray
    snp: np.ndarray
    cm: np.ndarray
    bp: np.ndarray
    a1: np.ndarray
    a2: np.ndarray

    @property
    def m(self) -> int:
        return self.snp.size


def read_fam(path: str) -> Fam:
    cols = read_columns(path, ".fam", 6, more=True)
    if not cols or cols[0].size == 0:
        raise InputError(f"{path} has no samples")
    fam = Fam(*cols[:5], phenotypes=tuple(cols[5:]))
    dup = duplicated(sample_keys(fam.fid, fam.iid))
    if dup.size:
        raise InputError(f"{path} has {dup.size} duplicated sample ID(s) (FID IID), "
                         f"first: {dup[0]}")
    return fam


def read_bim(path: str) -> Bim:
    cols = read_columns(path, ".bim", 6, numbers={2: "float", 3: "int"})
    if not cols or cols[0].size == 0:
        raise InputError(f"{path} has no variants")
    chrom = _normalized_chromosomes(cols[0])
    cm, bp = cols[2], cols[3]
    neg = bp < 0
    if neg.any():
        k = int(np.flatnonzero(neg)[0])
        raise InputError(f"{path}: {int(neg.sum())} variant(s) have a negative base-pair "
                         f"position (first: {cols[1][k]} at line {k + 1}, {bp[k]}); PLINK 1 "
                         f"marks variants to leave out so: drop them (--exclude, or plink "
                         f"--make-bed), or write 0 for an unplaced variant")
    return Bim(chromosome=chrom, snp=cols[1], cm=cm, bp=bp, a1=cols[4], a2=cols[5])


def _normalized_chromosomes(codes: np.ndarray) -> np.ndarray:
    """Each variant's chromosome code normalized (:func:`normalize_chromosome`),
    once per run of equal codes: a .bim is sorted by chromosome, so a few
    dozen runs stand for 350,000 rows (numpy's sort of every code took 0.02 s)."""
    if codes.size == 0:
        return codes.astype(str)
    starts = np.flatnonzero(np.concatenate([[True], codes[1:] != codes[:-1]]))
    uniq, inv = np.unique(codes[starts], return_inverse=True)
    names = np.array([normalize_chromosome(c) for c in uniq], dtype=str)
    return np.repeat(names[inv.reshape(-1)], np.diff(np.append(starts, codes.size)))


def fam_samples(fam: Fam, path: str) -> SampleInfo:
    """The .fam as the genotype-source protocol's sample table."""
    return SampleInfo(fid=fam.fid, iid=fam.iid, phenotypes=fam.phenotypes, source=path)


def bim_variants(bim: Bim, path: str) -> VariantInfo:
    """The .bim as the protocol's variant table (A1 the effect allele)."""
    return VariantInfo(chromosome=bim.chromosome, position=bim.bp, id=bim.snp,
                       effect_allele=bim.a1, other_allele=bim.a2, source=path)


class BedFile:
    """A validated PLINK 1 fileset opened for block reads.

    Checks the magic bytes, SNP-major mode and that the .bed size equals
    3 + n_snps * ceil(n_samples / 4) from the .bim and .fam line counts.
    """

    def __init__(self, prefix: str, num_threads: int | None = None):
        self.prefix = prefix
        self.bed_path, self.bim_path, self.fam_path = (prefix + ".bed", prefix + ".bim",
                                                       prefix + ".fam")
        for p in (self.bed_path, self.bim_path, self.fam_path):
            if not os.path.exists(p):
                raise InputError(f"PLINK fileset '{prefix}': {p} not found")
            if os.path.isdir(p):
                raise InputError(f"PLINK fileset '{prefix}': {p} is a folder, not a file")
        self.fam = read_fam(self.fam_path)
        self.bim = read_bim(self.bim_path)
        size = os.path.getsize(self.bed_path)
        with open(self.bed_path, "rb") as fh:
            head = fh.read(3)
        if len(head) >= 2 and head[:2] == BED_MAGIC and len(head) < 3:
            raise InputError(f"{self.bed_path} is truncated: {size} bytes, but the header alone "
                             f"needs 3 and {self.fam.n} samples x {self.bim.m} variants need "
                             f"{3 + self.bim.m * ((self.fam.n + 3) // 4)}")
        if len(head) < 3 or head[:2] != BED_MAGIC:
            raise InputError(f"{self.bed_path} is not a PLINK 1 .bed file (magic bytes "
                             f"{head[:2].hex() or 'missing'}, expected 6c1b)")
        if head[2] != SNP_MAJOR:
            raise InputError(f"{self.bed_path} is in individual-major mode (byte 3 = "
                             f"{head[2]:#04x}); convert it with plink --make-bed")
        expected = 3 + self.bim.m * ((self.fam.n + 3) // 4)
        if size != expected:
            raise InputError(
                f"{self.bed_path} has {size} bytes but {self.fam.n} samples (.fam) and "
                f"{self.bim.m} variants (.bim) need {expected}: the .bed is "
                f"{'truncated' if size < expected else 'too long'} or the .bim/.fam "
                f"belong to another fileset")
        _check_padding(self.bed_path, self.fam.n, self.bim.m)
        self.num_threads = num_threads
        self._bed = None
        self.path = self.bed_path
        self.effect_allele_note = EFFECT_ALLELE_NOTE
        self.info_kind = None  # hard calls: no imputation quality
        self.samples = fam_samples(self.fam, self.fam_path)
        self.variants = bim_variants(self.bim, self.bim_path)

    @property
    def n_samples(self) -> int:
        return self.fam.n

    @property
    def n_snps(self) -> int:
        return self.bim.m

    def _open(self):
        if self._bed is None:
            from bed_reader import open_bed

            self._bed = open_bed(self.bed_path, iid_count=self.fam.n, sid_count=self.bim.m,
                                 count_A1=True, num_threads=self.num_threads,
                                 skip_format_check=True)
        return self._bed

    def read(self, samples: np.ndarray | None, snps, dtype="float64") -> np.ndarray:
        """A1 allele counts with NaN for missing calls (bed-reader; for tests
        and tools: the pipeline reads int8 blocks with :meth:`read_block`).

        samples : ndarray of int (sample indices into the .fam) or None for all.
        snps : slice or ndarray of int (variant indices into the .bim).
        Returns ndarray, shape (n_selected_samples, n_selected_snps), ``dtype``,
        Fortran order.
        """
        bed = self._open()
        s_idx = slice(None) if samples is None else _as_slice(samples)
        return bed.read(index=np.s_[s_idx, _as_slice(snps)], dtype=dtype, order="F")

    def read_raw(self, variant_idx) -> np.ndarray:
        """The .bed rows of these variants, (k, ceil(n/4)) uint8, read with
        one positioned read per run of consecutive variants (thread-safe: no
        shared file position)."""
        idx = _as_index(variant_idx, self.bim.m)
        bpv = (self.fam.n + 3) // 4
        raw = np.empty((idx.size, bpv), dtype=np.uint8)
        if idx.size == 0 or bpv == 0:
            return raw
        starts = np.flatnonzero(np.diff(idx, prepend=idx[0] - 2) != 1)
        ends = np.append(starts[1:], idx.size)
        flat = raw.reshape(-1)
        fd = os.open(self.bed_path, os.O_RDONLY)
        try:
            for a, b in zip(starts.tolist(), ends.tolist()):
                want = (b - a) * bpv
                offset = 3 + int(idx[a]) * bpv
                got = os.preadv(fd, [memoryview(flat[a * bpv:b * bpv])], offset)
                if got != want:
                    raise InputError(f"{self.bed_path}: read {got} of {want} bytes at offset "
                                     f"{offset}: the file changed while it was being read")
        finally:
            os.close(fd)
        return raw

    def read_int8(self, samples: np.ndarray | None, snps, threads: int | None = None
                  ) -> np.ndarray:
        """A1 counts as int8 with -127 for a missing call, shape (n_sel, m_sel),
        Fortran order (8x less memory traffic than float64)."""
        return self.read_block(samples, snps, threads).G

    def read_block(self, sample_idx: np.ndarray | None, variant_idx,
                   threads: int | None = None) -> Int8Block:
        """The :class:`gwaslmm.genotypes.base.GenotypeSource` read: an int8
        block of these samples and variants with its counts, decoded from the
        .bed bytes and counted in one pass (numba kernels; ``threads`` is
        accepted for the protocol, the decoder is single-threaded).  Equal
        to bed-reader's int8 read followed by
        :func:`gwaslmm.genotypes.int8.int8_block` (tested)."""
        return decode_bed(self.read_raw(variant_idx), self.fam.n, sample_idx)

    def close(self):
        if self._bed is not None:
            self._bed.__exit__(None, None, None)
            self._bed = None


PADDING_CHECK_VARIANTS = 20000


def _check_padding(path: str, n: int, m: int) -> None:
    """The unused high bits of each variant's last byte must be 0.  A .fam
    that lost a line keeps the .bed's size when the sample count stays in the
    same group of four, and would shift every genotype against the samples;
    the last sample's genotype then sits in the padding.  Checked on up to
    PADDING_CHECK_VARIANTS variants spread over the file (one byte each)."""
    r = n % 4
    if r == 0 or m == 0:
        return
    bpv = (n + 3) // 4
    idx = np.unique(np.linspace(0, m - 1, min(m, PADDING_CHECK_VARIANTS)).astype(np.int64))
    mm = np.memmap(path, dtype=np.uint8, mode="r", offset=3, shape=(m, bpv))
    try:
        last = np.asarray(mm[idx, bpv - 1])
    finally:
        del mm
    bad = (last >> np.uint8(2 * r)) != 0
    if bad.any():
        raise InputError(
            f"{path}: the padding bits after the last of the {n} samples are not zero in "
            f"{int(bad.sum())} of {idx.size} variants checked (first: variant {int(idx[bad][0]) + 1}):"
            f" the .bed was written for more samples than the .fam lists (a lost .fam line?)")


def _as_index(idx, m: int) -> np.ndarray:
    """Variant indices (a slice or integers) as an int64 array within 0..m-1."""
    if isinstance(idx, slice):
        return np.arange(m, dtype=np.int64)[idx]
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    if idx.size and (idx.min() < 0 or idx.max() >= m):
        raise IndexError(f"variant index out of range 0..{m - 1}")
    return idx


def decode_bed(raw: np.ndarray, n: int, samples: np.ndarray | None = None) -> Int8Block:
    """An :class:`Int8Block` from .bed rows: raw (m, ceil(n/4)) uint8 for a
    fileset of n samples; ``samples`` (int indices into the .fam, any order)
    or None for all.  numba kernels; reference :func:`decode_bed_reference`."""
    from . import kernels as kn

    m = raw.shape[0]
    raw = np.ascontiguousarray(raw, dtype=np.uint8)
    if samples is None:
        k = n
    else:
        samples = np.asarray(samples, dtype=np.int64)
        k = samples.size
        if k == n and np.array_equal(samples, np.arange(n)):
            samples = None
    G = np.empty((k, m), dtype=np.int8, order="F")
    n_missing = np.empty(m, dtype=np.int64)
    sums = np.empty(m)
    constant = np.empty(m, dtype=bool)
    if samples is None:
        kn.bed_decode_all_kernel(raw, n, kn.BYTE_VALUE, kn.BYTE_MISSING, kn.BYTE_SUM,
                                 kn.BYTE_SEEN, kn.CODE_VALUE, kn.CODE_MISSING, kn.CODE_SUM,
                                 kn.CODE_SEEN, G, n_missing, sums, constant)
    else:
        kn.bed_decode_subset_kernel(raw, samples >> 2, (samples & 3) * 2, kn.CODE_VALUE,
                                    kn.CODE_MISSING, kn.CODE_SUM, kn.CODE_SEEN, G, n_missing,
                                    sums, constant)
    return make_block(G, n_missing, sums, constant)


def decode_bed_reference(raw: np.ndarray, n: int, samples: np.ndarray | None = None
                         ) -> Int8Block:
    """Plain-numpy :func:`decode_bed`."""
    shifts = 2 * (np.arange(n) % 4)
    codes = (raw[:, np.arange(n) // 4] >> shifts[None, :]) & 3  # (m, n)
    G = np.array([2, -127, 1, 0], dtype=np.int8)[codes].T
    if samples is not None:
        G = G[np.asarray(samples, dtype=np.int64)]
    return int8_block_reference(np.asfortranarray(G))


def _as_slice(idx):
    """A run of consecutive indices as a slice: bed-reader reads slices several
    times faster than index arrays."""
    if isinstance(idx, slice):
        return idx
    idx = np.asarray(idx)
    if idx.size and idx[-1] - idx[0] + 1 == idx.size and np.all(np.diff(idx) == 1):
        return slice(int(idx[0]), int(idx[-1]) + 1)
    return idx


def write_plink(prefix: str, genotypes: np.ndarray, fid, iid, father, mother, sex, pheno,
                chromosome, snp, cm, bp, a1, a2) -> None:
    """Write a PLINK 1 fileset.  genotypes : ndarray, shape (n, m), int8 A1
    counts, any negative value = missing.  ``pheno`` entries are written as given
    (strings or numbers; NaN as -9)."""
    n, m = genotypes.shape
    # 2-bit codes with A1 counted: 2 -> 00, missing -> 01, 1 -> 10, 0 -> 11.
    code = np.full(genotypes.shape, 1, dtype=np.uint8)
    code[genotypes == 2] = 0
    code[genotypes == 1] = 2
    code[genotypes == 0] = 3
    nb = (n + 3) // 4
    padded = np.zeros((nb * 4, m), dtype=np.uint8)
    padded[:n] = code
    packed = (padded[0::4] | (padded[1::4] << 2) | (padded[2::4] << 4) | (padded[3::4] << 6))
    with open(prefix + ".bed", "wb") as fh:
        fh.write(BED_MAGIC + bytes([SNP_MAJOR]))
        fh.write(np.ascontiguousarray(packed.T).tobytes())

    def fmt_pheno(v):
        if isinstance(v, (float, np.floating)):
            return "-9" if np.isnan(v) else repr(float(v))
        return str(v)

    with open(prefix + ".fam", "w") as fh:
        for row in zip(fid, iid, father, mother, sex, pheno):
            fh.write(" ".join([str(x) for x in row[:5]] + [fmt_pheno(row[5])]) + "\n")
    with open(prefix + ".bim", "w") as fh:
        for row in zip(chromosome, snp, cm, bp, a1, a2):
            fh.write("\t".join(str(x) for x in row) + "\n")
