"""Speed where users feel it (issue 13): fixed costs, text inputs, writing.

    .venv/bin/python benchmarks/speed.py --repeats 3 --date 2026-11-27-speed \
        [--before OLD/bin/gwaslmm]

Sections, each run side by side with the peer in one process tree (one
command at a time, alternating, after one untimed warm-up run of each so
that disk caches and numba's kernel cache are warm):

1. GEMMA's example shape: 1,940 samples in the .fam, 1,410 analysed (530
   phenotypes missing), 12,226 SNPs on 19 chromosomes (about 10,800 pass
   QC), simulated by the project's simulator; the kinship given to both tools
   as GEMMA text (``gemma -gk 1``).  gwaslmm ``assoc --test all --kinship K``
   against ``gemma -lmm 4 -k K``.
2. Wide data: 400 samples x 350,000 SNPs.  gwaslmm ``grm`` against
   ``plink2 --make-rel triangle bin4 --maf 0.01 --geno 0.05`` (standardized,
   both; the same variant QC).
3. Writing: 10 million synthetic result rows through gwaslmm's row
   formatter and table writer (gzip), against a ``--fast`` run's per-variant
   cost measured on 1,000 samples x 200,000 SNPs and scaled to 10 million.
4. ``gwaslmm --help`` wall time.
5. Input readers in one process: the .bed decoder against bed-reader's int8
   read, .pgen hard calls against the dosage path, the .bim and the GEMMA
   text kinship against numpy.loadtxt, and gzip levels 1 and 6 on a result
   table.

Writes benchmarks/results/<date>.md.  Needs ``gemma`` and ``plink2`` on the
PATH (Debian packages); a missing peer's rows say so.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "testdata"))

import numpy as np  # noqa: E402


def gwaslmm_exe() -> str:
    return os.path.join(os.path.dirname(sys.executable), "gwaslmm")


def timed(argv, cwd=None, env=None) -> float:
    t0 = time.perf_counter()
    r = subprocess.run(argv, capture_output=True, text=True, cwd=cwd, env=env)
    dt = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(argv)}\n{r.stderr[-2000:]}")
    return dt


def alternate(cmds: dict, repeats: int) -> dict:
    """Run each named command once untimed, then ``repeats`` rounds in turn."""
    for argv in cmds.values():
        timed(argv)
    out = {k: [] for k in cmds}
    for r in range(repeats):
        names = list(cmds) if r % 2 == 0 else list(cmds)[::-1]
        for k in names:
            out[k].append(timed(cmds[k]))
            print(f"  {r + 1}/{repeats} {k}: {out[k][-1]:.2f} s", flush=True)
    return out


def med(x):
    return statistics.median(x)


def best_note(t: dict, ours: str, peer: str, how: str) -> list:
    """The same comparison on each command's fastest run: on a shared machine
    other jobs only ever add time, so the minimum is the least disturbed
    estimate (reported beside the medians, which the targets use)."""
    a, b = min(t[ours]), min(t[peer])
    ratio = f"{b / a:.1f}{how}" if how.startswith("x") else f"{a / b:.2f}{how}"
    return [f"Fastest of each ({len(t[ours])} runs): gwaslmm {a:.2f} s, {peer} {b:.2f} s: "
            f"{ratio}.", ""]


def simulate(prefix: str, n: int, m: int, chroms: int, missing: int, seed: int) -> None:
    from make_testdata import write_sim  # noqa: E402

    from gwaslmm.simulate import SimulationConfig

    if os.path.exists(prefix + ".bed"):
        return
    os.makedirs(os.path.dirname(prefix), exist_ok=True)
    cfg = SimulationConfig(n_samples=n, n_snps=m, n_chromosomes=chroms, n_missing_pheno=missing,
                           causal_chromosomes=min(4, chroms), seed=seed)
    write_sim(prefix, cfg)


def table(t: dict, labels: dict) -> list:
    """Markdown rows: median (range) of each timed command."""
    return ["| tool | median s (range) |", "|---|---:|",
            *[f"| {labels[k]} | {med(v):.2f} ({min(v):.2f}-{max(v):.2f}) |" for k, v in t.items()],
            ""]


def stages_line(path: str, label: str) -> list:
    """One line with a run's stage timings (its OUT.timings.json), if it exists."""
    import json

    if not os.path.exists(path):
        return []
    with open(path) as fh:
        stages = json.load(fh)
    return [f"{label}: " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items()), ""]


