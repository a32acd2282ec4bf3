"""End to end through the CLI on the bundled example: grm -> reml --save-null
-> assoc, chunks and merge, invariance, and the truth of the simulation."""

import gzip
import os

import numpy as np
import pytest

from conftest import SIM, TESTDATA, run_cli, slurp

PHENO = os.path.join(TESTDATA, "sim.pheno")
COVAR = os.path.join(TESTDATA, "sim.covar")


def read_assoc(path):
    """The result table through the project's one reader (gwaslmm.results)."""
    from gwaslmm.results import read_table

    header, lines = read_table(str(path))
    return header, [ln.split("\t") for ln in lines]


def column(header, rows, name, kind=float):
    j = header.index(name)
    return np.array([kind(r[j]) if r[j] != "NA" else np.nan for r in rows]) if kind is float \
        else [r[j] for r in rows]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    d = tmp_path_factory.mktemp("e2e")
    out = {}
    r = run_cli(["grm", "--bfile", SIM, "--out", d / "k"])
    assert r.exit_code == 0, r.output
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar",
                 COVAR, "--grm", d / "k", "--save-null", d / "null", "--out", d / "r"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--out", d / "full",
                 "--block-size", 700])
    assert r.exit_code == 0, r.output
    out["d"] = d
    out["full"] = str(d / "full.assoc.tsv.gz")
    return out


def test_outputs_and_causal_snps_found(runs):
    header, rows = read_assoc(runs["full"])
    assert header[:11] == ["chromosome", "base_pair_location", "variant_id", "effect_allele",
                           "other_allele", "effect_allele_frequency", "n", "beta",
                           "standard_error", "p_value", "neg_log_10_p_value"]
    assert header[11:] == ["lambda_remle", "logl_h1", "n_miss", "t_stat"]
    ids = column(header, rows, "variant_id", str)
    p = column(header, rows, "p_value")
    nl = column(header, rows, "neg_log_10_p_value")
    assert np.allclose(-np.log10(p), nl, rtol=1e-5, atol=1e-6)
    causal = {}
    with open(os.path.join(TESTDATA, "sim.causal.tsv")) as fh:
        next(fh)
        for line in fh:
            f = line.split("\t")
            if f[0] == "trait" and f[7].strip() == "large":
                causal[f[1]] = float(f[5])
    assert len(causal) == 4
    pos = {v: i for i, v in enumerate(ids)}
    beta = column(header, rows, "beta")
    for v, b in causal.items():
        assert p[pos[v]] < 5e-8, v  # genome-wide significance
        assert np.sign(beta[pos[v]]) == np.sign(b)
    # nothing else reaches genome-wide significance
    assert (p < 5e-8).sum() == 4
    # the columns users look for (GEMMA n_miss, PLINK 2 T_STAT) and the analysed samples
    t = column(header, rows, "t_stat")
    se = column(header, rows, "standard_error")
    assert np.allclose(t, beta / se, rtol=2e-7)
    with open(str(runs["d"] / "full.samples.tsv")) as fh:
        lines = fh.read().splitlines()
    assert lines[0] == "#FID\tIID" and len(lines) == 988
    from bed_reader import open_bed

    fam_keys = [" ".join(ln.split()[:2]) for ln in slurp(SIM + ".fam").splitlines()]
    keep = [fam_keys.index(ln.replace("\t", " ")) for ln in lines[1:]]
    bim_ids = [ln.split()[1] for ln in slurp(SIM + ".bim").splitlines()]
    cols = [bim_ids.index(v) for v in ids[:300]]
    with open_bed(SIM + ".bed") as bed:
        G = bed.read(index=np.s_[keep, cols], dtype="float64")
    assert column(header, rows, "n_miss")[:300].tolist() == np.isnan(G).sum(axis=0).tolist()
    assert column(header, rows, "n_miss").max() > 0
    meta = slurp(runs["full"] + "-meta.yaml")
    assert "sample_size: 987" in meta and 'genome_assembly: "unknown"' in meta
    log = slurp(str(runs["d"] / "full.log"))
    assert "lambda_GC" in log and "top 10 hits" in log


