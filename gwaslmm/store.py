"""Saved decompositions and null models: ``.npz`` files of plain arrays (no pickle).

``--save-eigen`` writes OUT.eigen.npz (the decomposition, the sample IDs and
covariate names, checked on reuse); ``reml --save-null PREFIX`` writes
PREFIX.null.npz (the decomposition, the rotated phenotype, the null
estimates, the analysed samples and covariates), so that HPC chunk jobs
skip the kinship, the eigendecomposition and the null fit.  With several
variance components the file holds instead what their scan needs: the
Cholesky factor of V / sigma_e^2 with the whitened covariates and phenotype
(``vc_*`` arrays; :func:`save_vc_null`, :func:`load_vc_null`).  A missing,
corrupt or foreign file is a one-line data error.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass

import numpy as np

from .eigen import ExplicitBasis, Spectrum, fingerprint
from .errors import InputError
from .ids import positions, sample_keys
from .nullmodel.eigen_reml import EigenNullModel, NullFit
from .paths import eigen_path, null_path
from .samples import SampleSelection
from .writers import write_npz

EIGEN_KEYS = ("B", "d", "Wq", "R", "G", "C", "t", "n_zeroed", "min_eigenvalue", "fingerprint")
FIT_SCALARS = ("n", "c", "lam", "lam_ml", "logl_reml", "logl_ml", "logl_reml_h0", "sigma_e2",
               "sigma_g2", "h2", "h2_se", "lam_se", "p_h2")


def eigen_arrays(sp: Spectrum, basis) -> dict:
    """The decomposition as plain arrays (B formed from its factors if needed)."""
    return dict(B=basis.matrix(), d=sp.d, Wq=sp.Wq, R=sp.R, G=sp.G, C=sp.C,
                t=np.float64(sp.t), n_zeroed=np.int64(sp.n_zeroed),
                min_eigenvalue=np.float64(sp.min_eigenvalue), fingerprint=np.array(sp.fingerprint))


def eigen_from_arrays(z: dict):
    """Inverse of :func:`eigen_arrays`: (Spectrum, ExplicitBasis)."""
    sp = Spectrum(d=z["d"], Wq=z["Wq"], R=z["R"], G=z["G"], C=z["C"], t=float(z["t"]),
                  n_zeroed=int(z["n_zeroed"]), min_eigenvalue=float(z["min_eigenvalue"]),
                  seconds=0.0, fingerprint=str(z["fingerprint"]))
    return sp, ExplicitBasis(z["B"])


def read_npz(path: str, what: str, keys) -> dict:
    """All arrays of an .npz written by gwaslmm; InputError if it is missing,
    unreadable or lacks one of ``keys``."""
    if not os.path.exists(path):
        raise InputError(f"{what} file not found: {path}")
    try:
        with np.load(path, allow_pickle=False) as npz:
            z = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        why = ("it holds pickled objects, which gwaslmm never writes or loads"
               if "pickle" in str(exc) else str(exc))
        raise InputError(f"{path} is not a readable {what} file ({why})") from None
    missing = [k for k in keys if k not in z]
    if missing:
        raise InputError(f"{path} is not a {what} file written by this gwaslmm (no "
                         f"'{missing[0]}' array)")
    return z


def save_eigen(path: str, sp: Spectrum, basis, fid, iid, covar_names) -> str:
    """OUT.eigen.npz: plain arrays plus sample IDs and covariate names."""
    return write_npz(path, dict(**eigen_arrays(sp, basis), fid=np.asarray(fid, str),
                                iid=np.asarray(iid, str),
                                covar_names=np.asarray(covar_names, str)))


def load_eigen(prefix: str, fid, iid, W: np.ndarray):
    """Load PREFIX.eigen.npz and check it is for these samples and covariates:
    (Spectrum, ExplicitBasis)."""
    path = eigen_path(prefix)
    z = read_npz(path, "eigendecomposition", EIGEN_KEYS + ("fid", "iid", "covar_names"))
    sf, si = z["fid"], z["iid"]
    fid, iid = np.asarray(fid, str), np.asarray(iid, str)
    if sf.size != fid.size or not (np.array_equal(sf, fid) and np.array_equal(si, iid)):
        bad = next((k for k in range(min(sf.size, fid.size))
                    if sf[k] != fid[k] or si[k] != iid[k]), min(sf.size, fid.size))
        first = (f"sample {bad + 1}: {sf[bad]} {si[bad]} in the file vs {fid[bad]} {iid[bad]} "
                 f"analysed" if bad < min(sf.size, fid.size) else "different sample counts")
        raise InputError(f"{path} is for {sf.size} samples but {fid.size} are analysed and "
                         f"they differ ({first}); recompute it with --save-eigen")
    if str(z["fingerprint"]) != fingerprint(None, W, sample_keys(fid, iid)):
        raise InputError(f"{path} was computed with other covariates ({', '.join(z['covar_names'])})"
                         f" or covariate values than this run; recompute it with --save-eigen")
    return eigen_from_arrays(z)


@dataclass(frozen=True)
class StoredNull:
    selection: SampleSelection
    model: EigenNullModel


def save_null(path: str, model: EigenNullModel, sel: SampleSelection, source) -> str:
    """A fitted null model with its analysed samples (``reml --save-null``)."""
    fit = model.fit
    return write_npz(path, dict(
        **eigen_arrays(model.spectrum, model.basis), yt=fit.yt, y=sel.y[:, 0], beta=fit.beta,
        beta_se=fit.beta_se, name=np.array(fit.name), where=np.array(fit.where),
        where_ml=np.array(fit.where_ml), fid=sel.fid, iid=sel.iid, W=sel.W,
        covar_names=np.array(sel.covar_names, dtype=str),
        bed_n=np.int64(source.samples.n), bed_m=np.int64(source.variants.m),
        **{k: np.float64(getattr(fit, k)) for k in FIT_SCALARS}))


def load_null(prefix: str, source) -> StoredNull:
    """A saved null model, its samples located in the genotype source."""
    path = null_path(prefix)
    if not os.path.exists(path):
        import glob

        from .paths import loco_null_pattern

        if glob.glob(loco_null_pattern(prefix)):
            raise InputError(f"null model file not found: {path}; {loco_null_pattern(prefix)} "
                             f"files exist (reml --loco --save-null): use them with --loco")
    z = read_npz(path, "null model", EIGEN_KEYS + FIT_SCALARS + (
        "yt", "y", "beta", "beta_se", "name", "where", "where_ml", "fid", "iid", "W",
        "covar_names"))
    sel = _stored_selection(path, z, source, str(z["name"]))
    sp, basis = eigen_from_arrays(z)
    sc = {k: float(z[k]) for k in FIT_SCALARS}
    sc["n"], sc["c"] = int(sc["n"]), int(sc["c"])
    fit = NullFit(name=str(z["name"]), beta=z["beta"], beta_se=z["beta_se"], where=str(z["where"]),
                  where_ml=str(z["where_ml"]), yt=z["yt"], **sc)
    return StoredNull(selection=sel, model=EigenNullModel(spectrum=sp, basis=basis, fit=fit))


VC_KEYS = ("vc_theta", "vc_se", "vc_names", "vc_kinds", "vc_boundary", "vc_logl", "vc_h2",
           "vc_h2_se", "L", "Q", "yw", "q", "y", "beta", "beta_se", "name", "fid", "iid", "W",
           "covar_names")


def null_kind(prefix: str) -> str:
    """'components' for a null model file with several variance components,
    'binary' for a binary trait's, else 'eigen' (also when the file is
    missing or unreadable: load_null then says so)."""
    kind = file_kind(null_path(prefix))
    return "eigen" if kind == "unreadable" else kind


def file_kind(path: str) -> str:
    """:func:`null_kind` of a null model file given by its path ('unreadable'
    where it cannot be opened: the loaders then say why)."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return ("components" if "vc_theta" in npz.files else
                    "binary" if "bin_tau" in npz.files else
                    "cg" if "cg_delta" in npz.files else "eigen")
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return "unreadable"


