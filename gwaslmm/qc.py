"""Variant selection and QC: --chr/--extract/--exclude before reading, then
missing-call rate, monomorphism, MAF and MAC over the analysed samples.

Thresholds follow GEMMA and PLINK: a variant is removed when its missing-call
rate is above ``geno`` (equal passes), when its minor allele frequency is
below ``maf`` (equal passes), or when its minor allele count is below ``mac``.
Each variant is counted under the first filter it fails, in the order
all-missing, missing rate, monomorphic, MAF, MAC, imputation quality.
The last (``info_min``) applies to sources that give a quality per
variant over the analysed samples (IMPUTE INFO for BGEN dosages,
``--info-min``; MaCH R-squared for .pgen dosages, ``--minimac-r2-min``):
removed when below the threshold (equal passes).
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .chromosomes import parse_chr_spec
from .errors import InputError, UsageError
from .genotypes.base import VariantInfo


@dataclass(frozen=True)
class VariantFilters:
    maf: float = 0.01
    geno: float = 0.05
    mac: float | None = None
    info_min: float | None = None
    info_flag: str = "--info-min"

    def __post_init__(self):
        if self.mac is not None and not np.isfinite(self.mac):
            raise UsageError(f"--mac must be a finite count, got {self.mac}")
        if not 0 <= self.maf < 0.5:
            raise UsageError(f"--maf must be in [0, 0.5), got {self.maf}")
        if not 0 <= self.geno <= 1:
            raise UsageError(f"--geno must be in [0, 1], got {self.geno}")
        if self.mac is not None and self.mac < 0:
            raise UsageError(f"--mac must be >= 0, got {self.mac}")
        if self.info_min is not None and not 0 <= self.info_min <= 1:
            raise UsageError(f"{self.info_flag} must be in [0, 1], got {self.info_min}")


FILTER_NAMES = ("all_missing", "geno", "monomorphic", "maf", "mac", "info")


def preselect_variants(variants: VariantInfo, chr_spec: str | None = None,
                       extract: set | None = None, exclude: set | None = None):
    """Indices into the variant table of the variants kept by --chr/--extract/--exclude.

    Returns (idx int64 ndarray, report lines).
    """
    keep = np.ones(variants.m, dtype=bool)
    report = [f"variants in {os.path.basename(variants.source)}: {variants.m}"]
    if chr_spec is not None:
        labels, _ = parse_chr_spec(chr_spec)
        sel = np.isin(variants.chromosome, sorted(labels))
        report.append(f"--chr {chr_spec}: kept {int(sel.sum())}, removed {int((keep & ~sel).sum())}")
        keep &= sel
    if extract is not None:
        sel = np.isin(variants.id, sorted(extract))
        report.append(f"--extract: {len(extract)} IDs listed, {int(sel.sum())} in "
                      f"{os.path.basename(variants.source)}; removed "
                      f"{int((keep & ~sel).sum())}")
        ids, counts = np.unique(variants.id[sel], return_counts=True)
        if (counts > 1).any():
            report.append(f"  {int((counts > 1).sum())} listed ID(s) name several variants, all "
                          f"kept (first: {ids[counts > 1][0]}, {int(counts[counts > 1][0])} "
                          f"variants)")
        keep &= sel
    if exclude is not None:
        sel = np.isin(variants.id, sorted(exclude))
        report.append(f"--exclude: {len(exclude)} IDs listed; removed {int((keep & sel).sum())}")
        keep &= ~sel
    idx = np.flatnonzero(keep)
    if idx.size == 0:
        raise InputError("no variant is left after --chr/--extract/--exclude: " + "; ".join(report))
    return idx, report


def variant_qc_counts(n: int, n_missing: np.ndarray, a1_freq: np.ndarray,
                      constant: np.ndarray, filters: VariantFilters, info=None):
    """Which SNPs pass the filters, from per-SNP counts over ``n`` samples
    (a :class:`gwaslmm.genotypes.base.GenotypeBlock`'s) and, for
    ``filters.info_min``, their imputation quality ``info`` (m,).

    Returns (passed bool (m,), reason int8 (m,): -1 passed, else index into
    FILTER_NAMES).
    """
    m = n_missing.size
    reason = np.full(m, -1, dtype=np.int8)
    n_obs = n - n_missing

    def mark(mask, k):
        reason[(reason < 0) & mask] = k

    mark(n_obs == 0, 0)
    mark(n_missing / n > filters.geno, 1)
    with np.errstate(invalid="ignore"):
        mark(constant, 2)
        maf = np.minimum(a1_freq, 1 - a1_freq)
        mark(maf < filters.maf, 3)
        if filters.mac is not None:
            count = a1_freq * 2 * n_obs
            mac = np.minimum(count, 2 * n_obs - count)
            mark(mac < filters.mac - 1e-9, 4)
    if filters.info_min is not None:
        if info is None:
            raise ValueError("an imputation-quality filter on a source without one")
        mark(info < filters.info_min - 1e-12, 5)
    return reason < 0, reason


def summarize_reasons(reason: np.ndarray) -> dict:
    return {name: int((reason == k).sum()) for k, name in enumerate(FILTER_NAMES)}


def qc_report_lines(counts: dict, filters: VariantFilters, n_in: int, n_pass: int) -> list:
    lines = [f"variant QC over the analysed samples: {n_in} variants read"]
    lines.append(f"  all calls missing: removed {counts['all_missing']}")
    lines.append(f"  --geno {filters.geno:g} (missing-call rate): removed {counts['geno']}")
    lines.append(f"  monomorphic: removed {counts['monomorphic']}")
    lines.append(f"  --maf {filters.maf:g}: removed {counts['maf']}")
    if filters.mac is not None:
        lines.append(f"  --mac {filters.mac:g}: removed {counts['mac']}")
    if filters.info_min is not None:
        what = "IMPUTE INFO" if filters.info_flag == "--info-min" else "MaCH R2"
        lines.append(f"  {filters.info_flag} {filters.info_min:g} ({what}): removed "
                     f"{counts['info']}")
    lines.append(f"  variants passing QC: {n_pass}")
    return lines


def block_qc(blk, n: int, filters: VariantFilters):
    """:func:`variant_qc_counts` of a genotype block (``GenotypeBlock``)."""
    return variant_qc_counts(n, blk.n_missing, blk.allele_freq, blk.constant, filters,
                             getattr(blk, "info", None))
