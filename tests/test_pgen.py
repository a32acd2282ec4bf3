"""PLINK 2 .pgen input (--pfile), hard calls.

The bundled simulation is written as a .pgen by pgenlib's own writer (ALT =
the .bim's A1, as ``plink2 --make-pgen`` does from a .bed), so the same
genotypes reach the pipeline through two independent readers: the project's
.bed decoder and pgenlib.  Blocks, kinships and exact scans must then be
identical, byte for byte.  Where ``plink2`` is installed, its own conversion
is checked the same way.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess

import numpy as np
import pytest

from conftest import SIM, TINY, run_cli

from gwaslmm.errors import InputError
from gwaslmm.genotypes.plink1 import BedFile
from gwaslmm.genotypes.plink2 import PgenFile

pgenlib = pytest.importorskip("pgenlib")

DOSAGE_REF = os.path.join(os.path.dirname(SIM), "reference", "dosage")
BGEN_REF = os.path.join(os.path.dirname(SIM), "reference", "bgen")


def write_pgen(bfile: str, prefix: str, psam_header: str = "#FID\tIID\tSEX\tPHENO1",
               variants=None) -> None:
    """The fileset ``bfile`` as .pgen/.pvar/.psam (ALT = A1, REF = A2)."""
    bed = BedFile(bfile)
    G = bed.read_int8(None, slice(None))  # (n, m), -127 missing
    idx = np.arange(bed.n_snps) if variants is None else np.asarray(variants)
    rows = np.ascontiguousarray(np.where(G[:, idx] < 0, -9, G[:, idx]).T.astype(np.int8))
    with pgenlib.PgenWriter(f"{prefix}.pgen".encode(), bed.n_samples, variant_ct=idx.size,
                            nonref_flags=True) as w:
        w.append_biallelic_batch(rows)
    b = bed.bim
    with open(f"{prefix}.pvar", "w") as fh:
        fh.write("##fileformat=PVARv1.0\n#CHROM\tPOS\tID\tREF\tALT\n")
        for j in idx:
            fh.write(f"{b.chromosome[j]}\t{b.bp[j]}\t{b.snp[j]}\t{b.a2[j]}\t{b.a1[j]}\n")
    f = bed.fam
    with open(f"{prefix}.psam", "w") as fh:
        fh.write(psam_header + "\n")
        for i in range(bed.n_samples):
            cells = {"#FID": f.fid[i], "FID": f.fid[i], "IID": f.iid[i], "#IID": f.iid[i],
                     "SEX": f.sex[i], "PHENO1": f.phenotypes[0][i]}
            fh.write("\t".join(cells[c] for c in psam_header.split("\t")) + "\n")


@pytest.fixture(scope="module")
def sim_pgen(tmp_path_factory):
    prefix = str(tmp_path_factory.mktemp("pgen") / "sim")
    write_pgen(SIM, prefix)
    return prefix


@pytest.mark.parametrize("dosages", [False, True])
def test_blocks_equal_the_bed_decoder(sim_pgen, dosages):
    """Hard calls (int8) and the same calls read as dosages (float32, NaN
    missing) give the .bed decoder's values, counts and filled columns."""
    bed, pg = BedFile(SIM), PgenFile(sim_pgen, dosages=dosages)
    pg.dosages = dosages  # a hard-call file: force the dosage path to test it
    assert pg.samples.iid.tolist() == bed.samples.iid.tolist()
    assert pg.variants.effect_allele.tolist() == bed.variants.effect_allele.tolist()
    rng = np.random.default_rng(3)
    subset = np.sort(rng.choice(bed.n_samples, 700, replace=False))
    for samples in (None, subset):
        for snps in (slice(0, 4096), slice(4090, 4200), np.array([0, 1, 5, 9000, 9999])):
            a, b = bed.read_block(samples, snps), pg.read_block(samples, snps)
            G = np.where(np.isnan(b.G), -127, b.G).astype(np.int8) if dosages else b.G
            assert b.G.dtype == (np.float32 if dosages else np.int8)
            np.testing.assert_array_equal(a.G, G)
            np.testing.assert_array_equal(a.n_missing, b.n_missing)
            np.testing.assert_array_equal(a.allele_freq, b.allele_freq)
            np.testing.assert_array_equal(a.constant, b.constant)
            assert b.n_missing.sum() > 0  # missing calls are exercised
            k = a.G.shape[1]
            cols = np.arange(0, k, 2)
            p = a.allele_freq[cols]
            kw = dict(center=2 * p, scale=1 / np.sqrt(2 * p * (1 - p) + 1e-12),
                      missing_value=np.zeros(cols.size))
            fa = a.fill(cols, np.empty((a.G.shape[0], k), order="F"), **kw)
            fb = b.fill(cols, np.empty((a.G.shape[0], k), order="F"), **kw)
            np.testing.assert_array_equal(fa, fb)
    pg.close()