def before_note(t: dict, what: str) -> list:
    if "before" not in t:
        return []
    return [f"This build / the build before (`--before`): **{med(t['gwaslmm']) / med(t['before']):.2f}**"
            f" ({what}).", ""]


def section_mouse(d: str, repeats: int, lines: list, before: str | None) -> None:
    prefix = os.path.join(d, "mouse", "sim")
    simulate(prefix, 1940, 12226, 19, 530, 1940)
    kin = os.path.join(d, "mouse", "output", "k.cXX.txt")
    gemma = shutil.which("gemma")
    lines += ["## 1. GEMMA's example shape: exact tests, kinship given as GEMMA text", ""]
    if not gemma:
        lines += ["gemma is not installed (apt-get install gemma): section skipped.", ""]
        return
    if not os.path.exists(kin):
        subprocess.run([gemma, "-bfile", "sim", "-gk", "1", "-o", "k"], cwd=os.path.dirname(prefix),
                       check=True, capture_output=True)
    out = os.path.join(d, "mouse", "run")
    # both read the phenotype from the .fam's column 6 (-9 missing), no covariates
    args = ["assoc", "--bfile", prefix, "--test", "all", "--kinship", kin]
    # the same run compiling gwaslmm's own modules every time: a copy of the
    # source (modification times kept, so numba's cache for it stays valid)
    # without __pycache__, run with PYTHONDONTWRITEBYTECODE=1; numpy's, scipy's
    # and numba's modules keep the bytecode pip compiled at install
    src = os.path.join(d, "mouse", "nocache-src")
    for name, dest in (("gwaslmm", "gwaslmm"), ("cli", "gwaslmm_cli")):
        shutil.rmtree(os.path.join(src, dest), ignore_errors=True)
        shutil.copytree(os.path.join(ROOT, name), os.path.join(src, dest),
                        ignore=shutil.ignore_patterns("__pycache__"))
    cmds = {"gwaslmm": [gwaslmm_exe(), *args, "--out", out],
            "gemma": ["sh", "-c", f"cd {os.path.dirname(prefix)} && {gemma} -bfile sim -k {kin} "
                      f"-lmm 4 -o g"],
            "nocache": ["env", "PYTHONDONTWRITEBYTECODE=1", sys.executable, "-c",
                        f"import sys; sys.path.insert(0, {src!r}); sys.argv[0] = 'gwaslmm'; "
                        f"from gwaslmm_cli.main import main; main()",
                        *args, "--out", out + "-nocache"]}
    if before:
        cmds["before"] = [before, *args, "--out", out + "-before"]
    t = alternate(cmds, repeats)
    with open(out + ".log") as fh:
        log = fh.read()
    tested = [ln for ln in log.splitlines() if "SNPs tested:" in ln][0].strip()
    g, p = med(t["gwaslmm"]), med(t["gemma"])
    lines += [f"1,940 samples in the .fam (1,410 analysed), 12,226 SNPs; {tested}.", "",
              *table(t, {"gwaslmm": "gwaslmm `assoc --test all --kinship K`",
                         "gemma": "`gemma -lmm 4 -k K`",
                         "nocache": "gwaslmm, same command, its modules compiled every run "
                                    "(no bytecode cache)",
                         "before": "the build before, same command"}),
              f"gwaslmm is **{p / g:.1f}x** faster end to end (target: 10x); compiling its "
              f"modules every run, {p / med(t['nocache']):.1f}x.", "",
              *best_note(t, "gwaslmm", "gemma", "x faster"),
              *before_note(t, "assoc --test all"),
              *stages_line(out + ".timings.json", "gwaslmm's stages (last run, `OUT.timings.json`)"),
              *(stages_line(out + "-before.timings.json", "the build before's stages (last run)")
                if before else [])]


