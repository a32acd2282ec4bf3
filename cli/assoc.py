import click

from .options import (build_options, covar_options, handle_errors, input_options, kinship_options,
                      pheno_options, run_logged)


@click.command()
@input_options
@pheno_options
@covar_options
@kinship_options
@click.option("--test", type=click.Choice(["wald", "lrt", "score", "all"]), default="wald",
              show_default=True, help="Test(s) per SNP (GEMMA -lmm 1/2/3/4).")
@click.option("--fast", is_flag=True,
              help="Fix lambda at the null REML estimate (EMMAX/GCTA-MLMA style).")
@click.option("--loco", is_flag=True, help="Leave-one-chromosome-out kinships.")
@click.option("--null", metavar="PREFIX", help="Use a null model saved by reml --save-null.")
@click.option("--chunk", metavar="K/N", help="Scan only the K-th of N variant chunks.")
@click.option("--no-gzip", is_flag=True, help="Write plain TSV instead of .tsv.gz.")
@click.option("--assembly", metavar="NAME", help="Genome assembly for the metadata (e.g. GRCh38).")
@click.option("--rotate-dtype", type=click.Choice(["float64", "float32"]), default="float64",
              show_default=True,
              help="Precision of the n^2 m product per scan: the rotation U'X (exact mode) or "
                   "the whitening L^-1 X (--fast); float32 is about 2x faster, -log10 p within "
                   "1e-4.")
@click.option("--plot", "make_plot", is_flag=True,
              help="Also write OUT.manhattan.png and OUT.qq.png.")
@click.option("--top", type=int, default=10, show_default=True, help="Top hits in the summary.")
@handle_errors
def assoc(**kw):
    """Per-SNP association scan; writes OUT.assoc.tsv.gz and its -meta.yaml."""
    from gwaslmm.pipeline import run_assoc

    run_logged(build_options(kw), run_assoc)