@pytest.mark.parametrize("hard", [[], ["--hard-calls"]])
def test_grm_and_exact_scan_identical_to_bfile(sim_pgen, tmp_path, hard):
    common = ["--pheno", SIM + ".pheno", "--pheno-name", "trait", "--covar", SIM + ".covar",
              "--test", "all", "--chr", "8"]
    for flag, src, out in (("--bfile", SIM, "b"), ("--pfile", sim_pgen, "p")):
        extra = hard if flag == "--pfile" else []
        r = run_cli(["grm", flag, src, *extra, "--out", tmp_path / out])
        assert r.exit_code == 0, r.output
        r = run_cli(["assoc", flag, src, *extra, *common, "--out", tmp_path / out])
        assert r.exit_code == 0, r.output
    for suffix in (".grm.bin", ".grm.N.bin", ".grm.id", ".samples.tsv"):
        assert (tmp_path / f"b{suffix}").read_bytes() == (tmp_path / f"p{suffix}").read_bytes()
    with gzip.open(tmp_path / "b.assoc.tsv.gz") as fb, gzip.open(tmp_path / "p.assoc.tsv.gz") as fp:
        tb, tp = fb.read(), fp.read()
    assert tb == tp and tb.count(b"\n") > 500
    assert "ALT" in (tmp_path / "p.log").read_text()


def test_hard_call_files_are_read_as_hard_calls(sim_pgen, tmp_path):
    """A .pgen without dosage data (pgenlib's writer, plink2 from a .bed) is
    read through the 4x faster hard-call path; one with dosages is not."""
    from gwaslmm.genotypes.plink2 import may_have_dosages

    assert not may_have_dosages(sim_pgen + ".pgen") and not PgenFile(sim_pgen).dosages
    assert may_have_dosages(os.path.join(DOSAGE_REF, "dose.pgen"))
    r = run_cli(["grm", "--pfile", sim_pgen, "--out", tmp_path / "g"])
    assert r.exit_code == 0 and "the .pgen stores no dosages" in (tmp_path / "g.log").read_text()


def test_fam_phenotype_and_iid_only_psam(tmp_path):
    """The .psam's PHENO1 is the phenotype when no --pheno is given, as the
    .fam's column 6 is; a '#IID' .psam (no FID) reads too."""
    write_pgen(TINY, str(tmp_path / "t"), psam_header="#IID\tSEX\tPHENO1")
    pg = PgenFile(str(tmp_path / "t"))
    bed = BedFile(TINY)
    assert pg.samples.iid.tolist() == bed.samples.iid.tolist()
    assert pg.samples.phenotypes[0].tolist() == bed.samples.phenotypes[0].tolist()
    assert pg.variants.chromosome.tolist() == bed.variants.chromosome.tolist()


