"""Binary traits: the logistic mixed model's null fit against a dense
brute-force PQL/REML, the saddlepoint kernel against its numpy reference
and against exact tail probabilities, Firth against plink2 --glm firth,
calibration of the scan on simulated null variants, and the CLI."""

from __future__ import annotations

import gzip
import math
import os

import numpy as np
import pytest
from scipy.optimize import brentq
from scipy.special import logsumexp
from scipy.stats import binom, norm

from conftest import run_cli, slurp

from gwaslmm.eigen import double_centre
from gwaslmm.nullmodel.logistic import expit, fit_glmm
from gwaslmm.scan.binary import BinaryScanner, FirthSettings
from gwaslmm.scan.firth import firth_fit
from gwaslmm.scan.spa import (SPA, SPA_FAST, spa_neglog10, spa_pvalues, spa_scale, spa_z,
                              spa_z_reference)
from gwaslmm.simulate import (SimulationConfig, liability_binary, simulate,
                              simulate_genotype_block)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FIRTH_REF = os.path.join(ROOT, "testdata", "reference", "binary_firth")


def _grm(geno: np.ndarray) -> np.ndarray:
    G = geno.astype(np.float64)
    G[geno == -127] = np.nan
    p = np.nanmean(G, axis=0) / 2
    ok = (p > 0.01) & (p < 0.99)
    G = np.where(np.isnan(G), 2 * p, G)[:, ok]
    Z = (G - 2 * p[ok]) / np.sqrt(2 * p[ok] * (1 - p[ok]))
    return double_centre(Z @ Z.T / Z.shape[1])


def _related_binary(n, seed, rng_seed, prevalence, h2):
    """n related samples (3 populations, trios and sib pairs; 2,000 SNPs), a
    standardized kinship, a liability-threshold binary trait (100 causal
    SNPs, a population shift), an intercept and one covariate."""
    cfg = SimulationConfig(n_samples=n, n_snps=2000, trios_per_pop=12, sibpairs_per_pop=20,
                           seed=seed)
    d = simulate(cfg)
    rng = np.random.default_rng(rng_seed)
    y, _ = liability_binary(rng, d.genotypes, prevalence, h2,
                            rng.choice(2000, 100, replace=False), d.pop, 0.4)
    X = np.column_stack([np.ones(y.size), rng.normal(size=y.size)])
    return dict(K=_grm(d.genotypes), X=X, y=y, d=d, cfg=cfg)


@pytest.fixture(scope="module")
def families():
    """300 samples, h2 0.8 on the liability scale, 30% cases."""
    return _related_binary(300, 11, 2, 0.3, 0.8)


# ---------------------------------------------------------------------------
# the null model against a dense brute-force PQL with explicit inverses
# ---------------------------------------------------------------------------

def _dense_mode(K, X, y, tau, eta):
    """alpha, eta, Y, w at the penalized-likelihood mode for fixed tau, with
    explicit inverses (Henderson's mixed model equations solved as GLS)."""
    for _ in range(200):
        mu = expit(eta)
        w = mu * (1 - mu)
        Y = eta + (y - mu) / w
        Si = np.linalg.inv(np.diag(1 / w) + tau * K)
        alpha = np.linalg.solve(X.T @ Si @ X, X.T @ Si @ Y)
        new = X @ alpha + tau * K @ Si @ (Y - X @ alpha)
        if np.max(np.abs(new - eta)) < 1e-13:
            break
        eta = new
    mu = expit(eta)
    w = mu * (1 - mu)
    return alpha, eta, eta + (y - mu) / w, w


def _dense_score(K, X, y, tau, eta0):
    alpha, eta, Y, w = _dense_mode(K, X, y, tau, eta0)
    Si = np.linalg.inv(np.diag(1 / w) + tau * K)
    P = Si - Si @ X @ np.linalg.inv(X.T @ Si @ X) @ X.T @ Si
    return 0.5 * (Y @ P @ K @ P @ Y - np.trace(P @ K)), alpha


def test_null_fit_equals_dense_brute_force(families):
    """tau is the root of the profile REML score of the working model, found
    here by bracketing with explicit n x n inverses; tau and alpha agree to 1e-6."""
    K, X, y = families["K"], families["X"], families["y"]
    fit = fit_glmm(K, X, y)
    assert fit.tau > 0.3 and not fit.boundary
    eta0 = fit.eta.copy()
    root = brentq(lambda t: _dense_score(K, X, y, t, eta0)[0], 0.5 * fit.tau, 2 * fit.tau,
                  xtol=1e-12, rtol=1e-12)
    _, alpha = _dense_score(K, X, y, root, eta0)
    assert abs(fit.tau - root) / root < 1e-6
    np.testing.assert_allclose(fit.alpha, alpha, rtol=1e-6, atol=1e-8)
    # P Y = y - mu at the fixed point (the score of a variant is x'(y - mu))
    np.testing.assert_allclose(fit.PY, y - fit.mu, atol=1e-8)


