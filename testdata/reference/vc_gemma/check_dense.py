"""Dense brute-force REML for the two-kinship model, checked against GEMMA.

    python check_dense.py K1_PREFIX K2_PREFIX [DIR]

K1_PREFIX / K2_PREFIX: the GCTA GRMs given to make_vc2.py; DIR (default:
this script's folder) holds vc2.pheno, vc2.covar and GEMMA's logs
gemma_vc2.log.txt (-noconstrain), gemma_vc2_default.log.txt (default,
log-scale) and gemma_vc2_k1x.log.txt (-noconstrain, K1 replaced by 2 K1 + 0.5).
numpy + scipy only.  Writes DIR/dense_check.txt and prints it.

Model: y = X b + g1 + g2 + e, V = s1 K1 + s2 K2 + se I, X = [1, c] (n = 1000,
p = 2).  REML log-likelihood (Cholesky of V, O(n^3) per evaluation)

    l = -1/2 [(n-p) log 2pi + log|V| + log|X'V^-1 X| + r'V^-1 r],
    r = y - X b_GLS,

maximized over t = log(s) with scipy.optimize.minimize (BFGS, analytic
gradient dl/dt_k = s_k/2 [y'P K_k P y - tr(P K_k)], gtol 1e-7) from five
starts, then polished by Fisher-scoring / average-information steps on the
natural scale until the largest |score| < 1e-9.  Standard errors as GEMMA
computes them: sqrt(diag(AI^-1)), AI_jk = 1/2 y'P K_j P K_k P y (K_3 = I);
pve_k = tau_k s_k / (tau_1 s1 + tau_2 s2 + se), tau_k = trace(C K_k C)/n with
C = I - 11'/n, its SE by the delta method with AI^-1.
"""

import os
import re
import sys

import numpy as np
from scipy.linalg import cho_factor, cho_solve
from scipy.optimize import minimize

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from make_vc2 import read_grm  # noqa: E402


class Reml:
    def __init__(self, Ks, X, y):
        self.Ks = list(Ks) + [np.eye(len(y))]
        self.X, self.y = X, y
        self.n, self.p = X.shape

    def parts(self, s):
        V = sum(si * Ki for si, Ki in zip(s, self.Ks))
        cf = cho_factor(V, lower=True)
        logdetV = 2.0 * np.sum(np.log(np.diag(cf[0])))
        ViX = cho_solve(cf, self.X)
        Viy = cho_solve(cf, self.y)
        XViX = self.X.T @ ViX
        cx = cho_factor(XViX)
        b = cho_solve(cx, self.X.T @ Viy)
        Py = Viy - ViX @ b
        logdetXViX = 2.0 * np.sum(np.log(np.diag(cx[0])))
        rVr = float(self.y @ Py)  # r'V^-1 r = y'Py
        ll = -0.5 * ((self.n - self.p) * np.log(2 * np.pi) + logdetV + logdetXViX + rVr)
        return ll, cf, ViX, cx, Py, b

    def loglik(self, s):
        return self.parts(s)[0]

    def P(self, cf, ViX, cx):
        Vi = cho_solve(cf, np.eye(self.n))
        return Vi - ViX @ cho_solve(cx, ViX.T)

    def score_ai(self, s):
        ll, cf, ViX, cx, Py, b = self.parts(s)
        P = self.P(cf, ViX, cx)
        KPy = [K @ Py for K in self.Ks]
        PKPy = [P @ v for v in KPy]
        score = np.array([0.5 * (v @ Py - np.sum(P * K)) for v, K in zip(KPy, self.Ks)])
        ai = 0.5 * np.array([[a @ c for c in PKPy] for a in KPy])
        return ll, score, ai, b

    def fg_log(self, t):
        s = np.exp(t)
        ll, score, _, _ = self.score_ai(s)
        return -ll, -(score * s)


