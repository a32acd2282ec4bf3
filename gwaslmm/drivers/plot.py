"""``gwaslmm plot``: Manhattan and QQ plots of a result file (gwaslmm's, or
GEMMA's, PLINK 2's, BOLT-LMM's, REGENIE's)."""

from __future__ import annotations

from ..report.plot import plot_assoc


def run_plot(opts, log) -> dict:
    res = plot_assoc(opts.assoc_file, opts.out, label_top=opts.label_top, log=log,
                     title=opts.title)
    log.write(f"lambda_GC {res['lambda_gc']:.4f} over {res['n_snps']} SNPs; "
              f"{res['seconds']:.2f}s")
    return res
