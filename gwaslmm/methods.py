"""The one decision table: which null model and which scanner a scan uses.

A method is chosen by the trait type and the engine (``exact``: lambda
re-estimated per variant, GEMMA; ``fast``: lambda fixed at the null
estimate, EMMAX/FaST-LMM).  It says which tests it offers, whether the null
fit must keep the eigenvectors explicit (the exact scan rotates by them;
the fast scan needs them only factored), the precision of a kinship built
in the same run, and builds the scanner for a fitted null model.  Drivers
look pieces up here instead of branching on modes; new models (binary
traits, several variance components) add rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import UsageError
from .scan.designs import ADDITIVE


def _exact(model, test, design, precision, kinship):
    if len(design.terms) == 2:
        from .scan.pairs import PairExactScanner

        return PairExactScanner(model.spectrum, model.basis, model.fit, test, design, precision)
    from .scan.exact import ExactScanner

    return ExactScanner(model.spectrum, model.basis, model.fit, test, design, precision)


def _eigen_reml(spectrum, basis, y, name):
    from .nullmodel.eigen_reml import EigenNullModel

    return EigenNullModel.fit_phenotype(spectrum, basis, y, name)


def _exact_columns(test):
    from .scan.exact import COLUMNS

    return COLUMNS[test]


def _fast_columns(test):
    from .scan.fixed import COLUMNS

    return COLUMNS[test]


def _fast(model, test, design, precision, kinship):
    if len(design.terms) == 2:
        from .scan.pairs import PairFastScanner

        return PairFastScanner(model.spectrum, model.basis, model.fit, test, design, precision,
                               kinship=kinship)
    from .scan.fixed import WhitenedScanner

    return WhitenedScanner(model.spectrum, model.basis, model.fit, test, design, precision,
                           kinship=kinship)


@dataclass(frozen=True)
class Method:
    trait: str
    engine: str
    tests: tuple
    explicit_basis: bool
    kinship_precision: str
    build: Callable
    columns_of: Callable
    fit: Callable = _eigen_reml  # (spectrum, basis, y (n,), name) -> a fitted null model
    why_not: str = ""  # what to say when a test is not offered

    def check_test(self, test: str) -> None:
        if test not in self.tests:
            raise UsageError(f"--test {test} is not offered {self.why_not}: choose "
                             f"{' or '.join(self.tests)}")

    def null_model(self, spectrum, basis, y, name: str):
        """Fit the null model this method scans against."""
        return self.fit(spectrum, basis, y, name)

    def columns(self, test: str, design=ADDITIVE) -> tuple:
        """The optional output columns its scanner fills for ``test`` (and the
        per-variant design: a two-column design adds its own columns)."""
        self.check_test(test)
        if len(design.terms) == 2:
            from .scan.pairs import EXACT_COLUMNS

            return (EXACT_COLUMNS if self.engine == "exact" else ()) + design.output_columns
        return self.columns_of(test)

    def scanner(self, model, test: str, design=ADDITIVE, precision: str = "float64",
                kinship=None):
        """The scanner for a fitted null model; ``kinship`` (n, n) float64 is
        used (and overwritten) where it makes the scanner cheaper to build."""
        self.check_test(test)
        return self.build(model, test, design, precision, kinship)


METHODS = {
    ("quantitative", "exact"): Method(
        trait="quantitative", engine="exact", tests=("wald", "lrt", "score", "all"),
        explicit_basis=True, kinship_precision="float64", build=_exact,
        columns_of=_exact_columns),
    ("quantitative", "fast"): Method(
        trait="quantitative", engine="fast", tests=("wald", "score"), explicit_basis=False,
        kinship_precision="float32", build=_fast, columns_of=_fast_columns,
        why_not="by --fast, which fixes lambda at the null estimate (the likelihood-ratio "
                "test needs the exact mode)"),
}


def _binary_columns(test):
    from .scan.binary import BINARY_COLUMNS

    return BINARY_COLUMNS


def _no_scanner(*_):
    raise TypeError("binary and CG scanners are made with their null models "
                    "(gwaslmm.drivers.binary.binary_models, gwaslmm.drivers.cg.cg_models)")


METHODS[("binary", "score")] = Method(
    trait="binary", engine="score", tests=("score",), explicit_basis=False,
    kinship_precision="float32", build=_no_scanner, columns_of=_binary_columns,
    why_not="with --binary, which tests by the score test against the logistic mixed model "
            "with saddlepoint p-values")


def _cg_columns(test):
    from .scan.calibrated import COLUMNS

    return COLUMNS[test]


METHODS[("quantitative", "cg")] = Method(
    trait="quantitative", engine="cg", tests=("wald", "score"), explicit_basis=False,
    kinship_precision="float32", build=_no_scanner, columns_of=_cg_columns,
    why_not="by --engine cg, which fixes the variance ratio at the null estimate (like --fast)")


def method_for(trait: str, engine: str) -> Method:
    try:
        return METHODS[(trait, engine)]
    except KeyError:
        raise UsageError(f"no method for a {trait} trait with the {engine} engine") from None
