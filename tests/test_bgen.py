"""BGEN input (--bgen, --sample).

Two independent sources of truth: files plink2 wrote from the bundled
simulation (testdata/reference/bgen, commands in make_bgen.sh), which must
give the .bed's results exactly (hard calls survive every probability
precision), and files written here by a small BGEN writer with known
probabilities (phased, haploid, missing, 1-32 bits, layouts 1 and 2,
uncompressed/zlib/zstd), decoded by the numba kernel and by the plain-numpy
reference decoder.
"""

from __future__ import annotations

import gzip
import os
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest

from conftest import SIM, run_cli

from gwaslmm.errors import InputError
from gwaslmm.genotypes.bgen import BgenFile, impute_info, read_oxford_sample
from gwaslmm.genotypes.bgen_kernels import bgen_decode_reference, bgen_index_reference
from gwaslmm.genotypes.plink1 import BedFile

REF = os.path.join(os.path.dirname(SIM), "reference", "bgen")


def ref(name):
    return os.path.join(REF, name)


# ---------------------------------------------------------------------------
# a small BGEN writer with known probabilities
# ---------------------------------------------------------------------------

def _pack(values: np.ndarray, bits: int) -> bytes:
    """Unsigned ints, ``bits`` wide each, packed little-endian (the spec's order)."""
    out = np.zeros(len(values) * bits, np.uint8)
    for b in range(bits):
        out[b::bits] = (values >> b) & 1
    return np.packbits(out, bitorder="little").tobytes()


def write_bgen(path, probs, *, layout=2, bits=16, comp=1, phased=False, ploidy=None,
               missing=None, ids=None, alleles=None, n_alleles=None):
    """Write variants of per-sample probabilities: probs (m, n, 2) for layout
    2 unphased diploid (P(AA), P(AB)), phased / haploid (P(A) per haplotype),
    or (m, n, 3) for layout 1.  Returns the file's sample IDs."""
    m, n = probs.shape[0], probs.shape[1]
    ploidy = np.full(n, 2) if ploidy is None else np.asarray(ploidy)
    missing = np.zeros((m, n), bool) if missing is None else missing
    flags = comp | (layout << 2) | ((ids is not None) << 31)
    sample_block = b""
    if ids is not None:
        body = b"".join(struct.pack("<H", len(s)) + s.encode() for s in ids)
        sample_block = struct.pack("<II", 8 + len(body), n) + body
    header = struct.pack("<IIII", 20, m, n, 0x6e656762) + struct.pack("<I", flags)
    out = [struct.pack("<I", 20 + len(sample_block)), header, sample_block]
    for j in range(m):
        vid = f"v{j}".encode()
        al = alleles[j] if alleles else ("A", "G")
        k = len(al) if n_alleles is None else n_alleles[j]
        head = (struct.pack("<I", n) if layout == 1 else b"")
        head += struct.pack("<H", len(vid)) + vid + struct.pack("<H", len(vid) + 2) + b"rs" + vid
        head += struct.pack("<H", 1) + b"1" + struct.pack("<I", 1000 + j)
        if layout == 2:
            head += struct.pack("<H", k)
        for a in al:
            head += struct.pack("<I", len(a)) + a.encode()
        if layout == 1:
            q = np.round(probs[j] * 32768).astype("<u2")
            q[missing[j]] = 0
            data = q.tobytes()
            blob = struct.pack("<I", len(zlib.compress(data))) + zlib.compress(data) if comp \
                else data
        else:
            pb = (ploidy | (missing[j] << 7)).astype(np.uint8)
            vals = []
            for i in range(n):
                z = ploidy[i]
                nv = z if (phased or z == 1) else 2
                vals.extend(probs[j, i, :nv])
            scale = 2 ** bits - 1
            q = np.round(np.array(vals) * scale).astype(np.uint64)
            data = struct.pack("<IHBB", n, k, int(ploidy.min()), int(ploidy.max())) + \
                pb.tobytes() + struct.pack("<BB", int(phased), bits) + _pack(q, bits)
            if comp == 0:
                blob = struct.pack("<I", len(data)) + data
            else:
                if comp == 1:
                    c = zlib.compress(data)
                else:
                    import zstandard

                    c = zstandard.ZstdCompressor().compress(data)
                blob = struct.pack("<II", len(c) + 4, len(data)) + c
        out.append(head + blob)
    with open(path, "wb") as fh:
        fh.write(b"".join(out))