def parse_log(path):
    out = {}
    for ln in open(path).read().splitlines():
        m = re.match(r"## (pve estimates|se\(pve\)|total pve|se\(total pve\)|sigma2 estimates|se\(sigma2\)) =(.*)", ln)
        if m:
            out[m.group(1)] = np.array([float(v) for v in m.group(2).split()])
    return out


def main():
    if len(sys.argv) not in (3, 4):
        raise SystemExit(__doc__)
    d = sys.argv[3] if len(sys.argv) == 4 else HERE
    _, K1 = read_grm(sys.argv[1])
    _, K2 = read_grm(sys.argv[2])
    y = np.loadtxt(os.path.join(d, "vc2.pheno"))
    X = np.loadtxt(os.path.join(d, "vc2.covar"))
    n = len(y)
    C = np.eye(n) - 1.0 / n
    tau = np.array([np.trace(C @ K @ C) / n for K in (K1, K2)])
    mdiag = np.array([np.mean(np.diag(K)) for K in (K1, K2)])
    rowsum = max(np.abs(K1.sum(1)).max(), np.abs(K2.sum(1)).max())
    model = Reml([K1, K2], X, y)

    lines = []
    w = lines.append
    w("# dense REML (numpy/scipy, O(n^3)) vs GEMMA 0.98.5 -vc 2 -mk, two kinships")
    w(f"n = {n}, covariates = intercept + c (p = {X.shape[1]})")
    w("K1 = GRM chr 1-4, K2 = GRM chr 5-8 (gwaslmm grm, standardized, float32 as stored)")
    w(f"mean diag K1, K2          = {mdiag[0]:.9f} {mdiag[1]:.9f}")
    w(f"trace(C K C)/n K1, K2     = {tau[0]:.9f} {tau[1]:.9f}   (GEMMA's v_traceG; C = I - 11'/n)")
    w(f"max |row sum| of K1, K2   = {rowsum:.3g}  (the GRMs are already centred)")
    w("")
    w("## multi-start BFGS on log(s1, s2, se), analytic gradient")
    starts = [(0.4, 0.3, 0.3), (1.0, 1.0, 1.0), (0.05, 0.05, 1.0), (1.0, 0.05, 0.05), (0.05, 1.0, 0.05)]
    best = None
    for s0 in starts:
        r = minimize(model.fg_log, np.log(s0), jac=True, method="BFGS",
                     options=dict(gtol=1e-7, maxiter=1000))
        s = np.exp(r.x)
        w(f"start {s0}: s = {s[0]:.6f} {s[1]:.6f} {s[2]:.6f}  logL = {-r.fun:.6f}")
        if best is None or -r.fun > best[1]:
            best = (s, -r.fun)
    s = best[0].copy()
    for it in range(50):  # AI / Fisher-scoring polish on the natural scale
        ll, score, ai, b = model.score_ai(s)
        if np.max(np.abs(score)) < 1e-9:
            break
        s = s + np.linalg.solve(ai, score)
    ll, score, ai, b = model.score_ai(s)
    aiinv = np.linalg.inv(ai)
    se_s = np.sqrt(np.diag(aiinv))
    tot = tau @ s[:2] + s[2]
    pve = tau * s[:2] / tot
    # d pve_k / d s_j
    J = np.zeros((3, 3))
    for k in range(2):
        for j in range(3):
            dt = tau[j] if j < 2 else 1.0
            J[k, j] = ((tau[k] if j == k else 0.0) * tot - tau[k] * s[k] * dt) / tot**2
    J[2] = J[0] + J[1]
    se_pve = np.sqrt(np.diag(J @ aiinv @ J.T))
    w("")
    w("## dense REML optimum (after AI polish)")
    w(f"sigma2 (s1 s2 se)         = {s[0]:.10g} {s[1]:.10g} {s[2]:.10g}")
    w(f"se(sigma2) = sqrt(diag AI^-1) = {se_s[0]:.10g} {se_s[1]:.10g} {se_s[2]:.10g}")
    w(f"pve (K1 K2), total        = {pve[0]:.10g} {pve[1]:.10g} {pve.sum():.10g}")
    w(f"se(pve) (K1 K2), total    = {se_pve[0]:.10g} {se_pve[1]:.10g} {se_pve[2]:.10g}")
    w(f"REML logL                 = {ll:.10f}   (including the -(n-p)/2 log 2pi term)")
    w(f"beta (intercept, c)       = {b[0]:.10g} {b[1]:.10g}")
    w(f"max |dl/ds| at optimum    {'< 1e-9' if np.max(np.abs(score)) < 1e-9 else '= %.3g' % np.max(np.abs(score))}")
    w("")

    def compare(tag, g, ref):
        rel = np.abs(g - ref) / np.abs(ref)
        w(f"{tag:<26}= GEMMA {' '.join(f'{v:.6g}' for v in g)} | dense {' '.join(f'{v:.6g}' for v in ref)} | rel diff {' '.join(f'{v:.1e}' for v in rel)}")
        return rel.max()

    g = parse_log(os.path.join(d, "gemma_vc2.log.txt"))
    w("## GEMMA -vc 2 -noconstrain (gemma_vc2.log.txt; GEMMA prints 6 significant digits)")
    worst = max(
        compare("sigma2", g["sigma2 estimates"], s),
        compare("se(sigma2)", g["se(sigma2)"], se_s),
        compare("pve", g["pve estimates"], pve),
        compare("se(pve)", g["se(pve)"], se_pve[:2]),
        compare("total pve, se", np.r_[g["total pve"], g["se(total pve)"]], np.r_[pve.sum(), se_pve[2]]),
    )
    w(f"largest relative difference: {worst:.2e}")
    w(f"dense REML logL at GEMMA's printed sigma2: {model.loglik(g['sigma2 estimates']):.9f} (optimum {ll:.9f})")
    w("")

    g0 = parse_log(os.path.join(d, "gemma_vc2_default.log.txt"))
    s0 = g0["sigma2 estimates"]
    w("## GEMMA -vc 2 default, log-scale parameters (gemma_vc2_default.log.txt): NOT the REML optimum")
    w(f"GEMMA sigma2              = {' '.join(f'{v:.6g}' for v in s0)}")
    w(f"dense REML logL there     = {model.loglik(s0):.6f}  (optimum {ll:.6f}, "
      f"difference {model.loglik(s0) - ll:.4f})")
    w("GEMMA solves s_k * dl/ds_k = 0 (gsl hybridsj, stop when sum |.| < 1e-3); s_e -> 0 drives the")
    w("s_e component to 0 whatever dl/ds_e is, so the solver stops on the boundary, far from the optimum.")
    w("")

    g1 = parse_log(os.path.join(d, "gemma_vc2_k1x.log.txt"))
    w("## kinship convention: GEMMA -noconstrain with K1 replaced by 2 K1 + 0.5 (gemma_vc2_k1x.log.txt)")
    w("expected if GEMMA centres (C K C) and does not rescale: s1/2, s2, se unchanged; pve unchanged")
    compare("sigma2", g1["sigma2 estimates"], s * np.array([0.5, 1.0, 1.0]))
    compare("pve", g1["pve estimates"], pve)
    w("")
    w("## mapping")
    w("GEMMA fits V = s1 C K1 C + s2 C K2 C + se I with the kinships as given (centred by C = I - 11'/n,")
    w("not scaled); with an intercept in -c, C K C and K give the same REML likelihood, so GEMMA's sigma2_k")
    w("multiplies K_k itself.  pve_k = tau_k s_k / (tau_1 s1 + tau_2 s2 + se), tau_k = trace(C K_k C)/n.")
    txt = "\n".join(lines) + "\n"
    open(os.path.join(d, "dense_check.txt"), "w").write(txt)
    print(txt, end="")


if __name__ == "__main__":
    main()
