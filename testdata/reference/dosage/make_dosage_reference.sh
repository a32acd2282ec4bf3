#!/usr/bin/env bash
# GEMMA 0.98.5 on dosages, for tests/test_pgen.py (issue 14).  From the
# repository root:   bash testdata/reference/dosage/make_dosage_reference.sh
#
# 1. simulate dosages (make_dosage.py) and write them as VCF with DS;
# 2. plink2 --vcf dosage=DS --make-pgen  ->  dose.pgen/.pvar/.psam (committed);
# 3. the dosages plink2 stored (a 2^-14 grid) are read back with pgenlib alone
#    and written as a BIMBAM mean-genotype file, so that GEMMA sees exactly the
#    numbers gwaslmm reads from the .pgen (the VCF's 3-decimal values differ
#    from them by up to 3e-5, which moves p-values by ~3e-4 relative);
# 4. gemma -gk 1 (centered kinship) and gemma -lmm 4 with that kinship.
set -euo pipefail
HERE=testdata/reference/dosage
PY=${PY:-.venv/bin/python}
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-dosage-ref.XXXXXX)}
mkdir -p "$WORK"
"$PY" "$HERE/make_dosage.py" "$WORK"
plink2 --vcf "$WORK/dose.vcf" dosage=DS --make-pgen --threads 1 --out "$WORK/dose" > /dev/null
"$PY" - "$WORK" <<'PYEOF'
import sys
import numpy as np
import pgenlib
w = sys.argv[1]
ids, alt, ref = [], [], []
for ln in open(f"{w}/dose.pvar"):
    if ln.startswith("#"):
        continue
    f = ln.split("\t")
    ids.append(f[2]); ref.append(f[3]); alt.append(f[4].strip())
r = pgenlib.PgenReader(f"{w}/dose.pgen".encode())
n, m = r.get_raw_sample_ct(), r.get_variant_ct()
D = np.empty((m, n), dtype=np.float64)
r.read_dosages_range(0, m, D)
with open(f"{w}/bimbam_stored.geno", "w") as fh:
    for j in range(m):
        fh.write(f"{ids[j]}, {alt[j]}, {ref[j]}, " + ", ".join(repr(float(x)) for x in D[j]) + "\n")
PYEOF
( cd "$WORK" && OPENBLAS_NUM_THREADS=1 gemma -g bimbam_stored.geno -p bimbam.pheno -gk 1 -o k > /dev/null \
  && OPENBLAS_NUM_THREADS=1 gemma -g bimbam_stored.geno -p bimbam.pheno -k output/k.cXX.txt -lmm 4 -o l > /dev/null )
cp "$WORK/dose.pgen" "$WORK/dose.pvar" "$WORK/dose.psam" "$WORK/dose.pheno" "$HERE/"
gzip -n -9 -c "$WORK/output/k.cXX.txt" > "$HERE/gemma_gk1.cXX.txt.gz"
gzip -n -9 -c "$WORK/output/l.assoc.txt" > "$HERE/gemma_lmm4.assoc.txt.gz"
sed "s#$WORK#\$WORK#g" "$WORK/output/l.log.txt" > "$HERE/gemma_lmm4.log.txt"
{ date -u +%F; gemma 2>&1 | grep -m1 GEMMA || true; plink2 --version | head -1; } > "$HERE/versions.txt"
echo "wrote $HERE (scratch: $WORK)"
