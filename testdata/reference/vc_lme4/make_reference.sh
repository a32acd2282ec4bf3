#!/usr/bin/env bash
# Regenerate the lme4 REML reference for group random-effect models (testdata/reference/vc_lme4/).
#
#   bash testdata/reference/vc_lme4/make_reference.sh     # run from the repository root, ~2 min
#
# Needs: Rscript with lme4 (Debian: apt-get install -y r-base-core r-cran-lme4; this
# brings Matrix, minqa and nloptr), and a Python with numpy + scipy (PY=..., default
# .venv/bin/python, else python3).  BLAS is pinned to one thread; every output except
# the date line of versions.txt is reproduced byte for byte by a rerun.
set -euo pipefail

D=testdata/reference/vc_lme4
if [[ ! -f testdata/sim.fam || ! -d $D ]]; then
    echo "run from the repository root" >&2
    exit 1
fi
if ! command -v Rscript >/dev/null || ! Rscript -e 'quit(status = !requireNamespace("lme4", quietly = TRUE))' >/dev/null 2>&1; then
    echo "needs R with lme4: apt-get install -y r-base-core r-cran-lme4" >&2
    exit 1
fi
if [[ -z "${PY:-}" ]]; then
    if [[ -x .venv/bin/python ]]; then PY=.venv/bin/python; else PY=python3; fi
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1 LC_ALL=C

{
    echo "date: $(date -u +%Y-%m-%d)"
    echo "R: $(R --version | head -n 1)"
    Rscript -e 'for (p in c("lme4", "Matrix", "minqa", "nloptr")) cat(p, ": ", as.character(packageVersion(p)), "\n", sep = "")'
    echo "python: $($PY -c 'import sys, numpy, scipy; print(sys.version.split()[0], "numpy", numpy.__version__, "scipy", scipy.__version__)')"
} > "$D/versions.txt"
cat "$D/versions.txt"

# 1. data: groups.covar, groups.pheno (numpy, fixed seed)
"$PY" "$D/make_groups.py"

# 2. lme4 REML fits: lme4_fits.tsv, lme4_optimizer_check.tsv; console log fit_lme4.txt
Rscript "$D/fit_lme4.R" | tee "$D/fit_lme4.txt"

# 3. dense numpy/scipy check: dense_reml_optimum.tsv; console log check_dense.txt
"$PY" "$D/check_dense.py" | tee "$D/check_dense.txt"
