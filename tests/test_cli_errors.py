"""CLI bad-input behaviour (STYLE.md test layers 6 and 7).

Every bad input must end the run with exactly one error line on stderr,
``gwaslmm: error: <message>`` (no traceback), as the last thing written,
exit code 1 for bad data and 2 for bad usage, and must leave no output file
that looks complete (only the run log ``OUT.log`` and ``OUT.timings.json``
may exist; no ``OUT.assoc.tsv.gz``, ``OUT.grm.bin``, metadata or
``.partial`` leftovers).  Each case is matched on a distinctive part of its
message.

The commands run in-process through click's CliRunner on tiny filesets
(20 samples x 12 SNPs, copied and corrupted in ``tmp_path``) so every case
fails in input parsing or on a 20 x 20 problem; one case per exit code also
runs as a real subprocess (``python -m gwaslmm``) to see the stderr a user sees.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

from conftest import copy_tiny, rewrite_line
from click.testing import CliRunner

from gwaslmm_cli.main import cli
from gwaslmm.genotypes.plink1 import BedFile, read_bim, read_fam, write_plink

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = os.path.join(ROOT, "testdata", "tiny")
TINY_N, TINY_M = 20, 12
TINY_FID = [f"F{i // 2}" for i in range(TINY_N)]
TINY_IID = [f"S{i}" for i in range(TINY_N)]

# What a failed run may leave next to OUT: the run log and the timings.
ALLOWED_AFTER_ERROR = {".log", ".timings.json"}


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

def write_text(path, text: str) -> str:
    with open(path, "w") as fh:
        fh.write(text)
    return str(path)


def tiny_table(tmp_path, name, header, columns: dict, sep=" ") -> str:
    """FID IID table over the tiny samples; columns: name -> per-sample values."""
    names = list(columns)
    lines = [sep.join(header + names)] if header else []
    for i in range(TINY_N):
        lines.append(sep.join([TINY_FID[i], TINY_IID[i]] + [str(columns[nm][i]) for nm in names]))
    return write_text(tmp_path / name, "\n".join(lines) + "\n")


def out_prefix(tmp_path) -> str:
    d = tmp_path / "out"
    d.mkdir(exist_ok=True)
    return str(d / "run")


def leftovers(out: str) -> list:
    d, base = os.path.split(out)
    if not os.path.isdir(d):
        return []
    return sorted(f for f in os.listdir(d) if f.startswith(base))


def assert_no_complete_output(out: str) -> None:
    base = os.path.basename(out)
    # a --chunk K/N job has its own log: OUT.chunkKofN.log
    extra = [f for f in leftovers(out)
             if re.sub(r"^\.chunk\d+of\d+", "", f[len(base):]) not in ALLOWED_AFTER_ERROR]
    assert not extra, f"a failed run left output behind: {extra}"


def invoke(args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def error_line(stderr: str, stdout: str = "") -> str:
    """The single 'gwaslmm: error:' line, which must be the last line of stderr."""
    assert "Traceback" not in stderr and "Traceback" not in stdout
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("gwaslmm: error:")]
    assert len(errs) == 1, f"expected one error line, got: {errs!r}\n{stderr}"
    assert lines[-1] == errs[0], f"the error is not the last line of stderr:\n{stderr}"
    assert "gwaslmm: error" not in stdout
    return errs[0]


def check_failure(result, code: int, pattern: str, out: str) -> str:
    line = error_line(result.stderr, result.stdout)
    assert result.exit_code == code, (result.exit_code, line)
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert re.search(pattern, line), f"{pattern!r} not in {line!r}"
    assert_no_complete_output(out)
    return line


# ---------------------------------------------------------------------------
# fixtures for the cases: each returns the argument list (without --out)
# ---------------------------------------------------------------------------

def case_truncated_bed(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bed", "r+b") as fh:
        fh.truncate(40)
    return ["grm", "--bfile", p]


def case_wrong_magic(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bed", "r+b") as fh:
        fh.write(b"\x00\x00")
    return ["grm", "--bfile", p]


def case_bim_count_mismatch(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".bim", "a") as fh:
        fh.write("1\tv99\t0\t99999\tA\tG\n")
    return ["grm", "--bfile", p]


def case_fam_count_mismatch(tmp_path):
    p = copy_tiny(tmp_path)
    with open(p + ".fam", "a") as fh:
        fh.write("F99 S99 0 0 1 1.0\n")
    return ["assoc", "--bfile", p]


def case_duplicate_ids(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 6, "F0 S1 0 0 2 0.5")
    return ["grm", "--bfile", p]


def case_missing_bed_grm(tmp_path):
    p = copy_tiny(tmp_path)
    os.remove(p + ".bed")
    return ["grm", "--bfile", p]


def case_missing_bed_assoc(tmp_path):
    return ["assoc", "--bfile", str(tmp_path / "nowhere")]


def case_non_numeric_fam_pheno(tmp_path):
    p = copy_tiny(tmp_path)
    rewrite_line(p + ".fam", 3, "F1 S2 0 0 1 abc")
    return ["assoc", "--bfile", p]


def case_non_numeric_pheno_file(tmp_path):
    y = [str(i) for i in range(TINY_N)]
    y[7] = "high"
    ph = tiny_table(tmp_path, "p.txt", ["FID", "IID"], {"y": y})
    return ["assoc", "--bfile", TINY, "--pheno", ph]


def case_pheno_zero_overlap(tmp_path):
    ph = write_text(tmp_path / "p.txt", "FID IID y\n" + "".join(f"Z{i} Q{i} {i}\n"
                                                                  for i in range(12)))
    return ["assoc", "--bfile", TINY, "--pheno", ph]


def case_pheno_file_missing(tmp_path):
    return ["assoc", "--bfile", TINY, "--pheno", str(tmp_path / "nope.pheno")]


def case_constant_pheno(tmp_path):
    ph = tiny_table(tmp_path, "p.txt", ["FID", "IID"], {"y": ["1.0"] * TINY_N})
    return ["assoc", "--bfile", TINY, "--pheno", ph]


def case_constant_pheno_custom_missing_code(tmp_path):
    """With --missing-code -999 the -999 rows are missing, the rest is constant
    (so this also checks that a custom code reaches the join from the CLI)."""
    y = ["3"] * TINY_N
    for i in (0, 5, 9):
        y[i] = "-999"
    ph = tiny_table(tmp_path, "p.txt", ["FID", "IID"], {"y": y}, sep="\t")
    return ["assoc", "--bfile", TINY, "--pheno", ph, "--missing-code", "-999"]


def case_pheno_name_missing(tmp_path):
    ph = tiny_table(tmp_path, "p.txt", ["FID", "IID"], {"y": list(range(TINY_N))})
    return ["assoc", "--bfile", TINY, "--pheno", ph, "--pheno-name", "height"]


def case_pheno_col_out_of_range(tmp_path):
    ph = tiny_table(tmp_path, "p.txt", ["FID", "IID"], {"y": list(range(TINY_N))})
    return ["assoc", "--bfile", TINY, "--pheno", ph, "--pheno-col", "4"]


def case_pheno_name_without_pheno(tmp_path):
    return ["assoc", "--bfile", TINY, "--pheno-name", "y"]


def _covar_case(tmp_path, columns, extra=()):
    cv = tiny_table(tmp_path, "c.txt", ["FID", "IID"], columns)
    return ["assoc", "--bfile", TINY, "--covar", cv, *extra]


def case_categorical_one_level(tmp_path):
    return _covar_case(tmp_path, {"age": [30 + i for i in range(TINY_N)],
                                  "batch": ["b1"] * TINY_N})


def case_collinear_covariates(tmp_path):
    age = [20 + i for i in range(TINY_N)]
    return _covar_case(tmp_path, {"age": age, "months": [12 * a for a in age]})


def case_constant_covariate(tmp_path):
    return _covar_case(tmp_path, {"age": [30 + i for i in range(TINY_N)], "site": [5] * TINY_N})


def case_cat_covar_unknown(tmp_path):
    return _covar_case(tmp_path, {"age": [30 + i for i in range(TINY_N)]}, ["--cat-covar", "sex"])


def case_duplicated_categorical_covariate(tmp_path):
    """Two categorical columns with the same grouping: the dummy of the second is
    named in the collinearity error."""
    return _covar_case(tmp_path, {"bmi": [f"{20 + i}" for i in range(TINY_N)],
                                  "grp": ["a", "b"] * (TINY_N // 2),
                                  "grp2": ["u", "v"] * (TINY_N // 2)})


def case_keep_no_overlap_grm(tmp_path):
    keep = write_text(tmp_path / "keep.txt", "X 1\nX 2\n")
    return ["grm", "--bfile", TINY, "--keep", keep]


def case_keep_no_overlap_assoc(tmp_path):
    keep = write_text(tmp_path / "keep.txt", "FID IID\nX 1\n")
    return ["assoc", "--bfile", TINY, "--keep", keep]


def case_remove_everyone(tmp_path):
    rm = write_text(tmp_path / "rm.txt", "".join(f"{f} {i}\n" for f, i in zip(TINY_FID, TINY_IID)))
    return ["grm", "--bfile", TINY, "--remove", rm]


def case_chunk_malformed(tmp_path):
    return ["assoc", "--bfile", TINY, "--chunk", "abc"]


def case_chunk_zero(tmp_path):
    return ["assoc", "--bfile", TINY, "--chunk", "0/3"]


def case_chunk_too_many(tmp_path):
    return ["assoc", "--bfile", TINY, "--chunk", "1/100"]


def case_chr_nothing_left(tmp_path):
    return ["grm", "--bfile", TINY, "--chr", "22"]


def case_chr_backwards(tmp_path):
    return ["grm", "--bfile", TINY, "--chr", "5-1"]


def case_maf_out_of_range_assoc(tmp_path):
    """Fails after the result writer has been opened: its .partial must be gone."""
    return ["assoc", "--bfile", TINY, "--maf", "0.7"]


def case_no_snp_passes_qc_assoc(tmp_path):
    """Fails while building the kinship, inside the result writer's lifetime."""
    return ["assoc", "--bfile", TINY, "--mac", "1000"]


