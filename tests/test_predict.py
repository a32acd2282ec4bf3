"""gwaslmm predict: BLUP against the formulas evaluated densely (explicit
inverses), the command against them, SNP effects reproducing the genetic
values, and plink2 --score on those SNP effects (testdata/reference/predict)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from conftest import SIM, run_cli

from gwaslmm.predict import blup, blup_reference
from gwaslmm.results import numeric, read_columns

PRED = os.path.join(os.path.dirname(SIM), "reference", "predict")


def test_blup_equals_brute_force():
    """Genetic values, PEV, reliability, P y and the fixed effects equal the
    formulas with explicit inverses to 1e-8, for training and other samples."""
    rng = np.random.default_rng(18)
    N, n_t, m = 90, 60, 300
    Z = rng.normal(size=(N, m))
    K = Z @ Z.T / m
    train = np.sort(rng.choice(N, n_t, replace=False))
    W = np.column_stack([np.ones(n_t), rng.normal(size=n_t)])
    y = rng.normal(size=n_t) + W @ [1.0, 0.5]
    got, ref = blup(K, train, W, y, 0.8, 1.3), blup_reference(K, train, W, y, 0.8, 1.3)
    for f in ("g", "pev", "reliability", "py", "alpha"):
        np.testing.assert_allclose(getattr(got, f), getattr(ref, f), rtol=1e-8, atol=1e-10,
                                   err_msg=f)
    assert (got.reliability[train].mean() > np.delete(got.reliability, train).mean())


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """predict on 400 samples of the bundled simulation, 100 of them without a
    phenotype (removed from the phenotype file): kinship built from the
    genotypes, and again with that kinship given as a GRM."""
    d = tmp_path_factory.mktemp("predict")
    fam = Path(SIM + ".fam").read_text().splitlines()[:400]
    (d / "keep.txt").write_text("\n".join(" ".join(r.split()[:2]) for r in fam) + "\n")
    head, *rows = Path(SIM + ".pheno").read_text().splitlines()
    drop = {" ".join(r.split()[:2]) for r in fam[::4]}
    (d / "train.pheno").write_text("\n".join([head] + [r for r in rows
                                                        if " ".join(r.split()[:2]) not in drop])
                                   + "\n")
    common = ["--bfile", SIM, "--keep", d / "keep.txt", "--pheno", d / "train.pheno",
              "--pheno-name", "trait", "--covar", SIM + ".covar", "--covar-name", "age,bmi"]
    r = run_cli(["predict", *common, "--out", d / "p"])
    assert r.exit_code == 0, r.output
    return d, common


def test_snp_effects_reproduce_the_genetic_values(run):
    """sum_j weight_j (x_ij - center_j), missing calls at the center, equals
    every sample's genetic value (training or not) to 1e-8."""
    from gwaslmm.genotypes.plink1 import BedFile

    d, _ = run
    pred = read_columns(str(d / "p.predict.tsv"))
    eff = read_columns(str(d / "p.snp_effects.tsv"))
    bed = BedFile(SIM)
    ids = {v: j for j, v in enumerate(bed.variants.id)}
    cols = np.array([ids[v] for v in eff["variant_id"]])
    at = {k: i for i, k in enumerate(zip(bed.samples.fid, bed.samples.iid))}
    rows = np.array([at[k] for k in zip(pred["FID"], pred["IID"])])
    G = bed.read_block(np.sort(rows), cols).G.astype(float)[np.argsort(np.argsort(rows))]
    center, w = numeric(eff["center"]), numeric(eff["weight"])
    X = np.where(G < 0, center, G)
    g = (X - center) @ w
    np.testing.assert_allclose(g, numeric(pred["genetic_value"]), rtol=1e-7, atol=1e-9)
    assert (pred["in_training"] == "0").sum() >= 100  # and any with a missing covariate


