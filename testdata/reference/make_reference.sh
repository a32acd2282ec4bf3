#!/usr/bin/env bash
# Regenerate the GEMMA / PLINK 2 reference outputs in testdata/reference/.
#
#   bash testdata/reference/make_reference.sh          # run from the repository root
#
# Needs: gemma (0.98.5), plink2, gzip, awk, and a Python with numpy (+ the
# gwaslmm package importable from the repo root) for the "complete" dataset.
# Set PY=... to choose the Python (default .venv/bin/python, else python3) and
# WORK=... to choose the scratch directory for the big intermediates (default:
# a fresh mktemp -d under /tmp; it is kept so the full .cXX.txt can be reused).
#
# Everything numeric is deterministic: BLAS and plink2 are pinned to 1 thread
# and gzip is run with -n (no name/timestamp), so the .gz files are byte
# identical between runs.  Only the GEMMA/PLINK logs differ (date, timings,
# hostname, RAM and random seed reported by plink2; the scratch path is written
# as the literal $WORK).  At the end, verify_reference.py (numpy, bed-reader)
# re-derives the conventions and writes verification.txt.
set -euo pipefail

if [[ ! -f testdata/sim.bed || ! -d testdata/reference ]]; then
    echo "run from the repository root" >&2
    exit 1
fi
REF=testdata/reference
WORK=${WORK:-$(mktemp -d /tmp/gwaslmm_reference.XXXXXX)}
mkdir -p "$WORK"
if [[ -z "${PY:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LC_ALL=C
echo "scratch directory: $WORK"

# ---------------------------------------------------------------- versions
{
    echo "date: $(date -u +%Y-%m-%d)"
    echo "gemma: $(gemma 2>&1 | head -n 1)"
    echo "plink2: $(plink2 --version 2>&1 | head -n 1)"
    echo "python: $($PY -c 'import sys, numpy; print(sys.version.split()[0], "numpy", numpy.__version__)')"
} > "$REF/versions.txt"
cat "$REF/versions.txt"

# ------------------------------------------- GEMMA covariate / phenotype files
# sim.gemma_covar.txt : .fam order, no header, columns
#     1  age  bmi  batch_b2  batch_b3      (b1 = baseline; NA where missing;
#     a missing batch gives NA in both dummies)
# sim.gemma_trait2.txt: .fam order, one column = trait2 from sim.pheno, NA missing
# ones (scratch)      : 1000 lines of "1" (every sample "analysed" for -gk)
"$PY" - "$REF" "$WORK" <<'EOF'
import sys
ref, work = sys.argv[1], sys.argv[2]

def table(path):
    with open(path) as fh:
        head = fh.readline().split()
        return {tuple(r[:2]): dict(zip(head, r)) for r in (l.split() for l in fh) if r}

fam = [tuple(l.split()[:2]) for l in open("testdata/sim.fam") if l.strip()]
cov = table("testdata/sim.covar")
phe = table("testdata/sim.pheno")
NA = {"NA", "", "-9"}
with open(f"{ref}/sim.gemma_covar.txt", "w") as fh:
    for key in fam:
        r = cov[key]
        b = r["batch"]
        if b in NA:
            d2 = d3 = "NA"
        else:
            assert b in ("b1", "b2", "b3"), b
            d2, d3 = ("1" if b == "b2" else "0"), ("1" if b == "b3" else "0")
        age = "NA" if r["age"] in NA else r["age"]
        bmi = "NA" if r["bmi"] in NA else r["bmi"]
        fh.write(" ".join(["1", age, bmi, d2, d3]) + "\n")
with open(f"{ref}/sim.gemma_trait2.txt", "w") as fh:
    for key in fam:
        v = phe[key]["trait2"]
        fh.write(("NA" if v in NA else v) + "\n")
with open(f"{work}/ones.txt", "w") as fh:
    fh.write("1\n" * len(fam))
EOF

# ------------------------------------------------------ GEMMA kinship (-gk 1)
# -p ones.txt makes all 1000 samples "analysed" so the SNP filters (-maf 0.01,
# -miss 0.05 defaults) use all samples (centring uses all .fam samples anyway).
gemma -bfile testdata/sim -p "$WORK/ones.txt" -gk 1 -outdir "$WORK" -o gemma_gk1 \
    > "$WORK/gemma_gk1.stdout" 2>&1
KIN="$WORK/gemma_gk1.cXX.txt"
head -n 100 "$KIN" | gzip -n -9 > "$REF/gemma_gk1.rows0-99.txt.gz"
awk '{print $NR}' "$KIN" > "$REF/gemma_gk1.diag.txt"
# logs: the scratch path is replaced by the literal string $WORK
sed "s#$WORK#\$WORK#g" "$WORK/gemma_gk1.log.txt" > "$REF/gemma_gk1.log.txt"

# ------------------------------------------------ GEMMA association (-lmm 4)
gemma -bfile testdata/sim -k "$KIN" -c "$REF/sim.gemma_covar.txt" -n 1 -lmm 4 \
    -outdir "$WORK" -o gemma_lmm4.trait > "$WORK/gemma_lmm4.trait.stdout" 2>&1
gemma -bfile testdata/sim -p "$REF/sim.gemma_trait2.txt" -k "$KIN" \
    -c "$REF/sim.gemma_covar.txt" -n 1 -lmm 4 \
    -outdir "$WORK" -o gemma_lmm4.trait2 > "$WORK/gemma_lmm4.trait2.stdout" 2>&1
for t in trait trait2; do
    gzip -n -9 -c "$WORK/gemma_lmm4.$t.assoc.txt" > "$REF/gemma_lmm4.$t.assoc.txt.gz"
    sed "s#$WORK#\$WORK#g" "$WORK/gemma_lmm4.$t.log.txt" > "$REF/gemma_lmm4.$t.log.txt"
done

# ---------------------------------------- complete dataset + plink2 --make-rel
"$PY" - "$REF" <<'EOF'
import sys
import numpy as np
sys.path.insert(0, ".")
from gwaslmm.genotypes import write_plink
from gwaslmm.simulate import SimulationConfig, simulate
cfg = SimulationConfig(n_samples=200, n_snps=2000, n_chromosomes=4, missing_rate=0.0,
                       trios_per_pop=3, sibpairs_per_pop=3, n_polygenic=50,
                       causal_chromosomes=2, n_missing_pheno=0, n_missing_covar=0, seed=11)
d = simulate(cfg)
assert (d.genotypes >= 0).all()
m = d.genotypes.shape[1]
write_plink(f"{sys.argv[1]}/complete", d.genotypes, d.fid, d.iid, d.father, d.mother, d.sex,
            d.phenotypes["trait"], d.chromosome, d.snp_id, np.zeros(m), d.bp_position,
            d.allele_1, d.allele_2)
EOF
plink2 --bfile "$REF/complete" --make-rel square --threads 1 --out "$WORK/plink2_rel" \
    > "$WORK/plink2_rel.stdout" 2>&1
gzip -n -9 -c "$WORK/plink2_rel.rel" > "$REF/plink2_rel.complete.rel.gz"
cp "$WORK/plink2_rel.rel.id" "$REF/plink2_rel.complete.rel.id"
sed "s#$WORK#\$WORK#g" "$WORK/plink2_rel.log" > "$REF/plink2_rel.complete.log"

# ------------------------------------------------------------ numpy checks
if "$PY" -c 'import bed_reader' 2>/dev/null; then
    "$PY" "$REF/verify_reference.py" > "$REF/verification.txt"
    cat "$REF/verification.txt"
else
    echo "bed_reader not importable by $PY: skipped verify_reference.py" >&2
fi

echo "done; reference files:"
ls -l "$REF"