def case_no_snp_passes_qc_grm(tmp_path):
    return ["grm", "--bfile", TINY, "--mac", "1000"]


CASES = [
    # (builder, exit code, pattern in the error line)
    (case_truncated_bed, 1, r"has 40 bytes but 20 samples \(\.fam\) and 12 variants \(\.bim\) "
                            r"need 63: the \.bed is truncated"),
    (case_wrong_magic, 1, r"is not a PLINK 1 \.bed file \(magic bytes 0000, expected 6c1b\)"),
    (case_bim_count_mismatch, 1, r"and 13 variants \(\.bim\) need 68"),
    (case_fam_count_mismatch, 1, r"21 samples \(\.fam\) and 12 variants \(\.bim\) need 75"),
    (case_duplicate_ids, 1, r"t\.fam has 1 duplicated sample ID\(s\) \(FID IID\), first: F0 S1"),
    (case_missing_bed_grm, 1, r"PLINK fileset '.*t': .*t\.bed not found"),
    (case_missing_bed_assoc, 1, r"PLINK fileset '.*nowhere': .*nowhere\.bed not found"),
    (case_non_numeric_fam_pheno, 1, r"phenotype 'column 6' in .*t\.fam has a non-numeric value "
                                    r"'abc' \(sample F1 S2\)"),
    (case_non_numeric_pheno_file, 1, r"phenotype 'y' in .*p\.txt has a non-numeric value 'high' "
                                     r"\(sample F3 S7\)"),
    (case_pheno_zero_overlap, 1, r"phenotype file .*p\.txt has 0 samples in common with "
                                 r"\w+\.fam \(listed: 12, first: "),
    (case_pheno_file_missing, 1, r"phenotype file not found: .*nope\.pheno"),
    (case_constant_pheno, 1, r"phenotype 'y' is constant \(1\) in all 20 analysed samples"),
    (case_constant_pheno_custom_missing_code, 1, r"phenotype 'y' is constant \(3\) in all 17 "
                                                 r"analysed samples"),
    (case_pheno_name_missing, 2, r"phenotype 'height' not found in .*p\.txt \(columns: y\)"),
    (case_pheno_col_out_of_range, 2, r"phenotype column 4 does not exist"),
    (case_pheno_name_without_pheno, 2, r"--pheno-name needs --pheno FILE \(the \.fam's phenotype columns are chosen with "
     r"--pheno-col K\)"),
    (case_categorical_one_level, 1, r"categorical covariate 'batch' has a single level \('b1'\) "
                                    r"among the 19 analysed samples"),
    (case_collinear_covariates, 1, r"covariate 'months' is collinear with age in the 19 "
                                   r"analysed samples"),
    (case_constant_covariate, 1, r"covariate 'site' is constant \(5\) in the 19 analysed samples"),
    (case_cat_covar_unknown, 2, r"--cat-covar names 'sex', which is not among the covariates"),
    (case_duplicated_categorical_covariate, 1, r"covariate 'grp2=v' is collinear with grp=b"),
    (case_keep_no_overlap_grm, 1, r"--keep list has 0 samples in common with \w+\.fam "
                                  r"\(listed: 2, first: X 1, X 2; \w+\.fam: 20 samples\)"),
    (case_keep_no_overlap_assoc, 1, r"--keep list has 0 samples in common .*listed: 1,"),
    (case_remove_everyone, 1, r"only 0 samples left after the sample join \(minimum 10\).*"
                              r"--remove: 20 IDs, removed 20 samples"),
    (case_chunk_malformed, 2, r"--chunk 'abc' must look like K/N"),
    (case_chunk_zero, 2, r"--chunk 0/3: K must be between 1 and N"),
    (case_chunk_too_many, 2, r"--chunk 1/100: more chunks than the 12 variants"),
    (case_chr_nothing_left, 1, r"no variant is left after --chr/--extract/--exclude.*"
                               r"--chr 22: kept 0, removed 12"),
    (case_chr_backwards, 2, r"--chr range '5-1' runs backwards"),
    (case_maf_out_of_range_assoc, 2, r"--maf must be in \[0, 0\.5\), got 0\.7"),
    (case_no_snp_passes_qc_assoc, 1, r"no SNP passed QC"),
    (case_no_snp_passes_qc_grm, 1, r"no SNP passed QC"),
]