def test_fixed_tau_refit_and_boundary(families):
    K, X, y = families["K"], families["X"], families["y"]
    fit = fit_glmm(K, X, y)
    again = fit_glmm(K, X, y, fixed_tau=fit.tau)
    np.testing.assert_allclose(again.alpha, fit.alpha, rtol=1e-7)
    # a phenotype unrelated to the kinship: the score at 0 is negative or tau small
    rng = np.random.default_rng(5)
    y0 = (rng.random(y.size) < 0.3).astype(float)
    null = fit_glmm(K, X, y0)
    assert null.tau < 0.3
    if null.boundary:
        assert null.tau == 0.0 and math.isnan(null.tau_se)


# ---------------------------------------------------------------------------
# saddlepoint
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2])
def test_spa_kernel_equals_reference(seed):
    rng = np.random.default_rng(seed)
    n, k = 400, 6
    X0 = rng.binomial(2, rng.uniform(0.01, 0.4, k), (n, k)).astype(float)
    X0[:, 0] = 0.0
    X0[:3, 0] = 1.0  # a very sparse column
    mu = expit(rng.normal(-1.5, 0.7, n))
    G = X0 - X0.mean(axis=0)
    s = rng.uniform(2, 6, k) * np.sqrt((mu * (1 - mu)) @ (G * G)) * rng.choice([-1, 1], k)
    for fast in (False, True):
        Z = np.empty((k, 3))
        spa_z(np.asfortranarray(G), mu, s, fast, np.asfortranarray(X0), Z)
        for j in range(k):
            x = X0[:, j]
            carriers = None
            if fast and Z[j, 2] == 2:
                ref = 0.0 if (x == 0).sum() * 2 > n else 2.0
                carriers = x != ref
            want = spa_z_reference(G[:, j], mu, s[j], carriers)
            np.testing.assert_allclose(Z[j, :2], want, rtol=1e-9)


def _exact_neglog10(x, mu, s):
    """Exact two-sided tail P(|Q - m1| >= s) of Q = sum (x_i - xbar) y_i,
    y_i ~ Bernoulli(mu) independent (intercept only, no kinship; m1 = 0):
    by the numbers A, B, C of cases among genotypes 1, 2, 0, C summed by its
    binomial CDF."""
    xbar = x.mean()
    n0, n1, n2 = [int((x == k).sum()) for k in (0, 1, 2)]

    def counts(m):  # within 40 SD of the mean: the rest weighs below e^-800
        mid, sd = m * mu, math.sqrt(m * mu * (1 - mu))
        return np.arange(max(0, int(mid - 40 * sd)), min(m, int(mid + 40 * sd)) + 1)

    A, B = counts(n1), counts(n2)
    lp = binom.logpmf(A, n1, mu)[:, None] + binom.logpmf(B, n2, mu)[None, :]
    base = (1 - xbar) * A[:, None] + (2 - xbar) * B[None, :]  # Q + xbar C
    up = lp + binom.logcdf(np.floor((base - s) / xbar), n0, mu)
    lo = lp + binom.logsf(np.ceil((base + s) / xbar) - 1, n0, mu)
    return -np.logaddexp(logsumexp(up), logsumexp(lo)) / math.log(10)


def _spa_neglog10(x, mu, s, fast):
    g = x - x.mean()
    Z = np.empty((1, 3))
    spa_z(np.asfortranarray(g[:, None]), np.full(x.size, mu), np.array([s]), fast,
          np.asfortranarray(x[:, None]), Z)
    return float(spa_neglog10(Z)[0])


def test_spa_equals_exact_tail_to_1e2_with_many_cases():
    """With 20,000 samples, 10% cases and MAF 0.3 the exact statistic's
    lattice is fine enough for the issue's 1e-2: measured SPA/exact ratios
    0.9942-1.0076 from p 1e-2 to 1e-10 (both versions).  Measured at the
    same size but not held to 1e-2: MAF 0.05 0.983-1.002; 1% cases (200)
    0.966-1.043 (MAF 0.3) and 0.957-1.029 (MAF 0.05)."""
    rng = np.random.default_rng(3)
    x = rng.binomial(2, 0.3, 20_000).astype(float)
    g = x - x.mean()
    sd = math.sqrt(0.09 * (g @ g))
    for k in np.linspace(2, 10, 9):
        s = norm.isf(10.0 ** -k / 2) * sd
        exact = _exact_neglog10(x, 0.1, s)
        for fast in (False, True):
            r = 10 ** (_spa_neglog10(x, 0.1, s, fast) - exact)
            assert abs(r - 1) < 1e-2, (k, fast, r)