BIN_SCALARS = ("bin_tau", "bin_tau_se", "bin_t", "bin_psi", "bin_prevalence", "bin_iterations",
               "bin_boundary")
BIN_KEYS = BIN_SCALARS + ("L", "mu", "Y", "b", "y", "beta", "beta_se", "name", "fid", "iid",
                          "W", "covar_names")


def _check_stored(path: str, z: dict, want: dict, finite, counts: str, empty: bool) -> None:
    """One error line for a stored model whose arrays disagree in shape
    (``want``: name -> shape; ``counts`` says what the shapes were derived
    from; ``empty``: no samples or no masks) or hold non-finite values."""
    bad = next((k for k, shape in want.items() if z[k].shape != shape), None)
    if empty or bad is not None:
        raise InputError(f"{path} is inconsistent: '{bad or 'W'}' has shape "
                         f"{z[bad or 'W'].shape} for {counts} (a damaged or edited file?)")
    for k in finite:
        if not np.isfinite(z[k]).all():
            raise InputError(f"{path} is damaged: '{k}' holds non-finite values")


def save_binary_null(path: str, est, fit, sel: SampleSelection, y01: np.ndarray,
                     source) -> str:
    """A binary trait's logistic mixed model (``reml --binary --save-null``):
    the estimates, what the scan needs (Sigma's Cholesky factor L, the fitted
    probabilities mu, the working phenotype Y, the random-effect prediction
    b for Firth's offset) and the analysed samples."""
    return write_npz(path, dict(
        bin_tau=np.float64(est.tau), bin_tau_se=np.float64(est.tau_se), bin_t=np.float64(est.t),
        bin_psi=np.float64(est.psi),
        bin_prevalence=np.float64(np.nan if est.prevalence is None else est.prevalence),
        bin_iterations=np.int64(est.iterations), bin_boundary=np.bool_(est.boundary),
        L=fit.L, mu=fit.mu, Y=fit.Y, b=fit.b, y=y01, beta=est.beta, beta_se=est.beta_se,
        name=np.array(est.name), fid=sel.fid, iid=sel.iid, W=sel.W,
        covar_names=np.array(sel.covar_names, dtype=str),
        bed_n=np.int64(source.samples.n), bed_m=np.int64(source.variants.m)))


