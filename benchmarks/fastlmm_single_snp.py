"""Run FaST-LMM's single_snp the way the benchmark compares it with gwaslmm
``assoc --fast``; run with the FaST-LMM virtual environment's python:

    benchmarks/.venv-fastlmm/bin/python benchmarks/fastlmm_single_snp.py \
        BFILE PHENO COVAR OUT.tsv

BFILE is a PLINK prefix, PHENO ``FID IID value`` and COVAR ``FID IID c1 c2 ...``
(no header, complete cases only; FaST-LMM adds the intercept itself).  The
kinship is built by single_snp from every SNP of BFILE (K0 = test_snps,
standardized, as gwaslmm's default GRM) without leaving a chromosome out, so
the model is gwaslmm's ``assoc --fast``: variance ratio from the null model,
one GLS per SNP (Lippert et al. 2011, Nature Methods 8:833).  Writes
``SNP Chr ChrPos PValue SnpWeight SnpWeightSE Nullh2`` (tab-separated) and
prints the null h2.
"""

import sys


def main(argv):
    if len(argv) != 4:
        sys.exit("usage: fastlmm_single_snp.py BFILE PHENO COVAR OUT.tsv")
    bfile, pheno, covar, out = argv
    from fastlmm.association import single_snp
    from pysnptools.snpreader import Bed

    snps = Bed(bfile, count_A1=True)
    res = single_snp(test_snps=snps, pheno=pheno, covar=covar, leave_out_one_chrom=False,
                     count_A1=True)
    cols = [c for c in ("SNP", "Chr", "ChrPos", "PValue", "SnpWeight", "SnpWeightSE", "Nullh2")
            if c in res.columns]
    res[cols].to_csv(out, sep="\t", index=False)
    if "Nullh2" in res.columns:
        print(f"fastlmm null h2: {float(res['Nullh2'].iloc[0]):.6g}")


if __name__ == "__main__":
    main(sys.argv[1:])