def test_chunks_merge_identical_to_single_run(runs):
    d = runs["d"]
    for k in (1, 2, 3):
        r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--out", d / "part",
                     "--chunk", f"{k}/3"])
        assert r.exit_code == 0, r.output
    # an incomplete set is refused
    r = run_cli(["merge", d / "part.chunk1of3.assoc.tsv.gz", d / "part.chunk2of3.assoc.tsv.gz",
                 "--out", d / "bad"])
    assert r.exit_code == 1 and "chunks missing" in r.output
    assert not os.path.exists(d / "bad.assoc.tsv.gz")
    r = run_cli(["merge", str(d / "part.chunk*of3.assoc.tsv.gz"), "--out", d / "merged"])
    assert r.exit_code == 0, r.output
    with gzip.open(runs["full"], "rb") as a, gzip.open(d / "merged.assoc.tsv.gz", "rb") as b:
        assert a.read() == b.read()


def test_block_size_and_threads_do_not_change_results(runs):
    d = runs["d"]
    r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--out", d / "b2",
                 "--block-size", 4096, "--threads", 1, "--no-gzip"])
    assert r.exit_code == 0, r.output
    h1, r1 = read_assoc(runs["full"])
    h2, r2 = read_assoc(str(d / "b2.assoc.tsv"))
    assert h1 == h2 and len(r1) == len(r2)
    for name in ("beta", "standard_error", "neg_log_10_p_value", "lambda_remle"):
        a, b = column(h1, r1, name), column(h2, r2, name)
        # printed with 8 (6 for -log10 p) significant digits; the numbers behind
        # them differ by float rounding only
        assert np.allclose(a, b, rtol=2e-6, atol=0), name


def test_null_model_file_equals_direct_run(runs):
    d = runs["d"]
    r = run_cli(["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar",
                 COVAR, "--grm", d / "k", "--out", d / "direct", "--chr", "1"])
    assert r.exit_code == 0, r.output
    h1, r1 = read_assoc(runs["full"])
    h2, r2 = read_assoc(str(d / "direct.assoc.tsv.gz"))
    assert r2 == r1[: len(r2)]


def test_reml_table(runs):
    path = str(runs["d"] / "r.reml.tsv")
    header, rows = read_assoc(path)
    assert header == ["phenotype", "n", "h2", "h2_se", "sigma_g2", "sigma_e2", "lambda",
                      "logl_reml", "logl_ml", "p_h2", "boundary"]
    assert rows[0][-1] == "none"
    h2 = float(rows[0][2])
    se = float(rows[0][3])
    assert rows[0][0] == "trait" and rows[0][1] == "987"
    assert abs(h2 - 0.5) < 3 * se  # simulated h2 = 0.5
    fixed = slurp(str(runs["d"] / "r.reml.fixed.tsv"))
    assert "batch=b2" in fixed and "intercept" in fixed


def test_fast_mode_runs_and_agrees_roughly(runs):
    d = runs["d"]
    r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--out", d / "fast", "--fast"])
    assert r.exit_code == 0, r.output
    h1, r1 = read_assoc(runs["full"])
    h2, r2 = read_assoc(str(d / "fast.assoc.tsv.gz"))
    assert h2 == h1[:11] + ["n_miss", "t_stat"]
    a, b = column(h1, r1, "neg_log_10_p_value"), column(h2, r2, "neg_log_10_p_value")
    assert np.corrcoef(a, b)[0, 1] > 0.999
    # single-precision whitening: same rows, -log10 p within 1e-4
    r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--out", d / "fast32", "--fast",
                 "--rotate-dtype", "float32"])
    assert r.exit_code == 0, r.output
    h3, r3 = read_assoc(str(d / "fast32.assoc.tsv.gz"))
    assert h3 == h2 and [x[2] for x in r3] == [x[2] for x in r2]
    c = column(h3, r3, "neg_log_10_p_value")
    assert np.abs(c - b).max() < 1e-4


