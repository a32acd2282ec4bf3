"""Fixed-variance per-SNP tests (EMMAX, Kang et al. 2010; GCTA --mlma;
FaST-LMM single_snp): lam fixed at the null REML estimate, sigma_e^2
re-estimated per SNP, the Wald test (and the score test at the same lam).

:class:`WhitenedScanner` whitens each block with the Cholesky factor of the
fitted V (:class:`Whitener`), half the flops of rotating it by the
eigenvectors; :func:`fast_block` computes the same statistics on a rotated
block (the exact scanner's score test uses it).  Plain-numpy references:
:func:`fast_block_reference`, :func:`whitened_sums_reference`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..eigen import Spectrum
from ..nullmodel.eigen_reml import NullFit
from .base import BlockResult, Prepared, collinear, column_sumsq
from .designs import ADDITIVE
from .exact import ScanModel, scanner_setup
from .pvalues import neglog10_f1


def fast_block(model: ScanModel, Xt: np.ndarray) -> dict:
    """Fixed-lam Wald (and score at the same lam) for a rotated block Xt (n', m)
    (numba kernel for the weighted sums)."""
    from .kernels import fixed_lambda_sums

    w = 1.0 / (model.lam_reml * model.d + 1.0)
    Xt = np.asarray(Xt, dtype=np.float64)
    a = np.empty(Xt.shape[1])
    b = np.empty(Xt.shape[1])
    fixed_lambda_sums(w, model.yt, Xt, a, b)
    return _fixed_lambda_stats(model, w, a, b)


def fast_block_reference(model: ScanModel, Xt: np.ndarray) -> dict:
    """Plain-numpy :func:`fast_block`."""
    w = 1.0 / (model.lam_reml * model.d + 1.0)
    a = w @ (Xt * Xt)
    b = (w * model.yt) @ Xt
    return _fixed_lambda_stats(model, w, a, b)


WHITEN_CHUNK = 512  # columns of B per rank-k update when forming V


@dataclass(frozen=True)
class Whitener:
    """Cholesky whitening for the fixed-lam (fast) scan: half the flops of B'X.

    With lam fixed (EMMAX, Kang et al. 2010; GCTA-MLMA), every statistic needs
    only x'Px and x'Py where P = B diag(w) B' (w = 1/(lam d + 1)) is REML's
    projection V^-1 - V^-1 W (W'V^-1 W)^-1 W'V^-1 for any V with
    B'VB = diag(lam d + 1), factored V = L L'.  Then x'Px = |r|^2 with
    r = (I - Q Q') L^-1 x, Q an orthonormal basis of L^-1 W, and x'Py = r'yw
    with yw = L' P y (generalized least squares by whitening).  The triangular
    solve L^-1 X costs n^2 m flops against 2 n^2 m for the rotation B'X, at
    about the same BLAS rate (0.53 of the rotation's time at n = 4,000,
    benchmarks/micro.py section 4).

    L : ndarray (n, n), float64, F-order, lower triangular.
    Q : ndarray (n, c), float64, F-order.  yw : ndarray (n,), float64.
    q : y'Py, float64 (equals yw'yw).  seconds : time to build.
    """

    L: np.ndarray
    Q: np.ndarray
    yw: np.ndarray
    q: float
    seconds: float

    def whiten(self, X: np.ndarray, L32: np.ndarray | None = None) -> np.ndarray:
        """L^-1 X for X (n, m) float64; overwrites X when it is F-ordered.
        Returns (n, m) float64.

        With ``L32`` (L in float32, F-order) the solve runs in single
        precision: the columns are centred first (1 is a covariate, so P is
        unchanged) so that the solve does not carry their mean, whose
        cancellation costs accuracy at large lam (test: -log10 p within 1e-5
        of float64 at lam = 1e4)."""
        from scipy.linalg.blas import dtrsm, strsm

        if X.shape[1] == 0:
            return np.zeros(X.shape)
        if L32 is not None:
            Xc = np.empty(X.shape, dtype=np.float32, order="F")
            np.subtract(X, X.mean(axis=0), out=Xc, casting="same_kind")
            out = strsm(1.0, L32, Xc, lower=1, overwrite_b=1)
            return np.asarray(out, dtype=np.float64, order="F")
        return dtrsm(1.0, self.L, np.asfortranarray(X, dtype=np.float64), lower=1,
                     overwrite_b=1)


def make_whitener(eig: Spectrum, basis, model: ScanModel, K: np.ndarray | None = None,
                  overwrite_k: bool = False) -> Whitener:
    """Build L, Q and yw (see :class:`Whitener`) at the model's null REML lam.

    Both ways give V = lam B diag(d) B' + I exactly (covariate directions
    get 1), positive definite since d >= 0:
    * from the kinship K (n, n) float64 when given: V = lam (P Kc P -
      Bz diag(dz) Bz') + I with P = I - Wq Wq' and Bz, dz the eigenvectors and
      raw eigenvalues that :func:`decompose` set to 0, by rank-2k updates
      (O(n^2 (c + n_zeroed)), no n x n temporary).  ``overwrite_k``: K is not
      needed afterwards and becomes V, then L (no n x n copy);
    * without K (--null, --eigen): from B by rank-k updates over chunks of its
      columns (n^2 (n - c) flops).
    """
    import time

    from scipy.linalg import qr
    from scipy.linalg.blas import dsyr2k, dsyrk, dtrsm
    from scipy.linalg.lapack import dpotrf

    from ..eigen import double_centre
    from ..errors import NumericalError

    t0 = time.perf_counter()
    lam = float(model.lam_reml)
    d = eig.d
    n = eig.n
    w = 1.0 / (lam * d + 1.0)
    Py = basis.unproject(w * model.yt)  # P y, (n,)
    if K is not None:
        V = double_centre(K, out=K if overwrite_k else None)
        V = V.T if V.flags.c_contiguous else np.asfortranarray(V)  # symmetric: F view
        Wq = np.asfortranarray(eig.Wq)
        KW = V @ Wq
        C = Wq.T @ KW
        # lower triangle: V <- P Kc P = Kc - Wq KW' - KW Wq' + Wq C Wq'
        V = dsyr2k(-1.0, Wq, np.asfortranarray(KW), beta=1.0, c=V, lower=1, overwrite_c=1)
        V = dsyr2k(1.0, np.asfortranarray(Wq @ (C / 2)), Wq, beta=1.0, c=V, lower=1,
                   overwrite_c=1)
        if eig.d_clipped.size:  # V <- V - Bz diag(dz) Bz'
            Bz = np.asfortranarray(basis.leading(eig.d_clipped.size))
            V = dsyr2k(-0.5, np.asfortranarray(Bz * eig.d_clipped), Bz, beta=1.0, c=V,
                       lower=1, overwrite_c=1)
        V *= lam
    else:
        B = basis.matrix()
        V = np.zeros((n, n), order="F")
        for a in range(0, d.size, WHITEN_CHUNK):
            F = B[:, a:a + WHITEN_CHUNK] * np.sqrt(lam * d[a:a + WHITEN_CHUNK])
            V = dsyrk(1.0, np.asfortranarray(F), beta=1.0, c=V, trans=0, lower=1,
                      overwrite_c=1)
    V[np.diag_indices(n)] += 1.0
    L, info = dpotrf(V, lower=1, clean=1, overwrite_a=1)
    del V
    if info != 0:
        raise NumericalError(f"Cholesky factor of lam K + I failed (LAPACK info {info}, "
                             f"lam = {lam:.6g})")
    Lw = dtrsm(1.0, L, np.asfortranarray(eig.Wq), lower=1)
    Q = np.asfortranarray(qr(Lw, mode="economic")[0])
    yw = L.T @ Py
    q = float(np.dot(w, model.yt * model.yt))
    return Whitener(L=L, Q=Q, yw=yw, q=q, seconds=time.perf_counter() - t0)


def whitened_sums_reference(wh: Whitener, Xw: np.ndarray):
    """Plain-numpy :func:`gwaslmm.scan_kernels.whitened_sums`: (a, b) each (m,)."""
    R = Xw - wh.Q @ (wh.Q.T @ Xw)
    return np.einsum("ij,ij->j", R, R), wh.yw @ R


def whitened_block(model: ScanModel, wh: Whitener, Xw: np.ndarray) -> dict:
    """Fixed-lam Wald and score for a whitened block Xw = L^-1 X (n, m): the
    same statistics as :func:`fast_block` on B'X (numba kernel)."""
    from .kernels import whitened_sums

    Xw = np.asarray(Xw, dtype=np.float64)
    a = np.empty(Xw.shape[1])
    b = np.empty(Xw.shape[1])
    whitened_sums(wh.Q, wh.yw, Xw, a, b)
    w = 1.0 / (model.lam_reml * model.d + 1.0)
    return _fixed_lambda_stats(model, w, a, b)


def _fixed_lambda_stats(model: ScanModel, w, a, b) -> dict:
    return fixed_variance_stats(float(np.dot(w, model.yt * model.yt)), model.df, model.n, a, b)


def fixed_variance_stats(q: float, df: int, n: int, a: np.ndarray, b: np.ndarray) -> dict:
    """Wald and score statistics with the variance ratios fixed and the scale
    re-estimated per SNP, from q = y'Py and per SNP a = x'Px, b = x'Py
    (each (m,) float64; P REML's projection of the null covariance H)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        Q1 = q - b * b / a
        tau = df / Q1
        beta = b / a
        se = np.sqrt(1.0 / (tau * a))
        F = beta * beta / (se * se)
        score = n * b * b / (q * a)
    return dict(beta=beta, se=se, F_wald=F, F_score=score)


COLUMNS = {"wald": ("t_stat",), "score": ("t_stat", "f_score")}


class Whitening:
    """What a fixed-lam scanner holds: the covariates' basis Wq, the
    :class:`Whitener` of the null model (built from the kinship when given,
    which is then overwritten) and, with ``precision='float32'``, a float32
    copy of L."""

    def __init__(self, spectrum: Spectrum, basis, model: ScanModel, kinship=None,
                 precision: str = "float64"):
        self.Wq = spectrum.Wq
        self.whitener = make_whitener(spectrum, basis, model, kinship,
                                      overwrite_k=kinship is not None)
        n = spectrum.n
        self.L32 = (np.asfortranarray(self.whitener.L, dtype=np.float32)
                    if np.dtype(precision) == np.float32 else None)
        self.nbytes = 8 * n * n + (4 * n * n if self.L32 is not None else 0)

    def whiten(self, X: np.ndarray) -> np.ndarray:
        return self.whitener.whiten(X, self.L32)


class WhitenedScanner:
    """Fixed-lam tests on whitened SNPs, L^-1 x (:class:`~gwaslmm.scan.base.Scanner`).

    Holds the Cholesky factor L (n x n float64; plus a float32 copy with
    ``precision='float32'``), an orthonormal basis of the whitened
    covariates and the whitened phenotype.  Built from the kinship K when
    the run has it (O(n^2 c); ``K`` is then overwritten), else from the
    null model's basis.
    """

    def __init__(self, spectrum: Spectrum, basis, fit: NullFit, test: str, design=ADDITIVE,
                 precision: str = "float64", kinship: np.ndarray | None = None):
        self.model = scanner_setup(self, spectrum, fit, "fast", test, design, COLUMNS)
        self.whitening = Whitening(spectrum, basis, self.model, kinship, precision)
        self.Wq, self.whitener = self.whitening.Wq, self.whitening.whitener
        self.stages = {"cholesky": self.whitener.seconds}
        self.reserved_bytes = self.whitening.nbytes

    def prepare(self, X: np.ndarray) -> Prepared:
        (X,) = self.design.columns(X)
        raw = column_sumsq(X)
        # |B'x|^2 = |x|^2 - |Wq'x|^2, for the collinearity rule
        wx = self.Wq.T @ X
        sxx = raw - column_sumsq(wx)
        Xt = self.whitening.whiten(X)  # L^-1 X, in place for float64
        keep = ~collinear(raw, sxx)
        return Prepared(Xt=Xt[:, keep] if not keep.all() else Xt, keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        st = whitened_block(self.model, self.whitener, prep.Xt)
        return block_result(prep, st, self.model.df, self.test_name)


def block_result(prep: Prepared, st: dict, df: int, test_name: str) -> BlockResult:
    """The BlockResult of fixed-variance statistics (:func:`fixed_variance_stats`)."""
    nl_wald = neglog10_f1(st["F_wald"], df)
    score = test_name == "score"
    nl_score = neglog10_f1(st["F_score"], df) if score else None
    with np.errstate(invalid="ignore", divide="ignore"):
        t = st["beta"] / st["se"]
    return BlockResult(keep=prep.keep, beta=st["beta"], se=st["se"], t_stat=t,
                       neglog10_p=nl_score if score else nl_wald, neglog10_p_wald=nl_wald,
                       neglog10_p_score=nl_score, f_score=st["F_score"] if score else None)


def whitener_of(H: np.ndarray, W: np.ndarray, y: np.ndarray, overwrite: bool = False) -> Whitener:
    """The :class:`Whitener` of any null covariance H (n, n) float64 (up to
    scale; several variance components: H = V / sigma_e^2), covariates W
    (n, c) and phenotype y (n,): L = chol(H), Q = an orthonormal basis of
    L^-1 W, yw = (I - QQ') L^-1 y, q = |yw|^2 = y'Py."""
    import time

    from scipy.linalg import qr
    from scipy.linalg.blas import dtrsm
    from scipy.linalg.lapack import dpotrf

    from ..errors import NumericalError

    t0 = time.perf_counter()
    L, info = dpotrf(np.asfortranarray(H), lower=1, clean=1, overwrite_a=int(overwrite))
    if info != 0:
        raise NumericalError(f"the null covariance is not positive definite (Cholesky: LAPACK "
                             f"info {info})")
    Q = np.asfortranarray(qr(dtrsm(1.0, L, np.asfortranarray(W, dtype=np.float64), lower=1),
                             mode="economic")[0])
    ly = dtrsm(1.0, L, np.asfortranarray(y, dtype=np.float64).reshape(-1, 1), lower=1)[:, 0]
    yw = ly - Q @ (Q.T @ ly)
    return Whitener(L=L, Q=Q, yw=yw, q=float(yw @ yw), seconds=time.perf_counter() - t0)


class CovarianceScanner:
    """Fixed-variance tests against any fitted null covariance (several
    variance components: V = sum_k theta_k A_k + sigma_e^2 I, the ratios
    fixed at the null REML estimates, the scale re-estimated per SNP as
    GCTA --mlma does), by whitening with the Cholesky factor of H = V /
    sigma_e^2 (:class:`~gwaslmm.scan.base.Scanner`; additive design only).

    whitener: the :class:`Whitener` of H (:func:`whitener_of`, or as saved
    with the null model); W (n, c) the covariates."""

    def __init__(self, whitener: Whitener, W: np.ndarray, test: str,
                 precision: str = "float64"):
        from scipy.linalg import qr

        self.test_name, self.design = test, ADDITIVE
        self.label, self.columns = f"fast {test}", COLUMNS[test]
        self.n, self.c = W.shape
        self.df = self.n - self.c - 1
        self.Wq = qr(W, mode="economic")[0]
        self.whitener = whitener
        self.L32 = (np.asfortranarray(self.whitener.L, dtype=np.float32)
                    if np.dtype(precision) == np.float32 else None)
        self.stages = {"cholesky": self.whitener.seconds}
        self.reserved_bytes = 8 * self.n * self.n + (4 * self.n * self.n if self.L32 is not None
                                                     else 0)

    def prepare(self, X: np.ndarray) -> Prepared:
        (X,) = self.design.columns(X)
        raw = column_sumsq(X)
        sxx = raw - column_sumsq(self.Wq.T @ X)
        Xt = self.whitener.whiten(X, self.L32)
        keep = ~collinear(raw, sxx)
        return Prepared(Xt=Xt[:, keep] if not keep.all() else Xt, keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        from .kernels import whitened_sums

        Xw = np.asarray(prep.Xt, dtype=np.float64)
        a = np.empty(Xw.shape[1])
        b = np.empty(Xw.shape[1])
        whitened_sums(self.whitener.Q, self.whitener.yw, Xw, a, b)
        st = fixed_variance_stats(self.whitener.q, self.df, self.n, a, b)
        return block_result(prep, st, self.df, self.test_name)


class RotatedFastScanner:
    """The fixed-lambda tests (as :class:`WhitenedScanner`) on SNPs rotated by
    the eigenvectors, B'x: twice the flops of whitening for one phenotype,
    but the rotation does not depend on lambda, so many phenotypes share it
    (``assoc`` with several phenotypes; :func:`fast_block`).  ``rotator``: a
    :class:`~gwaslmm.scan.exact.Rotator` shared with the other phenotypes'
    scanners (one B and its float32 copy in memory)."""

    def __init__(self, spectrum: Spectrum, basis, fit: NullFit, test: str,
                 precision: str = "float64", rotator=None):
        from .exact import Rotator

        self.model = scanner_setup(self, spectrum, fit, "fast", test, ADDITIVE, COLUMNS)
        self.rotator = rotator if rotator is not None else Rotator(basis, precision)
        self.stages = {}
        self.reserved_bytes = self.rotator.nbytes

    def prepare(self, X: np.ndarray) -> Prepared:
        (X,) = self.design.columns(X)
        raw = column_sumsq(X)
        Xt = self.rotator.rotate(X)
        keep = ~collinear(raw, column_sumsq(Xt))
        return Prepared(Xt=Xt[:, keep] if not keep.all() else Xt, keep=keep)

    def test(self, prep: Prepared) -> BlockResult:
        return block_result(prep, fast_block(self.model, prep.Xt), self.model.df, self.test_name)
