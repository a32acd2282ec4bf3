"""FaST-LMM's FastLMM predictor (PyPI fastlmm) on gwaslmm's kinship, for
tests/test_predict.py (issue 18).  Run by make_fastlmm_reference.sh in a
virtual environment holding fastlmm (not a gwaslmm dependency):

    python fastlmm_predict.py GRM_PREFIX PHENO COVAR LAM_REML OUT.tsv

GRM_PREFIX: a GCTA binary GRM (gwaslmm grm) over training and held-out
samples; PHENO: FID IID value of the training samples; COVAR: FID IID age
bmi of every sample; LAM_REML: gwaslmm's estimate, printed beside FastLMM's
for the record.  FastLMM is fitted on the training samples (its own REML h2)
and predicts the held-out ones: X beta + lam K_*t (lam K_tt + I)^-1 (y - X beta).
"""

import sys

import numpy as np
from pysnptools.kernelreader import KernelData
from pysnptools.snpreader import SnpData

from importlib.metadata import version
from fastlmm.inference import FastLMM

prefix, pheno_path, covar_path, lam, out = sys.argv[1:6]
lam = float(lam)
ids = np.array([ln.split()[:2] for ln in open(prefix + ".grm.id")], dtype=str)
n = ids.shape[0]
tri = np.fromfile(prefix + ".grm.bin", dtype=np.float32).astype(np.float64)
K = np.zeros((n, n))
K[np.tril_indices(n)] = tri
K = K + np.tril(K, -1).T

ph = {tuple(r[:2]): float(r[2]) for r in (ln.split() for ln in open(pheno_path))}
cv = {tuple(r[:2]): [float(x) for x in r[2:4]] for r in (ln.split() for ln in open(covar_path))}
train = np.array([tuple(i) in ph for i in ids])
test = ~train
X = np.array([cv[tuple(i)] for i in ids])
y = np.array([ph[tuple(i)] for i in ids[train]]).reshape(-1, 1)

kt = KernelData(iid=ids[train], val=K[np.ix_(train, train)])
kall = KernelData(iid0=ids, iid1=ids[test], val=K[:, test])
xt = SnpData(iid=ids[train], sid=["age", "bmi"], val=X[train])
xs = SnpData(iid=ids[test], sid=["age", "bmi"], val=X[test])
yt = SnpData(iid=ids[train], sid=["trait"], val=y)

free = FastLMM().fit(X=xt, y=yt, K0_train=kt)
mean_free, _ = free.predict(X=xs, K0_whole_test=kall)
assert np.array_equal(mean_free.iid, ids[test])
# FastLMM's h2 is for its kernel rescaled to mean diagonal 1 (DiagKtoN):
# lambda = h2 / (1 - h2) / c, with c = n_t / tr(K_tt)
c = train.sum() / np.trace(K[np.ix_(train, train)])
lam_free = free.h2raw / (1.0 - free.h2raw) * c
with open(out, "w") as f:
    f.write(f"# fastlmm {version('fastlmm')}; lambda (its REML h2 {free.h2raw:.10g} on its rescaled "
            f"kernel) {lam_free:.10g}; gwaslmm's REML lambda {lam:.10g}\n")
    f.write("FID\tIID\tpredicted\n")
    for i, a in zip(ids[test], mean_free.val[:, 0]):
        f.write(f"{i[0]}\t{i[1]}\t{a:.12g}\n")
print(f"wrote {out}: {test.sum()} held-out samples; lambda {lam_free:.8g} (gwaslmm {lam:.8g})")
