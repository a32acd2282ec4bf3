"""``--count-other-allele``: any genotype source with the other allele
counted (2 - x for every call or dosage; missing stays missing).

The effect and other allele swap, the effect-allele frequency becomes
1 - f, and imputation quality, missingness and monomorphism do not change;
so kinships, p-values and QC are the same and every beta changes sign
(tested).  One extra pass over each block (numpy), only when asked for.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .base import VariantInfo


class OtherAlleleSource:
    """A :class:`gwaslmm.genotypes.base.GenotypeSource` counting the allele
    ``inner`` does not."""

    def __init__(self, inner):
        self.inner = inner
        self.path = inner.path
        self.samples = inner.samples
        v: VariantInfo = inner.variants
        self.variants = replace(v, effect_allele=v.other_allele, other_allele=v.effect_allele)
        self.effect_allele_note = (f"the other allele than {inner.effect_allele_note} "
                                   f"(--count-other-allele)")
        self.info_kind = inner.info_kind
        self.notes = getattr(inner, "notes", ())
        self.format_note = getattr(inner, "format_note", None)

    def read_block(self, sample_idx, variant_idx, threads=None):
        blk = self.inner.read_block(sample_idx, variant_idx, threads=threads)
        G = blk.G
        if G.dtype == np.int8:
            flipped = np.asfortranarray(np.where(G >= 0, 2 - G, G).astype(np.int8))
        else:
            flipped = np.asfortranarray(2.0 - G, dtype=G.dtype)  # NaN stays NaN
        return replace(blk, G=flipped, allele_freq=1.0 - blk.allele_freq)

    def close(self):
        self.inner.close()