def test_fast_whitener_three_ways_agree(runs):
    """assoc --fast forms its whitener from a saved null model (eigenvectors
    explicit, L from B diag(d) B'), from a kinship file (eigenvectors kept
    factored, L from K), from a decomposition saved from those factors, or
    from its own kinship (float32 blocks by default).  The first three see
    the same K: equal to the printed digits.  Own kinship, float32 vs float64
    blocks: -log10 p within 1e-4; float32 blocks with another block size and
    thread count: equal up to rounding."""
    d = runs["d"]
    common = ["assoc", "--bfile", SIM, "--fast", "--out"]
    own = ["--pheno", PHENO, "--pheno-name", "trait", "--covar", COVAR]
    # fk also saves its (factored) decomposition, formed into B; fe reuses it
    for name, extra in (("fn", ["--null", d / "null"]),
                        ("fk", own + ["--grm", d / "k", "--save-eigen"]),
                        ("fe", own + ["--eigen", d / "fk"]),
                        ("f64", own + ["--grm-dtype", "float64"]), ("f32", own),
                        ("f32b", own + ["--block-size", 500, "--threads", 1])):
        r = run_cli(common + [d / name] + extra)
        assert r.exit_code == 0, r.output
    names = ("fn", "fk", "fe", "f64", "f32", "f32b")
    res = {k: read_assoc(str(d / f"{k}.assoc.tsv.gz")) for k in names}
    ids = column(*res["fn"], "variant_id", str)
    for k in names[1:]:
        assert column(*res[k], "variant_id", str) == ids
    for col in ("beta", "standard_error", "neg_log_10_p_value"):
        a = column(*res["fn"], col)
        for k in ("fk", "fe"):
            assert np.allclose(a, column(*res[k], col), rtol=2e-6, atol=1e-12), (k, col)
    a, b = column(*res["f64"], "neg_log_10_p_value"), column(*res["f32"], "neg_log_10_p_value")
    assert np.abs(a - b).max() < 1e-4
    # own kinship in float32 blocks: block size and thread count change only
    # rounding: beta within 1e-5 SE (it can be near 0), -log10 p within 1e-5,
    # relative above 1 (6 printed digits: one unit of the last is 1e-5 at 1-10)
    se = column(*res["f32"], "standard_error")
    assert np.allclose(se, column(*res["f32b"], "standard_error"), rtol=2e-6, atol=0)
    assert np.all(np.abs(column(*res["f32"], "beta") - column(*res["f32b"], "beta")) < 1e-5 * se)
    a, b = column(*res["f32"], "neg_log_10_p_value"), column(*res["f32b"], "neg_log_10_p_value")
    assert np.all(np.abs(a - b) <= 1.01e-5 * np.maximum(1.0, np.abs(a)))
    assert "float32 blocks" in slurp(str(d / "f32.log"))
    assert "eigenvectors kept factored" in slurp(str(d / "fk.log"))


def test_loco_null_models_chunks_merge_equal_direct_run(tmp_path):
    """reml --loco --save-null, then assoc --null --loco in 2 chunks, merged, is
    byte-identical to one direct assoc --loco run (chromosomes 5-8 to keep it short)."""
    common = ["--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar", COVAR,
              "--chr", "5-8"]
    r = run_cli(["reml", *common, "--loco", "--save-null", tmp_path / "ln", "--out",
                 tmp_path / "rl"])
    assert r.exit_code == 0, r.output
    header, rows = read_assoc(str(tmp_path / "rl.reml.loco.tsv"))
    assert [r_[0] for r_ in rows] == ["5", "6", "7", "8"] and header[0] == "left_out_chromosome"
    for k in (1, 2):
        r = run_cli(["assoc", "--bfile", SIM, "--chr", "5-8", "--null", tmp_path / "ln", "--loco",
                     "--chunk", f"{k}/2", "--out", tmp_path / "lc"])
        assert r.exit_code == 0, r.output
    r = run_cli(["merge", str(tmp_path / "lc.chunk*"), "--out", tmp_path / "merged"])
    assert r.exit_code == 0, r.output
    # reml's kinships are over its selection (chr 5-8); assoc's own kinships
    # use every variant unless --model-snps names the same set
    model = tmp_path / "model.snps"
    with open(SIM + ".bim") as fh, open(model, "w") as out:
        out.writelines(ln.split()[1] + "\n" for ln in fh if ln.split()[0] in "5678")
    r = run_cli(["assoc", *common, "--loco", "--model-snps", model, "--out", tmp_path / "direct"])
    assert r.exit_code == 0, r.output
    with gzip.open(tmp_path / "direct.assoc.tsv.gz", "rb") as a, \
            gzip.open(tmp_path / "merged.assoc.tsv.gz", "rb") as b:
        assert a.read() == b.read()


