"""Gene-by-environment scans (assoc --gxe NAME): kernels against their numpy
references, both modes against dense generalized least squares, the exact
mode against GEMMA 0.98.5 -gxe (testdata/reference/gxe), and planted
interactions found."""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from conftest import SIM, run_cli

from gwaslmm.results import numeric, read_columns
from gwaslmm.scan.pairs import (pair_exact_block, pair_loglik_reference, pair_reference,
                                pair_stats_reference, stats_from_sums)

GXE = os.path.join(os.path.dirname(SIM), "reference", "gxe")


def _toy(rng, n=70, m=9, c=3):
    d = np.sort(rng.gamma(0.7, 1.0, n - c))[::-1]
    model = SimpleNamespace(d=d, yt=rng.normal(size=n - c) * np.sqrt(0.5 * d + 1), n=n, c=c)
    Xt = rng.normal(size=(n - c, m))
    Zt = 0.3 * Xt + rng.normal(size=(n - c, m))
    Zt[:, -1] = Xt[:, -1] * 1e-3 + rng.normal(size=n - c) * 1e-3  # small scale, still fine
    return model, Xt, Zt


def test_exact_kernel_matches_reference():
    """The numba grid + Brent search against scipy's bounded optimizer on the
    numpy likelihood: same lambda, log-likelihood and Wald statistics."""
    rng = np.random.default_rng(16)
    model, Xt, Zt = _toy(rng)
    got = pair_exact_block(model, Xt, Zt)
    ref = pair_reference(model, Xt, Zt)
    np.testing.assert_allclose(got[:, 7], ref[:, 7], rtol=0, atol=1e-8)  # logL
    np.testing.assert_allclose(got[:, 6], ref[:, 6], rtol=1e-4)  # lambda (flat optimum)
    np.testing.assert_allclose(got[:, :5], ref[:, :5], rtol=1e-5)
    np.testing.assert_allclose(got[:, 9], ref[:, 5], rtol=1e-5)  # cov(beta_u, beta_v)
    for s in range(Xt.shape[1]):  # the kernel's logL is the reference's at its lambda
        ll = pair_loglik_reference(model, Xt[:, s], Zt[:, s], got[s, 6])
        assert abs(ll - got[s, 7]) < 1e-8
        st = pair_stats_reference(model, Xt[:, s], Zt[:, s], got[s, 6])
        np.testing.assert_allclose(got[s, :5], st[:5], rtol=1e-9)
        np.testing.assert_allclose(got[s, 9], st[5], rtol=1e-9)


def test_vectorized_stats_equal_the_reference():
    rng = np.random.default_rng(2)
    model, Xt, Zt = _toy(rng)
    lam = 0.7
    w = 1 / (lam * model.d + 1)
    sums = np.column_stack([w @ (Xt * Xt), w @ (Xt * Zt), w @ (Zt * Zt), (w * model.yt) @ Xt,
                            (w * model.yt) @ Zt])
    got = stats_from_sums(sums, np.dot(w, model.yt ** 2), model.n - model.c - 2)
    for s in range(Xt.shape[1]):
        ref = pair_stats_reference(model, Xt[:, s], Zt[:, s], lam)
        np.testing.assert_allclose(got[s, [0, 1, 2, 3, 4, 6]], ref, rtol=1e-10)


# ---------------------------------------------------------------------------
# the whole pipeline against dense GLS, on 150 samples
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def small(tmp_path_factory):
    d = tmp_path_factory.mktemp("gxe")
    fam = Path(SIM + ".fam").read_text().splitlines()
    with open(d / "keep.txt", "w") as fh:
        fh.write("\n".join(" ".join(ln.split()[:2]) for ln in fam[:150]) + "\n")
    common = ["--bfile", SIM, "--keep", d / "keep.txt"]
    r = run_cli(["grm", *common, "--chr", "1-4", "--out", d / "k"])
    assert r.exit_code == 0, r.output
    return d, common