@pytest.mark.parametrize("maf,mu", [(0.3, 0.1), (0.05, 0.1), (0.3, 0.01)])
def test_spa_equals_exact_tail(maf, mu):
    """Against the exact null distribution (enumeration over case counts),
    2,000 samples, p from 1e-2 to 1e-10.  The exact statistic is discrete (a
    lattice of case counts), so a single threshold's p swings around a smooth
    approximation.  Measured SPA/exact ratios over the 9 thresholds (both
    versions): 0.972-1.020 (MAF 0.3, mu 0.1; geometric mean 0.9997),
    0.946-1.026 (MAF 0.05, mu 0.1; 0.990), 0.909-1.083 (MAF 0.3, mu 0.01,
    about 20 expected cases; 0.990): each held to 10%, the geometric mean to
    2%.  At this size the issue's 1e-2 for each single threshold is not met:
    the discreteness of the exact tail alone moves it by more (met with
    20,000 samples and 10% cases, the test above)."""
    rng = np.random.default_rng(3)
    x = rng.binomial(2, maf, 2000).astype(float)
    g = x - x.mean()
    sd = math.sqrt(mu * (1 - mu) * (g @ g))
    logs = []
    for k in np.linspace(2, 10, 9):
        s = norm.isf(10.0 ** -k / 2) * sd
        exact = _exact_neglog10(x, mu, s)
        for fast in (False, True):
            r = 10 ** (_spa_neglog10(x, mu, s, fast) - exact)
            assert abs(r - 1) < 0.10, (k, fast, r)
            logs.append(math.log(r))
    assert abs(np.mean(logs)) < 0.02


def test_spa_outside_support_is_zero():
    x = np.zeros(100)
    x[:2] = 1.0
    g = x - x.mean()
    # the largest possible score: both carriers cases
    s = float(g[g > 0].sum()) * 1.0001 - 0.2 * g[g > 0].sum() / 1.0
    Z = np.empty((1, 3))
    spa_z(np.asfortranarray(g[:, None]), np.full(100, 0.2), np.array([10.0]), False,
          np.asfortranarray(x[:, None]), Z)
    assert np.isinf(Z[0, 0])
    assert s > 0


@pytest.mark.parametrize("mu,carriers,carrier_y", [(0.1, 5, 1), (0.5, 6, 0)])
def test_spa_beyond_carriers_reach_not_below_exact_tail(mu, carriers, carrier_y):
    """Issue 15: a very rare variant whose carriers are all cases (or, with
    mu 0.5, all controls), x'Px = 0.8 var1 as on related samples.  SAIGE's
    rescaled quantile m1 + T sqrt(var1/var2) lies beyond what the carriers
    can reach, so the saddlepoint tail came only from the non-carriers'
    (normal, or nearly normal) part.  Measured before the fix, mu 0.1 and 5
    carriers all cases (z 7.5; product of the carriers' mu 1e-5): p 0 (full
    version: q past the whole support) and 2.3e-61 (sparse), where the chance
    of the observed statistic or a more extreme one under independent
    Bernoulli(mu) outcomes is 5.34e-6; mu 0.5 and 6 carriers all controls
    (z -2.7): 2.1e-9 (both) against 1.59e-2.  Now the p-value is that tail
    of the unrescaled score, carriers enumerated and the non-carriers' part
    normal: 5.15e-6 and 1.563e-2 (both versions); the reference enumerates
    the exact binomial counts of all 2,000 samples
    (:func:`_exact_neglog10`).  Measured ratios 0.965 and 0.982, held to
    10%: the non-carriers' count is a lattice 1/13 SD apart (mu 0.1), which
    the normal part smooths.  A variant one carrier short of the reach keeps
    the ordinary rescaled SPA p, bit for bit.  On the data of
    test_calibration_null_variants (600 related samples, 10% cases, 120,000
    null variants) 164 variants take the new route, all with T < 0 (23-237
    carriers, nearly all controls at mu about 0.05, so past 20 carriers:
    the saddlepoint at the unrescaled score): their p rose 1.26-3.0 fold,
    from 8e-4 - 4e-2, so that test's SPA hits fell by 2 at 1e-2 in two bins
    and by 1 at 1e-3 in one (its docstring has the new counts)."""
    n = 2000
    x = np.zeros(n)
    x[:carriers] = 1.0
    g = x - x.mean()  # intercept-only model with mu constant: g is x centred
    y = np.zeros(n)
    y[:carriers] = carrier_y
    y[carriers:carriers + round((n - carriers) * mu)] = 1.0  # non-carriers at their mean
    m = np.full(n, mu)
    T = float(g @ (y - m))
    var1 = mu * (1 - mu) * float(g @ g)
    var2 = 0.8 * var1
    assert abs(T) / math.sqrt(var2) > 2  # the SPA path at the default cutoff
    # the tail at and beyond the observed statistic (just inside its lattice point)
    exact = _exact_neglog10(x, mu, abs(T) * (1 - 1e-12))
    G, X0 = np.asfortranarray(g[:, None]), np.asfortranarray(x[:, None])
    for fast in (False, True):
        nl, code = spa_pvalues(G, m, np.array([T]), np.array([var2]), fast, X0)
        assert code[0] == (SPA_FAST if fast else SPA)
        r = 10 ** (exact - nl[0])  # p / exact
        assert abs(r - 1) < 0.10, (fast, 10 ** -nl[0], 10 ** -exact)
    # one carrier the other way: within reach, the rescaled SPA unchanged
    y[0] = 1 - carrier_y
    T1 = np.array([g @ (y - m)])
    for fast in (False, True):
        nl, _ = spa_pvalues(G, m, T1, np.array([var2]), fast, X0)
        Z = np.empty((1, 3))
        spa_z(G, m, spa_scale(G, m, T1, np.array([var2])), fast, X0, Z)
        assert nl[0] == spa_neglog10(Z)[0]


