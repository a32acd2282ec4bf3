import click

from .options import build_options, grm_dtype_option, handle_errors, input_options, run_logged


@click.command()
@input_options
@click.option("--grm-type", type=click.Choice(["standardized", "centered"]),
              default="standardized", show_default=True,
              help="standardized: z = (x-2p)/sqrt(2p(1-p)); centered: GEMMA -gk 1.")
@grm_dtype_option()
@handle_errors
def grm(**kw):
    """Build a kinship matrix; writes GCTA binary OUT.grm.bin/.grm.N.bin/.grm.id."""
    from gwaslmm.pipeline import run_grm

    run_logged(build_options(kw), run_grm)