def _dense(d, lam, fid_iid, pheno="trait"):
    """Dense GLS of y on [1, age, bmi, x, x*age] with V = lam K + I."""
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.kinship_io import read_gcta_grm

    g = read_gcta_grm(str(d / "k"))
    K = g.K
    ids = list(zip(g.fid, g.iid))
    rows = {}
    for ln in Path(SIM + ".covar").read_text().splitlines()[1:]:
        f = ln.split()
        rows[(f[0], f[1])] = f[2:4]
    ph = {}
    head, *lines = Path(SIM + ".pheno").read_text().splitlines()
    col = head.split().index(pheno)
    for ln in lines:
        f = ln.split()
        ph[(f[0], f[1])] = f[col]
    keep = [i for i, k in enumerate(ids) if k in fid_iid]
    bed = BedFile(SIM)
    at = {k: i for i, k in enumerate(zip(bed.samples.fid, bed.samples.iid))}
    sidx = np.array([at[ids[i]] for i in keep])
    W = np.array([[1.0, float(rows[ids[i]][0]), float(rows[ids[i]][1])] for i in keep])
    y = np.array([float(ph[ids[i]]) for i in keep])
    V = lam * K[np.ix_(keep, keep)] + np.eye(len(keep))
    Vi = np.linalg.inv(V)

    def fit(snp):
        G = bed.read_block(np.sort(sidx), np.array([snp])).G[:, 0].astype(float)
        order = np.argsort(np.argsort(sidx))
        x = G[order]
        miss = x < 0
        x[miss] = x[~miss].mean()
        X = np.column_stack([W, x, x * W[:, 1]])
        A = X.T @ Vi @ X
        beta = np.linalg.solve(A, X.T @ Vi @ y)
        r = y - X @ beta
        s2 = r @ Vi @ r / (len(y) - X.shape[1])
        se = np.sqrt(np.diag(np.linalg.inv(A)) * s2)
        return beta[3], se[3], beta[4], se[4]
    return fit


@pytest.mark.parametrize("fast", [False, True])
def test_scan_equals_dense_gls(small, fast):
    """Each variant's main effect and interaction (and their SEs) equal dense
    GLS at the lambda used: the variant's REML lambda (exact) or the null
    one (--fast, from reml)."""
    d, common = small
    ph = ["--pheno", SIM + ".pheno", "--pheno-name", "trait", "--covar", SIM + ".covar",
          "--covar-name", "age,bmi"]
    tag = "f" if fast else "e"
    r = run_cli(["assoc", *common, *ph, "--gxe", "age", "--grm", d / "k", "--chr", "8",
                 "--no-gzip", *(["--fast"] if fast else []), "--out", d / tag])
    assert r.exit_code == 0, r.output
    res = read_columns(str(d / f"{tag}.assoc.tsv"))
    samples = [tuple(ln.split()[:2]) for ln in
               (d / f"{tag}.samples.tsv").read_text().splitlines()[1:]]
    if fast:
        r = run_cli(["reml", *common, *ph, "--grm", d / "k", "--out", d / "r"])
        assert r.exit_code == 0, r.output
        lam_null = float(read_columns(str(d / "r.reml.tsv"))["lambda"][0])
    from gwaslmm.genotypes.plink1 import BedFile

    vid = BedFile(SIM).variants.id.tolist()
    for j in range(0, len(res["variant_id"]), 97):
        lam = lam_null if fast else float(res["lambda_remle"][j])
        fit = _dense(d, lam, set(samples))
        bx, sx, bz, sz = fit(vid.index(res["variant_id"][j]))
        got = [numeric(res[c])[j] for c in ("beta", "standard_error", "beta_gxe", "se_gxe")]
        np.testing.assert_allclose(got, [bx, sx, bz, sz], rtol=2e-6)


# ---------------------------------------------------------------------------
# GEMMA 0.98.5 -gxe
# ---------------------------------------------------------------------------

