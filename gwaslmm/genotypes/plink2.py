"""PLINK 2 filesets (.pgen/.pvar/.psam): dosages (or hard calls) read with pgenlib.

The effect allele is ALT (the .pvar's ALT column; pgenlib counts ALT
alleles), the other allele REF.  ``plink2 --make-pgen`` from a .bed keeps
A1 as ALT and A2 as REF, so the same data give the same results through
``--bfile`` and ``--pfile`` (tested).  Blocks are read variant-major, which is the
pipeline's (n, m) Fortran order: by default as ALT dosages in float32
(a variant stored without dosages reads as its hard calls 0/1/2; pgenlib's
-9 for missing becomes NaN) into a :class:`gwaslmm.genotypes.dosage.DosageBlock`;
with ``--hard-calls`` as the hard calls plink2 stored (its hard-call
threshold applied at import) into an int8 block (-9 becomes -127 in the
counting kernel).

A ``.pvar.zst`` is read where there is no ``.pvar``.  Multi-allelic
variants (a comma in ALT) are skipped and counted (``notes``): gwaslmm tests
one allele per variant; ``plink2 --make-pgen multiallelics=-`` splits them.
"""

from __future__ import annotations

import os
import threading

import numpy as np

from ..chromosomes import normalize_chromosome
from ..errors import InputError
from ..tables import _bytes_of, read_sample_table, split_table
from .base import SampleInfo, VariantInfo
from .dosage import DosageBlock, dosage_block_of
from .int8 import Int8Block, make_block

EFFECT_ALLELE_NOTE = "ALT (.pvar ALT column; pgenlib counts ALT alleles)"
PSAM_NOT_PHENOTYPES = {"SEX", "PAT", "MAT", "SID", "FID"}


def read_psam(path: str) -> SampleInfo:
    """A .psam (``#FID IID ...`` or ``#IID ...``, or a headerless .fam) as the
    protocol's sample table; its phenotype columns are every column other
    than SEX, PAT, MAT and SID.  Without a FID column the FID is the IID."""
    if not os.path.exists(path):
        raise InputError(f"PLINK 2 sample file not found: {path}")
    if os.path.isdir(path):
        raise InputError(f"PLINK 2 sample file {path} is a folder, not a file")
    with open(path, "rb") as fh:
        head = fh.readline().lstrip(b"\xef\xbb\xbf")
    if not head.startswith(b"#"):  # a .fam-style .psam
        from .plink1 import fam_samples, read_fam

        return fam_samples(read_fam(path), path)
    table = read_sample_table(path, ".psam", "PHENO", ids_only_ok=True)
    phen = tuple(table.columns[k] for k in table.names if k.upper() not in PSAM_NOT_PHENOTYPES)
    return SampleInfo(fid=table.fid, iid=table.iid, phenotypes=phen, source=path)


def _pvar_bytes(path: str) -> bytes:
    """The .pvar's text; a ``.pvar.zst`` (plink2's ``vzs``) is decompressed
    with zstandard, streaming (its frames need not record their size)."""
    if not path.endswith(".zst"):
        return _bytes_of(path, ".pvar")
    import zstandard

    try:
        with open(path, "rb") as fh, zstandard.ZstdDecompressor().stream_reader(
                fh, read_across_frames=True) as z:
            data = z.read()
    except zstandard.ZstdError as exc:
        raise InputError(f"{path}: not a readable zstd file ({exc})") from None
    return data[3:] if data.startswith(b"\xef\xbb\xbf") else data


def read_pvar(path: str) -> VariantInfo:
    """A .pvar (``##`` lines, then ``#CHROM POS ID REF ALT ...``, tab-separated)
    or a .bim-style .pvar without a header; ALT is the effect allele."""
    if not os.path.exists(path):
        raise InputError(f"PLINK 2 variant file not found: {path}")
    data = _pvar_bytes(path)
    at, line0 = 0, 0
    while data.startswith(b"##", at):  # meta-information lines
        nl = data.find(b"\n", at)
        at = len(data) if nl < 0 else nl + 1
        line0 += 1
    if data.startswith(b"#CHROM", at):
        nl = data.find(b"\n", at)
        names = data[at:nl if nl >= 0 else len(data)].decode("utf-8", "replace").split()
        need = ["#CHROM", "POS", "ID", "REF", "ALT"]
        missing = [c for c in need if c not in names]
        if missing:
            raise InputError(f"{path}: the header line lacks {', '.join(missing)}")
        cols = split_table(data[nl + 1:], path, ".pvar", len(names), line0=line0 + 1,
                           numbers={names.index("POS"): "int"})
        chrom, pos, vid, ref, alt = (cols[names.index(c)] for c in need)
    else:  # .bim layout: CHROM ID CM POS ALT REF
        cols = split_table(data[at:], path, ".pvar", 6, line0=line0, numbers={2: "float",
                                                                               3: "int"})
        chrom, vid, pos, alt, ref = cols[0], cols[1], cols[3], cols[4], cols[5]
    if chrom.size == 0:
        raise InputError(f"{path} has no variants")
    if (pos < 0).any():
        k = int(np.flatnonzero(pos < 0)[0])
        raise InputError(f"{path}: a negative position (first: {vid[k]}, {pos[k]})")
    codes, inv = np.unique(chrom, return_inverse=True)
    chromosome = np.array([normalize_chromosome(c) for c in codes], dtype=str)[inv.reshape(-1)]
    return VariantInfo(chromosome=chromosome, position=pos.astype(np.int64), id=vid,
                       effect_allele=alt, other_allele=ref, source=path)


