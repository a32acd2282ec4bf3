"""Nothing lost, nothing silently wrong (issue 12): safe output writing,
signals and full disks, degenerate models, and bad inputs refused with their
numbers.  Each test failed before its fix (run against commit 9a77abe, the
code before this issue's work).
"""

from __future__ import annotations

import errno
import gzip
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import SIM, TESTDATA, TINY, copy_tiny, run_cli, slurp

PHENO = os.path.join(TESTDATA, "sim.pheno")
COVAR = os.path.join(TESTDATA, "sim.covar")
ROOT = os.path.dirname(TESTDATA)


def files(d, prefix=""):
    return sorted(f for f in os.listdir(d) if f.startswith(prefix))


def partials(d):
    return [f for f in os.listdir(d) if ".partial" in f]


def gwaslmm(*args, **kw):
    """The command line in a child process (for signals and concurrency)."""
    env = dict(os.environ, PYTHONPATH=ROOT)
    return subprocess.Popen([sys.executable, "-m", "gwaslmm", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            **kw)


SLOW_ASSOC = ["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--test", "all",
              "--block-size", 16, "--threads", 1]


def wait_for_scan(p, timeout=120):
    """Read the child's stderr until its scan has done 10% (of many small
    blocks): most of the scan is still ahead."""
    t0 = time.time()
    while time.time() - t0 < timeout:
        line = p.stderr.readline()
        if not line:
            raise AssertionError("the run ended before its scan started")
        if re.search(r"scan: variants: \d+/\d+ \((1|2)\d%\)", line):
            return
    raise AssertionError("no scan progress")


# ---------------------------------------------------------------------------
# 1. safe, unique output writing
# ---------------------------------------------------------------------------

def test_the_process_leaves_after_every_output_is_written(tmp_path):
    """The command line leaves by os._exit (skipping the interpreter's
    teardown, 0.2 s with numba loaded) once the command has returned: every
    output, the log's last line and the timings file are on disk, and the
    exit code is the command's."""
    out = tmp_path / "g"
    p = subprocess.run([sys.executable, "-m", "gwaslmm", "grm", "--bfile", TINY, "--out", out],
                       capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 0, p.stderr
    assert files(tmp_path) == ["g.grm.N.bin", "g.grm.bin", "g.grm.id", "g.log",
                               "g.timings.json"]
    n = len(slurp(tmp_path / "g.grm.id").splitlines())
    assert os.path.getsize(tmp_path / "g.grm.bin") == 4 * n * (n + 1) // 2
    assert slurp(tmp_path / "g.log").rstrip().splitlines()[-1].startswith("timings:")
    assert "total" in slurp(tmp_path / "g.timings.json")
    p = subprocess.run([sys.executable, "-m", "gwaslmm", "grm", "--bfile", tmp_path / "none",
                        "--out", tmp_path / "h"], capture_output=True, text=True, timeout=120,
                       env=dict(os.environ, PYTHONPATH=ROOT))
    assert p.returncode == 1 and p.stderr.strip().splitlines()[-1].startswith("gwaslmm: error:")


def test_a_symlink_at_an_output_name_is_not_replaced(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    out = tmp_path / "r"
    os.symlink(target, f"{out}.reml.tsv")
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--chr", "8",
                 "--out", out])
    assert r.exit_code == 2, r.output
    assert re.search(r"r\.reml\.tsv is a symbolic link \(to .*precious\.txt\); gwaslmm does not "
                     r"write through or replace a link", r.output)
    assert os.path.islink(f"{out}.reml.tsv") and target.read_text() == "keep me\n"
    assert not partials(tmp_path)


def test_a_symlink_at_the_log_name_is_not_followed(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me\n")
    os.symlink(target, tmp_path / "g.log")
    r = run_cli(["grm", "--bfile", TINY, "--out", tmp_path / "g"])
    assert r.exit_code == 2 and "g.log is a symbolic link" in r.output
    assert target.read_text() == "keep me\n"


def test_temporary_files_are_unique_and_exclusive(tmp_path):
    from gwaslmm.writers import TableWriter

    path = str(tmp_path / "x.assoc.tsv")
    a, b = TableWriter(path, ["c"]), TableWriter(path, ["c"])
    assert a.tmp != b.tmp and path + ".partial" not in (a.tmp, b.tmp)
    a.write_lines(["1\n"])
    b.write_lines(["2\n", "3\n"])
    b.finish(expected_rows=2)
    a.finish(expected_rows=1)
    assert slurp(path) == "c\n1\n" and not partials(tmp_path)


def test_two_runs_on_one_prefix_the_second_refuses(tmp_path):
    out = tmp_path / "same"
    first = gwaslmm(*SLOW_ASSOC, "--out", out)
    wait_for_scan(first)
    second = gwaslmm("grm", "--bfile", SIM, "--out", out)
    _, err2 = second.communicate(timeout=120)
    _, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode == 2
    assert re.search(r"another gwaslmm run is writing the outputs .*same\.\* \(pid \d+ on ", err2)
    assert not os.path.exists(f"{out}.grm.bin")
    assert "wrote" in slurp(f"{out}.log") and "SNPs tested: 9559" in slurp(f"{out}.log")
    assert not os.path.exists(f"{out}.lock") and not partials(tmp_path)


def test_chunk_jobs_have_their_own_logs_and_timings(tmp_path):
    for k in (1, 2):
        r = run_cli(["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--fast",
                     "--chr", "8", "--chunk", f"{k}/2", "--out", tmp_path / "c"])
        assert r.exit_code == 0, r.output
    for k in (1, 2):
        assert f"--chunk {k}/2" in slurp(tmp_path / f"c.chunk{k}of2.log")
        assert os.path.exists(tmp_path / f"c.chunk{k}of2.timings.json")
    assert not os.path.exists(tmp_path / "c.log")


# ---------------------------------------------------------------------------
# 2. faults: signals, full disks, unwritable places
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_is_handled_like_ctrl_c(tmp_path, sig):
    out = tmp_path / "t"
    p = gwaslmm(*SLOW_ASSOC, "--out", out)
    wait_for_scan(p)
    p.send_signal(sig)
    _, err = p.communicate(timeout=120)
    assert p.returncode == 128 + sig, err
    name = signal.Signals(sig).name
    assert "no complete output was written" in err
    log = slurp(f"{out}.log")
    want = "stopped: SIGTERM received" if sig == signal.SIGTERM else "stopped: interrupted"
    assert want in log, log[-500:]
    left = files(tmp_path)
    assert left == ["t.log"], (name, left)


def test_sigkill_leaves_no_file_with_a_final_name(tmp_path):
    out = tmp_path / "k"
    p = gwaslmm(*SLOW_ASSOC, "--out", out)
    wait_for_scan(p)
    p.kill()
    p.communicate(timeout=60)
    left = files(tmp_path)
    # the log and the run's lock (released by the system), perhaps a temporary
    # file under its unique '.partial.' name: never a result under its final name
    assert not [f for f in left if f.endswith((".gz", ".yaml", ".tsv", ".json", ".png"))], left
    r = run_cli(["grm", "--bfile", TINY, "--out", out])  # the lock died with the process
    assert r.exit_code == 0, r.output


def test_disk_full_is_one_line_naming_the_file(tmp_path, monkeypatch):
    real = gzip.GzipFile.write
    state = {"n": 0}

    def full(self, data):
        state["n"] += 1
        if state["n"] > 3:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real(self, data)

    monkeypatch.setattr(gzip.GzipFile, "write", full)
    r = run_cli(["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--fast",
                 "--block-size", 100, "--out", tmp_path / "d"])
    assert r.exit_code == 1, r.output
    assert re.search(r"gwaslmm: error: cannot write .*d\.assoc\.tsv\.gz: No space left on device "
                     r"\(the disk or quota is full\)", r.output)
    assert files(tmp_path) == ["d.log"] and not partials(tmp_path)


def test_save_null_failure_leaves_no_partial_npz(tmp_path, monkeypatch):
    def full(*a, **k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(np, "savez", full)
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--chr", "8",
                 "--save-null", tmp_path / "n", "--out", tmp_path / "r"])
    assert r.exit_code == 1 and "cannot write" in r.output and "n.null.npz" in r.output
    assert not partials(tmp_path) and not os.path.exists(tmp_path / "n.null.npz")


def test_a_folder_where_an_output_file_should_be(tmp_path):
    os.mkdir(tmp_path / "f.grm.bin")
    r = run_cli(["grm", "--bfile", TINY, "--out", tmp_path / "f"])
    assert r.exit_code == 2, r.output
    assert re.search(r"cannot write .*f\.grm\.bin: Is a directory", r.output)
    assert not partials(tmp_path)


def test_a_file_where_the_output_folder_should_be(tmp_path):
    """--out under a path whose folder is a file: named as such (os.makedirs
    alone says only 'File exists', which points at the wrong thing)."""
    (tmp_path / "prof").write_text("x")
    r = run_cli(["grm", "--bfile", TINY, "--out", tmp_path / "prof" / "sub" / "run"])
    assert r.exit_code == 2, r.output
    assert re.search(r"cannot write .*run\.lock: \S*/prof is a file, not a folder", r.output), r.output
    assert (tmp_path / "prof").read_text() == "x"


def test_an_unwritable_folder_is_named(tmp_path):
    import tempfile

    try:
        fd, p = tempfile.mkstemp(dir="/sys")
    except OSError:
        pass
    else:  # not a system that refuses writes here
        os.close(fd)
        os.unlink(p)
        pytest.skip("/sys is writable here")
    r = run_cli(["grm", "--bfile", TINY, "--out", "/sys/gwaslmm_run"])
    assert r.exit_code == 2 and re.search(r"cannot write /sys/gwaslmm_run\.\S+: Permission denied",
                                          r.output), r.output


# ---------------------------------------------------------------------------
# 3. no silently wrong answers
# ---------------------------------------------------------------------------

def scaled_pheno(tmp_path, factor=1.0, col=None):
    lines = slurp(PHENO).splitlines()
    out = [lines[0]]
    for ln in lines[1:]:
        f = ln.split("\t")
        if col is not None:
            f[2] = col(f)
        elif f[2] != "NA":
            f[2] = repr(float(f[2]) * factor)
        out.append("\t".join(f))
    p = tmp_path / "p.tsv"
    p.write_text("\n".join(out) + "\n")
    return p


@pytest.mark.parametrize("factor", [1e300, 1e160, 1e-160])
def test_phenotype_on_an_unusable_scale_is_an_error(tmp_path, factor):
    p = scaled_pheno(tmp_path, factor)
    for cmd in (["reml"], ["assoc", "--fast"]):
        r = run_cli([*cmd, "--bfile", SIM, "--pheno", p, "--pheno-name", "trait", "--chr", "8",
                     "--out", tmp_path / "s"])
        assert r.exit_code == 1, r.output
        assert re.search(r"phenotype 'trait' is on a scale the likelihood cannot be evaluated at "
                         r"\(standard deviation \S+, largest \|value\| \S+", r.output)
        assert not os.path.exists(tmp_path / "s.assoc.tsv.gz")


def test_phenotype_explained_by_the_covariates_is_an_error(tmp_path):
    """y = 2.5 age + 0.3 bmi - 1: no covariate equals it, their combination does."""
    cov = {" ".join(ln.split("\t")[:2]): ln.split("\t")[2:4]
           for ln in slurp(COVAR).splitlines()[1:]}

    def combo(f):
        age, bmi = cov[f[0] + " " + f[1]]
        return "NA" if "NA" in (age, bmi) else repr(2.5 * float(age) + 0.3 * float(bmi) - 1)

    p = scaled_pheno(tmp_path, col=combo)
    for cmd in (["reml"], ["assoc"], ["assoc", "--fast"]):
        r = run_cli([*cmd, "--bfile", SIM, "--pheno", p, "--pheno-name", "trait", "--covar", COVAR,
                     "--chr", "8", "--out", tmp_path / "e"])
        assert r.exit_code == 1, (cmd, r.output)
        assert "phenotype 'trait' is explained by the covariates" in r.output


def test_too_many_covariate_columns_for_the_samples_fails_at_once(tmp_path):
    """A categorical with one level per sample: refused before any heavy work,
    with the counts (n - c = 0)."""
    cov = tmp_path / "c.txt"
    cov.write_text("".join(f"{ln.split()[0]} {ln.split()[1]} L{k}\n"
                           for k, ln in enumerate(slurp(TINY + ".fam").splitlines())))
    t0 = time.time()
    r = run_cli(["reml", "--bfile", TINY, "--covar", cov, "--out", tmp_path / "n"])
    assert r.exit_code == 1 and time.time() - t0 < 30
    assert re.search(r"19 covariate columns \(intercept and dummies included\) but only 19 "
                     r"analysed samples: n - c = 0", r.output), r.output


def test_collinearity_is_one_factorization(monkeypatch):
    """The covariate check factorizes W once instead of solving least squares
    per column (248 s for a 500-level categorical before)."""
    from gwaslmm.design import check_covariates

    calls = {"qr": 0}
    real = np.linalg.qr

    def counting(*a, **k):
        calls["qr"] += 1
        return real(*a, **k)

    monkeypatch.setattr(np.linalg, "qr", counting)
    monkeypatch.setattr(np.linalg, "lstsq", lambda *a, **k: (_ for _ in ()).throw(
        AssertionError("lstsq per column")))
    n = 1500
    lev = np.arange(n) % 500
    W = np.column_stack([np.ones(n), np.sin(np.arange(n))]
                        + [(lev == v).astype(float) for v in range(1, 500)])
    check_covariates(W, [f"c{k}" for k in range(W.shape[1])])
    assert calls["qr"] == 1


def _plink(tmp_path, n, name="p"):
    """A PLINK fileset of n samples (genotypes from testdata/tiny, recycled)."""
    from gwaslmm.genotypes.plink1 import BedFile, read_bim, write_plink

    bed = BedFile(TINY)
    X = bed.read(None, slice(None))
    bed.close()
    g = np.where(np.isnan(X), -127, X).astype(np.int8)
    g = np.vstack([g, g])[:n]
    g[g < 0] = 1
    bim = read_bim(TINY + ".bim")
    p = str(tmp_path / name)
    ids = [f"S{i}" for i in range(n)]
    write_plink(p, g, ids, ids, ["0"] * n, ["0"] * n, ["1"] * n, list(np.arange(n) * 0.1),
                bim.chromosome, bim.snp, bim.cm, bim.bp, bim.a1, bim.a2)
    return p


@pytest.mark.parametrize("drop", ["middle", "last"])
def test_a_fam_that_lost_a_line_is_caught_by_the_padding(tmp_path, drop):
    """22 samples written, one .fam line lost: the .bed keeps its size (6 bytes
    per variant either way), and the lost sample's genotype sits in the
    padding bits, which must be zero."""
    p = _plink(tmp_path, 22)
    lines = slurp(p + ".fam").splitlines()
    del lines[10 if drop == "middle" else -1]
    (tmp_path / "p.fam").write_text("\n".join(lines) + "\n")
    r = run_cli(["grm", "--bfile", p, "--out", tmp_path / "g"])
    assert r.exit_code == 1, r.output
    assert re.search(r"the padding bits after the last of the 21 samples are not zero in \d+ of "
                     r"12 variants checked .* more samples than the \.fam lists", r.output)


def test_boundary_estimates_are_marked_without_a_standard_error(tmp_path):
    rng = np.random.default_rng(3)
    p = scaled_pheno(tmp_path, col=lambda f: repr(float(rng.normal())))
    r = run_cli(["reml", "--bfile", SIM, "--pheno", p, "--pheno-name", "trait", "--out",
                 tmp_path / "b"])
    assert r.exit_code == 0, r.output
    head, row = slurp(tmp_path / "b.reml.tsv").splitlines()
    t = dict(zip(head.split("\t"), row.split("\t")))
    assert t["boundary"] == "lower" and t["h2_se"] == "NA" and float(t["h2"]) < 1e-3
    assert "so h2 has no standard error" in slurp(tmp_path / "b.log")


# ---------------------------------------------------------------------------
# 4. inputs
# ---------------------------------------------------------------------------

def test_a_utf8_bom_is_stripped_everywhere(tmp_path):
    p = copy_tiny(tmp_path)
    for ext in ("fam", "bim"):
        f = tmp_path / f"t.{ext}"
        f.write_bytes(b"\xef\xbb\xbf" + f.read_bytes())
    keep = tmp_path / "keep.txt"
    keep.write_bytes(b"\xef\xbb\xbfF0 S0\nF0 S1\nF1 S2\nF1 S3\nF2 S4\nF2 S5\nF3 S6\nF3 S7\n"
                     b"F4 S8\nF4 S9\nF5 S10\n")
    ex = tmp_path / "ex.txt"
    first_snp = slurp(TINY + ".bim").split()[1]
    ex.write_bytes(b"\xef\xbb\xbf" + first_snp.encode() + b"\n")
    r = run_cli(["grm", "--bfile", p, "--keep", keep, "--exclude", ex, "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    log = slurp(tmp_path / "g.log")
    assert "--keep: 11 IDs, 11 in t.fam" in log
    assert "--exclude: 1 IDs listed; removed 1" in log
    assert slurp(tmp_path / "g.grm.id").splitlines()[0] == "F0\tS0"


def test_duplicate_variant_ids_are_reported(tmp_path):
    p = copy_tiny(tmp_path)
    lines = slurp(p + ".bim").splitlines()
    dup = lines[0].split("\t")[1]
    f = lines[1].split("\t")
    f[1] = dup
    lines[1] = "\t".join(f)
    (tmp_path / "t.bim").write_text("\n".join(lines) + "\n")
    (tmp_path / "x.txt").write_text(dup + "\n")
    r = run_cli(["grm", "--bfile", p, "--extract", tmp_path / "x.txt", "--maf", "0",
                 "--out", tmp_path / "g"])
    assert r.exit_code == 0, r.output
    log = slurp(tmp_path / "g.log")
    assert f"note: 1 variant ID(s) appear more than once (first: {dup}, 2 times)" in log
    assert f"1 listed ID(s) name several variants, all kept (first: {dup}, 2 variants)" in log


def test_negative_positions_are_refused(tmp_path):
    p = copy_tiny(tmp_path)
    lines = slurp(p + ".bim").splitlines()
    f = lines[2].split("\t")
    f[3] = "-5"
    lines[2] = "\t".join(f)
    (tmp_path / "t.bim").write_text("\n".join(lines) + "\n")
    r = run_cli(["grm", "--bfile", p, "--out", tmp_path / "g"])
    assert r.exit_code == 1
    assert re.search(r"1 variant\(s\) have a negative base-pair position \(first: \S+ at line 3, "
                     r"-5\)", r.output)


def test_plink2_single_id_files(tmp_path):
    """'#IID' tables and lists match on IID alone (PLINK 2 writes them)."""
    fam = [ln.split() for ln in slurp(SIM + ".fam").splitlines()]
    ph = {f"{a} {b}": v for a, b, v in (ln.split("\t")[:3] for ln in slurp(PHENO).splitlines()[1:])}
    (tmp_path / "p.tsv").write_text("#IID\ttrait\n" + "".join(
        f"{f[1]}\t{ph[f[0] + ' ' + f[1]]}\n" for f in fam))
    (tmp_path / "k.txt").write_text("#IID\n" + "".join(f"{f[1]}\n" for f in fam[:900]))
    r = run_cli(["reml", "--bfile", SIM, "--pheno", tmp_path / "p.tsv", "--keep",
                 tmp_path / "k.txt", "--chr", "8", "--out", tmp_path / "a"])
    assert r.exit_code == 0, r.output
    (tmp_path / "k2.txt").write_text("".join(f"{f[0]} {f[1]}\n" for f in fam[:900]))
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--keep",
                 tmp_path / "k2.txt", "--chr", "8", "--out", tmp_path / "b"])
    assert r.exit_code == 0, r.output
    a, b = slurp(tmp_path / "a.reml.tsv"), slurp(tmp_path / "b.reml.tsv")
    assert a.splitlines()[1].split("\t")[1:] == b.splitlines()[1].split("\t")[1:]


@pytest.mark.parametrize("args,pattern", [
    (["--threads", "0"], r"--threads"), (["--threads", "-2"], r"--threads"),
    (["--memory-gb", "0"], r"--memory-gb"), (["--memory-gb", "nan"], r"not a finite number"),
    (["--memory-gb", "-1"], r"--memory-gb"), (["--mac", "-1"], r"--mac"),
    (["--mac", "nan"], r"not a finite number"), (["--maf", "inf"], r"not a finite number"),
    (["--block-size", "0"], r"--block-size"), (["--top", "-1"], r"--top"),
    (["--out", "."], r"--out '\.' names a folder"),
])
def test_absurd_option_values_are_one_line(tmp_path, args, pattern):
    base = ["assoc", "--bfile", TINY, "--out", str(tmp_path / "o")]
    if "--out" in args:
        base = base[:-2]
    r = run_cli(base + args)
    assert r.exit_code == 2, r.output
    assert re.search(pattern, r.output) and "Traceback" not in r.output


def test_out_naming_a_folder_is_refused(tmp_path):
    (tmp_path / "d").mkdir()
    for out in (tmp_path / "d", f"{tmp_path}/d/", ""):
        r = run_cli(["grm", "--bfile", TINY, "--out", out])
        assert r.exit_code == 2 and "names a folder" in r.output, (out, r.output)
    assert files(tmp_path / "d") == []


def test_the_thread_count_logged_is_the_one_used(tmp_path, monkeypatch):
    import gwaslmm.genotypes.plink1 as p1

    seen = []
    real = p1.BedFile.__init__

    def spy(self, prefix, num_threads=None):
        seen.append(num_threads)
        real(self, prefix, num_threads)

    monkeypatch.setattr(p1.BedFile, "__init__", spy)
    r = run_cli(["grm", "--bfile", TINY, "--threads", "1000", "--out", tmp_path / "t"])
    assert r.exit_code == 0, r.output
    k = int(re.search(r"threads: (\d+) \(--threads 1000: more than", slurp(tmp_path / "t.log"))
            .group(1))
    assert seen == [k] and k < 1000


# ---------------------------------------------------------------------------
# 5. merge
# ---------------------------------------------------------------------------

@pytest.fixture()
def chunks(tmp_path):
    """Chunks of runs on one saved null model: c with --maf 0.01, m with 0.05."""
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--chr", "8",
                 "--save-null", tmp_path / "n", "--out", tmp_path / "n"])
    assert r.exit_code == 0, r.output
    for k, maf in ((1, "0.01"), (2, "0.01"), (2, "0.05")):
        out = tmp_path / ("c" if maf == "0.01" else "m")
        r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--fast", "--chr", "7-8",
                     "--maf", maf, "--chunk", f"{k}/2", "--out", out])
        assert r.exit_code == 0, r.output
    return tmp_path


