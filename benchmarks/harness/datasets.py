"""Simulated datasets, cached on disk, and every tool's input files for them.

A dataset is made once with the project's simulator (``gwaslmm.simulate``,
written by ``testdata/make_testdata.py``'s ``write_sim``) and kept under the
data directory; a ``.done`` marker holding the configuration makes a rerun
reuse it.  Beside the PLINK fileset and the ``FID IID ...`` phenotype and
covariate tables that gwaslmm, PLINK 2 and BOLT-LMM read directly, this module
writes the files GEMMA and FaST-LMM need (GEMMA: no header, .fam order, an
explicit column of ones, the categorical ``batch`` dummy-coded; FaST-LMM: the
complete cases only, since its single_snp does not drop samples with a
missing covariate).
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import asdict, dataclass


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PHENO = "trait"
QCOVAR = ("age", "bmi")
CATCOVAR = "batch"
NA = {"NA", "", "-9", "nan", "NaN"}


@dataclass(frozen=True)
class DatasetFiles:
    """Paths of one dataset's files (all under ``directory``)."""

    directory: str
    bfile: str  # PLINK prefix
    pheno: str  # FID IID trait trait2 (header)
    covar: str  # FID IID age bmi batch (header)
    gemma_pheno: str  # one column, .fam order, NA missing
    gemma_covar: str  # 1 age bmi batch_b2 batch_b3, .fam order
    gemma_ones: str  # a column of 1s: every sample "analysed" for gemma -gk 1
    fastlmm_pheno: str  # FID IID trait, complete cases, no header
    fastlmm_covar: str  # FID IID age bmi batch_b2 batch_b3, complete cases, no header
    numeric_covar: str  # FID IID age bmi batch_b2 batch_b3 (header, NA missing): PLINK 2
    n_samples: int
    n_snps: int
    n_complete: int  # samples with the phenotype and every covariate


def _table(path):
    with open(path) as fh:
        head = fh.readline().split()
        return head, [line.split() for line in fh if line.strip()]


def prepare(dataset, data_dir: str, log=print) -> DatasetFiles:
    """Simulate ``dataset`` (a suites.Dataset) into ``data_dir/<name>/`` unless
    it is already there, then write the peers' input files."""
    d = os.path.join(data_dir, dataset.name)
    prefix = os.path.join(d, "sim")
    marker = os.path.join(d, ".done")
    want = json.dumps(asdict(dataset), sort_keys=True)
    if not (os.path.exists(marker) and open(marker).read() == want):
        os.makedirs(d, exist_ok=True)
        sys.path.insert(0, os.path.join(ROOT, "testdata"))
        sys.path.insert(0, ROOT)
        from make_testdata import write_sim  # noqa: E402  (testdata/make_testdata.py)

        from gwaslmm.simulate import SimulationConfig

        cfg = SimulationConfig(n_samples=dataset.n_samples, n_snps=dataset.n_snps,
                               n_chromosomes=dataset.n_chromosomes, seed=dataset.seed)
        log(f"simulating {dataset.name} ({dataset.n_samples} samples x {dataset.n_snps} SNPs) "
            f"into {d}")
        write_sim(prefix, cfg)
        with open(marker, "w") as fh:
            fh.write(want)
    return _write_peer_inputs(d, prefix, dataset)


