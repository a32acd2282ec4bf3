#!/usr/bin/env bash
# PLINK 2 Firth logistic regression (--glm firth) on unrelated simulated
# samples, as a reference for gwaslmm's own Firth implementation (README.md
# beside this script says what the columns mean and how far to trust them).
#
#   bash testdata/reference/binary_firth/make_firth_reference.sh   # from the repository root, ~20 s
#
# 1. make_data.py writes firth.{bed,bim,fam,pheno,covar,causal.tsv} (seeded);
# 2. plink2 --glm firth on both phenotypes (case10: 75 cases, case03: 19 cases
#    of 600), covariates age and sex01 as given (raw, not standardized:
#    plink2's covariate-scale check passes), one thread, ONE RUN PER VARIANT
#    (--snp ID), concatenated in .bim order:
#    - plink2_firth.<pheno>.glm.firth: the SNP rows (hide-covar);
#    - plink2_firth_allterms.<pheno>.glm.firth.gz: every term of the same
#      fits (INTERCEPT, ADD, age, sex01), to check covariate estimates too.
#    Why one run per variant: in plink2 2.00a3.5 the fit of a variant with
#    missing calls can use stale values left in the vector padding by the
#    variant before it (rows of the .bim processed in one run); the single
#    run over all variants, kept as plink2_firth_batch.<pheno>.glm.firth,
#    shows it (README.md: 35-40 rows off by 0.1-70% in SE).  A variant run
#    alone starts from clean buffers.
#    'omit-ref' makes A1 the ALT allele, which for a .bed is the .bim column-5
#    allele (the project's effect allele); without it plink2 tests the
#    nonmajor allele, i.e. column 6 wherever column 5 is the more frequent.
#
# Needs plink2 (Debian package plink2) and .venv.  WORK=... chooses the scratch
# directory (default: a fresh mktemp -d under /tmp).  Outputs over 100 kB are
# written with gzip -n -9; the logs differ between runs (date, host, RAM,
# random seed), the result files do not.  Scratch paths in the logs are
# written as the literal $WORK.
set -euo pipefail

HERE=testdata/reference/binary_firth
if [[ ! -f $HERE/make_data.py ]]; then
    echo "run from the repository root" >&2
    exit 1
fi
PY=${PY:-.venv/bin/python}
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-firth-ref.XXXXXX)}
mkdir -p "$WORK/hide" "$WORK/all"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LC_ALL=C

"$PY" "$HERE/make_data.py"

COLS=chrom,pos,ref,alt,a1count,totallele,a1countcc,totallelecc,a1freq,test,nobs,beta,se,tz,p,err
BASE=(plink2 --bfile "$HERE/firth" --pheno "$HERE/firth.pheno" --covar "$HERE/firth.covar")
GLM_HIDE=(--glm firth omit-ref hide-covar "cols=$COLS" --threads 1)
GLM_ALL=(--glm firth omit-ref intercept "cols=$COLS" --threads 1)
PHENOS=(case10 case03)

# per-variant runs (the reference)
cut -f2 "$HERE/firth.bim" > "$WORK/ids.txt"
while read -r id; do
    "${BASE[@]}" "${GLM_HIDE[@]}" --snp "$id" --out "$WORK/hide/$id" > /dev/null 2>&1
    "${BASE[@]}" "${GLM_ALL[@]}" --snp "$id" --out "$WORK/all/$id" > /dev/null 2>&1
done < "$WORK/ids.txt"
first=$(head -n 1 "$WORK/ids.txt")
for kind in hide all; do
    for p in "${PHENOS[@]}"; do
        out=$WORK/plink2_firth$([[ $kind == all ]] && echo _allterms || true).$p.glm.firth
        head -n 1 "$WORK/$kind/$first.$p.glm.firth" > "$out"
        while read -r id; do
            tail -n +2 "$WORK/$kind/$id.$p.glm.firth" >> "$out"
        done < "$WORK/ids.txt"
    done
done
# the per-variant logs differ only in the --snp line (and dates, seeds); keep
# the first one of each kind, and every distinct warning of all of them
for kind in hide all; do
    name=plink2_firth$([[ $kind == all ]] && echo _allterms || true)
    {
        sed "s#$WORK#\$WORK#g" "$WORK/$kind/$first.log"
        echo "# --- distinct warnings over all $(wc -l < "$WORK/ids.txt") per-variant runs:"
        cat "$WORK/$kind"/*.log | awk '/^Warning/{w=$0; getline n; print w " " n}' | sort | uniq -c
    } > "$WORK/$name.log"
done

# one run over all variants (kept to document the plink2 2.00a3.5 issue)
"${BASE[@]}" "${GLM_HIDE[@]}" --out "$WORK/plink2_firth_batch" > /dev/null 2>&1

keep() {  # copy $1 to $HERE, gzipped when over 100 kB
    local f=$1 name
    name=$(basename "$f")
    rm -f "$HERE/$name" "$HERE/$name.gz"
    if (( $(stat -c %s "$f") > 100000 )); then
        gzip -n -9 -c "$f" > "$HERE/$name.gz"
    else
        cp "$f" "$HERE/$name"
    fi
}
for p in "${PHENOS[@]}"; do
    keep "$WORK/plink2_firth.$p.glm.firth"
    keep "$WORK/plink2_firth_allterms.$p.glm.firth"
    keep "$WORK/plink2_firth_batch.$p.glm.firth"
done
keep "$WORK/plink2_firth.log"
keep "$WORK/plink2_firth_allterms.log"
sed "s#$WORK#\$WORK#g" "$WORK/plink2_firth_batch.log" > "$HERE/plink2_firth_batch.log"

{
    echo "date: $(date -u +%Y-%m-%d)"
    echo "plink2: $(plink2 --version 2>&1 | head -n 1)"
    if command -v dpkg-query > /dev/null; then
        echo "debian package: $(dpkg-query -W -f '${Package} ${Version}' plink2 2>/dev/null || echo 'plink2 ?')"
    fi
    echo "python: $("$PY" -c 'import sys, numpy, scipy; print(sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)')"
    echo "commands (from the repository root; \$WORK = scratch directory, ID = each .bim ID in turn):"
    echo "  $PY $HERE/make_data.py"
    echo "  plink2_firth.*:          ${BASE[*]} ${GLM_HIDE[*]} --snp ID --out \$WORK/hide/ID"
    echo "  plink2_firth_allterms.*: ${BASE[*]} ${GLM_ALL[*]} --snp ID --out \$WORK/all/ID"
    echo "  plink2_firth_batch.*:    ${BASE[*]} ${GLM_HIDE[*]} --out \$WORK/plink2_firth_batch"
} > "$HERE/versions.txt"
cat "$HERE/versions.txt"
echo "wrote $HERE (scratch: $WORK)"
ls -l "$HERE"
