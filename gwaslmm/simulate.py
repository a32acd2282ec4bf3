"""Simulated GWAS data with population structure, families and a known truth.

Used to make the bundled example in ``testdata/`` and the benchmark datasets.
Genotypes follow the Balding-Nichols model (Balding & Nichols 1995): an
ancestral allele frequency p per SNP, and per subpopulation a frequency drawn
from Beta(p(1-F)/F, (1-p)(1-F)/F).  Families are parent-offspring trios and
sibling pairs with Mendelian transmission; SNPs are simulated independently
(free recombination, no LD).  The phenotype is a sum of a few large-effect
causal SNPs, a polygenic background, covariate effects and Gaussian noise,
scaled so that the genetic share of the non-covariate variance is ``h2``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

MISSING_INT8 = -127


@dataclass(frozen=True)
class SimulationConfig:
    n_samples: int = 1000
    n_snps: int = 10000
    n_chromosomes: int = 8
    n_pops: int = 3
    fst: float = 0.05
    trios_per_pop: int = 10
    sibpairs_per_pop: int = 15
    rare_fraction: float = 0.15  # share of SNPs with ancestral MAF in [0.005, 0.05]
    missing_rate: float = 0.01
    h2: float = 0.5
    n_large: int = 4
    large_share: float = 0.04  # phenotypic variance explained by each large SNP
    n_polygenic: int = 300
    causal_chromosomes: int = 4  # causal SNPs only on chromosomes 1..this
    n_missing_pheno: int = 8
    n_missing_covar: int = 5
    seed: int = 20261125


@dataclass
class SimulatedData:
    """Everything a PLINK fileset plus phenotype/covariate tables hold.

    genotypes : ndarray, shape (n_samples, n_snps), int8; A1 allele counts
        (0, 1, 2) with MISSING_INT8 for a missing call.
    """

    fid: np.ndarray
    iid: np.ndarray
    father: np.ndarray
    mother: np.ndarray
    sex: np.ndarray
    pop: np.ndarray
    chromosome: np.ndarray
    snp_id: np.ndarray
    bp_position: np.ndarray
    allele_1: np.ndarray
    allele_2: np.ndarray
    genotypes: np.ndarray
    phenotypes: dict = field(default_factory=dict)  # name -> float array, NaN missing
    covariates: dict = field(default_factory=dict)  # name -> array (float or str), NaN/"" missing
    causal: dict = field(default_factory=dict)  # phenotype -> list of dict rows
    truth: dict = field(default_factory=dict)


def _pedigree(cfg: SimulationConfig):
    """Sample layout: per population, trios, sibling pairs, then singletons.

    Returns per-sample arrays (fid, iid, father, mother, pop) and, per sample,
    how its genotype arises: ("founder", k) or ("child", parent_a, parent_b)
    with parent indices into the founder list (observed or not).
    """
    per_pop = np.full(cfg.n_pops, cfg.n_samples // cfg.n_pops)
    per_pop[: cfg.n_samples - per_pop.sum()] += 1
    fid, iid, father, mother, pop, origin = [], [], [], [], [], []
    founder_pop = []  # population of every founder (observed or hidden)

    def new_founder(p):
        founder_pop.append(p)
        return len(founder_pop) - 1

    for p in range(cfg.n_pops):
        used = 0
        for t in range(cfg.trios_per_pop):
            f = f"P{p}T{t}"
            fa, mo = new_founder(p), new_founder(p)
            for role, orig, pa, ma in (("fa", ("founder", fa), "0", "0"),
                                       ("mo", ("founder", mo), "0", "0"),
                                       ("ch", ("child", fa, mo), f"{f}_fa", f"{f}_mo")):
                fid.append(f); iid.append(f"{f}_{role}"); father.append(pa); mother.append(ma)
                pop.append(p); origin.append(orig)
            used += 3
        for s in range(cfg.sibpairs_per_pop):
            f = f"P{p}S{s}"
            fa, mo = new_founder(p), new_founder(p)
            for k in (1, 2):
                fid.append(f); iid.append(f"{f}_sib{k}"); father.append("0"); mother.append("0")
                pop.append(p); origin.append(("child", fa, mo))
            used += 2
        for k in range(per_pop[p] - used):
            name = f"P{p}I{k}"
            fid.append(name); iid.append(name); father.append("0"); mother.append("0")
            pop.append(p); origin.append(("founder", new_founder(p)))
    return (np.array(fid), np.array(iid), np.array(father), np.array(mother),
            np.array(pop), origin, np.array(founder_pop))


def simulate_genotype_block(rng, p_anc, fst, founder_pop, origin, n_pops):
    """A1 allele counts for one block of SNPs.

    p_anc : ndarray, shape (m,), float64 ancestral A1 frequencies.
    Returns ndarray, shape (n_samples, m), int8 (no missing calls yet) and the
    per-population frequencies, shape (n_pops, m).
    """
    m = p_anc.size
    a = p_anc * (1 - fst) / fst
    b = (1 - p_anc) * (1 - fst) / fst
    p_pop = rng.beta(a[None, :].repeat(n_pops, 0), b[None, :].repeat(n_pops, 0))
    hap = rng.random((founder_pop.size, 2, m)) < p_pop[founder_pop][:, None, :]
    out = np.empty((len(origin), m), dtype=np.int8)
    for i, o in enumerate(origin):
        if o[0] == "founder":
            h = hap[o[1]]
            out[i] = h[0].astype(np.int8) + h[1]
        else:
            pa, pb = hap[o[1]], hap[o[2]]
            ta = rng.integers(0, 2, m)
            tb = rng.integers(0, 2, m)
            out[i] = pa[ta, np.arange(m)].astype(np.int8) + pb[tb, np.arange(m)]
    return out, p_pop


def simulate(cfg: SimulationConfig = SimulationConfig()) -> SimulatedData:
    """Simulate a dataset; deterministic for a given config (seeded)."""
    rng = np.random.default_rng(cfg.seed)
    fid, iid, father, mother, pop, origin, founder_pop = _pedigree(cfg)
    n, m = fid.size, cfg.n_snps

    # Ancestral frequencies: a spread of common SNPs and some rare ones.
    rare = rng.random(m) < cfg.rare_fraction
    maf = np.where(rare, rng.uniform(0.005, 0.05, m), rng.uniform(0.05, 0.5, m))
    flip = rng.random(m) < 0.5
    p_anc = np.where(flip, 1 - maf, maf)

    geno = np.empty((n, m), dtype=np.int8)
    block = 2000
    for a in range(0, m, block):
        b = min(m, a + block)
        geno[:, a:b], _ = simulate_genotype_block(rng, p_anc[a:b], cfg.fst, founder_pop,
                                                  origin, cfg.n_pops)

    # Map: equal SNP counts per chromosome, sorted positions, A1/A2 letters.
    chrom = np.repeat(np.arange(1, cfg.n_chromosomes + 1), int(np.ceil(m / cfg.n_chromosomes)))[:m]
    pos = np.empty(m, dtype=np.int64)
    for c in np.unique(chrom):
        sel = chrom == c
        pos[sel] = np.sort(rng.choice(np.arange(10_000, 150_000_000), sel.sum(), replace=False))
    snp_id = np.array([f"rs{c}_{p}" for c, p in zip(chrom, pos)])
    bases = np.array(["A", "C", "G", "T"])
    a1_idx = rng.integers(0, 4, m)
    a2_idx = (a1_idx + rng.integers(1, 4, m)) % 4
    allele_1, allele_2 = bases[a1_idx], bases[a2_idx]

    # Covariates (before missingness).
    age = np.round(rng.normal(50, 10, n), 1)
    bmi = np.round(rng.normal(27, 4, n), 2)
    batch = rng.choice(np.array(["b1", "b2", "b3"]), n, p=[0.5, 0.3, 0.2])
    batch_effect = {"b1": 0.0, "b2": 0.3, "b3": -0.4}
    covar_part = 0.02 * (age - 50) + 0.05 * (bmi - 27) + np.vectorize(batch_effect.get)(batch)

    eligible = np.flatnonzero((chrom <= cfg.causal_chromosomes))
    true_freq = geno.mean(axis=0) / 2
    common = eligible[(true_freq[eligible] > 0.2) & (true_freq[eligible] < 0.8)]

    def make_trait(h2, n_large, n_poly, name):
        large = rng.choice(common, n_large, replace=False)
        rest = np.setdiff1d(eligible, large)
        rest = rest[(true_freq[rest] > 0.01) & (true_freq[rest] < 0.99)]
        poly = rng.choice(rest, n_poly, replace=False)
        z = (geno[:, np.r_[large, poly]] - 2 * true_freq[np.r_[large, poly]])
        z = z / z.std(axis=0)
        g_large = z[:, :n_large] * np.sqrt(cfg.large_share)
        poly_share = max(h2 - n_large * cfg.large_share, 0.0)
        eff_poly = rng.normal(0, 1, n_poly)
        g_poly = z[:, n_large:] @ eff_poly
        g_poly = g_poly / g_poly.std() * np.sqrt(poly_share)
        g = g_large.sum(axis=1) + g_poly
        e = rng.normal(0, 1, n)
        e = e / e.std() * np.sqrt(1 - h2)
        y = np.round(g + e + covar_part, 6)
        beta_large = np.sqrt(cfg.large_share) / np.std(geno[:, large] - 2 * true_freq[large], axis=0)
        rows = []
        for j, bl in zip(large, beta_large):
            rows.append(dict(variant_id=snp_id[j], chromosome=int(chrom[j]), position=int(pos[j]),
                             effect_allele=allele_1[j], beta=float(bl), kind="large",
                             var_explained=cfg.large_share))
        sd_poly = np.std(geno[:, poly] - 2 * true_freq[poly], axis=0)
        scale = np.sqrt(poly_share) / (z[:, n_large:] @ eff_poly).std()
        for j, ep, sd in zip(poly, eff_poly, sd_poly):
            rows.append(dict(variant_id=snp_id[j], chromosome=int(chrom[j]), position=int(pos[j]),
                             effect_allele=allele_1[j], beta=float(ep * scale / sd), kind="polygenic",
                             var_explained=float((ep * scale) ** 2)))
        realized = float(np.var(g) / (np.var(g) + np.var(e)))
        return y, rows, realized

    y1, causal1, h2_1 = make_trait(cfg.h2, cfg.n_large, cfg.n_polygenic, "trait")
    y2, causal2, h2_2 = make_trait(0.3, 0, cfg.n_polygenic, "trait2")

    # Missing phenotypes and covariates, in distinct samples.
    order = rng.permutation(n)
    miss_pheno = order[: cfg.n_missing_pheno]
    miss_covar = order[cfg.n_missing_pheno: cfg.n_missing_pheno + cfg.n_missing_covar]
    y1 = y1.astype(float); y2 = y2.astype(float)
    y1[miss_pheno] = np.nan
    y2[miss_pheno[: cfg.n_missing_pheno // 2]] = np.nan
    age = age.astype(float)
    bmi = bmi.astype(float)
    batch = batch.astype(object)
    age[miss_covar[:2]] = np.nan
    bmi[miss_covar[2:4]] = np.nan
    batch[miss_covar[4:]] = ""

    # Missing genotype calls at random.
    miss = rng.random((n, m)) < cfg.missing_rate
    geno[miss] = MISSING_INT8

    sex = rng.integers(1, 3, n)
    truth = dict(seed=cfg.seed, n_samples=n, n_snps=m, n_chromosomes=cfg.n_chromosomes,
                 n_pops=cfg.n_pops, fst=cfg.fst, missing_rate=cfg.missing_rate,
                 causal_chromosomes=list(range(1, cfg.causal_chromosomes + 1)),
                 traits={"trait": dict(h2=cfg.h2, realized_h2=h2_1, n_large=cfg.n_large,
                                       large_share=cfg.large_share, n_polygenic=cfg.n_polygenic),
                         "trait2": dict(h2=0.3, realized_h2=h2_2, n_large=0,
                                        n_polygenic=cfg.n_polygenic)},
                 covariate_effects=dict(age=0.02, bmi=0.05, batch=batch_effect))
    return SimulatedData(fid=fid, iid=iid, father=father, mother=mother, sex=sex, pop=pop,
                         chromosome=chrom.astype(str), snp_id=snp_id, bp_position=pos,
                         allele_1=allele_1, allele_2=allele_2, genotypes=geno,
                         phenotypes={"trait": y1, "trait2": y2},
                         covariates={"age": age, "bmi": bmi, "batch": batch},
                         causal={"trait": causal1, "trait2": causal2}, truth=truth)


def liability_binary(rng, genotypes: np.ndarray, prevalence: float, h2: float,
                     causal: np.ndarray, pop: np.ndarray | None = None,
                     pop_shift: float = 0.0, covar_part: np.ndarray | None = None):
    """A binary trait by the liability-threshold model (Falconer 1965).

    Liability = g + s + c + e: g the sum of standardized causal genotypes
    (``causal`` column indices into ``genotypes``, (n, m) int8 with
    MISSING_INT8 for missing calls, imputed at the mean), scaled to variance
    ``h2``; s = ``pop_shift`` times the centred population label (a
    stratified environment, so that allele-frequency differences between
    populations confound a test without the kinship); c the covariate part;
    e ~ N(0, 1 - h2).  Cases are the ``prevalence`` share of samples with the
    highest liability (exactly round(prevalence n) cases).

    Returns (y (n,) float64 0/1, liability (n,) float64).
    """
    n = genotypes.shape[0]
    g = np.zeros(n)
    if causal.size:
        G = genotypes[:, causal].astype(np.float64)
        G[G == MISSING_INT8] = np.nan
        G = np.where(np.isnan(G), np.nanmean(G, axis=0), G)
        sd = G.std(axis=0)
        Z = (G - G.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
        g = Z @ rng.normal(0.0, 1.0, causal.size)
        g = g / g.std() * np.sqrt(h2)
    e = rng.normal(0.0, np.sqrt(1.0 - h2), n)
    liab = g + e
    if pop is not None and pop_shift:
        liab = liab + pop_shift * (pop - pop.mean())
    if covar_part is not None:
        liab = liab + covar_part
    n_cases = int(round(prevalence * n))
    y = np.zeros(n)
    y[np.argsort(-liab)[:n_cases]] = 1.0
    return y, liab
