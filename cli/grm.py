import click

from .options import EXIT_CODES, StrictCommand, build_options, epilog, grm_dtype_option
from .options import handle_errors, input_options, repeats, run_logged


@click.command(cls=StrictCommand, epilog=epilog(
    "Writes OUT.grm.bin (float32 lower triangle with diagonal, row by row), OUT.grm.N.bin "
    "(SNP count) and OUT.grm.id (FID IID): GCTA's binary GRM; and OUT.log, "
    "OUT.timings.json. The selection options choose the kinship's variants.",
    repeats(), EXIT_CODES))
@input_options
@click.option("--grm-type", type=click.Choice(["standardized", "centered"]),
              default="standardized", show_default=True,
              help="standardized: z = (x-2p)/sqrt(2p(1-p)); centered: GEMMA -gk 1.")
@grm_dtype_option()
@handle_errors
def grm(**kw):
    """Build a kinship matrix (GRM) from genotypes (.bed, .pgen, BGEN)."""
    from gwaslmm.drivers.grm import run_grm
    from gwaslmm.drivers.options import GrmOptions

    run_logged(build_options(GrmOptions, kw), run_grm)
