import gzip
import os
import shutil

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TESTDATA = os.path.join(ROOT, "testdata")
SIM = os.path.join(TESTDATA, "sim")
TINY = os.path.join(TESTDATA, "tiny")
REF = os.path.join(TESTDATA, "reference")


@pytest.fixture(scope="session")
def sim_prefix():
    return SIM


def slurp(path):
    """A text file's content (gzip-compressed if its name ends in .gz)."""
    if str(path).endswith(".gz"):
        with gzip.open(path, "rt") as fh:
            return fh.read()
    with open(path) as fh:
        return fh.read()


def run_cli(args):
    """Run the click CLI in-process; returns click's Result."""
    from click.testing import CliRunner

    from gwaslmm_cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


def small_problem(n=60, m=200, c=3, seed=1, h=0.5):
    """A small random LMM problem: kinship K (n, n), covariates W (n, c),
    phenotype y (n,), genotypes X (n, m) as float A1 counts."""
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 3, (n, m)).astype(float)
    Xc = X - X.mean(0)
    K = Xc @ Xc.T / m
    W = np.column_stack([np.ones(n)] + [rng.normal(size=n) for _ in range(c - 1)])
    g = rng.multivariate_normal(np.zeros(n), K + 1e-9 * np.eye(n))
    y = W @ rng.normal(size=c) + np.sqrt(h) * g + np.sqrt(1 - h) * rng.normal(size=n)
    return K, W, y, X


def copy_tiny(tmp_path, name="t") -> str:
    """Copy testdata/tiny.{bed,bim,fam} to tmp_path/name.* and return the prefix."""
    prefix = str(tmp_path / name)
    for ext in ("bed", "bim", "fam"):
        shutil.copyfile(f"{TINY}.{ext}", f"{prefix}.{ext}")
    return prefix


def rewrite_line(path: str, lineno: int, new: str | None) -> None:
    """Replace (or delete, new=None) 1-based line ``lineno`` of a text file."""
    with open(path) as fh:
        lines = fh.read().splitlines()
    if new is None:
        del lines[lineno - 1]
    else:
        lines[lineno - 1] = new
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
