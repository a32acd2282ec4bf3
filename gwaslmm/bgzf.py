"""BGZF-compressed, tabix-indexed result files (``merge --bgzip``), as the
GWAS Catalog and LocusZoom-style tools read them: by pysam (htslib), a
maintained library, not hand-written compression.

BGZF is gzip in independent blocks, so every gzip reader still reads the
file; the index (.tbi) lets ``tabix`` and pysam fetch a region.  The rows
must be sorted by chromosome (each chromosome in one run) and position, as
gwaslmm writes them when the variant file is sorted; anything else is an
error naming the first row out of order.
"""

from __future__ import annotations

import gzip
import os

from .errors import InputError, UsageError


def bgzip_and_index(path: str, chrom_col: str = "chromosome",
                    pos_col: str = "base_pair_location") -> tuple:
    """Rewrite the gzip table ``path`` as BGZF in place and write its tabix
    index ``path + '.tbi'`` (header line skipped, 1-based positions).
    Returns (path, index path).  A failure leaves neither file behind: the
    table is removed too, since it is not what was asked for."""
    try:
        import pysam
    except ImportError:
        raise UsageError("--bgzip needs pysam (pip install pysam, or pip install "
                         "'gwaslmm[bgzip]')") from None
    d, base = os.path.split(path)
    tmp = os.path.join(d, f".{base}.bgzip-tmp.gz")
    try:
        with gzip.open(path, "rt", encoding="utf-8") as src:
            header = src.readline().rstrip("\n").split("\t")
            try:
                c, p = header.index(chrom_col), header.index(pos_col)
            except ValueError:
                raise InputError(f"{path} has no '{chrom_col}' and '{pos_col}' columns to "
                                 f"index") from None
            done, last_chrom, last_pos = set(), None, 0
            with pysam.BGZFile(tmp, "wb") as dst:
                dst.write(("\t".join(header) + "\n").encode())
                for k, line in enumerate(src, start=2):
                    f = line.split("\t", max(c, p) + 1)
                    chrom, pos = f[c], int(f[p])
                    if pos < 1:
                        raise InputError(f"{path} line {k}: position {pos} (tabix needs "
                                         f"positions from 1)")
                    if chrom != last_chrom:
                        if chrom in done:
                            raise InputError(f"{path} line {k}: chromosome {chrom} again after "
                                             f"{last_chrom}: the rows are not sorted by "
                                             f"chromosome (sort the variant file)")
                        done.add(chrom)
                        last_chrom, last_pos = chrom, 0
                    elif pos < last_pos:
                        raise InputError(f"{path} line {k}: position {pos} after {last_pos} on "
                                         f"chromosome {chrom}: the rows are not sorted by "
                                         f"position (sort the variant file)")
                    last_pos = pos
                    dst.write(line.encode())
        pysam.tabix_index(tmp, seq_col=c, start_col=p, end_col=p, line_skip=1, force=True,
                          zerobased=False)
        os.replace(tmp, path)
        os.replace(tmp + ".tbi", path + ".tbi")
    except BaseException:
        for f in (tmp, tmp + ".tbi", path, path + ".tbi"):
            if os.path.exists(f):
                os.unlink(f)
        raise
    return path, path + ".tbi"
