"""The markdown report and the scaling figure, from the driver's result dict."""

from __future__ import annotations

import math
import os
import shlex
import statistics

from .tools import COMPARISONS

STAGES = ("read", "grm", "eigen", "null", "cholesky", "qc", "rotate", "kernel", "write")


def _f(x, digits=3):
    if x is None or x == "":
        return ""
    if isinstance(x, str):
        return x
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:.{digits - 1}f}" if abs(x) < 10 else f"{x:.1f}"
    return f"{x:.{digits}g}"


def median(xs):
    xs = [x for x in xs if x == x]
    return statistics.median(xs) if xs else float("nan")


def display_command(run, placeholders):
    s = " ".join(shlex.quote(str(a)) for a in run["argv"])
    for value, name in sorted(((v, k) for k, v in placeholders.items()), key=lambda t: -len(t[0])):
        if value:
            s = s.replace(value, name)
    env = " ".join(f"{k}={v}" for k, v in sorted(run.get("env", {}).items()))
    return (env + " " + s).strip()


def _table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in r) + " |" for r in rows]
    return out


def write_markdown(result, path):
    L = []
    m = result["machine"]
    L.append(f"# gwaslmm benchmark: {result['suite']} suite ({result['date']})")
    L.append("")
    L.append(f"{result['description']}. Started {result['started']}, finished "
             f"{result['finished']} ({result['elapsed_s'] / 60:.1f} min including simulation, "
             "warm-up and the floor measurements). Every command ran alone, one after another, "
             "as a whole process under `/usr/bin/time -v` (wall clock 'Elapsed', peak memory "
             "'Maximum resident set size'; GEMMA's own log shows CPU time, so it is not used). "
             f"Repeats are interleaved (repeat 1 of every command, then repeat 2, ...); tables "
             "show the median. Ratios are gwaslmm ÷ peer (above 1: gwaslmm slower).")
    L.append("")
    g0, g1 = result.get("gwaslmm_git_start", "?"), result.get("gwaslmm_git_end", "?")
    L.append(f"gwaslmm source: commit {g0}" + ("" if g0 == g1 else
             f"; **changed during the run** to {g1} (the editable install runs the working "
             "tree, so later commands ran newer code)") + ".")
    L.append("")
    L.append("## Machine")
    L.append("")
    L += _table(["", ""], [
        ["CPU", f"{m['cpu']} ({m['cpu_flags']})"],
        ["cores", f"{m['cores']} (usable by this process: {m['affinity']})"],
        ["memory", f"{m['mem_gb']:.1f} GiB"],
        ["BLAS of gwaslmm's numpy (threadpoolctl)", m["blas"]],
        ["Python, numpy, kernel", f"{m['python']}, {m['numpy']}, {m['kernel']}"],
        ["load average (1, 5, 15 min) at start",
         ", ".join(f"{x:.2f}" for x in result["load_start"])],
        ["load average at end", ", ".join(f"{x:.2f}" for x in result["load_end"])],
        ["threads", "gwaslmm: its default (all cores); GEMMA, PLINK 2, FaST-LMM: their default "
                    "(all cores); BOLT-LMM: `--numThreads=2` with OPENBLAS_NUM_THREADS=1"],
    ])
    L.append("")
    L.append("## Tools")
    L.append("")
    rows = []
    for name, t in result["tools"].items():
        rows.append([name, t["status"], t["version"] or "", t["blas"] or "",
                     t["path"] + (" — " if t["path"] and t["note"] else "") + t["note"]])
    L += _table(["tool", "status", "version", "BLAS", "path / note"], rows)
    L.append("")
    s = result["settings"]
    L.append(f"Settings: {s['repeats']} repeats; exact scans (gwaslmm `--kinship K --extract`, "
             f"GEMMA `-k K -snps`) test {s['exact_desc']}; time budget "
             f"{s['budget_minutes']}; per-command timeout {s['timeout_s']} s; comparisons: "
             f"{s['only']}.")
    L.append("")

    for ds in result["datasets"]:
        L += _dataset_section(ds, result)

    if len([d for d in result["datasets"] if d["runs"]]) > 1:
        L += _scaling_section(result)
    if result.get("figure"):
        L.append(f"![scaling]({os.path.basename(result['figure'])})")
        L.append("")

    L.append("## Commands run")
    L.append("")
    L.append("Paths: " + ", ".join(f"`{k}` = `{v}`" for k, v in result["placeholders"].items()
                                   if v) + ".")
    L.append("")
    for ds in result["datasets"]:
        if not ds["runs"]:
            continue
        L.append(f"{ds['name']} (untimed preparation, then each timed command):")
        L.append("")
        L.append("```")
        for c in ds["prep_commands"]:
            L.append("# prep: " + c)
        for r in ds["runs"]:
            L.append(display_command(r, result["placeholders"]))
        L.append("```")
        L.append("")
    with open(path, "w") as fh:
        fh.write("\n".join(L) + "\n")