def test_merge_refuses_chunks_with_other_settings(chunks):
    r = run_cli(["merge", chunks / "c.chunk1of2.assoc.tsv.gz", chunks / "m.chunk2of2.assoc.tsv.gz",
                 "--out", chunks / "x"])
    assert r.exit_code == 1 and "(run_settings differ): chunks must come from the same " \
        "null model and settings" in r.output, r.output


def test_merge_checks_row_counts_and_metadata(chunks):
    f = chunks / "c.chunk2of2.assoc.tsv.gz"
    lines = slurp(f).splitlines()
    with gzip.open(f, "wt") as fh:
        fh.write("\n".join(lines[:-5]) + "\n")
    r = run_cli(["merge", str(chunks / "c.chunk*of2.assoc.tsv.gz"), "--out", chunks / "x"])
    assert r.exit_code == 1 and re.search(r"has \d+ rows but its metadata says \d+", r.output)
    meta = chunks / "c.chunk1of2.assoc.tsv.gz-meta.yaml"
    meta.write_text(slurp(meta).replace('chunk: "1/2"', 'chunk: "one of two"'))
    r = run_cli(["merge", str(chunks / "c.chunk*of2.assoc.tsv.gz"), "--out", chunks / "x"])
    assert r.exit_code == 1 and "is malformed" in r.output, r.output


