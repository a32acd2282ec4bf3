"""Per-SNP tests: numba kernel vs numpy reference, exact and fast modes vs
dense brute force, far-tail p-values."""

import numpy as np
import pytest
from scipy import stats
from scipy.optimize import minimize_scalar

from conftest import small_problem
from gwaslmm.eigen import decompose, double_centre
from gwaslmm.methods import method_for
from gwaslmm.nullmodel.eigen_reml import EigenNullModel, fit_null
from gwaslmm.scan.exact import exact_block, exact_reference, make_model
from gwaslmm.scan.fixed import fast_block, make_whitener, whitened_block
from gwaslmm.scan.pvalues import neglog10_chi2_1, neglog10_f1


class Eig:
    """A decomposition's two values side by side, for the tests."""

    def __init__(self, K, W, vectors=True):
        self.sp, self.basis = decompose(K, W, vectors=vectors)

    def rotate(self, X):
        return self.basis.project(X)


@pytest.fixture(scope="module")
def problem():
    K, W, y, X = small_problem(n=70, m=150, c=3, seed=5, h=0.5)
    y = y + 0.8 * (X[:, 0] - X[:, 0].mean())  # one real signal
    eig = Eig(K, W)
    null = fit_null(eig.sp, eig.basis, y)
    return K, W, y, X, eig, null, make_model(eig.sp, null)


def test_kernel_equals_reference(problem):
    # Same formulas and optimizer in numba and numpy: 1e-9 relative covers the
    # different summation order.
    *_, X, eig, null, model = problem
    Xt = eig.rotate(X[:, :12])
    got = exact_block(model, Xt, "all")
    ref = exact_reference(model, Xt, "all")
    for k in ref:
        assert np.allclose(got[k], ref[k], rtol=1e-9, atol=1e-12), k


def test_snp_grid_sums_equal_matrix_products(problem):
    """The exact kernel's per-SNP lam-grid sums (gwaslmm.scan.kernels.snp_grid_sums)
    against their numpy reference by matrix products (grid_sums)."""
    from gwaslmm.scan.exact import grid_sums, grid_weights
    from gwaslmm.scan.kernels import snp_grid_sums

    *_, X, eig, null, model = problem
    Xt = np.asfortranarray(eig.rotate(X[:, :20]))
    W2, _ = grid_weights(model, True)
    want = grid_sums(model, Xt)
    scratch = np.empty((2, Xt.shape[0]))
    for s in range(Xt.shape[1]):
        got = np.empty((2, W2.shape[0]))
        snp_grid_sums(W2, np.ascontiguousarray(Xt[:, s]), model.yt, scratch[0], scratch[1], got)
        assert np.allclose(got, want[s], rtol=1e-12, atol=1e-12 * np.abs(want[s]).max())


def dense_fit(lam, Kc, X, y):
    n = X.shape[0]
    V = lam * Kc + np.eye(n)
    Vi = np.linalg.inv(V)
    A = X.T @ Vi @ X
    b = np.linalg.solve(A, X.T @ Vi @ y)
    r = y - X @ b
    df = n - X.shape[1]
    s2 = r @ Vi @ r / df
    se = np.sqrt(np.diag(np.linalg.inv(A)) * s2)
    P = Vi - Vi @ X @ np.linalg.solve(A, X.T @ Vi)
    Q = y @ P @ y
    reml = (df / 2 * (np.log(df) - np.log(2 * np.pi) - 1) - 0.5 * np.linalg.slogdet(V)[1]
            - 0.5 * np.linalg.slogdet(A)[1] + 0.5 * np.linalg.slogdet(X.T @ X)[1]
            - df / 2 * np.log(Q))
    ml = n / 2 * (np.log(n) - np.log(2 * np.pi) - 1) - 0.5 * np.linalg.slogdet(V)[1] - n / 2 * np.log(Q)
    return b, se, reml, ml


