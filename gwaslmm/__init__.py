"""gwaslmm: genome-wide association with linear mixed models.

Pipeline stages, one module each:
genotypes (PLINK .bed reading), tables (phenotypes, covariates, sample and
variant lists), samples (the sample join), qc (variant filters), kinship
(GRM), eigen (eigendecomposition), nullmodel (REML/ML), scan (per-SNP tests),
output (result files).
"""

__version__ = "0.1.0"
