"""The genotype-source protocol: what samples, QC, the kinship builder and the
scan loop may ask of a genotype file, whatever its format.

A source has ``samples`` (:class:`SampleInfo`), ``variants``
(:class:`VariantInfo`) and ``read_block(sample_idx, variant_idx)``, which
returns a :class:`GenotypeBlock`: per-variant counts over the samples read
(for QC) and ``fill``, which writes chosen variants as floats into a reused
buffer (centred/scaled, missing calls set to a given value, by default the
mean).  Genotypes are counts (or dosages) of the effect allele, which each
source states in ``effect_allele_note``; a source of dosages also gives
each block's imputation quality per variant (``info``, named by
``info_kind``), over the samples read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class SampleInfo:
    """The samples of a genotype file, in file order.

    fid, iid : ndarray (n,), str.  phenotypes : tuple of ndarray (n,), str —
    phenotype columns the file carries (a .fam's column 6 onward), as text.
    source : the file, for messages.
    """

    fid: np.ndarray
    iid: np.ndarray
    phenotypes: tuple
    source: str

    @property
    def n(self) -> int:
        return int(self.iid.size)


@dataclass(frozen=True)
class VariantInfo:
    """The variants of a genotype file, in file order (each ndarray (m,)).

    chromosome : str, canonical labels (:mod:`gwaslmm.chromosomes`);
    position : int64 base pairs; id : str; effect_allele, other_allele : str.
    """

    chromosome: np.ndarray
    position: np.ndarray
    id: np.ndarray
    effect_allele: np.ndarray
    other_allele: np.ndarray
    source: str

    @property
    def m(self) -> int:
        return int(self.id.size)


@runtime_checkable
class GenotypeBlock(Protocol):
    """Genotypes of the samples and variants read, with their counts.

    n_missing : ndarray (m,), int64 — missing calls per variant.
    allele_freq : ndarray (m,), float64 — effect-allele frequency over the
        non-missing calls (NaN when every call is missing).
    constant : ndarray (m,), bool — every non-missing call equal (or none).
    """

    n_missing: np.ndarray
    allele_freq: np.ndarray
    constant: np.ndarray

    @property
    def mean(self) -> np.ndarray: ...

    def fill(self, cols: np.ndarray, out: np.ndarray, center=None, scale=None,
             missing_value=None) -> np.ndarray:
        """Write variants ``cols`` as (x - center) * scale, missing calls set to
        ``missing_value`` (default: mean imputation of the raw values), into
        ``out[:, :len(cols)]`` (float64 or float32, F-order); returns that view."""


@runtime_checkable
class GenotypeSource(Protocol):
    path: str
    samples: SampleInfo
    variants: VariantInfo
    effect_allele_note: str
    info_kind: str | None  # the imputation quality its blocks carry ("IMPUTE INFO", "MaCH R2")

    def read_block(self, sample_idx: np.ndarray | None, variant_idx,
                   threads: int | None = None) -> GenotypeBlock:
        """Samples ``sample_idx`` (increasing indices, None for all) by variants
        ``variant_idx`` (increasing indices or a slice); ``threads`` caps the
        reader's own threads for this read."""

    def close(self) -> None: ...


def snp_block_size(n_samples: int, memory_gb: float, bytes_per_value: int = 8,
                   copies: int = 4, reserved_bytes: int = 0, max_block: int = 8192) -> int:
    """Number of variants per block so that ``copies`` float blocks fit the budget.

    The budget is ``memory_gb`` minus ``reserved_bytes`` (for example the n x n
    kinship and eigenvectors); at least 16 variants per block.
    """
    avail = memory_gb * 1024 ** 3 - reserved_bytes
    per_snp = max(1, n_samples * bytes_per_value * copies)
    b = int(avail // per_snp)
    return int(max(16, min(max_block, b)))