def test_merge_refuses_to_overwrite_an_input(chunks):
    r = run_cli(["merge", str(chunks / "c.chunk*of2.assoc.tsv.gz"), "--out",
                 chunks / "c.chunk1of2"])
    assert r.exit_code == 2 and "would overwrite its input" in r.output, r.output


# ---------------------------------------------------------------------------
# 6. messages that point at the cause
# ---------------------------------------------------------------------------

def test_all_missing_phenotype_says_so(tmp_path):
    p = scaled_pheno(tmp_path, col=lambda f: "NA")
    r = run_cli(["reml", "--bfile", SIM, "--pheno", p, "--pheno-name", "trait", "--covar", COVAR,
                 "--out", tmp_path / "a"])
    assert r.exit_code == 1
    assert "phenotype trait is missing (NA, -9 or a missing code) in all 1000 samples" in r.output


@pytest.mark.parametrize("value,what", [("nan", "nan"), ("1e400", "inf")])
def test_non_finite_gemma_kinship_says_so(tmp_path, value, what):
    n = 20
    K = np.eye(n)
    txt = "\n".join("\t".join(f"{v:.6g}" for v in row) for row in K).splitlines()
    row = txt[3].split("\t")
    row[5] = value
    txt[3] = "\t".join(row)
    (tmp_path / "k.txt").write_text("\n".join(txt) + "\n")
    r = run_cli(["reml", "--bfile", TINY, "--kinship", tmp_path / "k.txt", "--out", tmp_path / "r"])
    assert r.exit_code == 1
    assert re.search(rf"has 1 non-finite entries .* first at row 4, column 6: {what}", r.output), \
        r.output