def load_binary_null(path: str, source) -> tuple:
    """(SampleSelection, dict of the stored arrays) of a binary trait's null
    model file, checked for shape and finiteness, its samples located in the
    genotype source."""
    z = read_npz(path, "null model", BIN_KEYS)
    n, c = z["W"].shape if z["W"].ndim == 2 else (-1, -1)
    want = {"L": (n, n), "mu": (n,), "Y": (n,), "b": (n,), "y": (n,), "fid": (n,),
            "iid": (n,), "beta": (c,), "beta_se": (c,)}
    _check_stored(path, z, want, ("L", "mu", "Y", "b", "y", "W", "bin_tau"),
                  f"{n} samples and {c} covariates", n < 1)
    if not ((z["mu"] > 0) & (z["mu"] < 1)).all() or not np.isin(z["y"], (0.0, 1.0)).all():
        raise InputError(f"{path} is damaged: fitted probabilities outside (0, 1) or a "
                         f"phenotype other than 0/1")
    if not (np.diag(z["L"]) > 0).all() or not float(z["bin_tau"]) >= 0:
        raise InputError(f"{path} is damaged: its Cholesky factor has a diagonal entry <= 0, "
                         f"or tau < 0")
    return _stored_selection(path, z, source, str(z["name"])), z


def save_vc_null(path: str, est, whitener, sel: SampleSelection, source) -> str:
    """A fitted several-component null model (``reml --save-null``): the
    estimates, the :class:`~gwaslmm.scan.fixed.Whitener` of V / sigma_e^2
    and the analysed samples."""
    fit = est.fit
    return write_npz(path, dict(
        vc_theta=fit.theta, vc_se=fit.se, vc_names=np.array(est.names, dtype=str),
        vc_kinds=np.array([t.kind for t in fit.terms], dtype=str), vc_boundary=fit.boundary,
        vc_logl=np.float64(fit.logl), vc_h2=np.float64(est.h2), vc_h2_se=np.float64(est.h2_se),
        L=whitener.L, Q=whitener.Q, yw=whitener.yw, q=np.float64(whitener.q), y=sel.y[:, 0],
        beta=fit.beta, beta_se=fit.beta_se, name=np.array(est.name), fid=sel.fid, iid=sel.iid,
        W=sel.W, covar_names=np.array(sel.covar_names, dtype=str),
        bed_n=np.int64(source.samples.n), bed_m=np.int64(source.variants.m)))