def test_fitted_values_of_predicted_samples(run):
    """A predicted sample with every covariate gets W alpha + g with the
    training fixed effects (recovered here from the training rows); one
    without gets NA."""
    d, _ = run
    pred = read_columns(str(d / "p.predict.tsv"))
    cov = {}
    for ln in Path(SIM + ".covar").read_text().splitlines()[1:]:
        f = ln.split()
        cov[(f[0], f[1])] = [1.0, float(f[2].replace("NA", "nan")),
                             float(f[3].replace("NA", "nan"))]
    W = np.array([cov[k] for k in zip(pred["FID"], pred["IID"])])
    fixed = numeric(pred["fitted"]) - numeric(pred["genetic_value"])
    train = pred["in_training"] == "1"
    alpha = np.linalg.lstsq(W[train], fixed[train], rcond=None)[0]
    others = ~train & np.isfinite(W).all(axis=1)
    assert others.sum() >= 100
    np.testing.assert_allclose(fixed[others], W[others] @ alpha, rtol=1e-6, atol=1e-8)
    assert np.isnan(numeric(pred["fitted"])[~train & ~np.isfinite(W).all(axis=1)]).all()


def test_command_equals_dense_formulas(run, tmp_path):
    """With the kinship given (--grm), the written genetic values, PEV and
    reliability equal the dense formulas at reml's lambda and sigma_g^2 (their
    8 printed digits: 1e-6)."""
    from gwaslmm.kinship_io import read_gcta_grm

    d, common = run
    keep = common[common.index("--keep") + 1]
    r = run_cli(["grm", "--bfile", SIM, "--keep", keep, "--out", tmp_path / "k"])
    assert r.exit_code == 0, r.output
    no_keep = [a for i, a in enumerate(common) if a != "--keep" and common[i - 1] != "--keep"]
    r = run_cli(["predict", *no_keep, "--keep", keep, "--grm", tmp_path / "k", "--out",
                 tmp_path / "p"])
    assert r.exit_code == 0, r.output
    assert not (tmp_path / "p.snp_effects.tsv").exists()
    r = run_cli(["reml", *common, "--grm", tmp_path / "k", "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    reml = read_columns(str(tmp_path / "r.reml.tsv"))
    lam, sg2 = float(reml["lambda"][0]), float(reml["sigma_g2"][0])
    pred = read_columns(str(tmp_path / "p.predict.tsv"))
    kin = read_gcta_grm(str(tmp_path / "k"))
    K = kin.subset(pred["FID"], pred["IID"])
    train = np.flatnonzero(pred["in_training"] == "1")
    cov = {}
    for ln in Path(SIM + ".covar").read_text().splitlines()[1:]:
        f = ln.split()
        cov[(f[0], f[1])] = (float(f[2].replace("NA", "nan")), float(f[3].replace("NA", "nan")))
    W = np.array([[1.0, *cov[(pred["FID"][i], pred["IID"][i])]] for i in train])
    y = numeric(pred["phenotype"])[train]
    ref = blup_reference(K, train, W, y, lam, sg2)
    for col, want in (("genetic_value", ref.g), ("pev", ref.pev),
                      ("reliability", ref.reliability)):
        np.testing.assert_allclose(numeric(pred[col]), want, rtol=1e-6, atol=1e-9, err_msg=col)
    np.testing.assert_allclose(numeric(pred["fitted"])[train], W @ ref.alpha + ref.g[train],
                               rtol=1e-6)


def test_plink2_score_reproduces_the_genetic_values(tmp_path):
    """plink2 --score with the SNP-effect file of the bundled example
    (testdata/reference/predict, command in make_predict_reference.sh):
    SCORE1_SUM correlates with gwaslmm's genetic values above 0.9999 over the
    training samples (plink2 imputes a missing call with its own allele
    frequency, gwaslmm with the training one: the only difference)."""
    r = run_cli(["predict", "--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait",
                 "--covar", SIM + ".covar", "--covar-name", "age,bmi", "--out", tmp_path / "p"])
    assert r.exit_code == 0, r.output
    pred = read_columns(str(tmp_path / "p.predict.tsv"))
    rows = [ln.split() for ln in Path(PRED, "plink2.sscore").read_text().splitlines()]
    h = rows[0]
    score = {(r[h.index("#FID")], r[h.index("IID")]): float(r[h.index("SCORE1_SUM")])
             for r in rows[1:]}
    train = pred["in_training"] == "1"
    g = numeric(pred["genetic_value"])[train]
    s = np.array([score[k] for k in zip(pred["FID"][train], pred["IID"][train])])
    assert np.corrcoef(g, s)[0, 1] > 0.9999
    # the README's figures for this run: mean reliability 0.42 (training), 0.12 (the 12 others)
    rel = numeric(pred["reliability"])
    assert (~train).sum() == 12
    assert abs(rel[train].mean() - 0.424) < 0.005 and abs(rel[~train].mean() - 0.118) < 0.005


def test_cv_folds_keep_families_together():
    from gwaslmm.predict import cv_folds

    rng = np.random.default_rng(3)
    fam = np.repeat(np.arange(60), rng.integers(1, 5, 60))
    fold = cv_folds(fam, 5, seed=2)
    for f in np.unique(fam):
        assert np.unique(fold[fam == f]).size == 1
    sizes = np.bincount(fold, minlength=5)
    assert sizes.max() - sizes.min() <= 4  # the largest family
    assert (cv_folds(fam, 5, seed=2) == fold).all()


def test_cross_validation_table(tmp_path):
    """--cv 4 by family on the bundled example (h2 about 0.4): every fold
    refitted, held-out predictions correlate with the phenotype, the pooled
    row covers every training sample, and the same seed gives the same table."""
    args = ["predict", "--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait",
            "--covar", SIM + ".covar", "--covar-name", "age,bmi", "--cv", "4"]
    for tag in ("a", "b"):
        r = run_cli([*args, "--out", tmp_path / tag])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "a.cv.tsv").read_text() == (tmp_path / "b.cv.tsv").read_text()
    cv = read_columns(str(tmp_path / "a.cv.tsv"))
    assert cv["fold"].tolist() == ["1", "2", "3", "4", "all"]
    n_test = numeric(cv["n_test"])
    assert n_test[:4].sum() == n_test[4] == 988
    r_all, slope = numeric(cv["r"])[4], numeric(cv["slope"])[4]
    assert 0.2 < r_all < 0.9 and 0.5 < slope < 1.5, (r_all, slope)
    # the model's expectation of r_genetic, pooled (about 2 SE of 988 samples)
    assert abs(numeric(cv["r_genetic"])[4] - numeric(cv["r_expected"])[4]) < 0.06
    # the README's figures: pooled r 0.31, slope 0.98, r_genetic 0.187, r_expected 0.181
    assert abs(r_all - 0.308) < 0.01 and abs(slope - 0.98) < 0.02
    assert abs(numeric(cv["r_genetic"])[4] - 0.187) < 0.01
    assert abs(numeric(cv["r_expected"])[4] - 0.181) < 0.01
    assert "relatives stay in one fold" in (tmp_path / "a.log").read_text()
    r = run_cli(["predict", "--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait",
                 "--cv-by-sample", "--out", tmp_path / "x"])
    assert r.exit_code == 2 and "--cv-by-sample goes with --cv K" in r.output


def test_reliability_grows_with_phenotyped_relatives(tmp_path):
    """Samples predicted from their kinship alone: the more relatives with a
    phenotype in the training set, the higher the reliability (the bundled
    simulation's trios and sib pairs; every related sample's own phenotype
    removed)."""
    fam = [ln.split() for ln in Path(SIM + ".fam").read_text().splitlines()]
    fids = np.array([r[0] for r in fam])
    counts = {f: c for f, c in zip(*np.unique(fids, return_counts=True))}
    related = [i for i, f in enumerate(fids) if counts[f] >= 2]
    drop = {tuple(fam[i][:2]) for i in related[::3]}  # one in three of them
    head, *rows = Path(SIM + ".pheno").read_text().splitlines()
    (tmp_path / "t.pheno").write_text("\n".join([head] + [
        r for r in rows if tuple(r.split()[:2]) not in drop]) + "\n")
    r = run_cli(["predict", "--bfile", SIM, "--pheno", tmp_path / "t.pheno", "--pheno-name",
                 "trait", "--out", tmp_path / "p"])
    assert r.exit_code == 0, r.output
    pred = read_columns(str(tmp_path / "p.predict.tsv"))
    train = pred["in_training"] == "1"
    trained_fids = pred["FID"][train]
    n_rel = np.array([int((trained_fids == f).sum()) for f in pred["FID"]])
    rel = numeric(pred["reliability"])
    out = ~train
    means = [rel[out & (n_rel == k)].mean() for k in (0, 1, 2) if (out & (n_rel == k)).any()]
    assert len(means) == 3 and means[0] < means[1] < means[2], means
    print("mean reliability by phenotyped relatives 0/1/2:", np.round(means, 3))
    assert rel[train].mean() > means[2]


def test_expected_accuracy_matches_simulation():
    """Simulated truth: phenotypes drawn from the model itself (K from
    related-looking genotypes), the held-out samples predicted by BLUP at the
    true variances: the mean correlation of y - W alpha with g_hat over 300
    replicates equals expected_accuracy (sqrt(sum a_i R_i / sum(a_i +
    sigma_e^2)), a_i = sigma_g^2 K_ii) to 0.02."""
    from gwaslmm.predict import expected_accuracy

    rng = np.random.default_rng(11)
    N, n_t, m = 240, 180, 400
    fam = np.repeat(np.arange(N // 4), 4)
    Z = rng.normal(size=(N // 4, m))[fam] * 0.7 + rng.normal(size=(N, m)) * 0.7
    Z = (Z - Z.mean(0)) / Z.std(0)
    K = Z @ Z.T / m
    train = np.sort(rng.choice(N, n_t, replace=False))
    test = np.setdiff1d(np.arange(N), train)
    W = np.ones((N, 1))
    sg2, se2 = 0.6, 0.4
    L = np.linalg.cholesky(sg2 * K + 1e-9 * np.eye(N))
    rs = []
    for _ in range(300):
        g = L @ rng.normal(size=N)
        y = 1.0 + g + np.sqrt(se2) * rng.normal(size=N)
        res = blup(K, train, W[train], y[train], sg2 / se2, sg2)
        rs.append(np.corrcoef(y[test] - res.alpha[0], res.g[test])[0, 1])
    want = expected_accuracy(np.diag(K)[test], res.reliability[test], sg2, se2)
    assert abs(np.mean(rs) - want) < 0.02, (np.mean(rs), want)


def test_fastlmm_predictions_of_held_out_samples(tmp_path):
    """FaST-LMM 0.6.13's FastLMM fit/predict on the same kinship and covariates
    (testdata/reference/predict/make_fastlmm_reference.sh: 400 samples, every
    4th held out): the held-out samples' predicted phenotypes (W alpha + g)
    and lambda equal gwaslmm's to 1e-5 relative (measured: 1.2e-6, 2e-6;
    the issue asks 1e-4)."""
    r = run_cli(["predict", "--bfile", SIM, "--keep", Path(PRED, "fl.keep.txt"), "--grm",
                 Path(PRED, "fl"), "--pheno", Path(PRED, "fl.train.pheno"), "--pheno-name",
                 "trait", "--covar", SIM + ".covar", "--covar-name", "age,bmi", "--out",
                 tmp_path / "p"])
    assert r.exit_code == 0, r.output
    lines = Path(PRED, "fastlmm.tsv").read_text().splitlines()
    lam_ref = float(lines[0].split("on its rescaled kernel) ")[1].split(";")[0])
    ref = {(f[0], f[1]): float(f[2]) for f in (ln.split("\t") for ln in lines[2:])}
    pred = read_columns(str(tmp_path / "p.predict.tsv"))
    held = pred["in_training"] == "0"
    assert held.sum() == len(ref) == 100
    want = np.array([ref[k] for k in zip(pred["FID"][held], pred["IID"][held])])
    np.testing.assert_allclose(numeric(pred["fitted"])[held], want, rtol=1e-5)
    log = (tmp_path / "p.log").read_text()
    lam = float(log.split("lambda (REML) = ")[1].split()[0])
    assert abs(lam / lam_ref - 1) < 1e-5


def _swap_alleles(G):
    return np.where(G >= 0, 2 - G, G).astype(np.int8)


@pytest.fixture(scope="module")
def split_files(tmp_path_factory):
    """400 samples of the bundled simulation as two filesets: 'train' (300)
    and 'new' (100), the new one with 40 variants' alleles swapped (counts
    flipped), 30 variants missing and 10 with other alleles; and the IDs of
    the 40 variants not shared."""
    from bed_reader import open_bed, to_bed

    d = tmp_path_factory.mktemp("split")
    rng = np.random.default_rng(5)
    with open_bed(SIM + ".bed") as bed:
        G = bed.read(dtype="int8", index=np.s_[:400, :])
        props = dict(fid=bed.fid[:400], iid=bed.iid[:400], sid=bed.sid,
                     chromosome=bed.chromosome, bp_position=bed.bp_position,
                     cm_position=bed.cm_position, allele_1=bed.allele_1.copy(),
                     allele_2=bed.allele_2.copy())
    m = G.shape[1]
    pick = rng.choice(m, 80, replace=False)
    swap, drop, other = pick[:40], pick[40:70], pick[70:]
    tr = {k: (v[:300] if k in ("fid", "iid") else v) for k, v in props.items()}
    to_bed(str(d / "train.bed"), np.ascontiguousarray(G[:300]), properties=tr)
    Gn = G[300:].copy()
    Gn[:, swap] = _swap_alleles(Gn[:, swap])
    nw = {k: (v[300:] if k in ("fid", "iid") else v.copy()) for k, v in props.items()}
    nw["allele_1"][swap], nw["allele_2"][swap] = props["allele_2"][swap], props["allele_1"][swap]
    nw["allele_1"][other] = "Z"
    keep_cols = np.setdiff1d(np.arange(m), drop)
    nw = {k: (v if k in ("fid", "iid") else v[keep_cols]) for k, v in nw.items()}
    to_bed(str(d / "new.bed"), np.ascontiguousarray(Gn[:, keep_cols]), properties=nw)
    (d / "all.txt").write_text("".join(f"{a} {b}\n" for a, b in zip(props["fid"],
                                                                     props["iid"])))
    (d / "unshared.txt").write_text("\n".join(props["sid"][np.concatenate([drop, other])]) + "\n")
    new = {(a, b) for a, b in zip(props["fid"][300:], props["iid"][300:])}
    head, *rows = Path(SIM + ".pheno").read_text().splitlines()
    (d / "train.pheno").write_text("\n".join([head] + [r for r in rows if tuple(r.split()[:2])
                                                       not in new]) + "\n")
    return d


PRED_ARGS = ["--pheno-name", "trait", "--covar", SIM + ".covar", "--covar-name", "age,bmi"]


def _two_file_run(d) -> str:
    """predict --bfile train --bfile-new new (once per module): its log."""
    if not (d / "a.predict.tsv").exists():
        r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--pheno",
                     d / "train.pheno", *PRED_ARGS, "--out", d / "a"])
        assert r.exit_code == 0, r.output
    return (d / "a.log").read_text()


def test_new_genotype_file_equals_one_file(split_files):
    """predict --bfile train --bfile-new new equals predict on one fileset
    holding both sets of samples restricted to the shared variants: allele
    swaps flipped, absent and other-allele variants left out (all columns
    and the SNP effects identical)."""
    d = split_files
    log = _two_file_run(d)
    assert ("9960 of the 10000 of " in log and "(40 of them with the alleles swapped" in log
            and "not in the new file 30, other alleles 10" in log), log
    r = run_cli(["predict", "--bfile", SIM, "--keep", d / "all.txt", "--exclude",
                 d / "unshared.txt", "--pheno", d / "train.pheno", *PRED_ARGS, "--out", d / "b"])
    assert r.exit_code == 0, r.output
    a, b = read_columns(str(d / "a.predict.tsv")), read_columns(str(d / "b.predict.tsv"))
    for col in ("FID", "IID", "in_training"):
        assert list(a[col]) == list(b[col]), col
    for col in ("genetic_value", "pev", "reliability", "fitted"):
        np.testing.assert_allclose(numeric(a[col]), numeric(b[col]), rtol=1e-10, atol=1e-12,
                                   err_msg=col)
    assert (d / "a.snp_effects.tsv").read_text() == (d / "b.snp_effects.tsv").read_text()


def test_pfile_new_equals_bfile_new(split_files):
    """The new samples as a .pgen (read as dosages, mixed with the training
    file's hard calls in float32 blocks) give the same predictions."""
    pytest.importorskip("pgenlib")
    from test_pgen import write_pgen

    d = split_files
    _two_file_run(d)
    write_pgen(str(d / "new"), str(d / "newp"))
    r = run_cli(["predict", "--bfile", d / "train", "--pfile-new", d / "newp", "--pheno",
                 d / "train.pheno", *PRED_ARGS, "--out", d / "pg"])
    assert r.exit_code == 0, r.output
    a, b = read_columns(str(d / "a.predict.tsv")), read_columns(str(d / "pg.predict.tsv"))
    for col in ("genetic_value", "pev", "reliability", "fitted"):
        np.testing.assert_allclose(numeric(a[col]), numeric(b[col]), rtol=1e-10, atol=1e-12,
                                   err_msg=col)


def test_null_model_reused(split_files):
    """predict --null PREFIX (reml --save-null on the training file) equals a
    fresh fit (the null fitted on the variants both files share); a kinship
    other than the saved model's (all variants, or another --maf) is a
    one-line error naming the difference."""
    d = split_files
    r = run_cli(["reml", "--bfile", d / "train", "--pheno", d / "train.pheno", *PRED_ARGS,
                 "--save-null", d / "all", "--out", d / "r"])
    assert r.exit_code == 0, r.output
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--null",
                 d / "all", "--out", d / "e"])
    assert r.exit_code == 1 and "9960 of its 10000 variants" in r.output, r.output
    assert f"--extract {d / 'e.shared.snplist'}" in r.output
    r = run_cli(["reml", "--bfile", d / "train", "--pheno", d / "train.pheno", *PRED_ARGS,
                 "--extract", d / "e.shared.snplist", "--save-null", d / "nul", "--out",
                 d / "r"])
    assert r.exit_code == 0, r.output
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--pheno",
                 d / "train.pheno", *PRED_ARGS, "--out", d / "fresh"])
    assert r.exit_code == 0, r.output
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--null",
                 d / "nul", "--covar", SIM + ".covar", "--covar-name", "age,bmi", "--out",
                 d / "c"])
    assert r.exit_code == 0, r.output
    assert "eigendecomposition" not in (d / "c.log").read_text()
    a, b = read_columns(str(d / "fresh.predict.tsv")), read_columns(str(d / "c.predict.tsv"))
    for col in ("genetic_value", "pev", "reliability", "fitted"):
        np.testing.assert_allclose(numeric(a[col]), numeric(b[col]), rtol=1e-9, err_msg=col)
    r = run_cli(["predict", "--bfile", d / "train", "--null", d / "nul", "--exclude",
                 d / "unshared.txt", "--maf", "0.2", "--out", d / "e"])
    assert r.exit_code == 1 and "differs from the one the null model" in r.output, r.output
    assert not (d / "e.predict.tsv").exists()
    r = run_cli(["predict", "--bfile", d / "train", "--null", d / "nul", "--pheno",
                 d / "train.pheno", "--out", d / "e"])
    assert r.exit_code != 0 and "drop --pheno" in r.output, r.output


