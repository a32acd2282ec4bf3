"""Benchmark suites: which datasets, how many repeats, how many SNPs the exact
(per-SNP REML) scans test.

The exact scans (gwaslmm ``assoc --test all`` / ``--test wald`` with a given
kinship, ``gemma -lmm 4`` / ``-lmm 1``) cost a one-dimensional optimisation
per SNP on top of everything else, so a suite may restrict them to the first
``exact_chromosomes`` chromosomes (both tools get the same subset, through
``--chr`` / GEMMA's ``-snps``) to keep the whole suite inside its time budget.
Every other step tests all SNPs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Dataset:
    n_samples: int
    n_snps: int
    n_chromosomes: int = 8
    seed: int = 20261125

    @property
    def name(self) -> str:
        return f"sim_n{self.n_samples}_m{self.n_snps}"


@dataclass(frozen=True)
class Suite:
    name: str
    datasets: tuple
    repeats: int
    # Exact scans test only chromosomes 1..exact_chromosomes (None: all).
    exact_chromosomes: int | None
    budget_minutes: float
    description: str


SUITES = {
    "smoke": Suite(
        name="smoke",
        datasets=(Dataset(200, 1000, n_chromosomes=4),),
        repeats=1,
        exact_chromosomes=None,
        budget_minutes=1,
        description="tiny data to test the harness itself (tests/test_benchmark_smoke.py)",
    ),
    "quick": Suite(
        name="quick",
        # The bundled size (identical to testdata/sim: default SimulationConfig) and 2x both ways.
        datasets=(Dataset(1000, 10_000), Dataset(2000, 20_000)),
        repeats=3,
        exact_chromosomes=2,
        budget_minutes=15,
        description="bundled size 1,000 x 10,000 and 2,000 x 20,000; 3 repeats",
    ),
    "full": Suite(
        name="full",
        datasets=(Dataset(1000, 50_000), Dataset(2000, 50_000), Dataset(5000, 50_000)),
        repeats=3,
        exact_chromosomes=1,
        budget_minutes=60,
        description="scaling series 1k, 2k, 5k samples x 50,000 SNPs; 3 repeats",
    ),
}
