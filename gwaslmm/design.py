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
    """Raise InputError naming covariates that are constant or linearly dependent,
    or too many for the samples.

    W : ndarray (n, c), float64, intercept first.  Needs n - c >= 2 (the
    variant's test keeps n - c - 1 >= 1 residual degrees of freedom).  A
    column is dependent when its residual after least squares on the earlier
    columns has norm below 1e-8 times its own (centred) norm: that residual
    norm is |R_kk| of one QR factorization W = QR (Householder, LAPACK dgeqrf),
    so the whole check is one factorization, O(n c^2).
    """
    n, c = W.shape
    if n - c < 2:
        raise InputError(f"{c} covariate columns (intercept and dummies included) but only {n} "
                         f"analysed samples: n - c = {n - c} leaves no residual degrees of freedom "
                         f"(at least 2 needed); drop covariates or categorical levels")
    if not np.isfinite(W).all():
        k = int(np.flatnonzero(~np.isfinite(W).all(axis=0))[0])
        raise InputError(f"covariate '{names[k]}' has a non-finite value in the analysed samples")
    constant = np.ptp(W, axis=0) == 0
    constant[0] = False
    if constant.any():
        k = int(np.flatnonzero(constant)[0])
        raise InputError(f"covariate '{names[k]}' is constant ({W[0, k]:g}) in the {n} "
                         f"analysed samples")
    # scale columns to unit norm first: the test is relative, and QR on columns
    # of very different magnitude (a dummy and an income in dollars) keeps it so
    with np.errstate(over="ignore", invalid="ignore"):
        scale = np.linalg.norm(W, axis=0)
    if not np.isfinite(scale).all():
        k = int(np.flatnonzero(~np.isfinite(scale))[0])
        raise InputError(f"covariate '{names[k]}' overflows (values up to "
                         f"{np.abs(W[:, k]).max():.3g}): rescale it")
    R = np.linalg.qr(W / scale, mode="r")
    centred = np.linalg.norm(W - W.mean(axis=0), axis=0) / scale
    for k in range(1, c):
        if abs(R[k, k]) <= 1e-8 * max(centred[k], 1e-300):
            from scipy.linalg import solve_triangular

            coef = solve_triangular(R[:k, :k], R[:k, k])
            used = [names[j] for j in range(1, k) if abs(coef[j]) > 1e-8]
            others = ", ".join(used) if used else "the intercept"
            raise InputError(f"covariate '{names[k]}' is collinear with {others} in the {n} "
                             f"analysed samples; drop one of them")


def check_not_phenotype(W: np.ndarray, names: list, Y: np.ndarray, pheno_names: list) -> None:
    """A covariate equal to a phenotype in every analysed sample, up to the
    rounding of a copy (1 - r^2 below 1e-8: the phenotype printed to 6 digits
    and read back), is the phenotype itself (for example read twice from one
    combined table, or once from a .fam)."""
    for k in range(1, W.shape[1]):
        for j, pn in enumerate(pheno_names):
            y = Y[:, j]
            ok = ~np.isnan(y)
            if not ok.any():
                continue
            w, v = W[ok, k], y[ok]
            if np.array_equal(w, v):
                how = "equals"
            else:
                wc, vc = w - w.mean(), v - v.mean()
                den = float(np.dot(wc, wc) * np.dot(vc, vc))
                r2 = float(np.dot(wc, vc)) ** 2 / den if den > 0 else 0.0
                if not 1 - r2 < 1e-8:
                    continue
                how = f"is, up to rounding (1 - r^2 = {1 - r2:.2g}), a linear function of"
            raise InputError(f"covariate '{names[k]}' {how} phenotype '{pn}' in all "
                             f"{int(ok.sum())} analysed samples: the phenotype cannot be a "
                             f"covariate; leave it out of --covar-name")
