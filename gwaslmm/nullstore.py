"""Saved null models (``reml --save-null PREFIX``, ``assoc --null PREFIX``).

PREFIX.null.npz holds plain arrays (no pickle): the contrast-basis
eigendecomposition, the rotated phenotype, the null estimates, the analysed
sample IDs and covariate names, so that HPC chunk jobs skip the kinship,
the eigendecomposition and the null fit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np

from .eigen import EIGEN_KEYS, ProjectedEigen, eigen_arrays, eigen_from_arrays, read_npz
from .errors import InputError
from .nullmodel import NullFit
from .samples import SampleSelection

FIT_SCALARS = ("n", "c", "lam", "lam_ml", "logl_reml", "logl_ml", "logl_reml_h0", "sigma_e2",
               "sigma_g2", "h2", "h2_se", "lam_se", "p_h2")


@dataclass(frozen=True)
class StoredNull:
    selection: SampleSelection
    eig: ProjectedEigen
    fit: NullFit
    n_snps_grm: int


def save_null(prefix: str, eig: ProjectedEigen, fit: NullFit, sel: SampleSelection, bed) -> str:
    path = prefix + ".null.npz"
    tmp = path + ".partial.npz"
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(tmp, **eigen_arrays(eig), yt=fit.yt, y=sel.y[:, 0], beta=fit.beta,
             beta_se=fit.beta_se, name=np.array(fit.name), where=np.array(fit.where),
             where_ml=np.array(fit.where_ml), fid=sel.fid, iid=sel.iid, W=sel.W,
             covar_names=np.array(sel.covar_names, dtype=str),
             bed_n=np.int64(bed.n_samples), bed_m=np.int64(bed.n_snps),
             **{k: np.float64(getattr(fit, k)) for k in FIT_SCALARS})
    os.replace(tmp, path)
    return path


def load_null(prefix: str, bed, log) -> StoredNull:
    path = prefix if prefix.endswith(".npz") else prefix + ".null.npz"
    z = read_npz(path, "null model", EIGEN_KEYS + FIT_SCALARS + (
        "yt", "y", "beta", "beta_se", "name", "where", "where_ml", "fid", "iid", "W",
        "covar_names"))
    fid, iid = z["fid"], z["iid"]
    keys = np.char.add(np.char.add(bed.fam.fid, " "), bed.fam.iid)
    pos = {k: i for i, k in enumerate(keys)}
    want = np.char.add(np.char.add(fid, " "), iid)
    idx = np.array([pos.get(k, -1) for k in want], dtype=np.int64)
    if (idx < 0).any():
        raise InputError(f"{path}: {int((idx < 0).sum())} of its {idx.size} samples are not in "
                         f"{bed.fam_path} (first: {want[idx < 0][0]})")
    if (np.diff(idx) <= 0).any():
        raise InputError(f"{path}: its samples are not in the .fam order of {bed.fam_path}")
    eig = eigen_from_arrays(z)
    sc = {k: float(z[k]) for k in FIT_SCALARS}
    sc["n"], sc["c"] = int(sc["n"]), int(sc["c"])
    fit = NullFit(name=str(z["name"]), beta=z["beta"], beta_se=z["beta_se"], where=str(z["where"]),
                  where_ml=str(z["where_ml"]), yt=z["yt"], **sc)
    sel = SampleSelection(idx=idx, fid=fid, iid=iid, y=z["y"].reshape(-1, 1),
                          pheno_names=[fit.name], W=z["W"], covar_names=list(z["covar_names"]),
                          report=[])
    log.write(f"null model: loaded {path} ({idx.size} samples, phenotype '{fit.name}', "
              f"covariates {', '.join(sel.covar_names)})")
    return StoredNull(selection=sel, eig=eig, fit=fit, n_snps_grm=1)
