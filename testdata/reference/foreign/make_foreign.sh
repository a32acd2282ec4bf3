#!/usr/bin/env bash
# Regenerate the "foreign" result files in testdata/reference/foreign/: small,
# real association outputs of PLINK 2 (--glm) and BOLT-LMM, kept so that
# gwaslmm's `plot` command can be tested on their file formats (column names,
# separators, missing-value and p-value spellings).  GEMMA's format is covered
# by testdata/reference/gemma_lmm4.trait.assoc.txt.gz (make_reference.sh).
#
#   bash testdata/reference/foreign/make_foreign.sh     # run from the repository root, ~15 s
#
# Needs: plink2, bolt (Debian packages plink2, bolt-lmm), gzip, sed, head.
# WORK=... chooses the scratch directory (default: a fresh mktemp -d under /tmp).
#
# BLAS, plink2 and bolt are pinned to one thread and gzip runs with -n -9, so
# the .gz files are byte identical between runs; the logs differ (dates,
# timings; plink2 also logs hostname, RAM and a random seed).  The scratch
# path is written as the literal $WORK in the logs.
set -euo pipefail

if [[ ! -f testdata/sim.bed || ! -d testdata/reference ]]; then
    echo "run from the repository root" >&2
    exit 1
fi
OUT=testdata/reference/foreign
mkdir -p "$OUT"
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm_foreign.XXXXXX)}
mkdir -p "$WORK"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LC_ALL=C
echo "scratch directory: $WORK"

# header + this many data lines are kept of the BOLT .stats files
NKEEP=3000

# ---------------------------------------------------------------- versions
{
    echo "date: $(date -u +%Y-%m-%d)"
    echo "plink2: $(plink2 --version 2>&1 | head -n 1)"
    # bolt has no --version; its banner (printed on every run) holds it
    echo "bolt: $(bolt 2>&1 | sed -n 's/^ *| *\(BOLT-LMM, v[^/]*[^ /]\) .*/\1/p' | head -n 1)," \
         "$(bolt 2>&1 | sed -n '4s/^ *| *\([A-Z][a-z]* [0-9]*, [0-9]*\) .*/\1/p')," \
         "$(bolt 2>&1 | grep -m 1 '^Boost version')"
    echo "gemma: $(gemma 2>&1 | head -n 1)"
    if command -v dpkg-query > /dev/null; then
        for p in plink2 bolt-lmm gemma; do
            echo "debian package: $(dpkg-query -W -f '${Package} ${Version}' "$p" 2>/dev/null || echo "$p ?")"
        done
    fi
} > "$OUT/versions.txt"
cat "$OUT/versions.txt"

logclean() {  # scratch path -> literal $WORK
    sed "s#$WORK#\$WORK#g" "$1" > "$2"
}

# ------------------------------------------------------------ PLINK 2 --glm
# Quantitative trait (column 'trait' of sim.pheno), covariates age and bmi
# (batch left out), chromosomes 1-2 (2500 SNPs).  Default output keeps one row
# per SNP and term (TEST = ADD, age, bmi); hide-covar keeps the ADD rows only.
# Whole files are kept (about 170 KB and 60 KB gzipped).
for v in plain hidecovar; do
    if [[ $v == plain ]]; then name=plink2_glm; mod=(); else name=plink2_glm_hidecovar; mod=(hide-covar); fi
    plink2 --bfile testdata/sim \
        --pheno testdata/sim.pheno --pheno-name trait \
        --covar testdata/sim.covar --covar-name age bmi \
        --chr 1-2 --glm "${mod[@]}" --threads 1 \
        --out "$WORK/$name" > "$WORK/$name.stdout" 2>&1
    gzip -n -9 -c "$WORK/$name.trait.glm.linear" > "$OUT/$name.trait.glm.linear.gz"
    logclean "$WORK/$name.log" "$OUT/$name.log.txt"
done

# ------------------------------------------------------------------ BOLT-LMM
# All 10000 SNPs in the model (GRM) and tested; covariates: intercept (added
# by bolt), age, bmi, batch (categorical, bolt makes one indicator per level).
# --lmmInfOnly needs no LD scores; --lmm needs either --LDscoresFile or
# --LDscoresUseChip (it aborts otherwise), so both get --LDscoresUseChip (the
# --lmmInfOnly output is byte identical with and without it).  No --noMapCheck
# or sample-size option is needed for N = 987.  The .stats files hold all
# 10000 SNPs; only the header and the first $NKEEP data lines are kept.
for v in lmminf lmm; do
    if [[ $v == lmminf ]]; then mode=--lmmInfOnly; else mode=--lmm; fi
    bolt --bfile=testdata/sim \
        --phenoFile=testdata/sim.pheno --phenoCol=trait \
        --covarFile=testdata/sim.covar --qCovarCol=age --qCovarCol=bmi --covarCol=batch \
        $mode --LDscoresUseChip --numThreads=1 \
        --statsFile="$WORK/bolt_$v.trait.stats" > "$WORK/bolt_$v.trait.stdout" 2>&1
    head -n $((NKEEP + 1)) "$WORK/bolt_$v.trait.stats" | gzip -n -9 > "$OUT/bolt_$v.trait.stats.gz"
    logclean "$WORK/bolt_$v.trait.stdout" "$OUT/bolt_$v.trait.log.txt"
done

echo "done; foreign files:"
ls -l "$OUT"
for f in "$OUT"/*.gz; do
    echo "== $f ($(gzip -dc "$f" | wc -l) lines)"
    gzip -dc "$f" | sed -n '1,3p'   # (not head: SIGPIPE + pipefail)
done
