#!/usr/bin/env bash
# PLINK 2 Firth logistic regression (--glm firth) on unrelated simulated
# samples, as a reference for gwaslmm's own Firth implementation (README.md
# beside this script says what the columns mean and how far to trust them).
#
#   bash testdata/reference/binary_firth/make_firth_reference.sh     # from the repository root
#   PLINK2=/tmp/plink2-build/build_dynamic/plink2 \
#       bash testdata/reference/binary_firth/make_firth_reference.sh
#
# PLINK2 (default: plink2 on the PATH) chooses the binary.  Its version picks
# the output names:
#   - PLINK v2.00a* (before 2.0.0-a.4; Debian's 2.00a3.5), whose logistic and
#     Firth arithmetic is single precision: plink2_firth*;
#   - any later PLINK 2, which computes in double precision unless given the
#     'single-prec-cc' modifier (not given here): plink2d_firth*.
# PREFIX=... overrides the choice.
#
# 1. make_data.py writes firth.{bed,bim,fam,pheno,covar,causal.tsv} (seeded);
# 2. plink2 --glm firth on both phenotypes (case10: 75 cases, case03: 19 cases
#    of 600), covariates age and sex01 as given (raw, not standardized:
#    plink2's covariate-scale check passes), one thread, ONE RUN PER VARIANT
#    (--snp ID), concatenated in .bim order:
#    - $PREFIX.<pheno>.glm.firth: the SNP rows (hide-covar);
#    - ${PREFIX}_allterms.<pheno>.glm.firth.gz: every term of the same
#      fits (INTERCEPT, ADD, age, sex01), to check covariate estimates too.
#    Why one run per variant: in plink2 2.00a3.5 the fit of a variant with
#    missing calls can use stale values left in the vector padding by the
#    variant before it (rows of the .bim processed in one run); the single
#    run over all variants, kept as plink2_firth_batch.<pheno>.glm.firth,
#    shows it (README.md: 35-40 rows off by 0.1-70% in SE).  A variant run
#    alone starts from clean buffers.  For the double-precision build the
#    batch run is made too and compared with the per-variant result; it is
#    kept (as plink2d_firth_batch.*) only if it differs.
#    'omit-ref' makes A1 the ALT allele, which for a .bed is the .bim column-5
#    allele (the project's effect allele); without it plink2 tests the
#    nonmajor allele, i.e. column 6 wherever column 5 is the more frequent.
# 3. versions.txt: this binary's section (between '=== $PREFIX' lines) is
#    rewritten, the other binary's is kept.  BUILD_NOTE=... (free text, e.g.
#    the source commit and build commands of a self-built plink2) is copied
#    into the section.
#
# Needs plink2 and .venv.  WORK=... chooses the scratch directory (default: a
# fresh mktemp -d under /tmp).  Outputs over 100 kB are written with
# gzip -n -9; the logs differ between runs (date, host, RAM, random seed),
# the result files do not.  Scratch paths in the logs are written as the
# literal $WORK.
set -euo pipefail

HERE=testdata/reference/binary_firth
if [[ ! -f $HERE/make_data.py ]]; then
    echo "run from the repository root" >&2
    exit 1
fi
PY=${PY:-.venv/bin/python}
PLINK2=${PLINK2:-plink2}
VERSION=$("$PLINK2" --version 2>&1 | head -n 1)
if [[ -z ${PREFIX:-} ]]; then
    case $VERSION in
        "PLINK v2.00a"*) PREFIX=plink2_firth ;;
        "PLINK v2"*)     PREFIX=plink2d_firth ;;
        *) echo "not a PLINK 2 binary: $PLINK2 ($VERSION)" >&2; exit 1 ;;
    esac
fi
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm-firth-ref.XXXXXX)}
mkdir -p "$WORK/hide" "$WORK/all"
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LC_ALL=C

"$PY" "$HERE/make_data.py"

COLS=chrom,pos,ref,alt,a1count,totallele,a1countcc,totallelecc,a1freq,test,nobs,beta,se,tz,p,err
BASE=("$PLINK2" --bfile "$HERE/firth" --pheno "$HERE/firth.pheno" --covar "$HERE/firth.covar")
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
        out=$WORK/$PREFIX$([[ $kind == all ]] && echo _allterms || true).$p.glm.firth
        head -n 1 "$WORK/$kind/$first.$p.glm.firth" > "$out"
        while read -r id; do
            tail -n +2 "$WORK/$kind/$id.$p.glm.firth" >> "$out"
        done < "$WORK/ids.txt"
    done
