"""The defects a real-data trial found (issue 11), each with a test that
failed before its fix (checked by running this file against commit c1687e9,
the code before the round-2 restructuring).

They run through the command line, as a user meets them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import SIM, TESTDATA, run_cli, slurp

PHENO = os.path.join(TESTDATA, "sim.pheno")
COVAR = os.path.join(TESTDATA, "sim.covar")
REF = os.path.join(TESTDATA, "reference")


def table(path):
    lines = slurp(path).splitlines()
    header = lines[0].split("\t")
    rows = [ln.split("\t") for ln in lines[1:]]
    return {c: [r[j] for r in rows] for j, c in enumerate(header)}


def reml_row(prefix):
    t = table(str(prefix) + ".reml.tsv")
    return {k: v for k, v in t.items()}


def copy_sim(tmp_path, name="s"):
    p = str(tmp_path / name)
    for ext in ("bed", "bim", "fam"):
        shutil.copyfile(f"{SIM}.{ext}", f"{p}.{ext}")
    return p


def pheno_values():
    """sim.pheno as {"FID IID": (trait, trait2)} (text)."""
    out = {}
    for ln in slurp(PHENO).splitlines()[1:]:
        f = ln.split("\t")
        out[f"{f[0]} {f[1]}"] = (f[2], f[3])
    return out


# ---------------------------------------------------------------------------
# GEMMA-style .fam files with several phenotype columns
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def multi_fam(tmp_path_factory):
    """sim with a .fam of three phenotype columns: trait, trait2 (NA as -9),
    and trait again (GEMMA's example files carry several)."""
    d = tmp_path_factory.mktemp("multifam")
    p = copy_sim(d)
    ph = pheno_values()
    lines = []
    for ln in slurp(SIM + ".fam").splitlines():
        f = ln.split()
        t1, t2 = ph[f"{f[0]} {f[1]}"]
        t1 = "-9" if t1 == "NA" else t1
        t2 = "-9" if t2 == "NA" else t2
        lines.append(" ".join(f[:5] + [t1, t2, t1]))
    with open(p + ".fam", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    return d, p


def test_fam_with_several_phenotype_columns(multi_fam):
    """--pheno-col K picks the .fam's K-th phenotype column (GEMMA's -n K),
    --all-pheno takes all; the estimates equal those from the phenotype file."""
    d, p = multi_fam
    r = run_cli(["reml", "--bfile", p, "--pheno-col", "2", "--covar", COVAR, "--out", d / "c2"])
    assert r.exit_code == 0, r.output
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait2", "--covar",
                 COVAR, "--out", d / "ref2"])
    assert r.exit_code == 0, r.output
    got, want = reml_row(d / "c2"), reml_row(d / "ref2")
    assert got["h2"] == want["h2"] and got["n"] == want["n"] and got["phenotype"] == ["fam_pheno2"]
    r = run_cli(["reml", "--bfile", p, "--all-pheno", "--covar", COVAR, "--out", d / "all"])
    assert r.exit_code == 0, r.output
    allp = reml_row(d / "all")
    assert allp["phenotype"] == ["fam_pheno1", "fam_pheno2", "fam_pheno3"]
    assert allp["h2"][0] == allp["h2"][2]
    r = run_cli(["reml", "--bfile", p, "--pheno-col", "4", "--out", d / "bad"])
    assert r.exit_code == 2 and "--pheno-col 4 does not exist" in r.output
    assert "3 phenotype column(s)" in r.output


def test_assoc_on_multi_phenotype_fam_uses_column_6_and_says_so(multi_fam):
    d, p = multi_fam
    r = run_cli(["assoc", "--bfile", p, "--covar", COVAR, "--chunk", "1/20", "--fast",
                 "--out", d / "a"])
    assert r.exit_code == 0, r.output
    log = slurp(d / "a.chunk1of20.log")
    assert "has 3 phenotype columns (fam_pheno1, fam_pheno2, fam_pheno3); using the first" in log
    assert "phenotype: \"fam_pheno1\"" in slurp(d / "a.chunk1of20.assoc.tsv.gz-meta.yaml")


# ---------------------------------------------------------------------------
# variants without a position
# ---------------------------------------------------------------------------

def test_plot_takes_variants_without_a_position(tmp_path):
    """A result file with positions -9 and 0 (PLINK's 'unplaced'; other tools
    write them) is plotted: those rows are left out of the Manhattan plot and
    counted, and keep their place in the QQ plot."""
    rows = ["chromosome\tbase_pair_location\tvariant_id\tneg_log_10_p_value"]
    rng = np.random.default_rng(1)
    for k in range(400):
        pos = -9 if k % 50 == 0 else (0 if k % 50 == 1 else 1000 * (k + 1))
        rows.append(f"{1 + k // 100}\t{pos}\tv{k}\t{rng.exponential(0.43):.5f}")
    (tmp_path / "r.tsv").write_text("\n".join(rows) + "\n")
    r = run_cli(["plot", tmp_path / "r.tsv", "--out", tmp_path / "p"])
    assert r.exit_code == 0, r.output
    log = slurp(tmp_path / "p.plot.log")
    assert "16 rows without a position (base_pair_location <= 0) are left out of the " \
           "Manhattan plot" in log
    assert re.search(r"QQ: \d+ of 400 points drawn", log)


