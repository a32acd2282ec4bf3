"""Genotype sources behind one protocol (:mod:`.base`): PLINK 1 .bed and
PLINK 2 .pgen (dosages or hard calls), BGEN (dosages).

:func:`open_genotypes` opens the fileset a command names; everything
downstream (samples, QC, kinship, the scan loop) sees only the protocol.
"""

from __future__ import annotations

import numpy as np

from .base import GenotypeBlock, GenotypeSource, SampleInfo, VariantInfo, snp_block_size

__all__ = ["GenotypeBlock", "GenotypeSource", "SampleInfo", "VariantInfo", "impute_mean",
           "open_genotypes", "snp_block_size"]


def open_genotypes(bfile: str | None = None, threads: int | None = None,
                   pfile: str | None = None, hard_calls: bool = False,
                   bgen: str | None = None, sample: str | None = None,
                   ref_first: bool = False, other_allele: bool = False) -> GenotypeSource:
    """The genotype source named by ``--bfile PREFIX`` (PLINK 1), ``--pfile
    PREFIX`` (PLINK 2: dosages, or ``hard_calls``) or ``--bgen FILE``
    (``--sample FILE``; the first allele counted unless ``ref_first``); with
    ``other_allele`` the allele it would not count is counted."""
    if other_allele:
        from .flip import OtherAlleleSource

        return OtherAlleleSource(open_genotypes(bfile, threads, pfile, hard_calls, bgen, sample,
                                                ref_first))
    if bgen is not None:
        from .bgen import BgenFile

        return BgenFile(bgen, sample_path=sample, num_threads=threads, ref_first=ref_first,
                        hard_calls=hard_calls)
    if pfile is not None:
        from .plink2 import PgenFile

        return PgenFile(pfile, num_threads=threads, dosages=not hard_calls)
    from .plink1 import BedFile

    return BedFile(bfile, num_threads=threads)


def impute_mean(block: np.ndarray):
    """Mean-impute missing calls in place, per variant, over the rows present
    (plain numpy, for float blocks; the scans use a source's blocks).

    block : ndarray, shape (n_samples, n_snps), float; NaN marks a missing call.
    Returns (block, n_missing, allele_freq): n_missing int64 (n_snps,),
    allele_freq float64 (n_snps,) the effect-allele frequency over the
    non-missing samples (NaN where every call is missing, and those columns
    are left NaN).
    """
    miss = np.isnan(block)
    n_missing = miss.sum(axis=0)
    n_obs = block.shape[0] - n_missing
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.where(n_obs > 0, np.nansum(block, axis=0) / np.maximum(n_obs, 1), np.nan)
    if n_missing.any():
        rows, cols = np.nonzero(miss)
        block[rows, cols] = means[cols]
    return block, n_missing.astype(np.int64), means / 2.0