# ---------------------------------------------------------------------------
# Firth against plink2 --glm firth
# ---------------------------------------------------------------------------

def _read_ref(name, prefix="plink2d_firth"):
    """A per-variant plink2 --glm firth table: ``plink2d_firth`` (PLINK
    v2.0.0-a.7.4, double precision) or ``plink2_firth`` (v2.00a3.5, single
    precision)."""
    rows = []
    with open(os.path.join(FIRTH_REF, f"{prefix}.{name}.glm.firth")) as fh:
        head = fh.readline().lstrip("#").split()
        for line in fh:
            rows.append(dict(zip(head, line.split())))
    return rows


@pytest.mark.parametrize("pheno", ["case10", "case03"])
def test_firth_equals_plink2(pheno):
    """firth_fit against plink2 --glm firth, one plink2 run per variant,
    samples with a missing call dropped (testdata/reference/binary_firth):
    PLINK v2.0.0-a.7.4, double precision, SE from the augmented-data
    information as firth_fit's.  beta to 1e-3 relative AND 1e-3 SE
    (measured: 1.5e-4 relative, 6.3e-5 SE: plink2's own stopping rule,
    every step, modified score and penalized log-likelihood change below
    1e-5; a numpy copy of its iteration reproduces its output to 1.1e-5
    SE), SE to 3e-4 relative (measured 2.6e-5), p to 1e-3 relative
    (measured 1.3e-4).  The covariates' terms (plink2_firth_allterms) to
    the same tolerances.  The single-precision plink2 2.00a3.5 files beside
    them (SE from (X'WX)^-1, up to 41% larger on fits near separation) are
    kept as the record of the earlier reference and fail these checks."""
    from bed_reader import open_bed

    from gwaslmm.tables import read_sample_table

    prefix = os.path.join(FIRTH_REF, "firth")
    G = open_bed(prefix + ".bed", count_A1=True).read(dtype="float64")
    bim = np.loadtxt(prefix + ".bim", dtype=str)
    ph = read_sample_table(os.path.join(FIRTH_REF, "firth.pheno"), "phenotype", "PHENO")
    cv = read_sample_table(os.path.join(FIRTH_REF, "firth.covar"), "covariate", "COVAR")
    y = np.asarray(ph.columns[pheno], dtype=float) - 1
    W = np.column_stack([np.ones(y.size)] + [np.asarray(cv.columns[c], float)
                                             for c in ("age", "sex01")])
    ref = {r["ID"]: r for r in _read_ref(pheno)}
    terms = {}
    with gzip.open(os.path.join(FIRTH_REF, f"plink2d_firth_allterms.{pheno}.glm.firth.gz"),
                   "rt") as fh:
        head = fh.readline().lstrip("#").split()
        for line in fh:
            r = dict(zip(head, line.split()))
            terms[r["ID"], r["TEST"]] = r
    checked = 0
    for j, vid in enumerate(bim[:, 1]):
        r = ref[vid]
        if r["BETA"] == "NA":
            continue
        ok = ~np.isnan(G[:, j])
        fit = firth_fit(np.column_stack([W[ok], G[ok, j]]), y[ok], np.zeros(ok.sum()))
        assert int(r["OBS_CT"]) == ok.sum(), vid
        for k, test in enumerate(("INTERCEPT", "age", "sex01", "ADD")):
            t = terms[vid, test] if test != "ADD" else r
            b, s = fit.beta[k], fit.se[k]
            rb, rs, rp = float(t["BETA"]), float(t["SE"]), float(t["P"])
            assert abs(b - rb) < 1e-3 * abs(rb), (vid, test, b, rb)
            assert abs(b - rb) < 1e-3 * rs, (vid, test, b, rb, rs)
            assert abs(s - rs) / rs < 3e-4, (vid, test, s, rs)
            p = 2 * norm.sf(abs(b / s))
            assert abs(p - rp) / rp < 1e-3, (vid, test, p, rp)
        checked += 1
    assert checked >= 290