def test_new_genotype_file_errors(split_files, tmp_path):
    d = split_files
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "train", "--pheno",
                 d / "train.pheno", *PRED_ARGS, "--out", tmp_path / "e"])
    assert r.exit_code == 1 and "300 sample(s) are in both" in r.output, r.output
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--grm",
                 Path(PRED, "fl"), "--pheno", d / "train.pheno", *PRED_ARGS, "--out",
                 tmp_path / "e"])
    assert r.exit_code != 0 and "drop --grm" in r.output, r.output
    (tmp_path / "one.txt").write_text(Path(d / "unshared.txt").read_text().split()[0] + "\n")
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--extract",
                 tmp_path / "one.txt", "--pheno", d / "train.pheno", *PRED_ARGS, "--out",
                 tmp_path / "e"])
    assert r.exit_code == 1 and "no selected variant" in r.output, r.output


class _Fake:
    """A genotype source over a fixed matrix (int8 with -127, or float32 NaN)."""

    def __init__(self, G, ids, variants):
        from gwaslmm.genotypes.base import SampleInfo

        self.G = G
        self.samples = SampleInfo(fid=ids, iid=ids, phenotypes=(), source="fake")
        self.variants = variants
        self.path, self.effect_allele_note, self.info_kind = "fake", "A1", None

    def read_block(self, sample_idx, variant_idx, threads=None):
        from gwaslmm.genotypes.dosage import dosage_block
        from gwaslmm.genotypes.int8 import int8_block

        G = np.asfortranarray(self.G[np.ix_(sample_idx, variant_idx)])
        return int8_block(G) if G.dtype == np.int8 else dosage_block(G)


