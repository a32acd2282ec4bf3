"""Kinship: dense formula, block-size and thread invariance, file formats."""

import os

import numpy as np
import pytest
from bed_reader import open_bed

from conftest import SIM, TINY
from gwaslmm.errors import InputError
from gwaslmm.genotypes.plink1 import BedFile
from gwaslmm.kinship import finish_grm, grm_sum
from gwaslmm.kinship_io import (read_gcta_grm, read_gemma_kinship, write_gcta_grm,
                                write_gemma_kinship)
from gwaslmm.paths import Outputs
from gwaslmm.qc import VariantFilters


def dense_grm(X, grm_type, maf=0.01, geno=0.05):
    """The documented formula on a dense matrix (NaN = missing)."""
    n = X.shape[0]
    miss = np.isnan(X)
    nobs = n - miss.sum(0)
    mean = np.nansum(X, 0) / nobs
    p = mean / 2
    Xi = np.where(miss, mean, X)
    mono = np.ptp(Xi, 0) == 0
    keep = (miss.sum(0) / n <= geno) & ~mono & (np.minimum(p, 1 - p) >= maf)
    Z = Xi[:, keep] - mean[keep]
    if grm_type == "standardized":
        Z = Z / np.sqrt(2 * p[keep] * (1 - p[keep]))
    return Z @ Z.T / keep.sum(), int(keep.sum())


@pytest.fixture(scope="module")
def sim_block():
    samples = np.arange(0, 1000, 3)  # 334 samples
    X = open_bed(SIM + ".bed", count_A1=True).read(index=np.s_[samples, :3000], dtype="float64")
    return samples, X


@pytest.mark.parametrize("grm_type", ["standardized", "centered"])
def test_grm_equals_dense_formula(sim_block, grm_type):
    # 1e-10: the same float64 sums in a different order (BLAS syrk vs matmul).
    samples, X = sim_block
    bed = BedFile(SIM)
    gs = grm_sum(bed, samples, np.arange(3000), grm_type, VariantFilters(), 1.0, block_size=700)
    K = finish_grm(gs.S, gs.m)
    Kd, m = dense_grm(X, grm_type)
    assert gs.m == m
    assert np.max(np.abs(K - Kd)) < 1e-10


def test_grm_single_precision_blocks(sim_block):
    """float32 block products (assoc --fast's default): same SNPs, every entry
    within 1e-6 of the dense float64 formula (diagonal about 1; float32
    rounding is 6e-8 relative, and block sums add in float64)."""
    samples, X = sim_block
    bed = BedFile(SIM)
    gs = grm_sum(bed, samples, np.arange(3000), "standardized", VariantFilters(), 1.0,
                 block_size=700, dtype=np.float32)
    assert gs.S.dtype == np.float64
    K = finish_grm(gs.S, gs.m)
    Kd, m = dense_grm(X, "standardized")
    assert gs.m == m
    err = np.max(np.abs(K - Kd))
    assert 1e-10 < err < 1e-6  # single precision was used, and it is this close


def test_grm_invariant_to_block_size_and_threads(sim_block):
    """Identical up to float rounding (1e-12) across block sizes and thread counts."""
    from gwaslmm._jit import set_threads

    samples, _ = sim_block
    bed = BedFile(SIM)
    results = []
    for bs, th in [(64, 1), (1000, 2), (3000, 1)]:
        set_threads(th)
        gs = grm_sum(bed, samples, np.arange(3000), "standardized", VariantFilters(), 1.0,
                     block_size=bs)
        results.append(finish_grm(gs.S, gs.m))
    set_threads(None)
    for K in results[1:]:
        assert np.max(np.abs(K - results[0])) < 1e-12