def _dataset_section(ds, result):
    L = [f"## {ds['name']}: {ds['n']:,} samples × {ds['m']:,} SNPs, {ds['n_chrom']} chromosomes",
         ""]
    L.append(f"{ds['n_complete']:,} samples have the phenotype and every covariate. Simulated "
             f"h² (realized) {_f(ds['true_h2'], 4)}. Repeats done: {ds['repeats_done']}.")
    for note in ds["notes"]:
        L.append(f"\n**Note:** {note}")
    L.append("")
    if not ds["runs"]:
        return L
    L.append("### Wall time and peak memory")
    L.append("")
    rows = []
    by_comp = {}
    for r in ds["runs"]:
        by_comp.setdefault(r["comparison"], []).append(r)
    for comp, tool, label, reason in ds["missing"]:
        by_comp.setdefault(comp, []).append(dict(comparison=comp, label=label, tool=tool,
                                                 missing=reason))
    for comp in COMPARISONS:
        group = by_comp.get(comp, [])
        ref = next((r for r in group if r["tool"] == "gwaslmm"), None)
        ref_wall = median(ref["walls"]) if ref and ref["ok"] else float("nan")
        for r in group:
            if r.get("missing"):
                rows.append([comp, r["label"], "—", "—", "—", "—", "—", r["missing"]])
                continue
            w = median(r["walls"])
            ok_runs = sum(1 for rc in r["rcs"] if rc == 0)
            status = f"{ok_runs}/{len(r['rcs'])} ok"
            if not r["ok"]:
                status += "; failed: " + _fail(r)
            ratio = "" if r["tool"] == "gwaslmm" else _f(ref_wall / w if w else float("nan"))
            label = r["label"] + (f" ({r['snps_scanned']:,} SNPs)" if r.get("snps_scanned")
                                  else "")
            other = [x for x in r.get("other_cpu", []) if x == x]
            busy = f"{100 * max(other):.0f}%" if other else "n/a"
            rows.append([comp, label, _f(w), f"{_f(min(r['walls']))}–{_f(max(r['walls']))}",
                         _f(median(r["rss"])), ratio, busy, status])
    L += _table(["comparison", "command", "wall s (median)", "min–max", "peak RSS MiB",
                 "gwaslmm ÷ peer", "others' CPU (max)", "runs"], rows)
    L.append("")
    worst = [(max(x for x in r.get("other_cpu", []) if x == x), r["label"]) for r in ds["runs"]
             if any(x == x for x in r.get("other_cpu", []))]
    contended = [lab for v, lab in worst if v > 0.10]
    L.append("'others' CPU' is the CPU time other processes used while the command ran, as a "
             "share of all cores (machine-wide busy time from /proc/stat minus the command's "
             "own user + system time): above ~10% the timing was contended.")
    if contended:
        L.append("")
        L.append(f"**Warning:** {len(contended)} command(s) ran while other processes used "
                 f"more than 10% of the cores ({', '.join(contended[:4])}"
                 f"{', ...' if len(contended) > 4 else ''}); their times are inflated.")
    L.append("")

    L.append("### Agreement on the same data")
    L.append("")
    if ds["agreement"]:
        rows = []
        for a in ds["agreement"]:
            if "metric" in a:
                rows.append([a["comparison"], a["metric"], "", "", "", a["value"]])
                continue
            rows.append([a["comparison"], a["peer"], _f(a["snps"]) if a["snps"] != "" else "",
                         f"{a['r']:.6f}" if isinstance(a["r"], float) and a["r"] == a["r"]
                         else _f(a["r"]),
                         f"{a['max_abs']:.3g}" if isinstance(a["max_abs"], float) else a["max_abs"],
                         a["note"]])
        L += _table(["comparison", "peer: test", "SNPs matched", "r (−log10 p)",
                     "max abs Δ(−log10 p)", "note"], rows)
    else:
        L.append("No peer output to compare with (peers off, missing or failed).")
    L.append("")
    L.append("### Heritability")
    L.append("")
    rows = [[h["source"], _f(h["h2"], 6), _f(h["se"], 4), h["note"]] for h in ds["h2"]]
    rows.append(["simulation (realized genetic share)", _f(ds["true_h2"], 4), "", "truth"])
    L += _table(["source", "h²", "se", "note"], rows)
    L.append("")

    fl = ds.get("floor")
    L.append("### Where gwaslmm's time goes")
    L.append("")
    if fl:
        L.append(f"Dense-algebra floor of this machine at n = {fl['n']:,}: float64 matmul "
                 f"{fl['gflops']:.1f} GFLOP/s ((n × n) @ (n × {fl['k']:,}), numpy, best of 3); "
                 f"`scipy.linalg.eigh(driver='evd')` {fl['eigh_evd_s']:.2f} s "
                 f"(driver='evr': {fl['eigh_evr_s']:.2f} s; 'evd' with BLAS on 1 thread: "
                 f"{fl['eigh_evd_1thread_s']:.2f} s). Floor of a command = the sum of "
                 "its dense terms: kinship n²m / rate, rotation 2n²m / rate (m = SNPs it scans), "
                 "one eigh (one per chromosome with `--loco`); for `assoc --fast`: "
                 "(n²m + 2n²m) / rate + eigh. The exact scans' per-SNP optimisation has no "
                 "dense floor, so their ratio is large by nature. `assoc --fast` does less "
                 "dense work than its floor by design (float32 kinship blocks, the n²m "
                 "triangular solve L⁻¹X in place of the 2n²m rotation, no eigenvector "
                 "back-transformation; stage 'rotate' is that solve, 'cholesky' forms L), so "
                 "its ratio can be below 1.")
        L.append("")
        if fl["eigh_evd_1thread_s"] * 1.5 < fl["eigh_evd_s"]:
            L.append(f"**Warning:** eigh on 1 BLAS thread ({fl['eigh_evd_1thread_s']:.2f} s) beat "
                     f"all threads ({fl['eigh_evd_s']:.2f} s): the cores were contended (another "
                     "process was running; OpenBLAS threads then spin and wait for each other), "
                     "so every multi-threaded timing of this dataset is inflated.")
            L.append("")
    rows = []
    for r in ds["runs"]:
        if r["tool"] != "gwaslmm" or not r["ok"]:
            continue
        st = {k: median([t.get(k, float("nan")) for t in r["timings"]]) for k in STAGES}
        total = median([t.get("total", float("nan")) for t in r["timings"]])
        # per run, then the median (a sum of medians is not the median of the sums)
        other = median([t.get("total", float("nan")) - sum(t.get(k, 0.0) for k in STAGES)
                        for t in r["timings"]])
        wall = median(r["walls"])
        fs = r.get("floor_s", float("nan"))
        rows.append([r["label"]] + [_f(st[k]) if st[k] == st[k] else "" for k in STAGES]
                    + [_f(other), _f(total), _f(wall), _f(wall - total), _f(fs),
                       _f(total / fs if fs else float("nan")),
                       _f(wall / fs if fs else float("nan"))])
    L += _table(["command", *STAGES, "other", "total", "process wall", "wall − total",
                 "floor s", "total ÷ floor", "wall ÷ floor"], rows)
    L.append("")
    L.append("Stage seconds are medians from each run's `OUT.timings.json`; 'other' is the "
             "median of each run's total minus its named stages (e.g. reading a `--kinship` "
             "text file, the sample join; negative where stages overlap, as when gwaslmm reads "
             "the next genotype block in a worker thread while it accumulates the kinship); "
             "'wall − total' is what the process spent outside gwaslmm's own clock "
             "(interpreter start-up and imports).")
    L.append("")
    return L


