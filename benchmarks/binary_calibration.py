"""Calibration and power of the binary-trait scan (issue 15), end to end
through the command line.

    .venv/bin/python benchmarks/binary_calibration.py --date 2026-12-06-binary-calibration

Data: the project's simulator (not committed; cached under --data-dir,
default /tmp/gwaslmm-binary-calibration).  N samples (default 4,000) in 3
Balding-Nichols populations (Fst 0.05) with 50 parent-offspring trios and 150
sibling pairs per population; 10,000 "kinship" SNPs on chromosomes 1-4
(simulate(), its spread of frequencies: 15% with ancestral MAF 0.5-5%), and
null SNPs on chromosomes 5-22 drawn with the SAME pedigree and populations
(simulate_genotype_block with the config's Fst, founder populations and
origins from _pedigree), their ancestral frequencies drawn per minor allele
count bin until every bin holds --null-per-bin variants (the realized MAC
scatters widely under Balding-Nichols; variants with MAC < 5 are not
written).  No missing calls anywhere: plink2 2.00a3.5's one-run --glm firth
output is wrong for variants with missing calls that follow a variant
without (a bug fixed upstream), so the data give it no chance to bite.

Phenotypes: liability_binary (liability-threshold model) with h2 0.5 on the
liability scale from --causal SNPs (default 30) among the chromosome 1-4 SNPs
with MAF >= 1% (effects N(0, 1) per standardized genotype, scaled to h2, so
a few are large), plus a population shift of 0.4 liability SD per population
label (a stratified environment); the same liability (same seed) is cut at
prevalence 10% and 1% (cases = the top share).  No covariates.

Runs per prevalence (gwaslmm --threads 2; plink2 --threads 1), all testing
the null SNPs and the causal SNPs (--extract), MAC >= 5 (--maf 0 --mac 5):

* SPA: ``gwaslmm assoc --binary --model-snps chr1-4 --extract tested``
  (kinship from chromosomes 1-4, which carry no tested null SNP, so no
  --loco is needed); its normal approximation is the same run's score_z
  (p = 2 Phi(-|z|));
* linear LMM on the same 0/1 phenotype: ``gwaslmm assoc --fast`` with the
  same kinship SNPs;
* ``plink2 --glm firth omit-ref allow-no-covars`` on the causal SNPs and every
  10th null SNP (its time; no kinship, no principal
  components: not calibrated on related, stratified samples; shown for
  power, with its lambda_GC on the null SNPs).

Counts: per MAC bin (5-19, 20-49, 50-199, MAF > 1% i.e. MAC > 0.02 N; the
last two overlap) and alpha (1e-2, 1e-3, 1e-4) the null SNPs tested, hits (p
< alpha), ratio = hits / (alpha n) and its exact one-sided 95% Poisson lower
and upper limits (chi-square formula); lambda_GC per method on the null
SNPs; for the causal SNPs the number with p < 5e-8 and < 1e-5 per method and
a per-SNP table.  Writes benchmarks/results/<date>.md.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import math
import os
import shutil
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from speed import gwaslmm_exe, write_report  # noqa: E402

BINS = ("MAC 5-19", "MAC 20-49", "MAC 50-199", "MAF > 1%")
# ancestral minor allele counts (at 2N alleles) drawn to fill each bin; the
# realized counts scatter (Balding-Nichols), so every draw feeds several bins
DRAW_MAC = {"MAC 5-19": (5, 20), "MAC 20-49": (15, 60), "MAC 50-199": (50, 200),
            "MAF > 1%": None}
ALPHAS = (1e-2, 1e-3, 1e-4)
BLOCK = 2000
PLINK2_EVERY = 10  # plink2 firth (about 1.2 ms per variant here) on every 10th null SNP


def bin_masks(mac: np.ndarray, n: int) -> dict:
    return {"MAC 5-19": (mac >= 5) & (mac < 20), "MAC 20-49": (mac >= 20) & (mac < 50),
            "MAC 50-199": (mac >= 50) & (mac < 200), "MAF > 1%": mac > 0.02 * n}


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------

def make_data(d: str, a) -> dict:
    """Write d/sim.{bed,bim,fam} (kinship SNPs, then null SNPs), the ID lists
    and the phenotypes; cached by d/meta.json while the settings match."""
    from gwaslmm.genotypes.plink1 import write_plink
    from gwaslmm.simulate import (SimulationConfig, _pedigree, liability_binary, simulate,
                                  simulate_genotype_block)

    settings = dict(n=a.n, kin_snps=a.kin_snps, null_per_bin=a.null_per_bin, causal=a.causal,
                    h2=a.h2, pop_shift=a.pop_shift, prevalences=a.prevalences, seed=a.seed,
                    trios=a.trios, sibpairs=a.sibpairs, version=3)
    meta_path = os.path.join(d, "meta.json")
    if os.path.exists(meta_path):
        with open(meta_path) as fh:
            meta = json.load(fh)
        if meta["settings"] == settings:
            print(f"reusing the data in {d}", flush=True)
            return meta
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    t0 = time.perf_counter()
    cfg = SimulationConfig(n_samples=a.n, n_snps=a.kin_snps, n_chromosomes=4,
                           causal_chromosomes=4, trios_per_pop=a.trios,
                           sibpairs_per_pop=a.sibpairs, missing_rate=0.0, n_missing_pheno=0,
                           n_missing_covar=0, seed=a.seed)
    sim = simulate(cfg)
    G = sim.genotypes
    if (G < 0).any():
        raise SystemExit("the simulator wrote missing calls although missing_rate is 0")
    n, m_kin = G.shape
    pre = os.path.join(d, "sim")
    write_plink(pre, G, sim.fid, sim.iid, sim.father, sim.mother, sim.sex, np.full(n, np.nan),
                sim.chromosome, sim.snp_id, np.zeros(m_kin), sim.bp_position, sim.allele_1,
                sim.allele_2)

    # null SNPs: same pedigree and populations, frequencies drawn per bin
    _, _, _, _, _, origin, founder_pop = _pedigree(cfg)
    rng = np.random.default_rng(a.seed + 1)
    counts = dict.fromkeys(BINS, 0)
    null_ids, null_mac = [], []
    tmp = os.path.join(d, "block")
    n_drawn, blk = 0, 0
    # about 3.8 null_per_bin draws fill the bins: spread their blocks over chr 5-22
    per_chrom = max(1, math.ceil(3.8 * a.null_per_bin / BLOCK / 18))
    with open(pre + ".bed", "ab") as bed, open(pre + ".bim", "a") as bim:
        while min(counts.values()) < a.null_per_bin:
            target = min(counts, key=counts.get)
            rng_mac = DRAW_MAC[target]
            if rng_mac is None:
                maf = rng.uniform(0.01, 0.5, BLOCK)
            else:
                maf = rng.uniform(rng_mac[0] / (2 * n), rng_mac[1] / (2 * n), BLOCK)
            p = np.where(rng.random(BLOCK) < 0.5, 1 - maf, maf)
            Gb, _ = simulate_genotype_block(rng, p, cfg.fst, founder_pop, origin, cfg.n_pops)
            n_drawn += BLOCK
            s = Gb.sum(axis=0, dtype=np.int64)
            mac = np.minimum(s, 2 * n - s)
            keep = mac >= 5
            Gb, mac = Gb[:, keep], mac[keep]
            for name, mask in bin_masks(mac, n).items():
                counts[name] += int(mask.sum())
            chrom = min(22, 5 + blk // per_chrom)  # contiguous: plink2 refuses split ones
            ids = [f"n{chrom}_{blk}_{j}" for j in range(mac.size)]
            pos = 1_000_000 * (blk + 1) + 100 * np.arange(1, mac.size + 1)
            write_plink(tmp, Gb, sim.fid, sim.iid, sim.father, sim.mother, sim.sex,
                        np.full(n, np.nan), [str(chrom)] * mac.size, ids, np.zeros(mac.size),
                        pos, ["A"] * mac.size, ["G"] * mac.size)
            with open(tmp + ".bed", "rb") as fh:
                fh.read(3)
                shutil.copyfileobj(fh, bed)
            with open(tmp + ".bim") as fh:
                shutil.copyfileobj(fh, bim)
            null_ids += ids
            null_mac.append(mac)
            blk += 1
            if blk % 25 == 0:
                print(f"  null SNPs: {len(null_ids):,} kept of {n_drawn:,} drawn, per bin "
                      f"{counts}", flush=True)
    for ext in (".bed", ".bim", ".fam"):
        os.remove(tmp + ext)
    null_mac = np.concatenate(null_mac)

    # phenotypes: one liability, cut at each prevalence
    maf_kin = G.mean(axis=0) / 2
    maf_kin = np.minimum(maf_kin, 1 - maf_kin)
    eligible = np.flatnonzero(maf_kin >= 0.01)
    causal = np.sort(np.random.default_rng(a.seed + 2).choice(eligible, a.causal, replace=False))
    ys, liab0 = {}, None
    for prev in a.prevalences:
        y, liab = liability_binary(np.random.default_rng(a.seed + 3), G, prev, a.h2, causal,
                                   sim.pop, a.pop_shift)
        if liab0 is not None and not np.array_equal(liab, liab0):
            raise SystemExit("the liability differs between prevalences (same seed)")
        liab0 = liab
        ys[prev] = y
    # the effects liability_binary drew: replay its generator, check the liability
    r = np.random.default_rng(a.seed + 3)
    Z = G[:, causal].astype(np.float64)
    sd = Z.std(axis=0)
    Z = (Z - Z.mean(axis=0)) / sd
    b = r.normal(0.0, 1.0, causal.size)
    g = Z @ b
    scale = math.sqrt(a.h2) / g.std()
    e = r.normal(0.0, math.sqrt(1 - a.h2), n)
    replay = g * scale + e + a.pop_shift * (sim.pop - sim.pop.mean())
    if not np.allclose(replay, liab0, rtol=0, atol=1e-9):
        raise SystemExit("could not replay liability_binary's effects")

    names = {prev: f"cc{prev * 100:g}".replace(".", "p") for prev in a.prevalences}
    with open(os.path.join(d, "y.pheno"), "w") as fh, open(os.path.join(d, "plink.pheno"), "w") as fp:
        fh.write("FID\tIID\t" + "\t".join(names.values()) + "\n")
        fp.write("FID\tIID\t" + "\t".join(names.values()) + "\n")
        for i in range(n):
            fh.write(f"{sim.fid[i]}\t{sim.iid[i]}\t"
                     + "\t".join(str(int(ys[p][i])) for p in a.prevalences) + "\n")
            fp.write(f"{sim.fid[i]}\t{sim.iid[i]}\t"
                     + "\t".join(str(int(ys[p][i]) + 1) for p in a.prevalences) + "\n")
    causal_rows = [dict(variant_id=str(sim.snp_id[j]), chromosome=str(sim.chromosome[j]),
                        maf=float(maf_kin[j]), beta_sd=float(bj * scale),
                        beta_allele=float(bj * scale / sdj), var_liab=float((bj * scale) ** 2))
                   for j, bj, sdj in zip(causal, b, sd)]
    with open(os.path.join(d, "chr1-4.txt"), "w") as fh:
        fh.writelines(f"{v}\n" for v in sim.snp_id)
    with open(os.path.join(d, "tested.txt"), "w") as fh:
        fh.writelines(f"{v}\n" for v in null_ids)
        fh.writelines(f"{r['variant_id']}\n" for r in causal_rows)
    with open(os.path.join(d, "tested_plink2.txt"), "w") as fh:
        fh.writelines(f"{v}\n" for v in null_ids[::PLINK2_EVERY])
        fh.writelines(f"{r['variant_id']}\n" for r in causal_rows)
    np.savez(os.path.join(d, "null.npz"), ids=np.array(null_ids), mac=null_mac)
    fam = np.unique(sim.fid, return_inverse=True)[1].reshape(-1)
    in_families = int((np.bincount(fam)[fam] > 1).sum())
    meta = dict(settings=settings, phenotypes={str(p): names[p] for p in a.prevalences},
                n=n, n_kin=m_kin, n_null=len(null_ids), n_drawn=n_drawn, bins=counts,
                causal=causal_rows,
                n_in_families=in_families,
                seconds=time.perf_counter() - t0)
    with open(meta_path, "w") as fh:
        json.dump(meta, fh, indent=1)
    print(f"data: {n} samples, {m_kin} kinship SNPs, {len(null_ids):,} null SNPs "
          f"({n_drawn:,} drawn) in {meta['seconds']:.0f} s", flush=True)
    return meta


# ---------------------------------------------------------------------------
# runs and their outputs
# ---------------------------------------------------------------------------

def run(argv: list, log: list) -> tuple:
    """(seconds, error or None); the error is the command and stderr's tail."""
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    cmd = " ".join(argv)
    print(f"  {dt:7.1f} s  {cmd}", flush=True)
    log.append((cmd, dt, r.returncode))
    if r.returncode != 0:
        return dt, f"exit {r.returncode}: `{cmd}`\n\n```\n{r.stderr[-3000:]}\n```"
    return dt, None


