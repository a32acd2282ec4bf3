"""Entry point: ``gwaslmm COMMAND ...`` (also ``python -m gwaslmm``)."""

from __future__ import annotations

import sys

import click

from gwaslmm import __version__

from . import assoc, grm, merge, plot, predict, reml
from .options import EXIT_CODES


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
    cli(prog_name="gwaslmm")


if __name__ == "__main__":
    main()
