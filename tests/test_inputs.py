"""Input layer: genotype reading, sample tables, the sample join and variant QC.

STYLE.md test layers 6 (bad input: tiny malformed fixtures, each matched on a
distinctive part of its message) and 5/4 for the reader (the project's own
.bed decoder equals bed-reader, an independent reader, and its plain-numpy
reference on the same samples and variants).  Every comparison here is
exact: genotypes are small integers and the only arithmetic (a column mean
of them) is done the same way in the expected values, so no tolerance is
needed.

Malformed fixtures are copies of ``testdata/tiny.*`` (20 samples x 12 SNPs,
chromosome codes 1,1,2,X,23,Y,24,XY,25,MT,0,scaffold_7, ~5% missing calls)
corrupted inside pytest's ``tmp_path``.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pytest

from conftest import copy_tiny, rewrite_line

from gwaslmm.errors import InputError, UsageError
from gwaslmm.chromosomes import normalize_chromosome, parse_chr_spec
from gwaslmm.design import check_covariates
from gwaslmm.genotypes import impute_mean
from gwaslmm.genotypes.int8 import int8_block, int8_block_reference
from gwaslmm.genotypes.plink1 import (BedFile, bim_variants, fam_samples, read_bim,
                                      read_fam, write_plink)
from gwaslmm.qc import (FILTER_NAMES, VariantFilters, preselect_variants, qc_report_lines,
                        summarize_reasons, variant_qc_counts)
from gwaslmm.samples import join_samples
from gwaslmm.tables import (IdList, is_numeric_column, missing_mask, parse_numeric, read_id_list,
                            read_sample_table, read_variant_list, select_columns)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")
TINY = os.path.join(TESTDATA, "tiny")
SIM = os.path.join(TESTDATA, "sim")

TINY_N, TINY_M = 20, 12
TINY_FID = [f"F{i // 2}" for i in range(TINY_N)]
TINY_IID = [f"S{i}" for i in range(TINY_N)]


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def patch_bytes(path: str, offset: int, new: bytes) -> None:
    """Overwrite bytes of a binary file in place."""
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(new)


def write_text(path, text: str) -> str:
    with open(path, "w") as fh:
        fh.write(text)
    return str(path)


def tiny_table(tmp_path, name, header, values, sep=" ") -> str:
    """A FID IID col... table over the tiny samples; values[i] is a list of
    strings for sample i (None skips the sample)."""
    lines = [sep.join(header)] if header else []
    for i in range(TINY_N):
        if values[i] is None:
            continue
        lines.append(sep.join([TINY_FID[i], TINY_IID[i]] + list(values[i])))
    return write_text(tmp_path / name, "\n".join(lines) + "\n")


def samples_of(fam_path):
    return fam_samples(read_fam(fam_path), fam_path)


def variants_of(bim_path):
    return bim_variants(read_bim(bim_path), bim_path)


@pytest.fixture(scope="module")
def tiny_fam():
    return samples_of(TINY + ".fam")


# ---------------------------------------------------------------------------
# genotypes: reading blocks
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def sim_bed():
    bed = BedFile(SIM)
    yield bed
    bed.close()


@pytest.fixture(scope="module")
def sim_ref():
    from bed_reader import open_bed

    ref = open_bed(SIM + ".bed")
    yield ref
    ref.__exit__(None, None, None)


@pytest.mark.parametrize("a,b", [(0, 1), (0, 256), (255, 257), (4095, 4097), (4096, 8192),
                                 (8191, 8192), (9990, 10000)])
def test_bedfile_block_equals_bed_reader(sim_bed, sim_ref, a, b):
    """Exact equality, NaN in the same places (assert_array_equal treats NaN as equal
    only at matching positions)."""
    got = sim_bed.read(None, slice(a, b))
    want = sim_ref.read(index=np.s_[:, a:b], dtype="float64")
    assert got.shape == (1000, b - a)
    assert got.dtype == np.float64
    assert got.flags.f_contiguous
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_array_equal(got, want)


def test_bedfile_block_has_missing_calls(sim_bed):
    """The sim data has ~1% missing calls, so the NaN comparison above is not vacuous."""
    got = sim_bed.read(None, slice(0, 256))
    assert 0.002 < np.isnan(got).mean() < 0.05


def test_bedfile_index_arrays_equal_bed_reader(sim_bed, sim_ref):
    """Sample and SNP index arrays (not slices), sample subset crossing byte groups."""
    samples = np.arange(1, 1000, 3)
    snps = np.array([0, 7, 4095, 4096, 9999])
    got = sim_bed.read(samples, snps)
    want = sim_ref.read(index=np.s_[samples, snps], dtype="float64")
    np.testing.assert_array_equal(got, want)


def _random_fileset(tmp_path, n, m, seed):
    """A fileset with ~10% missing calls plus an all-missing, a constant and a
    constant-with-missing variant (the decoder's count edge cases)."""
    rng = np.random.default_rng(seed)
    G = rng.integers(0, 3, size=(n, m)).astype(np.int8)
    G[rng.random((n, m)) < 0.1] = -9
    G[:, 0] = -9
    G[:, 1] = 2
    G[:, 2] = 0
    G[: n // 2, 2] = -9
    prefix = str(tmp_path / f"dec{n}")
    ids = [f"s{i}" for i in range(n)]
    write_plink(prefix, G, ids, ids, ["0"] * n, ["0"] * n, ["0"] * n, [1.0] * n,
                ["1"] * m, [f"v{j}" for j in range(m)], [0] * m, list(range(1, m + 1)),
                ["A"] * m, ["C"] * m)
    return prefix


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 13, 64, 401])
def test_bed_decoder_equals_bed_reader(tmp_path, n):
    """BedFile.read_block (own numba decoder, counts in the same pass) equals
    bed-reader's int8 read counted by int8_block_reference and the decoder's
    plain-numpy twin, for every remainder n % 4, all samples, a permuted
    subset, a repeated sample, and variant index arrays with runs and gaps."""
    from bed_reader import open_bed

    from gwaslmm.genotypes.plink1 import decode_bed, decode_bed_reference

    m = 37
    prefix = _random_fileset(tmp_path, n, m, seed=n)
    bed = BedFile(prefix)
    rng = np.random.default_rng(n)
    subsets = [None, rng.permutation(n)[: max(1, n - 2)], np.array([n - 1, 0, n - 1])]
    variant_sets = [slice(0, m), slice(3, 4), np.array([0, 1, 2, 10, 11, 12, 30, 5]),
                    np.arange(m)[::3]]
    with open_bed(prefix + ".bed", count_A1=True) as ref:
        for samples in subsets:
            for snps in variant_sets:
                rows = slice(None) if samples is None else samples
                want = int8_block_reference(np.asfortranarray(
                    ref.read(index=np.s_[rows, snps], dtype="int8")))
                got = bed.read_block(samples, snps)
                twin = decode_bed_reference(bed.read_raw(snps), n, samples)
                for blk in (got, twin):
                    np.testing.assert_array_equal(blk.G, want.G)
                    np.testing.assert_array_equal(blk.n_missing, want.n_missing)
                    np.testing.assert_array_equal(blk.allele_freq, want.allele_freq)
                    np.testing.assert_array_equal(blk.constant, want.constant)
                assert got.G.flags.f_contiguous and got.G.dtype == np.int8
    full = bed.read_block(None, slice(0, m))
    assert full.n_missing[0] == n and full.constant[:3].all()
    assert np.isnan(full.allele_freq[0])
    assert decode_bed(bed.read_raw([]), n).G.shape == (n, 0)


