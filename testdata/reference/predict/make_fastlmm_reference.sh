#!/usr/bin/env bash
# FaST-LMM's FastLMM fit/predict on the project's simulation with gwaslmm's
# kinship and covariates, for tests/test_predict.py (issue 18).  From the
# repository root, with fastlmm in its own environment (not a gwaslmm
# dependency):
#     python3 -m venv /tmp/flvenv && /tmp/flvenv/bin/pip install fastlmm==0.6.13
#     FASTLMM_PY=/tmp/flvenv/bin/python bash testdata/reference/predict/make_fastlmm_reference.sh
# Data: the first 400 samples of testdata/sim with trait, age and bmi all
# present; every 4th of them held out (its phenotype withheld).  The kinship
# is gwaslmm's standardized GRM of those 400 samples (fl.grm.*, committed:
# the test gives it to gwaslmm predict --grm), the same matrix FastLMM gets.
set -euo pipefail
HERE=testdata/reference/predict
GWASLMM=${GWASLMM:-.venv/bin/gwaslmm}
FASTLMM_PY=${FASTLMM_PY:-/tmp/flvenv/bin/python}
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-fastlmm-ref.XXXXXX)}
python3 - "$WORK" <<'PY'
import sys
w = sys.argv[1]
cov = {tuple(r[:2]): r for r in (l.split() for l in open("testdata/sim.covar"))}
ph = {tuple(r[:2]): r for r in (l.split() for l in open("testdata/sim.pheno"))}
keep = []
for line in open("testdata/sim.fam"):
    k = tuple(line.split()[:2])
    if k in cov and k in ph and "NA" not in cov[k][2:4] and ph[k][2] != "NA":
        keep.append(k)
    if len(keep) == 400:
        break
open(f"{w}/keep.txt", "w").write("".join(f"{a} {b}\n" for a, b in keep))
open(f"{w}/train.pheno", "w").write("FID IID trait\n" + "".join(
    f"{a} {b} {ph[(a, b)][2]}\n" for i, (a, b) in enumerate(keep) if i % 4))
open(f"{w}/covar.txt", "w").write("".join(f"{a} {b} {cov[(a, b)][2]} {cov[(a, b)][3]}\n"
                                          for a, b in keep))
PY
"$GWASLMM" grm --bfile testdata/sim --keep "$WORK/keep.txt" --out "$WORK/fl" > /dev/null 2>&1
cp "$WORK/fl.grm.bin" "$WORK/fl.grm.id" "$HERE/"
"$GWASLMM" predict --bfile testdata/sim --keep "$WORK/keep.txt" --grm "$HERE/fl" \
    --pheno "$WORK/train.pheno" --pheno-name trait --covar testdata/sim.covar \
    --covar-name age,bmi --out "$WORK/p" > /dev/null 2>&1
LAM=$(sed -n "s/.*lambda (REML) = \([0-9.e+-]*\) .*/\1/p" "$WORK/p.log" | head -1)
tail -n +2 "$WORK/train.pheno" > "$WORK/train.noheader"
"$FASTLMM_PY" "$HERE/fastlmm_predict.py" "$HERE/fl" "$WORK/train.noheader" "$WORK/covar.txt" \
    "$LAM" "$HERE/fastlmm.tsv"
cp "$WORK/keep.txt" "$HERE/fl.keep.txt"
cp "$WORK/train.pheno" "$HERE/fl.train.pheno"
"$FASTLMM_PY" -c "from importlib.metadata import version as v; print(*[f'{p} {v(p)}' for p in ('fastlmm', 'pysnptools', 'numpy', 'scipy')])" > "$HERE/fastlmm.versions.txt"
echo "wrote $HERE/fastlmm.tsv (scratch: $WORK)"
