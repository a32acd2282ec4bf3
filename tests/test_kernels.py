"""numba kernels against their plain-numpy references, over random shapes with
missing values."""

import numpy as np
import pytest

from gwaslmm.genotypes.int8 import fill_float_reference, int8_block, int8_block_reference


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


def _row_text(block, header):
    from gwaslmm.schema import format_rows

    rows = format_rows(block, header)
    return "".join("\t".join(r) + "\n" for r in zip(*[rows[c] for c in header])).encode()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_row_formatting_kernel_equals_python(seed):
    """The numba row writer (gwaslmm.format_kernels) against Python's format()
    for every column kind: numbers over 1e-300..1e300 of both signs, values
    at and near rounding ties (decimals such as 0.115 that binary cannot hold),
    exact ties (1234567.5), powers of ten, 0, -0, NaN, inf, p-values up to
    and beyond 1e-290, non-ASCII IDs."""
    from gwaslmm.genotypes.base import VariantInfo
    from gwaslmm.scan.base import BlockResult
    from gwaslmm.schema import RowBlock, TextTables, assoc_header, format_text

    rng = np.random.default_rng(seed)
    m, k = 3000, 2500

    def values(k):
        x = rng.choice([-1, 1], k) * 10 ** rng.uniform(-300, 300, k)
        x[:400] = rng.choice([-1, 1], 400) * 10 ** rng.uniform(-6, 9, 400)
        x[400:600] = np.round(x[400:600], 3)
        x[600:650] = [1234567.5, 0.5, 1e-5, 1e-4, 9.99999995e-5, 0.0, -0.0, np.nan, np.inf, -np.inf,
                      1e16, 1e21, 1e22, 1e23, 123456785.0, 99999999.5, 0.00099999995, 1.0, 10.0,
                      100000.0, 1000000.0, 1e7, 1e8, 5e-324, 2.2250738585072014e-308,
                      *(10.0 ** np.arange(-12, 13, 1.0))][:50]
        return x

    nl = np.abs(rng.normal(0, 80, k))
    nl[:20] = [0.0, 290.0, 289.99, 300.5, 1e4, np.nan, np.inf, 1e-12, 5.0, 7.30103, *[1.5] * 10]
    ids = np.array([f"rs{i}" for i in range(m)], dtype=object)
    ids[7] = "variant_ü"
    v = VariantInfo(chromosome=np.array([str(1 + i // 500) for i in range(m)]),
                    position=rng.integers(0, 2 ** 40, m), id=ids.astype(str),
                    effect_allele=np.array(["A"] * m), other_allele=np.array(["GTT"] * m),
                    source="x")
    res = BlockResult(keep=np.ones(k, bool), beta=values(k), se=values(k), t_stat=values(k),
                      neglog10_p=nl, neglog10_p_wald=rng.permutation(nl),
                      lambda_remle=values(k), logl_h1=values(k), chi2_lrt=values(k),
                      f_score=values(k))
    idx = rng.integers(0, m, k)
    idx[:3] = 7
    block = RowBlock(variants=v, idx=idx, allele_freq=values(k), n_miss=rng.integers(0, 50, k),
                     n=987, result=res)
    header = assoc_header(("p_wald", "lambda_remle", "logl_h1", "t_stat", "chi2_lrt", "f_score"))
    assert format_text(block, header, TextTables.of(v)) == _row_text(block, header)


@pytest.mark.parametrize("tabs", [False, True])
def test_field_splitting_kernel_equals_python(tabs):
    """The numba splitter behind every text table (gwaslmm.tables.split_table)
    against Python's str.split: runs of spaces/tabs, CRLF, blank lines,
    non-ASCII text and, in tab mode, empty fields."""
    from gwaslmm.tables import split_table

    rng = np.random.default_rng(5 + tabs)
    words = ["a", "bb", "ccc", "1.5", "-9", "NA", "ü"] + (["x y"] if tabs else [])
    lines = []
    for r in range(300):
        # column 0 stays ASCII (the fast UCS-4 widening), the rest may not
        fields = [words[i] for i in rng.integers(0, len(words) - 2, 1)] + \
            [words[i] for i in rng.integers(0, len(words), 4)]
        if tabs and r % 7 == 0:
            fields[2] = ""
        sep = "\t" if tabs else [" ", "\t", "  ", " \t "][r % 4]
        lines.append(sep.join(fields) + ("\r" if r % 5 == 0 else ""))
        if r % 11 == 0:
            lines.append("   ")
    text = "\n".join(lines) + "\n"
    got = split_table(text.encode(), "x", "test", 5, tabs=tabs)
    if tabs:
        want = [[f.strip() for f in ln.rstrip("\r").split("\t")] for ln in lines if ln.strip()]
    else:
        want = [ln.split() for ln in lines if ln.strip()]
    assert all(ord(ch) < 128 for w in got[0] for ch in w)
    assert got[0].dtype == np.array(list(got[0])).dtype  # the same U width as astype(str)
    assert [list(col) for col in got] == [list(c) for c in zip(*want)]


@pytest.mark.parametrize("n, scale, lam", [(1409, 5.0, 2.9), (1409, 200.0, 1e5), (1000, 1e-3, 1e-5),
                                           (7, 1.0, 1.0), (0, 1.0, 1.0), (130, 1e30, 1e5),
                                           (64, 1e300, 1e5), (129, 3.0, 0.5)])
def test_sum_log1p_equals_numpy(n, scale, lam):
    """The exact scan's sum ln(1 + lam d) (one logarithm per run of 64
    factors; a run whose product overflows takes each factor's logarithm)
    against numpy's log1p, in runs that fit, that overflow, and lengths
    that are not multiples of 64."""
    from gwaslmm.scan.kernels import _sum_log1p

    d = np.random.default_rng(n).random(n) * scale
    d[:min(n, 3)] = 0.0
    want = float(np.sum(np.log1p(lam * d)))
    assert abs(_sum_log1p(lam, d) - want) <= 1e-13 * max(1.0, abs(want))


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 64, 101])
def test_square_stats_equals_numpy(n):
    """The kinship reader's one-pass checks (gwaslmm.text_kernels.square_stats,
    rows paired for even threads) against numpy: largest asymmetry over
    finite pairs, largest finite |K|, count of non-finite entries."""
    from gwaslmm.text_kernels import square_stats

    rng = np.random.default_rng(n)
    A = rng.standard_normal((n, n))
    A = A + A.T
    A[rng.random((n, n)) < 0.05] += 1e-3
    if n > 3:
        A[1, 2], A[3, 0] = np.nan, -np.inf
    h = (n + 1) // 2
    asym, amax, bad = np.zeros(h), np.zeros(h), np.zeros(h, dtype=np.int64)
    square_stats(A, asym, amax, bad)
    fin = np.isfinite(A)
    both = np.where(fin & fin.T, A, 0.0)
    assert int(bad.sum()) == int((~fin).sum())
    assert (amax.max() if h else 0.0) == (np.abs(A[fin]).max() if fin.any() else 0.0)
    assert (asym.max() if h else 0.0) == (np.abs(both - both.T).max() if n else 0.0)


@pytest.mark.parametrize("kind", ["U", "S"])
def test_first_repeat_equals_numpy_unique(kind):
    """The hashed duplicate check (gwaslmm.text_kernels.first_repeat) against
    numpy.unique: no repeat among distinct IDs (shared prefixes, padding of
    shorter IDs with zeros), and the first repeated row where one is planted;
    ids.duplicated gives numpy's answer above its hashing threshold too."""
    from gwaslmm import ids
    from gwaslmm.text_kernels import first_repeat

    rng = np.random.default_rng(7)
    keys = np.array([f"rs{k}" for k in rng.permutation(5000)] + ["a", "ab", "abc", "b"],
                    dtype=kind)
    codes = keys.view(np.uint32 if kind == "U" else np.uint8).reshape(keys.size, -1)
    assert np.unique(keys).size == keys.size and first_repeat(codes) == -1
    for a, b in [(10, 4000), (4999, 5002), (0, 5003)]:
        k2 = keys.copy()
        k2[b] = k2[a]
        c2 = k2.view(codes.dtype).reshape(k2.size, -1)
        uniq, first = np.unique(k2, return_index=True)
        dup_rows = np.setdiff1d(np.arange(k2.size), first)
        assert first_repeat(c2) == dup_rows.min() == b
        old = ids.HASHED_CHECK
        try:
            ids.HASHED_CHECK = 10
            assert ids.duplicated(k2).tolist() == [k2[a]]
            assert ids.duplicated(keys).size == 0
        finally:
            ids.HASHED_CHECK = old
