"""numba kernels against their plain-numpy references, over random shapes with
missing values."""

import numpy as np
import pytest

from gwaslmm.genotypes.plink1 import fill_float_reference, int8_block, int8_block_reference


def random_int8_block(shape, seed):
    rng = np.random.default_rng(seed)
    G = rng.integers(0, 3, shape).astype(np.int8)
    G[rng.random(shape) < 0.2] = -127
    G[:, 0] = -127  # an all-missing column
    if shape[1] > 2:
        G[:, 1] = 1  # all heterozygous: constant
        G[:, 2] = np.where(G[:, 2] < 0, -127, 2)  # monomorphic with missing calls
    return np.asfortranarray(G)


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (50, 41), (203, 17)])
def test_int8_block_kernel_equals_reference(shape):
    G = random_int8_block(shape, shape[0] * 100 + shape[1])
    got, ref = int8_block(G), int8_block_reference(G)
    assert np.array_equal(got.n_missing, ref.n_missing)
    assert np.array_equal(got.constant, ref.constant)
    assert np.allclose(got.allele_freq, ref.allele_freq, rtol=1e-15, equal_nan=True)
    assert got.constant[0] and (shape[1] <= 2 or got.constant[1:3].all())


@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (50, 41), (203, 17)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_fill_kernel_equals_reference(shape, dtype):
    G = random_int8_block(shape, shape[0] * 100 + shape[1] + 1)
    blk = int8_block(G)
    cols = np.arange(1, shape[1])[::-1] if shape[1] > 1 else np.arange(1)
    rng = np.random.default_rng(5)
    buf = np.empty((shape[0], shape[1] + 2), order="F", dtype=dtype)
    for kw in ({}, dict(center=rng.normal(size=cols.size), scale=rng.uniform(0.5, 2, cols.size),
                        missing_value=np.zeros(cols.size))):
        got = blk.fill(cols, buf, **kw)
        ref = fill_float_reference(blk, cols, **kw)
        assert got.shape == ref.shape
        tol = 1e-15 if dtype == np.float64 else 1e-7
        assert np.allclose(got, ref, rtol=tol, atol=tol, equal_nan=True)


def test_fixed_lambda_kernel_equals_reference():
    from conftest import small_problem
    from gwaslmm.eigen import decompose
    from gwaslmm.nullmodel.eigen_reml import fit_null
    from gwaslmm.scan.exact import make_model
    from gwaslmm.scan.fixed import fast_block, fast_block_reference

    K, W, y, X = small_problem(n=50, m=30, c=3, seed=9)
    sp, basis = decompose(K, W)
    model = make_model(sp, fit_null(sp, basis, y))
    Xt = basis.project(X)
    for M in (Xt, np.asfortranarray(Xt), Xt[:, :1]):
        got, ref = fast_block(model, M), fast_block_reference(model, M)
        for k in ref:
            assert np.allclose(got[k], ref[k], rtol=1e-12, atol=0), k


@pytest.mark.parametrize("c", [1, 4, 7])
def test_whitened_kernel_equals_reference(c):
    from conftest import small_problem
    from gwaslmm.eigen import decompose
    from gwaslmm.nullmodel.eigen_reml import fit_null
    from gwaslmm.scan.exact import make_model
    from gwaslmm.scan.fixed import make_whitener, whitened_sums_reference
    from gwaslmm.scan.kernels import whitened_sums

    K, W, y, X = small_problem(n=64 + 13 * c, m=33 + c, c=c, seed=11 + c)
    sp, basis = decompose(K, W)
    model = make_model(sp, fit_null(sp, basis, y))
    wh = make_whitener(sp, basis, model)
    assert wh.yw @ wh.yw == pytest.approx(wh.q, rel=1e-12)  # y'Py two ways
    Xw = wh.whiten(np.asfortranarray(X))
    for M in (Xw, np.ascontiguousarray(Xw), Xw[:, :1], Xw[:, :0], Xw[:, ::3]):
        a, b = np.empty(M.shape[1]), np.empty(M.shape[1])
        whitened_sums(wh.Q, wh.yw, M, a, b)
        ra, rb = whitened_sums_reference(wh, M)
        assert np.allclose(a, ra, rtol=1e-12, atol=0)
        assert np.allclose(b, rb, rtol=1e-12, atol=1e-12 * np.abs(rb).max(initial=0.0))
