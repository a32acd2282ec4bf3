#!/usr/bin/env python3
"""Dense-matrix check of the lme4 REML reference (numpy + scipy).

    python3 testdata/reference/vc_lme4/check_dense.py     # from the repository root

For each model M1-M4 of fit_lme4.R, with V = sum_k s_k V_k (V linear in the
covariance parameters s: the variances, for M2 g11, g12, g22 of the 2x2 group
covariance, and the residual variance; V_res = I):

  ll_REML = -1/2 [ (n-p) log(2 pi) + log|V| + log|X'V^-1 X| + r'V^-1 r ],
  r = y - X beta_GLS.

1. Evaluates it at lme4's estimates (the full-precision %.17g copy of
   lme4_fits.tsv in lme4_optimizer_check.tsv) and prints the difference
   to logLik(fit); also the same with +1/2 log|X'X| added, a convention lme4
   does NOT use.
2. Maximizes it from a start that does not use lme4's estimates: scipy BFGS
   with the analytic gradient, on log variances (M2: log-Cholesky factor of the
   2x2 covariance: L = [[exp(a), 0], [b, exp(c)]]), then Newton-Raphson with the
   exact observed Hessian on the linear parameters s until the step is < 1e-13
   relative.  Prints the relative difference of every quantity to lme4's.
Writes dense_reml_optimum.tsv (same layout as lme4_fits.tsv) and prints a
summary (kept as check_dense.txt by make_reference.sh).
"""
import os
import numpy as np
import scipy
import scipy.linalg as sla
import scipy.optimize as so

HERE = os.path.dirname(os.path.abspath(__file__))
LOG2PI = np.log(2.0 * np.pi)


def read_tsv(path):
    with open(path) as fh:
        head = fh.readline().rstrip("\n").split("\t")
        rows = [line.rstrip("\n").split("\t") for line in fh]
    return {h: [r[i] for r in rows] for i, h in enumerate(head)}


def codes(labels):
    levels = sorted(set(labels))
    idx = {l: i for i, l in enumerate(levels)}
    return np.array([idx[l] for l in labels])


class Model:
    """Dense REML for y ~ X beta + random effects, V = sum_j s_j V_j."""

    def __init__(self, name, y, X, xnames, comps, pnames, kinds):
        self.name, self.y, self.X, self.xnames = name, y, X, xnames
        self.V = comps                       # list of n x n matrices
        self.pnames, self.kinds = pnames, kinds
        self.n, self.p = X.shape

    def parts(self, s):
        V = sum(sj * Vj for sj, Vj in zip(s, self.V))
        c = sla.cho_factor(V, lower=True)
        logdetV = 2.0 * np.sum(np.log(np.diag(c[0])))
        ViX = sla.cho_solve(c, self.X)
        Viy = sla.cho_solve(c, self.y)
        XtViX = self.X.T @ ViX
        cx = sla.cho_factor(XtViX, lower=True)
        logdetXVX = 2.0 * np.sum(np.log(np.diag(cx[0])))
        beta = sla.cho_solve(cx, self.X.T @ Viy)
        r = self.y - self.X @ beta
        quad = r @ sla.cho_solve(c, r)
        ll = -0.5 * ((self.n - self.p) * LOG2PI + logdetV + logdetXVX + quad)
        return ll, beta, c, ViX, cx

    def loglik(self, s):
        return self.parts(s)[0]

    def score_hess(self, s, hess=True):
        ll, beta, c, ViX, cx = self.parts(s)
        Vi = sla.cho_solve(c, np.eye(self.n))
        P = Vi - ViX @ sla.cho_solve(cx, ViX.T)
        Py = P @ self.y
        # V_j symmetric: tr(P V_j) = sum(P * V_j)
        g = np.array([-0.5 * (np.sum(P * Vj) - Py @ Vj @ Py) for Vj in self.V])
        if not hess:
            return ll, g, None
        PV = [P @ Vj for Vj in self.V]
        k = len(self.V)
        H = np.empty((k, k))
        for i in range(k):
            for j in range(i, k):
                tr = np.sum(PV[i] * PV[j].T)
                H[i, j] = H[j, i] = -0.5 * (-tr + 2.0 * Py @ self.V[i] @ PV[j] @ Py)
        return ll, g, H