def _fail(r):
    rc = [x for x in r["rcs"] if x != 0]
    last = (r.get("tail") or "").strip().splitlines()
    return f"rc={rc[-1] if rc else '?'}" + (f": {last[-1][:160]}" if last else "")


def _scaling_section(result):
    dsets = [d for d in result["datasets"] if d["runs"]]
    labels = []
    for d in dsets:
        for r in d["runs"]:
            if r["label"] not in labels:
                labels.append(r["label"])
    L = ["## Scaling (median wall s)", ""]
    head = ["command"] + [f"{d['n']:,} × {d['m']:,}" for d in dsets]
    rows = []
    for lab in labels:
        row = [lab]
        for d in dsets:
            r = next((x for x in d["runs"] if x["label"] == lab), None)
            row.append(_f(median(r["walls"])) if r and r["ok"] else "—")
        rows.append(row)
    L += _table(head, rows)
    L.append("")
    return L


def write_figure(result, path):
    """Wall time vs samples (log-log), one panel per comparison, gwaslmm and its
    peers, with O(n²m) and O(n³) reference curves through gwaslmm's first
    point; one more panel vs SNPs when the suite has datasets that differ only
    in m."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dsets = [d for d in result["datasets"] if d["runs"]]
    if not dsets:
        return None
    ns = sorted({d["n"] for d in dsets})
    vary_m = any(len({d["m"] for d in dsets if d["n"] == n}) > 1 for n in ns)
    comps = [c for c in COMPARISONS if any(r["comparison"] == c for d in dsets for r in d["runs"])]
    panels = len(comps) + (1 if vary_m else 0)
    cols = min(4, panels)
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.6 * rows), squeeze=False)
    colors = {"gwaslmm": "tab:blue", "gemma": "tab:green", "plink2": "tab:orange",
              "bolt": "tab:red", "fastlmm": "tab:purple"}

    def pts(comp, label, key="n", subset=None):
        out = []
        for d in subset or dsets:
            r = next((x for x in d["runs"] if x["comparison"] == comp and x["label"] == label),
                     None)
            if r and r["ok"]:
                out.append((d[key], median(r["walls"]), d))
        return sorted(out, key=lambda t: t[0])

    for i, comp in enumerate(comps):
        ax = axes[i // cols][i % cols]
        labels = []
        for d in dsets:
            for r in d["runs"]:
                if r["comparison"] == comp and (r["label"], r["tool"]) not in labels:
                    labels.append((r["label"], r["tool"]))
        for lab, tool in labels:
            p = pts(comp, lab)
            if p:
                ax.plot([x[0] for x in p], [x[1] for x in p], "-" if tool == "gwaslmm" else "--",
                        marker="o", color=colors.get(tool, "grey"), label=lab,
                        linewidth=2 if tool == "gwaslmm" else 1.2)
        ref = next((pts(comp, lab) for lab, tool in labels if tool == "gwaslmm"), [])
        if ref:
            n0, t0, d0 = ref[0]
            xs = [d["n"] for d in sorted(dsets, key=lambda d: d["n"])]
            ms = [d["m"] for d in sorted(dsets, key=lambda d: d["n"])]
            same = len({m / x for x, m in zip(xs, ms)}) == 1  # m grows with n: n²m ∝ n³
            ax.plot(xs, [t0 * (x / n0) ** 2 * m / d0["m"] for x, m in zip(xs, ms)], ":",
                    color="black", label="O(n²m) = O(n³) here (m ∝ n)" if same
                    else "O(n²m) through gwaslmm")
            if not same:
                ax.plot(xs, [t0 * (x / n0) ** 3 for x in xs], "-.", color="grey",
                        label="O(n³) through gwaslmm")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(comp, fontsize=10)
        ax.set_xlabel("samples n")
        ax.set_ylabel("wall s (median)")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left")
    if vary_m:
        ax = axes[(panels - 1) // cols][(panels - 1) % cols]
        n_fixed = max(ns, key=lambda n: len({d["m"] for d in dsets if d["n"] == n}))
        sub = [d for d in dsets if d["n"] == n_fixed]
        for d in sub[:1]:
            for r in d["runs"]:
                p = pts(r["comparison"], r["label"], "m", sub)
                if p and r["tool"] == "gwaslmm":
                    ax.plot([x[0] for x in p], [x[1] for x in p], marker="o", label=r["label"])
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_title(f"gwaslmm vs SNPs (n = {n_fixed:,})", fontsize=10)
        ax.set_xlabel("SNPs m")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=6.5, loc="upper left")
    for j in range(panels, rows * cols):
        axes[j // cols][j % cols].axis("off")
    sizes = ", ".join(f"{d['n']:,}×{d['m']:,}" for d in dsets)
    fig.suptitle(f"gwaslmm and peers, {result['suite']} suite, {result['date']} "
                 f"(datasets n×m: {sizes})", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
