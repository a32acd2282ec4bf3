"""Entry point: ``gwaslmm COMMAND ...`` (also ``python -m gwaslmm``)."""

from __future__ import annotations

import click

from gwaslmm import __version__

from . import assoc, grm, merge, reml


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="gwaslmm")
@click.option("--debug", is_flag=True, help="Show tracebacks on errors (any command).")
@click.pass_context
def cli(ctx, debug):
    """Genome-wide association with linear mixed models.

    \b
    grm    build a kinship (GRM) from PLINK genotypes
    reml   null model: heritability and variance components
    assoc  per-SNP association scan (exact GEMMA-style or --fast)
    merge  join the chunk files of a split assoc run
    """
    ctx.obj = {"debug": debug}


cli.add_command(grm.grm)
cli.add_command(reml.reml)
cli.add_command(assoc.assoc)
cli.add_command(merge.merge)


def main():
    cli(prog_name="gwaslmm")


if __name__ == "__main__":
    main()
