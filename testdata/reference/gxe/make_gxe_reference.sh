#!/usr/bin/env bash
# GEMMA 0.98.5 -gxe on the bundled simulation, for tests/test_gxe.py (issue 16).
# From the repository root:   bash testdata/reference/gxe/make_gxe_reference.sh
#
# 1. make_gxe.py writes gxe.pheno: the simulated trait plus two interactions
#    with standardized age on chromosome 8;
# 2. the kinship both tools use: gwaslmm's centered GRM of chromosome 8
#    (gemma -gk 1's definition), written as GEMMA text for GEMMA (the test
#    rebuilds the same GRM with the same command; the scan is what is compared);
# 3. chromosome 8 as a .bed with gxe_trait in the .fam, covariates
#    'intercept bmi' and the environment 'age' in GEMMA's column files
#    (GEMMA adds the environment and the SNP to its covariates itself);
# 4. gemma -lmm 1 -gxe: per SNP the Wald test of x*age with lambda re-estimated.
set -euo pipefail
HERE=testdata/reference/gxe
PY=${PY:-.venv/bin/python}
GWASLMM=${GWASLMM:-.venv/bin/gwaslmm}
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-gxe-ref.XXXXXX)}
mkdir -p "$WORK"
"$PY" "$HERE/make_gxe.py"
"$GWASLMM" grm --bfile testdata/sim --chr 8 --grm-type centered --out "$WORK/k" > /dev/null
plink2 --bfile testdata/sim --chr 8 --make-bed --out "$WORK/sim8" > /dev/null
"$PY" - "$WORK" "$HERE" <<'PYEOF'
import sys
import numpy as np
from gwaslmm.kinship_io import read_gcta_grm
w, here = sys.argv[1], sys.argv[2]
K = read_gcta_grm(f"{w}/k").K
np.savetxt(f"{w}/k.txt", K, fmt="%.9g", delimiter="\t")
ph = {tuple(l.split()[:2]): l.split()[2] for l in open(f"{here}/gxe.pheno").read().splitlines()[1:]}
cov = {}
for l in open("testdata/sim.covar").read().splitlines()[1:]:
    f = l.split()
    cov[(f[0], f[1])] = (f[2], f[3])
fam = [l.split() for l in open(f"{w}/sim8.fam").read().splitlines()]
with open(f"{w}/sim8.fam", "w") as fh, open(f"{w}/covar.txt", "w") as fc, open(f"{w}/env.txt", "w") as fe:
    for f in fam:
        k = (f[0], f[1])
        t = ph[k]
        fh.write(" ".join(f[:5] + ["-9" if t == "NA" else t]) + "\n")
        age, bmi = cov[k]
        fc.write(f"1 {bmi}\n")
        fe.write(f"{'0' if age == 'NA' else age}\n")
PYEOF
( cd "$WORK" && OPENBLAS_NUM_THREADS=1 gemma -bfile sim8 -k k.txt -c covar.txt -gxe env.txt -lmm 1 -o gxe > /dev/null )
gzip -n -9 -c "$WORK/output/gxe.assoc.txt" > "$HERE/gemma_gxe_lmm1.assoc.txt.gz"
sed "s#$WORK#\$WORK#g" "$WORK/output/gxe.log.txt" > "$HERE/gemma_gxe_lmm1.log.txt"
{ date -u +%F; gemma 2>&1 | grep -m1 GEMMA || true; plink2 --version | head -1; } > "$HERE/versions.txt"
echo "wrote $HERE (scratch: $WORK)"