done
# the per-variant logs differ only in the --snp line (and dates, seeds); keep
# the first one of each kind, and every distinct warning of all of them
for kind in hide all; do
    name=$PREFIX$([[ $kind == all ]] && echo _allterms || true)
    {
        sed "s#$WORK#\$WORK#g" "$WORK/$kind/$first.log"
        echo "# --- distinct warnings over all $(wc -l < "$WORK/ids.txt") per-variant runs:"
        cat "$WORK/$kind"/*.log | awk '/^Warning/{w=$0; getline n; print w " " n}' | sort | uniq -c
    } > "$WORK/$name.log"
done

# one run over all variants (documents the plink2 2.00a3.5 padding issue;
# for later builds, checks that it is gone)
"${BASE[@]}" "${GLM_HIDE[@]}" --out "$WORK/${PREFIX}_batch" > /dev/null 2>&1
batch_same=yes
for p in "${PHENOS[@]}"; do
    cmp -s "$WORK/$PREFIX.$p.glm.firth" "$WORK/${PREFIX}_batch.$p.glm.firth" || batch_same=no
done
keep_batch=yes
if [[ $PREFIX != plink2_firth && $batch_same == yes ]]; then
    keep_batch=no
fi

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
    keep "$WORK/$PREFIX.$p.glm.firth"
    keep "$WORK/${PREFIX}_allterms.$p.glm.firth"
    if [[ $keep_batch == yes ]]; then
        keep "$WORK/${PREFIX}_batch.$p.glm.firth"
    fi
done
keep "$WORK/$PREFIX.log"
keep "$WORK/${PREFIX}_allterms.log"
if [[ $keep_batch == yes ]]; then
    sed "s#$WORK#\$WORK#g" "$WORK/${PREFIX}_batch.log" > "$HERE/${PREFIX}_batch.log"
fi

{
    echo "=== $PREFIX.* and ${PREFIX}_allterms.*$([[ $keep_batch == yes ]] && echo " (and ${PREFIX}_batch.*)" || true)"
    echo "date: $(date -u +%Y-%m-%d)"
    echo "plink2: $VERSION"
    bin=$(command -v "$PLINK2")
    if [[ $bin == /usr/bin/* ]] && command -v dpkg-query > /dev/null; then
        echo "debian package: $(dpkg-query -W -f '${Package} ${Version}' plink2 2>/dev/null || echo 'plink2 ?')"
    else
        echo "binary: $bin"
    fi
    if [[ -n ${BUILD_NOTE:-} ]]; then
        printf '%s\n' "$BUILD_NOTE" | sed 's/^/  /;1s/^  /build:\n  /'
    fi
    echo "python: $("$PY" -c 'import sys, numpy, scipy; print(sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)')"
    echo "batch run over all variants identical to the per-variant runs: $batch_same"
    echo "commands (from the repository root; \$WORK = scratch directory, ID = each .bim ID in turn; PLINK2 = the binary above):"
    echo "  $PY $HERE/make_data.py"
    echo "  $PREFIX.*:          ${BASE[*]} ${GLM_HIDE[*]} --snp ID --out \$WORK/hide/ID" | sed "s#$PLINK2 #\$PLINK2 #"
    echo "  ${PREFIX}_allterms.*: ${BASE[*]} ${GLM_ALL[*]} --snp ID --out \$WORK/all/ID" | sed "s#$PLINK2 #\$PLINK2 #"
    echo "  ${PREFIX}_batch.*:    ${BASE[*]} ${GLM_HIDE[*]} --out \$WORK/${PREFIX}_batch" | sed "s#$PLINK2 #\$PLINK2 #"
} > "$WORK/versions.section"
# replace this prefix's section of versions.txt, keep the others
"$PY" - "$HERE/versions.txt" "$WORK/versions.section" "$PREFIX" <<'PYEOF'
import os, sys
path, new, prefix = sys.argv[1:]
sections, cur = [], None
if os.path.exists(path):
    for line in open(path):
        if line.startswith("=== "):
            cur = [line]
            sections.append(cur)
        elif cur is not None:
            cur.append(line)
head = f"=== {prefix}.* "
text = open(new).read()
out, done = [], False
for s in sections:
    if s[0].startswith(head):
        out.append(text)
        done = True
    else:
        out.append("".join(s))
if not done:
    out.append(text)
open(path, "w").write("\n".join(o.rstrip("\n") + "\n" for o in out))
PYEOF
cat "$HERE/versions.txt"
echo "batch run identical to the per-variant runs: $batch_same"
echo "wrote $HERE (scratch: $WORK)"
ls -l "$HERE"
