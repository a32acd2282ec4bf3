"""Benchmark gwaslmm's large-sample engine (``assoc --loco --engine cg``) against
BOLT-LMM ``--lmmInfOnly``.

    .venv/bin/python benchmarks/cg_bench.py                      # 10k x 20k, 20k x 50k, 50k x 50k
    .venv/bin/python benchmarks/cg_bench.py --sizes 10000x20000 --dense
    .venv/bin/python benchmarks/cg_bench.py --sizes 1000x5000 --out-dir /tmp/cgb   # smoke
    .venv/bin/python benchmarks/cg_bench.py --rewrite-report results/DATE-cg-bench.json

Per size (samples x SNPs, 8 chromosomes, simulated with gwaslmm's own
simulator through the harness's cache under --data-dir), one command at a
time, each timed whole under GNU ``/usr/bin/time -v``:

- ``gwaslmm assoc --bfile B --pheno P --pheno-name trait --covar C --loco
  --engine cg --out O`` (the harness's ``--fast --loco`` command with
  ``--fast`` replaced by ``--engine cg``);
- ``bolt --lmmInfOnly --LDscoresUseChip`` exactly as the harness builds it
  (``--numThreads=2``, OPENBLAS_NUM_THREADS=1, batch categorical, age and bmi
  quantitative);
- with ``--dense``, at the smallest size only, ``gwaslmm assoc --fast --loco``.

It reports wall time and peak RSS of each, gwaslmm ÷ BOLT ratios, r(-log10 p)
between gwaslmm's p_value and BOLT's P_BOLT_LMM_INF over the SNPs both test,
each tool's h2, lambda_GC over all chromosomes and over the causal-free ones
(the simulation puts causal SNPs on chromosomes 1..k only), and with
``--dense`` the agreement of cg with the dense engine (r(-log10 p), and
median / 99th percentile of |chi2_cg / chi2_dense - 1|, chi2 = t_stat^2).
Report: ``<out-dir>/<date>-cg-bench.md`` (+ ``-scaling.png`` when matplotlib
imports, + ``.json``).  When ``gwaslmm assoc --help`` does not mention
``--engine`` the report says "gwaslmm --engine cg not available" and BOLT
still runs.

Simulation runs in a child process (its wall time and peak RSS are reported).
The simulator's peak is about 10 bytes per genotype (int8 genotypes, float64
uniforms drawn at once for the missing-call mask, the boolean mask): 23 GiB at
50,000 x 50,000.  When that does not fit in the available memory
(``--sim-lowmem auto``, the default) the child draws those uniforms in row
chunks instead, which yields bit-identical files (the same random stream)
and a peak of about 4 bytes per genotype (the .bed writer's).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import re
import shlex
import shutil
import subprocess
import sys
import time
from dataclasses import asdict

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from harness import agreement, datasets, measure, tools  # noqa: E402
from harness.suites import Dataset  # noqa: E402

DEFAULT_SIZES = "10000x20000,20000x50000,50000x50000"
N_CHROMOSOMES = 8  # the harness's Dataset default (the cache is keyed on it)
CHI2_1_MEDIAN = 0.45493642311957283  # median of chi-square(1), for lambda_GC
GIB = 1024 ** 3
BOLT_INSTALL = "apt-get update && apt-get install -y bolt-lmm"


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------- simulation
def sim_peak_bytes(n, m, lowmem):
    """Estimated peak RSS of simulating n x m and writing it (see the module doc):
    simulate() holds the int8 genotypes (N bytes), then draws the missing-call
    uniforms as one float64 n x m array (8N) and compares them (a bool N):
    10N; the .bed writer holds genotypes, 2-bit codes, a comparison mask and the
    padded codes plus the packed bytes: ~4N; the genotype blocks need the
    founders' haplotype draws (~52 kB per founder per 2,000-SNP block) beside
    the genotypes; the map draws positions from np.arange(10_000, 150_000_000)
    (1.2 GB of int64) beside the genotypes.  Plus ~0.1 GiB of interpreter,
    numpy and small arrays."""
    N = float(n) * m
    sim = 2 * N if lowmem else 10 * N
    blocks = N + 52_000.0 * n
    positions = N + 1.2e9
    return 0.1 * GIB + max(sim, 4 * N, blocks, positions)


def mem_available_bytes():
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def install_lowmem_rng(threshold=20_000_000, chunk_elems=50_000_000):
    """Make numpy.random.default_rng hand out generators whose ``random(size)``
    for a large 2-D ``size`` returns a lazy array that, compared with a scalar
    (simulate()'s ``rng.random((n, m)) < missing_rate``), draws the float64
    uniforms in row chunks: the same stream, so the same mask, without the
    8 bytes per genotype.  Any other use of a pending lazy draw is an error
    (so the data can never silently differ)."""
    orig = np.random.default_rng

    class LazyUniform:
        def __init__(self, owner, shape):
            self.owner, self.shape = owner, shape

        def __lt__(self, other):
            if not np.isscalar(other):
                raise RuntimeError("low-memory simulation: unexpected comparison")
            n, m = self.shape
            out = np.empty(self.shape, dtype=bool)
            rows = max(1, chunk_elems // max(m, 1))
            for a in range(0, n, rows):
                b = min(n, a + rows)
                out[a:b] = self.owner._g.random((b - a, m)) < other
            self.owner._pending = None
            return out

        def __getattr__(self, name):
            raise RuntimeError(f"low-memory simulation: unexpected use ({name}) of a lazy draw")

    class Gen:
        def __init__(self, g):
            self._g = g
            self._pending = None

        def __getattr__(self, name):
            if self._pending is not None:
                raise RuntimeError("low-memory simulation: a lazy draw was not consumed first")
            return getattr(self._g, name)

        def random(self, size=None, dtype=np.float64, out=None):
            if self._pending is not None:
                raise RuntimeError("low-memory simulation: a lazy draw was not consumed first")
            if (out is None and np.dtype(dtype) == np.float64 and isinstance(size, tuple)
                    and len(size) == 2 and size[0] * size[1] >= threshold):
                self._pending = LazyUniform(self, tuple(int(x) for x in size))
                return self._pending
            return self._g.random(size, dtype=dtype, out=out)

    np.random.default_rng = lambda *a, **k: Gen(orig(*a, **k))


def simulate_child(argv):
    """``cg_bench.py _simulate N M CHROM SEED DATA_DIR lowmem|plain``: one dataset
    into the harness cache (run in its own process, timed by the parent)."""
    n, m, chrom, seed, data_dir, mode = argv
    if mode == "lowmem":
        install_lowmem_rng()
    datasets.prepare(Dataset(int(n), int(m), int(chrom), int(seed)), data_dir, log=log)
    return 0


def is_cached(ds, data_dir):
    marker = os.path.join(data_dir, ds.name, ".done")
    want = json.dumps(asdict(ds), sort_keys=True)
    return os.path.exists(marker) and open(marker).read() == want


# ------------------------------------------------------------------------ outputs
def read_gwaslmm(prefix):
    """{variant id: -log10 p} (neg_log_10_p_value, exact where p underflows) and
    {variant id: t_stat} (empty when the column is absent)."""
    nl = agreement.gwaslmm_assoc(prefix)["main"]
    path = prefix + ".assoc.tsv.gz"
    if not os.path.exists(path):
        path = prefix + ".assoc.tsv"
    head, rows = agreement._read_table(path, "\t")
    ix = {h: i for i, h in enumerate(head)}
    t = {}
    if "t_stat" in ix:
        for r in rows:
            try:
                t[r[ix["variant_id"]]] = float(r[ix["t_stat"]])
            except ValueError:
                t[r[ix["variant_id"]]] = float("nan")
    return nl, t


def chi2_from_neglog10(x):
    from scipy.stats import chi2

    x = np.minimum(np.asarray(x, dtype=float), 300.0)
    return chi2.isf(10.0 ** -x, 1)


def lambda_gc(nl: dict, ids):
    vals = [nl[k] for k in ids if k in nl and np.isfinite(nl[k])]
    if not vals:
        return float("nan"), 0
    return float(np.median(chi2_from_neglog10(vals)) / CHI2_1_MEDIAN), len(vals)


def gwaslmm_h2_from_log(path):
    """(h2, note) from gwaslmm's OUT.log: the summary's 'h2 (null model): ...'
    (one value, or LOCO c:v,... -> their mean), else 'null model ...: h2 = x'."""
    try:
        text = open(path, errors="replace").read()
    except OSError as exc:
        return float("nan"), f"no log: {exc}"
    m = re.search(r"^\s*h2 \(null model\):\s*(.+)$", text, re.M)
    if m:
        s = m.group(1).strip()
        if s.startswith("LOCO"):
            vals = [float(x.split(":")[1]) for x in s[4:].split(",") if ":" in x]
            if vals:
                return (float(np.mean(vals)), f"mean of the {len(vals)} LOCO null models' h2 "
                        f"({min(vals):.3f}–{max(vals):.3f})")
        num = re.match(r"([-+]?[0-9.]+(?:[eE][-+]?\d+)?)", s)
        if num:
            return float(num.group(1)), f"log summary: h2 (null model): {s[:80]}"
    vals = [float(v) for v in re.findall(r"null model(?! without)[^\n]*?\bh2 = ([-+0-9.eE]+)",
                                         text)]
    if vals:
        return float(np.mean(vals)), "'null model ... h2 =' line(s) of the log"
    return float("nan"), "no h2 found in the log"


def chi2_ratio_stats(cg, dense):
    """|chi2_cg / chi2_dense - 1| over the common SNPs: chi2 = t_stat^2 when
    both outputs have t_stat, else the chi-square(1) quantile of p."""
    (nl_a, t_a), (nl_b, t_b) = cg, dense
    ids = [k for k in nl_a if k in nl_b and np.isfinite(nl_a[k]) and np.isfinite(nl_b[k])]
    use_t = bool(t_a) and bool(t_b) and all(k in t_a and k in t_b for k in ids)
    if use_t:
        ids = [k for k in ids if np.isfinite(t_a[k]) and np.isfinite(t_b[k])]
        a = np.array([t_a[k] for k in ids]) ** 2
        b = np.array([t_b[k] for k in ids]) ** 2
    else:
        a = chi2_from_neglog10([nl_a[k] for k in ids])
        b = chi2_from_neglog10([nl_b[k] for k in ids])
    out = dict(source="t_stat²" if use_t else "chi-square(1) quantile of p", rows=[])
    for label, sel in (("all common SNPs", b > 0), ("SNPs with dense chi2 > 1", b > 1),
                       ("SNPs with dense chi2 > 10", b > 10)):
        d = np.abs(a[sel] / b[sel] - 1.0)
        out["rows"].append(dict(label=label, n=int(sel.sum()),
                                median=float(np.median(d)) if d.size else float("nan"),
                                p99=float(np.percentile(d, 99)) if d.size else float("nan"),
                                max=float(d.max()) if d.size else float("nan")))
    return out


# ------------------------------------------------------------------------- driver
def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sizes", default=DEFAULT_SIZES,
                   help="comma-separated SAMPLESxSNPS (default %(default)s)")
    p.add_argument("--repeats", type=int, default=1, help="timed runs per command (median)")
    p.add_argument("--dense", action="store_true",
                   help="also time `gwaslmm assoc --fast --loco` at the smallest size and "
                        "compare it with --engine cg")
    p.add_argument("--no-bolt", action="store_true", help="do not run BOLT-LMM")
    p.add_argument("--install-bolt", action="store_true",
                   help=f"run `{BOLT_INSTALL}` when `bolt` is not on PATH (needs root)")
    p.add_argument("--sim-lowmem", choices=("auto", "on", "off"), default="auto",
                   help="chunked missing-call draws in the simulation (same data, ~4 instead of "
                        "~10 bytes per genotype); auto: only when the plain peak does not fit")
    p.add_argument("--force", action="store_true",
                   help="simulate even when the estimated peak exceeds MemAvailable")
    p.add_argument("--no-warmup", action="store_true",
                   help="skip the untimed gwaslmm run on testdata/sim (fills numba's cache)")
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"))
    p.add_argument("--data-dir", default=os.path.join(HERE, "data"))
    p.add_argument("--work-dir", default=None, help="tool outputs (default DATA_DIR/work-cg)")
    p.add_argument("--timeout", type=int, default=4 * 3600, help="per command, s")
    p.add_argument("--gwaslmm", default=None, help="gwaslmm executable (default: beside python)")
    p.add_argument("--date", default=None)
    a = p.parse_args(argv)
    sizes = []
    for item in a.sizes.split(","):
        try:
            n, m = (int(x) for x in item.strip().lower().split("x"))
        except ValueError:
            p.error(f"--sizes: '{item}' is not NxM (e.g. 10000x20000)")
        if n < 50 or m < 10 * N_CHROMOSOMES:
            p.error(f"--sizes: {item} is too small")
        sizes.append((n, m))
    a.size_list = sorted(set(sizes), key=lambda t: (t[0] * t[1], t[0]))
    if a.repeats < 1:
        p.error("--repeats must be at least 1")
    return a


def engine_available(gwaslmm):
    try:
        p = subprocess.run([gwaslmm, "assoc", "--help"], capture_output=True, text=True,
                           timeout=120)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, f"`gwaslmm assoc --help` failed: {exc}"
    if "--engine" not in p.stdout + p.stderr:
        return False, "`gwaslmm assoc --help` does not mention --engine"
    return True, "`gwaslmm assoc --help` mentions --engine"


def find_bolt(a):
    if a.no_bolt:
        return None
    if not shutil.which("bolt") and a.install_bolt:
        log(f"bolt not on PATH: {BOLT_INSTALL}")
        subprocess.run(["bash", "-c", BOLT_INSTALL + " >/dev/null"], check=False)
    return "bolt"


def cg_argv(dense_argv, out):
    """The harness's `assoc ... --fast --loco --out X` with --fast replaced by
    --engine cg: `assoc ... --covar C --loco --engine cg --out OUT`."""
    argv = [x for x in dense_argv if x != "--fast"]
    i = argv.index("--loco")
    argv[i + 1:i + 1] = ["--engine", "cg"]
    argv[argv.index("--out") + 1] = out
    return argv


def timed(rec, timeout):
    tm = measure.run_timed(rec["argv"], rec["env"], rec["log"], timeout)
    rec["walls"].append(tm.wall_s)
    rec["rss"].append(tm.max_rss_mb)
    rec["rcs"].append(tm.rc)
    rec["cpu"].append(tm.cpu_s)
    rec["other_cpu"].append(tm.other_cpu_share)
    rec["ok"] = tm.rc == 0
    if tm.rc != 0:
        rec["tail"] = tm.tail
        log(f"  FAILED rc={tm.rc}: {(tm.tail.strip().splitlines() or [''])[-1]}")
    log(f"  {tm.wall_s:.1f} s, {tm.max_rss_mb:.0f} MiB, CPU {tm.cpu_s:.1f} s; "
        f"other processes {100 * tm.other_cpu_share:.0f}% of the cores")
    return tm


def med(xs):
    xs = [x for x in xs if x == x]
    return float(np.median(xs)) if xs else float("nan")


def evaluate(entry, files, recs):
    """Agreement, h2 and lambda_GC for one size (fills ``entry``)."""
    chrom = {}
    with open(files.bfile + ".bim") as fh:
        for line in fh:
            f = line.split()
            if f:
                chrom[f[1]] = int(f[0]) if f[0].isdigit() else -1
    truth = json.load(open(files.bfile + ".truth.json"))
    k = max(truth.get("causal_chromosomes") or [0])
    entry["causal_k"] = k
    res = {}
    for key, rec in recs.items():
        if not rec["ok"]:
            continue
        try:
            if rec["tool"] == "bolt":
                res[key] = (agreement.bolt_assoc(rec["out"])["P_BOLT_LMM_INF"], {})
            else:
                res[key] = read_gwaslmm(rec["out"])
        except (OSError, ValueError, KeyError, IndexError) as exc:
            entry["notes"].append(f"could not read {rec['label']}'s output: {exc}")
    # agreement with BOLT
    for key in ("cg", "dense"):
        if key in res and "bolt" in res:
            d = agreement.compare_p(res[key][0], res["bolt"][0])
            entry["agreement"].append(dict(a=recs[key]["label"], b=recs["bolt"]["label"],
                                           what="r(−log10 p): p_value vs P_BOLT_LMM_INF", **d))
    if "cg" in res and "dense" in res:
        d = agreement.compare_p(res["cg"][0], res["dense"][0])
        entry["agreement"].append(dict(a=recs["cg"]["label"], b=recs["dense"]["label"],
                                       what="r(−log10 p): p_value vs p_value", **d))
        entry["chi2_ratio"] = chi2_ratio_stats(res["cg"], res["dense"])
    # lambda_GC: over the SNPs every successful tool tested, and over each tool's own
    common = None
    for key in res:
        ids = {i for i, v in res[key][0].items() if np.isfinite(v)}
        common = ids if common is None else common & ids
    common = common or set()
    sets = {"all": lambda c: True, "free": lambda c: c > k, "causal": lambda c: 0 < c <= k}
    for key in res:
        row = dict(tool=recs[key]["label"])
        for name, sel in sets.items():
            ids = [i for i in common if sel(chrom.get(i, -1))]
            row[name], row[name + "_n"] = lambda_gc(res[key][0], ids)
        row["own"], row["own_n"] = lambda_gc(res[key][0], list(res[key][0]))
        row["own_free"], row["own_free_n"] = lambda_gc(
            res[key][0], [i for i in res[key][0] if chrom.get(i, -1) > k])
        entry["lambda"].append(row)
    entry["n_common"] = len(common)
    # heritability
    for key, rec in recs.items():
        if not rec["ok"]:
            continue
        if rec["tool"] == "bolt":
            v, _, how = agreement.bolt_h2(rec["log"])
        else:
            v, how = gwaslmm_h2_from_log(rec["out"] + ".log")
        entry["h2"].append(dict(source=rec["label"], h2=v, note=how))
    entry["h2"].append(dict(source="simulation (realized genetic share)",
                            h2=datasets.true_h2(files.bfile), note="truth"))


def main(argv=None):
    if argv is None:
        argv = sys.argv[1:]
    if argv and argv[0] == "_simulate":
        return simulate_child(argv[1:])
    if len(argv) == 2 and argv[0] == "--rewrite-report":
        # re-render DATE-cg-bench.md (and the figure) from its .json after editing this script
        res = json.load(open(argv[1]))
        base = argv[1][: -len(".json")]
        try:
            res["figure"] = write_figure(res, base + "-scaling.png")
        except ImportError as exc:
            res["figure"], res["figure_note"] = None, f"figure skipped: matplotlib not importable ({exc})"
        write_markdown(res, base + ".md")
        log(f"rewrote {base}.md from {argv[1]}")
        return 0
    a = parse_args(argv)
    date = a.date or dt.date.today().isoformat()
    work_root = a.work_dir or os.path.join(a.data_dir, "work-cg")
    os.makedirs(a.out_dir, exist_ok=True)
    os.makedirs(a.data_dir, exist_ok=True)
    t_start = time.perf_counter()

    find_bolt(a)
    found = tools.discover(() if a.no_bolt else ("bolt",), a.gwaslmm)
    if found["gwaslmm"].status != "found":
        raise SystemExit("gwaslmm not found: " + found["gwaslmm"].note)
    gwaslmm = found["gwaslmm"].path
    have_cg, cg_note = engine_available(gwaslmm)
    log(f"gwaslmm {found['gwaslmm'].version} at {gwaslmm}: --engine cg "
        f"{'available' if have_cg else 'not available'} ({cg_note})")
    bolt = found["bolt"]
    log(f"bolt: {bolt.status} {bolt.version} {bolt.path} {bolt.note}".rstrip())

    result = dict(
        date=date, started=dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S"),
        invocation=shlex.join([sys.executable, os.path.abspath(__file__), *argv]),
        machine=measure.machine_info(), load_start=measure.load_average(),
        git_start=measure.git_state(ROOT), tools={k: asdict(v) for k, v in found.items()},
        have_cg=have_cg, cg_note=cg_note, repeats=a.repeats, timeout_s=a.timeout,
        dense=a.dense, sizes=[], warmup=[], mem_available_gib=mem_available_bytes() / GIB,
    )

    if have_cg and not a.no_warmup:
        wdir = os.path.join(work_root, "warmup")
        os.makedirs(wdir, exist_ok=True)
        sim = os.path.join(ROOT, "testdata", "sim")
        base = [gwaslmm, "assoc", "--bfile", sim, "--pheno", sim + ".pheno", "--pheno-name",
                "trait", "--covar", sim + ".covar", "--fast", "--loco", "--out",
                os.path.join(wdir, "dense")]
        for name, w in (("cg", cg_argv(base, os.path.join(wdir, "cg"))), ("dense", base)):
            if name == "dense" and not a.dense:
                continue
            log(f"warm-up (untimed): {shlex.join(w)}")
            with open(os.path.join(wdir, name + ".stdout"), "w") as out:
                rc = subprocess.run(w, stdout=out, stderr=subprocess.STDOUT).returncode
            result["warmup"].append(dict(argv=w, rc=rc))

    for si, (n, m) in enumerate(a.size_list):
        ds = Dataset(n, m, N_CHROMOSOMES)
        entry = {"name": ds.name, "n": n, "m": m, "n_chrom": N_CHROMOSOMES, "notes": [],
                 "runs": [], "agreement": [], "lambda": [], "h2": [], "sim": None}
        result["sizes"].append(entry)
        # ------------------------------------------------ simulation (cached)
        if not is_cached(ds, a.data_dir):
            avail = mem_available_bytes()
            lowmem = a.sim_lowmem == "on"
            if a.sim_lowmem == "auto" and sim_peak_bytes(n, m, False) > 0.9 * avail:
                lowmem = True
            need = sim_peak_bytes(n, m, lowmem)
            entry["sim"] = dict(mode="low-memory (chunked draws)" if lowmem else "plain",
                                est_gib=need / GIB, est_plain_gib=sim_peak_bytes(n, m, False) / GIB,
                                avail_gib=avail / GIB)
            if need > 0.9 * avail and not a.force:
                entry["notes"].append(
                    f"skipped: simulating needs ~{need / GIB:.1f} GiB (estimate), only "
                    f"{avail / GIB:.1f} GiB available (--force to try anyway)")
                log(entry["notes"][-1])
                continue
            os.makedirs(os.path.join(a.data_dir, ds.name), exist_ok=True)
            argv_sim = [sys.executable, os.path.abspath(__file__), "_simulate", str(n), str(m),
                        str(N_CHROMOSOMES), str(ds.seed), a.data_dir,
                        "lowmem" if lowmem else "plain"]
            log(f"simulating {ds.name} ({entry['sim']['mode']}, estimated peak "
                f"{need / GIB:.1f} GiB of {avail / GIB:.1f} GiB available)")
            tm = measure.run_timed(argv_sim, {}, os.path.join(a.data_dir, ds.name,
                                                              "simulate.log"), a.timeout)
            entry["sim"].update(argv=argv_sim, wall_s=tm.wall_s, rss_mb=tm.max_rss_mb, rc=tm.rc)
            log(f"  simulation {tm.wall_s:.0f} s, peak {tm.max_rss_mb / 1024:.2f} GiB, rc {tm.rc}")
            if tm.rc != 0:
                entry["notes"].append(f"simulation failed (rc={tm.rc}): "
                                      + (tm.tail.strip().splitlines() or [""])[-1])
                continue
        files = datasets.prepare(ds, a.data_dir, log=log)
        entry["n_complete"] = files.n_complete
        work = os.path.join(work_root, ds.name)
        os.makedirs(work, exist_ok=True)
        plan = tools.Plan(files=files, work=work, kinship_txt="", exact_snps_file="",
                          n_exact_snps=0)
        built = {(r.comparison, r.tool): r for r in tools.build_runs(plan, found)}
        dense = built[("loco", "gwaslmm")]
        recs = {}

        def rec(key, tool, label, argv_, out, env=None):
            recs[key] = dict(key=key, tool=tool, label=label, argv=argv_, env=env or {}, out=out,
                             log=out + ".stdout", walls=[], rss=[], rcs=[], cpu=[],
                             other_cpu=[], ok=False, tail="")

        if have_cg:
            out = os.path.join(work, "gwaslmm_cg")
            rec("cg", "gwaslmm", "gwaslmm assoc --loco --engine cg", cg_argv(dense.argv, out),
                out)
        else:
            entry["notes"].append("gwaslmm --engine cg not available (" + cg_note + ")")
        if ("loco", "bolt") in built:
            b = built[("loco", "bolt")]
            rec("bolt", "bolt", "bolt --lmmInfOnly --LDscoresUseChip", b.argv, b.out, b.env)
        elif not a.no_bolt:
            entry["notes"].append(f"BOLT-LMM {bolt.status}: {bolt.note} ({BOLT_INSTALL})")
        if a.dense and si == 0:
            rec("dense", "gwaslmm", "gwaslmm assoc --fast --loco (dense)", dense.argv, dense.out)
        for rep in range(a.repeats):
            for r in recs.values():
                log(f"{ds.name} repeat {rep + 1}/{a.repeats}: {r['label']}")
                timed(r, a.timeout)
        for r in recs.values():
            if r["tool"] == "gwaslmm" and r["ok"]:
                try:
                    r["timings"] = json.load(open(r["out"] + ".timings.json"))
                except (OSError, ValueError):
                    r["timings"] = None
        entry["runs"] = list(recs.values())
        evaluate(entry, files, recs)
        entry["true_h2"] = datasets.true_h2(files.bfile)

    result["load_end"] = measure.load_average()
    result["git_end"] = measure.git_state(ROOT)
    result["finished"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    result["elapsed_s"] = time.perf_counter() - t_start
    base = os.path.join(a.out_dir, f"{date}-cg-bench")
    try:
        result["figure"] = write_figure(result, base + "-scaling.png")
        result["figure_note"] = "" if result["figure"] else "no successful timings to plot"
    except ImportError as exc:
        result["figure"] = None
        result["figure_note"] = f"figure skipped: matplotlib not importable ({exc})"
        log(result["figure_note"])
    write_markdown(result, base + ".md")
    with open(base + ".json", "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    log(f"wrote {base}.md in {result['elapsed_s'] / 60:.1f} min")
    return 0


# ------------------------------------------------------------------------- report
def _f(x, nd=3):
    if x is None or x == "":
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, (int, np.integer)):
        return f"{int(x):,}"
    if math.isnan(x):
        return "n/a"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 10:
        return f"{x:.1f}"
    return f"{x:.{nd}g}"


def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out


def _cmd(r):
    env = " ".join(f"{k}={v}" for k, v in sorted(r.get("env", {}).items()))
    return (env + " " + shlex.join(str(x) for x in r["argv"])).strip()


def write_markdown(res, path):
    m = res["machine"]
    L = [f"# gwaslmm `assoc --loco --engine cg` vs BOLT-LMM `--lmmInfOnly` ({res['date']})", ""]
    L.append(f"Started {res['started']}, finished {res['finished']} "
             f"({res['elapsed_s'] / 60:.1f} min, simulation included). Each command ran alone, "
             "as one process under `/usr/bin/time -v` (wall = 'Elapsed', memory = 'Maximum "
             f"resident set size'); {res['repeats']} timed run(s) per command, median shown. "
             "Ratios are gwaslmm ÷ BOLT (above 1: gwaslmm slower / larger).")
    L.append("")
    if not res["have_cg"]:
        L.append(f"**gwaslmm --engine cg not available** ({res['cg_note']}): only BOLT-LMM "
                 "(and `--dense`, if asked) ran.")
        L.append("")
    g0, g1 = res["git_start"], res["git_end"]
    L.append(f"gwaslmm source: {g0}" + ("" if g0 == g1 else f"; changed during the run to {g1}")
             + ".")
    L.append("")
    L.append("Command: `" + res["invocation"] + "`")
    L.append("")
    L.append("## Machine and tools")
    L.append("")
    rows = [["CPU", f"{m['cpu']} ({m['cpu_flags']})"],
            ["cores", f"{m['cores']} (usable: {m['affinity']})"],
            ["memory", f"{m['mem_gb']:.1f} GiB ({res['mem_available_gib']:.1f} GiB available "
                       "at start)"],
            ["BLAS of gwaslmm's numpy", m["blas"]],
            ["Python, numpy, kernel", f"{m['python']}, {m['numpy']}, {m['kernel']}"],
            ["load average at start / end",
             ", ".join(f"{x:.2f}" for x in res["load_start"]) + " / "
             + ", ".join(f"{x:.2f}" for x in res["load_end"])],
            ["threads", "gwaslmm: its default (all cores); BOLT-LMM: `--numThreads=2`, "
                        "OPENBLAS_NUM_THREADS=1 (as benchmarks/harness/tools.py)"]]
    for name, t in res["tools"].items():
        if t["status"] != "not requested":
            rows.append([name, f"{t['status']}: {t['version']} {t['path']} {t['note']}".strip()])
    L += _table(["", ""], rows)
    L.append("")
    for e in res["sizes"]:
        L += _size_section(e, res)
    L += _scaling_section(res)
    L.append("## Commands")
    L.append("")
    if res["warmup"]:
        L.append("Untimed warm-up (fills numba's cache):")
        L.append("")
        L.append("```")
        L += [shlex.join(w["argv"]) + f"   # rc {w['rc']}" for w in res["warmup"]]
        L.append("```")
        L.append("")
    for e in res["sizes"]:
        L.append(f"{e['name']}:")
        L.append("")
        L.append("```")
        if e.get("sim") and e["sim"].get("argv"):
            L.append("# simulation (timed separately): " + shlex.join(e["sim"]["argv"]))
        for r in e["runs"]:
            L.append(_cmd(r))
        L.append("```")
        L.append("")
    with open(path, "w") as fh:
        fh.write("\n".join(L) + "\n")


def _size_section(e, res):
    L = [f"## {e['n']:,} samples × {e['m']:,} SNPs ({e['n_chrom']} chromosomes)", ""]
    s = e.get("sim")
    if s and "wall_s" in s:
        L.append(f"Simulated in this run ({s['mode']}): {_f(s['wall_s'])} s, peak RSS "
                 f"{s['rss_mb'] / 1024:.2f} GiB (estimated {s['est_gib']:.2f} GiB; the plain "
                 f"simulator's estimate {s['est_plain_gib']:.2f} GiB).")
    elif s:
        L.append(f"Not simulated: estimated peak {s['est_gib']:.1f} GiB ({s['mode']}), "
                 f"{s['avail_gib']:.1f} GiB available.")
    else:
        L.append("Dataset from the cache (simulated earlier).")
    if "n_complete" in e:
        L.append(f"{e['n_complete']:,} samples have the phenotype and every covariate; "
                 f"causal SNPs on chromosomes 1–{e.get('causal_k', '?')}; simulated "
                 f"(realized) h² {_f(e.get('true_h2', float('nan')), 4)}.")
    for note in e["notes"]:
        L.append("")
        L.append(f"**Note:** {note}")
    L.append("")
    if not e["runs"]:
        return L
    L.append("### Wall time and peak memory")
    L.append("")
    rows = []
    for r in e["runs"]:
        oth = [x for x in r["other_cpu"] if x == x]
        ok = sum(1 for rc in r["rcs"] if rc == 0)
        status = f"{ok}/{len(r['rcs'])} ok" + ("" if r["ok"] else "; failed: rc="
                                               + str(r["rcs"][-1]) + " "
                                               + (r["tail"].strip().splitlines() or [""])[-1][:150])
        rows.append([r["label"], _f(med(r["walls"])),
                     f"{_f(min(r['walls']))}–{_f(max(r['walls']))}" if len(r["walls"]) > 1
                     else "", _f(med(r["rss"])), _f(med(r["cpu"])),
                     f"{100 * max(oth):.0f}%" if oth else "n/a", status])
    L += _table(["command", "wall s", "min–max", "peak RSS MiB", "CPU s", "others' CPU (max)",
                 "runs"], rows)
    L.append("")
    by = {r["key"]: r for r in e["runs"]}
    ratio_rows = []
    for key in ("cg", "dense"):
        if key in by and "bolt" in by and by[key]["ok"] and by["bolt"]["ok"]:
            g, b = by[key], by["bolt"]
            ratio_rows.append([g["label"] + " ÷ BOLT", _f(med(g["walls"]) / med(b["walls"])),
                               _f(med(g["rss"]) / med(b["rss"]))])
    if ratio_rows:
        L += _table(["ratio", "wall time", "peak memory"], ratio_rows)
    else:
        L.append("Ratios: n/a (gwaslmm --engine cg " + ("failed" if "cg" in by else
                                                        "not available") + " or BOLT missing).")
    L.append("")
    L.append("'others' CPU' is CPU time other processes used meanwhile, as a share of all "
             "cores: above ~10% the timing was contended.")
    for r in e["runs"]:
        t = r.get("timings")
        if t:
            L.append("")
            L.append(f"{r['label']} stages (OUT.timings.json): "
                     + ", ".join(f"{k} {_f(v)} s" for k, v in t.items()))
    L.append("")
    L.append("### Agreement")
    L.append("")
    if e["agreement"]:
        rows = [[x["a"], x["b"], x["what"], _f(x["n"]),
                 f"{x['r']:.6f}" if x["r"] == x["r"] else "n/a", _f(x["max_abs"])]
                for x in e["agreement"]]
        L += _table(["gwaslmm", "peer", "statistic", "SNPs matched", "r", "max abs Δ(−log10 p)"],
                    rows)
        L.append("")
        L.append("gwaslmm's −log10 p is its `neg_log_10_p_value` column (−log10 of `p_value`, "
                 "exact where p underflows); BOLT prints P_BOLT_LMM_INF to 2 significant "
                 "digits. SNPs matched on the variant ID; gwaslmm drops MAF < 0.01 by default, "
                 "BOLT does not.")
    else:
        L.append("Nothing to compare (one side missing or failed).")
    L.append("")
    cr = e.get("chi2_ratio")
    if cr:
        L.append(f"cg vs dense: |chi2_cg / chi2_dense − 1|, chi2 = {cr['source']}:")
        L.append("")
        L += _table(["SNPs", "count", "median", "99th percentile", "max"],
                    [[x["label"], _f(x["n"]), _f(x["median"]), _f(x["p99"]), _f(x["max"])]
                     for x in cr["rows"]])
        L.append("")
    L.append("### Heritability")
    L.append("")
    L += _table(["source", "h²", "how"], [[h["source"], _f(h["h2"], 4), h["note"]]
                                          for h in e["h2"]])
    L.append("")
    L.append("### λ_GC (median χ² / 0.4549, χ² = chi-square(1) quantile of p)")
    L.append("")
    if e["lambda"]:
        k = e.get("causal_k", 0)
        rows = [[x["tool"], _f(x["all"], 4), _f(x["free"], 4), _f(x["causal"], 4),
                 _f(x["own"], 4) + f" ({_f(x['own_n'])})",
                 _f(x["own_free"], 4) + f" ({_f(x['own_free_n'])})"] for x in e["lambda"]]
        n_all = e["lambda"][0]["all_n"]
        n_free = e["lambda"][0]["free_n"]
        L += _table(["tool", f"all chromosomes ({_f(n_all)} SNPs)",
                     f"causal-free chr {k + 1}–{e['n_chrom']} ({_f(n_free)} SNPs)",
                     f"causal chr 1–{k}", "all, own SNPs (count)",
                     f"chr {k + 1}–{e['n_chrom']}, own SNPs (count)"], rows)
        L.append("")
        L.append("The first three columns use the SNPs every tool of this table tested "
                 f"({_f(e['n_common'])}); the last two each tool's own SNPs (BOLT also tests "
                 "MAF < 0.01). BOLT prints p to 2 significant digits, so its median χ² moves "
                 "in steps (~1–2% near p = 0.5): two of its λ can coincide exactly.")
    else:
        L.append("No results.")
    L.append("")
    return L


def _scaling_section(res):
    done = [e for e in res["sizes"] if e["runs"]]
    L = ["## Scaling", ""]
    if not done:
        return L + ["No size ran.", ""]
    labels = []
    for e in done:
        for r in e["runs"]:
            if r["label"] not in labels:
                labels.append(r["label"])
    rows = []
    for lab in labels:
        row = [lab]
        for e in done:
            r = next((x for x in e["runs"] if x["label"] == lab and x["ok"]), None)
            row.append(f"{_f(med(r['walls']))} s, {_f(med(r['rss']))} MiB" if r else "—")
        rows.append(row)
    L += _table(["command"] + [f"{e['n']:,} × {e['m']:,}" for e in done], rows)
    L.append("")
    if res.get("figure"):
        L.append(f"![scaling]({os.path.basename(res['figure'])})")
    else:
        L.append(res.get("figure_note") or "No figure.")
    L.append("")
    return L


def write_figure(res, path):
    """Wall time and peak RSS against n (log-log), one line per command."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series = {}
    for e in res["sizes"]:
        for r in e["runs"]:
            if r["ok"]:
                series.setdefault((r["label"], r["tool"]), []).append(
                    (e["n"], e["m"], med(r["walls"]), med(r["rss"])))
    if not series:
        return None
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    colors = {"gwaslmm assoc --loco --engine cg": "tab:blue",
              "bolt --lmmInfOnly --LDscoresUseChip": "tab:red"}
    for (label, tool), pts in series.items():
        pts.sort()
        for ax, j in ((axes[0], 2), (axes[1], 3)):
            ax.plot([p[0] for p in pts], [p[j] for p in pts], "-o",
                    color=colors.get(label, "tab:green"), label=label)
            for p in pts:
                ax.annotate(f"m={p[1] // 1000}k", (p[0], p[j]), fontsize=7,
                            textcoords="offset points", xytext=(4, -10))
    for ax, yl in ((axes[0], "wall s"), (axes[1], "peak RSS MiB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("samples n")
        ax.set_ylabel(yl)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    fig.suptitle(f"gwaslmm --engine cg vs BOLT-LMM --lmmInfOnly ({res['date']})", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


if __name__ == "__main__":
    sys.exit(main())
