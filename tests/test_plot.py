"""Manhattan and QQ plots (gwaslmm.report, ``gwaslmm plot``).

Layers (STYLE.md):
- exact checks: thinning keeps every point with -log10 p >= 2 (so every
  p <= 1e-5) with its exact value; QQ points carry -log10(rank / (N + 1)) of
  their true rank; lambda_GC equals chi2.isf(median p, 1) / chi2.ppf(0.5, 1)
  to 1e-9 relative (floating-point rounding only); parsed values equal
  Python's float() of the text exactly (the kernel's fast path is correctly
  rounded by construction).
- simulated truth: uniform p-values give lambda_GC within 0.02 of 1 at
  200 000 points (its standard error there is about 0.005).
- invariance: the result does not depend on the block size the file is read in.
- bad input: missing columns, ragged lines, bad numbers, truncated gzip each
  give InputError naming the problem.
- output: PNG signature and IHDR size (1200 x 500 and 600 x 600); the CLI exits
  0 and writes both, or exits 1 with one 'gwaslmm: error:' line.

Synthetic data only, written to tmp_path.
"""

from __future__ import annotations

import gzip
import math
import os
import struct

import numpy as np
import pytest
from click.testing import CliRunner
from scipy import stats

from gwaslmm_cli.plot import plot as plot_cmd
from gwaslmm.errors import InputError, UsageError
from gwaslmm.report.assoc_reader import read_assoc_points
from gwaslmm.report.plot import plot_assoc
from gwaslmm.report.qq import qq_data
from gwaslmm.report.thinning import manhattan_data
from gwaslmm.scan.pvalues import lambda_gc

COLUMNS = ["chromosome", "base_pair_location", "variant_id", "neg_log_10_p_value", "p_value"]
CHROM_LEN = {"1": 249_000_000, "2": 242_000_000, "3": 198_000_000, "10": 134_000_000,
             "22": 51_000_000, "X": 156_000_000}


def write_ssf(path, chrom, pos, neglog, columns=COLUMNS, gz=True, ids=None, text=None):
    """A GWAS-SSF-like TSV; ``text`` (column -> list of str) overrides formatted values."""
    n = len(chrom)
    vals = {
        "chromosome": [str(c) for c in chrom],
        "base_pair_location": [str(int(p)) for p in pos],
        "variant_id": list(ids) if ids is not None else [f"rs{c}_{p}" for c, p in zip(chrom, pos)],
        "neg_log_10_p_value": [repr(float(y)) for y in neglog],
        "p_value": [repr(10.0 ** -float(y)) for y in neglog],
    }
    vals.update(text or {})
    lines = ["\t".join(columns)] + ["\t".join(vals[c][i] for c in columns) for i in range(n)]
    data = ("\n".join(lines) + "\n").encode()
    if gz:
        with gzip.open(path, "wb", compresslevel=1) as fh:
            fh.write(data)
    else:
        with open(path, "wb") as fh:
            fh.write(data)
    return str(path)


def synthetic(n, seed=0, n_signal=40):
    """n rows over CHROM_LEN with uniform p plus n_signal strong hits."""
    rng = np.random.default_rng(seed)
    names = list(CHROM_LEN)
    w = np.array([CHROM_LEN[c] for c in names], float)
    ci = np.sort(rng.choice(len(names), n, p=w / w.sum()))
    chrom = np.array(names)[ci]
    pos = np.empty(n, dtype=np.int64)
    for k, c in enumerate(names):
        sel = ci == k
        pos[sel] = np.sort(rng.integers(1, CHROM_LEN[c], sel.sum()))
    y = -np.log10(rng.uniform(size=n))
    hit = rng.choice(n, n_signal, replace=False)
    y[hit] = rng.uniform(5.0, 30.0, n_signal)
    return chrom, pos, y


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    assert head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """200 000 rows, gzip."""
    chrom, pos, y = synthetic(200_000, seed=3)
    path = write_ssf(tmp_path_factory.mktemp("big") / "big.assoc.tsv.gz", chrom, pos, y)
    return path, chrom, pos, y


# --------------------------------------------------------------------------- thinning

