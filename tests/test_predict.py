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
