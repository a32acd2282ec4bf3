import click

from .options import EXIT_CODES, StrictCommand, build_options, epilog, handle_errors, run_logged


@click.command(cls=StrictCommand, epilog=epilog(
    "FILES are the chunk files (globs allowed, quoted or not). Every chunk 1..N must be "
    "there once, from the same null model and settings; writes OUT.assoc.tsv.gz, its "
    "-meta.yaml (lambda_GC over all rows), OUT.samples.tsv and OUT.log: exactly what a "
    "single run writes.", EXIT_CODES))
@click.argument("files", nargs=-1, required=True)
@click.option("--out", required=True, metavar="PREFIX", help="Output prefix.")
@click.option("--no-gzip", is_flag=True, help="Write plain TSV.")
@click.option("--bgzip", is_flag=True,
              help="Write OUT.assoc.tsv.gz BGZF-compressed (still gzip) with a tabix index "
                   "OUT.assoc.tsv.gz.tbi, for region queries (needs pysam; rows sorted by "
                   "chromosome and position).")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@handle_errors
def merge(**kw):
    """Merge the chunk files of an assoc --chunk run into one result file."""
    from gwaslmm.drivers.merge import run_merge
    from gwaslmm.drivers.options import MergeOptions

    run_logged(build_options(MergeOptions, kw), run_merge)
