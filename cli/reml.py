import click

from .options import (build_options, covar_options, handle_errors, input_options, kinship_options,
                      pheno_options, run_logged)


@click.command()
@input_options
@pheno_options
@covar_options
@kinship_options
@click.option("--all-pheno", is_flag=True, help="Fit every phenotype column of --pheno.")
@click.option("--loco", is_flag=True,
              help="One null model per left-out chromosome (OUT.reml.loco.tsv; with "
                   "--save-null, PREFIX.chr<c>.null.npz for assoc --null --loco).")
@click.option("--save-null", metavar="PREFIX", help="Store the fitted null model for assoc --null.")
@handle_errors
def reml(**kw):
    """Null model: REML/ML variance components, h2 with its standard error.

    Writes OUT.reml.tsv (one row per phenotype) and OUT.reml.fixed.tsv.
    """
    from gwaslmm.pipeline import run_reml

    run_logged(build_options(kw), run_reml)