def null_model_line(out: str) -> str:
    """The null model's line of OUT.log (tau, h2 or lambda)."""
    with open(out + ".log") as fh:
        for ln in fh:
            if ln.startswith("null model"):
                return ln.strip()
    return "(no null model line in the log)"


def read_gwaslmm(path: str, cols: tuple) -> dict:
    """variant_id -> tuple of the named columns (floats; NA -> nan)."""
    out = {}
    with gzip.open(path, "rt", newline="") as fh:
        rd = csv.DictReader(fh, delimiter="\t")
        for row in rd:
            out[row["variant_id"]] = tuple(_num(row[c]) for c in cols)
    return out


def read_plink_firth(path: str) -> dict:
    """variant_id -> -log10 P of the ADD test (nan where plink2 gives NA)."""
    out = {}
    with open(path, newline="") as fh:
        rd = csv.DictReader(fh, delimiter="\t")
        for row in rd:
            if row["TEST"] == "ADD":
                p = _num(row["P"])
                out[row["ID"]] = -math.log10(p) if p > 0 else (math.inf if p == 0 else math.nan)
    return out


def _num(s: str) -> float:
    try:
        return float(s)
    except ValueError:
        return math.nan


def neglog10_normal(z: np.ndarray) -> np.ndarray:
    from scipy.stats import norm

    return -(math.log(2) + norm.logsf(np.abs(z))) / math.log(10)