def fast_results(path, K, W, y, eig, model, X):
    if path == "contrast":  # B'X in the eigenbasis
        return fast_block(model, eig.rotate(X))
    if path == "factored":  # what assoc --fast runs: B kept as H S, L from K
        eig = Eig(K, W, vectors=False)
        model = make_model(eig.sp, fit_null(eig.sp, eig.basis, y))
        wh = make_whitener(eig.sp, eig.basis, model, K)
        return whitened_block(model, wh, wh.whiten(np.asfortranarray(X)))
    # L^-1 X, what assoc --fast runs: L from K, or from B and d (--null, LOCO)
    wh = make_whitener(eig.sp, eig.basis, model, K if path == "whitened-K" else None)
    return whitened_block(model, wh, wh.whiten(np.asfortranarray(X)))


@pytest.mark.parametrize("path", ["whitened-K", "whitened-B", "factored", "contrast"])
def test_fast_mode_equals_dense_gls(problem, path):
    """Brute force: GLS with V = lam0 Kc + I, per SNP; 1e-8 relative."""
    K, W, y, X, eig, null, model = problem
    Kc = double_centre(K)
    res = fast_results(path, K, W, y, eig, model, X[:, :20].copy())
    nl_wald = neglog10_f1(res["F_wald"], model.df)
    for j in range(20):
        Xf = np.column_stack([W, X[:, j]])
        b, se, *_ = dense_fit(null.lam, Kc, Xf, y)
        assert res["beta"][j] == pytest.approx(b[-1], rel=1e-8, abs=1e-12)
        assert res["se"][j] == pytest.approx(se[-1], rel=1e-8)
        p = stats.f.sf((b[-1] / se[-1]) ** 2, 1, len(y) - W.shape[1] - 1)
        assert nl_wald[j] == pytest.approx(-np.log10(p), rel=1e-8)


def test_exact_mode_equals_dense_optimum(problem):
    """The per-SNP REML/ML lam maximizes the dense likelihood (checked against
    scipy's bounded Brent at 1e-6 relative, its own accuracy), and beta/se at
    that lam equal dense GLS to 1e-8."""
    K, W, y, X, eig, null, model = problem
    Kc = double_centre(K)
    res = exact_block(model, eig.rotate(X[:, :4]), "all")
    for j in range(4):
        Xf = np.column_stack([W, X[:, j]])
        o = minimize_scalar(lambda t: -dense_fit(np.exp(t), Kc, Xf, y)[2],
                            bounds=(np.log(1e-5), np.log(1e5)), method="bounded",
                            options=dict(xatol=1e-9))
        if res["where_remle"][j] == 0:
            assert res["lam_remle"][j] == pytest.approx(np.exp(o.x), rel=1e-5)
        assert res["logl_remle"][j] == pytest.approx(-o.fun, abs=1e-8)
        b, se, reml, _ = dense_fit(res["lam_remle"][j], Kc, Xf, y)
        assert res["beta"][j] == pytest.approx(b[-1], rel=1e-8)
        assert res["se"][j] == pytest.approx(se[-1], rel=1e-8)
        assert res["logl_remle"][j] == pytest.approx(reml, abs=1e-8)
        o = minimize_scalar(lambda t: -dense_fit(np.exp(t), Kc, Xf, y)[3],
                            bounds=(np.log(1e-5), np.log(1e5)), method="bounded",
                            options=dict(xatol=1e-9))
        assert res["logl_mle"][j] == pytest.approx(max(-o.fun, dense_fit(1e5, Kc, Xf, y)[3],
                                                       dense_fit(1e-5, Kc, Xf, y)[3]), abs=1e-8)