def test_thinning_keeps_significant_points_and_reduces_the_rest(big):
    path, chrom, pos, y = big
    pts = read_assoc_points(path)
    m = pts.manhattan
    assert m.n_snps == y.size
    code = {c: i for i, c in enumerate(m.chromosomes)}
    got = dict(zip((m.chrom_index.astype(np.int64) << 40) | m.position, m.y))
    want = (np.array([code[c] for c in chrom], dtype=np.int64) << 40) | pos
    strong = y >= 2.0
    for k, yy in zip(want[strong], y[strong]):
        assert got[k] == yy                      # exact value, no point lost
    sig = y >= 5.0                               # p <= 1e-5
    assert sig.sum() >= 40
    assert all(k in got for k in want[sig])
    assert m.n_full == strong.sum()
    rest = (~strong).sum()
    assert m.n_binned < 0.3 * rest, (m.n_binned, rest)     # ~25%
    # every drawn point is a real row
    assert m.n_plotted == m.n_full + m.n_binned
    # QQ sees every row
    assert pts.neglog10p.size == y.size
    assert np.array_equal(np.sort(pts.neglog10p), np.sort(y.astype(np.float32)))


def test_thinning_does_not_depend_on_block_size(big):
    path = big[0]
    a = read_assoc_points(path)
    b = read_assoc_points(path, chunk_bytes=200_000)       # ~60 blocks
    for f in ("x", "y", "chrom_index", "position", "offsets", "ticks"):
        assert np.array_equal(getattr(a.manhattan, f), getattr(b.manhattan, f)), f
    assert a.manhattan.top_hits == b.manhattan.top_hits
    assert np.array_equal(a.neglog10p, b.neglog10p)
    c = manhattan_data(big[1], big[2], big[3], chunk_rows=7_777)
    assert np.array_equal(a.manhattan.y, c.y) and np.array_equal(a.manhattan.x, c.x)


# --------------------------------------------------------------------------- lambda_GC

def test_lambda_gc_uniform_is_one():
    rng = np.random.default_rng(11)
    y = -np.log10(rng.uniform(size=200_000))
    assert abs(lambda_gc(y) - 1.0) < 0.02
    assert abs(lambda_gc(y.astype(np.float32)) - lambda_gc(y)) < 1e-6


def test_lambda_gc_exact_median():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(1e-6, 0.049, 500), [0.05], rng.uniform(0.051, 1.0, 500)])
    rng.shuffle(p)
    expected = stats.chi2.isf(0.05, 1) / 0.4549364
    assert lambda_gc(-np.log10(p)) == pytest.approx(expected, rel=1e-6)
    # the exact constant: chi2.ppf(0.5, 1)
    assert lambda_gc(-np.log10(p)) == pytest.approx(
        stats.chi2.isf(0.05, 1) / stats.chi2.ppf(0.5, 1), rel=1e-9)
    # even count: mean of the two middle statistics; p = 0 (inf) counts as a value
    y = -np.log10(np.array([0.9, 0.2, 0.01, 0.5]))
    mid = (stats.chi2.isf(0.2, 1) + stats.chi2.isf(0.5, 1)) / 2
    assert lambda_gc(y) == pytest.approx(mid / stats.chi2.ppf(0.5, 1), rel=1e-9)
    y_inf = np.array([np.inf, np.inf, -np.log10(0.3)])
    assert lambda_gc(y_inf) == np.inf
    with pytest.raises(InputError, match="NaN or negative"):
        lambda_gc(np.array([1.0, np.nan]))


# --------------------------------------------------------------------------- QQ

