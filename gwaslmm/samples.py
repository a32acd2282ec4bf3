"""The sample join: which samples are analysed, their phenotypes and covariates.

The analysed set is the genotype file's samples, restricted by
``--keep``/``--remove``, that have a row in the phenotype and covariate files
(matched on FID and IID) and no missing phenotype or covariate value.  Every
step is counted in a report, with the first few unmatched IDs.  Phenotypes
come from a table, or from the genotype file's own phenotype columns (a
.fam's column 6 onward, as GEMMA's ``-n K`` reads them).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .design import (
    check_covariates,
    check_not_phenotype,
    covariate_matrix,
    drop_missing_covariates,
    table_columns,
)
from .errors import InputError
from .genotypes.base import SampleInfo
from .ids import duplicated, first_ids, positions, sample_keys
from .tables import IdList, SampleTable, parse_numeric

MIN_SAMPLES = 10


@dataclass(frozen=True)
class SampleSelection:
    """The analysed samples.

    idx : ndarray (n,), int64 — indices into the genotype file's samples, increasing.
    y : ndarray (n, n_pheno), float64 — NaN only where several phenotypes are
        analysed together and one is missing for a sample.
    W : ndarray (n, c), float64 — intercept first, then quantitative
        covariates, then categorical dummies (first level = baseline).
    """

    idx: np.ndarray
    fid: np.ndarray
    iid: np.ndarray
    y: np.ndarray
    pheno_names: list
    W: np.ndarray
    covar_names: list
    report: list = field(default_factory=list)

    @property
    def n(self) -> int:
        return self.idx.size

    @property
    def keys(self) -> np.ndarray:
        return sample_keys(self.fid, self.iid)


def fam_phenotype_names(samples: SampleInfo) -> list:
    """Names of the genotype file's phenotype columns: 'fam_pheno' for the one
    column of a standard .fam, 'fam_pheno1', 'fam_pheno2', ... for several."""
    k = len(samples.phenotypes)
    return ["fam_pheno"] if k == 1 else [f"fam_pheno{j + 1}" for j in range(k)]


def _by_iid(samples: SampleInfo, what: str, path: str) -> np.ndarray:
    """The genotype samples' IIDs, to match a file that lists IIDs alone;
    they must then be unique."""
    dup = duplicated(samples.iid)
    if dup.size:
        raise InputError(f"{what} {path} lists IIDs alone (PLINK 2 '#IID'), but IID {dup[0]} "
                         f"appears in several families of {os.path.basename(samples.source)}; "
                         f"give FID and IID")
    return samples.iid


def _match(keys, alive, table: SampleTable, what: str, report: list, src: str, samples=None):
    """Row index into ``table`` per genotype sample (-1 if absent); updates ``alive``."""
    if table.by_iid:
        tkeys, keys = table.iid, _by_iid(samples, f"{what} file", table.path)
    else:
        tkeys = sample_keys(table.fid, table.iid)
    rows = positions(tkeys, keys)
    matched = rows >= 0
    n_before = int(alive.sum())
    lost = alive & ~matched
    in_geno = set(keys.tolist())
    extra = [k for k in tkeys.tolist() if k not in in_geno]
    report.append(f"{what} file {table.path}: {table.n} samples, {int((alive & matched).sum())} "
                  f"match the {n_before} samples still in the analysis")
    if lost.any():
        report.append(f"  dropped {int(lost.sum())} sample(s) with no row in the {what} file "
                      f"(first: {first_ids(keys[lost])})")
    if extra:
        report.append(f"  {len(extra)} {what} row(s) are not in {src}, ignored "
                      f"(first: {first_ids(extra)})")
    alive &= matched
    if not alive.any():
        _no_overlap(f"{what} file {table.path}", table.n, tkeys[:1], src,
                    f"still in analysis before the join: {n_before}; first {src} ID: {keys[0]}")
    return rows


def _no_overlap(what: str, listed: int, first, src: str, detail: str):
    raise InputError(f"{what} has 0 samples in common with {src} (listed: {listed}, first: "
                     f"{first_ids(first)}; {detail})")


def _sample_lists(samples, keys, alive, keep, remove, report, n_all, src):
    if keep is not None:
        in_keep = np.isin(_by_iid(samples, "--keep", "list") if keep.by_iid else keys, keep.ids)
        report.append(f"--keep: {keep.size} IDs, {int(in_keep.sum())} in {src}; "
                      f"dropped {int((alive & ~in_keep).sum())} samples not listed")
        alive &= in_keep
        if not alive.any():
            _no_overlap("--keep list", keep.size, keep.ids, src, f"{src}: {n_all} samples")
    if remove is not None:
        in_rm = np.isin(_by_iid(samples, "--remove", "list") if remove.by_iid else keys,
                        remove.ids)
        report.append(f"--remove: {remove.size} IDs, removed {int((alive & in_rm).sum())} samples")
        alive &= ~in_rm


def _phenotypes(samples, keys, alive, pheno_table, pheno_names, fam_columns, missing_codes,
                drop_missing, report, src):
    ys, names = [], []
    if pheno_table is None:
        all_names = fam_phenotype_names(samples)
        for j in fam_columns:
            col = f"column {6 + j}"
            ys.append(parse_numeric(samples.phenotypes[j], missing_codes, samples.source, col,
                                    "phenotype", ids=keys))
            names.append(all_names[j])
    else:
        rows = _match(keys, alive, pheno_table, "phenotype", report, src, samples)
        sel = pheno_names if pheno_names else pheno_table.names
        for nm, col in table_columns(pheno_table, rows, sel).items():
            ys.append(parse_numeric(col, missing_codes, pheno_table.path, nm, "phenotype",
                                    ids=keys))
            names.append(nm)
    Y = np.column_stack(ys)
    miss = np.isnan(Y)
    gone = miss.any(axis=1) if drop_missing == "any" else miss.all(axis=1)
    lost = alive & gone
    if len(names) == 1:
        report.append(f"missing phenotype '{names[0]}': dropped {int(lost.sum())}")
    else:
        report.append(f"missing phenotype ({'any' if drop_missing == 'any' else 'all'} of "
                      f"{len(names)}): dropped {int(lost.sum())}")
    if alive.any() and not (alive & ~gone).any():
        which = names[0] if len(names) == 1 else ", ".join(names)
        src = pheno_table.path if pheno_table is not None else samples.source
        raise InputError(f"phenotype {which} is missing (NA, -9 or a missing code) in all "
                         f"{int(alive.sum())} samples still in the analysis ({src})")
    alive &= ~gone
    return Y, names


def join_samples(samples: SampleInfo, *, pheno_table: SampleTable | None = None,
                 pheno_names=None, fam_columns=(0,), covar_table: SampleTable | None = None,
                 covar_names=None, cat_covar=(), keep: IdList | None = None,
                 remove: IdList | None = None, missing_codes=("-9",),
                 need_phenotype: bool = True, drop_missing: str = "any",
                 min_samples: int = MIN_SAMPLES) -> SampleSelection:
    """Join genotype samples with phenotypes, covariates and sample lists.

    pheno_table None -> phenotypes from the genotype file's own columns
    ``fam_columns`` (0-based: 0 is a .fam's column 6).
    drop_missing: 'any' drops a sample missing any selected phenotype; 'all'
    keeps it unless every selected phenotype is missing (multi-phenotype REML,
    which then groups phenotypes by missingness pattern).
    """
    report: list = []
    keys = sample_keys(samples.fid, samples.iid)
    n_all = samples.n
    alive = np.ones(n_all, dtype=bool)
    src = os.path.basename(samples.source)
    report.append(f"genotype samples ({src}): {n_all}")
    _sample_lists(samples, keys, alive, keep, remove, report, n_all, src)

    if need_phenotype:
        Y, names = _phenotypes(samples, keys, alive, pheno_table, pheno_names, fam_columns,
                               missing_codes, drop_missing, report, src)
    else:
        Y, names = np.empty((n_all, 0)), []

    wcols, wnames = [np.ones(n_all)], ["intercept"]
    if covar_table is not None:
        rows = _match(keys, alive, covar_table, "covariate", report, src, samples)
        sel = covar_names if covar_names else covar_table.names
        raw = table_columns(covar_table, rows, sel)
        drop_missing_covariates(raw, alive, missing_codes, report)
        if not alive.any():
            raise InputError("no sample has every covariate: " + "; ".join(report[-3:]))
        wcols, wnames = covariate_matrix(raw, alive, cat_covar, missing_codes, covar_table.path,
                                         report)

    idx = np.flatnonzero(alive)
    n = idx.size
    report.append(f"analysed samples: {n}")
    if n < min_samples:
        raise InputError(f"only {n} samples left after the sample join (minimum {min_samples}): "
                         + " | ".join(report))
    W = np.column_stack([c[idx] for c in wcols])
    check_covariates(W, wnames)
    Yi = Y[idx]
    check_not_phenotype(W, wnames, Yi, names)
    for k, nm in enumerate(names):
        v = Yi[:, k]
        v = v[~np.isnan(v)]
        if v.size and np.all(v == v[0]):
            raise InputError(f"phenotype '{nm}' is constant ({v[0]:g}) in all {v.size} analysed "
                             f"samples")
    return SampleSelection(idx=idx, fid=samples.fid[idx], iid=samples.iid[idx], y=Yi,
                           pheno_names=names, W=W, covar_names=wnames, report=report)
