import click

from .options import build_options, handle_errors, input_options, make_log


@click.command()
@input_options
@click.option("--grm-type", type=click.Choice(["standardized", "centered"]),
              default="standardized", show_default=True,
              help="standardized: z = (x-2p)/sqrt(2p(1-p)); centered: GEMMA -gk 1.")
@handle_errors
def grm(**kw):
    """Build a kinship matrix; writes GCTA binary OUT.grm.bin/.grm.N.bin/.grm.id."""
    from gwaslmm._jit import set_threads
    from gwaslmm.pipeline import run_grm

    opts = build_options(kw)
    log = make_log(opts.out, opts.command_line)
    log.write(f"threads: {set_threads(opts.threads)}")
    try:
        run_grm(opts, log)
    finally:
        log.close(opts.out + ".timings.json")