def test_qq_expected_quantiles_and_band():
    rng = np.random.default_rng(2)
    y = -np.log10(rng.uniform(size=50_000))
    y[:3] = [12.0, 9.0, np.inf]
    q = qq_data(y)
    n = y.size
    asc = np.sort(y)
    assert q.n == n and q.n_infinite == 1
    assert np.array_equal(q.expected, -np.log10(q.rank / (n + 1.0)))
    assert np.array_equal(q.observed, asc[n - q.rank])        # rank 1 = smallest p
    assert np.all(np.diff(q.rank) > 0) and q.rank[0] == 2      # rank 1 is p = 0
    # every point with observed -log10 p >= 2 is drawn
    assert np.isin(np.flatnonzero(np.isfinite(asc) & (asc >= 2)), n - q.rank).all()
    assert q.expected.size < 0.1 * n
    i = 100
    k = int(np.flatnonzero(np.round(10.0 ** -q.band_expected * (n + 1)) == i)[0]) \
        if (np.round(10.0 ** -q.band_expected * (n + 1)) == i).any() else None
    j = np.argmin(np.abs(q.band_expected - (-math.log10(i / (n + 1)))))
    r = int(round(10.0 ** -q.band_expected[j] * (n + 1)))
    assert q.band_upper[j] == pytest.approx(-math.log10(stats.beta.ppf(0.025, r, n - r + 1)))
    assert q.band_lower[j] == pytest.approx(-math.log10(stats.beta.ppf(0.975, r, n - r + 1)))
    assert k is None or k == j
    assert np.all(q.band_lower < q.band_expected) and np.all(q.band_expected < q.band_upper)
    assert q.lambda_gc == lambda_gc(y)


# --------------------------------------------------------------------------- layout

def test_chromosome_order_and_offsets():
    chrom = ["X", "10", "2", "1", "22", "chr3", "MT", "Y", "scaffold_1", "chr1", "23"]
    pos = [5_000, 1_000, 2_000, 3_000, 4_000, 6_000, 100, 200, 300, 9_000, 7_000]
    y = [1.0] * len(chrom)
    m = manhattan_data(chrom, pos, y)
    assert m.chromosomes == ("1", "2", "3", "10", "22", "X", "Y", "MT", "scaffold_1")
    assert np.all(np.diff(m.offsets) > 0) and np.all(np.diff(m.ticks) > 0)
    # offsets: running sum of the largest positions plus a gap
    assert m.offsets[1] > 9_000 and m.offsets[3] - m.offsets[2] > 6_000
    x_of = {m.chromosomes[c]: x for c, x in zip(m.chrom_index, m.x)}
    assert x_of["10"] > x_of["2"] and x_of["X"] > x_of["22"]
    assert sorted(m.x) == list(m.x)
    for c in range(len(m.chromosomes)):
        sel = m.chrom_index == c
        assert np.array_equal(m.x[sel], m.offsets[c] + m.position[sel])


def test_top_hits_one_per_locus():
    chrom = ["1", "1", "1", "2", "2", "3"]
    pos = [10_000_000, 10_400_000, 12_000_000, 5_000_000, 50_000_000, 1_000]
    y = [20.0, 25.0, 9.0, 8.0, 7.5, 1.0]
    ids = ["a", "b", "c", "d", "e", "f"]
    m = manhattan_data(chrom, pos, y, variant_id=ids, label_top=3)
    assert [h.variant_id for h in m.top_hits] == ["b", "c", "d"]   # 'a' is within 1 Mb of 'b'
    assert m.top_hits[0].neglog10p == 25.0 and m.top_hits[0].chromosome == "1"
    assert manhattan_data(chrom, pos, y, label_top=0).top_hits == ()
    assert manhattan_data(chrom, pos, y, label_top=1).top_hits[0].variant_id == "1:10400000"


# --------------------------------------------------------------------------- reading

def test_parsing_matches_python_float_and_handles_missing(tmp_path):
    texts = ["0.457433", "1.5e-300", "NA", "12", "0", "3.0000000000000000001", "7.25E+1", "",
             "inf", "0.000123456789012345678", "nan", "1e400", "123456789012345678", "1e-5"]
    n = len(texts)
    chrom = ["1"] * n
    pos = list(range(100, 100 + n))
    path = write_ssf(tmp_path / "t.tsv", chrom, pos, [0.0] * n, gz=False,
                     columns=["chromosome", "base_pair_location", "neg_log_10_p_value"],
                     text={"neg_log_10_p_value": texts})
    pts = read_assoc_points(path)
    want = [float(t) for t in texts if t.lower() not in ("na", "", "nan")]
    assert pts.n_rows == n and pts.n_missing == 3
    assert np.array_equal(pts.neglog10p, np.array(want, dtype=np.float32))
    m = pts.manhattan
    assert m.n_infinite == 2 and m.n_snps == n - 3
    kept = {int(p): yy for p, yy in zip(m.position, m.y)}
    for p, t in zip(pos, texts):
        v = float(t) if t.lower() not in ("na", "", "nan") else None
        if v is not None and 2 <= v < np.inf:
            assert kept[p] == v                      # bit-exact