def test_assoc_plot_with_unplaced_variants(tmp_path):
    """Position 0 in the .bim (unplaced) is scanned and counted out of the
    Manhattan plot of assoc --plot, which exits 0 with its results."""
    p = copy_sim(tmp_path)
    lines = slurp(SIM + ".bim").splitlines()
    for k in range(0, 40, 2):
        f = lines[k].split("\t")
        f[3] = "0"
        lines[k] = "\t".join(f)
    with open(p + ".bim", "w") as fh:
        fh.write("\n".join(lines) + "\n")
    (tmp_path / "ex.txt").write_text("\n".join(ln.split("\t")[1] for ln in lines[:200]) + "\n")
    r = run_cli(["assoc", "--bfile", p, "--pheno", PHENO, "--pheno-name", "trait", "--fast",
                 "--extract", tmp_path / "ex.txt", "--plot", "--out", tmp_path / "u"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "u"
    assert os.path.exists(f"{out}.manhattan.png") and os.path.exists(f"{out}.qq.png")
    t = table(f"{out}.assoc.tsv.gz")
    n0 = t["base_pair_location"].count("0")
    assert n0 >= 19  # one of the 20 may fail QC
    assert f"{n0} variants without a position (base_pair_location <= 0) are not drawn" \
        in slurp(f"{out}.log")


def test_a_failing_plot_leaves_the_scan_complete(tmp_path, monkeypatch):
    import gwaslmm.report.plot as rp

    def broken(*a, **k):
        raise RuntimeError("no space left for the picture")

    monkeypatch.setattr(rp, "draw", broken)
    r = run_cli(["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--fast",
                 "--chunk", "2/50", "--plot", "--out", tmp_path / "f"])
    assert r.exit_code == 0, r.output
    out = tmp_path / "f.chunk2of50"
    assert "warning: the plots could not be drawn (RuntimeError: no space left for the " \
           "picture); the association results are complete" in slurp(f"{out}.log")
    assert len(table(f"{out}.assoc.tsv.gz")["variant_id"]) > 150


# ---------------------------------------------------------------------------
# one combined table for phenotype and covariates (as BOLT-LMM ships)
# ---------------------------------------------------------------------------

def test_phenotype_is_never_a_covariate(tmp_path):
    combined = tmp_path / "both.tsv"
    cov = {ln.split("\t")[0] + " " + ln.split("\t")[1]: ln.split("\t")[2:]
           for ln in slurp(COVAR).splitlines()[1:]}
    with open(combined, "w") as fh:
        fh.write("FID\tIID\ttrait\tage\tbmi\tbatch\n")
        for k, (t1, _) in pheno_values().items():
            fh.write("\t".join(k.split(" ") + [t1] + cov[k]) + "\n")
    r = run_cli(["reml", "--bfile", SIM, "--pheno", combined, "--pheno-name", "trait", "--covar",
                 combined, "--out", tmp_path / "c"])
    assert r.exit_code == 0, r.output
    log = slurp(tmp_path / "c.log")
    assert "phenotype column(s) trait left out of the covariates" in log
    assert "covariates (5 columns): intercept, age, bmi, batch=b2, batch=b3" in log
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar",
                 COVAR, "--out", tmp_path / "sep"])
    assert r.exit_code == 0, r.output
    assert reml_row(tmp_path / "c")["h2"] == reml_row(tmp_path / "sep")["h2"]
    r = run_cli(["reml", "--bfile", SIM, "--pheno", combined, "--pheno-name", "trait", "--covar",
                 combined, "--covar-name", "age,trait", "--out", tmp_path / "x"])
    assert r.exit_code == 2 and "--covar-name lists 'trait', the phenotype" in r.output


def test_a_covariate_equal_to_the_phenotype_is_refused(tmp_path):
    """The same values from two files: caught by value, with the counts."""
    cv = tmp_path / "cv.tsv"
    with open(cv, "w") as fh:
        fh.write("FID\tIID\tcopy\n")
        for k, (t1, _) in pheno_values().items():
            fh.write("\t".join(k.split(" ") + [t1]) + "\n")
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar",
                 cv, "--out", tmp_path / "c"])
    assert r.exit_code == 1
    assert re.search(r"covariate 'copy' equals phenotype 'trait' in all \d+ analysed samples",
                     r.output)