# ---------------------------------------------------------------------------
# calibration on simulated null variants
# ---------------------------------------------------------------------------

def _poisson_ucl(k: int, level: float = 0.95) -> float:
    from scipy.stats import chi2

    return chi2.ppf(level, 2 * (k + 1)) / 2


def _poisson_lcl(k: int, level: float = 0.95) -> float:
    from scipy.stats import chi2

    return chi2.ppf(1 - level, 2 * k) / 2 if k else 0.0


def test_calibration_null_variants():
    """The scanner on 120,000 null variants with the kinship's structure
    (the same pedigree and populations, frequencies drawn per MAC bin), 600
    samples with 10% cases: type I error / alpha with its 95% Poisson upper
    limit <= 1.5 per bin at 1e-2 and 1e-3 for the SPA path, while the normal
    approximation of the same score (the large-sample test a linear model
    makes) exceeds alpha at 1e-4 for MAC 5-20 (its 95% lower limit above
    alpha N).  Measured (variants, then hits at 1e-2/1e-3/1e-4, SPA |
    normal): MAC 5-20 40,301: 212/25/4 | 240/31/10; MAC 20-50 40,673:
    243/24/3 | 265/34/4; MAF > 5% 41,998: 336/18/2 | 344/27/2 (expected
    about 403/40/4): the SPA path is conservative here, not inflated."""
    data = _related_binary(600, 12, 4, 0.1, 0.6)
    K, X, y, cfg = data["K"], data["X"], data["y"], data["cfg"]
    fit = fit_glmm(K, X, y)
    scanner = BinaryScanner(fit, X, y)
    from gwaslmm.simulate import _pedigree

    _, _, _, _, _, origin, founder_pop = _pedigree(cfg)
    rng = np.random.default_rng(77)
    n = y.size
    bins = {"MAC 5-20": (5 / (2 * n), 20 / (2 * n)), "MAC 20-50": (20 / (2 * n), 50 / (2 * n)),
            "MAF > 5%": (0.05, 0.5)}
    for name, (lo, hi) in bins.items():
        nl_all, z_all = [], []
        while sum(v.size for v in nl_all) < 40_000:
            p = rng.uniform(lo, hi, 2000)
            G, _ = simulate_genotype_block(rng, p, cfg.fst, founder_pop, origin, cfg.n_pops)
            G = G.astype(np.float64)
            mac = np.minimum(G.sum(0), 2 * n - G.sum(0))
            keep = (mac >= 5) & (G.std(0) > 0)
            prep = scanner.prepare(np.array(G[:, keep], order="F", copy=True))
            res = scanner.test(prep)
            nl_all.append(res.neglog10_p)
            z_all.append(res.extra["score_z"])
        nl = np.concatenate(nl_all)
        z = np.concatenate(z_all)
        nl_normal = -np.log10(2 * norm.sf(np.abs(z)))
        for alpha in (1e-2, 1e-3):
            k = int((nl > -math.log10(alpha)).sum())
            ucl = _poisson_ucl(k) / (alpha * nl.size)
            assert ucl <= 1.5, (name, alpha, k, nl.size)
        if name == "MAC 5-20":  # the normal approximation: more than alpha N at 1e-4
            k_norm = int((nl_normal > 4).sum())
            assert _poisson_lcl(k_norm) > 1e-4 * nl.size, (k_norm, nl.size)


# ---------------------------------------------------------------------------
# the command line
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def binary_pheno(tmp_path_factory):
    """A binary phenotype file for the bundled data: cc10 (10% cases, PLINK 1/2
    coding) and cc30 (30%, 0/1), liability-threshold model on chr 1-4."""
    from bed_reader import open_bed

    d = tmp_path_factory.mktemp("binary")
    fam = np.loadtxt(os.path.join(ROOT, "testdata", "sim.fam"), dtype=str)
    G = open_bed(os.path.join(ROOT, "testdata", "sim.bed")).read(dtype="int8")
    G = np.where(G < 0, -127, G).astype(np.int8)
    rng = np.random.default_rng(7)
    pop = np.array([int(f[1]) for f in fam[:, 0]])
    causal = rng.choice(np.arange(5000), 100, replace=False)
    y10, _ = liability_binary(rng, G, 0.1, 0.6, causal, pop, 0.5)
    y30, _ = liability_binary(rng, G, 0.3, 0.6, causal, pop, 0.5)
    path = d / "bin.pheno"
    with open(path, "w") as fh:
        fh.write("FID\tIID\tcc10\tcc30\tbad\n")
        for i, ((f, s), a, b) in enumerate(zip(fam[:, :2], y10, y30)):
            fh.write(f"{f}\t{s}\t{int(a) + 1}\t{int(b)}\t{i % 4}\n")
    return str(path)


