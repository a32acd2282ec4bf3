"""CLI layer for the benchmark harness (benchmarks/run.py): run it on tiny
simulated data (200 samples x 1,000 SNPs) with gwaslmm alone, in a temporary
directory, and check the report it writes.

No peer needs to be installed (``--tools-only gwaslmm``), nothing is written
under benchmarks/ (``--out-dir`` and ``--data-dir`` point at tmp_path), and the
run takes about half a minute on two cores (each gwaslmm command is a fresh
process that pays Python's start-up and imports).
"""

import json
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUN = os.path.join(ROOT, "benchmarks", "run.py")

GWASLMM_COMMANDS = [
    "gwaslmm grm --grm-type centered",
    "gwaslmm grm (standardized)",
    "gwaslmm assoc --test all --kinship K",
    "gwaslmm assoc --test wald --kinship K",
    "gwaslmm assoc --fast",
    "gwaslmm assoc --fast --loco",
    "gwaslmm reml --grm-type centered",
]


@pytest.fixture(scope="module")
def smoke_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bench")
    out_dir, data_dir = tmp / "results", tmp / "data"
    gwaslmm = os.path.join(os.path.dirname(sys.executable), "gwaslmm")
    cmd = [sys.executable, RUN, "--suite", "smoke", "--tools-only", "gwaslmm",
           "--out-dir", str(out_dir), "--data-dir", str(data_dir), "--date", "2000-01-01"]
    if os.path.exists(gwaslmm):
        cmd += ["--gwaslmm", gwaslmm]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    return p, out_dir, data_dir


def test_exit_code_and_files(smoke_run):
    p, out_dir, data_dir = smoke_run
    assert p.returncode == 0, p.stderr[-3000:]
    names = sorted(os.listdir(out_dir))
    assert "2000-01-01-smoke.md" in names
    assert "2000-01-01-smoke.json" in names
    # The simulated data went to --data-dir, not into the repository.
    assert (data_dir / "sim_n200_m1000" / "sim.bed").exists()


def _section(md, title):
    """Lines of the markdown section that starts with ``title`` up to the next heading."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("#")), len(lines))
    return lines[start + 1:end]


def _rows(section_lines):
    """Table body rows (lists of cells) of a section."""
    return _table(section_lines)[1:]


def _table(section_lines):
    return [[c.strip() for c in line.strip().strip("|").split("|")]
            for line in section_lines if line.startswith("|") and not line.startswith("|---")]


def num(cell):
    """A number as the report prints it (thousands separated by commas)."""
    return float(cell.replace(",", ""))


def _dicts(section_lines):
    head, *rows = _table(section_lines)
    return [dict(zip(head, r)) for r in rows]


def test_markdown_tables(smoke_run):
    p, out_dir, _ = smoke_run
    assert p.returncode == 0, p.stderr[-3000:]
    md = (out_dir / "2000-01-01-smoke.md").read_text()
    assert md.startswith("# gwaslmm benchmark: smoke suite (2000-01-01)")

    # Machine table at the top: CPU, cores, BLAS.
    machine = {r[0]: r[1] for r in _rows(_section(md, "## Machine"))}
    assert machine["CPU"] and machine["cores"].split()[0].isdigit()
    assert "threads" in machine["BLAS of gwaslmm's numpy (threadpoolctl)"]

    # Peers were turned off, and say so rather than vanish.
    tools = {r[0]: r[1] for r in _rows(_section(md, "## Tools"))}
    assert tools["gwaslmm"] == "found"
    for peer in ("gemma", "plink2", "bolt", "fastlmm"):
        assert tools[peer] == "not requested"

    # One timing row per gwaslmm command, each run once and successful.
    timing = _dicts(_section(md, "### Wall time and peak memory"))
    labels = [re.sub(r" \([0-9,]+ SNPs\)$", "", r["command"]) for r in timing]
    assert labels == GWASLMM_COMMANDS
    for r in timing:
        assert num(r["wall s (median)"]) > 0, r
        assert num(r["peak RSS MiB"]) > 0, r
        assert r["others' CPU (max)"].endswith("%"), r
        assert r["runs"] == "1/1 ok", r

    # Stage breakdown from OUT.timings.json, with the floor ratio filled in.
    stages = _dicts(_section(md, "### Where gwaslmm's time goes"))
    assert [r["command"] for r in stages] == GWASLMM_COMMANDS
    for row in stages:
        assert num(row["total"]) > 0 and num(row["floor s"]) > 0
        assert num(row["total ÷ floor"]) > 0
    fast = stages[GWASLMM_COMMANDS.index("gwaslmm assoc --fast")]
    for stage in ("read", "grm", "eigen", "null", "rotate", "kernel", "write"):
        assert fast[stage] != "", stage

    # Heritability from gwaslmm reml next to the simulated truth.
    h2 = {r[0]: r[1] for r in _rows(_section(md, "### Heritability"))}
    assert 0 < num(h2["gwaslmm reml --grm-type centered"]) < 1
    assert 0 < num(h2["simulation (realized genetic share)"]) < 1

    # The exact commands are listed.
    assert "gwaslmm assoc --bfile $DATA/sim_n200_m1000/sim" in md


def test_json_results(smoke_run):
    p, out_dir, _ = smoke_run
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((out_dir / "2000-01-01-smoke.json").read_text())
    (ds,) = res["datasets"]
    assert (ds["n"], ds["m"], ds["repeats_done"]) == (200, 1000, 1)
    assert ds["floor"]["gflops"] > 0 and ds["floor"]["eigh_evd_s"] > 0
    assert all(r["rcs"] == [0] for r in ds["runs"])
    assert all(r["timings"] and "total" in r["timings"][0] for r in ds["runs"])


def test_bad_peer_name_is_a_usage_error(tmp_path):
    p = subprocess.run([sys.executable, RUN, "--suite", "smoke", "--peers", "gemma,nosuch",
                        "--out-dir", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 2
    assert "unknown peer(s) nosuch" in p.stderr
    assert os.listdir(tmp_path) == []
