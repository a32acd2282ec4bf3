"""Entry point: ``gwaslmm COMMAND ...`` (also ``python -m gwaslmm``)."""

from __future__ import annotations

import gc
import os
import sys

# Before anything loads numpy's OpenBLAS, which reads it once: its idle workers
# spin for 2^16 cycles (25 us) after a call instead of the default 2^28 (about
# 0.1 s), long enough to stay awake between LAPACK's back-to-back calls, short
# enough not to hold a core through the numba kernel after each rotation (the
# exact kernel after a 4,096-SNP rotation at 1,410 samples: 0.121 s with
# spinning workers, 0.102 s without; benchmarks/speed_pieces.py, section 4).  A value the user set stands.
os.environ.setdefault("OPENBLAS_THREAD_TIMEOUT", "16")

import click  # noqa: E402

from gwaslmm import __version__  # noqa: E402

from . import assoc, grm, merge, plot, predict, reml  # noqa: E402
from .options import EXIT_CODES  # noqa: E402


class GwaslmmGroup(click.Group):
    """A click group whose own usage errors (bad option values, missing options)
    come out as one ``gwaslmm: error:`` line with exit code 2, like the library's."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:
            click.echo(exc.ctx.get_help() if exc.ctx else str(exc))
            sys.exit(exc.exit_code)
        except click.UsageError as exc:
            where = exc.ctx.command_path if exc.ctx else "gwaslmm"
            msg = " ".join(exc.format_message().split())
            click.echo(f"gwaslmm: error: {msg} (see '{where} --help')", err=True)
            sys.exit(exc.exit_code)
        except click.ClickException as exc:
            click.echo(f"gwaslmm: error: {' '.join(exc.format_message().split())}", err=True)
            sys.exit(exc.exit_code)
        except click.Abort:
            click.echo("gwaslmm: aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


@click.group(cls=GwaslmmGroup, context_settings={"help_option_names": ["-h", "--help"],
                                                "max_content_width": 100},
             epilog="Run 'gwaslmm COMMAND --help' for a command's options, outputs and exit "
                    "codes. " + EXIT_CODES)
@click.version_option(__version__, prog_name="gwaslmm")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors (any command).")
@click.pass_context
def cli(ctx, debug):
    """Genome-wide association with linear mixed models: kinship, REML
    heritability and per-variant tests from PLINK files."""
    ctx.obj = {"debug": debug}


cli.add_command(grm.grm)
cli.add_command(reml.reml)
cli.add_command(assoc.assoc)
cli.add_command(merge.merge)
cli.add_command(plot.plot)
cli.add_command(predict.predict)


def main():
    """Run the command, then leave with its exit code by ``os._exit`` once
    the atexit handlers have run and stdout/stderr are flushed: the
    interpreter's own teardown of numba's and scipy's modules writes nothing
    and took 0.2-0.25 s of every run (measured on GEMMA's example shape; every
    output file is closed and renamed before the command returns)."""
    # The young generation's threshold raised from 700 objects to 10,000: the
    # imports of numpy, scipy and numba's compiler registries allocate
    # millions of objects, and the default setting scans the growing heap
    # again and again (about 0.07 s of CPU per run, measured with
    # time.process_time over those imports); cycles are still collected.
    gc.set_threshold(10_000, 10, 10)
    try:
        cli(prog_name="gwaslmm")
        code = 0
    except SystemExit as exc:
        code = exc.code
    if code is None:
        code = 0
    elif not isinstance(code, int):  # sys.exit("message"), as Python itself prints it
        print(code, file=sys.stderr)
        code = 1
    _leave(code)


def _leave(code: int) -> None:
    import atexit
    import os

    try:
        atexit._run_exitfuncs()
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe (gwaslmm ... | head): nothing to add
                pass
        os._exit(code)


if __name__ == "__main__":
    main()