def _run(args):
    return run_cli(args)


def _table(path):
    with gzip.open(path, "rt") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        return head, [ln.rstrip("\n").split("\t") for ln in fh]


BASE = ["--bfile", os.path.join(ROOT, "testdata", "sim"), "--covar",
        os.path.join(ROOT, "testdata", "sim.covar")]


def test_cli_assoc_binary(binary_pheno, tmp_path):
    out = str(tmp_path / "b")
    r = _run(["assoc", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc10", "--binary",
              "--firth", "--out", out])
    assert r.exit_code == 0, r.output
    head, rows = _table(out + ".assoc.tsv.gz")
    for c in ("score_z", "p_method", "af_cases", "af_controls", "n_cases", "n_controls",
              "beta_firth", "se_firth", "p_firth"):
        assert c in head
    col = {c: i for i, c in enumerate(head)}
    assert {r[col["n_cases"]] for r in rows} == {"100"}
    methods = {r[col["p_method"]] for r in rows}
    assert methods <= {"normal", "spa", "spa-fast"} and "normal" in methods and len(methods) > 1
    firth = [r for r in rows if r[col["beta_firth"]] != "NA"]
    assert firth and all(float(r[col["p_value"]]) < 0.05 for r in firth)
    # beta / se gives back p (SAIGE's convention for the SE)
    for r in rows[:200]:
        b, s, p = float(r[col["beta"]]), float(r[col["standard_error"]]), float(r[col["p_value"]])
        assert abs(2 * norm.sf(abs(b / s)) - p) <= 2e-5 * max(p, 1e-3)
    log = slurp(out + ".log")
    assert "coded PLINK 1/2 (1 control, 2 case); 100 cases and 895 controls" in log
    assert log.count("(logistic mixed model, PQL + AI-REML)") == 1  # once, not twice
    meta = slurp(out + ".assoc.tsv.gz-meta.yaml")
    assert "n_cases: 100" in meta and 'trait: "binary"' in meta


def test_cli_binary_chunks_merge_and_loco(binary_pheno, tmp_path):
    args = ["assoc", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc30", "--binary",
            "--loco", "--chr", "1-2"]
    whole = str(tmp_path / "whole")
    assert _run([*args, "--out", whole]).exit_code == 0
    parts = []
    for k in (1, 2, 3):
        o = str(tmp_path / "part")
        r = _run([*args, "--chunk", f"{k}/3", "--out", o])
        assert r.exit_code == 0, r.output
        parts.append(f"{o}.chunk{k}of3.assoc.tsv.gz")
    merged = str(tmp_path / "merged")
    r = _run(["merge", *parts, "--out", merged])
    assert r.exit_code == 0, r.output
    with gzip.open(whole + ".assoc.tsv.gz") as a, gzip.open(merged + ".assoc.tsv.gz") as b:
        assert a.read() == b.read()
    log = slurp(whole + ".log")
    assert "without chr 1: fixed and random effects refitted with tau" in log


def test_cli_reml_binary(binary_pheno, tmp_path):
    out = str(tmp_path / "r")
    r = _run(["reml", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc10,cc30", "--binary",
              "--prevalence", "0.1", "--out", out])
    assert r.exit_code == 0, r.output
    lines = slurp(out + ".reml.tsv").splitlines()
    head = lines[0].split("\t")
    assert head[:6] == ["phenotype", "n", "n_cases", "n_controls", "tau", "tau_se"]
    row = dict(zip(head, lines[1].split("\t")))
    assert row["phenotype"] == "cc10" and float(row["tau"]) > 0
    assert float(row["h2_liability"]) > float(row["h2_observed"]) > 0


@pytest.mark.parametrize("extra,message", [
    (["--pheno-name", "bad"], "takes the values 0, 1, 2, 3; a binary trait is coded 0/1"),
    (["--pheno-name", "cc10", "--fast"], "--binary: --fast not offered"),
    (["--pheno-name", "cc10", "--test", "wald"], "--test wald is not offered"),
    (["--pheno-name", "cc10", "--keep", "KEEP"], "at least 10 of each"),
])
def test_cli_binary_errors(binary_pheno, tmp_path, extra, message):
    if "KEEP" in extra:
        # 30 samples: too few cases
        keep = tmp_path / "keep.txt"
        fam = np.loadtxt(os.path.join(ROOT, "testdata", "sim.fam"), dtype=str)[:30, :2]
        keep.write_text("\n".join(" ".join(r) for r in fam) + "\n")
        extra = [str(keep) if e == "KEEP" else e for e in extra]
    r = _run(["assoc", *BASE, "--pheno", binary_pheno, "--binary", *extra, "--out",
              str(tmp_path / "e")])
    assert r.exit_code in (1, 2)
    assert message in r.output, r.output
    assert "Traceback" not in r.output
    assert not os.path.exists(str(tmp_path / "e.assoc.tsv.gz"))


