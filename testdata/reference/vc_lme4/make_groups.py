#!/usr/bin/env python3
"""Simulate group-structured covariates and phenotypes for the lme4 reference.

    python3 testdata/reference/vc_lme4/make_groups.py      # from the repository root

Reads the sample IDs (columns 1-2) of testdata/sim.fam and writes, in .fam order,
groups.covar (FID IID x e household clinic group) and groups.pheno
(FID IID y_cross y_slope) beside this script.  numpy only, fixed seed.

  household : consecutive samples, household sizes cycling 2,3,4,3 (H0001, ...)
  clinic    : 15 clinics drawn at random, crossed with household (C01..C15)
  group     : 40 groups drawn at random (G01..G40)
  x, e      : N(0, 1)
  y_cross   = 1 + 0.5 x + u_household + v_clinic + eps,
              var(u) = 0.5, var(v) = 0.3, var(eps) = 1.0
  y_slope   = 1 + 0.5 e + a_group + b_group * e + eps,
              (a, b) ~ N(0, [[0.6, 0.2], [0.2, 0.3]]), var(eps) = 1.0
  10 of y_cross and 10 of y_slope (independently chosen) are set to NA.
Values are written with 6 decimals; the written values are the data.
"""
import os
import numpy as np

SEED = 20261125
HERE = os.path.dirname(os.path.abspath(__file__))
FAM = os.path.join(HERE, "..", "..", "sim.fam")


def main():
    ids = []
    with open(FAM) as fh:
        for line in fh:
            f = line.split()
            ids.append((f[0], f[1]))
    n = len(ids)
    rng = np.random.default_rng(SEED)

    # households: consecutive blocks, sizes cycling 2,3,4,3 (last one truncated)
    sizes = [2, 3, 4, 3]
    hh = np.empty(n, dtype=int)
    pos, k = 0, 0
    while pos < n:
        s = sizes[k % 4]
        hh[pos:pos + s] = k
        pos += s
        k += 1
    n_hh = k
    clinic = rng.integers(0, 15, size=n)
    group = rng.integers(0, 40, size=n)
    x = rng.standard_normal(n)
    e = rng.standard_normal(n)

    u = rng.normal(0.0, np.sqrt(0.5), size=n_hh)
    v = rng.normal(0.0, np.sqrt(0.3), size=15)
    y_cross = 1.0 + 0.5 * x + u[hh] + v[clinic] + rng.standard_normal(n)

    G = np.array([[0.6, 0.2], [0.2, 0.3]])
    ab = rng.multivariate_normal(np.zeros(2), G, size=40, method="cholesky")
    y_slope = (1.0 + 0.5 * e + ab[group, 0] + ab[group, 1] * e
               + rng.standard_normal(n))

    miss_c = rng.choice(n, size=10, replace=False)
    miss_s = rng.choice(n, size=10, replace=False)
    y_cross[miss_c] = np.nan
    y_slope[miss_s] = np.nan

    def fmt(val):
        return "NA" if np.isnan(val) else "%.6f" % val

    with open(os.path.join(HERE, "groups.covar"), "w") as fh:
        fh.write("FID\tIID\tx\te\thousehold\tclinic\tgroup\n")
        for i, (fid, iid) in enumerate(ids):
            fh.write("%s\t%s\t%.6f\t%.6f\tH%04d\tC%02d\tG%02d\n" % (
                fid, iid, x[i], e[i], hh[i] + 1, clinic[i] + 1, group[i] + 1))
    with open(os.path.join(HERE, "groups.pheno"), "w") as fh:
        fh.write("FID\tIID\ty_cross\ty_slope\n")
        for i, (fid, iid) in enumerate(ids):
            fh.write("%s\t%s\t%s\t%s\n" % (fid, iid, fmt(y_cross[i]), fmt(y_slope[i])))
    print("wrote groups.covar, groups.pheno: %d samples, %d households, "
          "%d NA y_cross, %d NA y_slope" % (n, n_hh, np.isnan(y_cross).sum(),
                                            np.isnan(y_slope).sum()))


if __name__ == "__main__":
    main()