def _random_probs(rng, m, n):
    """(m, n, 2) unphased diploid probabilities P(AA), P(AB)."""
    p = rng.dirichlet([0.6, 0.6, 0.6], size=(m, n))
    return p[:, :, :2]


# ---------------------------------------------------------------------------
# the kernel against the reference decoder and against the true values
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("layout,bits,comp", [(2, 16, 1), (2, 8, 2), (2, 3, 0), (2, 32, 1),
                                              (2, 12, 2), (1, 16, 1), (1, 16, 0)])
def test_decode_matches_reference_and_truth(tmp_path, layout, bits, comp):
    rng = np.random.default_rng(bits + 10 * layout + comp)
    m, n = 7, 41
    p2 = _random_probs(rng, m, n)
    probs = np.concatenate([p2, 1 - p2.sum(axis=2, keepdims=True)], axis=2) if layout == 1 \
        else p2
    missing = rng.random((m, n)) < 0.1
    path = str(tmp_path / "x.bgen")
    ids = [f"s{i}" for i in range(n)]
    write_bgen(path, probs, layout=layout, bits=bits, comp=comp, missing=missing, ids=ids)
    src = BgenFile(path)
    assert src.samples.iid.tolist() == ids and src.variants.m == m
    subset = np.array([0, 3, 4, 17, 40])
    for count_first in (True, False):
        src.count_first = count_first
        for samples in (None, subset):
            blk = src.read_block(samples, slice(None))
            sel = np.arange(n) if samples is None else samples
            # the truth, quantised as written
            scale = 32768.0 if layout == 1 else 2.0 ** bits - 1
            q = np.round(probs * scale) / scale
            if layout == 1:
                want = (q[:, :, 1] + 2 * q[:, :, 2]) / q.sum(axis=2)
            else:
                want = 2 - 2 * q[:, :, 0] - q[:, :, 1]
            want = np.where(missing, np.nan, 2 - want if count_first else want)[:, sel].T
            np.testing.assert_allclose(blk.G, want, rtol=0, atol=3e-7 * max(1, 2 ** (bits - 24)))
            # the reference decoder on the same decompressed blocks
            buf, offs, lens = src._blocks(np.arange(m), 1)
            for j in range(m):
                e, v = bgen_decode_reference(bytes(buf[offs[j]:offs[j] + lens[j]]), layout, n,
                                             count_first)
                np.testing.assert_allclose(blk.G[:, j], e[sel].astype(np.float32), rtol=1e-6,
                                           atol=1e-6)
                present = ~np.isnan(e[sel])
                theta = np.nanmean(e[sel]) / 2
                info = impute_info(np.array([v[sel][present].sum()]), np.array([theta]),
                                   np.array([present.sum()]))
                assert abs(blk.info[j] - info[0]) < 1e-5
            assert (blk.n_missing == missing[:, sel].sum(axis=1)).all()


def test_phased_and_haploid_samples(tmp_path):
    """Phased haplotype probabilities and haploid samples (doubled to 0..2, as
    PLINK codes haploid calls), against the reference decoder."""
    rng = np.random.default_rng(5)
    m, n = 4, 9
    ploidy = np.array([2, 2, 1, 2, 1, 2, 2, 2, 1])
    hap = rng.random((m, n, 2))  # P(first allele) per haplotype
    path = str(tmp_path / "p.bgen")
    write_bgen(path, hap, phased=True, ploidy=ploidy, bits=10, ids=[f"s{i}" for i in range(n)])
    src = BgenFile(path, ref_first=True)
    blk = src.read_block(None, slice(None))
    q = np.round(hap * 1023) / 1023
    want = np.where(ploidy == 1, 2 * (1 - q[:, :, 0]), 2 - q[:, :, 0] - q[:, :, 1]).T
    np.testing.assert_allclose(blk.G, want, atol=1e-6)
    buf, offs, lens = src._blocks(np.arange(m), 1)
    e, _ = bgen_decode_reference(bytes(buf[offs[1]:offs[1] + lens[1]]), 2, n)
    np.testing.assert_allclose(blk.G[:, 1], e, atol=1e-6)