@pytest.mark.parametrize("damage,pattern", [
    ("pvar_line", r"holds 1000 samples x 10000 variants, but .* 9999 variants"),
    ("psam_line", r"holds 1000 samples .* lists 999 samples"),
    ("truncate", r"not a readable \.pgen"),
    ("zst", r"d\.pvar\.zst: not a readable zstd file"),
])
def test_mismatched_or_damaged_filesets_are_one_line(sim_pgen, tmp_path, damage, pattern):
    prefix = str(tmp_path / "d")
    for ext in (".pgen", ".pvar", ".psam"):
        shutil.copy(sim_pgen + ext, prefix + ext)
    if damage in ("pvar_line", "psam_line"):
        path = prefix + (".pvar" if damage == "pvar_line" else ".psam")
        with open(path) as fh:
            lines = fh.read().splitlines()
        del lines[5]
        with open(path, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    elif damage == "truncate":
        with open(prefix + ".pgen", "r+b") as fh:
            fh.truncate(os.path.getsize(prefix + ".pgen") // 2)
    else:  # a .pvar renamed, not compressed
        os.rename(prefix + ".pvar", prefix + ".pvar.zst")
    with pytest.raises(InputError, match=pattern):
        PgenFile(prefix)
    r = run_cli(["grm", "--pfile", prefix, "--out", tmp_path / "o"])
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert not (tmp_path / "o.grm.bin").exists()


def test_multiallelic_variants_are_skipped_and_counted(tmp_path):
    """plink2's .pgen of a VCF with a tri-allelic site between two biallelic
    ones (testdata/reference/bgen/multi.*): the site is skipped, counted in the
    log, and the others read as their calls."""
    prefix = os.path.join(BGEN_REF, "multi")
    pg = PgenFile(prefix)
    assert pg.variants.id.tolist() == ["v1", "v3"]
    assert "1 multi-allelic variant(s) skipped (first: v2, ALT C,T)" in pg.notes[0]
    for idx in (slice(0, 2), np.array([1]), np.array([0, 1])):
        G = pg.read_block(None, idx).G
        want = np.tile(np.array([[0, 1, 2, 1], [2, 0, 1, 1]]).T, (3, 1))[:, np.arange(2)[idx]]
        np.testing.assert_array_equal(G, want)
    r = run_cli(["grm", "--pfile", prefix, "--maf", "0", "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    assert "note: 1 multi-allelic variant(s) skipped" in (tmp_path / "g.log").read_text()


def test_a_zstd_pvar_reads_like_the_plain_one(sim_pgen, tmp_path):
    """plink2's 'vzs' (.pvar.zst, here in several frames) is read where there
    is no .pvar, with the same variants."""
    import zstandard

    prefix = str(tmp_path / "z")
    shutil.copy(sim_pgen + ".pgen", prefix + ".pgen")
    shutil.copy(sim_pgen + ".psam", prefix + ".psam")
    with open(sim_pgen + ".pvar", "rb") as fh:
        text = fh.read()
    half = text.index(b"\n", len(text) // 2) + 1
    c = zstandard.ZstdCompressor()
    with open(prefix + ".pvar.zst", "wb") as fh:
        fh.write(c.compress(text[:half]) + c.compress(text[half:]))
    a, b = PgenFile(sim_pgen).variants, PgenFile(prefix).variants
    assert b.source.endswith(".pvar.zst")
    for f in ("chromosome", "position", "id", "effect_allele", "other_allele"):
        np.testing.assert_array_equal(getattr(a, f), getattr(b, f))


def test_bfile_and_pfile_one_of_them(sim_pgen, tmp_path):
    for args in ([], ["--bfile", SIM, "--pfile", sim_pgen]):
        r = run_cli(["grm", *args, "--out", tmp_path / "o"])
        assert r.exit_code == 2 and "--bfile PREFIX" in r.output and "--pfile PREFIX" in r.output


@pytest.mark.skipif(shutil.which("plink2") is None, reason="plink2 not installed")
def test_plink2_conversion_gives_identical_kinship(tmp_path):
    """plink2's own .bed -> .pgen conversion (A1 -> ALT, a zstd .pvar) reads the same."""
    subprocess.run(["plink2", "--bfile", SIM, "--make-pgen", "vzs", "--out", str(tmp_path / "c")],
                   check=True, capture_output=True)
    assert (tmp_path / "c.pvar.zst").exists()
    for flag, src, out in (("--bfile", SIM, "b"), ("--pfile", tmp_path / "c", "p")):
        r = run_cli(["grm", flag, src, "--out", tmp_path / out])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "b.grm.bin").read_bytes() == (tmp_path / "p.grm.bin").read_bytes()


def test_dosages_are_read_and_counted(tmp_path):
    """True dosages written with pgenlib come back (to pgenlib's 2^-14 grid),
    with counts and fills equal to the plain-numpy references, and the
    kinship equals a dense numpy computation on the dosages."""
    from gwaslmm.genotypes.dosage import dosage_block_reference, dosage_fill_reference

    rng = np.random.default_rng(11)
    n, m = 150, 300
    p = rng.uniform(0.05, 0.5, m)
    D = np.clip(rng.binomial(2, p, (n, m)) + rng.normal(0, 0.2, (n, m)), 0, 2)
    D[rng.random((n, m)) < 0.03] = np.nan
    D[:, 7] = 1.25  # constant
    prefix = str(tmp_path / "d")
    with pgenlib.PgenWriter(f"{prefix}.pgen".encode(), n, variant_ct=m, nonref_flags=False,
                            dosage_present=True) as w:
        w.append_dosages_batch(np.ascontiguousarray(np.where(np.isnan(D), -9, D).T))
    with open(prefix + ".pvar", "w") as fh:
        fh.write("#CHROM\tPOS\tID\tREF\tALT\n")
        fh.writelines(f"1\t{j + 1}\tv{j}\tA\tG\n" for j in range(m))
    with open(prefix + ".psam", "w") as fh:
        fh.write("#IID\tSEX\n")
        fh.writelines(f"s{i}\t1\n" for i in range(n))
    pg = PgenFile(prefix)
    assert pg.dosages and not PgenFile(prefix, dosages=False).dosages
    blk = pg.read_block(None, slice(0, m))
    np.testing.assert_array_equal(np.isnan(blk.G), np.isnan(D))
    assert np.nanmax(np.abs(blk.G - D)) <= 2 ** -14
    ref = dosage_block_reference(blk.G)
    np.testing.assert_array_equal(blk.n_missing, ref.n_missing)
    np.testing.assert_allclose(blk.allele_freq, ref.allele_freq, rtol=1e-12)
    np.testing.assert_array_equal(blk.constant, ref.constant)
    assert blk.constant[7] and blk.constant.sum() == 1
    # MaCH R2: the numba sums against numpy, and against its definition
    np.testing.assert_allclose(blk.info, ref.info, rtol=1e-9)
    d = blk.G[:, 0][~np.isnan(blk.G[:, 0])].astype(np.float64)
    assert abs(blk.info[0] - d.var() / (2 * (d.mean() / 2) * (1 - d.mean() / 2))) < 1e-9
    assert abs(blk.info[7]) < 1e-12 and 0.8 < np.median(blk.info) < 1.2  # 1.25 for all: no information
    cols = np.array([0, 3, 299])
    got = blk.fill(cols, np.empty((n, 3), order="F"))
    np.testing.assert_allclose(got, dosage_fill_reference(blk, cols), rtol=1e-12)
    # the standardized kinship over the variants that pass QC, densely
    r = run_cli(["grm", "--pfile", prefix, "--maf", "0.05", "--out", tmp_path / "k"])
    assert r.exit_code == 0, r.output
    from gwaslmm.kinship_io import read_gcta_grm

    K = read_gcta_grm(str(tmp_path / "k")).K
    X = blk.G.astype(np.float64)
    f = np.nanmean(X, axis=0) / 2
    ok = (np.isnan(X).mean(0) <= 0.05) & (np.minimum(f, 1 - f) >= 0.05) & ~blk.constant
    Z = (np.where(np.isnan(X), 2 * f, X)[:, ok] - 2 * f[ok]) / np.sqrt(2 * f[ok] * (1 - f[ok]))
    np.testing.assert_allclose(K, Z @ Z.T / ok.sum(), atol=2e-6)


@pytest.mark.parametrize("source", [
    ["--pfile", os.path.join(DOSAGE_REF, "dose")],
    ["--bgen", os.path.join(BGEN_REF, "dose.b16.bgen"), "--sample",
     os.path.join(BGEN_REF, "dose.b16.sample")]], ids=["pgen", "bgen"])
def test_exact_scan_on_dosages_agrees_with_gemma(tmp_path, source):
    """`assoc --test all` on a dosage .pgen (made by plink2 from a VCF's DS
    field), and on that .pgen exported by plink2 as BGEN 1.2 (16-bit),
    against GEMMA 0.98.5 -lmm 4 on the same dosages in BIMBAM format,
    GEMMA's -gk 1 kinship given to both (testdata/reference/dosage, commands
    in make_dosage_reference.sh; ../bgen/make_bgen.sh).  Tolerances: GEMMA
    prints 7 significant digits; se and the p-values agree to 1e-4 relative,
    beta to 1e-4 relative or 1e-4 of its SE where beta is near 0 (the BGEN's
    16-bit probabilities move dosages by at most 3e-5)."""
    kin = tmp_path / "k.cXX.txt"
    with gzip.open(os.path.join(DOSAGE_REF, "gemma_gk1.cXX.txt.gz")) as fh:
        kin.write_bytes(fh.read())
    r = run_cli(["assoc", *source, "--pheno",
                 os.path.join(DOSAGE_REF, "dose.pheno"), "--pheno-name", "trait", "--kinship",
                 kin, "--test", "all", "--no-gzip", "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    from gwaslmm.results import numeric, read_columns

    ours = read_columns(str(tmp_path / "g.assoc.tsv"))
    with gzip.open(os.path.join(DOSAGE_REF, "gemma_lmm4.assoc.txt.gz"), "rt") as fh:
        head, *rows = [ln.split() for ln in fh]
    ref = {h: np.array([row[k] for row in rows]) for k, h in enumerate(head)}
    pos = {v: i for i, v in enumerate(ours["variant_id"])}
    at = np.array([pos[v] for v in ref["rs"]])
    assert at.size == 500
    col = {"se": "standard_error", "p_wald": "p_wald", "p_lrt": "p_lrt", "p_score": "p_score"}
    for g, o in col.items():
        want = ref[g].astype(float)
        got = numeric(ours[o])[at]
        np.testing.assert_allclose(got, want, rtol=1e-4, err_msg=g)
    beta, se = ref["beta"].astype(float), ref["se"].astype(float)
    got = numeric(ours["beta"])[at]
    assert np.all((np.abs(got - beta) <= 1e-4 * np.abs(beta)) | (np.abs(got - beta) <= 1e-4 * se))
    assert (ref["allele1"] == ours["effect_allele"][at]).all()


def test_psam_with_ids_only(tmp_path):
    """A .psam may hold the IDs alone ('#FID IID' or '#IID'): valid PLINK 2."""
    for header in ("#FID\tIID", "#IID"):
        write_pgen(TINY, str(tmp_path / "t"), psam_header=header)
        pg = PgenFile(str(tmp_path / "t"))
        assert pg.samples.iid.tolist() == BedFile(TINY).samples.iid.tolist()
        assert pg.samples.phenotypes == ()


@pytest.mark.parametrize("dosages", [False, True])
def test_threaded_reads_equal_one_reader(sim_pgen, dosages):
    """A block read in parts by several pgenlib readers at once equals the
    one-reader read (values and counts), for all samples and a subset."""
    pg = PgenFile(sim_pgen)
    pg.dosages = dosages
    sub = np.arange(0, 1000, 3)
    for samples in (None, sub):
        a = pg.read_block(samples, slice(100, 2100), threads=1)
        b = pg.read_block(samples, slice(100, 2100), threads=3)
        np.testing.assert_array_equal(a.G, b.G)
        np.testing.assert_array_equal(a.n_missing, b.n_missing)
        np.testing.assert_array_equal(a.allele_freq, b.allele_freq)
    pg.close()