def test_stacked_source_mixes_hard_calls_and_dosages():
    """Rows from either file in sample order, swapped alleles flipped, int8
    hard calls with float32 dosages as float32 (missing NaN)."""
    from gwaslmm.genotypes.base import VariantInfo
    from gwaslmm.genotypes.stacked import StackedSource

    def vi(ids, a1, a2):
        k = len(ids)
        return VariantInfo(chromosome=np.array(["1"] * k), position=np.arange(k),
                           id=np.array(ids), effect_allele=np.array(list(a1)),
                           other_allele=np.array(list(a2)), source="v")

    G1 = np.array([[0, 1, 2], [2, -127, 1]], dtype=np.int8)
    G2 = np.array([[0.5, 1.25], [np.nan, 2.0]], dtype=np.float32)  # variants v3, v1
    s = StackedSource(_Fake(G1, np.array(["a", "b"]), vi(["v1", "v2", "v3"], "AAA", "CCC")),
                      _Fake(G2, np.array(["c", "d"]), vi(["v3", "v1"], "CA", "AC")))
    assert list(s.shared) == [True, False, True] and list(s.match.flip) == [False, False, True]
    blk = s.read_block(np.array([0, 1, 2, 3]), np.array([0, 2]))
    want = np.array([[0, 2], [2, 1], [1.25, 1.5], [2.0, np.nan]], dtype=np.float32)
    np.testing.assert_array_equal(blk.G, want)
    assert blk.G.dtype == np.float32 and list(blk.n_missing) == [0, 1]
    np.testing.assert_allclose(blk.allele_freq, [5.25 / 8, 4.5 / 6])


def test_keep_without_new_samples_is_an_error(split_files, tmp_path):
    """--keep that leaves none of --bfile-new's samples: an error with the
    count (was a run predicting none of them, silently)."""
    d = split_files
    (tmp_path / "k.txt").write_text("".join(" ".join(ln.split()[:2]) + "\n" for ln in
                                            (d / "train.fam").read_text().splitlines()))
    r = run_cli(["predict", "--bfile", d / "train", "--bfile-new", d / "new", "--keep",
                 tmp_path / "k.txt", "--pheno", d / "train.pheno", *PRED_ARGS, "--out",
                 tmp_path / "e"])
    assert r.exit_code == 1 and "leave none of the 100 samples" in r.output, r.output