def test_cli_firth_needs_binary(tmp_path):
    r = _run(["assoc", *BASE, "--pheno", os.path.join(ROOT, "testdata", "sim.pheno"),
              "--pheno-name", "trait", "--firth", "--out", str(tmp_path / "f")])
    assert r.exit_code == 2 and "--firth goes with --binary" in r.output


def test_scanner_firth_columns_equal_direct_fit(families):
    """The scanner's Firth columns: firth_fit on the covariates and the variant
    with the null model's random-effect prediction as offset, for the
    variants below the threshold only; beta/se reproduce the reported p."""
    K, X, y, d = families["K"], families["X"], families["y"], families["d"]
    fit = fit_glmm(K, X, y)
    sc = BinaryScanner(fit, X, y, firth=FirthSettings(p_threshold=0.2, offset=fit.b))
    G = d.genotypes[:, :300].astype(np.float64)
    G[G < 0] = np.nan
    G = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
    G = G[:, G.std(axis=0) > 0]
    res = sc.test(sc.prepare(np.array(G, order="F", copy=True)))  # prepare overwrites it
    bf = res.extra["beta_firth"]
    below = res.neglog10_p >= -math.log10(0.2)
    assert below.any() and np.isnan(bf[~below]).all()
    for j in np.flatnonzero(below)[:5]:
        x = G[:, np.flatnonzero(res.keep)[j]]
        want = firth_fit(np.column_stack([X, x]), y, fit.b)
        np.testing.assert_allclose(bf[j], want.beta[-1], rtol=1e-6)
        np.testing.assert_allclose(res.extra["se_firth"][j], want.se[-1], rtol=1e-6)
        p = 2 * norm.sf(abs(want.beta[-1] / want.se[-1]))
        np.testing.assert_allclose(10 ** -res.extra["neglog10_p_firth"][j], p, rtol=1e-6)


def test_cli_binary_saved_null(binary_pheno, tmp_path):
    """reml --binary --save-null, then assoc --binary --null: the same bytes as
    fitting in the scan, LOCO included; a binary null model without --binary
    (and the reverse), and a damaged file, are one-line errors."""
    null, direct, loaded = (str(tmp_path / k) for k in ("n", "d", "l"))
    r = _run(["reml", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc30", "--binary",
              "--loco", "--save-null", null, "--out", str(tmp_path / "r")])
    assert r.exit_code == 0, r.output
    assert len(slurp(str(tmp_path / "r.reml.loco.tsv")).splitlines()) == 9
    r = _run(["assoc", "--bfile", BASE[1], "--binary", "--loco", "--null", null, "--chr", "3",
              "--out", loaded])
    assert r.exit_code == 0, r.output
    r = _run(["assoc", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc30", "--binary",
              "--loco", "--chr", "3", "--out", direct])
    assert r.exit_code == 0, r.output
    assert slurp(direct + ".assoc.tsv.gz") == slurp(loaded + ".assoc.tsv.gz")
    one = str(tmp_path / "one")
    r = _run(["reml", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc10", "--binary",
              "--save-null", one, "--out", str(tmp_path / "r1")])
    assert r.exit_code == 0, r.output
    r = _run(["assoc", "--bfile", BASE[1], "--binary", "--null", one, "--firth",
              "--out", loaded])
    assert r.exit_code == 0, r.output
    r = _run(["assoc", *BASE, "--pheno", binary_pheno, "--pheno-name", "cc10", "--binary",
              "--firth", "--out", direct])
    assert slurp(direct + ".assoc.tsv.gz") == slurp(loaded + ".assoc.tsv.gz")
    r = _run(["assoc", "--bfile", BASE[1], "--null", one, "--out", str(tmp_path / "e")])
    assert r.exit_code == 2 and "holds the null model of a binary trait: add --binary" in r.output
    z = dict(np.load(one + ".null.npz"))
    z["mu"][0] = 1.5
    np.savez(str(tmp_path / "bad.null.npz"), **z)
    r = _run(["assoc", "--bfile", BASE[1], "--binary", "--null", str(tmp_path / "bad"),
              "--out", str(tmp_path / "e")])
    assert r.exit_code == 1 and "is damaged: fitted probabilities outside (0, 1)" in r.output
    assert not os.path.exists(str(tmp_path / "e.assoc.tsv.gz"))


