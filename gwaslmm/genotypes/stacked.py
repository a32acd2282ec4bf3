"""Two genotype files as one source: the samples of the first (the training
file of ``predict``) followed by those of the second (``--bfile-new`` /
``--pfile-new``), over the first file's variants that the second also has.

Variants are matched by ID; where the second file counts the other allele
of a variant (its alleles swapped) its calls are flipped (2 - x), and a
variant whose alleles differ otherwise, or whose ID the second file holds
more than once, is not shared.  Rows of a block come from whichever file
holds each sample; a block mixing hard calls (int8) with dosages is handed
on as float32 dosages.  Reading a variant that is not shared is an internal
error: callers keep to :attr:`StackedSource.shared`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..ids import positions, sample_keys
from .base import SampleInfo


@dataclass(frozen=True)
class VariantMatch:
    """How the second file's variants line up with the first's.

    index (m,) int64: the second file's variant for each of the first's, -1
    when not shared; flip (m,) bool: alleles swapped; counts of the first
    file's variants by outcome (absent, allele_mismatch, duplicated, flipped).
    """

    index: np.ndarray
    flip: np.ndarray
    absent: int
    allele_mismatch: int
    duplicated: int

    @property
    def shared(self) -> np.ndarray:
        return self.index >= 0


def match_variants(first, second) -> VariantMatch:
    """Match ``second``'s variants (VariantInfo) to ``first``'s by ID, then
    alleles (same order, or swapped)."""
    ids, counts = np.unique(second.id, return_counts=True)
    dup = set(ids[counts > 1].tolist())
    at = positions(second.id, first.id)  # first occurrence, -1 absent
    absent = at < 0
    is_dup = np.array([i in dup for i in first.id], dtype=bool) if dup else np.zeros(
        first.m, dtype=bool)
    j = np.where(absent, 0, at)
    ea, oa = second.effect_allele[j], second.other_allele[j]
    same = (ea == first.effect_allele) & (oa == first.other_allele)
    swapped = (ea == first.other_allele) & (oa == first.effect_allele) & ~same
    ok = ~absent & ~is_dup & (same | swapped)
    mismatch = ~absent & ~is_dup & ~(same | swapped)
    return VariantMatch(index=np.where(ok, at, -1), flip=ok & swapped,
                        absent=int(absent.sum()), allele_mismatch=int(mismatch.sum()),
                        duplicated=int((~absent & is_dup).sum()))


def _as_float(G: np.ndarray) -> np.ndarray:
    if G.dtype == np.int8:
        return np.where(G >= 0, G.astype(np.float32), np.float32(np.nan))
    return G.astype(np.float32, copy=False)


class StackedSource:
    """A :class:`gwaslmm.genotypes.base.GenotypeSource` over the samples of
    ``first`` then ``second`` and the variants of ``first`` (read only the
    :attr:`shared` ones)."""

    def __init__(self, first, second):
        a, b = first.samples, second.samples
        both = np.intersect1d(sample_keys(a.fid, a.iid), sample_keys(b.fid, b.iid))
        if both.size:
            raise InputError(f"{both.size} sample(s) are in both {a.source} and {b.source} "
                             f"(first: {both[0]}); a sample to predict from the second file "
                             f"must not be in the first")
        self.first, self.second = first, second
        self.n1 = a.n
        pad = tuple(np.concatenate([col, np.full(b.n, "-9", dtype=col.dtype)])
                    for col in a.phenotypes)
        self.samples = SampleInfo(fid=np.concatenate([a.fid, b.fid]),
                                  iid=np.concatenate([a.iid, b.iid]), phenotypes=pad,
                                  source=f"{a.source} + {b.source}")
        self.variants = first.variants
        self.match = match_variants(first.variants, second.variants)
        self.path = first.path
        self.effect_allele_note = first.effect_allele_note
        self.info_kind = first.info_kind if first.info_kind == second.info_kind else None
        self.notes = getattr(first, "notes", ())
        self.format_note = getattr(first, "format_note", None)

    @property
    def shared(self) -> np.ndarray:
        return self.match.shared

    def read_block(self, sample_idx, variant_idx, threads=None):
        from .dosage import dosage_block
        from .int8 import int8_block

        sample_idx = np.asarray(sample_idx, dtype=np.int64)
        variant_idx = np.asarray(variant_idx, dtype=np.int64)
        j2 = self.match.index[variant_idx]
        if (j2 < 0).any():
            raise InputError("a variant not shared by both genotype files was read (internal)")
        in1 = sample_idx < self.n1
        parts = []
        if in1.any():
            parts.append(self.first.read_block(sample_idx[in1], variant_idx, threads=threads).G)
        if (~in1).any():
            G2 = self.second.read_block(sample_idx[~in1] - self.n1, j2, threads=threads).G
            flip = self.match.flip[variant_idx]
            if flip.any():
                G2 = np.array(G2, order="F")
                sub = G2[:, flip]
                G2[:, flip] = (np.where(sub >= 0, 2 - sub, sub) if G2.dtype == np.int8
                               else 2.0 - sub)
            parts.append(G2)
        if len(parts) == 2 and parts[0].dtype != parts[1].dtype:
            parts = [_as_float(p) for p in parts]
        G = np.empty((sample_idx.size, variant_idx.size), dtype=parts[0].dtype, order="F")
        if len(parts) == 2:
            G[in1], G[~in1] = parts
        else:
            G[:] = parts[0]
        return int8_block(G) if G.dtype == np.int8 else dosage_block(G)

    def close(self):
        for s in (self.first, self.second):
            close = getattr(s, "close", None)
            if close is not None:
                close()