def test_far_tail_pvalues():
    # Where scipy's p is representable the two agree; beyond, -log10 p keeps growing.
    F = np.array([0.0, 1.0, 30.0, 300.0, 1500.0, 5000.0, 20000.0])
    df = 900
    nl = neglog10_f1(F, df)
    ok = stats.f.sf(F, 1, df) > 1e-280
    assert np.allclose(nl[ok], -np.log10(stats.f.sf(F[ok], 1, df)), rtol=1e-10)
    assert np.all(np.diff(nl) > 0) and np.isfinite(nl).all() and nl[-1] > 300
    # continuity across the switch point
    Fs = np.linspace(1200, 1500, 400)
    v = neglog10_f1(Fs, df)
    assert np.all(np.diff(v) > 0)
    assert np.max(np.abs(np.diff(v, 2))) < 1e-3
    chi = np.array([1.0, 50.0, 2000.0, 10000.0])
    nlc = neglog10_chi2_1(chi)
    assert nlc[:2] == pytest.approx(-np.log10(stats.chi2.sf(chi[:2], 1)), rel=1e-10)
    assert nlc[3] > 2000


def rank_deficient_problem(noise):
    """K from 25 SNPs over 60 samples (rank <= 24: many eigenvalues of P Kc P
    are 0 up to rounding) plus symmetric noise of size ``noise``, so some
    eigenvalues come out negative and are set to 0 by decompose."""
    K, W, y, X = small_problem(n=60, m=25, c=3, seed=21)
    E = np.random.default_rng(22).normal(size=K.shape) * noise
    return K + (E + E.T) / 2, W, y, np.random.default_rng(23).integers(0, 3, (60, 15)) * 1.0


@pytest.mark.parametrize("noise", [0.0, 1e-7, 1e-4])
@pytest.mark.parametrize("vectors", [True, False])
def test_whitener_from_kinship_respects_clipped_eigenvalues(noise, vectors):
    """The whitener built from K removes the eigen-directions that decompose
    set to 0, so it describes exactly the fitted model (the contrast-basis
    statistics) even for a rank-deficient or slightly indefinite K, at small
    and large lam (where the raw eigenvalues would matter most)."""
    from dataclasses import replace

    K, W, y, X = rank_deficient_problem(noise)
    sp, basis = decompose(K, W, vectors=vectors)
    assert sp.n_zeroed > 0 and sp.d_clipped.size == sp.n_zeroed
    if noise >= 1e-7:
        assert sp.min_eigenvalue < 0
    model0 = make_model(sp, fit_null(sp, basis, y))
    for lam in (1e-3, 1.0, 1e2, 1e5):
        model = replace(model0, lam_reml=lam)
        ref = fast_block(model, basis.matrix().T @ X)
        wh = make_whitener(sp, basis, model, K.copy(), overwrite_k=True)
        got = whitened_block(model, wh, wh.whiten(np.asfortranarray(X)))
        for k in ("beta", "se", "F_wald"):
            assert np.allclose(got[k], ref[k], rtol=1e-7, atol=0), (lam, k)


@pytest.mark.parametrize("lam", [1.0, 1e4])
def test_single_precision_whitening_accuracy(lam):
    """--rotate-dtype float32 in fast mode: -log10 p within 1e-5 of the float64
    whitening at n = 400, also at large lam (centring before the solve)."""
    from dataclasses import replace

    K, W, y, X = small_problem(n=400, m=600, c=3, seed=31)
    sp, basis = decompose(K, W)
    model = replace(make_model(sp, fit_null(sp, basis, y)), lam_reml=lam)
    wh = make_whitener(sp, basis, model, K)
    X = X[:, :100]
    L32 = np.asfortranarray(wh.L, dtype=np.float32)
    r64 = whitened_block(model, wh, wh.whiten(np.asfortranarray(X)))
    r32 = whitened_block(model, wh, wh.whiten(np.asfortranarray(X), L32))
    p64 = neglog10_f1(r64["F_wald"], model.df)
    p32 = neglog10_f1(r32["F_wald"], model.df)
    assert np.abs(p64 - p32).max() < 1e-5


