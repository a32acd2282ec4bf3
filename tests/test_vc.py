"""Several variance components (issue 17): AI-REML against scipy.optimize on
the dense REML likelihood, and the reml command with --random/--random-slope/
--mgrm (lme4 and GEMMA references in testdata/reference/vc_*)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from conftest import SIM, run_cli
from gwaslmm.results import numeric, read_columns

from gwaslmm.errors import NumericalError
from gwaslmm.nullmodel.vc_reml import Term, ai_reml, reml_loglik


def _groups(rng, n, g):
    code = rng.integers(0, g, n)
    return code, (code[:, None] == code[None, :]).astype(float)


def _brute(y, X, mats, to_theta, z0):
    """scipy.optimize (BFGS, central-difference gradients) on the dense REML
    log-likelihood, from a start away from the estimate."""
    def obj(z):
        return -reml_loglik(y, X, mats, to_theta(z))

    def grad(z):
        h = 1e-6
        return np.array([(obj(z + h * u) - obj(z - h * u)) / (2 * h) for u in np.eye(len(z))])

    r = minimize(obj, z0, jac=grad, method="BFGS", options=dict(gtol=1e-9, maxiter=500))
    return np.asarray(to_theta(r.x)), -r.fun


def test_two_kinships_equal_brute_force():
    """Two kinships and a covariate, n = 120: theta and the REML logL equal the
    dense optimum to 1e-6."""
    rng = np.random.default_rng(17)
    n = 120
    Z1, Z2 = rng.normal(size=(n, 400)), rng.normal(size=(n, 300))
    K1, K2 = Z1 @ Z1.T / 400, Z2 @ Z2.T / 300
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    L1, L2 = np.linalg.cholesky(K1 + 1e-9 * np.eye(n)), np.linalg.cholesky(K2 + 1e-9 * np.eye(n))
    y = X @ [1.0, 0.3] + L1 @ rng.normal(0, 0.8, n) + L2 @ rng.normal(0, 0.6, n) + rng.normal(
        0, 0.6, n)
    mats = [K1, K2, None]
    terms = (Term("G1", "variance"), Term("G2", "variance"), Term("residual", "residual"))
    fit = ai_reml(y, X, mats, terms)
    theta, logl = _brute(y, X, mats, np.exp, np.log(fit.theta * 1.2))
    assert not fit.boundary.any()
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-6)
    assert abs(fit.logl - logl) < 1e-9 * abs(logl)
    assert fit.logl == pytest.approx(reml_loglik(y, X, mats, fit.theta), rel=1e-12)


def test_cross_classified_and_slope_with_covariance_equal_brute_force():
    """(1|a) + (1|b) cross-classified, and (1 + e | g) with the intercept-slope
    covariance (parameterized by a Cholesky factor in the brute force)."""
    rng = np.random.default_rng(4)
    n = 160
    a, Aa = _groups(rng, n, 30)
    b, Ab = _groups(rng, n, 12)
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 0.5] + rng.normal(0, 0.7, 30)[a] + rng.normal(0, 0.8, 12)[b] + rng.normal(size=n)
    terms = (Term("a", "variance"), Term("b", "variance"), Term("residual", "residual"))
    fit = ai_reml(y, X, [Aa, Ab, None], terms)
    assert not fit.boundary.any()
    theta, logl = _brute(y, X, [Aa, Ab, None], np.exp, np.log(fit.theta * 0.8))
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-6)
    assert abs(fit.logl - logl) < 1e-9 * abs(logl)

    g, Ag = _groups(rng, n, 25)
    e = rng.normal(size=n)
    ab = rng.multivariate_normal([0, 0], [[0.6, 0.2], [0.2, 0.3]], 25)
    y = 1 + 0.5 * e + ab[g, 0] + ab[g, 1] * e + rng.normal(size=n)
    X = np.column_stack([np.ones(n), e])
    mats = [Ag, Ag * np.outer(e, e), Ag * np.add.outer(e, e), None]
    terms = (Term("g", "variance"), Term("g:e", "variance"), Term("g:cov(e)", "covariance", (0, 1)),
             Term("residual", "residual"))
    fit = ai_reml(y, X, mats, terms)

    def chol(z):
        L = np.array([[np.exp(z[0]), 0.0], [z[1], np.exp(z[2])]])
        G = L @ L.T
        return [G[0, 0], G[1, 1], G[0, 1], np.exp(z[3])]

    t = fit.theta
    l11 = np.sqrt(t[0])
    z0 = [np.log(l11), t[2] / l11 * 1.1, np.log(np.sqrt(t[1] - (t[2] / l11) ** 2)), np.log(t[3])]
    theta, logl = _brute(y, X, mats, chol, z0)
    np.testing.assert_allclose(fit.theta, theta, rtol=1e-6)
    assert abs(fit.logl - logl) < 1e-9 * abs(logl)
    assert np.isfinite(fit.se).all()


def test_boundary_component_is_reported():
    """A group factor without variance in the data: its estimate sits at 0,
    flagged, without SE; the others equal the fit without that factor."""
    rng = np.random.default_rng(8)
    n = 200
    a, Aa = _groups(rng, n, 40)
    b, Ab = _groups(rng, n, 50)
    X = np.ones((n, 1))
    y = rng.normal(0, 0.9, 40)[a] + rng.normal(size=n)
    # remove every trace of b: y's group-b means made equal to the overall mean
    means = np.bincount(b, y, 50) / np.maximum(np.bincount(b, minlength=50), 1)
    y = y - means[b] + y.mean()
    terms = (Term("a", "variance"), Term("b", "variance"), Term("residual", "residual"))
    fit = ai_reml(y, X, [Aa, Ab, None], terms)
    assert fit.boundary[1] and fit.theta[1] == 0.0 and np.isnan(fit.se[1])
    sub = ai_reml(y, X, [Aa, None], (terms[0], terms[2]))
    np.testing.assert_allclose(fit.theta[[0, 2]], sub.theta, rtol=1e-7)
    assert fit.logl == pytest.approx(sub.logl, rel=1e-12)


def test_collinear_components_are_an_error():
    """Two identical group factors cannot be told apart: a NumericalError
    with the numbers, not a silent split."""
    rng = np.random.default_rng(2)
    n = 100
    a, Aa = _groups(rng, n, 20)
    y = rng.normal(size=20)[a] + rng.normal(size=n)
    terms = (Term("a", "variance"), Term("a2", "variance"), Term("residual", "residual"))
    with pytest.raises(NumericalError, match="singular|converge"):
        ai_reml(y, np.ones((n, 1)), [Aa, Aa.copy(), None], terms)


LME4 = os.path.join(os.path.dirname(SIM), "reference", "vc_lme4")
LME4_MODELS = {
    # model: (phenotype, fixed covariate, reml options, {our component: lme4 term})
    "M1": ("y_cross", "x", ["--random", "household,clinic"],
           {"household": "household", "clinic": "clinic", "residual": "Residual"}),
    "M2": ("y_slope", "e", ["--random", "group", "--random-slope", "e:group", "--slope-cov"],
           {"group": "group:(Intercept)", "group:e": "group:e", "group:cov(e)": "group:cov",
            "residual": "Residual"}),
    "M3": ("y_slope", "e", ["--random", "group"], {"group": "group", "residual": "Residual"}),
    "M4": ("y_cross", "x", ["--random", "household"],
           {"household": "household", "residual": "Residual"}),
}


@pytest.mark.parametrize("model", sorted(LME4_MODELS))
def test_group_effects_equal_lme4(model, tmp_path):
    """reml --no-kinship with group random intercepts (cross-classified),
    and a random slope with its intercept covariance, equal lme4 1.1.31's
    REML fits (testdata/reference/vc_lme4, fit_lme4.R) on the project's
    simulated groups: variance components and covariance to 1e-6, the REML
    log-likelihood and fixed effects to 1e-8 (issue: 1e-4)."""
    pheno, cov, extra, names = LME4_MODELS[model]
    ref = {}
    for ln in Path(LME4, "lme4_fits.tsv").read_text().splitlines()[1:]:
        m, kind, term, value = ln.split("\t")
        if m == model:
            ref[(kind, term)] = float(value)
    r = run_cli(["reml", "--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name",
                 pheno, "--covar", Path(LME4, "groups.covar"), "--covar-name", cov,
                 "--no-kinship", *extra, "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    vc = read_columns(str(tmp_path / "r.vc.tsv"))
    got = dict(zip(vc["component"], numeric(vc["estimate"])))
    for ours, theirs in names.items():
        want = next(v for (k, t), v in ref.items() if t == theirs and k != "fixed")
        assert got[ours] == pytest.approx(want, rel=1e-6), ours
    assert got["logL"] == pytest.approx(ref[("loglik", "REML")], rel=1e-8)
    fixed = read_columns(str(tmp_path / "r.reml.fixed.tsv"))
    beta = dict(zip(fixed["covariate"], numeric(fixed["beta"])))
    assert beta["intercept"] == pytest.approx(ref[("fixed", "(Intercept)")], rel=1e-6)
    assert beta[cov] == pytest.approx(ref[("fixed", cov)], rel=1e-6)
    assert (tmp_path / "r.samples.tsv").read_text().count("\n") - 1 == ref[("n", "obs")]
    assert set(vc["boundary"]) == {"none"}
    assert (numeric(vc["p_lrt"])[:-3] < 1e-3).all()  # every simulated component is detected


def test_grouping_column_alone_leaves_the_intercept(tmp_path):
    """A covariate file whose only column is the grouping column: intercept
    only (the column was once coded as a categorical covariate too, which
    made its random effect unidentifiable)."""
    rows = [ln.split("\t") for ln in Path(LME4, "groups.covar").read_text().splitlines()]
    (tmp_path / "h.covar").write_text("".join(f"{r[0]}\t{r[1]}\t{r[4]}\n" for r in rows))
    r = run_cli(["reml", "--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name",
                 "y_cross", "--covar", tmp_path / "h.covar", "--random", "household",
                 "--no-kinship", "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    assert "covariates (1 columns): intercept" in (tmp_path / "r.log").read_text()


def test_component_options_errors(tmp_path):
    common = ["reml", "--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name",
              "y_cross", "--out", tmp_path / "e"]
    r = run_cli([*common, "--random", "household", "--no-kinship"])
    assert r.exit_code == 2 and "--covar FILE" in r.output, r.output
    cov = ["--covar", Path(LME4, "groups.covar"), "--covar-name", "x"]
    r = run_cli([*common, *cov, "--random", "nosuch", "--no-kinship"])
    assert r.exit_code == 2 and "no such column" in r.output, r.output
    r = run_cli([*common, *cov, "--random-slope", "e:group", "--slope-cov", "--no-kinship"])
    assert r.exit_code == 2 and "add --random group" in r.output, r.output
    r = run_cli([*common, *cov, "--random-slope", "e", "--no-kinship"])
    assert r.exit_code == 2 and "NAME:GROUP" in r.output, r.output
    r = run_cli([*common, *cov, "--random", "household", "--no-kinship", "--loco"])
    assert r.exit_code == 2 and "not offered yet" in r.output, r.output
    assert not (tmp_path / "e.vc.tsv").exists()


GEMMA_VC = os.path.join(os.path.dirname(SIM), "reference", "vc_gemma")


def _gemma_numbers(label: str) -> np.ndarray:
    for ln in Path(GEMMA_VC, "gemma_vc2.log.txt").read_text().splitlines():
        if ln.startswith(f"## {label} ="):
            return np.array([float(x) for x in ln.split("=")[1].split()])
    raise AssertionError(label)


def test_two_kinships_equal_gemma_vc2(tmp_path):
    """reml --mgrm with the GRMs of chromosomes 1-4 and 5-8 equals GEMMA
    0.98.5 -vc 2 -noconstrain -mk on the same kinships (testdata/reference/
    vc_gemma: sigma2 and their SEs, GEMMA's 6 printed digits: 1e-5; issue:
    1e-3) and the dense REML optimum there (logL to 1e-9)."""
    for name, chrs in (("k1", "1-4"), ("k2", "5-8")):  # float64 products, as for the reference
        r = run_cli(["grm", "--bfile", SIM, "--chr", chrs, "--grm-dtype", "float64", "--out",
                     tmp_path / name])
        assert r.exit_code == 0, r.output
    (tmp_path / "list.txt").write_text("k1\nk2\n")
    r = run_cli(["reml", "--bfile", SIM, "--pheno", Path(GEMMA_VC, "vc2.pheno.tsv"),
                 "--covar", Path(GEMMA_VC, "vc2.covar.tsv"), "--mgrm", tmp_path / "list.txt",
                 "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    vc = read_columns(str(tmp_path / "r.vc.tsv"))
    est, se = numeric(vc["estimate"]), numeric(vc["se"])
    assert list(vc["component"][:3]) == ["G1", "G2", "residual"]
    np.testing.assert_allclose(est[:3], _gemma_numbers("sigma2 estimates"), rtol=1e-5)
    np.testing.assert_allclose(se[:3], _gemma_numbers("se(sigma2)"), rtol=1e-5)
    dense = Path(GEMMA_VC, "dense_check.txt").read_text()
    logl = float(dense.split("REML logL                 =")[1].split()[0])
    assert est[list(vc["component"]).index("logL")] == pytest.approx(logl, rel=1e-9)
    # the same two kinships built in one pass by --grm-split
    r = run_cli(["reml", "--bfile", SIM, "--pheno", Path(GEMMA_VC, "vc2.pheno.tsv"),
                 "--covar", Path(GEMMA_VC, "vc2.covar.tsv"), "--grm-split", "chr:1-4/5-8",
                 "--out", tmp_path / "s"])
    assert r.exit_code == 0, r.output
    split = read_columns(str(tmp_path / "s.vc.tsv"))
    # (the --mgrm kinships went through GCTA's float32 files: 1.3e-7 apart)
    np.testing.assert_allclose(numeric(split["estimate"]), est, rtol=1e-6)


def test_grm_split_parts_in_one_pass():
    """grm_sum with a split: each set's sum equals grm_sum over that set's
    variants alone (chromosome sets), and the MAF bins partition the full sum."""
    from gwaslmm.drivers.vc import parse_grm_split
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.kinship import grm_sum
    from gwaslmm.qc import VariantFilters

    bed = BedFile(SIM)
    samples = np.arange(0, 1000, 3)
    snps = np.arange(bed.variants.m)
    flt = VariantFilters()
    k, set_of, what = parse_grm_split("chr:1-3/4,7", bed, snps)
    gs = grm_sum(bed, samples, snps, "standardized", flt, 1.0, block_size=700, split=(k, set_of))
    assert k == 2 and what == ["chromosomes 1-3", "chromosomes 4,7"]
    for g, chrs in enumerate((["1", "2", "3"], ["4", "7"])):
        idx = snps[np.isin(bed.variants.chromosome, chrs)]
        one = grm_sum(bed, samples, idx, "standardized", flt, 1.0)
        assert gs.m_parts[g] == one.m
        np.testing.assert_allclose(np.tril(gs.parts[g]), np.tril(one.S), rtol=1e-10, atol=1e-8)
    k, set_of, what = parse_grm_split("maf:0,0.05,0.5", bed, snps)
    gs = grm_sum(bed, samples, snps, "standardized", flt, 1.0, split=(k, set_of))
    full = grm_sum(bed, samples, snps, "standardized", flt, 1.0)
    assert sum(gs.m_parts) == full.m and min(gs.m_parts) > 100
    np.testing.assert_allclose(np.tril(gs.parts[0] + gs.parts[1]), np.tril(full.S), rtol=1e-10,
                               atol=1e-8)
    with pytest.raises(Exception, match="overlaps"):
        parse_grm_split("chr:1-3/3-4", bed, snps)
    with pytest.raises(Exception, match="increasing MAF edges"):
        parse_grm_split("maf:0.1,0.05,0.5", bed, snps)


def test_assoc_with_components_equals_dense_gls(tmp_path):
    """assoc with a kinship, two group factors and a random slope: per SNP,
    beta, SE and p equal dense GLS at reml's estimates (V = sum theta_k A_k +
    sigma_e^2 I, the scale re-estimated per SNP as GCTA --mlma) to 1e-6."""
    from scipy.stats import f as fdist

    from gwaslmm.genotypes.plink1 import BedFile

    opts = ["--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name", "y_slope",
            "--covar", Path(LME4, "groups.covar"), "--covar-name", "x,e", "--random",
            "household,clinic", "--random-slope", "e:clinic"]
    r = run_cli(["reml", *opts, "--out", tmp_path / "r"])  # the kinship of every variant
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", *opts, "--chr", "3", "--no-gzip", "--out", tmp_path / "a"])
    assert r.exit_code == 0, r.output
    vc = read_columns(str(tmp_path / "r.vc.tsv"))
    theta = dict(zip(vc["component"], numeric(vc["estimate"])))
    res = read_columns(str(tmp_path / "a.assoc.tsv"))
    keys = [ln.split()[:2] for ln in (tmp_path / "a.samples.tsv").read_text().splitlines()[1:]]
    bed = BedFile(SIM)
    at = {k: i for i, k in enumerate(zip(bed.samples.fid, bed.samples.iid))}
    rows = np.array([at[tuple(k)] for k in keys])
    cov = {}
    for ln in Path(LME4, "groups.covar").read_text().splitlines()[1:]:
        f = ln.split("\t")
        cov[(f[0], f[1])] = f
    ph = {tuple(ln.split("\t")[:2]): ln.split("\t")[3]
          for ln in Path(LME4, "groups.pheno").read_text().splitlines()[1:]}
    c = [cov[tuple(k)] for k in keys]
    x_, e = np.array([float(f[2]) for f in c]), np.array([float(f[3]) for f in c])
    same = [np.equal.outer(np.array([f[j] for f in c]), np.array([f[j] for f in c])).astype(float)
            for j in (4, 5)]
    y = np.array([float(ph[tuple(k)]) for k in keys])
    W = np.column_stack([np.ones(len(keys)), x_, e])
    # float64 products, as the kinship reml and assoc build for themselves
    kin = run_cli(["grm", "--bfile", SIM, "--keep", tmp_path / "a.samples.tsv", "--grm-dtype",
                   "float64", "--out", tmp_path / "k"])
    assert kin.exit_code == 0
    from gwaslmm.kinship_io import read_gcta_grm

    K = read_gcta_grm(str(tmp_path / "k")).subset(np.array([k[0] for k in keys]),
                                                   np.array([k[1] for k in keys]))
    V = (theta["G1"] * K + theta["household"] * same[0] + theta["clinic"] * same[1]
         + theta["clinic:e"] * same[1] * np.outer(e, e) + theta["residual"] * np.eye(len(y)))
    H = V / theta["residual"]
    Hi = np.linalg.inv(H)
    ids = {v: j for j, v in enumerate(bed.variants.id)}
    pick = np.linspace(0, len(res["variant_id"]) - 1, 25).astype(int)
    cols = np.array([ids[res["variant_id"][i]] for i in pick])
    G = bed.read_block(np.sort(rows), cols).G.astype(float)[np.argsort(np.argsort(rows))]
    n, p = W.shape
    for j, i in enumerate(pick):
        g = G[:, j]
        g = np.where(g < 0, g[g >= 0].mean(), g)
        X = np.column_stack([W, g])
        A = X.T @ Hi @ X
        b = np.linalg.solve(A, X.T @ Hi @ y)
        r_ = y - X @ b
        s2 = r_ @ Hi @ r_ / (n - p - 1)
        se = np.sqrt(s2 * np.linalg.inv(A)[-1, -1])
        pv = fdist.sf((b[-1] / se) ** 2, 1, n - p - 1)
        assert float(res["beta"][i]) == pytest.approx(b[-1], rel=1e-6, abs=1e-9)
        assert float(res["standard_error"][i]) == pytest.approx(se, rel=1e-6)
        assert float(res["p_value"][i]) == pytest.approx(pv, rel=1e-5)
    log = (tmp_path / "a.log").read_text()
    assert "variance components fixed at the null REML estimates" in log


def test_components_recovered_over_replicates():
    """Simulated truth: 40 replicates of (1|a) + (1|b) + residual (0.5, 0.3,
    1.0; 400 samples, 80 and 12 groups): the +-2 SE intervals cover the truth
    in at least 85% of the replicates (nominal 95%; measured 0.975, 0.875,
    0.975: the 12-group factor's SE is itself imprecise), and
    each mean estimate lies within 3 standard errors of the mean of the truth
    (measured 0.5, 2.1 and 1.1; over 200 replicates the means are 0.498,
    0.299, 0.9995: no bias)."""
    rng = np.random.default_rng(20261127)
    n, truth = 400, np.array([0.5, 0.3, 1.0])
    a = np.repeat(np.arange(80), 5)
    Aa = (a[:, None] == a[None, :]).astype(float)
    terms = (Term("a", "variance"), Term("b", "variance"), Term("residual", "residual"))
    est, cover = [], []
    for _ in range(40):
        b, Ab = _groups(rng, n, 12)
        y = (1.0 + rng.normal(0, np.sqrt(truth[0]), 80)[a] + rng.normal(0, np.sqrt(truth[1]), 12)[b]
             + rng.normal(0, np.sqrt(truth[2]), n))
        fit = ai_reml(y, np.ones((n, 1)), [Aa, Ab, None], terms)
        est.append(fit.theta)
        cover.append(np.abs(fit.theta - truth) <= 2 * np.nan_to_num(fit.se, nan=0.0))
    est = np.array(est)
    se_mean = est.std(axis=0, ddof=1) / np.sqrt(len(est))
    assert (np.abs(est.mean(axis=0) - truth) < 3 * se_mean).all(), (est.mean(axis=0), se_mean)
    assert (np.mean(cover, axis=0) >= 0.85).all(), np.mean(cover, axis=0)


def test_assoc_loco_with_components(tmp_path):
    """assoc --loco with a household effect: chromosome c's rows equal a run
    with the kinship of the other chromosomes given (--grm, built by grm
    --chr) and the same group factor, restricted to c (the null model
    refitted per left-out chromosome; the group factors as they are)."""
    opts = ["--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name", "y_cross",
            "--covar", Path(LME4, "groups.covar"), "--covar-name", "x", "--random",
            "household", "--no-gzip"]
    r = run_cli(["assoc", *opts, "--loco", "--chr", "2,5", "--out", tmp_path / "loco"])
    assert r.exit_code == 0, r.output
    loco = read_columns(str(tmp_path / "loco.assoc.tsv"))
    log = (tmp_path / "loco.log").read_text()
    assert "without chr 2" in log and "without chr 5" in log
    for ch, rest in (("2", "1,3-8"), ("5", "1-4,6-8")):
        r = run_cli(["grm", "--bfile", SIM, "--keep", tmp_path / "loco.samples.tsv", "--chr",
                     rest, "--out", tmp_path / f"k{ch}"])
        assert r.exit_code == 0, r.output
        r = run_cli(["assoc", *opts, "--grm", tmp_path / f"k{ch}", "--chr", ch, "--out",
                     tmp_path / f"a{ch}"])
        assert r.exit_code == 0, r.output
        one = read_columns(str(tmp_path / f"a{ch}.assoc.tsv"))
        rows = loco["chromosome"] == ch
        assert list(loco["variant_id"][rows]) == list(one["variant_id"])
        for col in ("beta", "standard_error", "p_value"):
            np.testing.assert_allclose(numeric(loco[col][rows]), numeric(one[col]), rtol=1e-5,
                                       err_msg=col)


def test_gxe_variance_component_equals_brute_force(tmp_path):
    """--gxe-vc e adds the genetic slope on e, covariance K o ee': on 250
    samples the estimates and REML logL equal scipy.optimize on the dense
    likelihood with K (gwaslmm grm), K o ee' and I (1e-5; SE-free
    boundary-free case); --slope-cov adds K o (1e' + e1')."""
    (tmp_path / "keep.txt").write_text("".join(" ".join(ln.split()[:2]) + "\n" for ln in
                                               Path(SIM + ".fam").read_text().splitlines()[:250]))
    common = ["--bfile", SIM, "--keep", tmp_path / "keep.txt", "--pheno",
              Path(LME4, "groups.pheno"), "--pheno-name", "y_slope", "--covar",
              Path(LME4, "groups.covar"), "--covar-name", "e"]
    r = run_cli(["reml", *common, "--gxe-vc", "e", "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    vc = read_columns(str(tmp_path / "r.vc.tsv"))
    got = dict(zip(vc["component"], numeric(vc["estimate"])))
    assert list(vc["component"][:3]) == ["G1", "G1:e", "residual"]
    r = run_cli(["grm", "--bfile", SIM, "--keep", tmp_path / "r.samples.tsv", "--out",
                 tmp_path / "k"])
    assert r.exit_code == 0, r.output
    from gwaslmm.kinship_io import read_gcta_grm

    keys = [ln.split()[:2] for ln in (tmp_path / "r.samples.tsv").read_text().splitlines()[1:]]
    K = read_gcta_grm(str(tmp_path / "k")).subset(np.array([k[0] for k in keys]),
                                                   np.array([k[1] for k in keys]))
    cov = {tuple(f[:2]): float(f[3]) for f in (ln.split("\t") for ln in
                                              Path(LME4, "groups.covar").read_text()
                                              .splitlines()[1:])}
    ph = {tuple(f[:2]): f[3] for f in (ln.split("\t") for ln in
                                       Path(LME4, "groups.pheno").read_text().splitlines()[1:])}
    e = np.array([cov[tuple(k)] for k in keys])
    y = np.array([float(ph[tuple(k)]) for k in keys])
    X = np.column_stack([np.ones(len(y)), e])
    mats = [K, K * np.outer(e, e), None]
    theta = np.array([got["G1"], got["G1:e"], got["residual"]])
    assert (theta > 0).all()
    ref, logl = _brute(y, X, mats, np.exp, np.log(theta * 1.3))
    np.testing.assert_allclose(theta, ref, rtol=1e-5)
    assert got["logL"] == pytest.approx(logl, rel=1e-9)
    r = run_cli(["reml", *common, "--gxe-vc", "e", "--slope-cov", "--out", tmp_path / "c"])
    assert r.exit_code == 0, r.output
    vc = read_columns(str(tmp_path / "c.vc.tsv"))
    assert "G1:cov(e)" in list(vc["component"])
    r = run_cli(["reml", *common, "--gxe-vc", "e", "--no-kinship", "--out", tmp_path / "x"])
    assert r.exit_code == 2 and "needs a kinship" in r.output, r.output


def test_saved_component_null_model_reused(tmp_path):
    """reml --save-null with variance components, then assoc --null (no refit)
    gives the rows of assoc fitting the model itself; predict refuses such a
    file; component options with --null are a usage error."""
    opts = ["--pheno", Path(LME4, "groups.pheno"), "--pheno-name", "y_cross", "--covar",
            Path(LME4, "groups.covar"), "--covar-name", "x", "--random", "household,clinic"]
    r = run_cli(["reml", "--bfile", SIM, *opts, "--save-null", tmp_path / "n", "--out",
                 tmp_path / "r"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", "--bfile", SIM, *opts, "--chr", "4", "--no-gzip", "--out",
                 tmp_path / "direct"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--chr", "4", "--no-gzip",
                 "--out", tmp_path / "stored"])
    assert r.exit_code == 0, r.output
    log = (tmp_path / "stored.log").read_text()
    assert "AI-REML" not in log and "variance components G1, household, clinic" in log
    a = (tmp_path / "direct.assoc.tsv").read_text()
    assert a == (tmp_path / "stored.assoc.tsv").read_text() and a.count("\n") > 100
    r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--random", "household",
                 "--out", tmp_path / "e"])
    assert r.exit_code == 2 and "--null already fixes the variance components" in r.output
    r = run_cli(["predict", "--bfile", SIM, "--null", tmp_path / "n", "--out", tmp_path / "e"])
    assert r.exit_code == 2 and "several variance components" in r.output, r.output


def test_readme_worked_example(tmp_path):
    """The README's worked example: the kinship with household and clinic on
    y_cross puts the kinship's variance at the boundary 0 (flagged, no SE, LRT
    p = 1 or near) and the group components then equal lme4's fit without it
    (M1) to 1e-6."""
    r = run_cli(["reml", "--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name",
                 "y_cross", "--covar", Path(LME4, "groups.covar"), "--covar-name", "x",
                 "--random", "household,clinic", "--out", tmp_path / "vc"])
    assert r.exit_code == 0, r.output
    vc = read_columns(str(tmp_path / "vc.vc.tsv"))
    row = {c: i for i, c in enumerate(vc["component"])}
    assert vc["boundary"][row["G1"]] == "lower" and vc["se"][row["G1"]] == "NA"
    assert vc["share_se"][row["G1"]] == "NA"
    assert float(vc["estimate"][row["G1"]]) == 0.0
    est = numeric(vc["estimate"])
    assert est[row["household"]] == pytest.approx(0.518443804317, rel=1e-6)
    assert est[row["clinic"]] == pytest.approx(0.541402731079, rel=1e-6)
    assert est[row["residual"]] == pytest.approx(1.08087144928, rel=1e-6)
    assert all(vc["share_se"][row[c]] != "NA" for c in ("household", "clinic", "residual"))


def test_household_effect_modelled_is_calibrated(tmp_path):
    """A shared household environment among sibs (benchmarks/vc_calibration.py,
    replicate 0 of 4): on chromosomes without effects the kinship-only scan
    is inflated (lambda_GC 1.22; all four replicates 1.13-1.22) and the scan
    with the household modelled is calibrated (0.97; all four 0.955-1.018)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "vc_calibration", os.path.join(os.path.dirname(os.path.dirname(SIM)), "benchmarks",
                                       "vc_calibration.py"))
    cal = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(cal)
    pre = cal.make_data(str(tmp_path))
    pheno, covar, snps = cal.household_phenotype(pre, str(tmp_path), 0)
    base = ["assoc", "--bfile", pre, "--pheno", pheno, "--model-snps", snps, "--chr", "5-8",
            "--no-gzip"]
    r = run_cli([*base, "--fast", "--out", tmp_path / "kin"])
    assert r.exit_code == 0, r.output
    r = run_cli([*base, "--covar", covar, "--random", "household", "--out", tmp_path / "hh"])
    assert r.exit_code == 0, r.output
    kin = cal.lambda_null_chromosomes(str(tmp_path / "kin.assoc.tsv"))
    hh = cal.lambda_null_chromosomes(str(tmp_path / "hh.assoc.tsv"))
    assert kin > 1.1, kin
    assert 0.95 <= hh <= 1.05, hh