def test_overflowing_covariate_is_named(tmp_path):
    cov = tmp_path / "c.txt"
    cov.write_text("".join(f"{ln.split()[0]} {ln.split()[1]} {1e300 * (k + 1):.6g}\n"
                           for k, ln in enumerate(slurp(TINY + ".fam").splitlines())))
    r = run_cli(["reml", "--bfile", TINY, "--covar", cov, "--out", tmp_path / "o"])
    assert r.exit_code == 1
    assert "covariate 'COVAR1' overflows (values up to" in r.output, r.output


# ---------------------------------------------------------------------------
# found in review: permissions, reproducible bytes, conflicting options
# ---------------------------------------------------------------------------

def test_outputs_get_the_usual_permissions(tmp_path):
    """Temporary files are created private (0600); the finished outputs get
    what the umask gives any new file, so a project group can read them."""
    old = os.umask(0o022)
    try:
        r = run_cli(["grm", "--bfile", TINY, "--out", tmp_path / "g"])
    finally:
        os.umask(old)
    assert r.exit_code == 0, r.output
    for f in ("g.grm.bin", "g.grm.N.bin", "g.grm.id", "g.log", "g.timings.json"):
        assert oct(os.stat(tmp_path / f).st_mode & 0o777) == oct(0o644), f


def test_gzip_outputs_are_byte_reproducible_and_merge_equals_a_single_run(tmp_path):
    """Two runs, and the merge of three chunks, all with --out .../r: the same bytes
    (the gzip header holds the final name, not a temporary one, and no time)."""
    args = ["assoc", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--fast",
            "--chr", "8"]
    for d in ("x", "y"):
        r = run_cli([*args, "--out", tmp_path / d / "r"])
        assert r.exit_code == 0, r.output
    for k in (1, 2, 3):
        r = run_cli([*args, "--chunk", f"{k}/3", "--out", tmp_path / "c" / "r"])
        assert r.exit_code == 0, r.output
    r = run_cli(["merge", str(tmp_path / "c" / "r.chunk*of3.assoc.tsv.gz"), "--out",
                 tmp_path / "z" / "r"])
    assert r.exit_code == 0, r.output
    raw = [(tmp_path / d / "r.assoc.tsv.gz").read_bytes() for d in "xyz"]
    assert raw[0] == raw[1] == raw[2]
    assert b"r.assoc.tsv\x00" in raw[0][:40] and b".partial" not in raw[0][:40]
    assert slurp(tmp_path / "z" / "r.assoc.tsv.gz-meta.yaml").count("loco: false") == 1