def may_have_dosages(path: str) -> bool:
    """Whether a .pgen can hold dosages, from its header: in the
    variable-width mode (byte 2 = 0x10) the low four bits of byte 11 say how
    variant record types are stored, and only the 8-bit form (values 4-15)
    has room for the dosage flags (plink2 writes 0 for a hard-call file, 5 for
    one imported with dosage=DS); the fixed-width hard-call modes (0x01, 0x02)
    never do.  Anything else is assumed to hold dosages (always correct: a
    variant without dosages reads as its hard calls, only slower).  Reading
    hard calls is 5x faster (400 x 350,000: 0.15 s against 0.85 s,
    benchmarks/results/2026-11-27-speed-inputs.md)."""
    with open(path, "rb") as fh:
        head = fh.read(12)
    if len(head) < 12 or head[:2] != b"\x6c\x1b":
        return True  # pgenlib's own checks report what is wrong
    if head[2] in (0x01, 0x02):
        return False
    if head[2] == 0x10:
        return (head[11] & 15) >= 4
    return True


def _biallelic(v: VariantInfo):
    """The variants with one ALT allele, their rows in the file (None if
    every one has one) and a note on the others, which are skipped."""
    multi = np.char.find(v.effect_allele, ",") >= 0
    if not multi.any():
        return v, None, ()
    keep = np.flatnonzero(~multi)
    k = int(np.flatnonzero(multi)[0])
    if keep.size == 0:
        raise InputError(f"{v.source}: every variant is multi-allelic (first: {v.id[k]}, ALT "
                         f"{v.effect_allele[k]}); split them first ('plink2 --pfile P "
                         f"--make-pgen multiallelics=- --out P2')")
    note = (f"{int(multi.sum())} multi-allelic variant(s) skipped (first: {v.id[k]}, ALT "
            f"{v.effect_allele[k]}); gwaslmm tests one ALT allele per variant: split them "
            f"with 'plink2 --pfile P --make-pgen multiallelics=- --out P2' to test them")
    sub = VariantInfo(chromosome=v.chromosome[keep], position=v.position[keep], id=v.id[keep],
                      effect_allele=v.effect_allele[keep], other_allele=v.other_allele[keep],
                      source=v.source)
    return sub, keep, (note,)