def _write_peer_inputs(d, prefix, dataset) -> DatasetFiles:
    fam = [tuple(line.split()[:2]) for line in open(prefix + ".fam") if line.strip()]
    ph_head, ph_rows = _table(prefix + ".pheno")
    cv_head, cv_rows = _table(prefix + ".covar")
    phe = {tuple(r[:2]): dict(zip(ph_head, r)) for r in ph_rows}
    cov = {tuple(r[:2]): dict(zip(cv_head, r)) for r in cv_rows}
    levels = sorted({r[CATCOVAR] for r in cov.values() if r[CATCOVAR] not in NA})
    dummies = levels[1:]  # first level in sorted order is the baseline (as gwaslmm)

    files = dict(
        gemma_pheno=os.path.join(d, "gemma.pheno.txt"),
        gemma_covar=os.path.join(d, "gemma.covar.txt"),
        gemma_ones=os.path.join(d, "gemma.ones.txt"),
        fastlmm_pheno=os.path.join(d, "fastlmm.pheno.txt"),
        fastlmm_covar=os.path.join(d, "fastlmm.covar.txt"),
        numeric_covar=os.path.join(d, "numeric.covar.txt"),
    )
    n_complete = 0
    with open(files["gemma_pheno"], "w") as gp, open(files["gemma_covar"], "w") as gc, \
            open(files["gemma_ones"], "w") as go, open(files["fastlmm_pheno"], "w") as fp, \
            open(files["fastlmm_covar"], "w") as fc, open(files["numeric_covar"], "w") as nc:
        # PLINK 2 wants a categorical covariate's missing value spelt NONE, not NA; the
        # dummy-coded numeric table sidesteps that and is the same model.
        nc.write("\t".join(["FID", "IID", *QCOVAR] + [f"{CATCOVAR}_{lv}" for lv in dummies]) + "\n")
        for key in fam:
            y = phe.get(key, {}).get(PHENO, "NA")
            c = cov.get(key)
            y = "NA" if y in NA else y
            gp.write(y + "\n")
            go.write("1\n")
            if c is None:
                qv, dv = ["NA"] * len(QCOVAR), ["NA"] * len(dummies)
            else:
                qv = ["NA" if c[q] in NA else c[q] for q in QCOVAR]
                b = c[CATCOVAR]
                dv = ["NA"] * len(dummies) if b in NA else ["1" if b == lv else "0"
                                                           for lv in dummies]
            gc.write(" ".join(["1"] + qv + dv) + "\n")
            if c is not None:
                nc.write("\t".join([key[0], key[1]] + qv + dv) + "\n")
            if y != "NA" and "NA" not in qv and "NA" not in dv:
                n_complete += 1
                fp.write(f"{key[0]} {key[1]} {y}\n")
                fc.write(" ".join([key[0], key[1]] + qv + dv) + "\n")
    return DatasetFiles(directory=d, bfile=prefix, pheno=prefix + ".pheno",
                        covar=prefix + ".covar", n_samples=len(fam),
                        n_snps=dataset.n_snps, n_complete=n_complete, **files)


def snp_ids_on_chromosomes(bfile: str, max_chromosome: int | None):
    """Variant IDs of the .bim on chromosomes 1..max_chromosome (all if None)."""
    ids = []
    with open(bfile + ".bim") as fh:
        for line in fh:
            f = line.split()
            if max_chromosome is None or (f[0].isdigit() and int(f[0]) <= max_chromosome):
                ids.append(f[1])
    return ids


def write_gemma_kinship_from_grm(grm_prefix: str, path: str) -> None:
    """Convert a GCTA binary GRM (gwaslmm grm's output) into GEMMA's text
    kinship (n x n, .fam order), the form both gwaslmm ``--kinship`` and
    ``gemma -k`` read."""
    from gwaslmm.kinship_io import read_gcta_grm, write_gemma_kinship

    write_gemma_kinship(path, read_gcta_grm(grm_prefix).K)


def n_variants(bfile: str) -> int:
    with open(bfile + ".bim") as fh:
        return sum(1 for line in fh if line.strip())


def causal_ids(bfile: str):
    """Large-effect causal variant IDs of the phenotype, from the simulation's truth."""
    path = bfile + ".causal.tsv"
    if not os.path.exists(path):
        return []
    head, rows = _table(path)
    return [dict(zip(head, r))["variant_id"] for r in rows
            if r[0] == PHENO and dict(zip(head, r))["kind"] == "large"]


def true_h2(bfile: str) -> float:
    with open(bfile + ".truth.json") as fh:
        t = json.load(fh)
    return float(t["traits"][PHENO]["realized_h2"])


__all__ = ["DatasetFiles", "prepare", "snp_ids_on_chromosomes", "write_gemma_kinship_from_grm",
           "n_variants", "causal_ids", "true_h2"]