def test_p_value_fallback_plain_text_crlf(tmp_path):
    chrom, pos, y = synthetic(3_000, seed=8, n_signal=5)
    a = write_ssf(tmp_path / "a.tsv.gz", chrom, pos, y)
    b = tmp_path / "b.txt"          # plain text, CRLF, p_value only, trailing blank lines
    cols = ["chromosome", "base_pair_location", "variant_id", "p_value"]
    lines = ["\t".join(cols)] + [f"{c}\t{p}\trs{c}_{p}\t{float(10.0 ** -v)!r}"
                                 for c, p, v in zip(chrom, pos, y)]
    b.write_bytes(("\r\n".join(lines) + "\r\n\r\n\n").encode())
    pa, pb = read_assoc_points(a), read_assoc_points(str(b))
    assert pb.p_column == "p_value" and pb.n_rows == 3_000 and pb.n_blank == 2
    np.testing.assert_allclose(pb.neglog10p, pa.neglog10p, rtol=1e-6)
    assert [h.variant_id for h in pa.manhattan.top_hits] == \
        [h.variant_id for h in pb.manhattan.top_hits]


@pytest.mark.parametrize("columns,missing", [
    (["chromosome", "base_pair_location", "variant_id"], "neg_log_10_p_value (or p_value)"),
    (["chromosome", "variant_id", "neg_log_10_p_value"], "base_pair_location"),
    (["base_pair_location", "p_value"], "chromosome"),
])
def test_missing_column(tmp_path, columns, missing):
    path = write_ssf(tmp_path / "m.tsv.gz", ["1", "2"], [10, 20], [1.0, 2.0], columns=columns)
    with pytest.raises(InputError) as exc:
        read_assoc_points(path)
    assert missing in str(exc.value) and "m.tsv.gz" in str(exc.value)