def build_models():
    cov = read_tsv(os.path.join(HERE, "groups.covar"))
    phe = read_tsv(os.path.join(HERE, "groups.pheno"))
    assert cov["IID"] == phe["IID"] and cov["FID"] == phe["FID"]
    x = np.array(cov["x"], float)
    e = np.array(cov["e"], float)
    models = {}
    for yname, cname, spec in [("y_cross", "x", ["M1", "M4"]),
                               ("y_slope", "e", ["M2", "M3"])]:
        yraw = np.array([np.nan if v == "NA" else float(v) for v in phe[yname]])
        keep = ~np.isnan(yraw)
        y = yraw[keep]
        n = y.size
        cv = (x if cname == "x" else e)[keep]
        X = np.column_stack([np.ones(n), cv])
        xnames = ["(Intercept)", cname]
        same = {}
        for f in ("household", "clinic", "group"):
            cd = codes([l for l, k in zip(cov[f], keep) if k])
            same[f] = (cd[:, None] == cd[None, :]).astype(float)
        I = np.eye(n)
        for m in spec:
            if m == "M1":
                models[m] = Model(m, y, X, xnames, [same["household"], same["clinic"], I],
                                  ["household", "clinic", "Residual"],
                                  ["variance", "variance", "residual"])
            elif m == "M4":
                models[m] = Model(m, y, X, xnames, [same["household"], I],
                                  ["household", "Residual"], ["variance", "residual"])
            elif m == "M3":
                models[m] = Model(m, y, X, xnames, [same["group"], I],
                                  ["group", "Residual"], ["variance", "residual"])
            elif m == "M2":
                A = same["group"]
                models[m] = Model(m, y, X, xnames,
                                  [A, A * (cv[:, None] + cv[None, :]), A * np.outer(cv, cv), I],
                                  ["group:(Intercept)", "group:cov", "group:e", "Residual"],
                                  ["variance", "covariance", "variance", "residual"])
    return dict(sorted(models.items()))


# ---- unconstrained parameterization t -> linear parameters s (and ds/dt)
def t_to_s(m, t):
    if m.name == "M2":
        a, b, c, lr = t
        l11, l21, l22 = np.exp(a), b, np.exp(c)
        s = np.array([l11 ** 2, l11 * l21, l21 ** 2 + l22 ** 2, np.exp(lr)])
        J = np.zeros((4, 4))          # J[i, j] = ds_i / dt_j
        J[0, 0] = 2 * l11 ** 2
        J[1, 0], J[1, 1] = l11 * l21, l11
        J[2, 1], J[2, 2] = 2 * l21, 2 * l22 ** 2
        J[3, 3] = np.exp(lr)
        return s, J
    s = np.exp(t)
    return s, np.diag(s)


def fit_dense(m):
    vy = np.var(m.y)
    k = len(m.V)
    if m.name == "M2":
        t0 = np.array([np.log(vy / 4) / 2, 0.0, np.log(vy / 8) / 2, np.log(vy / 2)])
    else:
        t0 = np.log(np.full(k, vy / k))

    def f(t):
        s, J = t_to_s(m, t)
        ll, g, _ = m.score_hess(s, hess=False)
        return -ll, -(J.T @ g)

    res = so.minimize(f, t0, jac=True, method="BFGS", options={"gtol": 1e-8, "maxiter": 500})
    s_bfgs = t_to_s(m, res.x)[0]
    s = s_bfgs.copy()
    for it in range(50):
        ll, g, H = m.score_hess(s)
        step = -np.linalg.solve(H, g)
        s = s + step
        if np.max(np.abs(step) / np.abs(s)) < 1e-13:
            break
    ll, g, H = m.score_hess(s)
    return s_bfgs, s, it + 1, res.nit, g, H