def test_fast_loco_direct_equals_saved_null_models(tmp_path):
    """assoc --fast --loco (whitener from each K_-c, eigenvectors factored)
    equals reml --loco --save-null then assoc --null --fast --loco (whitener
    from each saved B): same rows, statistics to the printed digits
    (chromosomes 5-8 scanned; float64 kinship blocks in both)."""
    common = ["--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar", COVAR,
              "--chr", "5-8"]
    r = run_cli(["reml", *common, "--loco", "--save-null", tmp_path / "ln", "--out",
                 tmp_path / "rl"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", "--bfile", SIM, "--chr", "5-8", "--null", tmp_path / "ln", "--loco",
                 "--fast", "--out", tmp_path / "viaNull"])
    assert r.exit_code == 0, r.output
    model = tmp_path / "model.snps"  # the kinships of reml --chr 5-8
    with open(SIM + ".bim") as fh, open(model, "w") as out:
        out.writelines(ln.split()[1] + "\n" for ln in fh if ln.split()[0] in "5678")
    r = run_cli(["assoc", *common, "--loco", "--fast", "--grm-dtype", "float64",
                 "--model-snps", model, "--out", tmp_path / "direct"])
    assert r.exit_code == 0, r.output
    a = read_assoc(str(tmp_path / "direct.assoc.tsv.gz"))
    b = read_assoc(str(tmp_path / "viaNull.assoc.tsv.gz"))
    assert a[0] == b[0] and len(a[1]) == len(b[1]) > 1000
    assert column(*a, "variant_id", str) == column(*b, "variant_id", str)
    for col in ("beta", "standard_error", "neg_log_10_p_value"):
        assert np.allclose(column(*a, col), column(*b, col), rtol=2e-6, atol=1e-12), col
    assert "eigenvectors kept factored" in slurp(str(tmp_path / "direct.log"))


def test_save_eigen_reuse_and_mismatch(runs, tmp_path):
    """--save-eigen then --eigen gives the same null model; other covariates or
    samples are refused with a message naming the problem."""
    d = runs["d"]
    base = ["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar", COVAR]
    r = run_cli(base + ["--grm", d / "k", "--save-eigen", "--out", tmp_path / "e1"])
    assert r.exit_code == 0, r.output
    assert os.path.exists(tmp_path / "e1.eigen.npz")
    r = run_cli(base + ["--eigen", tmp_path / "e1", "--out", tmp_path / "e2"])
    assert r.exit_code == 0, r.output
    assert slurp(str(tmp_path / "e1.reml.tsv")) == slurp(str(tmp_path / "e2.reml.tsv"))
    r = run_cli(base + ["--covar-name", "bmi,age,batch", "--eigen", tmp_path / "e1",
                        "--out", tmp_path / "e3"])
    assert r.exit_code == 1 and "computed with other covariates" in r.output
    r = run_cli(base[:-2] + ["--covar", COVAR, "--covar-name", "age", "--eigen", tmp_path / "e1",
                             "--out", tmp_path / "e4"])
    assert r.exit_code == 1 and "they differ (sample 35" in r.output