def test_gcta_roundtrip(tmp_path):
    rng = np.random.default_rng(0)
    A = rng.normal(size=(7, 20))
    K = A @ A.T / 20
    fid = np.array([f"F{i}" for i in range(7)])
    iid = np.array([f"I{i}" for i in range(7)])
    prefix = str(tmp_path / "g")
    write_gcta_grm(Outputs(prefix).grm, K, 20, fid, iid)
    assert os.path.getsize(prefix + ".grm.bin") == 4 * 7 * 8 // 2
    kin = read_gcta_grm(prefix)
    assert np.array_equal(kin.fid, fid) and np.array_equal(kin.iid, iid)
    assert kin.n_snps == 20
    # float32 storage: relative rounding 6e-8
    assert np.allclose(kin.K, K, rtol=1e-7, atol=1e-7)
    # lower-triangle row-major order: entry (2, 1) is the 5th value (0,0 1,0 1,1 2,0 2,1)
    vals = np.fromfile(prefix + ".grm.bin", dtype=np.float32)
    assert vals[4] == np.float32(K[2, 1])
    # subset reorders and checks IDs
    sub = kin.subset(fid[[3, 1]], iid[[3, 1]])
    assert np.allclose(sub, K[np.ix_([3, 1], [3, 1])], rtol=1e-7)
    with pytest.raises(InputError, match="lacks 1 of the 2 analysed samples.*first missing: F9 I9"):
        kin.subset(np.array(["F1", "F9"]), np.array(["I1", "I9"]))


def test_gcta_size_mismatch(tmp_path):
    prefix = str(tmp_path / "g")
    write_gcta_grm(Outputs(prefix).grm, np.eye(4), 10, list("abcd"), list("abcd"))
    with open(prefix + ".grm.id", "a") as fh:
        fh.write("e e\n")
    with pytest.raises(InputError, match="5 samples .* need 60"):
        read_gcta_grm(prefix)


def test_gemma_text_kinship(tmp_path):
    bed = BedFile(TINY)
    rng = np.random.default_rng(1)
    A = rng.normal(size=(bed.n_samples, 30))
    K = A @ A.T / 30
    path = str(tmp_path / "k.cXX.txt")
    write_gemma_kinship(path, K)
    kin = read_gemma_kinship(path, bed.fam.fid, bed.fam.iid)
    assert np.allclose(kin.K, K, rtol=1e-9)
    with pytest.raises(InputError, match="20 x 20 but the .fam has 19"):
        read_gemma_kinship(path, bed.fam.fid[:19], bed.fam.iid[:19])
    # symmetric within the tolerance of np.allclose(K, K.T, atol=1e-6 max|K|): accepted
    K2 = K.copy()
    K2[2, 5] += 0.5e-6 * np.abs(K).max()
    write_gemma_kinship(path, K2)
    read_gemma_kinship(path, bed.fam.fid, bed.fam.iid)
    K2[2, 5] += 1e-3
    write_gemma_kinship(path, K2)
    with pytest.raises(InputError, match=r"is not symmetric: entry \(3, 6\) is .* but \(6, 3\)"):
        read_gemma_kinship(path, bed.fam.fid, bed.fam.iid)


def test_gemma_text_kinship_malformed(tmp_path):
    bed = BedFile(TINY)
    n = bed.n_samples
    bad = tmp_path / "bad.txt"
    rows = ["\t".join(["0.1"] * n)] * n
    rows[3] = "\t".join(["0.1"] * (n - 1))
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match="not a rectangular matrix"):
        read_gemma_kinship(str(bad), bed.fam.fid, bed.fam.iid)
    rows[3] = "\t".join(["0.1"] * (n - 1) + ["abc"])
    bad.write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"line 4: 'abc' is not a number \(a kinship is a "
                                         r"numeric matrix\)"):
        read_gemma_kinship(str(bad), bed.fam.fid, bed.fam.iid)