def test_bedfile_tiny_dimensions_and_chromosomes():
    bed = BedFile(TINY)
    assert (bed.n_samples, bed.n_snps) == (TINY_N, TINY_M)
    assert bed.bim.chromosome.tolist() == ["1", "1", "2", "X", "X", "Y", "Y", "XY", "XY", "MT",
                                           "0", "scaffold_7"]
    X = bed.read(None, slice(None))
    assert X.shape == (TINY_N, TINY_M)
    assert np.isnan(X).sum() > 0
    assert set(np.unique(X[~np.isnan(X)])) <= {0.0, 1.0, 2.0}
    bed.close()


def test_write_plink_round_trip(tmp_path):
    """write_plink -> BedFile.read gives back the A1 counts, missing as NaN, for a
    sample count that is not a multiple of 4 (padding bits in the last byte)."""
    rng = np.random.default_rng(3)
    n, m = 7, 5
    g = rng.integers(0, 3, (n, m)).astype(np.int8)
    g[1, 2] = -127
    g[6, 4] = -1
    prefix = str(tmp_path / "rt")
    write_plink(prefix, g, [f"f{i}" for i in range(n)], [f"i{i}" for i in range(n)], ["0"] * n,
                ["0"] * n, [1] * n, [float(i) for i in range(n)], ["1"] * m,
                [f"s{j}" for j in range(m)], np.zeros(m), np.arange(1, m + 1), ["A"] * m,
                ["C"] * m)
    assert os.path.getsize(prefix + ".bed") == 3 + m * 2
    bed = BedFile(prefix)
    X = bed.read(None, slice(None))
    want = g.astype(float)
    want[g < 0] = np.nan
    np.testing.assert_array_equal(X, want)
    bed.close()


# ---------------------------------------------------------------------------
# genotypes: malformed filesets
# ---------------------------------------------------------------------------

