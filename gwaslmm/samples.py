"""The sample join: which samples are analysed, their phenotypes and covariates.

The analysed set is the .fam samples, restricted by ``--keep``/``--remove``,
that have a row in the phenotype and covariate files (matched on FID and IID)
and no missing phenotype or covariate value.  Every step is counted in a
report, with the first few unmatched IDs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, UsageError
from .genotypes import Fam
from .tables import SampleTable, is_numeric_column, missing_mask, parse_numeric

MIN_SAMPLES = 10
SHOW_IDS = 3


@dataclass(frozen=True)
class SampleSelection:
    """The analysed samples.

    idx : ndarray (n,), int64 — indices into the .fam, increasing (.fam order).
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
        return np.char.add(np.char.add(self.fid, " "), self.iid)


def _keys(fid, iid):
    return np.char.add(np.char.add(np.asarray(fid, str), " "), np.asarray(iid, str))


def _first(ids, k=SHOW_IDS):
    ids = list(ids)
    s = ", ".join(ids[:k])
    return s + (" ..." if len(ids) > k else "")


def _match(fam_keys, alive, table: SampleTable, what: str, report: list):
    """Row index into ``table`` per .fam sample (-1 if absent); updates ``alive``."""
    tkeys = _keys(table.fid, table.iid)
    pos = {k: r for r, k in enumerate(tkeys)}
    rows = np.array([pos.get(k, -1) for k in fam_keys], dtype=np.int64)
    matched = rows >= 0
    n_before = int(alive.sum())
    lost = alive & ~matched
    in_fam = set(fam_keys.tolist())
    extra = [k for k in tkeys if k not in in_fam]
    report.append(f"{what} file {table.path}: {table.n} samples, {int((alive & matched).sum())} "
                  f"match the {n_before} samples still in the analysis")
    if lost.any():
        report.append(f"  dropped {int(lost.sum())} sample(s) with no row in the {what} file "
                      f"(first: {_first(fam_keys[lost])})")
    if extra:
        report.append(f"  {len(extra)} {what} row(s) are not in the .fam, ignored "
                      f"(first: {_first(extra)})")
    alive &= matched
    if not alive.any():
        raise InputError(f"{what} file {table.path} has 0 samples in common with the genotype "
                         f"samples ({what}: {table.n} samples, still in analysis before the "
                         f"join: {n_before}; first {what} ID: {tkeys[0]}; first .fam ID: "
                         f"{fam_keys[0]})")
    return rows


