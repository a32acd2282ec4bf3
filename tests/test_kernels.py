"""numba kernels against their plain-numpy references, over random shapes with
missing values."""

import numpy as np
import pytest

from gwaslmm.genotypes import impute_mean, impute_mean_reference


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (50, 41), (203, 17)])
def test_impute_kernel_equals_reference(shape):
    rng = np.random.default_rng(shape[0] * 100 + shape[1])
    X = rng.integers(0, 3, shape).astype(np.float64)
    X[rng.random(shape) < 0.2] = np.nan
    X[:, 0] = np.nan  # an all-missing column
    A = np.asfortranarray(X.copy())
    got = impute_mean(A)
    ref = impute_mean_reference(X.copy())
    assert np.array_equal(got[0], ref[0], equal_nan=True)
    assert np.array_equal(got[1], ref[1])
    assert np.allclose(got[2], ref[2], rtol=1e-15, equal_nan=True)


def test_impute_block_constant_flag():
    from gwaslmm.genotypes import impute_block

    X = np.array([[0, 1, np.nan, 2, 1], [0, 1, np.nan, np.nan, 1], [0, 1, np.nan, 2, 2.0]])
    for A in (np.asfortranarray(X.copy()), np.ascontiguousarray(X.copy())):  # kernel, numpy
        _, nm, af, const = impute_block(A)
        assert const.tolist() == [True, True, True, True, False]
        assert nm.tolist() == [0, 0, 3, 1, 0]


def test_fixed_lambda_kernel_equals_reference():
    from conftest import small_problem
    from gwaslmm.eigen import decompose
    from gwaslmm.nullmodel import fit_null
    from gwaslmm.scan import fast_block, fast_block_reference, make_model

    K, W, y, X = small_problem(n=50, m=30, c=3, seed=9)
    eig = decompose(K, W)
    model = make_model(eig, fit_null(eig, y))
    Xt = eig.rotate(X)
    for M in (Xt, np.asfortranarray(Xt), Xt[:, :1]):
        got, ref = fast_block(model, M), fast_block_reference(model, M)
        for k in ref:
            assert np.allclose(got[k], ref[k], rtol=1e-12, atol=0), k


@pytest.mark.parametrize("c", [1, 4, 7])
def test_whitened_kernel_equals_reference(c):
    from conftest import small_problem
    from gwaslmm.eigen import decompose
    from gwaslmm.nullmodel import fit_null
    from gwaslmm.scan import make_model, make_whitener, whitened_sums_reference
    from gwaslmm.scan_kernels import whitened_sums

    K, W, y, X = small_problem(n=64 + 13 * c, m=33 + c, c=c, seed=11 + c)
    eig = decompose(K, W)
    model = make_model(eig, fit_null(eig, y))
    wh = make_whitener(eig, model)
    assert wh.yw @ wh.yw == pytest.approx(wh.q, rel=1e-12)  # y'Py two ways
    Xw = wh.whiten(np.asfortranarray(X))
    for M in (Xw, np.ascontiguousarray(Xw), Xw[:, :1], Xw[:, :0], Xw[:, ::3]):
        a, b = np.empty(M.shape[1]), np.empty(M.shape[1])
        whitened_sums(wh.Q, wh.yw, M, a, b)
        ra, rb = whitened_sums_reference(wh, M)
        assert np.allclose(a, ra, rtol=1e-12, atol=0)
        assert np.allclose(b, rb, rtol=1e-12, atol=1e-12 * np.abs(rb).max(initial=0.0))