def load_vc_null(prefix: str, source) -> tuple:
    """(SampleSelection, dict of the stored arrays) of a several-component null
    model, its samples located in the genotype source."""
    path = null_path(prefix)
    z = read_npz(path, "null model", VC_KEYS)
    n, c = z["W"].shape if z["W"].ndim == 2 else (-1, -1)
    q = z["vc_theta"].size
    want = {"L": (n, n), "Q": (n, c), "yw": (n,), "y": (n,), "fid": (n,), "iid": (n,),
            "beta": (c,), "beta_se": (c,), "vc_se": (q,), "vc_names": (q,), "vc_kinds": (q,),
            "vc_boundary": (q,)}
    _check_stored(path, z, want, ("L", "Q", "yw", "y", "W", "vc_theta", "q"),
                  f"{n} samples, {c} covariates and {q} variance components", n < 1)
    return _stored_selection(path, z, source, str(z["name"])), z


CG_FIT = ("cg_delta", "cg_sigma_g2", "cg_sigma_e2", "cg_h2", "cg_h2_se", "cg_h2_se_mc",
          "cg_t", "cg_m", "cg_probes", "cg_boundary")
CG_KEYS = CG_FIT + ("cg_labels", "cg_each", "PY", "cg_q", "cg_gamma", "cg_gamma_se",
                    "cg_inv_top", "U", "cg_s", "cg_s_mask", "cg_rest", "cg_rest_mask",
                    "cg_variant_idx", "cg_variant_ids", "grm_type", "y", "beta", "beta_se",
                    "name", "fid", "iid", "W", "covar_names", "bed_n", "bed_m")


def save_cg_null(path: str, null, sel: SampleSelection, source, grm_type: str,
                 each: bool) -> str:
    """The CG engine's null model (``reml --engine cg --save-null``): per LOCO
    mask the Monte-Carlo REML estimates, P y, y'Py and the calibration; the
    leading eigenpairs; the packed kinship variants (indices, and a hash of
    their IDs) and the analysed samples."""
    import hashlib

    f = null.fits
    ids = source.variants.id[null.variant_idx]
    first = next((x for x in f if np.isfinite(x.beta).all()), f[0])
    d = null.deflation
    return write_npz(path, dict(
        cg_delta=np.array([x.delta for x in f]), cg_sigma_g2=np.array([x.sigma_g2 for x in f]),
        cg_sigma_e2=np.array([x.sigma_e2 for x in f]), cg_h2=np.array([x.h2 for x in f]),
        cg_h2_se=np.array([x.h2_se for x in f]), cg_h2_se_mc=np.array([x.h2_se_mc for x in f]),
        cg_t=np.array([x.t for x in f]), cg_m=np.array([x.m for x in f], dtype=np.int64),
        cg_probes=np.array([x.probes for x in f], dtype=np.int64),
        cg_boundary=np.array([x.boundary for x in f], dtype=str),
        cg_labels=np.array(["" if c is None else c for c in null.labels], dtype=str),
        cg_each=np.bool_(each), PY=np.column_stack([x.py for x in null.sols]),
        cg_q=np.array([x.q for x in null.sols]), cg_gamma=np.array([x.gamma for x in null.sols]),
        cg_gamma_se=np.array([x.gamma_se for x in null.sols]),
        cg_inv_top=np.array([x.inv_top for x in null.sols]), U=d.U, cg_s=d.s,
        cg_s_mask=d.s_mask, cg_rest=np.float64(d.rest), cg_rest_mask=d.rest_mask,
        cg_variant_idx=np.asarray(null.variant_idx, dtype=np.int64),
        cg_variant_ids=np.array(hashlib.sha256("\n".join(ids.tolist()).encode()).hexdigest()),
        grm_type=np.array(grm_type), y=sel.y[:, 0], beta=first.beta, beta_se=first.beta_se,
        name=np.array(first.name), fid=sel.fid, iid=sel.iid, W=sel.W,
        covar_names=np.array(sel.covar_names, dtype=str),
        bed_n=np.int64(source.samples.n), bed_m=np.int64(source.variants.m)))