def section_wide(d: str, repeats: int, lines: list, before: str | None) -> None:
    prefix = os.path.join(d, "wide", "sim")
    simulate(prefix, 400, 350_000, 22, 8, 400)
    plink2 = shutil.which("plink2")
    lines += ["## 2. Wide data: kinship of 400 samples x 350,000 SNPs", ""]
    out = os.path.join(d, "wide", "g")
    cmds = {"gwaslmm": [gwaslmm_exe(), "grm", "--bfile", prefix, "--out", out]}
    if plink2:
        # the same variants as gwaslmm's default QC (plink2 refuses monomorphic
        # variants in --make-rel; --maf 0.01 drops them, as gwaslmm does)
        cmds["plink2"] = [plink2, "--bfile", prefix, "--make-rel", "triangle", "bin4",
                          "--maf", "0.01", "--geno", "0.05", "--threads", str(os.cpu_count()),
                          "--out", os.path.join(d, "wide", "p")]
    if before:
        cmds["before"] = [before, "grm", "--bfile", prefix, "--out", out + "-before"]
    t = alternate(cmds, repeats)
    lines += table(t, {"gwaslmm": "gwaslmm `grm`",
                       "plink2": "`plink2 --make-rel triangle bin4 --maf 0.01 --geno 0.05`",
                       "before": "the build before, same command"})
    if plink2:
        lines += [f"gwaslmm / plink2 = **{med(t['gwaslmm']) / med(t['plink2']):.2f}** "
                  f"(target: below 1).", "", *best_note(t, "gwaslmm", "plink2", " of plink2")]
    else:
        lines += ["plink2 is not installed (apt-get install plink2).", ""]
    lines += before_note(t, "grm")
    lines += stages_line(out + ".timings.json", "gwaslmm's stages")
    if before:
        lines += stages_line(out + "-before.timings.json", "the build before's stages")