def test_truncated_bed(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bed", "r+b") as fh:
        fh.truncate(40)
    with pytest.raises(InputError, match=r"has 40 bytes but 20 samples \(\.fam\) and 12 variants "
                                         r"\(\.bim\) need 63: the \.bed is truncated"):
        BedFile(p)


def test_bed_too_long(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bed", "ab") as fh:
        fh.write(b"\x00" * 5)
    with pytest.raises(InputError, match=r"has 68 bytes .* need 63: the \.bed is too long"):
        BedFile(p)


def test_wrong_magic_bytes(tmp_path):
    p = copy_tiny(tmp_path)
    patch_bytes(p + ".bed", 0, b"\x00")
    with pytest.raises(InputError, match=r"is not a PLINK 1 \.bed file \(magic bytes 001b, "
                                         r"expected 6c1b\)"):
        BedFile(p)


def test_empty_bed(tmp_path):
    p = copy_tiny(tmp_path)
    open(p + ".bed", "wb").close()
    with pytest.raises(InputError, match=r"magic bytes missing"):
        BedFile(p)


def test_bed_cut_after_magic_is_reported_as_truncated(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bed", "r+b") as fh:
        fh.truncate(2)
    with pytest.raises(InputError, match=r"truncated"):
        BedFile(p)


def test_individual_major_bed(tmp_path):
    p = copy_tiny(tmp_path)
    patch_bytes(p + ".bed", 2, b"\x00")
    with pytest.raises(InputError, match=r"individual-major mode \(byte 3 = 0x00\)"):
        BedFile(p)


def test_bim_has_extra_variant(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bim", "a") as fh:
        fh.write("1\tv99\t0\t99999\tA\tG\n")
    with pytest.raises(InputError, match=r"has 63 bytes but 20 samples \(\.fam\) and 13 variants "
                                         r"\(\.bim\) need 68"):
        BedFile(p)


def test_bim_missing_variant(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".bim", 12, None)
    with pytest.raises(InputError, match=r"11 variants \(\.bim\) need 58: the \.bed is too long"):
        BedFile(p)


def test_fam_has_extra_samples(tmp_path):
    """21 samples need 6 bytes per SNP instead of 5 (a count inside the same byte
    group cannot be detected from the size, as in PLINK)."""
    p = copy_tiny(tmp_path)
    with open(p + ".fam", "a") as fh:
        fh.write("F99 S99 0 0 1 1.0\n")
    with pytest.raises(InputError, match=r"21 samples \(\.fam\) and 12 variants \(\.bim\) need 75"):
        BedFile(p)


def test_fam_missing_samples(tmp_path):
    p = copy_tiny(tmp_path)
    for _ in range(4):
        rewrite_line(p + ".fam", 1, None)
    with pytest.raises(InputError, match=r"16 samples \(\.fam\) and 12 variants \(\.bim\) need 51"):
        BedFile(p)


def test_duplicate_sample_ids_in_fam(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 6, "F0 S1 0 0 2 0.5")
    with pytest.raises(InputError, match=r"t\.fam has 1 duplicated sample ID\(s\) \(FID IID\), "
                                         r"first: F0 S1"):
        BedFile(p)


def test_same_iid_in_different_families_is_allowed(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 3, "F1 S0 0 0 1 0.3")
    fam = read_fam(p + ".fam")
    assert fam.n == TINY_N


@pytest.mark.parametrize("ext", ["bed", "bim", "fam"])
def test_missing_fileset_member(tmp_path, ext):
    p = copy_tiny(tmp_path)
    os.remove(f"{p}.{ext}")
    with pytest.raises(InputError, match=rf"PLINK fileset '.*t': .*t\.{ext} not found"):
        BedFile(p)


def test_fam_wrong_column_count(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 4, "F1 S3 0 0 2")
    with pytest.raises(InputError, match=r"line 4: expected 6 or more columns in a \.fam file, "
                                         r"found 5"):
        BedFile(p)


def test_fam_with_uneven_phenotype_columns(tmp_path):
    """A .fam may carry several phenotype columns (GEMMA's convention), but
    the same number on every line."""
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 4, "F1 S3 0 0 2 1.5 2.5")
    with pytest.raises(InputError, match=r"line 4: 7 columns, but the lines before have 6"):
        BedFile(p)


def test_bim_wrong_column_count(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".bim", 2, "1\tv1\t0.0\t2000\tA\tG\textra")
    with pytest.raises(InputError, match=r"line 2: expected 6 columns in a \.bim file, found 7"):
        BedFile(p)


def test_bim_non_numeric_position(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".bim", 3, "2\tv2\t0.0\t3kb\tA\tG")
    with pytest.raises(InputError, match=r"line 3, column 4: '3kb' is not an integer"):
        read_bim(p + ".bim")
    rewrite_line(p + ".bim", 3, "2\tv2\t0.0\t3000.0\tA\tG")  # int() refuses it too
    with pytest.raises(InputError, match=r"line 3, column 4: '3000.0' is not an integer"):
        read_bim(p + ".bim")
    rewrite_line(p + ".bim", 3, "2\tv2\tcM\t3000\tA\tG")
    with pytest.raises(InputError, match=r"line 3, column 3: 'cM' is not a number"):
        read_bim(p + ".bim")


def test_bim_number_columns_equal_python_parsers(tmp_path):
    """cM and position parsed by the numba fast path equal float() and int()
    on every field, including the forms left to them (exponents, signs,
    long digit strings, nan)."""
    cms = ["0", "-0.0", "1.5e-3", "0.000123456789012345678", "+2", "1e400", "nan", "3.",
           ".5", "12345678901234567890"]
    bps = ["0", "+7", "-0", "999999999999999999", "9223372036854775807", "0012"]
    lines = [f"1\tv{k}\t{cms[k % len(cms)]}\t{bps[k % len(bps)].lstrip('-')}\tA\tG"
             for k in range(30)]
    path = tmp_path / "n.bim"
    path.write_text("\n".join(lines) + "\n")
    bim = read_bim(str(path))
    want_cm = [float(ln.split("\t")[2]) for ln in lines]
    want_bp = [int(ln.split("\t")[3]) for ln in lines]
    np.testing.assert_array_equal(bim.cm, np.array(want_cm))
    assert bim.bp.tolist() == want_bp
    lines[4] = "1\tv4\t0\t12345678901234567890123\tA\tG"
    path.write_text("\n\n" + "\n".join(lines) + "\n")  # blank lines still count
    with pytest.raises(InputError, match=r"line 7, column 4: '1234567890123456789012.' is not "
                                         r"a 64-bit integer"):
        read_bim(str(path))


def test_empty_fam_and_bim(tmp_path):
    write_text(tmp_path / "e.fam", "\n")
    write_text(tmp_path / "e.bim", "")
    with pytest.raises(InputError, match=r"has no samples"):
        read_fam(str(tmp_path / "e.fam"))
    with pytest.raises(InputError, match=r"has no variants"):
        read_bim(str(tmp_path / "e.bim"))


# ---------------------------------------------------------------------------
# genotypes: mean imputation
# ---------------------------------------------------------------------------

def test_impute_mean_fills_with_column_mean_and_returns_a1_frequency():
    nan = np.nan
    block = np.array([[0.0, 2.0, nan, 1.0],
                      [1.0, nan, nan, 1.0],
                      [2.0, 2.0, nan, 1.0],
                      [nan, 1.0, nan, 1.0],
                      [2.0, 0.0, nan, 0.0]], order="F")
    orig = block.copy()
    out, n_missing, a1_freq = impute_mean(block)
    assert out is block  # in place
    means = np.array([5.0 / 4, 5.0 / 4, nan, 4.0 / 5])
    np.testing.assert_array_equal(n_missing, [1, 1, 5, 0])
    assert n_missing.dtype == np.int64
    np.testing.assert_array_equal(a1_freq, means / 2)
    assert out[3, 0] == 5.0 / 4 and out[1, 1] == 5.0 / 4
    # observed calls untouched, the all-missing column left NaN
    obs = ~np.isnan(orig)
    np.testing.assert_array_equal(out[obs], orig[obs])
    assert np.isnan(out[:, 2]).all()


def test_impute_mean_on_tiny_block_matches_nanmean():
    bed = BedFile(TINY)
    X = bed.read(None, slice(None))
    bed.close()
    miss = np.isnan(X)
    assert miss.any()
    want_mean = np.nanmean(X, axis=0)
    out, n_missing, a1_freq = impute_mean(X.copy())
    np.testing.assert_array_equal(n_missing, miss.sum(axis=0))
    np.testing.assert_allclose(a1_freq, want_mean / 2, rtol=1e-15, atol=0)
    rows, cols = np.nonzero(miss)
    np.testing.assert_allclose(out[rows, cols], want_mean[cols], rtol=1e-15, atol=0)
    assert not np.isnan(out).any()


def test_impute_mean_without_missing_is_a_no_op():
    block = np.array([[0.0, 1.0], [2.0, 1.0]])
    out, n_missing, a1_freq = impute_mean(block.copy())
    np.testing.assert_array_equal(out, block)
    np.testing.assert_array_equal(n_missing, [0, 0])
    np.testing.assert_array_equal(a1_freq, [0.5, 0.5])


# ---------------------------------------------------------------------------
# chromosome codes and variant preselection
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("code,label", [
    ("23", "X"), ("24", "Y"), ("25", "XY"), ("26", "MT"), ("chr1", "1"), ("M", "MT"),
    ("0", "0"), ("scaffold_7", "scaffold_7"), ("01", "1"), ("chrX", "X"), ("chrM", "MT"),
    ("x", "X"), ("mt", "MT"), ("chr23", "X"), ("22", "22"), (" 7 ", "7"), ("XY", "XY"),
])
def test_normalize_chromosome(code, label):
    assert normalize_chromosome(code) == label


def test_parse_chr_spec():
    labels, tokens = parse_chr_spec("1-5,7,X")
    assert labels == {"1", "2", "3", "4", "5", "7", "X"}
    assert tokens == ["1-5", "7", "X"]
    assert parse_chr_spec("22-26")[0] == {"22", "X", "Y", "XY", "MT"}
    assert parse_chr_spec("chr2, 23 ,M")[0] == {"2", "X", "MT"}


@pytest.mark.parametrize("spec,msg", [
    ("", r"names no chromosome"), (",", r"names no chromosome"),
    ("5-1", r"runs backwards"), ("X-Y", r"must be numeric"),
])
def test_parse_chr_spec_errors(spec, msg):
    with pytest.raises(UsageError, match=msg):
        parse_chr_spec(spec)


@pytest.mark.parametrize("spec,want", [
    ("1-5,7,X", [0, 1, 2, 3, 4]),
    ("X", [3, 4]), ("23", [3, 4]),
    ("24-25", [5, 6, 7, 8]), ("Y", [5, 6]), ("XY", [7, 8]),
    ("26", [9]), ("M", [9]), ("0", [10]), ("scaffold_7", [11]), ("chr2", [2]),
])
def test_preselect_variants_chr_on_tiny(spec, want):
    bim = variants_of(TINY + ".bim")
    idx, report = preselect_variants(bim, chr_spec=spec)
    assert idx.tolist() == want
    assert idx.dtype == np.int64
    assert report[0] == "variants in tiny.bim: 12"
    assert report[1] == f"--chr {spec}: kept {len(want)}, removed {12 - len(want)}"


def test_preselect_variants_extract_exclude_counts():
    bim = variants_of(TINY + ".bim")
    idx, report = preselect_variants(bim, chr_spec="1-2", extract={"v0", "v2", "v3", "nope"},
                                     exclude={"v2", "v11"})
    assert idx.tolist() == [0]
    assert report[1] == "--chr 1-2: kept 3, removed 9"
    assert report[2] == "--extract: 4 IDs listed, 3 in tiny.bim; removed 1"
    assert report[3] == "--exclude: 2 IDs listed; removed 1"


def test_preselect_variants_nothing_left():
    bim = variants_of(TINY + ".bim")
    with pytest.raises(InputError, match=r"no variant is left after --chr/--extract/--exclude: "
                                         r"variants in tiny\.bim: 12; --chr 22: kept 0, removed 12"):
        preselect_variants(bim, chr_spec="22")


# ---------------------------------------------------------------------------
# tables: phenotype / covariate files
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("header,sep", [
    (["FID", "IID", "y", "z"], " "), (["FID", "IID", "y", "z"], "\t"),
    (["#FID", "IID", "y", "z"], " "), (["#FID", "IID", "y", "z"], "\t"),
    (["fid", "iid", "y", "z"], "\t"),
])
def test_read_sample_table_header_forms(tmp_path, header, sep):
    vals = [[f"{i}.5", str(-i)] for i in range(TINY_N)]
    path = tiny_table(tmp_path, "p.txt", header, vals, sep=sep)
    t = read_sample_table(path, "phenotype", "PHENO")
    assert t.has_header
    assert t.names == ["y", "z"]
    assert t.n == TINY_N
    assert t.fid.tolist() == TINY_FID and t.iid.tolist() == TINY_IID
    assert t.columns["y"][3] == "3.5" and t.columns["z"][19] == "-19"


@pytest.mark.parametrize("sep", [" ", "\t"])
def test_read_sample_table_without_header(tmp_path, sep):
    vals = [[f"{i}.5", str(-i), "a"] for i in range(TINY_N)]
    path = tiny_table(tmp_path, "p.txt", None, vals, sep=sep)
    t = read_sample_table(path, "phenotype", "PHENO")
    assert not t.has_header
    assert t.names == ["PHENO1", "PHENO2", "PHENO3"]
    assert t.n == TINY_N  # the first line is a sample, not a header
    assert t.iid[0] == "S0" and t.columns["PHENO1"][0] == "0.5"
    c = read_sample_table(path, "covariate", "COVAR")
    assert c.names == ["COVAR1", "COVAR2", "COVAR3"]


def test_missing_codes_tab_separated(tmp_path):
    """NA, nan (any case), an empty tab-separated field, '.', -9 and -9.0 are missing."""
    path = write_text(tmp_path / "m.txt",
                      "FID\tIID\ty\n"
                      "a\t1\t1.5\n" "a\t2\tNA\n" "a\t3\tnan\n" "a\t4\tNaN\n" "a\t5\t\n"
                      "a\t6\t-9\n" "a\t7\t-9.0\n" "a\t8\t.\n" "a\t9\t-9.5\n" "a\t10\t0\n")
    t = read_sample_table(path, "phenotype", "PHENO")
    col = t.columns["y"]
    assert col[4] == ""
    y = parse_numeric(col, ("-9",), path, "y", "phenotype")
    np.testing.assert_array_equal(np.isnan(y), [False] + [True] * 7 + [False, False])
    assert y[0] == 1.5 and y[8] == -9.5 and y[9] == 0.0


def test_custom_missing_code(tmp_path):
    """A custom code replaces -9: -999 (and -999.0) are missing, -9 is a value."""
    vals = np.array(["1", "-999", "-999.0", "-9", "NA"])
    y = parse_numeric(vals, ("-999",), "f", "y", "phenotype")
    np.testing.assert_array_equal(np.isnan(y), [False, True, True, False, True])
    assert y[3] == -9.0
    np.testing.assert_array_equal(missing_mask(vals, ("-999", "1")),
                                  [True, True, True, False, True])


def test_parse_numeric_non_numeric_value():
    vals = np.array(["1.0", "2", "abc", "NA"])
    ids = np.array(["F0 S0", "F0 S1", "F1 S2", "F1 S3"])
    with pytest.raises(InputError, match=r"phenotype 'y' in p\.txt has a non-numeric value 'abc' "
                                         r"\(sample F1 S2\)"):
        parse_numeric(vals, ("-9",), "p.txt", "y", "phenotype", ids=ids)


def test_parse_numeric_non_finite_value():
    with pytest.raises(InputError, match=r"has a non-finite value 'inf'"):
        parse_numeric(np.array(["1", "inf"]), ("-9",), "p.txt", "y", "phenotype")


def test_is_numeric_column():
    assert is_numeric_column(np.array(["1", "NA", "2.5e3", "-9"]), ("-9",))
    assert not is_numeric_column(np.array(["1", "b2"]), ("-9",))


@pytest.mark.parametrize("text,msg", [
    ("", r"phenotype file .* is empty"),
    ("FID IID y\n", r"has a header but no samples"),
    ("FID IID\nF0 S0\n", r"has no columns after FID and IID"),
    ("FID IID y y\nF0 S0 1 2\n", r"duplicated column name\(s\): y"),
    ("FID IID y\nF0 S0 1\nF0 S1\n", r"line 3: expected 3 columns in a phenotype file, found 2"),
    ("FID IID y\nF0 S0 1\nF0 S0 2\n", r"lists 1 sample\(s\) more than once, first: F0 S0"),
])
def test_read_sample_table_errors(tmp_path, text, msg):
    path = write_text(tmp_path / "bad.txt", text)
    with pytest.raises(InputError, match=msg):
        read_sample_table(path, "phenotype", "PHENO")


def test_read_sample_table_missing_file(tmp_path):
    with pytest.raises(InputError, match=r"covariate file not found: .*nope\.txt"):
        read_sample_table(str(tmp_path / "nope.txt"), "covariate", "COVAR")


def test_select_columns(tmp_path):
    path = tiny_table(tmp_path, "p.txt", ["FID", "IID", "a", "b"], [["1", "2"]] * TINY_N)
    t = read_sample_table(path, "phenotype", "PHENO")
    assert select_columns(t, None, None, "phenotype") == ["a", "b"]
    assert select_columns(t, ["b"], None, "phenotype") == ["b"]
    assert select_columns(t, None, 2, "phenotype") == ["b"]
    with pytest.raises(UsageError, match=r"phenotype 'c' not found in .*p\.txt \(columns: a, b\)"):
        select_columns(t, ["c"], None, "phenotype")
    with pytest.raises(UsageError, match=r"phenotype column 3 does not exist: .* has 2 column"):
        select_columns(t, None, 3, "phenotype")
    with pytest.raises(UsageError, match=r"not both"):
        select_columns(t, ["a"], 1, "phenotype")


def test_read_id_list(tmp_path):
    p1 = write_text(tmp_path / "k1.txt", "FID IID\nF0 S0\nF1 S2 extra col\n\nF9 S19\n")
    p2 = write_text(tmp_path / "k2.txt", "#FID\tIID\nF0\tS1\n")
    p3 = write_text(tmp_path / "k3.txt", "F0 S0\n")
    assert read_id_list(p1, "--keep").tolist() == ["F0 S0", "F1 S2", "F9 S19"]
    assert read_id_list(p2, "--keep").tolist() == ["F0 S1"]
    assert read_id_list(p3, "--keep").tolist() == ["F0 S0"]
    bad = write_text(tmp_path / "k4.txt", "F0 S0\nS1\n")
    with pytest.raises(InputError, match=r"line 2: a --remove file needs FID and IID columns"):
        read_id_list(bad, "--remove")
    with pytest.raises(InputError, match=r"--keep file not found"):
        read_id_list(str(tmp_path / "none.txt"), "--keep")


def test_read_variant_list(tmp_path):
    p = write_text(tmp_path / "v.txt", "v1\nv3 extra\n\nv1\n")
    assert read_variant_list(p, "--extract") == {"v1", "v3"}


# ---------------------------------------------------------------------------
# samples: the join
# ---------------------------------------------------------------------------

def test_join_fam_phenotype_report(tiny_fam):
    sel = join_samples(tiny_fam)
    assert sel.n == 19
    assert 3 not in sel.idx.tolist()  # S3 has -9 in .fam column 6
    assert sel.pheno_names == ["fam_pheno"]
    assert sel.report == ["genotype samples (tiny.fam): 20", "missing phenotype 'fam_pheno': dropped 1",
                          "analysed samples: 19"]
    assert sel.y[0, 0] == -0.2053
    np.testing.assert_array_equal(sel.W, np.ones((19, 1)))


def test_join_fam_phenotype_non_numeric(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 3, "F1 S2 0 0 1 abc")
    fam = samples_of(p + ".fam")
    with pytest.raises(InputError, match=r"phenotype 'column 6' in .*t\.fam has a non-numeric "
                                         r"value 'abc' \(sample F1 S2\)"):
        join_samples(fam)


def test_join_pheno_file_non_numeric(tmp_path, tiny_fam):
    vals = [[str(i)] for i in range(TINY_N)]
    vals[7] = ["high"]
    path = tiny_table(tmp_path, "p.txt", ["FID", "IID", "y"], vals)
    t = read_sample_table(path, "phenotype", "PHENO")
    with pytest.raises(InputError, match=r"phenotype 'y' in .*p\.txt has a non-numeric value "
                                         r"'high' \(sample F3 S7\)"):
        join_samples(tiny_fam, pheno_table=t, pheno_names=["y"])


def test_join_pheno_zero_overlap(tmp_path, tiny_fam):
    path = write_text(tmp_path / "p.txt", "FID IID y\n" + "".join(f"Z{i} Q{i} {i}\n"
                                                                   for i in range(12)))
    t = read_sample_table(path, "phenotype", "PHENO")
    with pytest.raises(InputError, match=r"phenotype file .*p\.txt has 0 samples in common with "
                                         r"tiny\.fam \(listed: 12, first: Z0 Q0; still in "
                                         r"analysis before the join: 20; first tiny\.fam ID: "
                                         r"F0 S0\)"):
        join_samples(tiny_fam, pheno_table=t)


def test_join_pheno_partial_overlap_report(tmp_path, tiny_fam):
    vals = [[str(i * 0.5)] if i >= 4 else None for i in range(TINY_N)]
    vals[9] = ["NA"]
    lines = ["FID IID y"] + [f"{TINY_FID[i]} {TINY_IID[i]} {vals[i][0]}"
                             for i in range(TINY_N) if vals[i] is not None]
    lines += ["X1 Y1 3", "X2 Y2 4"]
    path = write_text(tmp_path / "p.txt", "\n".join(lines) + "\n")
    t = read_sample_table(path, "phenotype", "PHENO")
    sel = join_samples(tiny_fam, pheno_table=t)
    assert sel.n == 15
    rep = sel.report
    assert rep[1] == f"phenotype file {path}: 18 samples, 16 match the 20 samples still in the analysis"
    assert rep[2] == ("  dropped 4 sample(s) with no row in the phenotype file "
                      "(first: F0 S0, F0 S1, F1 S2 ...)")
    assert rep[3] == "  2 phenotype row(s) are not in tiny.fam, ignored (first: X1 Y1, X2 Y2)"
    assert rep[4] == "missing phenotype 'y': dropped 1"
    assert rep[-1] == "analysed samples: 15"
    assert sel.idx.tolist() == [i for i in range(4, 20) if i != 9]
    np.testing.assert_array_equal(sel.y[:, 0], [i * 0.5 for i in range(4, 20) if i != 9])


def test_join_pheno_missing_codes_in_file(tmp_path, tiny_fam):
    """The sample join honours NA/nan/empty/-9 and a custom code (which replaces -9)."""
    vals = [[str(float(i))] for i in range(TINY_N)]
    vals[1], vals[2], vals[5], vals[6] = [""], ["nan"], ["-9"], ["-999"]
    path = tiny_table(tmp_path, "p.txt", ["FID", "IID", "y"], vals, sep="\t")
    t = read_sample_table(path, "phenotype", "PHENO")
    default = join_samples(tiny_fam, pheno_table=t)
    assert sorted(set(range(TINY_N)) - set(default.idx.tolist())) == [1, 2, 5]
    custom = join_samples(tiny_fam, pheno_table=t, missing_codes=("-999",))
    assert sorted(set(range(TINY_N)) - set(custom.idx.tolist())) == [1, 2, 6]
    assert custom.y[custom.idx.tolist().index(5), 0] == -9.0


def test_join_constant_phenotype(tmp_path, tiny_fam):
    vals = [["2.5"] for _ in range(TINY_N)]
    vals[0] = ["NA"]
    path = tiny_table(tmp_path, "p.txt", ["FID", "IID", "y"], vals)
    t = read_sample_table(path, "phenotype", "PHENO")
    with pytest.raises(InputError, match=r"phenotype 'y' is constant \(2\.5\) in all 19 analysed "
                                         r"samples"):
        join_samples(tiny_fam, pheno_table=t)


def _covar(tmp_path, tiny_fam, columns: dict, **kw):
    """Write a covariate file (header FID IID names...) over tiny and join it."""
    names = list(columns)
    vals = [[str(columns[nm][i]) for nm in names] for i in range(TINY_N)]
    path = tiny_table(tmp_path, "c.txt", ["FID", "IID"] + names, vals)
    t = read_sample_table(path, "covariate", "COVAR")
    return join_samples(tiny_fam, covar_table=t, **kw)


def test_join_covariates_quantitative_and_categorical(tmp_path, tiny_fam):
    age = [30 + 1.5 * i for i in range(TINY_N)]
    grp = [["b", "a", "c"][i % 3] for i in range(TINY_N)]
    code = [[10, 2, 3][(i // 2) % 3] for i in range(TINY_N)]
    sel = _covar(tmp_path, tiny_fam, {"age": age, "grp": grp, "code": code})
    # numeric -> one column; strings -> dummies, first sorted level ('a') the baseline
    assert sel.covar_names == ["intercept", "age", "grp=b", "grp=c", "code"]
    idx = sel.idx
    np.testing.assert_array_equal(sel.W[:, 0], 1.0)
    np.testing.assert_array_equal(sel.W[:, 1], np.array(age)[idx])
    np.testing.assert_array_equal(sel.W[:, 2], (np.array(grp)[idx] == "b").astype(float))
    np.testing.assert_array_equal(sel.W[:, 3], (np.array(grp)[idx] == "c").astype(float))
    np.testing.assert_array_equal(sel.W[:, 4], np.array(code, float)[idx])
    assert "categorical covariate 'grp': 3 levels, baseline 'a'" in sel.report


def test_join_cat_covar_forces_numeric_column(tmp_path, tiny_fam):
    code = [[1, 2, 3][(i // 2) % 3] for i in range(TINY_N)]
    sel = _covar(tmp_path, tiny_fam, {"code": code}, cat_covar=("code",))
    assert sel.covar_names == ["intercept", "code=2", "code=3"]
    np.testing.assert_array_equal(sel.W[:, 1], (np.array(code)[sel.idx] == 2).astype(float))
    assert "categorical covariate 'code': 3 levels, baseline '1'" in sel.report


def test_join_cat_covar_unknown_name(tmp_path, tiny_fam):
    with pytest.raises(UsageError, match=r"--cat-covar names 'sex', which is not among the "
                                         r"covariates used \(age\)"):
        _covar(tmp_path, tiny_fam, {"age": list(range(TINY_N))}, cat_covar=("sex",))


def test_join_categorical_single_level(tmp_path, tiny_fam):
    with pytest.raises(InputError, match=r"categorical covariate 'batch' has a single level "
                                         r"\('b1'\) among the 19 analysed samples"):
        _covar(tmp_path, tiny_fam, {"age": list(range(TINY_N)), "batch": ["b1"] * TINY_N})


def test_join_categorical_single_level_after_missing(tmp_path, tiny_fam):
    """Levels are counted over the analysed samples only."""
    batch = ["b1"] * TINY_N
    batch[3] = "b2"  # S3 has no phenotype, so b2 vanishes from the analysis
    with pytest.raises(InputError, match=r"'batch' has a single level \('b1'\)"):
        _covar(tmp_path, tiny_fam, {"batch": batch})


def test_join_collinear_covariates(tmp_path, tiny_fam):
    age = [20.0 + i for i in range(TINY_N)]
    months = [12 * a for a in age]
    with pytest.raises(InputError, match=r"covariate 'months' is collinear with age in the 19 "
                                         r"analysed samples; drop one of them"):
        _covar(tmp_path, tiny_fam, {"age": age, "months": months})


def test_join_covariate_collinear_with_dummy(tmp_path, tiny_fam):
    grp = [["a", "b"][i % 2] for i in range(TINY_N)]
    isb = [float(i % 2) for i in range(TINY_N)]
    with pytest.raises(InputError, match=r"covariate 'isb' is collinear with grp=b"):
        _covar(tmp_path, tiny_fam, {"grp": grp, "isb": isb})


def test_join_constant_covariate(tmp_path, tiny_fam):
    with pytest.raises(InputError, match=r"covariate 'site' is constant \(5\) in the 19 analysed "
                                         r"samples"):
        _covar(tmp_path, tiny_fam, {"age": list(range(TINY_N)), "site": [5] * TINY_N})


def test_check_covariates_affine_combination_names_both():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=30), rng.normal(size=30)
    W = np.column_stack([np.ones(30), a, b, 1 + 2 * a - b])
    with pytest.raises(InputError, match=r"covariate 'c' is collinear with a, b"):
        check_covariates(W, ["intercept", "a", "b", "c"])
    check_covariates(W[:, :3], ["intercept", "a", "b"])  # no error


def test_join_missing_covariate_dropped_and_counted(tmp_path, tiny_fam):
    age = [str(30 + i) for i in range(TINY_N)]
    age[0], age[10] = "NA", "-9"
    sel = _covar(tmp_path, tiny_fam, {"age": age})
    assert sel.n == 17
    assert "missing covariate 'age': dropped 2" in sel.report
    assert 0 not in sel.idx and 10 not in sel.idx


def test_join_keep_remove_report(tmp_path, tiny_fam):
    keep = read_id_list(write_text(tmp_path / "keep.txt", "FID IID\n" + "".join(
        f"{TINY_FID[i]} {TINY_IID[i]}\n" for i in range(14)) + "Q Q\n"), "--keep")
    remove = read_id_list(write_text(tmp_path / "rm.txt", "F0 S0\nF6 S13\nF9 S19\n"), "--remove")
    sel = join_samples(tiny_fam, keep=keep, remove=remove)
    assert sel.report[:3] == ["genotype samples (tiny.fam): 20",
                              "--keep: 15 IDs, 14 in tiny.fam; dropped 6 samples not listed",
                              "--remove: 3 IDs, removed 2 samples"]
    assert "missing phenotype 'fam_pheno': dropped 1" in sel.report
    assert sel.report[-1] == "analysed samples: 11"
    assert sel.idx.tolist() == [1, 2] + list(range(4, 13))


def test_join_keep_no_overlap(tiny_fam):
    with pytest.raises(InputError, match=r"--keep list has 0 samples in common with tiny\.fam "
                                         r"\(listed: 2, first: X 1, X 2; tiny\.fam: 20 "
                                         r"samples\)"):
        join_samples(tiny_fam, keep=IdList(np.array(["X 1", "X 2"])))


def test_join_too_few_samples(tiny_fam):
    keep = IdList(np.array([f"{TINY_FID[i]} {TINY_IID[i]}" for i in range(10)]))
    with pytest.raises(InputError, match=r"only 9 samples left after the sample join \(minimum 10\)"):
        join_samples(tiny_fam, keep=keep)


def test_join_sim_tables():
    """The bundled sim.pheno / sim.covar (tab-separated, header FID IID): batch is
    categorical (b1 baseline), age and bmi quantitative; every drop is counted."""
    fam = samples_of(SIM + ".fam")
    ph = read_sample_table(SIM + ".pheno", "phenotype", "PHENO")
    cv = read_sample_table(SIM + ".covar", "covariate", "COVAR")
    assert ph.names == ["trait", "trait2"] and cv.names == ["age", "bmi", "batch"]
    sel = join_samples(fam, pheno_table=ph, pheno_names=["trait"], covar_table=cv)
    assert sel.covar_names == ["intercept", "age", "bmi", "batch=b2", "batch=b3"]
    assert "categorical covariate 'batch': 3 levels, baseline 'b1'" in sel.report
    assert sel.report[-1] == f"analysed samples: {sel.n}"
    dropped = sum(int(m.group(1)) for ln in sel.report
                  for m in [re.search(r"dropped (\d+)", ln)] if m)
    assert sel.n + dropped == fam.n
    assert not np.isnan(sel.y).any() and not np.isnan(sel.W).any()


def test_join_without_phenotype(tiny_fam):
    sel = join_samples(tiny_fam, need_phenotype=False)
    assert sel.n == TINY_N and sel.y.shape == (TINY_N, 0)


# ---------------------------------------------------------------------------
# qc
# ---------------------------------------------------------------------------

def _qc(columns, filters=VariantFilters()):
    """QC as the scans run it: int8 block (NaN -> -127), counts, filters."""
    block = np.column_stack([np.asarray(c, dtype=float) for c in columns])
    blk = int8_block(np.where(np.isnan(block), -127, block).astype(np.int8))
    return variant_qc_counts(block.shape[0], blk.n_missing, blk.allele_freq, blk.constant, filters)


def test_variant_qc_all_missing_is_removed_not_an_error():
    nan = np.nan
    good = [0, 1, 2, 1] * 5
    passed, reason = _qc([good, [nan] * 20, good])
    assert passed.tolist() == [True, False, True]
    assert FILTER_NAMES[reason[1]] == "all_missing"
    counts = summarize_reasons(reason)
    assert counts == {"all_missing": 1, "geno": 0, "monomorphic": 0, "maf": 0, "mac": 0,
                      "info": 0}
    lines = qc_report_lines(counts, VariantFilters(), 3, int(passed.sum()))
    assert "  all calls missing: removed 1" in lines
    assert lines[-1] == "  variants passing QC: 2"


def test_variant_qc_all_missing_on_tiny_block(tmp_path):
    """A variant with every call missing, written with write_plink and read back."""
    bed = BedFile(TINY)
    X = bed.read(None, slice(None))
    bed.close()
    g = np.where(np.isnan(X), -127, X).astype(np.int8)
    g[:, 5] = -127
    p = str(tmp_path / "am")
    fam, bim = read_fam(TINY + ".fam"), read_bim(TINY + ".bim")
    write_plink(p, g, fam.fid, fam.iid, fam.father, fam.mother, fam.sex, fam.pheno,
                bim.chromosome, bim.snp, bim.cm, bim.bp, bim.a1, bim.a2)
    bed = BedFile(p)
    block = bed.read(None, slice(None))
    bed.close()
    assert np.isnan(block[:, 5]).all()
    block, n_missing, a1_freq = impute_mean(block)
    assert n_missing[5] == TINY_N and np.isnan(a1_freq[5])
    bed = BedFile(p)
    blk = int8_block(bed.read_int8(None, slice(None)))
    bed.close()
    assert np.array_equal(blk.n_missing, n_missing)
    passed, reason = variant_qc_counts(TINY_N, blk.n_missing, blk.allele_freq, blk.constant,
                                       VariantFilters(maf=0.0, geno=1.0))
    assert not passed[5] and FILTER_NAMES[reason[5]] == "all_missing"
    assert summarize_reasons(reason)["all_missing"] == 1


def test_variant_qc_thresholds_and_order():
    nan = np.nan
    base = [0, 1, 2, 1] * 5
    one_missing = [nan] + base[1:]            # rate 0.05: equal passes
    two_missing = [nan, nan] + base[2:]       # rate 0.10 > 0.05
    mono = [1] * 20
    mono_two_missing = [nan, nan] + [1] * 18  # fails geno first
    one_het = [1] + [0] * 19                  # A1 freq 1/40 = 0.025, MAC 1
    passed, reason = _qc([base, one_missing, two_missing, mono, mono_two_missing, one_het],
                         VariantFilters(maf=0.025, geno=0.05))
    names = [FILTER_NAMES[r] if r >= 0 else "pass" for r in reason]
    assert names == ["pass", "pass", "geno", "monomorphic", "geno", "pass"]
    _, reason = _qc([one_het], VariantFilters(maf=0.03))
    assert FILTER_NAMES[reason[0]] == "maf"
    _, reason = _qc([one_het], VariantFilters(maf=0.0, mac=2))
    assert FILTER_NAMES[reason[0]] == "mac"
    passed, _ = _qc([one_het], VariantFilters(maf=0.0, mac=1))
    assert passed.tolist() == [True]


@pytest.mark.parametrize("kw,msg", [
    (dict(maf=0.5), r"--maf must be in \[0, 0\.5\), got 0\.5"),
    (dict(maf=-0.1), r"--maf must be in"),
    (dict(geno=1.5), r"--geno must be in \[0, 1\], got 1\.5"),
    (dict(mac=-1), r"--mac must be >= 0, got -1"),
])
def test_variant_filters_validation(kw, msg):
    with pytest.raises(UsageError, match=msg):
        VariantFilters(**kw)


def test_qc_report_lines_counts():
    counts = {"all_missing": 2, "geno": 3, "monomorphic": 4, "maf": 5, "mac": 6}
    lines = qc_report_lines(counts, VariantFilters(maf=0.05, geno=0.1, mac=3), 30, 10)
    text = "\n".join(lines)
    for pat in [r"30 variants read", r"all calls missing: removed 2",
                r"--geno 0\.1 \(missing-call rate\): removed 3", r"monomorphic: removed 4",
                r"--maf 0\.05: removed 5", r"--mac 3: removed 6", r"variants passing QC: 10"]:
        assert re.search(pat, text), pat
