"""Benchmark gwaslmm against GEMMA, PLINK 2, BOLT-LMM and FaST-LMM.

    .venv/bin/python benchmarks/run.py --suite quick                # ~15 min on 2 cores
    .venv/bin/python benchmarks/run.py --suite full                 # ~1 hour
    .venv/bin/python benchmarks/run.py --suite smoke --tools-only gwaslmm --out-dir /tmp/b

Simulates the suite's datasets with gwaslmm's simulator (cached under
--data-dir), runs gwaslmm and every peer found on the machine on the same
inputs one after another, times each whole process (median of the repeats,
peak memory), compares the results, measures the machine's dense-algebra
floor, and writes ``<out-dir>/<date>-<suite>.md`` (plus ``-scaling.png`` and
``.json``).  A requested peer that is not installed appears as 'missing' in
the tables.  See benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import time
from dataclasses import asdict

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
sys.path.insert(0, ROOT)

from harness import agreement, datasets, measure, report, suites, tools  # noqa: E402
from harness.suites import Dataset  # noqa: E402


def log(msg):
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suite", choices=sorted(suites.SUITES), default="quick")
    p.add_argument("--out-dir", default=os.path.join(HERE, "results"),
                   help="where the report goes (default benchmarks/results)")
    p.add_argument("--data-dir", default=os.path.join(HERE, "data"),
                   help="simulated datasets, reused between runs (default benchmarks/data)")
    p.add_argument("--work-dir", default=None,
                   help="tool outputs (default DATA_DIR/work-SUITE)")
    p.add_argument("--repeats", type=int, default=None, help="repeats per command (suite default)")
    p.add_argument("--peers", default=",".join(tools.PEERS),
                   help="comma-separated peers to run (default: %(default)s)")
    p.add_argument("--tools-only", choices=["gwaslmm"], default=None,
                   help="run gwaslmm alone (no peers)")
    p.add_argument("--only", default=None,
                   help="comma-separated comparisons to run (default all: "
                   + ",".join(tools.COMPARISONS) + ")")
    p.add_argument("--sizes", default=None,
                   help="override the suite's datasets, e.g. 1000x50000,2000x50000")
    p.add_argument("--exact-snps", type=int, default=None,
                   help="SNPs the exact scans test (first N of the .bim; 0 = all)")
    p.add_argument("--budget-minutes", type=float, default=None,
                   help="skip repeats / datasets predicted to overrun (suite default; 0 = none)")
    p.add_argument("--timeout", type=int, default=3600, help="per-command timeout, s")
    p.add_argument("--bolt-reml", action=argparse.BooleanOptionalAction, default=None,
                   help="also time `bolt --reml` (suite default: full only)")
    p.add_argument("--bolt-mixture", action="store_true",
                   help="run BOLT-LMM's mixture model (--lmm) instead of --lmmInfOnly")
    p.add_argument("--gwaslmm", default=None, help="gwaslmm executable (default: beside python)")
    p.add_argument("--date", default=None, help="date in the report's name (default today)")
    a = p.parse_args(argv)
    if a.repeats is not None and a.repeats < 1:
        p.error(f"--repeats must be at least 1 (got {a.repeats})")
    if a.tools_only:
        a.peer_list = ()
    else:
        a.peer_list = tuple(x.strip() for x in a.peers.split(",") if x.strip())
        bad = [x for x in a.peer_list if x not in tools.PEERS]
        if bad:
            p.error(f"unknown peer(s) {', '.join(bad)}; choose from {', '.join(tools.PEERS)}")
    a.only_list = None
    if a.only:
        a.only_list = tuple(x.strip() for x in a.only.split(",") if x.strip())
        bad = [x for x in a.only_list if x not in tools.COMPARISONS]
        if bad:
            p.error(f"unknown comparison(s) {', '.join(bad)}; choose from "
                    f"{', '.join(tools.COMPARISONS)}")
    return a


def suite_from_args(a):
    s = suites.SUITES[a.suite]
    dsets = s.datasets
    if a.sizes:
        dsets = []
        for item in a.sizes.split(","):
            try:
                n, m = (int(x) for x in item.lower().split("x"))
            except ValueError:
                raise SystemExit(f"--sizes: '{item}' is not NxM (e.g. 2000x50000)") from None
            dsets.append(Dataset(n, m))
        dsets = tuple(dsets)
    exact = s.exact_snps if a.exact_snps is None else (a.exact_snps or None)
    return s, tuple(sorted(dsets, key=lambda d: (d.n_samples * d.n_snps, d.n_samples))), exact


def run_untimed(argv, where):
    """A preparation command; its failure stops the benchmark (nothing else can run)."""
    with open(where, "w") as out:
        p = subprocess.run(argv, stdout=out, stderr=subprocess.STDOUT)
    if p.returncode != 0:
        tail = open(where, errors="replace").read().strip().splitlines()[-5:]
        raise SystemExit(f"preparation failed (rc={p.returncode}): {shlex.join(argv)}\n"
                         + "\n".join(tail))


def prepare_dataset(ds, files, work, gwaslmm, exact_snps, warm):
    """Untimed: the shared centred kinship as GEMMA text, the exact-scan SNP
    list, and (first dataset) a warm-up so numba's cache is filled."""
    os.makedirs(work, exist_ok=True)
    prep = os.path.join(work, "prep")
    os.makedirs(prep, exist_ok=True)
    cmds = []
    kin_prefix = os.path.join(prep, "kinship_centered")
    argv = [gwaslmm, "grm", "--bfile", files.bfile, "--grm-type", "centered", "--out", kin_prefix]
    run_untimed(argv, kin_prefix + ".stdout")
    cmds.append(argv)
    kin_txt = os.path.join(prep, "kinship_centered.txt")
    datasets.write_gemma_kinship_from_grm(kin_prefix, kin_txt)
    cmds.append(["python", "-c", "gwaslmm.kinship: read_gcta_grm(PREFIX) -> write_gemma_kinship"
                 f"({os.path.basename(kin_txt)})"])
    ids = datasets.snp_ids_on_chromosomes(files.bfile, None)
    chosen = ids if exact_snps is None else ids[:exact_snps]
    snps_file = os.path.join(prep, "exact_snps.txt")
    with open(snps_file, "w") as fh:
        fh.write("\n".join(chosen) + "\n")
    if warm:
        few = os.path.join(prep, "warmup_snps.txt")
        with open(few, "w") as fh:
            fh.write("\n".join(ids[:20]) + "\n")
        common = [gwaslmm, "assoc", "--bfile", files.bfile, "--pheno", files.pheno,
                  "--pheno-name", "trait", "--covar", files.covar, "--extract", few]
        for extra, name in ((["--kinship", kin_txt, "--test", "all"], "warm_exact"),
                            (["--fast"], "warm_fast")):
            argv = common + extra + ["--out", os.path.join(prep, name)]
            run_untimed(argv, os.path.join(prep, name + ".stdout"))
            cmds.append(argv)
    return kin_txt, snps_file, len(chosen), cmds