class PgenFile:
    """A PLINK 2 fileset opened for block reads (a
    :class:`gwaslmm.genotypes.base.GenotypeSource`)."""

    def __init__(self, prefix: str, num_threads: int | None = None, dosages: bool = True):
        import pgenlib

        self.prefix = prefix
        self.path = prefix + ".pgen"
        if not os.path.exists(self.path):
            raise InputError(f"PLINK 2 fileset '{prefix}': {self.path} not found")
        if os.path.isdir(self.path):
            raise InputError(f"PLINK 2 fileset '{prefix}': {self.path} is a folder, not a file")
        pvar = prefix + ".pvar"
        if not os.path.exists(pvar) and os.path.exists(pvar + ".zst"):
            pvar += ".zst"
        self.samples = read_psam(prefix + ".psam")
        every = read_pvar(pvar)
        self.variants, self._file_idx, self.notes = _biallelic(every)
        stored = may_have_dosages(self.path)
        self.dosages = dosages and stored
        self.effect_allele_note = EFFECT_ALLELE_NOTE + (
            ", dosages" if self.dosages else ", hard calls (--hard-calls)" if stored
            else ", hard calls (the .pgen stores no dosages)")
        self.info_kind = "MaCH R2" if self.dosages else None
        self.num_threads = num_threads
        try:
            probe = pgenlib.PgenReader(self.path.encode())
            n, m = probe.get_raw_sample_ct(), probe.get_variant_ct()
            if m:  # a truncated file opens; its last variant does not read
                probe.read(m - 1, np.empty(n, dtype=np.int8))
            probe.close()
        except Exception as exc:  # pgenlib raises RuntimeError with its own text
            raise InputError(f"{self.path}: not a readable .pgen ({exc}; truncated or "
                             f"damaged?)") from None
        if n != self.samples.n or m != every.m:
            raise InputError(f"{self.path} holds {n} samples x {m} variants, but "
                             f"{os.path.basename(self.samples.source)} lists {self.samples.n} "
                             f"samples and {os.path.basename(every.source)} "
                             f"{every.m} variants: the files do not belong together")
        self._lock = threading.Lock()
        self._readers = []  # pgenlib readers for the sample subset ``_subset``
        self._subset = None

    def _readers_for(self, sample_idx, k: int) -> list:
        """``k`` readers of these samples (pgenlib reads one subset per reader;
        a new subset closes the old readers)."""
        import pgenlib

        key = None if sample_idx is None else np.asarray(sample_idx, dtype=np.uint32)
        if key is not None and key.size == self.samples.n and (np.diff(key) == 1).all():
            key = None
        if key is not None and key.size and (np.diff(key.astype(np.int64)) <= 0).any():
            raise ValueError("pgen reads need increasing sample indices")
        same = (self._subset is None and key is None) or (
            self._subset is not None and key is not None and np.array_equal(self._subset, key))
        if not same:
            self.close()
            self._subset = key
        while len(self._readers) < k:
            self._readers.append(pgenlib.PgenReader(self.path.encode(), sample_subset=key))
        return self._readers[:k]

    @staticmethod
    def _read(reader, dosages: bool, idx: np.ndarray, buf: np.ndarray, counts: tuple) -> None:
        """Variants ``idx`` into ``buf`` (variant-major rows), then their
        counts into ``counts`` (the stats kernel's output arrays; numba
        releases the GIL, so parts run in parallel)."""
        from .kernels import dosage_stats_kernel, int8_stats_kernel

        contiguous = idx[-1] - idx[0] + 1 == idx.size
        if dosages and contiguous:
            reader.read_dosages_range(int(idx[0]), int(idx[-1]) + 1, buf)
        elif dosages:
            reader.read_dosages_list(idx.astype(np.uint32), buf)
        elif contiguous:
            reader.read_range(int(idx[0]), int(idx[-1]) + 1, buf)
        else:
            reader.read_list(idx.astype(np.uint32), buf)
        if dosages:
            dosage_stats_kernel(buf.T, *counts)
        else:
            int8_stats_kernel(buf.T, *counts)

    def read_block(self, sample_idx: np.ndarray | None, variant_idx,
                   threads: int | None = None) -> Int8Block | DosageBlock:
        """ALT dosages (a float32 block; hard calls where a variant has no
        dosage) or, with ``dosages=False``, ALT hard-call counts (an int8
        block) of these samples (increasing indices, None for all) and
        variants (a slice or increasing indices).  With ``threads`` > 1 a
        large block is read and counted in that many parts by as many readers
        at once (pgenlib and the numba counting kernels release the GIL)."""
        m = self.variants.m
        idx = np.arange(m)[variant_idx] if isinstance(variant_idx, slice) else \
            np.asarray(variant_idx, dtype=np.int64)
        if self._file_idx is not None:
            idx = self._file_idx[idx]
        n = self.samples.n if sample_idx is None else len(sample_idx)
        # variant-major = (n, m) F-order
        buf = np.empty((idx.size, n), dtype=np.float32 if self.dosages else np.int8)
        if threads is None:
            from .._jit import available_cores

            threads = self.num_threads or available_cores()
        k = max(1, min(int(threads), idx.size // 256))
        mb = idx.size
        counts = (np.zeros(mb, np.int64), np.zeros(mb), np.ones(mb, bool)) + (
            (np.zeros(mb),) if self.dosages else ())
        if idx.size and n:
            with self._lock:
                readers = self._readers_for(sample_idx, k)
                cuts = np.linspace(0, idx.size, k + 1).astype(int)
                parts = [(readers[j], idx[a:b], buf[a:b], tuple(c[a:b] for c in counts))
                         for j, (a, b) in enumerate(zip(cuts[:-1], cuts[1:]))]
                try:
                    if k == 1:
                        self._read(*parts[0][:1], self.dosages, *parts[0][1:])
                    else:
                        from concurrent.futures import ThreadPoolExecutor

                        with ThreadPoolExecutor(k) as pool:
                            for f in [pool.submit(self._read, r, self.dosages, i, b, c)
                                      for r, i, b, c in parts]:
                                f.result()
                except RuntimeError as exc:
                    raise InputError(f"{self.path}: reading variants {idx[0] + 1}-{idx[-1] + 1} "
                                     f"failed ({exc}): the file changed or is damaged") from None
        G = buf.T  # pgenlib's -9 became NaN / -127 in the counting kernels
        if self.dosages:
            return dosage_block_of(G, *counts)
        return make_block(G, *counts)

    def close(self):
        for r in self._readers:
            r.close()
        self._readers = []
