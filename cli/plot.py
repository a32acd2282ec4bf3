import click

from .options import EXIT_CODES, StrictCommand, build_options, epilog, handle_errors, run_logged


@click.command(cls=StrictCommand, epilog=epilog(
    "ASSOC_FILE is a gwaslmm result file (gzip or plain), or a result file of GEMMA "
    "(.assoc.txt), PLINK 2 (.glm.*; ADD rows), BOLT-LMM (.stats) or REGENIE (.regenie; ADD "
    "rows), recognized by its header. Writes OUT.manhattan.png, OUT.qq.png and OUT.plot.log. "
    "Variants without a position (0 or -9) are left out of the Manhattan plot and counted; "
    "labels mark the strongest loci above the suggestive line (p <= 1e-5).", EXIT_CODES))
@click.argument("assoc_file", metavar="ASSOC_FILE")
@click.option("--out", required=True, metavar="PREFIX",
              help="Output prefix: PREFIX.manhattan.png, PREFIX.qq.png, PREFIX.plot.log.")
@click.option("--label-top", type=click.IntRange(min=0), default=5, show_default=True,
              metavar="N", help="Label the N strongest loci (one per 1 Mb) with their variant ID.")
@click.option("--title", metavar="TEXT",
              help="Plot title (default: the phenotype named in the file's -meta.yaml, else "
                   "the file name).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@handle_errors
def plot(**kw):
    """Manhattan and QQ plots (with lambda_GC) of an association result file."""
    from gwaslmm.drivers.options import PlotOptions
    from gwaslmm.drivers.plot import run_plot
    from gwaslmm.paths import plot_run

    opts = build_options(PlotOptions, kw)
    run_logged(opts, run_plot, plot_run(opts.out))
