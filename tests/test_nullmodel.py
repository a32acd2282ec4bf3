"""Null model: rotated likelihoods against dense brute force, optimum against
scipy, and h2 recovery on simulated data."""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar
from scipy.stats import multivariate_normal

from conftest import small_problem
from gwaslmm.eigen import decompose, double_centre
from gwaslmm.likelihood import ml_null, reml_null
from gwaslmm.nullmodel.eigen_reml import fit_null


def dense_logliks(lam, K, W, y):
    """Dense O(n^3) REML and ML log-likelihoods with GEMMA's constants, and the
    ML one again from scipy's multivariate normal at the ML variance."""
    n, c = W.shape
    Kc = double_centre(K)
    V = lam * Kc + np.eye(n)
    Vi = np.linalg.inv(V)
    A = W.T @ Vi @ W
    beta = np.linalg.solve(A, W.T @ Vi @ y)
    P = Vi - Vi @ W @ np.linalg.solve(A, W.T @ Vi)
    Q = y @ P @ y
    df = n - c
    ld = np.linalg.slogdet(V)[1]
    reml = (df / 2 * (np.log(df) - np.log(2 * np.pi) - 1) - 0.5 * ld - 0.5 * np.linalg.slogdet(A)[1]
            + 0.5 * np.linalg.slogdet(W.T @ W)[1] - df / 2 * np.log(Q))
    ml = n / 2 * (np.log(n) - np.log(2 * np.pi) - 1) - 0.5 * ld - n / 2 * np.log(Q)
    mvn = multivariate_normal(W @ beta, Q / n * V).logpdf(y)
    return reml, ml, mvn, beta, A, Q


@pytest.mark.parametrize("seed", [1, 2])
def test_rotated_likelihood_equals_dense(seed):
    # Tolerance 1e-8: both sides are exact formulas in float64 on n = 40.
    K, W, y, _ = small_problem(n=40, m=100, c=3, seed=seed)
    eig, basis = decompose(K, W)
    yt = basis.B.T @ y
    for lam in [1e-3, 0.2, 1.0, 7.5, 300.0]:
        reml, ml, mvn, *_ = dense_logliks(lam, K, W, y)
        assert reml_null(lam, eig.d, yt)[0] == pytest.approx(reml, abs=1e-8)
        assert ml_null(lam, eig, yt)[0] == pytest.approx(ml, abs=1e-8)
        assert ml == pytest.approx(mvn, abs=1e-8)  # the constant is the Gaussian density's


@pytest.mark.parametrize("n,m", [(40, 100), (60, 30)])  # full rank; rank-deficient K
def test_factored_decomposition_equals_full(n, m):
    """vectors=False (tridiagonal + divide and conquer, B kept as H S) describes the same
    decomposition as dsyevd: eigenvalues, the projector B B', P Kc P, B'Y, and
    every null-model estimate to 1e-10 (eigenvectors may differ in sign, or
    by a rotation within a repeated eigenvalue, so compare invariants)."""
    K, W, y, _ = small_problem(n=n, m=m, c=3, seed=n + m)
    from gwaslmm.eigen import ExplicitBasis, FactoredBasis

    (full, fb), (fac, fcb) = decompose(K, W), decompose(K, W, vectors=False)
    assert isinstance(fb, ExplicitBasis) and isinstance(fcb, FactoredBasis)
    assert np.allclose(fac.d, full.d, rtol=0, atol=1e-10 * full.d.max())
    Bf = fcb.matrix()
    B = fb.matrix()
    assert Bf is not fcb.matrix()  # formed anew each time: nothing cached on the value
    assert np.allclose(Bf.T @ Bf, np.eye(n - 3), atol=1e-12)
    assert np.allclose(Bf @ Bf.T, B @ B.T, atol=1e-12)
    assert np.allclose((Bf * fac.d) @ Bf.T, (B * full.d) @ B.T, atol=1e-12)
    Y = np.column_stack([y, W[:, 1]])
    assert np.allclose(fcb.project(Y), Bf.T @ Y, atol=1e-12)
    assert np.allclose(fcb.unproject(fcb.project(Y)), Bf @ (Bf.T @ Y), atol=1e-12)
    assert np.allclose(fac.G, Bf.T @ double_centre(K) @ fac.Wq, atol=1e-12)
    assert np.allclose(fcb.leading(4), Bf[:, :4], atol=1e-12)
    a, b = fit_null(full, fb, y), fit_null(fac, fcb, y)
    for k in ("lam", "h2", "h2_se", "logl_reml", "logl_ml", "lam_ml", "sigma_g2", "sigma_e2"):
        assert getattr(b, k) == pytest.approx(getattr(a, k), rel=1e-10), k
    assert np.allclose(b.beta, a.beta, rtol=1e-10, atol=1e-12)
    assert fac.n == n and fac.c == 3


