"""The tools: find gwaslmm and its peers, and build every command the benchmark runs.

Each command is a :class:`Run`: the comparison it belongs to, the tool, the
argv, extra environment variables, and where its output lands (read back by
``agreement``).  Comparisons (see benchmarks/README.md for why each pairing):

- ``grm-centered``: gwaslmm ``grm --grm-type centered`` vs ``gemma -gk 1``
- ``grm-standardized``: gwaslmm ``grm`` vs ``plink2 --make-rel triangle bin4``
- ``exact-all``: gwaslmm ``assoc --test all --kinship K`` vs ``gemma -lmm 4 -k K``
- ``exact-wald``: gwaslmm ``assoc --test wald --kinship K`` vs ``gemma -lmm 1 -k K``
- ``fast``: gwaslmm ``assoc --fast`` vs FaST-LMM ``single_snp`` (no LOCO) and
  ``plink2 --glm`` (linear regression, no kinship)
- ``loco``: gwaslmm ``assoc --fast --loco`` vs ``bolt --lmmInfOnly`` (or ``--lmm``)
- ``reml``: gwaslmm ``reml --grm-type centered`` vs ``bolt --reml`` (when enabled)

K is one centred kinship (gwaslmm's ``grm --grm-type centered`` over every
.fam sample, the definition of ``gemma -gk 1``) written once as GEMMA text and
given to both tools.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # benchmarks/
PEERS = ("gemma", "plink2", "bolt", "fastlmm")

COMPARISONS = {
    "grm-centered": "kinship, centred (= gemma -gk 1)",
    "grm-standardized": "kinship, standardized (plink2 --make-rel)",
    "exact-all": "exact per-SNP REML/ML: Wald + LRT + score (= gemma -lmm 4)",
    "exact-wald": "exact per-SNP REML: Wald (= gemma -lmm 1)",
    "fast": "fixed variance ratio (P3D/EMMAX), one GLS per SNP",
    "loco": "fixed variance ratio, leave-one-chromosome-out",
    "reml": "null model / heritability",
}


@dataclass
class Tool:
    name: str
    status: str  # "found", "missing", "not requested", "broken"
    path: str = ""
    version: str = ""
    blas: str = ""
    note: str = ""


@dataclass
class Run:
    """One command of the benchmark."""

    comparison: str  # key of COMPARISONS
    tool: str  # gwaslmm / gemma / plink2 / bolt / fastlmm
    label: str  # short description for the tables
    argv: list
    out: str  # output prefix or file, read by agreement
    env: dict = field(default_factory=dict)
    gwaslmm: bool = False  # has OUT.timings.json
    floor_terms: tuple = ()  # ("kinship", "rotation", "eigh", "eigh_per_chrom")
    snps_scanned: int | None = None  # for the exact runs (a subset of the .bim)


def _first_line(argv, pattern=None):
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"(could not run: {exc})"
    text = p.stdout + p.stderr
    if pattern:
        m = re.search(pattern, text)
        return m.group(0).strip() if m else text.strip().splitlines()[0] if text.strip() else ""
    return text.strip().splitlines()[0] if text.strip() else ""


def _blas_of(path):
    """BLAS/LAPACK libraries a binary links (ldd), for the machine table."""
    try:
        p = subprocess.run(["ldd", path], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    libs = [line.split()[0] for line in p.stdout.splitlines()
            if re.search(r"blas|lapack|mkl", line, re.I)]
    if "not a dynamic executable" in p.stdout + p.stderr:
        return "static binary"
    return ", ".join(libs)


def fastlmm_python():
    """The FaST-LMM virtual environment's python: $FASTLMM_PYTHON, else
    benchmarks/.venv-fastlmm/bin/python (made by benchmarks/setup_peers.sh)."""
    return os.environ.get("FASTLMM_PYTHON") or os.path.join(HERE, ".venv-fastlmm", "bin", "python")


def discover(requested_peers, gwaslmm_path=None):
    """Return {name: Tool} for gwaslmm and every peer (found, missing, or not
    requested).  A requested peer that is absent is 'missing' with the reason."""
    tools = {}
    g = gwaslmm_path or os.path.join(os.path.dirname(sys.executable), "gwaslmm")
    if not os.path.exists(g):
        g = shutil.which("gwaslmm") or ""
    if not g:
        tools["gwaslmm"] = Tool("gwaslmm", "missing", note="no gwaslmm executable beside "
                                f"{sys.executable} nor on PATH; pip install -e . first")
    else:
        tools["gwaslmm"] = Tool("gwaslmm", "found", g, _first_line([g, "--version"]))
    install = {
        "gemma": "apt-get install gemma",
        "plink2": "apt-get install plink2",
        "bolt": "apt-get install bolt-lmm",
        "fastlmm": "bash benchmarks/setup_peers.sh --no-apt (makes benchmarks/.venv-fastlmm)",
    }
    for name in PEERS:
        if name not in requested_peers:
            tools[name] = Tool(name, "not requested")
            continue
        if name == "fastlmm":
            py = fastlmm_python()
            if not os.path.exists(py):
                tools[name] = Tool(name, "missing", note=f"{py} not found; {install[name]}")
                continue
            p = subprocess.run([py, "-c", "import six; from importlib.metadata import version; "
                                "from fastlmm.association import single_snp; "
                                "print(version('fastlmm'))"],
                               capture_output=True, text=True, timeout=300)
            if p.returncode != 0:
                tools[name] = Tool(name, "broken", py, note="import failed: "
                                   + (p.stderr.strip().splitlines() or ["?"])[-1])
                continue
            tools[name] = Tool(name, "found", py, "fastlmm " + p.stdout.strip(),
                               blas="numpy's bundled OpenBLAS (its own venv)")
            continue
        path = shutil.which(name)
        if not path:
            tools[name] = Tool(name, "missing", note=f"`{name}` not on PATH; {install[name]}")
            continue
        if name == "gemma":
            version = _first_line([path], r"GEMMA [0-9.]+ \([0-9-]+\)")
        elif name == "plink2":
            version = _first_line([path, "--version"])
        else:
            version = _first_line([path, "--help"], r"BOLT-LMM, v[0-9.]+")
        tools[name] = Tool(name, "found", path, version, blas=_blas_of(path))
    return tools


@dataclass
class Plan:
    """Inputs shared by the commands of one dataset."""

    files: object  # datasets.DatasetFiles
    work: str  # output directory for this dataset
    kinship_txt: str  # GEMMA text kinship (centred, every .fam sample)
    exact_snps_file: str  # IDs the exact scans test (one per line)
    n_exact_snps: int
    bolt_reml: bool = False
    bolt_mixture: bool = False


def build_runs(plan: Plan, tools: dict):
    """All commands for one dataset, in the order they run (each group's
    gwaslmm command first).  Peers that were not found are left out here and
    reported as missing by the report."""
    f, w = plan.files, plan.work
    g = tools["gwaslmm"].path
    have = {k for k, t in tools.items() if t.status == "found"}
    pheno = ["--pheno", f.pheno, "--pheno-name", "trait", "--covar", f.covar]
    runs = []

    def add(*a, **k):
        runs.append(Run(*a, **k))

    def out(name):
        return os.path.join(w, name)

    # ---------------------------------------------------------------- kinship
    add("grm-centered", "gwaslmm", "gwaslmm grm --grm-type centered",
        [g, "grm", "--bfile", f.bfile, "--grm-type", "centered", "--out", out("gwaslmm_grm_c")],
        out("gwaslmm_grm_c"), gwaslmm=True, floor_terms=("kinship",))
    if "gemma" in have:
        add("grm-centered", "gemma", "gemma -gk 1",
            [tools["gemma"].path, "-bfile", f.bfile, "-p", f.gemma_ones, "-gk", "1",
             "-outdir", w, "-o", "gemma_gk1"], out("gemma_gk1"))
    add("grm-standardized", "gwaslmm", "gwaslmm grm (standardized)",
        [g, "grm", "--bfile", f.bfile, "--out", out("gwaslmm_grm_s")],
        out("gwaslmm_grm_s"), gwaslmm=True, floor_terms=("kinship",))
    if "plink2" in have:
        add("grm-standardized", "plink2", "plink2 --make-rel triangle bin4",
            [tools["plink2"].path, "--bfile", f.bfile, "--make-rel", "triangle", "bin4",
             "--out", out("plink2_rel")], out("plink2_rel"))

    # ---------------------------------------------------- exact per-SNP scans
    k = plan.n_exact_snps
    add("exact-all", "gwaslmm", "gwaslmm assoc --test all --kinship K",
        [g, "assoc", "--bfile", f.bfile, *pheno, "--kinship", plan.kinship_txt,
         "--extract", plan.exact_snps_file, "--test", "all", "--out", out("gwaslmm_exact_all")],
        out("gwaslmm_exact_all"), gwaslmm=True, floor_terms=("eigh", "rotation"),
        snps_scanned=k)
    if "gemma" in have:
        add("exact-all", "gemma", "gemma -lmm 4 -k K",
            [tools["gemma"].path, "-bfile", f.bfile, "-p", f.gemma_pheno, "-c", f.gemma_covar,
             "-k", plan.kinship_txt, "-snps", plan.exact_snps_file, "-lmm", "4",
             "-outdir", w, "-o", "gemma_lmm4"], out("gemma_lmm4"), snps_scanned=k)
    add("exact-wald", "gwaslmm", "gwaslmm assoc --test wald --kinship K",
        [g, "assoc", "--bfile", f.bfile, *pheno, "--kinship", plan.kinship_txt,
         "--extract", plan.exact_snps_file, "--test", "wald", "--out", out("gwaslmm_exact_wald")],
        out("gwaslmm_exact_wald"), gwaslmm=True, floor_terms=("eigh", "rotation"),
        snps_scanned=k)
    if "gemma" in have:
        add("exact-wald", "gemma", "gemma -lmm 1 -k K",
            [tools["gemma"].path, "-bfile", f.bfile, "-p", f.gemma_pheno, "-c", f.gemma_covar,
             "-k", plan.kinship_txt, "-snps", plan.exact_snps_file, "-lmm", "1",
             "-outdir", w, "-o", "gemma_lmm1"], out("gemma_lmm1"), snps_scanned=k)

    # ------------------------------------------------------------ fast scans
    add("fast", "gwaslmm", "gwaslmm assoc --fast",
        [g, "assoc", "--bfile", f.bfile, *pheno, "--fast", "--out", out("gwaslmm_fast")],
        out("gwaslmm_fast"), gwaslmm=True, floor_terms=("kinship", "eigh", "rotation"))
    if "fastlmm" in have:
        add("fast", "fastlmm", "FaST-LMM single_snp (no LOCO)",
            [tools["fastlmm"].path, os.path.join(HERE, "fastlmm_single_snp.py"), f.bfile,
             f.fastlmm_pheno, f.fastlmm_covar, out("fastlmm.tsv")], out("fastlmm.tsv"))
    if "plink2" in have:
        add("fast", "plink2", "plink2 --glm (linear, no kinship)",
            [tools["plink2"].path, "--bfile", f.bfile, "--pheno", f.pheno, "--pheno-name",
             "trait", "--covar", f.numeric_covar, "--covar-variance-standardize", "--glm",
             "hide-covar", "--out", out("plink2_glm")], out("plink2_glm") + ".trait.glm.linear")

    # ------------------------------------------------------------------ LOCO
    add("loco", "gwaslmm", "gwaslmm assoc --fast --loco",
        [g, "assoc", "--bfile", f.bfile, *pheno, "--fast", "--loco", "--out", out("gwaslmm_loco")],
        out("gwaslmm_loco"), gwaslmm=True,
        floor_terms=("kinship", "eigh_per_chrom", "rotation"))
    bolt_common = ["--bfile=" + f.bfile, "--phenoFile=" + f.pheno, "--phenoCol=trait",
                   "--covarFile=" + f.covar, "--covarCol=batch", "--qCovarCol=age",
                   "--qCovarCol=bmi", "--numThreads=2"]
    bolt_env = {"OPENBLAS_NUM_THREADS": "1"}  # it oversubscribes 2 cores otherwise
    if "bolt" in have:
        mode = "--lmm" if plan.bolt_mixture else "--lmmInfOnly"
        add("loco", "bolt", f"bolt {mode} --LDscoresUseChip",
            [tools["bolt"].path, *bolt_common, mode, "--LDscoresUseChip",
             "--statsFile=" + out("bolt_lmm.stats")], out("bolt_lmm.stats"), env=bolt_env)

    # ------------------------------------------------------------------ REML
    add("reml", "gwaslmm", "gwaslmm reml --grm-type centered",
        [g, "reml", "--bfile", f.bfile, *pheno, "--grm-type", "centered",
         "--out", out("gwaslmm_reml")], out("gwaslmm_reml"), gwaslmm=True,
        floor_terms=("kinship", "eigh"))
    if "bolt" in have and plan.bolt_reml:
        add("reml", "bolt", "bolt --reml",
            [tools["bolt"].path, *bolt_common, "--reml"], out("bolt_reml"), env=bolt_env)
    return runs


def missing_rows(tools: dict, plan: Plan):
    """(comparison, tool, label, reason) for every command a missing or broken
    peer would have run, so the tables show it instead of dropping it."""
    wanted = {
        "gemma": [("grm-centered", "gemma -gk 1"), ("exact-all", "gemma -lmm 4 -k K"),
                  ("exact-wald", "gemma -lmm 1 -k K")],
        "plink2": [("grm-standardized", "plink2 --make-rel triangle bin4"),
                   ("fast", "plink2 --glm (linear, no kinship)")],
        "fastlmm": [("fast", "FaST-LMM single_snp (no LOCO)")],
        "bolt": [("loco", f"bolt {'--lmm' if plan.bolt_mixture else '--lmmInfOnly'} "
                          "--LDscoresUseChip")]
        + ([("reml", "bolt --reml")] if plan.bolt_reml else []),
    }
    rows = []
    for name, items in wanted.items():
        t = tools[name]
        if t.status in ("missing", "broken"):
            for comp, label in items:
                rows.append((comp, name, label, f"{t.status}: {t.note}"))
    return rows
