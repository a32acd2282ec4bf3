"""Per-variant designs: what a variant contributes to the tested model.

A design turns a block of genotypes X (n, m) into the columns tested per
variant: the additive model tests x itself; a gene-by-environment design
would test (x, x e), a within/between-family design (x - family mean,
family mean).  Scanners take a design and say which they support.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Additive:
    """y = W alpha + x beta + g + e: one tested column per variant, x itself."""

    terms: tuple = ("x",)

    def columns(self, X: np.ndarray) -> tuple:
        return (X,)


ADDITIVE = Additive()


def _wald(beta, se, df):
    from .pvalues import neglog10_f1

    with np.errstate(invalid="ignore", divide="ignore"):
        return neglog10_f1((beta / se) ** 2, df)


def joint_wald(b1, b2, s1, s2, cov, df: int) -> np.ndarray:
    """-log10 p of the 2-df Wald test of (b1, b2) = 0 with covariance
    [[s1^2, cov], [cov, s2^2]]: F = b' C^-1 b / 2 against F(2, df), whose
    tail is exactly (1 + 2F/df)^(-df/2)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        det = s1 * s1 * s2 * s2 - cov * cov
        q = (b1 * b1 * s2 * s2 - 2.0 * b1 * b2 * cov + b2 * b2 * s1 * s1) / det
        return 0.5 * df * np.log1p(q / df) / np.log(10.0)


def _result(keep, st, exact: bool, main: tuple, extra: dict):
    """A BlockResult from the two-column statistics st (m, 10): beta_u, se_u,
    beta_v, se_v, F_v, Q, lam, l_R, where, cov; ``main`` (beta, se, -log10 p)
    for the base columns."""
    from .base import BlockResult

    beta, se, nl = main
    with np.errstate(invalid="ignore", divide="ignore"):
        t = beta / se
    return BlockResult(keep=keep, beta=beta, se=se, t_stat=t, neglog10_p=nl, neglog10_p_wald=nl,
                       lambda_remle=st[:, 6] if exact else None,
                       logl_h1=st[:, 7] if exact else None,
                       n_boundary=int(np.sum(st[:, 8] > 0)) if exact else 0, extra=extra)


@dataclass(frozen=True, eq=False)
class GxE:
    """y = W alpha + x beta + (x e) delta + g + e: the variant's main effect x
    and its interaction with the environment e (n,) float64, a column of W
    (:mod:`gwaslmm.scan.pairs`).  Output: beta/standard_error the main effect,
    beta_gxe/se_gxe/p_gxe the interaction, which is the main test."""

    env: np.ndarray
    name: str = "e"
    joint: bool = False  # also the 2-df test of (beta, delta) = 0
    terms: tuple = ("x", "x*e")
    label: str = "gxe"

    @property
    def output_columns(self) -> tuple:
        return ("beta_gxe", "se_gxe", "p_gxe") + (("p_joint",) if self.joint else ())

    def columns(self, X: np.ndarray) -> tuple:
        return X, X * self.env[:, None]

    def result(self, keep, st: np.ndarray, df: int, exact: bool):
        nl = _wald(st[:, 2], st[:, 3], df)
        extra = {"beta_gxe": st[:, 2], "se_gxe": st[:, 3], "neglog10_p_gxe": nl}
        if self.joint:
            extra["neglog10_p_joint"] = joint_wald(st[:, 0], st[:, 2], st[:, 1], st[:, 3],
                                                   st[:, 9], df)
        return _result(keep, st, exact, (st[:, 0], st[:, 1], nl), extra)


@dataclass(frozen=True, eq=False)
class WithinBetween:
    """y = W alpha + (x - xbar_f) beta_w + xbar_f beta_b + g + e, xbar_f the
    mean of x over the sample's family (analysed samples): the within-family
    (direct) effect beta_w and the between-family effect beta_b
    (:mod:`gwaslmm.scan.pairs`).  family (n,) int64: each analysed sample's
    family index 0..n_families-1.  Output: beta/standard_error/p_value the
    direct effect; beta_between/se_between/p_between; beta_diff =
    beta_between - beta with se_diff and p_diff."""

    family: np.ndarray
    terms: tuple = ("x_within", "x_between")
    label: str = "within/between-family"
    output_columns: tuple = ("beta_between", "se_between", "p_between", "beta_diff", "se_diff",
                             "p_diff")

    def columns(self, X: np.ndarray) -> tuple:
        from .pair_kernels import family_means

        B = np.empty_like(X)
        n_fam = int(self.family.max()) + 1 if self.family.size else 0
        family_means(np.asfortranarray(X), self.family, n_fam, B)
        return X - B, B

    def result(self, keep, st: np.ndarray, df: int, exact: bool):
        bw, sw, bb, sb, cov = st[:, 0], st[:, 1], st[:, 2], st[:, 3], st[:, 9]
        with np.errstate(invalid="ignore"):
            sd = np.sqrt(sw * sw + sb * sb - 2.0 * cov)
        extra = {"beta_between": bb, "se_between": sb, "neglog10_p_between": _wald(bb, sb, df),
                 "beta_diff": bb - bw, "se_diff": sd, "neglog10_p_diff": _wald(bb - bw, sd, df)}
        return _result(keep, st, exact, (bw, sw, _wald(bw, sw, df)), extra)


def family_means_reference(X: np.ndarray, family: np.ndarray) -> np.ndarray:
    """Plain-numpy family means: out[i] = mean of X[j] over j in i's family."""
    n_fam = int(family.max()) + 1
    sums = np.zeros((n_fam, X.shape[1]))
    np.add.at(sums, family, X)
    return (sums / np.bincount(family, minlength=n_fam)[:, None])[family]