def section_writing(d: str, repeats: int, lines: list) -> None:
    """10 million synthetic rows through the scan loop's formatter and writer."""
    from gwaslmm.genotypes.base import VariantInfo
    from gwaslmm.scan.base import BlockResult
    from gwaslmm.schema import RowBlock, TextTables, assoc_header, format_text
    from gwaslmm.writers import TableWriter

    n_rows, block = 10_000_000, 4096
    rng = np.random.default_rng(0)
    m = 20_000  # a variant table reused block after block
    v = VariantInfo(chromosome=np.array([str(1 + k // 1000) for k in range(m)]),
                    position=rng.integers(1, 2 ** 28, m), id=np.array([f"rs{k}" for k in range(m)]),
                    effect_allele=np.array(["A"] * m), other_allele=np.array(["G"] * m), source="x")
    header = assoc_header(("t_stat",))
    path = os.path.join(d, "write.assoc.tsv.gz")
    beta = rng.normal(0, 0.05, block)
    se = rng.uniform(0.02, 0.1, block)
    nl = -np.log10(rng.random(block))
    res = BlockResult(keep=np.ones(block, bool), beta=beta, se=se, t_stat=beta / se,
                      neglog10_p=nl)
    text = TextTables.of(v)  # made once per run, as the scan loop does
    t0 = time.perf_counter()
    w = TableWriter(path, header)
    done = 0
    while done < n_rows:
        k = min(block, n_rows - done)
        idx = np.arange(done % (m - block), done % (m - block) + k)
        rb = RowBlock(variants=v, idx=idx, allele_freq=rng.random(k), n_miss=np.zeros(k, int),
                      n=1000, result=res if k == block else BlockResult(
                          keep=np.ones(k, bool), beta=beta[:k], se=se[:k], t_stat=(beta / se)[:k],
                          neglog10_p=nl[:k]))
        w.write_text(format_text(rb, header, text), k)
        done += k
    w.finish(expected_rows=n_rows)
    t_write = time.perf_counter() - t0
    size = os.path.getsize(path)
    os.unlink(path)
    # a --fast run's cost per variant, 1,000 samples x 200,000 SNPs
    prefix = os.path.join(d, "fast", "sim")
    simulate(prefix, 1000, 200_000, 22, 8, 1000)
    out = os.path.join(d, "fast", "run")
    t = alternate({"fast": [gwaslmm_exe(), "assoc", "--bfile", prefix, "--pheno",
                            prefix + ".pheno", "--pheno-name", "trait", "--covar", prefix + ".covar",
                            "--fast", "--out", out]}, repeats)
    import json

    with open(out + ".timings.json") as fh:
        stages = json.load(fh)
    with open(out + ".log") as fh:
        tested = int([ln for ln in fh.read().splitlines() if "SNPs tested:" in ln][0]
                     .split("SNPs tested:")[1].split(";")[0])
    per_variant = med(t["fast"]) / 200_000
    scaled = per_variant * n_rows
    lines += ["## 3. Writing results", "",
              f"10,000,000 synthetic rows (the columns of `assoc --fast`) through gwaslmm's row "
              f"formatter and gzip table writer: **{t_write:.1f} s** ({n_rows / t_write / 1e6:.2f} M "
              f"rows/s, {size / 2 ** 20:.0f} MiB).",
              f"A `--fast` run on 1,000 samples x 200,000 SNPs ({tested} tested) takes "
              f"{med(t['fast']):.1f} s, {per_variant * 1e6:.1f} us per variant; scaled to 10 million "
              f"variants {scaled:.0f} s, of which the writing above is "
              f"**{100 * t_write / scaled:.1f}%** (target: under 10%).",
              f"In that run, its own writing stage: {stages.get('write', 0):.2f} s of "
              f"{stages['total']:.2f} s ({100 * stages.get('write', 0) / stages['total']:.1f}%).",
              ""]


def best_of(fn, repeats: int) -> float:
    """Shortest of ``repeats`` timed calls (after one untimed call)."""
    fn()
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return min(ts)


def section_inputs(d: str, repeats: int, lines: list) -> None:
    """Input readers and gzip level against the C parsers they replace."""
    import gzip
    import zlib

    from bed_reader import open_bed

    from gwaslmm.genotypes.plink1 import BedFile, read_bim
    from gwaslmm.genotypes.plink2 import PgenFile
    from gwaslmm.kinship_io import read_gemma_kinship

    wide = os.path.join(d, "wide", "sim")
    simulate(wide, 400, 350_000, 22, 8, 400)
    bed = BedFile(wide)
    m, step = bed.n_snps, 20_000
    blocks = [slice(a, min(m, a + step)) for a in range(0, m, step)]
    t_own = best_of(lambda: [bed.read_block(None, b) for b in blocks], repeats)
    ref = open_bed(wide + ".bed", count_A1=True)
    t_br = best_of(lambda: [ref.read(index=np.s_[:, b], dtype="int8") for b in blocks], repeats)
    rows = [f"| .bed, 400 x 350,000 in blocks of 20,000 | gwaslmm decoder + QC counts | "
            f"{t_own:.2f} | bed-reader int8 read (no counts) | {t_br:.2f} |"]
    plink2 = shutil.which("plink2")
    if plink2:
        if not os.path.exists(wide + "p.pgen"):
            subprocess.run([plink2, "--bfile", wide, "--make-pgen", "--out", wide + "p"],
                           check=True, capture_output=True)
        hard, dos = PgenFile(wide + "p"), PgenFile(wide + "p")
        dos.dosages = True  # the same hard calls through the dosage path
        t_h = best_of(lambda: [hard.read_block(None, b) for b in blocks], repeats)
        t_d = best_of(lambda: [dos.read_block(None, b) for b in blocks], repeats)
        rows.append(f"| .pgen of the same (plink2 --make-pgen) | hard calls (int8) | {t_h:.2f} "
                    f"| the dosage path (float32) | {t_d:.2f} |")
    t_bim = best_of(lambda: read_bim(wide + ".bim"), repeats)

    def bim_numpy():
        cols = np.loadtxt(wide + ".bim", dtype=str, unpack=True)
        return cols[2].astype(float), cols[3].astype(np.int64)

    t_bim_np = best_of(bim_numpy, 1)
    rows.append(f"| .bim, 350,000 lines | read_bim (numba split + number parse) | {t_bim:.2f} | "
                f"numpy.loadtxt(dtype=str) + astype | {t_bim_np:.2f} |")
    mouse = os.path.join(d, "mouse", "sim")
    kin = os.path.join(d, "mouse", "output", "k.cXX.txt")
    if os.path.exists(kin):
        mb = BedFile(mouse)
        t_k = best_of(lambda: read_gemma_kinship(kin, mb.fam.fid, mb.fam.iid), repeats)
        t_k_np = best_of(lambda: np.loadtxt(kin), 1)
        rows.append(f"| GEMMA text kinship, 1,940 x 1,940 | read_gemma_kinship (+ checks) | "
                    f"{t_k:.2f} | numpy.loadtxt | {t_k_np:.2f} |")
    res = os.path.join(d, "fast", "run.assoc.tsv.gz")
    gz = []
    if os.path.exists(res):
        with gzip.open(res, "rb") as fh:
            raw = fh.read()
        for level in (1, 6):
            t = best_of(lambda: zlib.compress(raw, level), 1)
            gz.append(f"level {level}: {len(raw) / t / 1e6:.0f} MB/s, compressed to "
                      f"{len(zlib.compress(raw, level)) / len(raw):.3f} of {len(raw) / 1e6:.0f} MB")
    lines += ["## 5. Input readers and gzip level", "",
              f"Shortest of {repeats} runs each, in one process.", "",
              "| input | gwaslmm | s | reference | s |", "|---|---|---:|---|---:|", *rows, ""]
    if gz:
        lines += ["gzip of a `--fast` result table (section 3's run): " + "; ".join(gz) + ".", ""]


def section_help(lines: list) -> None:
    ts = []
    for _ in range(5):
        ts.append(timed([gwaslmm_exe(), "--help"]))
    bad = []
    for _ in range(5):
        t0 = time.perf_counter()
        subprocess.run([gwaslmm_exe(), "assoc", "--bfile"], capture_output=True)
        bad.append(time.perf_counter() - t0)
    # what every run pays before the project's code: numba's import, and its
    # first call of a cached kernel in a process (loading its compiler's
    # registries); a bare function, cached in a scratch folder (second run timed)
    import tempfile

    probe = ("import time; t0 = time.perf_counter(); import numpy, numba; t1 = time.perf_counter()\n"
             "@numba.njit(cache=True)\ndef f(x):\n    return x.sum()\n"
             "f(numpy.ones(4)); t2 = time.perf_counter()\n"
             "import resource; print(t1 - t0, t2 - t1, "
             "resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)")
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "probe.py")
        with open(path, "w") as fh:
            fh.write(probe)
        env = dict(os.environ, NUMBA_CACHE_DIR=os.path.join(tmp, "cache"))
        runs = []
        for _ in range(6):  # the first compiles and caches; the other five load
            r = subprocess.run([sys.executable, path], capture_output=True, text=True, env=env,
                               check=True)
            runs.append([float(v) for v in r.stdout.split()])
    imp, first = med([r[0] for r in runs[1:]]), med([r[1] for r in runs[1:]])
    rss = med([r[2] for r in runs[1:]])
    lines += ["## 4. Start-up", "",
              f"`gwaslmm --help`: median {med(ts):.3f} s of 5 (range {min(ts):.3f}-{max(ts):.3f}); "
              f"an argument error (`gwaslmm assoc --bfile`): median {med(bad):.3f} s.", "",
              f"numba's own cost in any process that runs a kernel (a bare `@njit(cache=True)` "
              f"function, cached): `import numpy, numba` median {imp:.3f} s, its first call "
              f"{first:.3f} s (numba loads its compiler's registries, scipy.linalg among them), "
              f"peak resident memory of that process {rss:.0f} MiB, medians of 5.", ""]


def write_report(date: str, lines: list) -> str:
    """benchmarks/results/<date>.md from the report's lines; echoed."""
    path = os.path.join(HERE, "results", f"{date}.md")
    with open(path, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {path}")
    return path


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-speed")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data", "speed"))
    ap.add_argument("--only", default="mouse,wide,writing,help,inputs")
    ap.add_argument("--before", help="another build's gwaslmm executable, timed with the same "
                                     "commands in sections 1 and 2 (a before/after comparison)")
    a = ap.parse_args()
    only = a.only.split(",")
    # Python caches compiled modules by default, and pip compiles an installed
    # package's; a machine that sets PYTHONDONTWRITEBYTECODE (this one does)
    # makes every run compile gwaslmm's modules again (section 1 times that
    # too).  The commands here run with Python's default, so the warm-up run
    # writes the cache as a user's first run does.
    no_pyc = os.environ.pop("PYTHONDONTWRITEBYTECODE", None) is not None
    lines = [f"# Speed where users feel it ({a.date})", "",
             f"`python benchmarks/speed.py --repeats {a.repeats} --date {a.date}"
             + (f" --only {a.only}" if a.only != "mouse,wide,writing,help,inputs" else "")
             + (" --before OLD/bin/gwaslmm" if a.before else "") + "`", "",
             f"Machine: {os.cpu_count()} cores; medians of {a.repeats} alternating runs after a "
             f"warm-up run of each command.  Python's bytecode cache on, its default"
             + (" (this machine sets PYTHONDONTWRITEBYTECODE=1; removed for the benchmark's "
                "commands)" if no_pyc else "") + ".", ""]
    if "mouse" in only:
        section_mouse(a.data_dir, a.repeats, lines, a.before)
    if "wide" in only:
        section_wide(a.data_dir, a.repeats, lines, a.before)
    if "writing" in only:
        section_writing(a.data_dir, a.repeats, lines)
    if "help" in only:
        section_help(lines)
    if "inputs" in only:
        section_inputs(a.data_dir, a.repeats, lines)
    write_report(a.date, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
