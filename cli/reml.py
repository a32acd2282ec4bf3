import click

from .options import (build_options, covar_options, handle_errors, input_options, kinship_options,
                      make_log, pheno_options)


@click.command()
@input_options
@pheno_options
@covar_options
@kinship_options
@click.option("--all-pheno", is_flag=True, help="Fit every phenotype column of --pheno.")
@click.option("--save-null", metavar="PREFIX", help="Store the fitted null model for assoc --null.")
@handle_errors
def reml(**kw):
    """Null model: REML/ML variance components, h2 with its standard error.

    Writes OUT.reml.tsv (one row per phenotype) and OUT.reml.fixed.tsv.
    """
    from gwaslmm._jit import set_threads
    from gwaslmm.pipeline import run_reml

    opts = build_options(kw)
    log = make_log(opts.out, opts.command_line)
    log.write(f"threads: {set_threads(opts.threads)}")
    try:
        run_reml(opts, log)
    finally:
        log.close(opts.out + ".timings.json")