def test_index_kernel_matches_reference():
    src = BgenFile(ref("sim8.b12.bgen"))
    data = Path(ref("sim8.b12.bgen")).read_bytes()
    start = 4 + struct.unpack_from("<I", data, 0)[0]
    rows = bgen_index_reference(data, start, 1250, 2)
    assert [r[1].decode() for r in rows] == src.variants.id.tolist()
    assert [r[3] for r in rows] == src.variants.position.tolist()
    assert [r[4][0].decode() for r in rows] == src.variants.effect_allele.tolist()
    assert [r[5] for r in rows] == src._off.tolist()


# ---------------------------------------------------------------------------
# plink2's files: the .bed's values and results
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("name,ref_first", [("sim8.b12", False), ("sim8.b13", True),
                                            ("sim8.b8", False), ("sim8.b11", False)])
def test_plink2_bgen_blocks_equal_the_bed(name, ref_first):
    """Every layout, precision and compression plink2 writes gives the .bed's
    hard calls, missing calls and counts (INFO 1: no uncertainty)."""
    src = BgenFile(ref(name + ".bgen"), sample_path=ref(name + ".sample"), ref_first=ref_first)
    bed = BedFile(SIM)
    assert src.samples.iid.tolist() == bed.samples.iid.tolist()
    assert src.samples.fid.tolist() == bed.samples.fid.tolist()
    at = {v: i for i, v in enumerate(bed.variants.id)}
    cols = np.array([at[v] for v in src.variants.id])
    assert (src.variants.effect_allele == bed.variants.effect_allele[cols]).all()
    assert (src.variants.position == bed.variants.position[cols]).all()
    rng = np.random.default_rng(1)
    subset = np.sort(rng.choice(1000, 600, replace=False))
    for samples in (None, subset):
        for snps in (slice(0, src.variants.m), np.array([0, 2, 7, src.variants.m - 1])):
            b = src.read_block(samples, snps)
            a = bed.read_block(samples, cols[snps])
            np.testing.assert_array_equal(np.where(np.isnan(b.G), -127, b.G).astype(np.int8), a.G)
            np.testing.assert_array_equal(a.n_missing, b.n_missing)
            np.testing.assert_array_equal(a.allele_freq, b.allele_freq)
            np.testing.assert_array_equal(a.constant, b.constant)
            np.testing.assert_allclose(b.info, 1.0, atol=1e-12)
            assert b.n_missing.sum() > 0


@pytest.fixture(scope="module")
def bed_chr8(tmp_path_factory):
    d = tmp_path_factory.mktemp("bedchr8")
    r = run_cli(["grm", "--bfile", SIM, "--chr", "8", "--out", d / "k"])
    assert r.exit_code == 0, r.output
    return d