# ---------------------------------------------------------------------------
# repeated options
# ---------------------------------------------------------------------------

def test_repeated_list_options_take_the_union_others_are_refused(tmp_path):
    ids = [ln.split("\t")[1] for ln in slurp(SIM + ".bim").splitlines()]
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("\n".join(ids[:3000]) + "\n")
    b.write_text("\n".join(ids[3000:9000]) + "\n")
    r = run_cli(["grm", "--bfile", SIM, "--exclude", a, "--exclude", b, "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    log = slurp(tmp_path / "g.log")
    assert "--exclude: 9000 IDs listed; removed 9000" in log
    r = run_cli(["grm", "--bfile", SIM, "--maf", "0.01", "--maf", "0.05", "--out",
                 tmp_path / "m"])
    assert r.exit_code == 2 and "option --maf given twice" in r.output
    assert not os.path.exists(tmp_path / "m.grm.bin")


# ---------------------------------------------------------------------------
# the kinship of assoc does not shrink with the tested variants
# ---------------------------------------------------------------------------

def test_chr_and_extract_choose_tested_variants_not_the_kinship(tmp_path):
    common = ["--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar", COVAR,
              "--fast"]
    r = run_cli(["assoc", *common, "--out", tmp_path / "all"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", *common, "--chr", "3", "--out", tmp_path / "c3"])
    assert r.exit_code == 0, r.output
    full, c3 = table(tmp_path / "all.assoc.tsv.gz"), table(tmp_path / "c3.assoc.tsv.gz")
    on3 = [i for i, c in enumerate(full["chromosome"]) if c == "3"]
    assert c3["variant_id"] == [full["variant_id"][i] for i in on3]
    assert c3["neg_log_10_p_value"] == [full["neg_log_10_p_value"][i] for i in on3]
    log = slurp(tmp_path / "c3.log")
    assert "kinship variants: all 10000 variants of" in log
    assert "kinship (standardized, float32 blocks): 987 samples x 9559 SNPs" in log


# ---------------------------------------------------------------------------
# threads
# ---------------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "sched_setaffinity"), reason="needs CPU affinity")
def test_default_threads_follow_the_cpu_affinity(tmp_path):
    """A job confined to one core (as SLURM's --cpus-per-task=1 confines it)
    runs numba and BLAS on one thread, not on every core of the node."""
    code = ("import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
            "import sys; sys.argv = ['gwaslmm'] + sys.argv[1:]; "
            "from gwaslmm.__main__ import main; main()")
    env = dict(os.environ, PYTHONPATH=os.path.dirname(TESTDATA))
    r = subprocess.run([sys.executable, "-c", code, "grm", "--bfile", SIM, "--chr", "8",
                        "--out", str(tmp_path / "g")], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^threads: 1;", slurp(tmp_path / "g.log"), re.M)


def test_numba_workers_sleep_between_kernels():
    """numba's pool is the 'workqueue' layer, whose idle workers sleep instead
    of spinning against the BLAS threads of the next step."""
    code = ("import numpy as np, numba; from gwaslmm._jit import set_threads; set_threads(2); "
            "from gwaslmm.scan.kernels import fixed_lambda_sums as f; "
            "x = np.ones((50, 30)); a = np.empty(30); b = np.empty(30); "
            "f(np.ones(50), np.ones(50), x, a, b); print(numba.threading_layer())")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "workqueue"


# ---------------------------------------------------------------------------
# help
# ---------------------------------------------------------------------------

def test_help_says_what_each_command_takes_and_writes():
    r = run_cli(["--help"])
    assert r.exit_code == 0
    listed = [ln.split()[0] for ln in r.output.splitlines() if ln.startswith("  ") and
              ln.split() and ln.split()[0] in ("grm", "reml", "assoc", "merge", "plot")]
    assert sorted(listed) == ["assoc", "grm", "merge", "plot", "reml"]  # each once
    assert "Exit codes:" in r.output
    a = run_cli(["assoc", "--help"]).output
    assert ("Phenotype column name(s), comma-separated" in " ".join(a.split())
            and "--all-pheno" in a and "Exit codes:" in a)
    for col in ("neg_log_10_p_value", "n_miss", "t_stat", "lambda_remle"):
        assert re.search(rf"^\s+{col}: ", a, re.M), col
    assert "comma-separated" in run_cli(["reml", "--help"]).output
    for cmd in ("grm", "reml", "merge", "plot"):
        assert "Exit codes:" in run_cli([cmd, "--help"]).output, cmd


def test_manhattan_labels_only_above_the_suggestive_line_and_title_names_the_phenotype(
        tmp_path):
    from gwaslmm.report.thinning import manhattan_data

    y = np.array([3.0, 4.9, 5.2, 7.0, 1.0])
    man = manhattan_data(["1", "2", "3", "4", "5"], [10, 10, 10, 10, 10], y,
                         variant_id=["a", "b", "c", "d", "e"], label_top=5)
    assert [h.variant_id for h in man.top_hits] == ["d", "c"]
    r = run_cli(["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait2", "--fast",
                 "--chunk", "3/40", "--out", tmp_path / "t"])
    assert r.exit_code == 0, r.output
    from gwaslmm.report.plot import default_title

    assert default_title(str(tmp_path / "t.chunk3of40.assoc.tsv.gz")) == "trait2"


# ---------------------------------------------------------------------------
# plot reads other tools' result files
# ---------------------------------------------------------------------------

def _p_lambda(p):
    from scipy import stats

    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p)]
    return float(np.median(stats.chi2.isf(p, 1)) / stats.chi2.ppf(0.5, 1))


@pytest.mark.parametrize("name,column,filt,n", [
    ("gemma_lmm4.trait.assoc.txt.gz", "p_wald", None, 9559),
    ("foreign/plink2_glm.trait.glm.linear.gz", "P", ("TEST", "ADD"), 2500),
    ("foreign/plink2_glm_hidecovar.trait.glm.linear.gz", "P", None, 2500),
    ("foreign/bolt_lmminf.trait.stats.gz", "P_BOLT_LMM_INF", None, 3000),
    ("foreign/bolt_lmm.trait.stats.gz", "P_BOLT_LMM", None, 3000),
])
def test_plot_reads_peer_result_files(tmp_path, name, column, filt, n):
    path = os.path.join(REF, name)
    r = run_cli(["plot", path, "--out", tmp_path / "p"])
    assert r.exit_code == 0, r.output
    lines = slurp(path).splitlines()
    header = lines[0].split("\t")
    rows = [ln.split("\t") for ln in lines[1:]]
    if filt:
        rows = [x for x in rows if x[header.index(filt[0])] == filt[1]]
    assert len(rows) == n
    p = [x[header.index(column)] for x in rows]
    p = [float(v) if v not in ("NA", "nan", "-nan") else np.nan for v in p]
    log = slurp(tmp_path / "p.plot.log")
    got = float(re.search(r"lambda_GC (\d\.\d+) over", log).group(1))
    assert got == pytest.approx(_p_lambda(p), abs=2e-4)
    assert f"p-values from {column}" in log
    assert os.path.getsize(tmp_path / "p.manhattan.png") > 10000


def test_plot_reads_regenie_files(tmp_path):
    """REGENIE step 2 output (space-separated, one row per test, LOG10P), written
    here from its documented header: only the ADD rows are plotted; a p-value
    below the float64 range written as text (BOLT-LMM's %.1fE%d) is exact."""
    rng = np.random.default_rng(3)
    lines = ["CHROM GENPOS ID ALLELE0 ALLELE1 A1FREQ N TEST BETA SE CHISQ LOG10P EXTRA"]
    log10p = rng.exponential(0.45, 300)
    for k, lp in enumerate(log10p):
        for test in ("ADD", "DOM"):
            lines.append(f"{1 + k // 100} {1000 * (k + 1)} v{k} A G 0.3 500 {test} 0.1 0.05 "
                         f"3.2 {lp:.6g} NA")
    p = tmp_path / "s.regenie"
    p.write_text("\n".join(lines) + "\n")
    r = run_cli(["plot", str(p), "--out", tmp_path / "r"])
    assert r.exit_code == 0, r.output
    log = slurp(tmp_path / "r.plot.log")
    assert "REGENIE format" in log and "300 rows of other tests than ADD" in log
    got = float(re.search(r"lambda_GC (\d\.\d+) over 300 SNPs", log).group(1))
    assert got == pytest.approx(_p_lambda(10.0 ** -np.array([float(f"{v:.6g}")
                                                             for v in log10p])), abs=2e-4)
    bolt = tmp_path / "b.stats"
    bolt.write_text("SNP\tCHR\tBP\tGENPOS\tALLELE1\tALLELE0\tA1FREQ\tF_MISS\tBETA\tSE\t"
                    "P_BOLT_LMM_INF\n"
                    + "".join(f"v{k}\t1\t{100 * (k + 1)}\t0\tA\tG\t0.2\t0\t0.1\t0.01\t5.0E-01\n"
                              for k in range(20))
                    + "vx\t2\t500\t0\tA\tG\t0.2\t0\t0.9\t0.01\t4.1E-400\n")
    r = run_cli(["plot", str(bolt), "--out", tmp_path / "b"])
    assert r.exit_code == 0, r.output
    assert re.search(r"top hit vx chr2:500 -log10 p 399\.387", slurp(tmp_path / "b.plot.log"))
