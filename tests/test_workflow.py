"""The Snakemake workflow (issue 19): run for real on the bundled data (two
phenotypes, LOCO, three chunks each) and compared with direct assoc runs;
the SLURM profile and the no-LOCO layout resolved by dry runs.

Snakemake comes with the test extra (pip install -e '.[test]')."""

from __future__ import annotations

import gzip
import os
import subprocess
import sys

import pytest

from conftest import SIM

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.dirname(sys.executable)


def _snakemake(*args, cwd=ROOT):
    exe = os.path.join(BIN, "snakemake")
    if not os.path.exists(exe):
        pytest.fail("snakemake is not installed: pip install -e '.[test]'")
    cmd = [exe, "-s", "workflow/Snakefile", "--configfile", "workflow/config.yaml", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)


def test_workflow_merged_results_equal_direct_runs(tmp_path):
    """snakemake --cores 2: reml --loco --save-null per phenotype, assoc --null
    --loco in 3 chunks each, merge, plots; each merged result equals assoc
    --loco run directly with the jobs' thread settings (every row byte-identical)."""
    out = tmp_path / "wf"
    r = _snakemake("--cores", "2", "--config", f"outdir={out}",
                   f"gwaslmm={os.path.join(BIN, 'gwaslmm')}", "threads=1")
    assert r.returncode == 0, r.stderr[-3000:]
    for pheno in ("trait", "trait2"):
        d = out / pheno
        assert (d / "merged.manhattan.png").stat().st_size > 0
        assert len(list(d.glob("null.chr*.null.npz"))) == 8
        assert (d / "reml.snakemake.log").exists()
        direct = tmp_path / f"direct_{pheno}"
        # with the jobs' thread settings: snakemake sets OPENBLAS/OMP_NUM_THREADS
        # to a job's threads, and OpenBLAS started with 1 thread rounds the
        # eigendecomposition differently (1e-12) from one started with all
        # cores and limited to 1, which can move a printed last digit
        env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1")
        res = subprocess.run([os.path.join(BIN, "gwaslmm"), "assoc", "--bfile", SIM, "--pheno",
                              SIM + ".pheno", "--pheno-name", pheno, "--covar", SIM + ".covar",
                              "--covar-name", "age,bmi", "--loco", "--threads", "1", "--out",
                              str(direct)], capture_output=True, text=True, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
        with gzip.open(d / "merged.assoc.tsv.gz", "rt") as a, \
                gzip.open(f"{direct}.assoc.tsv.gz", "rt") as b:
            merged, one = a.read(), b.read()
        assert merged == one and merged.count("\n") > 9000


def test_workflow_slurm_profile_and_layouts_resolve(tmp_path):
    """Dry runs: the SLURM profile (snakemake-executor-plugin-slurm) resolves
    every rule into 13 jobs; without LOCO a shared kinship rule is added."""
    r = _snakemake("-n", "--profile", "workflow/profiles/slurm", "--config",
                   f"outdir={tmp_path / 'slurm'}")
    assert r.returncode == 0, r.stderr[-3000:]
    text = r.stdout + r.stderr
    for rule, count in (("reml", 2), ("assoc", 6), ("merge", 2), ("plot", 2)):
        assert any(ln.split() == [rule, str(count)] for ln in text.splitlines()), text[-2000:]
    r = _snakemake("-n", "--cores", "1", "--config", f"outdir={tmp_path / 'noloco'}",
                   "loco=false")
    assert r.returncode == 0, r.stderr[-3000:]
    text = r.stdout + r.stderr
    assert any(ln.split() == ["kinship", "1"] for ln in text.splitlines()), text[-2000:]