def test_bad_input(tmp_path):
    base = ["chromosome\tbase_pair_location\tneg_log_10_p_value", "1\t100\t0.5"]

    def check(lines, pattern, raw=None, name="bad.tsv"):
        p = tmp_path / name
        p.write_bytes(raw if raw is not None else ("\n".join(lines) + "\n").encode())
        with pytest.raises(InputError, match=pattern):
            read_assoc_points(str(p))

    check(base + ["1\t200"], r"line 3 has 2 fields, the header has 3")
    check(base + ["1\t2x0\t0.5"], r"line 3: base_pair_location '2x0' is not an integer")
    check(base + ["", "1\t300\tabc"], r"line 4: neg_log_10_p_value 'abc' is not a number")
    check(base + ["1\t300\t-1.5"], r"neg_log_10_p_value -1.5 is negative")
    check(["chromosome\tbase_pair_location\tp_value", "1\t100\t1.5"], r"outside \[0, 1\]")
    check(base[:1], r"no data rows")
    check([], r"is empty", raw=b"")
    check(["chromosome,base_pair_location,p_value", "1,2,0.5"], r"tab-separated")
    good = gzip.compress(("\n".join(base * 2000) + "\n").encode())
    check([], r"corrupt or truncated", raw=good[: len(good) // 2], name="cut.tsv.gz")
    with pytest.raises(InputError, match="does not exist"):
        read_assoc_points(str(tmp_path / "nope.tsv.gz"))
    with pytest.raises(UsageError, match="label-top"):
        plot_assoc(str(tmp_path / "nope.tsv.gz"), str(tmp_path / "o"), label_top=-1)


# --------------------------------------------------------------------------- images / CLI

def test_plot_assoc_writes_pngs_of_fixed_size(tmp_path):
    chrom, pos, y = synthetic(20_000, seed=4, n_signal=10)
    path = write_ssf(tmp_path / "r.assoc.tsv.gz", chrom, pos, y)
    res = plot_assoc(path, str(tmp_path / "out" / "r"), label_top=5)
    assert png_size(res["manhattan"]) == (1200, 500)
    assert png_size(res["qq"]) == (600, 600)
    assert res["manhattan"].endswith("r.manhattan.png") and res["qq"].endswith("r.qq.png")
    assert res["n_snps"] == 20_000 and 0 < res["n_plotted"] <= 20_000
    assert res["lambda_gc"] == pytest.approx(lambda_gc(y), rel=1e-5)
    assert res["seconds"] > 0
    assert not [f for f in os.listdir(tmp_path / "out") if "partial" in f]


def test_cli_plot(tmp_path):
    chrom, pos, y = synthetic(5_000, seed=6, n_signal=5)
    path = write_ssf(tmp_path / "c.assoc.tsv.gz", chrom, pos, y)
    out = str(tmp_path / "c")
    r = CliRunner().invoke(plot_cmd, [path, "--out", out, "--label-top", "3"],
                           catch_exceptions=False)
    assert r.exit_code == 0, r.stderr
    assert png_size(out + ".manhattan.png") == (1200, 500)
    assert png_size(out + ".qq.png") == (600, 600)
    with open(out + ".plot.log") as fh:
        assert "lambda_GC" in fh.read()

    bad = write_ssf(tmp_path / "bad.tsv.gz", ["1"], [5], [1.0],
                    columns=["chromosome", "variant_id", "p_value"])
    r = CliRunner().invoke(plot_cmd, [bad, "--out", str(tmp_path / "b")])
    assert r.exit_code == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    errs = [ln for ln in lines if ln.startswith("gwaslmm: error:")]
    assert len(errs) == 1 and lines[-1] == errs[0] and "base_pair_location" in errs[0]
    assert "Traceback" not in r.stderr
    assert not os.path.exists(str(tmp_path / "b") + ".manhattan.png")

    r = CliRunner().invoke(plot_cmd, [path, "--out", out, "--label-top", "-2"])
    assert r.exit_code == 2


@pytest.mark.parametrize("sep", [b"\t", b" "])
def test_parse_kernel_equals_its_python_reference(sep):
    """The compiled line parser against the same function run as plain Python:
    positions (negative: unplaced), -log10 p fast path and slow-path flags,
    field spans, chromosome runs, a blank line and CRLF endings."""
    from gwaslmm.report.parse_kernel import POW10, parse_kernel, parse_rows_py

    rng = np.random.default_rng(7)
    rows = []
    for k in range(300):
        chrom = f"chr{1 + k // 60}"
        pos = -9 if k % 97 == 0 else int(rng.integers(0, 10 ** 9))
        y = ["0.5", "1.25e-3", "7.3E-320", "NA", "inf", f"{rng.random():.6g}",
             "12345678901234567"][k % 7]
        test = "ADD" if k % 3 else "DOM"
        rows.append(sep.join([chrom.encode(), str(pos).encode(), f"rs{k}".encode(),
                              y.encode(), test.encode()]))
    text = b"\n".join(rows[:150]) + b"\n\n" + b"\r\n".join(rows[150:]) + b"\r\n"
    buf = np.frombuffer(text, dtype=np.uint8)
    cap = text.count(b"\n")

    def run(fn, data):
        out = [np.zeros(cap, np.int64), np.zeros(cap), np.zeros(cap, np.uint8),
               np.zeros((cap, 2), np.int64), np.zeros((cap, 2), np.int64),
               np.zeros((cap, 2), np.int64), np.zeros(cap, np.int64),
               np.zeros((cap, 2), np.int64)]
        res = fn(data, 5, sep[0], 0, 1, 3, 2, 4, *out[:3], out[3], out[4], out[5], out[6], out[7],
                 POW10)
        return res, out

    # the reference reads the bytes as int64 (numba promotes uint8 to int64)
    (r1, o1), (r2, o2) = run(parse_rows_py, buf.astype(np.int64)), run(parse_kernel(), buf)
    assert r1 == r2 and r1[0] == 300 and r1[2] == 1 and r1[4] == 0
    for a, b in zip(o1, o2):
        assert np.array_equal(a, b)
    assert (o1[0][:300] < 0).sum() == 4
