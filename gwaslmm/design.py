"""The covariate design: turn covariate columns into the matrix W.

W always starts with an intercept; numeric columns are quantitative,
others (and those named by ``--cat-covar``) categorical, dummy-coded with
the first level in sorted order as the baseline (numeric codes compare as
numbers).  A constant or linearly dependent column is an error naming it.
"""

from __future__ import annotations

import numpy as np

from .errors import InputError, UsageError
from .tables import SampleTable, is_numeric_column, missing_mask, parse_numeric


def table_columns(table: SampleTable, rows: np.ndarray, names: list) -> dict:
    """Each named column of ``table`` per sample, as text: ``rows`` (n,) gives
    the table row of each sample (-1: none, read as NA)."""
    return {nm: np.where(rows >= 0, table.columns[nm][np.maximum(rows, 0)], "NA")
            for nm in names}


def covariate_matrix(raw: dict, alive: np.ndarray, cat_covar, missing_codes, path: str,
                     report: list):
    """Columns (each (n_all,) float64) and names of W from the text columns
    ``raw`` over the samples ``alive`` (bool (n_all,)); the intercept first."""
    unknown = [c for c in cat_covar if c not in raw]
    if unknown:
        raise UsageError(f"--cat-covar names '{unknown[0]}', which is not among the "
                         f"covariates used ({', '.join(raw)})")
    n_all = alive.size
    wcols, wnames = [np.ones(n_all)], ["intercept"]
    for nm, col in raw.items():
        if nm not in cat_covar and is_numeric_column(col[alive], missing_codes):
            v = np.full(n_all, np.nan)
            v[alive] = parse_numeric(col[alive], missing_codes, path, nm, "covariate")
            wcols.append(v)
            wnames.append(nm)
            continue
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
    return wcols, wnames


def drop_missing_covariates(raw: dict, alive: np.ndarray, missing_codes, report: list) -> None:
    """Remove (from ``alive``, in place) samples missing any covariate, counted per column."""
    for nm, col in raw.items():
        m = missing_mask(col, missing_codes)
        lost = alive & m
        if lost.any():
            report.append(f"missing covariate '{nm}': dropped {int(lost.sum())}")
        alive &= ~m


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


def check_not_phenotype(W: np.ndarray, names: list, Y: np.ndarray, pheno_names: list) -> None:
    """A covariate equal to a phenotype in every analysed sample is the
    phenotype itself (for example read twice from one combined table)."""
    for k in range(1, W.shape[1]):
        for j, pn in enumerate(pheno_names):
            y = Y[:, j]
            ok = ~np.isnan(y)
            if ok.any() and np.array_equal(W[ok, k], y[ok]):
                raise InputError(f"covariate '{names[k]}' equals phenotype '{pn}' in all "
                                 f"{int(ok.sum())} analysed samples: the phenotype cannot be "
                                 f"a covariate; leave it out of --covar-name")