def load_cg_null(path: str, source) -> tuple:
    """(SampleSelection, dict of the stored arrays) of a CG null model file,
    checked for shapes, finiteness and the genotype file's variants."""
    import hashlib

    z = read_npz(path, "null model", CG_KEYS)
    n, c = z["W"].shape if z["W"].ndim == 2 else (-1, -1)
    nm = z["cg_delta"].size
    k = z["cg_s"].size
    want = {"PY": (n, nm), "U": (n, k), "cg_inv_top": (nm, k), "y": (n,), "fid": (n,),
            "iid": (n,), "beta": (c,), "beta_se": (c,), "cg_labels": (nm,), "cg_q": (nm,),
            "cg_gamma": (nm,), **{key: (nm,) for key in CG_FIT}}
    _check_stored(path, z, want, ("PY", "U", "y", "W", "cg_delta", "cg_q", "cg_gamma",
                                  "cg_inv_top"),
                  f"{n} samples, {c} covariates and {nm} masks", n < 1 or nm < 1)
    if not ((z["cg_delta"] > 0).all() and (z["cg_gamma"] > 0).all() and (z["cg_q"] > 0).all()):
        raise InputError(f"{path} is damaged: a variance ratio, calibration factor or y'Py "
                         f"<= 0")
    idx = z["cg_variant_idx"]
    m = source.variants.m
    if idx.size == 0 or idx.min() < 0 or idx.max() >= m or int(z["bed_m"]) != m:
        raise InputError(f"{path} was fitted on a genotype file of {int(z['bed_m'])} variants; "
                         f"{source.variants.source} has {m}")
    ids = source.variants.id[idx]
    if hashlib.sha256("\n".join(ids.tolist()).encode()).hexdigest() != str(z["cg_variant_ids"]):
        raise InputError(f"{path}: the IDs of its {idx.size} kinship variants differ from those "
                         f"of {source.variants.source} (another genotype file?)")
    return _stored_selection(path, z, source, str(z["name"])), z


def _stored_selection(path: str, z: dict, source, name: str) -> SampleSelection:
    fid, iid = z["fid"], z["iid"]
    want = sample_keys(fid, iid)
    idx = positions(sample_keys(source.samples.fid, source.samples.iid), want)
    where = source.samples.source
    if (idx < 0).any():
        raise InputError(f"{path}: {int((idx < 0).sum())} of its {idx.size} samples are not in "
                         f"{where} (first: {want[idx < 0][0]})")
    if (np.diff(idx) <= 0).any():
        raise InputError(f"{path}: its samples are not in the order of {where}")
    return SampleSelection(idx=idx, fid=fid, iid=iid, y=z["y"].reshape(-1, 1),
                           pheno_names=[name], W=z["W"], covar_names=list(z["covar_names"]),
                           report=[])