def test_a_rounded_copy_of_the_phenotype_is_not_a_covariate(tmp_path):
    """The phenotype's values printed to 5 digits as a covariate (as a .fam's
    phenotype column against the table it came from): the same variable,
    refused (it gave sigma_g2 3e-17, exit 0)."""
    ph = {" ".join(ln.split("\t")[:2]): ln.split("\t")[2] for ln in slurp(PHENO).splitlines()[1:]}
    cov = tmp_path / "c.txt"
    cov.write_text("FID IID copy\n" + "".join(
        f"{k} {'NA' if v == 'NA' else format(float(v), '.5g')}\n" for k, v in ph.items()))
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--covar",
                 cov, "--chr", "8", "--out", tmp_path / "r"])
    assert r.exit_code == 1
    assert re.search(r"covariate 'copy' is, up to rounding \(1 - r\^2 = \S+\), a linear "
                     r"function of phenotype 'trait'", r.output), r.output


def test_all_pheno_with_a_name_or_column_is_refused(tmp_path):
    for extra in (["--pheno-name", "trait2"], ["--pheno-col", "2"]):
        r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--all-pheno", *extra, "--out",
                     tmp_path / "r"])
        assert r.exit_code == 2 and "--all-pheno takes every phenotype column" in r.output


def test_null_loco_checks_every_chromosome_first(tmp_path):
    r = run_cli(["reml", "--bfile", SIM, "--pheno", PHENO, "--pheno-name", "trait", "--chr",
                 "7-8", "--loco", "--save-null", tmp_path / "n", "--out", tmp_path / "n"])
    assert r.exit_code == 0, r.output
    r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--loco", "--chr", "6-8",
                 "--out", tmp_path / "a"])
    assert r.exit_code == 1
    assert "1 of the 3 chromosomes to scan have no saved null model" in r.output
    assert "scan chr" not in slurp(tmp_path / "a.log")
    r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--out", tmp_path / "b"])
    assert r.exit_code == 1 and "files exist (reml --loco --save-null): use them with --loco" \
        in r.output
    r = run_cli(["assoc", "--bfile", SIM, "--null", tmp_path / "n", "--loco", "--save-eigen",
                 "--out", tmp_path / "c"])
    assert r.exit_code == 2 and "drop --save-eigen" in r.output


