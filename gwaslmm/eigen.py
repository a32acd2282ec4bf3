"""One eigendecomposition of the kinship, in the basis the REML likelihood lives in.

K is first double-centred over the analysed samples (as GEMMA does; the
intercept is always a covariate, so this leaves REML untouched and makes
h2 = lam t / (lam t + 1) with t = tr(Kc)/n).  Let Wq (n x c) be an orthonormal
basis of the covariates (W = Wq R) and B (n x (n-c)) one of its orthogonal
complement.  We decompose the covariate-projected kinship

    P Kc P = B diag(d) B',     P = I - Wq Wq'

with LAPACK's divide-and-conquer solver (dsyevd via scipy).  In this basis
the REML likelihood of y with covariates W is an ordinary likelihood of
y~ = B'y with covariance sigma_e^2 diag(lam d + 1) and no covariates (the
error-contrast form of REML, Harville 1974; Lippert et al. 2011), so every
per-SNP evaluation costs O(n) whatever the number of covariates.  The
W-directions are kept through G = B' Kc Wq and C = Wq' Kc Wq, which give
the fixed effects, det V and the ML likelihood exactly.

``vectors=False`` (what ``assoc --fast`` uses) keeps B in factored form
instead: LAPACK's tridiagonal reduction M = H T H' (dsytrd; H a product of
Householder reflectors) and the eigenvectors S of the tridiagonal T by
divide and conquer (dstevd), so B = H S and B'y = S'(H'y) costs O(n^2) per
vector.  This
skips dsyevd's O(n^3) back-transformation; the fast scan never needs B
itself, only B'y and B'Kc Wq.  :meth:`FactoredBasis.matrix` forms B when
it is needed (saving, or an exact scan).

Eigenvalues below ``ZERO_EIGENVALUE`` (1e-10, GEMMA's threshold; this
includes the slightly negative ones that rounding gives a rank-deficient K)
are set to 0; how many, and the most negative value, are reported.

A decomposition is two values: the :class:`Spectrum` (eigenvalues and the
covariate blocks, O(n c) memory, all a null fit and the scans' likelihoods
need) and the basis B (O(n^2)): an :class:`ExplicitBasis` or a
:class:`FactoredBasis`.  Whoever needs B holds it; dropping it frees it.
Saving and loading are in :mod:`gwaslmm.store`.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field

import numpy as np

from .errors import InputError, NumericalError

ZERO_EIGENVALUE = 1e-10


@dataclass(frozen=True)
class Spectrum:
    """The basis-free part of a decomposition of the covariate-projected,
    double-centred kinship P Kc P = B diag(d) B'.

    d : ndarray (n-c,), float64 — eigenvalues, ascending, >= 0 (those below
        ZERO_EIGENVALUE set to 0; ``d_clipped`` holds their raw values, empty
        when loaded from a file).
    Wq : ndarray (n, c) orthonormal basis of W; R : (c, c) with W = Wq R.
    G : ndarray (n-c, c) = B' Kc Wq;  C : ndarray (c, c) = Wq' Kc Wq.
    t : tr(Kc)/n (GEMMA's trace_G), for h2.
    fingerprint : hash of the covariates and sample IDs (:func:`fingerprint`).
    """

    d: np.ndarray
    Wq: np.ndarray
    R: np.ndarray
    G: np.ndarray
    C: np.ndarray
    t: float
    n_zeroed: int
    min_eigenvalue: float
    seconds: float
    fingerprint: str
    d_clipped: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def n(self) -> int:
        return self.Wq.shape[0]

    @property
    def c(self) -> int:
        return self.Wq.shape[1]


@dataclass(frozen=True)
class ExplicitBasis:
    """B : ndarray (n, n-c), float64, C-order — orthonormal, B'W = 0."""

    B: np.ndarray

    def project(self, Y: np.ndarray) -> np.ndarray:
        """B'Y for Y (n,) or (n, k), float64."""
        return self.B.T @ Y

    def unproject(self, V: np.ndarray) -> np.ndarray:
        """B V for V (n-c,) or (n-c, k), float64."""
        return self.B @ V

    def matrix(self) -> np.ndarray:
        """B (n, n-c) float64, C-order (this object's own array, not a copy)."""
        return self.B

    def leading(self, k: int) -> np.ndarray:
        """The first k columns of B (n, k): those of the smallest eigenvalues."""
        return self.B[:, :k]


@dataclass(frozen=True)
class FactoredBasis:
    """B = H S with M = H T H' (dsytrd, lower) and T = S diag(vals) S'.

    refl : ndarray (n-1, n-1), float64, F-order — the reflectors of H as
    dormqr reads them (H = diag(1, Q) with Q from refl and tau).
    tau : ndarray (n-1,).  S : ndarray (n, n-c), float64 — eigenvectors of T
    for the non-covariate eigenvalues.
    """

    refl: np.ndarray
    tau: np.ndarray
    S: np.ndarray

    def _apply_h(self, Y: np.ndarray, trans: str) -> np.ndarray:
        """H Y (trans 'N') or H' Y (trans 'T') for Y (n,) or (n, k) float64."""
        from scipy.linalg.lapack import dormqr

        Y2 = np.array(Y, dtype=np.float64, order="F", ndmin=2, copy=True)
        if Y.ndim == 1:
            Y2 = Y2.T.copy(order="F")
        if Y2.shape[0] > 1 and self.tau.size:
            k = Y2.shape[1]
            out, _, info = dormqr("L", trans, self.refl, self.tau, Y2[1:], lwork=max(1, 64 * k),
                                  overwrite_c=1)
            if info != 0:
                raise NumericalError(f"applying the Householder reflectors failed (LAPACK "
                                     f"dormqr info {info})")
            Y2[1:] = out
        return Y2[:, 0] if Y.ndim == 1 else Y2

    def project(self, Y: np.ndarray) -> np.ndarray:
        """B'Y = S'(H'Y) for Y (n,) or (n, k): (n-c,) or (n-c, k), O(n^2 k)."""
        return self.S.T @ self._apply_h(Y, "T")

    def unproject(self, V: np.ndarray) -> np.ndarray:
        """B V = H (S V) for V (n-c,) or (n-c, k): (n,) or (n, k)."""
        return self._apply_h(self.S @ V, "N")

    def matrix(self) -> np.ndarray:
        """B = H S, a new (n, n-c) float64 C-order array (dormqr on S: 2 n^3 flops)."""
        return np.ascontiguousarray(self._apply_h(self.S, "N"))

    def leading(self, k: int) -> np.ndarray:
        """The first k columns of B (n, k)."""
        E = np.zeros((self.S.shape[1], k))
        E[np.arange(k), np.arange(k)] = 1.0
        return self.unproject(E)


def tridiagonal_eigh(M: np.ndarray):
    """Eigenvalues (ascending) and factored eigenvectors of a symmetric M
    (n, n) float64, F-order, overwritten.

    Returns vals (n,) float64 ascending; refl (n-1, n-1) float64 F-order (the
    Householder vectors, in M's memory) and tau (n-1,) with M = H T H',
    H = diag(1, Q(refl, tau)); S (n, n) float64 F-order, T = S diag(vals) S'.
    """
    from scipy.linalg.lapack import dstevd, dsytrd, dsytrd_lwork

    n = M.shape[0]
    lwork = int(dsytrd_lwork(n, lower=1)[0])
    A, diag, off, tau, info = dsytrd(M, lower=1, lwork=max(1, lwork), overwrite_a=1)
    if info != 0:
        raise NumericalError(f"tridiagonal reduction of the kinship failed (LAPACK dsytrd "
                             f"info {info})")
    # Divide and conquer on T (dstevd).  MRRR (dstemr) was tried: it fails
    # (info 22) on a rank-deficient kinship's large cluster of zero eigenvalues,
    # where divide and conquer deflates (benchmarks/micro.py, section 4).
    vals, S, info = dstevd(diag, off, compute_v=1)
    if info != 0:
        raise NumericalError(f"eigendecomposition of the tridiagonal kinship failed (LAPACK "
                             f"dstevd info {info})")
    return vals, _shift_reflectors(A), tau, S


def _shift_reflectors(A: np.ndarray) -> np.ndarray:
    """A[1:, :n-1] as an F-contiguous (n-1, n-1) array in A's own memory (no
    second n x n copy): column j moves from offset j n + 1 to j (n - 1),
    never forward, so copying columns in order is safe."""
    n = A.shape[0]
    if not A.flags.f_contiguous:
        return np.asfortranarray(A[1:, :n - 1])
    flat = A.reshape(-1, order="F")  # a view
    k = n - 1
    for j in range(k):
        flat[j * k:(j + 1) * k] = flat[j * n + 1:j * n + n]
    return flat[:k * k].reshape((k, k), order="F")


def double_centre(K: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Kc = (I - 11'/n) K (I - 11'/n), as a new array or into ``out`` (which
    may be K itself)."""
    r = K.mean(axis=1)
    g = r.mean()
    if out is None:
        return K - r[:, None] - r[None, :] + g
    np.subtract(K, r[:, None], out=out)
    out -= r[None, :]
    out += g
    return out


def fingerprint(K_shape, W: np.ndarray, sample_keys) -> str:
    """A short hash of the covariate matrix and sample IDs, stored with a
    saved decomposition so that reuse with other samples/covariates is caught."""
    h = hashlib.sha256()
    h.update(np.ascontiguousarray(np.round(W, 10)).tobytes())
    h.update("\n".join(map(str, sample_keys)).encode())
    return h.hexdigest()[:16]


def decompose(K: np.ndarray, W: np.ndarray, sample_keys=(), vectors: bool = True,
              overwrite_k: bool = False):
    """Eigendecompose P Kc P (see module docstring): (Spectrum, basis).

    K : ndarray (n, n), float64, symmetric kinship over the analysed samples.
    W : ndarray (n, c), float64, full column rank, intercept included.
    vectors : form B (dsyevd, an :class:`ExplicitBasis`) or keep it factored
        (dsytrd + dstevd, a :class:`FactoredBasis`).
    overwrite_k : use K's memory as the workspace (K is destroyed).
    """
    from scipy.linalg import eigh, qr

    n, c = W.shape
    if K.shape != (n, n):
        raise InputError(f"kinship is {K.shape[0]} x {K.shape[1]} but there are {n} samples")
    if not np.isfinite(K).all():
        raise InputError("kinship has non-finite entries")
    t0 = time.perf_counter()
    fp = fingerprint(K.shape, W, sample_keys)
    Kc = double_centre(K, out=K if overwrite_k else None)
    t = float(np.trace(Kc) / n)
    if not t > 0:
        raise NumericalError(f"kinship has no variance after centring (tr(Kc)/n = {t:g})")
    Wq, R = qr(W, mode="economic")
    KW = Kc @ Wq
    C = Wq.T @ KW
    # M = P Kc P + alpha Wq Wq': the c covariate directions get eigenvalue alpha,
    # below every eigenvalue of a positive semi-definite Kc, so eigh sorts them first.
    alpha = -max(1.0, 2.0 * t)
    M = Kc
    M -= Wq @ KW.T
    M -= KW @ Wq.T
    M += Wq @ ((C + alpha * np.eye(c)) @ Wq.T)
    if vectors:
        vals, vecs = eigh(M, overwrite_a=True, check_finite=False, driver="evd")
    else:
        # M is symmetric: a C-ordered M's transpose is an F-ordered view, no copy
        vals, refl, tau, vecs = tridiagonal_eigh(M.T if M.flags.c_contiguous
                                                 else np.asfortranarray(M))
    del M, Kc
    lead = vals[:c]
    if np.abs(lead - alpha).max() > 1e-6 * abs(alpha) or vals[c] < alpha / 2:
        raise NumericalError(
            f"kinship is far from positive semi-definite: eigenvalue {vals[c]:.4g} of the "
            f"covariate-projected kinship (expected >= about 0)")
    d = vals[c:].copy()
    min_eig = float(d.min())
    zero = d < ZERO_EIGENVALUE  # a prefix: d is ascending
    clipped = d[zero].copy()
    d[zero] = 0.0
    if vectors:
        basis = ExplicitBasis(np.ascontiguousarray(vecs[:, c:]))
    else:
        basis = FactoredBasis(refl=refl, tau=tau, S=np.asfortranarray(vecs[:, c:]))
    del vecs
    G = basis.project(KW)
    seconds = time.perf_counter() - t0
    spectrum = Spectrum(d=d, Wq=Wq, R=R, G=G, C=C, t=t, n_zeroed=int(zero.sum()),
                        min_eigenvalue=min_eig, seconds=seconds,
                        fingerprint=fp, d_clipped=clipped)
    return spectrum, basis