def test_exact_gxe_agrees_with_gemma(tmp_path):
    """assoc --gxe age against gemma -lmm 1 -gxe (same kinship, covariates
    intercept, bmi, age; commands in make_gxe_reference.sh): interaction
    beta, se and p_wald to 1e-4 relative, lambda and logL_H1 too."""
    r = run_cli(["grm", "--bfile", SIM, "--chr", "8", "--grm-type", "centered", "--out",
                 tmp_path / "k"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", "--bfile", SIM, "--chr", "8", "--pheno",
                 os.path.join(GXE, "gxe.pheno"), "--pheno-name", "gxe_trait", "--covar",
                 SIM + ".covar", "--covar-name", "age,bmi", "--gxe", "age", "--grm",
                 tmp_path / "k", "--no-gzip", "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    ours = read_columns(str(tmp_path / "g.assoc.tsv"))
    with gzip.open(os.path.join(GXE, "gemma_gxe_lmm1.assoc.txt.gz"), "rt") as fh:
        head, *rows = [ln.split() for ln in fh]
    ref = {h: np.array([row[k] for row in rows]) for k, h in enumerate(head)}
    pos = {v: i for i, v in enumerate(ours["variant_id"])}
    assert set(ref["rs"]) == set(ours["variant_id"])
    at = np.array([pos[v] for v in ref["rs"]])
    for g, o in (("beta", "beta_gxe"), ("se", "se_gxe"), ("p_wald", "p_gxe"),
                 ("l_remle", "lambda_remle")):
        np.testing.assert_allclose(numeric(ours[o])[at], ref[g].astype(float), rtol=1e-4,
                                   err_msg=g)
    np.testing.assert_allclose(numeric(ours["logl_h1"])[at], ref["logl_H1"].astype(float),
                               rtol=1e-6)


def test_planted_interaction_found_and_null_calibrated(tmp_path):
    """gxe.pheno plants x*age effects at two chromosome-8 variants: the
    strong one (0.5 per allele per SD of age, allele frequency 0.57) is the
    top hit by far.  Without a planted interaction (trait, trait2), the
    interaction tests over the genome with --loco are calibrated: lambda_GC
    of p_gxe 0.93-1.07 (measured 1.01 and 0.96).  (With the planted effect
    the other interactions are inflated: relatives share the causal
    variant's x e, a GxE covariance K o ee' that this model lacks.)"""
    from gwaslmm.scan.pvalues import lambda_gc

    base = ["--bfile", SIM, "--chr", "8", "--covar", SIM + ".covar", "--covar-name", "age,bmi",
            "--gxe", "age", "--fast", "--no-gzip"]
    r = run_cli(["assoc", *base, "--pheno", os.path.join(GXE, "gxe.pheno"), "--pheno-name",
                 "gxe_trait", "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    res = read_columns(str(tmp_path / "g.assoc.tsv"))
    nl = numeric(res["neg_log_10_p_value"])
    order = np.argsort(-nl)
    assert res["variant_id"][order[0]] == "rs8_20802863" and nl[order[0]] > 20
    assert nl[order[0]] - nl[order[1]] > 10
    genome = [a for a in base if a not in ("--chr", "8")] + ["--loco"]
    for trait in ("trait", "trait2"):  # 10,000 variants, LOCO
        r = run_cli(["assoc", *genome, "--pheno", SIM + ".pheno", "--pheno-name", trait, "--out",
                     tmp_path / trait])
        assert r.exit_code == 0, r.output
        nl = numeric(read_columns(str(tmp_path / f"{trait}.assoc.tsv"))["neg_log_10_p_value"])
        assert nl.size > 9000 and 0.93 < lambda_gc(nl) < 1.07, (trait, lambda_gc(nl))
    # and the inflation the README states with the planted interaction (2.47)
    r = run_cli(["assoc", *genome, "--pheno", os.path.join(GXE, "gxe.pheno"), "--pheno-name",
                 "gxe_trait", "--out", tmp_path / "gw"])
    assert r.exit_code == 0, r.output
    nl = numeric(read_columns(str(tmp_path / "gw.assoc.tsv"))["neg_log_10_p_value"])
    assert 2.2 < lambda_gc(nl) < 2.7, lambda_gc(nl)


@pytest.mark.parametrize("args,pattern", [
    (["--gxe", "age", "--test", "lrt"], "--gxe tests the interaction by Wald"),
    (["--gxe", "height"], "--gxe height: not a covariate of this run (covariates: age, bmi)"),
])
def test_usage_errors(tmp_path, args, pattern):
    r = run_cli(["assoc", "--bfile", SIM, "--chr", "8", "--pheno", SIM + ".pheno", "--pheno-name",
                 "trait", "--covar", SIM + ".covar", "--covar-name", "age,bmi", *args, "--out",
                 tmp_path / "x"])
    assert r.exit_code != 0 and pattern in r.output, r.output
    assert "Traceback" not in r.output


def test_chunks_merge_to_the_whole_run(tmp_path):
    """--gxe with --loco in 2 chunks, merged: the bytes of one whole run."""
    args = ["--bfile", SIM, "--chr", "7-8", "--pheno", os.path.join(GXE, "gxe.pheno"),
            "--pheno-name", "gxe_trait", "--covar", SIM + ".covar", "--covar-name", "age,bmi",
            "--gxe", "age", "--loco", "--fast"]
    for k in (1, 2):
        r = run_cli(["assoc", *args, "--chunk", f"{k}/2", "--out", tmp_path / "c"])
        assert r.exit_code == 0, r.output
    chunks = [tmp_path / f"c.chunk{k}of2.assoc.tsv.gz" for k in (1, 2)]
    r = run_cli(["merge", *chunks, "--out", tmp_path / "m"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", *args, "--out", tmp_path / "w"])
    assert r.exit_code == 0, r.output
    whole = gzip.decompress((tmp_path / "w.assoc.tsv.gz").read_bytes())
    assert gzip.decompress((tmp_path / "m.assoc.tsv.gz").read_bytes()) == whole
    assert whole.split(b"\n")[0].endswith(b"beta_gxe\tse_gxe\tp_gxe")


# ---------------------------------------------------------------------------
# within/between-family
# ---------------------------------------------------------------------------

def test_family_means_kernel():
    from gwaslmm.scan.designs import family_means_reference
    from gwaslmm.scan.pair_kernels import family_means

    rng = np.random.default_rng(4)
    fam = rng.integers(0, 13, 60)
    fam = np.unique(fam, return_inverse=True)[1].astype(np.int64)
    X = np.asfortranarray(rng.normal(size=(60, 7)))
    out = np.empty_like(X)
    family_means(X, fam, int(fam.max()) + 1, out)
    np.testing.assert_allclose(out, family_means_reference(X, fam), rtol=1e-12)


def _sibships(tmp_path, n_fam=300, kids=3, m_causal=40, m_null=200, beta=0.15, gamma=0.3,
              seed=7):
    """Sibships (FID per sibship) from two populations with different allele
    frequencies and phenotype means; y = direct effects + gamma x (parents'
    mean genotype) (a between-family path) + population shift + noise.
    Writes PREFIX.bed/.bim/.fam and PREFIX.pheno; returns the prefix."""
    from gwaslmm.genotypes.plink1 import write_plink

    rng = np.random.default_rng(seed)
    m = m_causal + m_null
    p1 = rng.uniform(0.15, 0.85, m)
    p2 = np.clip(p1 + rng.normal(0, 0.15, m), 0.05, 0.95)
    pop = rng.integers(0, 2, n_fam)
    p = np.where(pop[:, None] == 0, p1, p2)  # (n_fam, m)
    par = rng.random((n_fam, 2, 2, m)) < p[:, None, None, :]  # parent, haplotype
    G, y, fid, iid = [], [], [], []
    for f in range(n_fam):
        pm = par[f].sum(axis=1).mean(axis=0)  # parents' mean genotype (m,)
        for k in range(kids):
            pick = rng.integers(0, 2, (2, m))
            x = par[f, 0, pick[0], np.arange(m)].astype(int) + par[f, 1, pick[1], np.arange(m)]
            G.append(x)
            y.append(beta * x[:m_causal].sum() + gamma * pm[:m_causal].sum() + 1.0 * pop[f]
                     + rng.normal())
            fid.append(f"F{f}")
            iid.append(f"F{f}_{k}")
    G = np.array(G, dtype=np.int8)
    n = G.shape[0]
    prefix = str(tmp_path / "sib")
    write_plink(prefix, G, fid, iid, ["0"] * n, ["0"] * n, ["0"] * n, y, ["1"] * m,
                [f"c{j}" if j < m_causal else f"n{j}" for j in range(m)], [0] * m,
                list(range(1, m + 1)), ["A"] * m, ["C"] * m)
    with open(tmp_path / "causal.txt", "w") as fh:
        fh.write("\n".join(f"c{j}" for j in range(m_causal)) + "\n")
    return prefix


def test_within_family_estimate_is_unbiased_where_additive_is_not(tmp_path):
    """40 variants with a direct effect 0.15 and a between-family path
    (0.3 per unit of the parents' mean genotype) plus population
    stratification: the within-family estimates average to 0.15 (within 2
    SE of their mean), the additive LMM estimates do not (they carry the
    between-family path), and the between-family estimates exceed the direct
    effect."""
    prefix = _sibships(tmp_path)
    common = ["--bfile", prefix, "--extract", tmp_path / "causal.txt", "--fast", "--maf", "0",
              "--no-gzip"]
    for tag, extra in (("w", ["--within-family"]), ("a", [])):
        r = run_cli(["assoc", *common, *extra, "--out", tmp_path / tag])
        assert r.exit_code == 0, r.output
    w = read_columns(str(tmp_path / "w.assoc.tsv"))
    a = read_columns(str(tmp_path / "a.assoc.tsv"))
    bw, sw = numeric(w["beta"]), numeric(w["standard_error"])
    ba, sa = numeric(a["beta"]), numeric(a["standard_error"])
    assert bw.size == 40 and ba.size == 40
    se_w = np.sqrt((sw ** 2).sum()) / bw.size
    se_a = np.sqrt((sa ** 2).sum()) / ba.size
    assert abs(bw.mean() - 0.15) < 2 * se_w, (bw.mean(), se_w)
    assert ba.mean() - 0.15 > 4 * se_a, (ba.mean(), se_a)
    assert numeric(w["beta_between"]).mean() > 0.15 + 4 * se_w
    # the README's figures: within 0.172, additive 0.285, between 0.363
    assert abs(bw.mean() - 0.172) < 0.003 and abs(ba.mean() - 0.285) < 0.003
    assert abs(numeric(w["beta_between"]).mean() - 0.363) < 0.003
    assert "300 families among 900 analysed samples; 300 of 2 or more samples (300 of 3), " \
           "0 singletons" in (tmp_path / "w.log").read_text()


@pytest.mark.parametrize("fast", [False, True])
def test_within_between_equals_dense_gls(tmp_path, fast):
    """Both effects, their SEs and the difference's SE equal dense GLS of y on
    [1, x - family mean, family mean] at the lambda used (exact: per
    variant; --fast: the null one from reml), with singletons present."""
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.kinship_io import read_gcta_grm

    prefix = _sibships(tmp_path, n_fam=60, kids=3, m_causal=10, m_null=60)
    # make 20 singletons: give their own FID to one child of 20 families
    fam = [ln.split() for ln in Path(prefix + ".fam").read_text().splitlines()]
    for f in range(20):
        fam[3 * f][0] = f"S{f}"
    Path(prefix + ".fam").write_text("\n".join(" ".join(r) for r in fam) + "\n")
    r = run_cli(["grm", "--bfile", prefix, "--maf", "0", "--out", tmp_path / "k"])
    assert r.exit_code == 0, r.output
    tag = "f" if fast else "e"
    r = run_cli(["assoc", "--bfile", prefix, "--grm", tmp_path / "k", "--within-family",
                 "--maf", "0", "--no-gzip", *(["--fast"] if fast else []), "--out",
                 tmp_path / tag])
    assert r.exit_code == 0, r.output
    assert "20 singletons" in (tmp_path / f"{tag}.log").read_text()
    if fast:
        r = run_cli(["reml", "--bfile", prefix, "--grm", tmp_path / "k", "--out", tmp_path / "r"])
        assert r.exit_code == 0, r.output
        lam_null = float(read_columns(str(tmp_path / "r.reml.tsv"))["lambda"][0])
    res = read_columns(str(tmp_path / f"{tag}.assoc.tsv"))
    K = read_gcta_grm(str(tmp_path / "k")).K
    bed = BedFile(prefix)
    y = np.array([float(r[5]) for r in fam])
    fid = np.array([r[0] for r in fam])
    ids = bed.variants.id.tolist()
    for j in range(0, len(res["variant_id"]), 7):
        lam = lam_null if fast else float(res["lambda_remle"][j])
        x = bed.read_block(None, np.array([ids.index(res["variant_id"][j])])).G[:, 0]
        x = x.astype(float)
        xb = np.array([x[fid == f].mean() for f in fid])
        X = np.column_stack([np.ones_like(y), x - xb, xb])
        Vi = np.linalg.inv(lam * K + np.eye(y.size))
        A = X.T @ Vi @ X
        b = np.linalg.solve(A, X.T @ Vi @ y)
        r_ = y - X @ b
        C = np.linalg.inv(A) * (r_ @ Vi @ r_) / (y.size - 3)
        want = [b[1], np.sqrt(C[1, 1]), b[2], np.sqrt(C[2, 2]), b[2] - b[1],
                np.sqrt(C[1, 1] + C[2, 2] - 2 * C[1, 2])]
        got = [numeric(res[c])[j] for c in ("beta", "standard_error", "beta_between",
                                            "se_between", "beta_diff", "se_diff")]
        np.testing.assert_allclose(got, want, rtol=2e-6)


def test_within_family_needs_families(tmp_path):
    r = run_cli(["assoc", "--bfile", SIM, "--chr", "8", "--within-family", "--keep",
                 _unrelated(tmp_path), "--fast", "--out", tmp_path / "x"])
    assert r.exit_code != 0 and "no family (FID) has 2 or more analysed samples" in r.output


def _unrelated(tmp_path):
    rows = Path(SIM + ".fam").read_text().splitlines()
    seen, keep = set(), []
    for ln in rows:
        f = ln.split()
        if f[0] not in seen:
            seen.add(f[0])
            keep.append(f"{f[0]} {f[1]}")
    (tmp_path / "one_per_family.txt").write_text("\n".join(keep) + "\n")
    return tmp_path / "one_per_family.txt"


def test_joint_test_equals_dense_wald(tmp_path):
    """--gxe-joint: the 2-df Wald test of (beta, delta) equals the dense
    computation from the reported estimates' covariance: -log10 p =
    (df/2) log10(1 + 2F/df), F = b'C^-1 b / 2 (the exact F(2, df) tail),
    and equals scipy's F(2, df) survival function."""
    from scipy.stats import f as fdist

    from gwaslmm.scan.designs import joint_wald

    rng = np.random.default_rng(9)
    b1, b2 = rng.normal(size=5), rng.normal(size=5)
    s1, s2 = rng.uniform(0.5, 1, 5), rng.uniform(0.5, 1, 5)
    cov = 0.3 * s1 * s2
    got = joint_wald(b1, b2, s1, s2, cov, 50)
    for k in range(5):
        C = np.array([[s1[k] ** 2, cov[k]], [cov[k], s2[k] ** 2]])
        b = np.array([b1[k], b2[k]])
        F = b @ np.linalg.solve(C, b) / 2
        assert abs(got[k] + np.log10(fdist.sf(F, 2, 50))) < 1e-9
    r = run_cli(["assoc", "--bfile", SIM, "--chr", "8", "--pheno", os.path.join(GXE, "gxe.pheno"),
                 "--pheno-name", "gxe_trait", "--covar", SIM + ".covar", "--covar-name",
                 "age,bmi", "--gxe", "age", "--gxe-joint", "--fast", "--no-gzip", "--out",
                 tmp_path / "j"])
    assert r.exit_code == 0, r.output
    res = read_columns(str(tmp_path / "j.assoc.tsv"))
    assert "p_joint" in res
    top = int(np.argmax(numeric(res["neg_log_10_p_value"])))
    assert numeric(res["p_joint"])[top] < 1e-20


def test_family_col_gives_the_fid_families(tmp_path):
    """--family-col NAME (a column of the covariate file, left out of the
    covariates) with the FIDs copied into it gives the FID run's rows."""
    head, *rows = Path(SIM + ".covar").read_text().splitlines()
    (tmp_path / "c.covar").write_text("\n".join([head + "\thousehold"] + [
        r + "\tH" + r.split()[0] for r in rows]) + "\n")
    base = ["assoc", "--bfile", SIM, "--chr", "8", "--pheno", SIM + ".pheno", "--pheno-name",
            "trait", "--within-family", "--fast"]
    r = run_cli([*base, "--covar", SIM + ".covar", "--covar-name", "age,bmi", "--out",
                 tmp_path / "fid"])
    assert r.exit_code == 0, r.output
    r = run_cli([*base, "--covar", tmp_path / "c.covar", "--cat-covar", "batch",
                 "--family-col", "household", "--out", tmp_path / "col"])
    assert r.exit_code == 0, r.output
    log = (tmp_path / "col.log").read_text()
    assert "column household (--family-col) groups the samples" in log
    assert "families by column household" in log
    r = run_cli([*base, "--covar", SIM + ".covar", "--cat-covar", "batch", "--out",
                 tmp_path / "fid2"])
    assert r.exit_code == 0, r.output
    a = gzip.decompress((tmp_path / "fid2.assoc.tsv.gz").read_bytes())
    assert a == gzip.decompress((tmp_path / "col.assoc.tsv.gz").read_bytes())
    r = run_cli([*base, "--covar", tmp_path / "c.covar", "--covar-name", "age,household",
                 "--family-col", "household", "--out", tmp_path / "x"])
    assert r.exit_code == 2 and "not also a covariate" in r.output