def test_assoc_plot_flag_writes_both_pngs(runs):
    d = runs["d"]
    r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--fast", "--plot", "--out",
                 d / "plotted"])
    assert r.exit_code == 0, r.output
    for name, size in (("manhattan", (1200, 500)), ("qq", (600, 600))):
        with open(d / f"plotted.{name}.png", "rb") as fh:
            head = fh.read(24)
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert (int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")) == size


def test_merge_refuses_a_truncated_chunk(runs, tmp_path):
    d = runs["d"]
    for k in (1, 2):
        r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--fast", "--out",
                     tmp_path / "p", "--chunk", f"{k}/2"])
        assert r.exit_code == 0, r.output
    chunk = tmp_path / "p.chunk2of2.assoc.tsv.gz"
    data = chunk.read_bytes()
    chunk.write_bytes(data[: len(data) // 2])
    r = run_cli(["merge", str(tmp_path / "p.chunk*"), "--out", tmp_path / "m"])
    assert r.exit_code == 1 and "cannot read" in r.output
    assert not os.path.exists(tmp_path / "m.assoc.tsv.gz")


def test_one_lambda_gc_in_log_metadata_plot_and_merge(tmp_path):
    """The summary, the metadata, the QQ plot and merge report the same
    lambda_GC, that of gwaslmm.scan.pvalues on the written -log10 p (an even
    number of variants: the median is the mean of the two middle statistics)."""
    import re

    from gwaslmm.results import numeric, read_columns
    from gwaslmm.scan.pvalues import lambda_gc

    args = ["--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--fast", "--chr", "4-5"]
    for k in (1, 2):
        r = run_cli(["assoc", *args, "--chunk", f"{k}/2", "--plot", "--out", tmp_path / "c"])
        assert r.exit_code == 0, r.output
    r = run_cli(["merge", str(tmp_path / "c.chunk*of2.assoc.tsv.gz"), "--out", tmp_path / "m"])
    assert r.exit_code == 0, r.output
    for prefix in ("c.chunk1of2", "c.chunk2of2", "m"):
        nl = numeric(read_columns(str(tmp_path / f"{prefix}.assoc.tsv.gz"))["neg_log_10_p_value"])
        # from the written -log10 p (6 digits; the scan holds them unrounded)
        want = lambda_gc(nl[~np.isnan(nl)])
        meta = slurp(str(tmp_path / f"{prefix}.assoc.tsv.gz-meta.yaml"))
        got = float(re.search(r"lambda_gc: (\S+)", meta).group(1))
        assert got == pytest.approx(want, abs=1.5e-4), prefix
        if prefix != "m":
            assert nl.size > 1000
            log = slurp(str(tmp_path / f"{prefix}.log"))
            assert re.search(rf"^  lambda_GC: {got:.4f}$", log, re.M)
            assert re.search(rf"QQ: .* lambda_GC = {got:.4f}$", log, re.M)


def test_merge_bgzip_tabix_region_queries(runs):
    """merge --bgzip: the merged table as BGZF (gzip readers see the same
    bytes) with a tabix index; pysam's TabixFile region queries return
    exactly the rows of that region."""
    pysam = pytest.importorskip("pysam")
    d = runs["d"]
    for k in (1, 2, 3):
        if not (d / f"part.chunk{k}of3.assoc.tsv.gz").exists():
            r = run_cli(["assoc", "--bfile", SIM, "--null", d / "null", "--out", d / "part",
                         "--chunk", f"{k}/3"])
            assert r.exit_code == 0, r.output
    r = run_cli(["merge", str(d / "part.chunk*of3.assoc.tsv.gz"), "--bgzip", "--out",
                 d / "indexed"])
    assert r.exit_code == 0, r.output
    path = d / "indexed.assoc.tsv.gz"
    assert (d / "indexed.assoc.tsv.gz.tbi").stat().st_size > 0
    with gzip.open(runs["full"], "rt") as a, gzip.open(path, "rt") as b:
        full, got = a.read(), b.read()
    assert full == got
    rows = [ln.split("\t") for ln in full.splitlines()[1:]]
    tbx = pysam.TabixFile(str(path))
    for chrom, lo, hi in (("3", 20_000_000, 60_000_000), ("8", 1, 10_000_000), ("1", 5, 6)):
        want = [ln for ln in full.splitlines()[1:]
                if ln.split("\t")[0] == chrom and lo <= int(ln.split("\t")[1]) <= hi]
        assert list(tbx.fetch(chrom, lo - 1, hi)) == want
    assert len(rows) > 9000
    r = run_cli(["merge", str(d / "part.chunk*of3.assoc.tsv.gz"), "--bgzip", "--no-gzip",
                 "--out", d / "e"])
    assert r.exit_code == 2 and "drop --no-gzip" in r.output


def test_bgzip_refuses_unsorted_rows(tmp_path):
    """Rows out of order: one error naming the line; neither the table nor an
    index is left behind."""
    pytest.importorskip("pysam")
    from gwaslmm.bgzf import bgzip_and_index
    from gwaslmm.errors import InputError

    for tag, body in (("pos", "1\t200\n1\t100\n"), ("chrom", "1\t100\n2\t100\n1\t300\n")):
        p = tmp_path / f"{tag}.tsv.gz"
        with gzip.open(p, "wt") as fh:
            fh.write("chromosome\tbase_pair_location\n" + body)
        with pytest.raises(InputError, match="not sorted"):
            bgzip_and_index(str(p))
        assert not list(tmp_path.glob(f"*{tag}*"))


def test_assoc_bgzip_single_run(tmp_path):
    """assoc --bgzip: the same rows as without, BGZF with a tabix index that
    pysam queries; refused with --chunk."""
    pysam = pytest.importorskip("pysam")
    common = ["assoc", "--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait",
              "--fast", "--chr", "2,5"]
    r = run_cli([*common, "--bgzip", "--out", tmp_path / "b"])
    assert r.exit_code == 0, r.output
    r = run_cli([*common, "--out", tmp_path / "p"])
    assert r.exit_code == 0, r.output
    with gzip.open(tmp_path / "b.assoc.tsv.gz", "rt") as a, \
            gzip.open(tmp_path / "p.assoc.tsv.gz", "rt") as b:
        text = a.read()
        assert text == b.read()
    want = [ln for ln in text.splitlines()[1:] if ln.split("\t")[0] == "5"]
    assert list(pysam.TabixFile(str(tmp_path / "b.assoc.tsv.gz")).fetch("5")) == want
    r = run_cli([*common, "--bgzip", "--chunk", "1/2", "--out", tmp_path / "c"])
    assert r.exit_code == 2 and "merge --bgzip" in r.output