def join_samples(fam: Fam, *, pheno_table: SampleTable | None = None, pheno_names=None,
                 covar_table: SampleTable | None = None, covar_names=None, cat_covar=(),
                 keep: np.ndarray | None = None, remove: np.ndarray | None = None,
                 missing_codes=("-9",), need_phenotype: bool = True,
                 drop_missing: str = "any", min_samples: int = MIN_SAMPLES,
                 bed_path: str = ".fam") -> SampleSelection:
    """Join genotype samples with phenotypes, covariates and sample lists.

    pheno_table None -> phenotype from .fam column 6 (named 'PHENO' ... as in
    PLINK, here the .fam's file name stem is not used: the name is 'fam_pheno').
    drop_missing: 'any' drops a sample missing any selected phenotype; 'all'
    keeps it unless every selected phenotype is missing (multi-phenotype REML,
    which then groups phenotypes by missingness pattern).
    """
    report: list = []
    fam_keys = _keys(fam.fid, fam.iid)
    alive = np.ones(fam.n, dtype=bool)
    report.append(f"genotype samples (.fam): {fam.n}")

    if keep is not None:
        in_keep = np.isin(fam_keys, keep)
        report.append(f"--keep: {keep.size} IDs, {int(in_keep.sum())} in the .fam; "
                      f"dropped {int((alive & ~in_keep).sum())} samples not listed")
        alive &= in_keep
        if not alive.any():
            raise InputError(f"--keep list has 0 samples in common with the .fam "
                             f"(list: {keep.size} IDs, first: {_first(keep)}; .fam: {fam.n})")
    if remove is not None:
        in_rm = np.isin(fam_keys, remove)
        report.append(f"--remove: {remove.size} IDs, removed {int((alive & in_rm).sum())} samples")
        alive &= ~in_rm

    # Phenotypes.
    ys, names = [], []
    if need_phenotype:
        if pheno_table is None:
            vals = parse_numeric(fam.pheno, missing_codes, bed_path, "column 6", "phenotype",
                                 ids=fam_keys)
            ys.append(vals)
            names.append("fam_pheno")
        else:
            rows = _match(fam_keys, alive, pheno_table, "phenotype", report)
            sel = pheno_names if pheno_names else pheno_table.names
            for nm in sel:
                col = np.where(rows >= 0, pheno_table.columns[nm][np.maximum(rows, 0)], "NA")
                ys.append(parse_numeric(col, missing_codes, pheno_table.path, nm, "phenotype",
                                        ids=fam_keys))
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
        alive &= ~gone
    else:
        Y = np.empty((fam.n, 0))

    # Covariates.
    wcols, wnames = [np.ones(fam.n)], ["intercept"]
    if covar_table is not None:
        rows = _match(fam_keys, alive, covar_table, "covariate", report)
        sel = covar_names if covar_names else covar_table.names
        unknown = [c for c in cat_covar if c not in sel]
        if unknown:
            raise UsageError(f"--cat-covar names '{unknown[0]}', which is not among the "
                             f"covariates used ({', '.join(sel)})")
        raw = {}
        for nm in sel:
            raw[nm] = np.where(rows >= 0, covar_table.columns[nm][np.maximum(rows, 0)], "NA")
            m = missing_mask(raw[nm], missing_codes)
            lost = alive & m
            if lost.any():
                report.append(f"missing covariate '{nm}': dropped {int(lost.sum())}")
            alive &= ~m
        if not alive.any():
            raise InputError("no sample has every covariate: " + "; ".join(report[-3:]))
        for nm in sel:
            col = raw[nm]
            if nm not in cat_covar and is_numeric_column(col[alive], missing_codes):
                v = np.full(fam.n, np.nan)
                v[alive] = parse_numeric(col[alive], missing_codes, covar_table.path, nm,
                                         "covariate")
                wcols.append(v)
                wnames.append(nm)
            else:
                levels = sorted(set(col[alive].tolist()))
                try:  # numeric codes forced categorical: order and compare them as numbers
                    num = np.array(col, dtype=object)
                    num[alive] = col[alive].astype(float)
                    levels = sorted(set(num[alive].tolist()))
                    col = num
                except ValueError:
                    pass
                if len(levels) < 2:
                    raise InputError(f"categorical covariate '{nm}' has a single level "
                                     f"('{levels[0]}') among the {int(alive.sum())} analysed "
                                     f"samples; drop it")
                for lev in levels[1:]:
                    wcols.append((col == lev).astype(float))
                    wnames.append(f"{nm}={lev:g}" if isinstance(lev, float) else f"{nm}={lev}")
                base = f"{levels[0]:g}" if isinstance(levels[0], float) else levels[0]
                report.append(f"categorical covariate '{nm}': {len(levels)} levels, baseline "
                              f"'{base}'")

    idx = np.flatnonzero(alive)
    n = idx.size
    report.append(f"analysed samples: {n}")
    if n < min_samples:
        raise InputError(f"only {n} samples left after the sample join (minimum {min_samples}): "
                         + " | ".join(report))
    W = np.column_stack([c[idx] for c in wcols])
    check_covariates(W, wnames)
    Yi = Y[idx]
    for k, nm in enumerate(names):
        v = Yi[:, k]
        v = v[~np.isnan(v)]
        if v.size and np.all(v == v[0]):
            raise InputError(f"phenotype '{nm}' is constant ({v[0]:g}) in all {v.size} analysed "
                             f"samples")
    return SampleSelection(idx=idx, fid=fam.fid[idx], iid=fam.iid[idx], y=Yi, pheno_names=names,
                           W=W, covar_names=wnames, report=report)


def check_covariates(W: np.ndarray, names: list) -> None:
    """Raise InputError naming covariates that are constant or linearly dependent.

    W : ndarray (n, c), float64, intercept first.  A column is dependent when
    its residual after least squares on the earlier columns has norm below
    1e-8 times its own (centred) norm.
    """
    n, c = W.shape
    if c > n:
        raise InputError(f"{c} covariate columns but only {n} samples")
    for k in range(1, c):
        x = W[:, k]
        if np.ptp(x) == 0:
            raise InputError(f"covariate '{names[k]}' is constant ({x[0]:g}) in the {n} "
                             f"analysed samples")
        prev = W[:, :k]
        coef, *_ = np.linalg.lstsq(prev, x, rcond=None)
        r = x - prev @ coef
        scale = np.linalg.norm(x - x.mean())
        if np.linalg.norm(r) <= 1e-8 * max(scale, 1e-300):
            used = [names[j] for j in range(k) if abs(coef[j]) > 1e-8 and j > 0]
            others = ", ".join(used) if used else "the intercept"
            raise InputError(f"covariate '{names[k]}' is collinear with {others} in the {n} "
                             f"analysed samples; drop one of them")
