"""Benchmark suites: which datasets, how many repeats, how many SNPs the exact
(per-SNP REML) scans test, and the time budget.

The exact scans (gwaslmm ``assoc --test all`` / ``--test wald`` with a given
kinship, ``gemma -lmm 4`` / ``-lmm 1``) cost a one-dimensional optimisation
per SNP on top of everything else (a few ms per SNP at n = 2,000 on two
cores, for either tool), so a suite may restrict them to the first
``exact_snps`` variants of the .bim (both tools get the same list, through
``--extract`` / GEMMA's ``-snps``) to stay inside its budget.  Every other
command tests all SNPs.

BOLT-LMM's ``--reml`` (Monte Carlo REML, much slower than its ``--lmmInfOnly``) is
timed in the full suite only; the quick suite takes BOLT's h2 from its
``--lmmInfOnly`` log.
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
    # Exact scans test only the first exact_snps variants of the .bim (None: all).
    exact_snps: int | None
    budget_minutes: float
    description: str
    bolt_reml: bool = False
    warmup: bool = True  # one untimed gwaslmm assoc run first (fills numba's cache)


SUITES = {
    "smoke": Suite(
        name="smoke",
        datasets=(Dataset(200, 1000, n_chromosomes=4),),
        repeats=1,
        exact_snps=None,
        budget_minutes=0,
        warmup=False,
        description="tiny data to test the harness itself (tests/test_benchmark_smoke.py)",
    ),
    "quick": Suite(
        name="quick",
        # The bundled size (identical to testdata/sim: default SimulationConfig) and 2x both ways.
        datasets=(Dataset(1000, 10_000), Dataset(2000, 20_000)),
        repeats=3,
        exact_snps=1000,
        budget_minutes=14,
        description="bundled size 1,000 x 10,000 and 2,000 x 20,000; 3 repeats",
    ),
    "full": Suite(
        name="full",
        # 5,000 samples would take ~30 min per round here (8 eigendecompositions for
        # --loco alone); run it with --sizes 5000x50000 --budget-minutes 0.
        datasets=(Dataset(1000, 50_000), Dataset(2000, 50_000), Dataset(4000, 50_000)),
        repeats=3,
        exact_snps=1000,
        budget_minutes=75,
        description="scaling series 1k, 2k, 4k samples x 50,000 SNPs; 3 repeats",
        bolt_reml=True,
    ),
}