def test_text_matrix_kernel_equals_python_parsers(tmp_path):
    """The numba matrix reader (gwaslmm.text_kernels) against numpy's loadtxt
    (Python's float) on numbers the fast path takes and those it leaves to
    float(): 17 digits, exponents beyond +-22, signs, nan/inf, CRLF, BOM."""
    from gwaslmm.kinship_io import parse_text_matrix

    rng = np.random.default_rng(4)
    vals = rng.normal(size=(30, 30)) * 10.0 ** rng.integers(-30, 30, (30, 30))
    fmts = ["{:.10g}", "{:.17g}", "{!r}", "{:.3e}", "{:.6f}"]
    text = "\r\n".join(" \t".join(fmts[(i + j) % 5].format(float(v)) for j, v in enumerate(row))
                       for i, row in enumerate(vals))
    text = text.replace(fmts[0].format(float(vals[0, 0])), "nan").replace(
        fmts[1].format(float(vals[1, 1])), "-inf", 1)
    data = ("\ufeff" + text + "\n\n").encode()
    got = parse_text_matrix(data, "x")
    (tmp_path / "m.txt").write_text(text)
    want = np.loadtxt(tmp_path / "m.txt")
    assert got.shape == (30, 30)
    assert np.array_equal(got, want, equal_nan=True)
    assert np.isnan(got[0, 0]) and got[1, 1] == -np.inf


def test_text_matrix_fields_equal_float_one_by_one():
    """Each field the one-pass reader converts itself equals float() bit for
    bit, and each field float() refuses is an error: signs, lone points,
    leading and trailing zeros, 15 to 20 significant digits, exponents at
    the fast path's edges, underscores (which float() accepts)."""
    from gwaslmm.kinship_io import parse_text_matrix

    fields = ["+.5", "-5.", "0.", ".0", "-0", "+0.000", "00012.5000", "0.000000000000000000001",
              "123456789012345", "1234567890123456", "123456789012345678",
              "12345678901234567890", "0.12345678901234567890", "1e22", "1e23", "1e-22",
              "1.5e-23", "1E+5", "9007199254740993", "0.1e1", "1_000", "5e0", "-1.25E-3",
              "100000000000000000000000", "1e400", "-1e-400", "inf", "NaN",
              ".", "-", "+", "1e", "1e+", "e5", "1.2.3", "--1", "1e-5x", "0x10", "1,5", "1-"]
    for f in fields:
        try:
            want = float(f)
        except ValueError:
            with pytest.raises(InputError, match="is not a number"):
                parse_text_matrix(f"0 {f}\n{f} 0\n".encode(), "x")
            continue
        got = parse_text_matrix(f"0 {f}\n{f} 0\n".encode(), "x")
        assert got.shape == (2, 2)
        assert (np.isnan(got[0, 1]) and np.isnan(want)) or (
            np.float64(got[0, 1]).tobytes() == np.float64(want).tobytes()), f


def test_kept_block_equals_the_full_matrix_block(monkeypatch):
    """The analysed samples' block of a text kinship, parsed alone
    (kinship_io.parse_kept_block: other samples' fields counted, not
    converted), equals the same block of the full parse bit for bit, slow-path
    fields, CRLF, a BOM and blank lines included; a text that is not n rows
    of n fields, or a kept field that is not a number, returns None (the
    full parse then names the problem), while a skipped field is not read."""
    from gwaslmm import kinship_io

    rng = np.random.default_rng(8)
    n = 120
    A = rng.normal(size=(n, n)) * 10.0 ** rng.integers(-25, 5, (n, n))
    fmts = ["{:.10g}", "{:.17g}", "{:.3e}"]
    rows = [" \t".join(fmts[(i + j) % 3].format(float(v)) for j, v in enumerate(r))
            for i, r in enumerate(A)]
    rows[5] = rows[5].replace(rows[5].split()[7], "1e-300", 1)
    text = "\ufeff" + "\r\n".join(rows[:60]) + "\r\n\n" + "\r\n".join(rows[60:]) + "\r\n"
    keep = np.sort(rng.choice(n, 70, replace=False))
    keep[0] = 5  # the slow-path row is analysed
    keep = np.unique(keep)
    buf = np.frombuffer(text.encode(), dtype=np.uint8)
    full = kinship_io.parse_text_matrix(text.encode(), "x")
    got = kinship_io.parse_kept_block(buf, n, keep)
    assert got.shape == (keep.size, keep.size)
    assert np.array_equal(got.view(np.int64), full[np.ix_(keep, keep)].view(np.int64))
    skipped = int(np.setdiff1d(np.arange(n), keep)[0])

    def edit(r, new_row):
        t = rows.copy()
        t[r] = new_row
        return np.frombuffer(("\n".join(t) + "\n").encode(), dtype=np.uint8)

    assert kinship_io.parse_kept_block(edit(skipped, rows[skipped] + " 1"), n, keep) is None
    def with_field(r, j, tok):
        f = rows[r].split()
        f[j] = tok
        return " ".join(f)

    assert kinship_io.parse_kept_block(edit(int(keep[1]), with_field(int(keep[1]), int(keep[0]),
                                                                     "abc")), n, keep) is None
    assert kinship_io.parse_kept_block(
        np.frombuffer(("\n".join(rows[:-1]) + "\n").encode(), dtype=np.uint8), n, keep) is None
    assert kinship_io.parse_kept_block(
        edit(skipped, with_field(skipped, int(keep[0]), "abc")), n, keep) is not None


