import click

from .options import handle_errors, make_log


@click.command()
@click.argument("assoc_file", metavar="ASSOC_FILE")
@click.option("--out", required=True, metavar="PREFIX",
              help="Output prefix: PREFIX.manhattan.png, PREFIX.qq.png, PREFIX.plot.log.")
@click.option("--label-top", type=click.IntRange(min=0), default=5, show_default=True,
              metavar="N", help="Label the N strongest loci (one per 1 Mb) with their variant ID.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@handle_errors
def plot(assoc_file, out, label_top, debug):
    """Manhattan and QQ plots (with lambda_GC) of an association result file.

    ASSOC_FILE is a GWAS-SSF-like TSV, gzip or plain, with the columns
    chromosome, base_pair_location and neg_log_10_p_value (or p_value);
    variant_id, if present, labels the top hits.
    """
    import shlex
    import sys

    from gwaslmm.plot import plot_assoc

    # PREFIX.plot.log, so that plotting next to an assoc run keeps its PREFIX.log
    log = make_log(out + ".plot", "gwaslmm " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    try:
        res = plot_assoc(assoc_file, out, label_top=label_top, log=log)
        log.write(f"lambda_GC {res['lambda_gc']:.4f} over {res['n_snps']} SNPs; "
                  f"{res['seconds']:.2f}s")
    finally:
        log.close()