def test_pql_residual_variance_diagnosis():
    """Why the SPA path is conservative for rare variants (README): at the
    PQL/REML fixed point the kinship's equation holds, r'Kr = tr(PK)
    (r = y - mu), but nothing makes the diagonal part hold, and on these
    related samples r'r / tr(P) = 0.84 (measured; 600 samples, 10% cases):
    a variant whose genotype covariance is mostly diagonal (a rare one) has
    E[T^2] about 0.84 x'Px.  Characterizes the current estimator; a fix
    (a dispersion, or a variance calibrated on null variants) changes it."""
    data = _related_binary(600, 12, 4, 0.1, 0.6)
    K, X, y = data["K"], data["X"], data["y"]
    fit = fit_glmm(K, X, y)
    Si = np.linalg.inv(fit.L @ fit.L.T)
    P = Si - Si @ X @ np.linalg.solve(X.T @ Si @ X, X.T @ Si)
    r = y - fit.mu
    assert abs(r @ K @ r / np.trace(P @ K) - 1) < 1e-6
    ratio = r @ r / np.trace(P)
    assert 0.81 < ratio < 0.87
    # rare null variants (MAC 5-20) with the samples' pedigree: mean z^2
    # follows that ratio (measured 0.767), common ones are near 1 (0.994)
    from gwaslmm.simulate import _pedigree

    cfg = data["cfg"]
    _, _, _, _, _, origin, founder_pop = _pedigree(cfg)
    rng = np.random.default_rng(1)
    sc = BinaryScanner(fit, X, y)
    for (lo, hi), want in (((5 / 1200, 20 / 1200), (0.72, 0.82)), ((0.05, 0.5), (0.95, 1.05))):
        G, _ = simulate_genotype_block(rng, rng.uniform(lo, hi, 20_000), cfg.fst, founder_pop,
                                       origin, cfg.n_pops)
        G = G.astype(np.float64)[:, G.std(axis=0) > 0]
        z2 = float(np.mean(sc.test(sc.prepare(np.array(G, order="F"))).extra["score_z"] ** 2))
        assert want[0] < z2 < want[1], (lo, z2)


def test_cli_binary_fault_pass(binary_pheno, tmp_path):
    """Findings of a fault-injection pass, each now one line (or a valid run)."""
    ph = ["--pheno", binary_pheno, "--pheno-name", "cc10"]
    # a covariate 1 for every case and 100 controls: quasi-separation
    rows = [ln.split("\t") for ln in slurp(binary_pheno).splitlines()[1:]]
    rng = np.random.default_rng(0)
    ctrl = [i for i, r in enumerate(rows) if r[2] == "1"]
    chosen = set(rng.choice(ctrl, 100, replace=False).tolist())
    cov = tmp_path / "q.covar"
    cov.write_text("FID\tIID\tquasi\n" + "".join(
        f"{r[0]}\t{r[1]}\t{int(r[2] == '2' or i in chosen)}\n" for i, r in enumerate(rows)))
    r = _run(["assoc", "--bfile", BASE[1], "--covar", str(cov), *ph, "--binary", "--out",
              str(tmp_path / "q")])
    assert r.exit_code == 1 and "separate cases from controls" in r.output, r.output
    # --spa-cutoff 0: SPA wherever it gives a p, never p > 1
    out = str(tmp_path / "s0")
    r = _run(["assoc", *BASE, *ph, "--binary", "--spa-cutoff", "0", "--chr", "1", "--out", out])
    assert r.exit_code == 0, r.output
    head, body = _table(out + ".assoc.tsv.gz")
    nl = np.array([float(b[head.index("neg_log_10_p_value")]) for b in body])
    assert (nl >= 0).all()
    assert {b[head.index("p_method")] for b in body} >= {"spa", "spa-fast"}
    # options
    for args, msg in ((["--binary", "--spa-cutoff", "nan"], "--spa-cutoff nan"),
                      (["--binary", "--firth-p", "0.1"], "add --firth"),
                      (["--spa-cutoff", "3"], "--spa-cutoff goes with --binary")):
        r = _run(["assoc", *BASE, *ph, *args, "--out", str(tmp_path / "o")])
        assert r.exit_code == 2 and msg in r.output, (args, r.output)
    # a null model file whose Cholesky factor was zeroed
    null = str(tmp_path / "n")
    assert _run(["reml", *BASE, *ph, "--binary", "--save-null", null, "--out",
                 str(tmp_path / "r")]).exit_code == 0
    z = dict(np.load(null + ".null.npz"))
    z["L"][:] = 0.0
    np.savez(str(tmp_path / "z.null.npz"), **z)
    r = _run(["assoc", "--bfile", BASE[1], "--binary", "--null", str(tmp_path / "z"), "--out",
              str(tmp_path / "e")])
    assert r.exit_code == 1 and "is damaged: its Cholesky factor" in r.output, r.output
    (tmp_path / "junk.null.npz").write_bytes(b"not a zip file")
    r = _run(["assoc", "--bfile", BASE[1], "--binary", "--null", str(tmp_path / "junk"),
              "--out", str(tmp_path / "e")])
    assert r.exit_code == 1 and "drop --binary" not in r.output, r.output
