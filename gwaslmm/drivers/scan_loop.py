"""The one streaming block loop of every scan: read a block (the next one is
read in a background thread meanwhile), count and filter it (QC), write
its variants as mean-imputed floats, hand them to the scanner (prepare,
test), write the rows, and keep the summary (tested and skipped counts,
every -log10 p for lambda_GC, the top hits, optionally the thinned
Manhattan points for ``assoc --plot``).
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from ..genotypes.base import GenotypeSource, snp_block_size
from ..qc import block_qc, summarize_reasons
from ..scan.base import Scanner
from ..schema import RowBlock, TextTables, format_text


@dataclass
class ScanSummary:
    tested: int = 0
    qc_reasons: dict = field(default_factory=dict)
    collinear: int = 0
    failed: int = 0
    boundary: int = 0
    neglog10: list = field(default_factory=list)
    top: list = field(default_factory=list)  # (neglog10, row dict)
    n_top: int = 10
    plot: object = None  # a report.thinning.ManhattanAccumulator, for assoc --plot
    _text: tuple = ()  # (variants, TextTables), made once per run

    def text_tables(self, variants) -> TextTables:
        """The variant table's text columns as bytes, made once per run."""
        if not self._text or self._text[0] is not variants:
            self._text = (variants, TextTables.of(variants))
        return self._text[1]

    def add_qc(self, counts: dict):
        for k, v in counts.items():
            self.qc_reasons[k] = self.qc_reasons.get(k, 0) + v

    def all_neglog10(self) -> np.ndarray:
        return np.concatenate(self.neglog10) if self.neglog10 else np.zeros(0, np.float32)


def _track(summary: ScanSummary, res, variants, idx) -> None:
    """Counts, every -log10 p, the top hits (formatted as the table prints
    them) and the plot's points of one block."""
    from ..schema import fmt_float, format_p

    main = res.neglog10_p
    summary.failed += int((~np.isfinite(main)).sum())
    summary.tested += main.size
    summary.neglog10.append(main.astype(np.float32))
    order = np.argsort(-np.nan_to_num(main, nan=-1))[: summary.n_top]
    for j in order:
        v = idx[j]
        summary.top.append((float(main[j]), dict(
            chromosome=str(variants.chromosome[v]), position=str(variants.position[v]),
            variant_id=str(variants.id[v]), beta=fmt_float([res.beta[j]])[0],
            p=format_p([main[j]])[0])))
    summary.top.sort(key=lambda t: -np.nan_to_num(t[0], nan=-1))
    del summary.top[summary.n_top:]
    if summary.plot is not None:
        acc = summary.plot
        labels = variants.chromosome[idx]
        uniq, inv = np.unique(labels, return_inverse=True)
        ids = np.array([acc.chrom_id(str(u)) for u in uniq], dtype=np.int32)
        acc.add(ids[inv.reshape(-1)], variants.position[idx].astype(np.int64),
                np.where(np.isnan(main), np.nan, main),
                lambda k: [str(variants.id[idx[i]]) for i in k])


def scan_variants(scanner: Scanner, source: GenotypeSource, samples: np.ndarray,
                  variant_idx: np.ndarray, writer, summary: ScanSummary, log, *, filters,
                  memory_gb: float,
                  block_size: int | None = None, label: str = "scan") -> None:
    """Test ``variant_idx`` (indices into the source's variants) on the
    analysed ``samples`` with ``scanner``, writing rows through ``writer``."""
    scan_many([(scanner, writer, summary)], source, samples, variant_idx, log, filters=filters,
              memory_gb=memory_gb, block_size=block_size, label=label)


def scan_many(targets: list, source: GenotypeSource, samples: np.ndarray,
              variant_idx: np.ndarray, log, *, filters, memory_gb: float,
              block_size: int | None = None, label: str = "scan") -> None:
    """:func:`scan_variants` for several (scanner, writer, summary) targets
    on the same samples (several phenotypes): each block is read, checked and
    prepared (rotated) once, by the first scanner, whose ``prepare`` every
    scanner must share, then tested by each."""
    n = samples.size
    first = targets[0][0]
    copies = getattr(first, "copies_per_variant", 4)  # float64 columns held per variant
    bs = block_size or snp_block_size(n, memory_gb, copies=copies,
                                      reserved_bytes=first.reserved_bytes,
                                      max_block=getattr(first, "max_block", 4096))
    variants = source.variants
    text = targets[0][2].text_tables(variants)
    blocks = [(a, min(variant_idx.size, a + bs)) for a in range(0, variant_idx.size, bs)]

    def read(ab):
        # one reader thread while the main thread computes: the reader's own
        # threads would compete with BLAS for the same cores
        t0 = time.perf_counter()
        blk = source.read_block(samples, variant_idx[ab[0]:ab[1]], threads=1)
        return blk, time.perf_counter() - t0

    width = min(bs, max(1, variant_idx.size))
    buf = np.empty((n, width), order="F")  # imputed genotypes, reused per block
    progress = log.progress(f"{label}: variants", variant_idx.size)
    pool = ThreadPoolExecutor(max_workers=1)
    try:
        fut = pool.submit(read, blocks[0]) if blocks else None
        for bi, (a, b) in enumerate(blocks):
            blk, t_read = fut.result()
            if bi + 1 < len(blocks):
                fut = pool.submit(read, blocks[bi + 1])
            log.stage("read", t_read)
            t0 = time.perf_counter()
            ok, reason = block_qc(blk, n, filters)
            counts = summarize_reasons(reason)
            cols = np.flatnonzero(ok)
            locate = getattr(first, "locate", None)  # scanners that look variants up
            if locate is not None:
                locate(variant_idx[a:b][cols])
            X = blk.fill(cols, buf)  # mean-imputed effect-allele counts
            t1 = time.perf_counter()
            log.stage("qc", t1 - t0)
            prep = first.prepare(X)
            t2 = time.perf_counter()
            log.stage("rotate", t2 - t1)
            tested = cols[prep.keep]
            idx = variant_idx[a:b][tested]
            info = getattr(blk, "info", None)
            for scanner, writer, summary in targets:
                t2 = time.perf_counter()
                summary.add_qc(counts)
                summary.collinear += int((~prep.keep).sum())
                res = scanner.test(prep)
                t3 = time.perf_counter()
                log.stage("kernel", t3 - t2)
                if idx.size:
                    rb = RowBlock(variants=variants, idx=idx,
                                  allele_freq=blk.allele_freq[tested],
                                  n_miss=blk.n_missing[tested], n=n, result=res,
                                  info=None if info is None else info[tested])
                    writer.write_text(format_text(rb, writer.columns, text), idx.size)
                    summary.boundary += res.n_boundary
                    _track(summary, res, variants, idx)
                log.stage("write", time.perf_counter() - t3)
            progress(b, variant_idx.size)
    finally:
        pool.shutdown(wait=True)