def test_gemma_kinship_read_for_analysed_samples(tmp_path, monkeypatch):
    """read_gemma_kinship(keep=...) returns the analysed samples' kinship,
    equal to the full read's; a ragged row still gets the full read's error."""
    from gwaslmm import kinship_io

    rng = np.random.default_rng(9)
    n = 40
    G = rng.normal(size=(n, 200))
    K = G @ G.T / 200
    fid = np.array([f"F{i}" for i in range(n)])
    iid = np.array([f"I{i}" for i in range(n)])
    path = tmp_path / "k.cXX.txt"
    np.savetxt(path, K, fmt="%.10g", delimiter="\t")
    keep = np.arange(0, n, 3)
    monkeypatch.setattr(kinship_io, "PARALLEL_PARSE_BYTES", 0)
    kin = kinship_io.read_gemma_kinship(str(path), fid, iid, keep=keep)
    whole = kinship_io.read_gemma_kinship(str(path), fid, iid)
    assert kin.K.shape == (keep.size, keep.size) and list(kin.iid) == list(iid[keep])
    assert np.array_equal(kin.subset(fid[keep], iid[keep]), whole.subset(fid[keep], iid[keep]))
    lines = path.read_text().splitlines()
    lines[2] += "\t0.5"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="row 3 has another number of values"):
        kinship_io.read_gemma_kinship(str(path), fid, iid, keep=keep)


def test_text_matrix_parallel_chunks_equal_sequential(monkeypatch):
    """The chunked parallel reader (large kinship texts) gives the sequential
    reader's matrix, slow-path values and errors: a ragged row and a bad token
    in a later chunk are named by their row and line."""
    from gwaslmm import kinship_io

    rng = np.random.default_rng(5)
    vals = rng.normal(size=(300, 40))
    fmts = ["{:.10g}", "{:.17g}", "{:.3e}"]
    rows = [" ".join(fmts[(i + j) % 3].format(float(v)) for j, v in enumerate(r))
            for i, r in enumerate(vals)]
    rows[7] = rows[7].replace(rows[7].split()[3], "1e-300", 1)
    text = ("\n".join(rows) + "\n\n").encode()
    monkeypatch.setattr(kinship_io, "PARALLEL_PARSE_BYTES", 1 << 40)
    seq = kinship_io.parse_text_matrix(text, "x")
    monkeypatch.setattr(kinship_io, "PARALLEL_PARSE_BYTES", 100)
    par = kinship_io.parse_text_matrix(text, "x")
    assert par.shape == (300, 40) and np.array_equal(par, seq)
    assert par[7, 3] == 1e-300 and np.array_equal(par, np.loadtxt(text.decode().splitlines()))
    for k, bad, msg in [(250, rows[250] + " 1", "row 251 has another number of values"),
                        (260, "abc " + rows[260], "line 261: 'abc' is not a number")]:
        text2 = "\n".join(rows[:k] + [bad] + rows[k + 1:]).encode()
        with pytest.raises(InputError, match=msg):
            kinship_io.parse_text_matrix(text2, "x")