def lambda_gc(nl: np.ndarray) -> float:
    from scipy.stats import chi2

    nl = nl[np.isfinite(nl)]
    return float(np.median(chi2.isf(10.0 ** -nl, 1)) / chi2.ppf(0.5, 1))


def poisson_limits(k: int) -> tuple:
    """One-sided 95% exact Poisson limits for a count k (chi-square formula)."""
    from scipy.stats import chi2

    lo = chi2.ppf(0.05, 2 * k) / 2 if k else 0.0
    hi = chi2.ppf(0.95, 2 * (k + 1)) / 2
    return lo, hi


# ---------------------------------------------------------------------------
# the report
# ---------------------------------------------------------------------------

def calibration_rows(label: str, nl: np.ndarray, masks: dict) -> list:
    rows = []
    for name, mask in masks.items():
        x = nl[mask]
        x = x[np.isfinite(x)]
        for alpha in ALPHAS:
            k = int((x > -math.log10(alpha)).sum())
            e = alpha * x.size
            lo, hi = poisson_limits(k)
            flag = " **>1.5**" if hi / e > 1.5 else ""
            rows.append(f"| {label} | {name} | {alpha:g} | {x.size:,} | {k} | {e:.1f} | "
                        f"{k / e:.3f} | {lo / e:.3f} | {hi / e:.3f}{flag} |")
    return rows


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="samples")
    ap.add_argument("--kin-snps", type=int, default=10000)
    ap.add_argument("--null-per-bin", type=int, default=100000)
    ap.add_argument("--causal", type=int, default=30)
    ap.add_argument("--h2", type=float, default=0.5)
    ap.add_argument("--pop-shift", type=float, default=0.4)
    ap.add_argument("--prevalences", default="0.1,0.01")
    ap.add_argument("--trios", type=int, default=50, help="trios per population")
    ap.add_argument("--sibpairs", type=int, default=150, help="sibling pairs per population")
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--threads", type=int, default=2, help="gwaslmm --threads")
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-binary-calibration")
    ap.add_argument("--data-dir", default="/tmp/gwaslmm-binary-calibration")
    a = ap.parse_args()
    a.prevalences = [float(p) for p in a.prevalences.split(",")]
    t_start = time.perf_counter()
    d = a.data_dir
    meta = make_data(d, a)
    pre = os.path.join(d, "sim")
    n = meta["n"]
    nz = np.load(os.path.join(d, "null.npz"))
    null_ids, null_mac = list(nz["ids"]), nz["mac"]
    masks = bin_masks(null_mac, n)
    causal = meta["causal"]
    plink2 = shutil.which("plink2")

    defaults = dict(n=4000, kin_snps=10000, null_per_bin=100000, causal=30, h2=0.5,
                    pop_shift=0.4, prevalences="0.1,0.01", trios=50, sibpairs=150, seed=2026,
                    threads=2)
    extra = "".join(f" --{k.replace('_', '-')} {getattr(a, k) if k != 'prevalences' else ','.join(f'{p:g}' for p in a.prevalences)}"
                    for k, v in defaults.items()
                    if (getattr(a, k) if k != "prevalences"
                        else ",".join(f"{p:g}" for p in a.prevalences)) != v)
    lines = [f"# Binary traits: calibration and power of the scan ({a.date})", "",
             f"`.venv/bin/python benchmarks/binary_calibration.py --date {a.date}{extra}`", "",
             *[x for para in __doc__.split("\n\n")[2:7] for x in (para, "")],
             f"Machine: {os.cpu_count()} cores (shared with other work while this ran); "
             f"gwaslmm --threads {a.threads}; "
             + (subprocess.run([plink2, "--version"], capture_output=True, text=True).stdout.strip()
                if plink2 else "plink2 missing") + ".", "",
             f"Data: {n:,} samples ({meta['n_in_families']} in trios or sib pairs), "
             f"{meta['n_kin']:,} kinship SNPs (chr 1-4), {meta['n_null']:,} null SNPs "
             f"(chr 5-22, MAC >= 5, kept of {meta['n_drawn']:,} drawn); null SNPs per bin: "
             + ", ".join(f"{k} {int(masks[k].sum()):,}" for k in BINS)
             + f"; {len(causal)} causal SNPs; simulated in {meta['seconds']:.0f} s "
               "(or cached).", ""]

    base = ["--bfile", pre, "--pheno", os.path.join(d, "y.pheno"), "--model-snps",
            os.path.join(d, "chr1-4.txt"), "--extract", os.path.join(d, "tested.txt"),
            "--maf", "0", "--mac", "5", "--threads", str(a.threads)]
    cmdlog, errors, nullfits = [], [], []
    results = {}
    for prev in a.prevalences:
        ph = meta["phenotypes"][str(prev)]
        out = {k: os.path.join(d, f"{k}_{ph}") for k in ("spa", "linear", "plink")}
        print(f"prevalence {prev:g} ({ph})", flush=True)
        res = {}
        t, err = run([gwaslmm_exe(), "assoc", *base, "--pheno-name", ph, "--binary",
                      "--out", out["spa"]], cmdlog)
        if err:
            errors.append(err)
        else:
            r = read_gwaslmm(out["spa"] + ".assoc.tsv.gz",
                             ("neg_log_10_p_value", "score_z", "n_cases"))
            res["spa"] = {k: v[0] for k, v in r.items()}
            res["score z"] = {k: v[1] for k, v in r.items()}
            res["normal"] = dict(zip(r, neglog10_normal(np.array([v[1] for v in r.values()]))))
            res["n_cases"] = int(next(iter(r.values()))[2])
            nullfits.append(f"prevalence {prev:g}, --binary: {null_model_line(out['spa'])}")
        t, err = run([gwaslmm_exe(), "assoc", *base, "--pheno-name", ph, "--fast",
                      "--out", out["linear"]], cmdlog)
        if err:
            errors.append(err)
        else:
            r = read_gwaslmm(out["linear"] + ".assoc.tsv.gz", ("neg_log_10_p_value", "t_stat"))
            res["linear"] = {k: v[0] for k, v in r.items()}
            res["linear z"] = {k: v[1] for k, v in r.items()}
            nullfits.append(f"prevalence {prev:g}, --fast: {null_model_line(out['linear'])}")
        if plink2:
            t, err = run([plink2, "--bfile", pre, "--pheno", os.path.join(d, "plink.pheno"),
                          "--pheno-name", ph, "--extract", os.path.join(d, "tested_plink2.txt"),
                          "--glm", "firth", "omit-ref", "allow-no-covars", "--threads", "1",
                          "--memory", "4000", "--out", out["plink"]], cmdlog)
            if err:
                errors.append(err)
            else:
                res["plink2 firth"] = read_plink_firth(f"{out['plink']}.{ph}.glm.firth")
        results[prev] = res

    # --- calibration
    methods = ("spa", "normal", "linear", "plink2 firth")
    label = {"spa": "SPA (--binary p_value)", "normal": "normal (score_z)",
             "linear": "linear LMM (--fast)", "plink2 firth": "plink2 firth (no kinship)"}
    nulls = {}
    for prev, res in results.items():
        for mth in methods:
            if mth in res:
                v = res[mth]
                nulls[prev, mth] = np.array([v.get(i, math.nan) for i in null_ids])

    lines += ["## Calibration on the null SNPs", "",
              "Ratio = observed type I error / alpha; limits: exact one-sided 95% Poisson "
              "limits of the count (chi2.ppf(0.05, 2k)/2 and chi2.ppf(0.95, 2k+2)/2) over "
              "alpha n. Bins by the minor allele count over all samples; MAF > 1% overlaps "
              "MAC 50-199. **>1.5** marks an upper limit above 1.5.", ""]
    for prev, res in results.items():
        lines += [f"### Prevalence {prev:g}: {res.get('n_cases', '?')} cases of {n:,}", "",
                  "| method | bin | alpha | null SNPs | hits | expected | ratio | 95% LCL | "
                  "95% UCL |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for mth in ("spa", "normal", "linear"):
            if (prev, mth) in nulls:
                lines += calibration_rows(label[mth], nulls[prev, mth], masks)
        lines.append("")
        untested = {m: int(np.isnan(nulls[prev, m]).sum()) for m in methods if (prev, m) in nulls}
        lines += [f"Null SNPs without a p-value (not tested, or NA; plink2 was run on every "
                  f"{PLINK2_EVERY}th null SNP only, {len(null_ids[::PLINK2_EVERY]):,}): {untested}", ""]

    lines += ["### lambda_GC on the null SNPs", "",
              "Median of the chi-square(1) quantiles of the p-values over 0.4549; for the rare "
              "bins the statistic is discrete and lambda_GC is no measure of tail calibration.",
              "", "| prevalence | method | all null SNPs | " + " | ".join(BINS) + " |",
              "|---|---|---:|" + "---:|" * len(BINS)]
    for (prev, mth), nl in nulls.items():
        lines.append(f"| {prev:g} | {label[mth]} | {lambda_gc(nl):.4f} | "
                     + " | ".join(f"{lambda_gc(nl[masks[b]]):.4f}" for b in BINS) + " |")
    lines.append("")
    lines += ["Mean of z^2 on the null SNPs (gwaslmm's score_z; the linear LMM's t_stat): "
              "1 where the statistic's variance is right on average.", "",
              "| prevalence | statistic | all null SNPs | " + " | ".join(BINS) + " |",
              "|---|---|---:|" + "---:|" * len(BINS)]
    for prev, res in results.items():
        for key, lab in (("score z", "score_z (--binary)"), ("linear z", "t_stat (--fast)")):
            if key in res:
                z = np.array([res[key].get(i, math.nan) for i in null_ids])
                lines.append(f"| {prev:g} | {lab} | {np.nanmean(z ** 2):.4f} | "
                             + " | ".join(f"{np.nanmean(z[masks[b]] ** 2):.4f}" for b in BINS)
                             + " |")
    lines.append("")

    # --- power
    lines += ["## Power on the causal SNPs", "",
              "Causal SNPs are among the kinship SNPs (chr 1-4), so both gwaslmm runs test "
              "them with a kinship that includes them (proximal contamination, the same for "
              "SPA and the linear LMM; 1 of "
              f"{meta['n_kin']:,} SNPs each). plink2 (run on the causal SNPs and every "
              f"{PLINK2_EVERY}th null SNP; its lambda_GC from those) has no kinship and no "
              "principal components: its p-values on these related, stratified samples are "
              "not calibrated (see its lambda_GC above and below), so its counts are no "
              "like-for-like power comparison.", "",
              "| prevalence | method | p < 5e-8 | p < 1e-5 | lambda_GC null | of causal |",
              "|---|---|---:|---:|---:|---:|"]
    cids = [c["variant_id"] for c in causal]
    for prev, res in results.items():
        for mth in methods:
            if mth in res:
                x = np.array([res[mth].get(i, math.nan) for i in cids])
                lines.append(f"| {prev:g} | {label[mth]} | {int((x > -math.log10(5e-8)).sum())} "
                             f"| {int((x > 5).sum())} | {lambda_gc(nulls[prev, mth]):.4f} | "
                             f"{len(cids)} |")
    lines += ["", "Per causal SNP: MAF, the true effect on the liability scale (per "
              "standardized genotype and per effect allele, .bim column 5, liability SD 1), "
              "its share of the liability variance, and -log10 p per method and prevalence "
              "(SPA / normal / linear / plink2 firth).", ""]
    head = "| variant | MAF | beta (SD) | beta (allele) | var | " + " | ".join(
        f"{p:g}: SPA | normal | linear | plink2" for p in results) + " |"
    lines += [head, "|---|---:|---:|---:|---:|" + "---:|" * (4 * len(results))]
    for c in sorted(causal, key=lambda c: -c["var_liab"]):
        cells = []
        for prev, res in results.items():
            for mth in methods:
                v = res.get(mth, {}).get(c["variant_id"], math.nan)
                cells.append(f"{v:.2f}")
        lines.append(f"| {c['variant_id']} | {c['maf']:.3f} | {c['beta_sd']:+.3f} | "
                     f"{c['beta_allele']:+.3f} | {c['var_liab']:.4f} | " + " | ".join(cells) + " |")
    lines.append("")

    lines += ["## Null models (from the logs)", ""] + [f"* {x}" for x in nullfits] + [""]
    lines += ["## Commands and times", "", "| s | exit | command |", "|---:|---:|---|"]
    lines += [f"| {dt:.1f} | {rc} | `{cmd}` |" for cmd, dt, rc in cmdlog]
    lines += ["", f"Total wall time of this script: {time.perf_counter() - t_start:.0f} s.", ""]
    if errors:
        lines += ["## Errors", ""] + [e + "\n" for e in errors]
    write_report(a.date, lines)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