def main(argv=None):
    a = parse_args(argv)
    suite, dsets, exact_snps = suite_from_args(a)
    repeats = a.repeats or suite.repeats
    budget_min = suite.budget_minutes if a.budget_minutes is None else a.budget_minutes
    budget_s = budget_min * 60 if budget_min else float("inf")
    bolt_reml = suite.bolt_reml if a.bolt_reml is None else a.bolt_reml
    date = a.date or dt.date.today().isoformat()
    work_root = a.work_dir or os.path.join(a.data_dir, f"work-{suite.name}")
    os.makedirs(a.out_dir, exist_ok=True)
    os.makedirs(a.data_dir, exist_ok=True)
    t_start = time.perf_counter()
    started = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")

    found = tools.discover(a.peer_list, a.gwaslmm)
    for t in found.values():
        log(f"tool {t.name}: {t.status} {t.version} {t.path} {t.note}".rstrip())
    if found["gwaslmm"].status != "found":
        raise SystemExit("gwaslmm not found: " + found["gwaslmm"].note)
    gwaslmm = found["gwaslmm"].path

    result = dict(
        suite=suite.name, description=suite.description, date=date, started=started,
        machine=measure.machine_info(), load_start=measure.load_average(),
        gwaslmm_git_start=measure.git_state(ROOT),
        tools={k: asdict(v) for k, v in found.items()},
        settings=dict(repeats=repeats, timeout_s=a.timeout,
                      budget_minutes=f"{budget_min:g} min" if budget_min else "none",
                      exact_desc=("every SNP" if exact_snps is None else
                                  f"the first {exact_snps:,} SNPs of the .bim"),
                      bolt_reml=bolt_reml, bolt_mixture=a.bolt_mixture,
                      only=", ".join(a.only_list) if a.only_list else "all"),
        placeholders={"$WORK": os.path.abspath(work_root), "$DATA": os.path.abspath(a.data_dir),
                      "benchmarks": HERE, "gwaslmm": gwaslmm},
        datasets=[],
    )
    prev_round = None  # (dataset, seconds of one round)
    for di, ds in enumerate(dsets):
        files = datasets.prepare(ds, a.data_dir, log=log)
        work = os.path.join(work_root, ds.name)
        entry = dict(name=ds.name, n=ds.n_samples, m=ds.n_snps, n_chrom=ds.n_chromosomes,
                     n_complete=files.n_complete, true_h2=datasets.true_h2(files.bfile),
                     notes=[], runs=[], missing=[], agreement=[], h2=[], repeats_done=0,
                     prep_commands=[], floor=None)
        result["datasets"].append(entry)
        elapsed = time.perf_counter() - t_start
        if prev_round is not None:
            d0, t0 = prev_round
            predicted = t0 * (ds.n_samples / d0.n_samples) ** 2 * (ds.n_snps / d0.n_snps)
            if elapsed + predicted > budget_s:
                entry["notes"].append(
                    f"skipped: one round predicted to take {predicted / 60:.1f} min "
                    f"(O(n²m) from {d0.name}), but only {(budget_s - elapsed) / 60:.1f} min of "
                    f"the {budget_min} min budget remain")
                log(entry["notes"][-1])
                continue
        kin_txt, snps_file, n_exact, cmds = prepare_dataset(
            ds, files, work, gwaslmm, exact_snps, warm=(di == 0 and suite.warmup))
        entry["prep_commands"] = [report.display_command(dict(argv=c), result["placeholders"])
                                  for c in cmds]
        fl = measure.measure_floor(ds.n_samples, ds.n_snps, log=log)
        entry["floor"] = asdict(fl)
        plan = tools.Plan(files=files, work=work, kinship_txt=kin_txt,
                          exact_snps_file=snps_file, n_exact_snps=n_exact,
                          bolt_reml=bolt_reml, bolt_mixture=a.bolt_mixture)
        runs = tools.build_runs(plan, found)
        entry["missing"] = tools.missing_rows(found, plan)
        if a.only_list:
            runs = [r for r in runs if r.comparison in a.only_list]
            entry["missing"] = [m for m in entry["missing"] if m[0] in a.only_list]
        recs = [dict(comparison=r.comparison, tool=r.tool, label=r.label, argv=r.argv, env=r.env,
                     out=r.out, log=r.out + ".stdout", walls=[], rss=[], rcs=[], timings=[],
                     cpu=[], other_cpu=[],
                     ok=False, tail="", snps_scanned=r.snps_scanned,
                     floor_terms=list(r.floor_terms), gwaslmm=r.gwaslmm) for r in runs]
        round_times = []
        for rep in range(repeats):
            elapsed = time.perf_counter() - t_start
            if rep > 0 and elapsed + max(round_times) > budget_s:
                entry["notes"].append(
                    f"only {rep} of {repeats} repeats: another round (~{max(round_times):.0f} s) "
                    f"would overrun the {budget_min} min budget ({elapsed / 60:.1f} min used)")
                log(entry["notes"][-1])
                break
            t_round = time.perf_counter()
            for rec in recs:
                log(f"{ds.name} repeat {rep + 1}/{repeats}: {rec['label']}")
                tm = measure.run_timed(rec["argv"], rec["env"], rec["log"], a.timeout)
                rec["walls"].append(tm.wall_s)
                rec["rss"].append(tm.max_rss_mb)
                rec["rcs"].append(tm.rc)
                rec["cpu"].append(tm.cpu_s)
                rec["other_cpu"].append(tm.other_cpu_share)
                rec["ok"] = tm.rc == 0
                if tm.rc != 0:
                    rec["tail"] = tm.tail
                    log(f"  FAILED rc={tm.rc}: {tm.tail.strip().splitlines()[-1:] or ''}")
                if rec["gwaslmm"] and tm.rc == 0:
                    try:
                        with open(rec["out"] + ".timings.json") as fh:
                            rec["timings"].append(json.load(fh))
                    except (OSError, ValueError) as exc:
                        log(f"  no timings.json: {exc}")
                log(f"  {tm.wall_s:.2f} s, {tm.max_rss_mb:.0f} MiB, CPU {tm.cpu_s:.2f} s; "
                    f"other processes {100 * tm.other_cpu_share:.0f}% of the cores")
            round_times.append(time.perf_counter() - t_round)
            entry["repeats_done"] = rep + 1
        prev_round = (ds, max(round_times))
        for rec in recs:
            if rec["gwaslmm"]:
                n_chrom = ds.n_chromosomes
                rec["floor_s"] = sum(fl.seconds(t, ds.n_snps, n_chrom, rec["snps_scanned"])
                                     for t in rec["floor_terms"])
        entry["runs"] = recs
        by_key = {(r["comparison"], r["tool"]): r for r in recs}
        entry["agreement"], entry["h2"] = agreement.evaluate(by_key, ds.n_samples, log=log)

    result["load_end"] = measure.load_average()
    result["gwaslmm_git_end"] = measure.git_state(ROOT)
    result["finished"] = dt.datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    result["elapsed_s"] = time.perf_counter() - t_start
    base = os.path.join(a.out_dir, f"{date}-{suite.name}")
    try:
        result["figure"] = report.write_figure(result, base + "-scaling.png")
    except ImportError as exc:
        log(f"no figure: matplotlib not importable ({exc}); pip install matplotlib")
        result["figure"] = None
    report.write_markdown(result, base + ".md")
    with open(base + ".json", "w") as fh:
        json.dump(result, fh, indent=1, default=str)
    log(f"wrote {base}.md" + (f", {result['figure']}" if result.get("figure") else "")
        + f" in {result['elapsed_s'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
