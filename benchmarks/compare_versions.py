"""Two builds of gwaslmm side by side on the same data: is the new one slower?

    .venv/bin/python benchmarks/compare_versions.py --old OLD/bin/gwaslmm --new .venv/bin/gwaslmm \
        --size 2000x20000 --repeats 5 --date 2026-11-27-restructure

Runs each command of COMMANDS with the old and the new executable in turn
(old, new, old, new, ...; one at a time, never two at once) on a dataset of
the benchmark harness (simulated by the project's simulator, cached under
benchmarks/data/), takes the median wall time of each, and writes a
markdown table (medians, ranges, ratio new/old) to benchmarks/results/.
Alternating the two builds spreads the machine's noise over both.

The old build is any installed gwaslmm, e.g. the commit before a change in
its own checkout and virtual environment:

    git worktree add /tmp/old <commit> && python3 -m venv /tmp/oldvenv && \\
        /tmp/oldvenv/bin/pip install -e /tmp/old
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from harness import datasets, suites  # noqa: E402

# (name, arguments after the executable; {b} bfile, {p} pheno, {c} covar, {k} kinship, {o} out)
COMMANDS = [
    ("grm (standardized)", "grm --bfile {b} --out {o}"),
    ("reml", "reml --bfile {b} --pheno {p} --pheno-name trait --covar {c} --grm {k} --out {o}"),
    ("assoc --fast", "assoc --bfile {b} --pheno {p} --pheno-name trait --covar {c} --fast --out {o}"),
    ("assoc exact wald, kinship given", "assoc --bfile {b} --pheno {p} --pheno-name trait "
                                        "--covar {c} --grm {k} --out {o}"),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--old", required=True)
    ap.add_argument("--new", required=True)
    ap.add_argument("--size", default="2000x20000")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--date", default=time.strftime("%Y-%m-%d") + "-versions")
    ap.add_argument("--data-dir", default=os.path.join(HERE, "data"))
    a = ap.parse_args()
    n, m = (int(x) for x in a.size.split("x"))
    files = datasets.prepare(suites.Dataset(n, m), a.data_dir)
    times: dict = {(name, which): [] for name, _ in COMMANDS for which in ("old", "new")}
    with tempfile.TemporaryDirectory() as d:
        kin = os.path.join(d, "kin")
        subprocess.run([a.new, "grm", "--bfile", files.bfile, "--out", kin], check=True,
                       capture_output=True)
        for which, exe in (("old", a.old), ("new", a.new)):  # warm numba caches and disk
            subprocess.run([exe, "grm", "--bfile", files.bfile, "--chr", "1", "--out",
                            os.path.join(d, "warm")], check=True, capture_output=True)
        for rep in range(a.repeats):
            for name, args in COMMANDS:
                order = (("old", a.old), ("new", a.new))
                for which, exe in (order if rep % 2 == 0 else order[::-1]):
                    argv = [exe] + args.format(b=files.bfile, p=files.pheno, c=files.covar,
                                               k=kin, o=os.path.join(d, "run")).split()
                    t0 = time.perf_counter()
                    r = subprocess.run(argv, capture_output=True, text=True)
                    dt = time.perf_counter() - t0
                    if r.returncode != 0:
                        print(r.stderr, file=sys.stderr)
                        return 1
                    times[(name, which)].append(dt)
                    print(f"{rep + 1}/{a.repeats} {which:3s} {name}: {dt:.2f} s", flush=True)
    lines = [f"# gwaslmm builds compared: {a.size}, {a.repeats} repeats, alternating", "",
             f"old: `{a.old}`  ", f"new: `{a.new}`  ",
             f"command: `python benchmarks/compare_versions.py --old {a.old} --new {a.new} "
             f"--size {a.size} --repeats {a.repeats} --date {a.date}`", "",
             "| command | old median s (range) | new median s (range) | new / old |",
             "|---|---:|---:|---:|"]
    for name, _ in COMMANDS:
        o, w = times[(name, "old")], times[(name, "new")]
        lines.append(f"| {name} | {statistics.median(o):.2f} ({min(o):.2f}-{max(o):.2f}) | "
                     f"{statistics.median(w):.2f} ({min(w):.2f}-{max(w):.2f}) | "
                     f"{statistics.median(w) / statistics.median(o):.3f} |")
    out = os.path.join(HERE, "results", f"{a.date}.md")
    with open(out, "w") as fh:
        fh.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
