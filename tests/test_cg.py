"""The large-sample (CG) engine against dense references: packing and
decoding against numpy, the kinship products against K formed from the
decoded genotypes, batched CG against a dense solve, Monte-Carlo REML
against the dense REML, the exact re-tests against the dense
fixed-variance statistic, and the CLI (outputs, chunks + merge, errors)."""

import gzip

import numpy as np
import pytest

from conftest import SIM, run_cli

N_SUB, M_SUB = 300, 3000


@pytest.fixture(scope="module")
def packed_sub():
    """300 samples x 3,000 variants (3 chromosomes) of testdata/sim, packed."""
    from gwaslmm.genotypes.packed import pack_source
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.qc import VariantFilters

    bed = BedFile(SIM)
    samples = np.arange(0, 2 * N_SUB, 2)  # related and unrelated samples alike
    variants = np.arange(M_SUB)
    packed, passed, _, _ = pack_source(bed, samples, variants, "standardized", VariantFilters(),
                                       1.0, block_size=700)
    bed.close()
    return packed


def test_pack_decode_match_reference():
    from gwaslmm.genotypes.packed import (PackedGenotypes, decode_reference, pack_int8,
                                          pack_reference)

    rng = np.random.default_rng(3)
    for n in (1, 4, 13, 30):
        G = rng.integers(0, 3, (n, 9)).astype(np.int8)
        G[rng.random((n, 9)) < 0.1] = -127
        G = np.asfortranarray(G)
        cols = np.arange(9)
        codes = np.empty((9, (n + 3) // 4), np.uint8)
        center = rng.uniform(0.2, 1.8, 9)
        ss = np.empty(9)
        pack_int8(G, cols, center, codes, 0, ss)
        assert np.array_equal(codes, pack_reference(G))
        obs = np.where(G < 0, np.nan, G.astype(float))
        assert np.allclose(ss, np.nansum((obs - center) ** 2, axis=0))
        scale = rng.uniform(0.5, 2, 9)
        pk = PackedGenotypes(n=n, codes=codes, center=center, scale=scale,
                             chrom=np.zeros(9, np.int32), chromosomes=("1",),
                             variant_idx=cols, centred_sumsq=ss)
        for dtype in (np.float64, np.float32):
            out = np.empty((n, 9), dtype=dtype, order="F")
            got = pk.decode(2, 7, out)
            want = decode_reference(pk, 2, 7)
            assert np.allclose(got, want, rtol=1e-6, atol=1e-6)
            assert np.allclose(want, np.where(G[:, 2:7] < 0, 0, (G[:, 2:7] - center[2:7])
                                              * scale[2:7]))


def test_packed_equals_dense_kinship_definition(packed_sub):
    """Z Z'/M from the packed genotypes is the dense engine's kinship (grm_sum)."""
    from gwaslmm.genotypes.packed import decode_reference
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.kinship import finish_grm, grm_sum
    from gwaslmm.qc import VariantFilters

    bed = BedFile(SIM)
    samples = np.arange(0, 2 * N_SUB, 2)
    gs = grm_sum(bed, samples, np.arange(M_SUB), "standardized", VariantFilters(), 1.0)
    bed.close()
    K = finish_grm(gs.S, gs.m)
    Z = decode_reference(packed_sub, 0, packed_sub.m)
    assert packed_sub.m == gs.m
    assert np.allclose(Z @ Z.T / packed_sub.m, K, atol=1e-12)
    Zc = Z - Z.mean(0)
    assert np.allclose(packed_sub.centred_sumsq, (Zc * Zc).sum(0))


def _dense(packed, mask=-1):
    from gwaslmm.genotypes.packed import decode_reference

    Z = decode_reference(packed, 0, packed.m)
    keep = packed.chrom != mask
    return Z[:, keep] @ Z[:, keep].T / keep.sum()


def test_kinship_products_with_loco_masks(packed_sub):
    from gwaslmm.nullmodel.cg import ALL, KinshipOperator

    rng = np.random.default_rng(1)
    n = packed_sub.n
    W = np.column_stack([np.ones(n), rng.normal(size=n)])
    Wq = np.linalg.qr(W)[0]
    B = rng.normal(size=(n, 5))
    masks = np.array([ALL, 0, 1, 2, 0])
    want = np.column_stack([_dense(packed_sub, mk) @ B[:, j] for j, mk in enumerate(masks)])
    for dtype, tol in ((np.float64, 1e-10), (np.float32, 2e-5)):
        op = KinshipOperator(packed_sub, Wq, dtype, block=256)
        got = op.kinship_times(B, masks)
        assert np.abs(got - want).max() <= tol * np.abs(want).max()
    Z = _dense_z(packed_sub)
    C = rng.normal(size=(packed_sub.m, 3))
    op = KinshipOperator(packed_sub, Wq, np.float64, block=256)
    assert np.allclose(op.genotypes_times(C), Z @ C)
    assert np.allclose(op.genotypes_t_times(B), Z.T @ B)
    assert np.allclose(op.columns(np.array([3, 7])), Z[:, [3, 7]])
    for mk in (ALL, 1):
        K = _dense(packed_sub, mk)
        Kc = K - K.mean(0) - K.mean(1)[:, None] + K.mean()
        assert np.isclose(op.t(mk), np.trace(Kc) / n)


def _dense_z(packed):
    from gwaslmm.genotypes.packed import decode_reference

    return decode_reference(packed, 0, packed.m)


def test_batched_cg_equals_dense_solve(packed_sub):
    from gwaslmm.errors import NumericalError
    from gwaslmm.nullmodel.cg import ALL, KinshipOperator, h_solve

    rng = np.random.default_rng(2)
    n = packed_sub.n
    W = np.column_stack([np.ones(n), rng.normal(size=n)])
    Wq = np.linalg.qr(W)[0]
    Q = np.eye(n) - Wq @ Wq.T
    op = KinshipOperator(packed_sub, Wq, np.float64, block=512)
    B = rng.normal(size=(n, 4))
    masks = np.array([ALL, 0, 2, 1])
    delta = 0.7
    res = h_solve(op, B, masks, delta, 1e-10)
    for j, mk in enumerate(masks):
        H = Q @ _dense(packed_sub, mk) @ Q + delta * np.eye(n)
        want = np.linalg.solve(H, Q @ B[:, j])
        assert np.allclose(res.X[:, j], want, rtol=1e-7, atol=1e-9 * np.abs(want).max())
        assert abs(Wq.T @ res.X[:, j]).max() < 1e-9 * np.abs(want).max()  # in range(Q)
    # preconditioned by the leading eigenpairs: the same solution, in fewer passes
    from gwaslmm.nullmodel.cg import top_eigen

    defl = top_eigen(op, 5, iterations=6)
    K = _dense(packed_sub)
    ev = np.linalg.eigvalsh(Q @ K @ Q)[::-1][:5]
    # the separated (population) eigenvalue exactly; bulk ones are Ritz values below theirs
    assert abs(defl.s[0] / ev[0] - 1) < 1e-6
    assert (defl.s <= ev * (1 + 1e-9)).all()
    for mk in (0, 2):
        Km = Q @ _dense(packed_sub, mk) @ Q
        assert np.allclose(defl.s_mask[mk], np.einsum("ij,ij->j", defl.U, Km @ defl.U))
    pre = h_solve(op, B, masks, delta, 1e-10, deflation=defl)
    assert np.allclose(pre.X, res.X, rtol=1e-7, atol=1e-9 * np.abs(res.X).max())
    assert pre.iterations < res.iterations
    with pytest.raises(NumericalError, match="did not converge in 2 passes"):
        from gwaslmm.nullmodel.cg import batched_cg

        batched_cg(lambda P, cols: op.project(op.kinship_times(P, masks[cols])) + delta * P,
                   op.project(B), 1e-10, max_iter=2)


def test_mc_reml_agrees_with_dense_reml():
    """h2 by Monte-Carlo REML within 3 Monte-Carlo SEs (+ 0.01) of the dense
    REML on the same kinship, for two phenotypes of testdata/sim; its AI SE
    within 5% of the AI SE formed densely."""
    from gwaslmm.eigen import decompose
    from gwaslmm.genotypes.packed import pack_source
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.nullmodel.cg import KinshipOperator, mc_reml
    from gwaslmm.nullmodel.eigen_reml import fit_null
    from gwaslmm.qc import VariantFilters
    from gwaslmm.tables import read_sample_table

    bed = BedFile(SIM)
    table = read_sample_table(SIM + ".pheno", "phenotype", "PHENO")
    samples = np.arange(bed.samples.n)
    packed, _, _, _ = pack_source(bed, samples, np.arange(bed.variants.m), "standardized",
                                  VariantFilters(), 1.0)
    bed.close()
    K = _dense(packed)
    for name in ("trait", "trait2"):
        y = _column(table, name, bed, samples)
        ok = np.isfinite(y)
        idx = np.flatnonzero(ok)
        W = np.ones((idx.size, 1))
        sp, basis = decompose(K[np.ix_(idx, idx)].copy(), W, vectors=False)
        dense = fit_null(sp, basis, y[idx], name)
        sub = _subset_packed(packed, idx)
        op = KinshipOperator(sub, np.linalg.qr(W)[0], np.float32)
        cg = mc_reml(op, y[idx], W, name, seed=5)
        assert abs(cg.h2 - dense.h2) <= 3 * cg.h2_se_mc + 0.01, (name, cg.h2, dense.h2,
                                                                  cg.h2_se_mc)
        # its SE: the AI-REML information, here formed densely at the dense estimate
        # (the dense engine's own SE, from the curvature in lambda, differs at low h2)
        Kx = K[np.ix_(idx, idx)]
        V = dense.sigma_g2 * Kx + dense.sigma_e2 * np.eye(idx.size)
        Vi = np.linalg.inv(V)
        P = Vi - Vi @ W @ np.linalg.inv(W.T @ Vi @ W) @ W.T @ Vi
        py = P @ y[idx]
        vecs = np.column_stack([Kx @ py, py])
        ai = 0.5 * vecs.T @ P @ vecs
        t = sp.t
        grad = np.array([t * dense.sigma_e2, -t * dense.sigma_g2]) / (
            t * dense.sigma_g2 + dense.sigma_e2) ** 2
        ai_se = np.sqrt(grad @ np.linalg.inv(ai) @ grad)
        assert abs(cg.h2_se / ai_se - 1) < 0.05, (cg.h2_se, ai_se)


def _column(table, name, bed, idx):
    """A table column (float, NaN missing) in the order of the .fam samples ``idx``."""
    at = {f"{f} {i}": k for k, (f, i) in enumerate(zip(table.fid, table.iid))}
    rows = [at.get(f"{bed.samples.fid[i]} {bed.samples.iid[i]}", -1) for i in idx]
    col = np.asarray(table.columns[name]).astype(str)
    vals = np.array([col[r] if r >= 0 else "NA" for r in rows])
    return np.where(np.isin(vals, ["NA", "", "-9"]), "nan", vals).astype(float)


def _subset_packed(packed, idx):
    """The same variants over the samples ``idx`` (re-packed from the decode;
    centring kept, as the test's dense K is the full-sample one)."""
    from gwaslmm.genotypes.packed import MISSING_CODE, PackedGenotypes, pack_reference

    shifts = (2 * np.arange(4)).astype(np.uint8)
    calls = ((packed.codes[:, :, None] >> shifts) & 3).reshape(packed.m, -1)[:, :packed.n].T
    G = np.where(calls == MISSING_CODE, -127, calls).astype(np.int8)[idx]
    return PackedGenotypes(n=idx.size, codes=pack_reference(G), center=packed.center,
                           scale=packed.scale, chrom=packed.chrom,
                           chromosomes=packed.chromosomes, variant_idx=packed.variant_idx,
                           centred_sumsq=packed.centred_sumsq)


def _assoc_rows(path):
    with gzip.open(path, "rt") as fh:
        head = fh.readline().rstrip("\n").split("\t")
        rows = [line.rstrip("\n").split("\t") for line in fh]
    return head, rows


@pytest.fixture(scope="module")
def cg_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cg") / "a"
    args = ["assoc", "--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait",
            "--covar", SIM + ".covar", "--loco", "--engine", "cg", "--chr", "1-2",
            "--retest-p", "1e-3", "--out", out]
    res = run_cli(args)
    assert res.exit_code == 0, res.output
    return out, args


def test_cg_cli_exact_rows_equal_dense_fixed_variance(cg_run):
    """Rows re-tested by their own solve equal the dense fixed-variance Wald
    statistic with the same delta and the LOCO kinship, to 1e-6 relative."""
    from gwaslmm.genotypes.packed import pack_source
    from gwaslmm.genotypes.plink1 import BedFile
    from gwaslmm.qc import VariantFilters
    from gwaslmm.scan.fixed import fixed_variance_stats
    from gwaslmm.tables import read_sample_table

    out, _ = cg_run
    head, rows = _assoc_rows(f"{out}.assoc.tsv.gz")
    with open(f"{out}.log") as fh:
        log = fh.read()
    lam = float(log.split("lambda = ")[1].split()[0].rstrip(","))
    methods = [r[head.index("p_method")] for r in rows]
    assert set(methods) == {"calibrated", "exact"}
    exact = [r for r, m in zip(rows, methods) if m == "exact"]
    assert 3 <= len(exact) < len(rows) / 10
    # the dense reference on the analysed samples
    samples = np.loadtxt(f"{out}.samples.tsv", dtype=str, skiprows=1, ndmin=2)
    bed = BedFile(SIM)
    keys = {f"{f} {i}": k for k, (f, i) in enumerate(zip(bed.samples.fid, bed.samples.iid))}
    idx = np.array(sorted(keys[f"{s[0]} {s[1]}"] for s in samples))
    packed, _, _, _ = pack_source(bed, idx, np.arange(bed.variants.m), "standardized",
                                  VariantFilters(), 1.0)
    cov = read_sample_table(SIM + ".covar", "covariate", "COVAR")
    phe = read_sample_table(SIM + ".pheno", "phenotype", "PHENO")
    y = _column(phe, "trait", bed, idx)
    ci = {f"{f} {i}": k for k, (f, i) in enumerate(zip(cov.fid, cov.iid))}
    batch = np.asarray(cov.columns["batch"]).astype(str)[
        [ci[f"{bed.samples.fid[i]} {bed.samples.iid[i]}"] for i in idx]]
    W = np.column_stack([np.ones(idx.size), _column(cov, "age", bed, idx),
                         _column(cov, "bmi", bed, idx), batch == "b2",
                         batch == "b3"]).astype(float)
    n, c = W.shape
    Wq = np.linalg.qr(W)[0]
    Q = np.eye(n) - Wq @ Wq.T
    ids = list(bed.variants.id)
    chroms = {ch: k for k, ch in enumerate(packed.chromosomes)}
    checked = 0
    for r in exact[:6]:
        v = ids.index(r[head.index("variant_id")])
        mk = chroms[r[head.index("chromosome")]]
        H = Q @ _dense(packed, mk) @ Q + np.eye(n) / lam
        P = Q @ np.linalg.solve(H, Q)
        blk = bed.read_block(idx, np.array([v]))
        x = blk.fill(np.array([0]), np.empty((n, 1), order="F"))[:, 0]
        a, b, q = x @ P @ x, x @ P @ y, y @ P @ y
        st = fixed_variance_stats(q, n - c - 1, n, np.array([a]), np.array([b]))
        beta = float(r[head.index("beta")])
        se = float(r[head.index("standard_error")])
        assert abs(beta / st["beta"][0] - 1) < 1e-6
        assert abs(se / st["se"][0] - 1) < 1e-6
        checked += 1
    bed.close()
    assert checked >= 3


def test_cg_cli_chunks_merge_and_log(cg_run, tmp_path):
    out, args = cg_run
    with open(f"{out}.log") as fh:
        log = fh.read()
    assert "Monte-Carlo REML" in log and "CG passes" in log and "calibration:" in log
    with open(f"{out}.assoc.tsv.gz-meta.yaml") as fh:
        meta = fh.read()
    assert "cg wald" in meta
    parts = []
    for k in (1, 2):
        o = tmp_path / "c"
        a = [x if x != out else o for x in args] + ["--chunk", f"{k}/2"]
        res = run_cli(a)
        assert res.exit_code == 0, res.output
        parts.append(f"{o}.chunk{k}of2.assoc.tsv.gz")
    res = run_cli(["merge", *parts, "--out", tmp_path / "m"])
    assert res.exit_code == 0, res.output
    with gzip.open(tmp_path / "m.assoc.tsv.gz") as a, gzip.open(f"{out}.assoc.tsv.gz") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("extra, message", [
    (["--grm", "x"], "--grm not offered"),
    (["--test", "lrt"], "--test lrt is not offered"),
    (["--binary"], "--binary not offered"),
    (["--retest-p", "2"], "--retest-p must be in"),
    (["--loco-h2", "each"], "add --loco"),
])
def test_cg_usage_errors(tmp_path, extra, message):
    res = run_cli(["assoc", "--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait",
                   "--engine", "cg", *extra, "--out", tmp_path / "e"])
    assert res.exit_code != 0
    assert message in res.output and "Traceback" not in res.output


def _reml_rows(path):
    with open(path) as fh:
        head = fh.readline().rstrip("\n").split("\t")
        return [dict(zip(head, line.rstrip("\n").split("\t"))) for line in fh]


def test_reml_cg_agrees_with_dense(tmp_path):
    """reml --engine cg (and --loco) against the dense reml on the bundled
    data: h2 within 3 Monte-Carlo SEs + 0.01 for the run and for every
    left-out chromosome; the fixed effects within 3 SEs."""
    base = ["--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait", "--covar",
            SIM + ".covar"]
    for extra, table in (([], "reml.tsv"), (["--loco"], "reml.loco.tsv")):
        dense, cg = tmp_path / f"d{len(extra)}", tmp_path / f"c{len(extra)}"
        assert run_cli(["reml", *base, *extra, "--out", dense]).exit_code == 0
        each = ["--loco-h2", "each"] if extra else []
        res = run_cli(["reml", *base, *extra, *each, "--engine", "cg", "--out", cg])
        assert res.exit_code == 0, res.output
        d, c = _reml_rows(f"{dense}.{table}"), _reml_rows(f"{cg}.{table}")
        assert len(d) == len(c) == (8 if extra else 1)
        with open(f"{cg}.log") as fh:
            mc_se = [float(x.split(")")[0]) for x in fh.read().split("Monte-Carlo se ")[1:]]
        for rd, rc, se in zip(d, c, mc_se):
            assert rd.get("left_out_chromosome") == rc.get("left_out_chromosome")
            assert abs(float(rd["h2"]) - float(rc["h2"])) <= 3 * se + 0.01, (rd, rc, se)
            assert rc["logl_reml"] == "NA"
    fd = _reml_rows(f"{tmp_path}/d0.reml.fixed.tsv")
    fc = _reml_rows(f"{tmp_path}/c0.reml.fixed.tsv")
    for rd, rc in zip(fd, fc):
        assert rd["covariate"] == rc["covariate"]
        assert abs(float(rd["beta"]) - float(rc["beta"])) < 3 * float(rd["standard_error"])


def test_reml_cg_refuses_missing_phenotypes(tmp_path):
    res = run_cli(["reml", "--bfile", SIM, "--pheno", SIM + ".pheno", "--all-pheno",
                   "--engine", "cg", "--out", tmp_path / "r"])
    assert res.exit_code != 0 and "missing values" in res.output


def test_cg_saved_null_model(cg_run, tmp_path):
    """reml --engine cg --loco --save-null, then assoc --engine cg --null --loco:
    the same rows as fitting in the scan (the solves differ only in which
    other columns share their passes: p to 1e-5 relative); the file's
    misuse is one error line."""
    out, args = cg_run
    base = ["--bfile", SIM, "--pheno", SIM + ".pheno", "--pheno-name", "trait", "--covar",
            SIM + ".covar"]
    res = run_cli(["reml", *base, "--loco", "--engine", "cg", "--save-null", tmp_path / "n",
                   "--out", tmp_path / "r"])
    assert res.exit_code == 0, res.output
    res = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--loco", "--engine",
                   "cg", "--chr", "1-2", "--retest-p", "1e-3", "--out", tmp_path / "a"])
    assert res.exit_code == 0, res.output
    h0, r0 = _assoc_rows(f"{out}.assoc.tsv.gz")
    h1, r1 = _assoc_rows(f"{tmp_path}/a.assoc.tsv.gz")
    assert h0 == h1 and len(r0) == len(r1)
    p0 = np.array([float(r[h0.index("p_value")]) for r in r0])
    p1 = np.array([float(r[h1.index("p_value")]) for r in r1])
    assert np.allclose(p0, p1, rtol=1e-5)
    assert [r[h0.index("p_method")] for r in r0] == [r[h1.index("p_method")] for r in r1]
    bad = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--loco", "--out",
                   tmp_path / "b"])
    assert bad.exit_code != 0 and "add --engine cg" in bad.output, bad.output
    res = run_cli(["reml", *base, "--engine", "cg", "--save-null", tmp_path / "one",
                   "--out", tmp_path / "r1"])
    assert res.exit_code == 0, res.output
    bad = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "one", "--loco", "--engine",
                   "cg", "--out", tmp_path / "b"])
    assert bad.exit_code != 0 and "fitted without --loco" in bad.output, bad.output
    bad = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--engine", "cg",
                   "--out", tmp_path / "b"])
    assert bad.exit_code != 0 and "add --loco" in bad.output, bad.output
    assert "Traceback" not in bad.output and "internal error" not in bad.output


def test_engine_auto_picks_by_the_measured_crossover():
    """--engine auto: cg from 2,000 analysed samples with --loco and 4,000
    without (benchmarks/cg_crossover.py), dense below; an option the CG engine
    does not offer keeps the dense engine, and the log says which and why."""
    from gwaslmm.drivers.cg import resolve_engine
    from gwaslmm.drivers.options import AssocOptions

    class Log:
        def __init__(self):
            self.lines = []

        def write(self, line):
            self.lines.append(line)

    for loco, n, want in ((True, 1999, "dense"), (True, 2000, "cg"), (False, 3999, "dense"),
                          (False, 4000, "cg")):
        log = Log()
        got = resolve_engine(AssocOptions(bfile=SIM, out="x", loco=loco, engine_choice="auto"), n, log)
        assert got.engine_choice == want, (loco, n)
        assert log.lines == [f"--engine auto: the {want} engine ({n} analysed samples (cg from "
                             f"{2000 if loco else 4000}{' with --loco' if loco else ''}))"]
    log = Log()
    got = resolve_engine(AssocOptions(bfile=SIM, out="x", loco=True, engine_choice="auto", binary=True),
                         50_000, log)
    assert got.engine_choice == "dense" and "--binary" in log.lines[0], log.lines
