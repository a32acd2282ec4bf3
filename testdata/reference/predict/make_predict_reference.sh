#!/usr/bin/env bash
# plink2 --score on gwaslmm predict's SNP effects, for tests/test_predict.py
# (issue 18).  From the repository root:
#     bash testdata/reference/predict/make_predict_reference.sh
# gwaslmm predict fits the null model of 'trait' (covariates age, bmi) on the
# bundled simulation and writes OUT.snp_effects.tsv (variant_id,
# effect_allele, weight, ...); plink2 sums weight x effect-allele count per
# sample (SCORE1_SUM), which the test correlates with gwaslmm's genetic values.
set -euo pipefail
HERE=testdata/reference/predict
GWASLMM=${GWASLMM:-.venv/bin/gwaslmm}
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-predict-ref.XXXXXX)}
"$GWASLMM" predict --bfile testdata/sim --pheno testdata/sim.pheno --pheno-name trait \
    --covar testdata/sim.covar --covar-name age,bmi --out "$WORK/p" > /dev/null
plink2 --threads 1 --bfile testdata/sim --score "$WORK/p.snp_effects.tsv" 1 2 3 header \
    cols=+scoresums --out "$WORK/s" > /dev/null
cp "$WORK/s.sscore" "$HERE/plink2.sscore"
{ date -u +%F; plink2 --version | head -1; } > "$HERE/versions.txt"
echo "wrote $HERE (scratch: $WORK)"