def test_bad_component_input_is_one_line(tmp_path):
    """Found by a fault-injection pass: each of these is one error line with
    exit 1 (data) or 2 (usage) and no result file, before any fit."""
    rows = [ln.split("\t") for ln in Path(LME4, "groups.covar").read_text().splitlines()]
    extra = [["one", "own", "const"]] + [["A", f"S{i}", "1.0"] for i in range(len(rows) - 1)]
    (tmp_path / "c.covar").write_text("".join("\t".join(r + x) + "\n"
                                              for r, x in zip(rows, extra)))
    base = ["--bfile", SIM, "--pheno", Path(LME4, "groups.pheno"), "--pheno-name", "y_cross",
            "--covar", tmp_path / "c.covar", "--covar-name", "x"]
    cases = [
        (["--random", "one", "--no-kinship"], 1, "one group"),
        (["--random", "own", "--no-kinship"], 1, "its own group"),
        (["--random", "household,household", "--no-kinship"], 2, "given twice"),
        (["--random-slope", "e:group:x", "--no-kinship"], 2, "NAME:GROUP"),
        (["--random-slope", "const:group", "--random", "group", "--no-kinship"], 1,
         "the same (1)"),
        (["--gxe-vc", "const"], 1, "the kinship itself"),
        (["--grm-split", "chr:a-b/5"], 2, "--grm-split chr:a-b/5: range 'a-b'"),
    ]
    for k, (opts, code, text) in enumerate(cases):
        r = run_cli(["reml", *base, *opts, "--out", tmp_path / f"e{k}"])
        assert r.exit_code == code and text in r.output, (opts, r.output)
        assert not (tmp_path / f"e{k}.vc.tsv").exists()
    r = run_cli(["assoc", *base, "--random", "household", "--test", "lrt", "--out",
                 tmp_path / "t"])
    assert r.exit_code == 2 and "not offered with several variance components" in r.output
    r = run_cli(["reml", *base, "--random", "household", "--no-kinship", "--save-null",
                 "/proc/none/x", "--out", tmp_path / "s"])
    assert r.exit_code != 0 and not (tmp_path / "s.vc.tsv").exists(), r.output


