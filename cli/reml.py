import click

from .options import EXIT_CODES, NAME_LISTS, StrictCommand, build_options, covar_options, epilog
from .options import handle_errors, input_options, kinship_options, pheno_options, repeats
from .options import binary_options, cg_options, component_options, run_logged


def _columns():
    from gwaslmm.columns import REML_COLUMNS

    return ", ".join(REML_COLUMNS)


def _binary_columns():
    from gwaslmm.columns import BINARY_REML_COLUMNS

    return ", ".join(BINARY_REML_COLUMNS)


@click.command(cls=StrictCommand, epilog=epilog(
    "Writes OUT.reml.tsv (one row per phenotype: " + _columns() + "), OUT.reml.fixed.tsv "
    "(phenotype, covariate, beta, standard_error), OUT.samples.tsv (the analysed samples), "
    "OUT.log and OUT.timings.json; with --loco OUT.reml.loco.tsv instead; with several "
    "variance components (--random, --random-slope, --mgrm, --no-kinship) OUT.vc.tsv "
    "(phenotype, component, type, estimate, se, share, share_se, lrt, p_lrt, boundary) "
    "instead of OUT.reml.tsv; with --binary OUT.reml.tsv has the columns " + _binary_columns()
    + ". The selection options choose the kinship's variants.", repeats(*NAME_LISTS),
    EXIT_CODES))
@input_options
@pheno_options(multi=True)
@covar_options
@kinship_options
@click.option("--all-pheno", is_flag=True,
              help="Fit every phenotype column of --pheno (or of the .fam).")
@click.option("--loco", is_flag=True,
              help="One null model per left-out chromosome (OUT.reml.loco.tsv; with "
                   "--save-null, PREFIX.chr<c>.null.npz for assoc --null --loco).")
@click.option("--save-null", metavar="PREFIX", help="Store the fitted null model for assoc --null.")
@cg_options(scan=False)
@component_options
@binary_options(scan=False)
@handle_errors
def reml(**kw):
    """Null model: REML/ML variance components, h2 with its standard error."""
    from gwaslmm.drivers.options import RemlOptions
    from gwaslmm.drivers.reml import run_reml

    run_logged(build_options(RemlOptions, kw), run_reml)