@pytest.mark.parametrize("build,code,pattern",
                         [pytest.param(*c, id=c[0].__name__[5:]) for c in CASES])
def test_bad_input_one_line_error(tmp_path, build, code, pattern):
    args = build(tmp_path)
    out = out_prefix(tmp_path)
    result = invoke(args + ["--out", out])
    check_failure(result, code, pattern, out)


def test_debug_shows_traceback_but_keeps_exit_code(tmp_path):
    """--debug is the way to a traceback; the error line and exit code are unchanged."""
    out = out_prefix(tmp_path)
    result = invoke(["grm", "--bfile", str(tmp_path / "nowhere"), "--out", out, "--debug"])
    assert result.exit_code == 1
    assert "Traceback" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("gwaslmm: error: PLINK fileset")


# ---------------------------------------------------------------------------
# the same, as a user sees it: a real process and its stderr
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("build,code,pattern", [
    pytest.param(case_truncated_bed, 1, r"the \.bed is truncated", id="data-error"),
    pytest.param(case_chunk_malformed, 2, r"--chunk 'abc' must look like K/N", id="usage-error"),
])
def test_subprocess_one_line_error(tmp_path, build, code, pattern):
    out = out_prefix(tmp_path)
    args = build(tmp_path) + ["--out", out]
    proc = subprocess.run([sys.executable, "-m", "gwaslmm", *args], capture_output=True,
                          text=True, timeout=120, cwd=str(tmp_path))
    line = error_line(proc.stderr, proc.stdout)
    assert proc.returncode == code, proc.stderr
    assert re.search(pattern, line)
    assert_no_complete_output(out)


