"""A gene-by-environment phenotype on the bundled simulation (issue 16).

gxe_trait = trait + 0.5 x_j e + 0.25 x_k e, with e = (age - mean) / sd over
the samples with a trait, x_j and x_k the A1 counts of two chromosome-8
variants (missing calls at the mean), so the scan has interactions to find;
the samples with a missing trait or age are missing.  Writes gxe.pheno
('FID IID gxe_trait') beside this script.

    python testdata/reference/gxe/make_gxe.py
"""

import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
sys.path.insert(0, ROOT)

from gwaslmm.genotypes.plink1 import BedFile  # noqa: E402

SIM = os.path.join(ROOT, "testdata", "sim")
CAUSAL = {"rs8_20802863": 0.5, "rs8_72197374": 0.25}


def main() -> None:
    bed = BedFile(SIM)
    ids = bed.variants.id.tolist()
    cols = [ids.index(v) for v in CAUSAL]
    G = bed.read_block(None, np.array(cols)).G.astype(float)
    for j in range(G.shape[1]):
        miss = G[:, j] < 0
        G[miss, j] = G[~miss, j].mean()
    ph = {}
    for ln in open(SIM + ".pheno").read().splitlines()[1:]:
        f = ln.split()
        ph[(f[0], f[1])] = f[2]
    age = {}
    for ln in open(SIM + ".covar").read().splitlines()[1:]:
        f = ln.split()
        age[(f[0], f[1])] = float("nan") if f[2] == "NA" else float(f[2])
    keys = list(zip(bed.samples.fid.tolist(), bed.samples.iid.tolist()))
    have = [k for k in keys if ph.get(k, "NA") not in ("NA", "-9") and np.isfinite(age[k])]
    a = np.array([age[k] for k in have])
    mu, sd = a.mean(), a.std()
    with open(os.path.join(HERE, "gxe.pheno"), "w") as fh:
        fh.write("FID\tIID\tgxe_trait\n")
        for i, k in enumerate(keys):
            t = ph.get(k, "NA")
            if t in ("NA", "-9") or not np.isfinite(age[k]):
                fh.write(f"{k[0]}\t{k[1]}\tNA\n")
                continue
            e = (age[k] - mu) / sd
            v = float(t) + sum(b * G[i, j] * e for j, b in enumerate(CAUSAL.values()))
            fh.write(f"{k[0]}\t{k[1]}\t{v:.6f}\n")


if __name__ == "__main__":
    main()
