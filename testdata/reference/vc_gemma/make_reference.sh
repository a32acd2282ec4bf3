#!/usr/bin/env bash
# GEMMA 0.98.5 REML (AI) variance components with two kinships (-vc 2 -mk) on
# the bundled simulation.  From the repository root:
#     bash testdata/reference/vc_gemma/make_reference.sh
#
# 1. gwaslmm grm (standardized, float64 products as when these references were
#    made; grm multiplies in float32 by default since): K1 from chromosomes 1-4, K2 from
#    chromosomes 5-8, as GCTA binary GRMs in the scratch dir $WORK;
# 2. make_vc2.py simulates y = 1 + 0.3 c + g1 + g2 + e (s1 0.4, s2 0.3, se 0.3,
#    seed 20261127) and writes vc2.pheno / vc2.covar (+ .tsv) here and the GRMs
#    as GEMMA text matrices + the -mk list in $WORK (not committed, 13.6 MB each);
# 3. GEMMA, -p/-c/-mk only (no genotypes needed):
#      gemma -p vc2.pheno -c vc2.covar -mk kin_list.txt -vc 2 -noconstrain   <- the reference
#      gemma ... -vc 2                (default log-scale AI; stops on the se -> 0 boundary
#                                      far from the REML optimum on these data: kept as a warning)
#      gemma ... -vc 2 -noconstrain   with K1 replaced by 2 K1 + 0.5 (kinship-convention probe)
#    logs (output/<o>.log.txt) and stdout (iteration trace, HE start values) copied here;
# 4. check_dense.py: dense brute-force REML on the same GRMs -> dense_check.txt.
set -euo pipefail
HERE=testdata/reference/vc_gemma
PY=${PY:-.venv/bin/python}
GWASLMM=${GWASLMM:-.venv/bin/gwaslmm}
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-vc2-ref.XXXXXX)}
export OPENBLAS_NUM_THREADS=1  # GEMMA and numpy/scipy: one BLAS thread, reproducible bits, no oversubscription
mkdir -p "$WORK"
"$GWASLMM" grm --bfile testdata/sim --chr 1-4 --grm-dtype float64 --out "$WORK/k1" > /dev/null 2>&1
"$GWASLMM" grm --bfile testdata/sim --chr 5-8 --grm-dtype float64 --out "$WORK/k2" > /dev/null 2>&1
"$PY" "$HERE/make_vc2.py" "$WORK/k1" "$WORK/k2" "$WORK"
# convention probe: K1' = 2 K1 + 0.5 (every entry)
awk 'BEGIN{OFS="\t"} {for (i = 1; i <= NF; i++) $i = sprintf("%.9g", 2 * $i + 0.5); print}' \
    "$WORK/k1.txt" > "$WORK/k1x.txt"
printf '%s\n%s\n' "$WORK/k1x.txt" "$WORK/k2.txt" > "$WORK/kin_list_k1x.txt"

run_gemma() {  # out-name kin-list extra-args...
    local o=$1 mk=$2
    shift 2
    gemma -p "$HERE/vc2.pheno" -c "$HERE/vc2.covar" -mk "$mk" -vc 2 "$@" \
        -outdir "$WORK" -o "$o" > "$WORK/$o.stdout.txt" 2> "$WORK/$o.stderr.txt"
    sed "s#$WORK#\$WORK#g" "$WORK/$o.log.txt" > "$HERE/gemma_$o.log.txt"
    sed "s#$WORK#\$WORK#g" "$WORK/$o.stdout.txt" > "$HERE/gemma_$o.stdout.txt"
}
run_gemma vc2 "$WORK/kin_list.txt" -noconstrain
run_gemma vc2_default "$WORK/kin_list.txt"
run_gemma vc2_k1x "$WORK/kin_list_k1x.txt" -noconstrain

"$PY" "$HERE/check_dense.py" "$WORK/k1" "$WORK/k2" "$HERE" > /dev/null
{
    date -u +%F
    gemma 2>&1 | grep -m1 GEMMA || true
    "$GWASLMM" --version 2>&1 | head -1 || true
    "$PY" -c 'import sys, numpy, scipy; print("python", sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)'
} > "$HERE/versions.txt"
echo "wrote $HERE (scratch: $WORK)"