# ---------------------------------------------------------------------------
# not errors: an all-missing variant, --chr, --keep/--remove in the grm log
# ---------------------------------------------------------------------------

def _tiny_with_all_missing_variant(tmp_path, j=5) -> str:
    bed = BedFile(TINY)
    X = bed.read(None, slice(None))
    bed.close()
    g = np.where(np.isnan(X), -127, X).astype(np.int8)
    g[:, j] = -127
    fam, bim = read_fam(TINY + ".fam"), read_bim(TINY + ".bim")
    p = str(tmp_path / "am")
    write_plink(p, g, fam.fid, fam.iid, fam.father, fam.mother, fam.sex, fam.pheno,
                bim.chromosome, bim.snp, bim.cm, bim.bp, bim.a1, bim.a2)
    return p


def _read_grm(out: str, n: int):
    vals = np.fromfile(out + ".grm.bin", dtype=np.float32)
    N = np.fromfile(out + ".grm.N.bin", dtype=np.float32)
    with open(out + ".grm.id") as fh:
        ids = [ln.split() for ln in fh if ln.strip()]
    assert vals.size == n * (n + 1) // 2 and N.size == vals.size and len(ids) == n
    return vals, N, ids


def test_grm_all_missing_variant_is_removed_by_qc(tmp_path):
    p = _tiny_with_all_missing_variant(tmp_path)
    out = out_prefix(tmp_path)
    # --geno 1 so that only the all-missing variant can fail: every other filter passes
    result = invoke(["grm", "--bfile", p, "--out", out, "--geno", "1", "--maf", "0"])
    assert result.exit_code == 0, result.stderr
    assert "gwaslmm: error" not in result.stderr
    with open(out + ".log") as fh:
        log = fh.read()
    assert "  all calls missing: removed 1" in log
    assert "  variants passing QC: 11" in log
    vals, N, ids = _read_grm(out, TINY_N)
    assert np.all(np.isfinite(vals))
    np.testing.assert_array_equal(N, 11)
    assert ids[0] == ["F0", "S0"] and ids[-1] == ["F9", "S19"]
    assert not [f for f in leftovers(out) if f.endswith(".partial")]