@pytest.mark.parametrize("engine,test", [("exact", "wald"), ("exact", "all"), ("exact", "lrt"),
                                         ("exact", "score"), ("fast", "wald"), ("fast", "score")])
def test_scanners_through_the_decision_table(problem, engine, test):
    """The scanners the decision table builds return the statistics of the
    block functions above in a BlockResult (main test as GEMMA/EMMAX name it),
    skip a variant collinear with the covariates, and declare the columns
    they fill."""
    K, W, y, X, eig, null, model = problem
    sp, basis = decompose(K, W, vectors=engine == "exact")
    nm = EigenNullModel.fit_phenotype(sp, basis, y, "y")
    scanner = method_for("quantitative", engine).scanner(nm, test, kinship=K.copy())
    Xb = np.asfortranarray(np.column_stack([X[:, :6], W[:, 1]]))  # last: a covariate
    prep = scanner.prepare(Xb.copy(order="F"))
    assert prep.keep.tolist() == [True] * 6 + [False]
    res = scanner.test(prep)
    assert res.beta.shape == (6,) and np.all(res.keep == prep.keep)
    if engine == "exact":
        ref = exact_block(model, eig.rotate(X[:, :6]), test)
        main = {"wald": "F_wald", "all": "F_wald", "score": "F_score"}.get(test)
        if main:
            assert np.allclose(res.neglog10_p, neglog10_f1(ref[main], model.df), rtol=1e-9)
        else:
            chi2 = 2 * (ref["logl_mle"] - model.logl_ml)
            assert np.allclose(res.chi2_lrt, chi2, rtol=1e-9)
            assert np.isnan(res.t_stat).all()
    else:
        ref = fast_block(model, eig.rotate(X[:, :6]))
        key = "F_score" if test == "score" else "F_wald"
        assert np.allclose(res.neglog10_p, neglog10_f1(ref[key], model.df), rtol=1e-8)
    if test != "lrt":
        assert np.allclose(res.t_stat, res.beta / res.se)
    for col in scanner.columns:
        attr = {"p_wald": "neglog10_p_wald", "p_lrt": "neglog10_p_lrt",
                "p_score": "neglog10_p_score"}.get(col, col)
        assert getattr(res, attr) is not None, col


def test_solve_equals_dense_inverse(problem):
    """The null model's solve(B) = V^-1 B, V = sigma_e^2 (lam Kc + I), against a
    dense inverse, with the basis explicit and factored."""
    K, W, y, X, eig, null, model = problem
    Kc = double_centre(K)
    for vectors in (True, False):
        sp, basis = decompose(K, W, vectors=vectors)
        nm = EigenNullModel.fit_phenotype(sp, basis, y, "y")
        V = nm.fit.sigma_e2 * (nm.fit.lam * Kc + np.eye(K.shape[0]))
        B = X[:, :5]
        assert np.allclose(nm.solve(B), np.linalg.solve(V, B), rtol=1e-8, atol=1e-10)
        assert np.allclose(nm.solve(B[:, 0]), np.linalg.solve(V, B[:, 0]), rtol=1e-8,
                           atol=1e-10)


def test_implementations_satisfy_their_protocols(problem):
    """The seams are protocols; today's implementations satisfy them."""
    from conftest import SIM
    from gwaslmm.genotypes.base import GenotypeBlock, GenotypeSource
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.nullmodel.base import NullEstimates, NullModel
    from gwaslmm.scan.base import Scanner

    K, W, y, X, eig, null, model = problem
    nm = EigenNullModel.fit_phenotype(eig.sp, eig.basis, y, "y")
    assert isinstance(nm, NullModel) and isinstance(nm.fit, NullEstimates)
    for engine in ("exact", "fast"):
        assert isinstance(method_for("quantitative", engine).scanner(nm, "wald"), Scanner)
    bed = BedFile(SIM)
    assert isinstance(bed, GenotypeSource)
    assert isinstance(bed.read_block(None, slice(0, 5)), GenotypeBlock)
    bed.close()