def main():
    np.set_printoptions(precision=6)
    lme = read_tsv(os.path.join(HERE, "lme4_optimizer_check.tsv"))
    ref = {}
    for mo, ki, te, va in zip(lme["model"], lme["kind"], lme["term"], lme["bobyqa_newton"]):
        ref[(mo, ki, te)] = float(va)
    # lme4_fits.tsv must be the same fit, rounded to 12 significant digits
    fits = read_tsv(os.path.join(HERE, "lme4_fits.tsv"))
    for mo, ki, te, va in zip(fits["model"], fits["kind"], fits["term"], fits["value"]):
        assert va == "%.12g" % ref[(mo, ki, te)], (mo, ki, te)
    print("numpy %s, scipy %s" % (np.__version__, scipy.__version__))
    out_rows = []
    worst_eval, worst_opt, worst_bfgs = 0.0, 0.0, 0.0
    for name, m in build_models().items():
        s_lme = np.array([ref[(name, k, t)] for k, t in zip(m.kinds, m.pnames)])
        ll_lme = ref[(name, "loglik", "REML")]
        ll_at = m.loglik(s_lme)
        logdetXtX = np.linalg.slogdet(m.X.T @ m.X)[1]
        print("\n%s  n=%d p=%d" % (name, m.n, m.p))
        print("  dense REML at lme4 estimates %.12f  logLik(fit) %.12f  diff %.3g"
              % (ll_at, ll_lme, ll_at - ll_lme))
        print("  (with +1/2 log|X'X| added: diff %.6g -> lme4 does not include it)"
              % (ll_at + 0.5 * logdetXtX - ll_lme))
        worst_eval = max(worst_eval, abs(ll_at - ll_lme))

        s_bfgs, s_opt, nnewton, nbfgs, g, H = fit_dense(m)
        ll_opt, beta, *_ = m.parts(s_opt)
        print("  scipy BFGS (%d it) from var(y)-based start, then %d Newton steps; "
              "|score| %.2g, eigenvalues of the observed information %s"
              % (nbfgs, nnewton, np.max(np.abs(g)), np.linalg.eigvalsh(-H)))
        quant = [(k, t, v) for k, t, v in zip(m.kinds, m.pnames, s_opt)]
        quant += [("fixed", xn, b) for xn, b in zip(m.xnames, beta)]
        quant += [("loglik", "REML", ll_opt), ("reml_criterion", "REML", -2 * ll_opt)]
        print("  %-15s %-18s %20s %20s %10s %10s" % ("kind", "term", "dense optimum",
                                                    "lme4", "rel diff", "BFGS only"))
        s_b = dict(zip(m.pnames, s_bfgs))
        for k, t, v in quant:
            r = ref[(name, k, t)]
            rel = abs(v - r) / abs(r)
            relb = ""
            if t in s_b and k != "fixed":
                rb = abs(s_b[t] - v) / abs(v)
                worst_bfgs = max(worst_bfgs, rb)
                relb = "%.2g" % rb
            worst_opt = max(worst_opt, rel)
            print("  %-15s %-18s %20.12g %20.12g %10.2g %10s" % (k, t, v, r, rel, relb))
            out_rows.append((name, k, t, v))
        out_rows.append((name, "n", "obs", m.n))
    print("\nmax |dense REML at lme4 estimates - logLik(fit)| = %.3g" % worst_eval)
    print("max rel diff dense REML optimum vs lme4 (all quantities) = %.3g" % worst_opt)
    print("max rel diff BFGS-only vs Newton-polished dense optimum (variances) = %.3g" % worst_bfgs)
    with open(os.path.join(HERE, "dense_reml_optimum.tsv"), "w") as fh:
        fh.write("model\tkind\tterm\tvalue\n")
        for name, k, t, v in out_rows:
            fh.write("%s\t%s\t%s\t%s\n" % (name, k, t, "%d" % v if k == "n" else "%.12g" % v))


if __name__ == "__main__":
    main()