def test_grm_chr_selection_logged(tmp_path):
    out = out_prefix(tmp_path)
    result = invoke(["grm", "--bfile", TINY, "--out", out, "--chr", "1-5,7,X", "--geno", "1",
                     "--maf", "0"])
    assert result.exit_code == 0, result.stderr
    with open(out + ".log") as fh:
        log = fh.read()
    assert "--chr 1-5,7,X: kept 5, removed 7" in log
    assert "variants passing QC: 5" in log
    _, N, _ = _read_grm(out, TINY_N)
    np.testing.assert_array_equal(N, 5)


def test_grm_keep_remove_logged(tmp_path):
    keep = write_text(tmp_path / "keep.txt", "#FID IID\n" + "".join(
        f"{TINY_FID[i]} {TINY_IID[i]}\n" for i in range(15)) + "Q Q\n")
    rm = write_text(tmp_path / "rm.txt", "F0 S0\nF9 S19\n")
    out = out_prefix(tmp_path)
    result = invoke(["grm", "--bfile", TINY, "--out", out, "--keep", keep, "--remove", rm])
    assert result.exit_code == 0, result.stderr
    with open(out + ".log") as fh:
        log = fh.read()
    assert "--keep: 16 IDs, 15 in tiny.fam; dropped 5 samples not listed" in log
    assert "--remove: 2 IDs, removed 1 samples" in log
    assert "analysed samples: 14" in log
    _, _, ids = _read_grm(out, 14)
    assert [i[1] for i in ids] == [f"S{k}" for k in range(1, 15)]


# ---------------------------------------------------------------------------
# deviations from the error contract found while writing these tests
# ---------------------------------------------------------------------------

def test_click_type_error_is_one_house_style_line(tmp_path):
    out = out_prefix(tmp_path)
    result = invoke(["grm", "--bfile", TINY, "--out", out, "--maf", "abc"])
    assert result.exit_code == 2
    line = error_line(result.stderr, result.stdout)
    assert re.search(r"--maf", line)
    assert len([ln for ln in result.stderr.splitlines() if ln.strip()]) == 1


def test_empty_chr_is_a_usage_error(tmp_path):
    out = out_prefix(tmp_path)
    result = invoke(["grm", "--bfile", TINY, "--out", out, "--chr", ""])
    check_failure(result, 2, r"--chr '' names no chromosome", out)


def test_null_with_phenotype_options_is_a_usage_error(tmp_path):
    out = out_prefix(tmp_path)
    result = invoke(["assoc", "--bfile", TINY, "--null", tmp_path / "nothing", "--pheno",
                     TINY + ".fam", "--out", out])
    check_failure(result, 2, r"--null already fixes .* drop --pheno", out)


@pytest.mark.parametrize("command", ["null", "eigen"])
def test_unreadable_saved_model_is_a_data_error(tmp_path, command):
    out = out_prefix(tmp_path)
    bad = tmp_path / ("m.null.npz" if command == "null" else "m.eigen.npz")
    bad.write_bytes(b"not a zip file at all")
    if command == "null":
        args = ["assoc", "--bfile", TINY, "--null", tmp_path / "m", "--out", out]
    else:
        args = ["reml", "--bfile", TINY, "--eigen", tmp_path / "m", "--out", out]
    check_failure(invoke(args), 1, r"is not a readable (null model|eigendecomposition) file", out)