def test_derivatives_match_finite_differences():
    K, W, y, _ = small_problem(n=50, m=120, c=4, seed=3)
    eig, basis = decompose(K, W)
    yt = basis.B.T @ y
    for lam in [0.05, 1.3, 40.0]:
        h = 1e-5 * lam
        for f in (lambda x: reml_null(x, eig.d, yt), lambda x: ml_null(x, eig, yt)):
            l0, d1, d2 = f(lam)
            fd1 = (f(lam + h)[0] - f(lam - h)[0]) / (2 * h)
            fd2 = (f(lam + h)[1] - f(lam - h)[1]) / (2 * h)
            assert d1 == pytest.approx(fd1, rel=1e-5, abs=1e-7)
            assert d2 == pytest.approx(fd2, rel=1e-5, abs=1e-7)


def test_optimum_equals_scipy_on_dense_objective():
    K, W, y, _ = small_problem(n=80, m=300, c=3, seed=4, h=0.6)
    fit = fit_null(*decompose(K, W), y)
    assert fit.where == "interior"
    o = minimize_scalar(lambda t: -dense_logliks(np.exp(t), K, W, y)[0], bounds=(np.log(1e-5),
                        np.log(1e5)), method="bounded", options=dict(xatol=1e-10))
    # scipy's bounded Brent stops at xatol in log lam: 1e-6 relative is its accuracy.
    assert fit.lam == pytest.approx(np.exp(o.x), rel=1e-6)
    assert fit.logl_reml == pytest.approx(-o.fun, abs=1e-9)
    # Fixed effects and their standard errors against dense GLS at the REML lam.
    reml, ml, mvn, beta, A, Q = dense_logliks(fit.lam, K, W, y)
    assert np.allclose(fit.beta, beta, rtol=1e-9, atol=1e-12)
    se = np.sqrt(np.diag(np.linalg.inv(A)) * Q / (W.shape[0] - W.shape[1]))
    assert np.allclose(fit.beta_se, se, rtol=1e-9)
    # ML optimum
    o = minimize_scalar(lambda t: -dense_logliks(np.exp(t), K, W, y)[1], bounds=(np.log(1e-5),
                        np.log(1e5)), method="bounded", options=dict(xatol=1e-10))
    if fit.where_ml == "interior":
        assert fit.lam_ml == pytest.approx(np.exp(o.x), rel=1e-6)
    # Ours may sit slightly higher than scipy's (which stops at its xatol), never lower.
    assert -o.fun - 1e-9 <= fit.logl_ml <= -o.fun + 1e-6


def test_h2_unbiased_over_simulations():
    """Simulated truth: phenotypes y = g + e with g ~ N(0, h2 Kc), 40 replicates
    on one kinship (n = 400).  The mean estimate must be within 3 standard
    errors of the mean of the truth (the SE of the mean is sd(h2_hat)/sqrt(40)),
    and the reported se(h2) must match the spread of the estimates within 35%."""
    rng = np.random.default_rng(2024)
    n, m = 400, 2000
    p = rng.uniform(0.05, 0.5, m)
    X = rng.binomial(2, p, (n, m)).astype(float)
    Z = (X - 2 * p) / np.sqrt(2 * p * (1 - p))
    K = Z @ Z.T / m
    W = np.column_stack([np.ones(n), rng.normal(size=n)])
    eig = decompose(K, W)
    Kc = double_centre(K)
    t = np.trace(Kc) / n
    L = np.linalg.cholesky(Kc + 1e-8 * np.eye(n))
    h2_true = 0.5
    est, ses = [], []
    for _ in range(40):
        g = L @ rng.normal(size=n) * np.sqrt(h2_true / t)
        e = rng.normal(size=n) * np.sqrt(1 - h2_true)
        y = W @ [1.0, 0.3] + g + e
        fit = fit_null(*eig, y)
        est.append(fit.h2)
        ses.append(fit.h2_se)
    est = np.array(est)
    se_mean = est.std(ddof=1) / np.sqrt(est.size)
    assert abs(est.mean() - h2_true) < 3 * se_mean
    assert np.mean(ses) == pytest.approx(est.std(ddof=1), rel=0.35)


@pytest.mark.parametrize("n", [1, 2, 5, 50])
def test_reflectors_shift_in_place(n):
    """The factored decomposition keeps dsytrd's reflectors A[1:, :n-1] in A's
    own memory (no second n x n copy), F-contiguous for LAPACK's dormqr."""
    from gwaslmm.eigen import _shift_reflectors

    A = np.asfortranarray(np.random.default_rng(n).standard_normal((n, n)))
    want = A[1:, :n - 1].copy()
    got = _shift_reflectors(A)
    assert np.array_equal(got, want) and got.flags.f_contiguous
    assert n < 2 or np.shares_memory(got, A)
    C = np.ascontiguousarray(np.random.default_rng(n + 1).standard_normal((n, n)))
    if n > 2:  # a C-ordered array is copied instead
        want = C[1:, :n - 1].copy()
        got = _shift_reflectors(C)
        assert np.array_equal(got, want) and got.flags.f_contiguous