@pytest.mark.parametrize("name,extra", [("sim8.b12", []), ("sim8.b13", ["--ref-first"])])
def test_commands_identical_to_bfile(bed_chr8, tmp_path, name, extra):
    """grm, reml and assoc (exact --test all, and --fast) on plink2's BGEN 1.2
    (16-bit zlib) and 1.3 (zstd, REF first) write the bytes the .bed gives
    (plus the info column)."""
    src = ["--bgen", ref(name + ".bgen"), "--sample", ref(name + ".sample"), *extra]
    bed = ["--bfile", SIM, "--chr", "8"]
    ph = ["--pheno", SIM + ".pheno", "--covar", SIM + ".covar"]
    for tag, gen in (("b", bed), ("g", src)):
        for cmd in (["grm"], ["reml", *ph, "--all-pheno"],
                    ["assoc", *ph, "--pheno-name", "trait", "--test", "all", "--grm",
                     bed_chr8 / "k"],
                    ["assoc", *ph, "--pheno-name", "trait2", "--fast", "--grm", bed_chr8 / "k"]):
            out = tmp_path / f"{tag}{cmd[0]}{'f' if '--fast' in cmd else ''}"
            r = run_cli([cmd[0], *gen, *cmd[1:], "--out", out])
            assert r.exit_code == 0, r.output
    for f in ("grm.grm.bin", "grm.grm.id", "reml.reml.tsv", "reml.reml.fixed.tsv",
              "assoc.assoc.tsv.gz", "assocf.assoc.tsv.gz", "assoc.samples.tsv"):
        a, b = (tmp_path / f"b{f}").read_bytes(), (tmp_path / f"g{f}").read_bytes()
        if f.endswith(".gz"):  # the BGEN's rows end with its info column: 1 for hard calls
            a, b = gzip.decompress(a), gzip.decompress(b)
            rows = [ln.rsplit(b"\t", 1) for ln in b.split(b"\n")[:-1]]
            assert rows[0][1] == b"info" and {r[1] for r in rows[1:]} == {b"1"}
            b = b"".join(r[0] + b"\n" for r in rows)
        assert a == b, f
    log = (tmp_path / "gassoc.log").read_text()
    assert ("second allele" if extra else "first allele") in log


def test_hard_calls_threshold(tmp_path):
    """--hard-calls: a dosage within 0.1 of 0, 1 or 2 becomes that call,
    others missing (PLINK 2's --hard-call-threshold 0.1)."""
    p = np.array([[[1.0, 0.0], [0.05, 0.9], [0.0, 0.0], [0.4, 0.4]]])  # dosages 0, 1.05, 2, 0.8
    path = str(tmp_path / "h.bgen")
    write_bgen(path, p, ids=["a", "b", "c", "d"])
    blk = BgenFile(path, ref_first=True, hard_calls=True).read_block(None, slice(None))
    assert blk.G.dtype == np.int8 and blk.G[:, 0].tolist() == [0, 1, 2, -127]


# ---------------------------------------------------------------------------
# samples
# ---------------------------------------------------------------------------

def test_sample_sources(tmp_path):
    """IDs from --sample (ID_1 = FID, ID_2 = IID; all-'0' ID_1 means no FID),
    else the embedded IDs as IIDs; neither is an error."""
    s = read_oxford_sample(ref("dose.b16.sample"))
    assert s.iid[0] == "f0_0" and s.fid[0] == "f0_0"
    emb = BgenFile(ref("sim8.b12.bgen"))
    assert emb.samples.iid[0] == "P0T0_P0T0_fa" and emb.samples.fid[0] == "P0T0_P0T0_fa"
    path = str(tmp_path / "noid.bgen")
    write_bgen(path, np.full((1, 3, 2), 0.5))
    with pytest.raises(InputError, match="stores no sample IDs: give them with --sample"):
        BgenFile(path)
    sp = tmp_path / "x.sample"
    sp.write_text("ID_1 ID_2 missing\n0 0 0\nf1 a 0\nf1 b 0\n")
    with pytest.raises(InputError, match="lists 2 samples but .* holds 3"):
        BgenFile(path, sample_path=str(sp))
    sp.write_text("FID IID\nf1 a\n")
    with pytest.raises(InputError, match="not an Oxford .sample"):
        BgenFile(path, sample_path=str(sp))