def test_an_option_value_that_looks_like_an_option(tmp_path):
    """--keep --chr reads a file named '--chr' (as click does): with --chr given
    once more, that is not '--chr given twice'."""
    r = run_cli(["grm", "--bfile", TINY, "--keep", "--chr", "--maf", "0.01", "--chr", "1",
                 "--out", tmp_path / "g"])
    assert r.exit_code == 1 and "--keep file not found: --chr" in r.output, r.output


@pytest.mark.parametrize("opt", ["--pheno", "--covar", "--extract", "--keep", "--kinship",
                                 "--model-snps"])
def test_a_folder_given_as_an_input_file(tmp_path, opt):
    """A folder where an input file belongs is named as such on one line with
    exit code 1 (it was an internal IsADirectoryError for the tables and the
    GEMMA kinship)."""
    os.mkdir(tmp_path / "d")
    args = ["assoc", "--bfile", SIM, "--out", tmp_path / "r"]
    if opt != "--pheno":
        args += ["--pheno", PHENO, "--pheno-name", "trait"]
    r = run_cli(args + [opt, tmp_path / "d"])
    assert r.exit_code == 1, r.output
    assert re.search(r"^gwaslmm: error: .*d is a folder, not a file$", r.output.strip(),
                     re.M), r.output
    assert "internal error" not in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("kind", ["bed", "pgen", "psam", "bgen"])
def test_a_folder_in_a_genotype_fileset(tmp_path, kind):
    """A genotype file that is a folder: one error line naming it, exit 1."""
    p = tmp_path / "g"
    if kind == "bed":
        os.mkdir(f"{p}.bed")
        for ext in ("bim", "fam"):
            shutil.copy(f"{TINY}.{ext}", f"{p}.{ext}")
        args = ["--bfile", p]
    elif kind == "bgen":
        os.mkdir(f"{p}.bgen")
        args = ["--bgen", f"{p}.bgen"]
    else:
        (tmp_path / "g.pvar").write_text("#CHROM\tPOS\tID\tREF\tALT\n1\t1\tr\tA\tG\n")
        (tmp_path / "g.psam").write_text("#FID\tIID\nA\tB\n")
        (tmp_path / "g.pgen").write_bytes(b"")
        os.remove(tmp_path / f"g.{kind}")
        os.mkdir(tmp_path / f"g.{kind}")
        args = ["--pfile", p]
    r = run_cli(["grm", *args, "--out", tmp_path / "r"])
    assert r.exit_code == 1, r.output
    assert re.search(rf"^gwaslmm: error: .*g\.{kind} is a folder, not a file$", r.output.strip(),
                     re.M), r.output
