import click

from .options import handle_errors, make_log


@click.command()
@click.argument("files", nargs=-1, required=True)
@click.option("--out", required=True, metavar="PREFIX", help="Output prefix.")
@click.option("--no-gzip", is_flag=True, help="Write plain TSV.")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors.")
@handle_errors
def merge(files, out, no_gzip, debug):
    """Merge the chunk files of an assoc --chunk run into one result file."""
    import shlex
    import sys

    from gwaslmm.pipeline import run_merge

    log = make_log(out, "gwaslmm " + " ".join(shlex.quote(a) for a in sys.argv[1:]))
    try:
        run_merge(list(files), out, log, no_gzip=no_gzip)
    finally:
        log.close()