def test_fam_style_phenotype_from_sample_file(tmp_path):
    """The .sample's phenotype column (type P) is the phenotype when no --pheno
    is given, as a .fam's column 6."""
    r = run_cli(["reml", "--bgen", ref("sim8.b12.bgen"), "--sample", ref("sim8.b12.sample"),
                 "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    assert "fam_pheno" in (tmp_path / "r.reml.tsv").read_text()


# ---------------------------------------------------------------------------
# bad input: one clear line
# ---------------------------------------------------------------------------

def _copy(tmp_path, name="sim8.b12.bgen") -> str:
    path = str(tmp_path / name)
    with open(ref(name), "rb") as a, open(path, "wb") as b:
        b.write(a.read())
    return path


def test_damaged_files(tmp_path):
    path = _copy(tmp_path)
    data = Path(path).read_bytes()
    Path(path).write_bytes(data[:len(data) // 2])
    with pytest.raises(InputError, match=r"says 1250 variants but the file ends inside variant"):
        BgenFile(path)
    bad = bytearray(data)
    flags_at = 4 + struct.unpack_from("<I", data, 4)[0] - 4
    struct.pack_into("<I", bad, flags_at, (struct.unpack_from("<I", data, flags_at)[0] & ~60)
                     | (3 << 2))
    Path(path).write_bytes(bytes(bad))
    with pytest.raises(InputError, match="BGEN layout 3 with compression code 1 cannot be read"):
        BgenFile(path)
    Path(path).write_bytes(b"not a bgen file at all, no")
    with pytest.raises(InputError, match="not a BGEN file"):
        BgenFile(path)
    # a damaged compressed block: the variant is named
    bad = bytearray(data)
    src = BgenFile(ref("sim8.b12.bgen"))
    o = int(src._off[3])
    bad[o:o + 8] = b"\xff" * 8
    Path(path).write_bytes(bytes(bad))
    with pytest.raises(InputError, match=f"variant {src.variants.id[3]} does not decompress"):
        BgenFile(path).read_block(None, slice(0, 10))


def test_multiallelic_variants_are_skipped_and_counted(tmp_path):
    path = str(tmp_path / "m.bgen")
    probs = np.full((3, 2, 2), 0.25)
    write_bgen(path, probs, ids=["a", "b"], alleles=[("A", "G"), ("A", "G", "T"), ("C", "T")])
    src = BgenFile(path)
    assert src.variants.id.tolist() == ["rsv0", "rsv2"] and src.n_multiallelic == 1
    assert "1 variant(s) with other than two alleles skipped" in src.notes[0]
    blk = src.read_block(None, np.array([1]))
    np.testing.assert_allclose(blk.G[:, 0], 2 - (2 - 2 * 0.25 - 0.25), atol=1e-4)


@pytest.mark.parametrize("args,pattern", [
    (["--bgen", "X.bgen", "--bfile", SIM], "one of --bfile PREFIX"),
    (["--bfile", SIM, "--sample", "x.sample"], "--sample goes with --bgen"),
    (["--bfile", SIM, "--ref-first"], "--ref-first goes with --bgen"),
    (["--bfile", SIM, "--hard-calls"], "--hard-calls goes with --pfile or --bgen"),
    (["--bgen", "nonexistent.bgen"], "BGEN file not found: nonexistent.bgen"),
])
def test_usage_errors(tmp_path, args, pattern):
    r = run_cli(["grm", *args, "--out", tmp_path / "x"])
    assert r.exit_code != 0 and pattern in r.output, r.output
    assert "Traceback" not in r.output


# ---------------------------------------------------------------------------
# imputation quality: the info column and its filters
# ---------------------------------------------------------------------------

DOSE = os.path.join(os.path.dirname(SIM), "reference", "dosage")


def _assoc(tmp_path, name, source, *extra):
    from gwaslmm.results import read_columns

    kin = tmp_path / "k.cXX.txt"
    if not kin.exists():
        with gzip.open(os.path.join(DOSE, "gemma_gk1.cXX.txt.gz")) as fh:
            kin.write_bytes(fh.read())
    r = run_cli(["assoc", *source, "--pheno", os.path.join(DOSE, "dose.pheno"), "--pheno-name",
                 "trait", "--kinship", kin, "--no-gzip", "--out", tmp_path / name, *extra])
    assert r.exit_code == 0, r.output
    return read_columns(str(tmp_path / f"{name}.assoc.tsv")), (tmp_path / f"{name}.log").read_text()


PGEN_DOSE = ["--pfile", os.path.join(DOSE, "dose")]
BGEN_DOSE = ["--bgen", ref("dose.b16.bgen"), "--sample", ref("dose.b16.sample")]


def test_mach_r2_column_equals_plink2(tmp_path):
    """The info column of a dosage .pgen is MaCH R2 over the analysed
    samples: equal to plink2 --freq cols=+machr2 (6 printed digits) when
    every sample is analysed."""
    from gwaslmm.results import numeric

    ours, log = _assoc(tmp_path, "p", PGEN_DOSE, "--maf", "0")
    assert "imputation quality: MaCH R2" in log
    rows = [ln.split("\t") for ln in Path(ref("dose.plink2.afreq")).read_text().splitlines()]
    h = rows[0]
    want = {r[h.index("ID")]: float(r[h.index("MACH_R2")]) for r in rows[1:]}
    got = numeric(ours["info"])
    w = np.array([want[v] for v in ours["variant_id"]])
    assert got.size == 500
    np.testing.assert_allclose(got, w, rtol=5e-6, atol=1e-6)


def test_info_filters_are_counted(tmp_path):
    """--info-min (BGEN) and --minimac-r2-min (.pgen dosages) remove the
    variants below the threshold, counted in the QC report; the rows kept are
    exactly those at or above it."""
    from gwaslmm.results import numeric

    for source, flag, kind in ((BGEN_DOSE, "--info-min", "IMPUTE INFO"),
                               (PGEN_DOSE, "--minimac-r2-min", "MaCH R2")):
        tag = flag.strip("-")
        full, _ = _assoc(tmp_path, f"all-{tag}", source, "--maf", "0")
        info = numeric(full["info"])
        cut = float(np.quantile(info, 0.4))
        kept, log = _assoc(tmp_path, f"cut-{tag}", source, "--maf", "0", flag, str(cut))
        below = int((info < cut - 1e-12).sum())
        assert 0 < below < info.size
        assert f"skipped: {below} by QC (info {below})" in log
        assert kept["variant_id"].tolist() == full["variant_id"][info >= cut - 1e-12].tolist()
        # the kinship's QC report (grm: every sample, as the association here)
        r = run_cli(["grm", *source, "--maf", "0", flag, str(cut), "--out", tmp_path / tag])
        assert r.exit_code == 0, r.output
        assert f"{flag} {cut:g} ({kind}): removed {below}" in (tmp_path / f"{tag}.log").read_text()


@pytest.mark.parametrize("args,pattern", [
    (PGEN_DOSE + ["--info-min", "0.5"], "--info-min filters on IMPUTE INFO"),
    (BGEN_DOSE + ["--minimac-r2-min", "0.5"], "--minimac-r2-min filters on MaCH R2"),
    (BGEN_DOSE + ["--hard-calls", "--info-min", "0.5"], "needs --bgen without --hard-calls"),
    (BGEN_DOSE + ["--info-min", "1.5"], "--info-min must be in [0, 1], got 1.5"),
])
def test_info_filter_usage_errors(tmp_path, args, pattern):
    r = run_cli(["grm", *args, "--out", tmp_path / "x"])
    assert r.exit_code != 0 and pattern in r.output, r.output
    assert "Traceback" not in r.output


def test_bed_output_has_no_info_column(tmp_path):
    r = run_cli(["assoc", "--bfile", SIM, "--chr", "8", "--fast", "--no-gzip", "--out",
                 tmp_path / "b"])
    assert r.exit_code == 0, r.output
    assert "\tinfo" not in (tmp_path / "b.assoc.tsv").read_text().split("\n")[0]


@pytest.mark.parametrize("source", [
    ["--bfile", SIM, "--chr", "8"],
    ["--bgen", ref("sim8.b12.bgen"), "--sample", ref("sim8.b12.sample")]], ids=["bed", "bgen"])
def test_count_other_allele_flips_the_effect(tmp_path, source):
    """--count-other-allele: alleles swap, beta and t change sign, the
    frequency becomes 1 - f; se, p-values, the kinship and QC are unchanged."""
    from gwaslmm.results import numeric, read_columns

    common = ["--pheno", SIM + ".pheno", "--pheno-name", "trait", "--test", "all", "--no-gzip"]
    for tag, extra in (("a", []), ("o", ["--count-other-allele"])):
        r = run_cli(["assoc", *source, *common, *extra, "--out", tmp_path / tag])
        assert r.exit_code == 0, r.output
        r = run_cli(["grm", *source, *extra, "--out", tmp_path / tag])
        assert r.exit_code == 0, r.output
    a, o = (read_columns(str(tmp_path / f"{t}.assoc.tsv")) for t in "ao")
    assert (a["effect_allele"] == o["other_allele"]).all()
    assert (a["other_allele"] == o["effect_allele"]).all()
    for col in ("standard_error", "p_wald", "p_lrt", "p_score", "n_miss"):
        np.testing.assert_allclose(numeric(o[col]), numeric(a[col]), rtol=1e-7, err_msg=col)
    np.testing.assert_allclose(numeric(o["beta"]), -numeric(a["beta"]), rtol=1e-7)
    np.testing.assert_allclose(numeric(o["effect_allele_frequency"]),
                               1 - numeric(a["effect_allele_frequency"]), atol=2e-6)
    assert (tmp_path / "a.grm.bin").read_bytes() == (tmp_path / "o.grm.bin").read_bytes()
    assert "--count-other-allele" in (tmp_path / "o.log").read_text()


def test_sample_file_faults(tmp_path):
    """A .sample listing an ID twice, or with no samples, is one error line."""
    rows = Path(ref("sim8.b12.sample")).read_text().splitlines()
    rows[3] = rows[2]
    (tmp_path / "dup.sample").write_text("\n".join(rows) + "\n")
    with pytest.raises(InputError, match=r"lists 1 sample ID\(s\) more than once \(first: "
                                         r"P0T0 P0T0_fa\)"):
        BgenFile(ref("sim8.b12.bgen"), sample_path=str(tmp_path / "dup.sample"))
    (tmp_path / "none.sample").write_text("ID_1 ID_2 missing\n0 0 0\n")
    with pytest.raises(InputError, match="two header lines but no samples"):
        BgenFile(ref("sim8.b12.bgen"), sample_path=str(tmp_path / "none.sample"))
    path = str(tmp_path / "dupid.bgen")
    write_bgen(path, np.full((1, 3, 2), 0.3), ids=["a", "b", "a"])
    with pytest.raises(InputError, match="more than once"):
        BgenFile(path)


@pytest.mark.parametrize("fault,pattern", [
    ("ploidy", "a ploidy other than 1 or 2"),
    ("bits", "bits per probability outside 1-32"),
    ("phased", "a phased flag other than 0 or 1"),
    ("count", "the probability block.s sample count differs from the header.s"),
])
def test_probability_block_faults_name_the_variant(tmp_path, fault, pattern):
    """A layout-2 block the decoder cannot read names the variant (uncompressed
    files, edited in place)."""
    n = 4
    path = str(tmp_path / "f.bgen")
    write_bgen(path, np.full((2, n, 2), 0.25), comp=0, ids=[f"s{i}" for i in range(n)])
    src = BgenFile(path)
    data = bytearray(Path(path).read_bytes())
    p = int(src._off[1])  # variant 2's block: N, K, pmin, pmax, ploidy x n, phased, bits
    if fault == "ploidy":
        data[p + 8] = 3
        data[p + 6], data[p + 7] = 2, 3
    elif fault == "bits":
        data[p + 9 + n] = 0
    elif fault == "phased":
        data[p + 8 + n] = 2
    else:
        struct.pack_into("<I", data, p, n + 1)
    Path(path).write_bytes(bytes(data))
    with pytest.raises(InputError, match=f"variant rsv1 cannot be read: {pattern}"):
        BgenFile(path).read_block(None, slice(None))