def test_damaged_component_null_file_is_one_line(tmp_path):
    """A saved several-component null model with a NaN in its factor, or
    arrays of the wrong size, is a data error (was an all-NA scan, or an
    internal error)."""
    opts = ["--pheno", Path(LME4, "groups.pheno"), "--pheno-name", "y_cross", "--covar",
            Path(LME4, "groups.covar"), "--covar-name", "x", "--random", "household",
            "--no-kinship"]
    r = run_cli(["reml", "--bfile", SIM, *opts, "--save-null", tmp_path / "n", "--out",
                 tmp_path / "r"])
    assert r.exit_code == 0, r.output
    with np.load(tmp_path / "n.null.npz") as z:
        arrays = {k: z[k] for k in z.files}
    for tag, change, text in (("nan", lambda a: a["L"].__setitem__((3, 2), np.nan), "non-finite"),
                              ("shape", lambda a: a.__setitem__("L", a["L"][:500, :500]),
                               "inconsistent")):
        bad = {k: v.copy() for k, v in arrays.items()}
        change(bad)
        np.savez(tmp_path / f"{tag}.null.npz", **bad)
        r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / tag, "--out",
                     tmp_path / f"a{tag}"])
        assert r.exit_code == 1 and text in r.output, r.output
        assert not list(tmp_path.glob(f"a{tag}.assoc.tsv*"))


def test_start_with_a_variance_at_zero():
    """A given start with a variance at 0 whose score points down (a LOCO or
    LRT refit started from a boundary fit) still optimizes the others (the
    step to the bound used to be of length 0 and stop the fit at its start)."""
    rng = np.random.default_rng(8)
    n = 200
    a, Aa = _groups(rng, n, 40)
    b, Ab = _groups(rng, n, 50)
    y = rng.normal(0, 0.9, 40)[a] + rng.normal(size=n)
    means = np.bincount(b, y, 50) / np.maximum(np.bincount(b, minlength=50), 1)
    y = y - means[b] + y.mean()  # no trace of b: its variance at 0
    terms = (Term("a", "variance"), Term("b", "variance"), Term("residual", "residual"))
    X = np.ones((n, 1))
    best = ai_reml(y, X, [Aa, Ab, None], terms)
    assert best.theta[1] == 0.0
    fit = ai_reml(y, X, [Aa, Ab, None], terms, start=np.array([0.2, 0.0, 2.0]))
    np.testing.assert_allclose(fit.theta, best.theta, rtol=1e-7, atol=1e-12)
    assert fit.iterations > 1
