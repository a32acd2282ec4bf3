import click

from .options import EXIT_CODES, NAME_LISTS, StrictCommand, build_options, covar_options, epilog
from .options import handle_errors, input_options, kinship_options, pheno_options, repeats
from .options import binary_options, cg_options, component_options, run_logged


def _columns():
    from gwaslmm.columns import columns_help

    return "\b\nOutput columns of OUT.assoc.tsv.gz (optional ones by test and mode):\n" + \
        columns_help()


@click.command(cls=StrictCommand, epilog=epilog(
    "Writes OUT.assoc.tsv.gz with OUT.assoc.tsv.gz-meta.yaml (GWAS-SSF), OUT.samples.tsv "
    "(the analysed samples), OUT.log and OUT.timings.json (with --chunk K/N: under "
    "OUT.chunkKofN). --chr/--extract/--exclude choose the tested variants; the kinship "
    "built from the genotypes uses all variants, or --model-snps.",
    _columns(), repeats(*NAME_LISTS, "--model-snps"), EXIT_CODES))
@input_options
@pheno_options(multi=True)
@covar_options
@kinship_options
@click.option("--model-snps", metavar="FILE", multiple=True,
              help="Build the kinship from these variant IDs only (BOLT-LMM's --modelSnps); "
                   "default: every variant. Repeatable.")
@click.option("--test", type=click.Choice(["wald", "lrt", "score", "all"]), default=None,
              help="Test(s) per SNP (GEMMA -lmm 1/2/3/4).  [default: wald; score with "
                   "--binary]")
@click.option("--fast", is_flag=True,
              help="Fix lambda at the null REML estimate (EMMAX/GCTA-MLMA style).")
@click.option("--loco", is_flag=True, help="Leave-one-chromosome-out kinships.")
@cg_options(scan=True)
@click.option("--gxe", metavar="NAME",
              help="Gene-by-environment: test x*NAME per variant (NAME a quantitative or 0/1 "
                   "covariate, kept as a main effect; GEMMA -gxe). Wald test.")
@click.option("--gxe-joint", is_flag=True,
              help="With --gxe: also the 2-df Wald test of main effect and interaction "
                   "(column p_joint).")
@click.option("--within-family", is_flag=True,
              help="Split each variant into its within-family deviation and family mean "
                   "(families by FID): the direct effect, the between-family effect and their "
                   "difference. Wald tests.")
@click.option("--family-col", metavar="NAME",
              help="With --within-family: families from this column of the --covar file "
                   "(not a covariate) instead of the FIDs.")
@click.option("--null", metavar="PREFIX", help="Use a null model saved by reml --save-null.")
@click.option("--chunk", metavar="K/N", help="Scan only the K-th of N variant chunks.")
@click.option("--no-gzip", is_flag=True, help="Write plain TSV instead of .tsv.gz.")
@click.option("--bgzip", is_flag=True,
              help="Write OUT.assoc.tsv.gz BGZF-compressed with a tabix index (needs pysam; "
                   "not with --chunk: merge --bgzip indexes the merged file).")
@click.option("--assembly", metavar="NAME", help="Genome assembly for the metadata (e.g. GRCh38).")
@click.option("--rotate-dtype", type=click.Choice(["float64", "float32"]), default="float64",
              show_default=True,
              help="Precision of the n^2 m product per scan: the rotation U'X (exact mode) or "
                   "the whitening L^-1 X (--fast); float32 is about 2x faster, -log10 p within "
                   "1e-4.")
@click.option("--plot", "make_plot", is_flag=True,
              help="Also write OUT.manhattan.png and OUT.qq.png (a plot failure is logged and "
                   "never fails the scan).")
@component_options
@binary_options(scan=True)
@click.option("--all-pheno", is_flag=True,
              help="Scan every phenotype column of --pheno (one pass over the genotypes; "
                   "OUT.<phenotype>.assoc.tsv.gz each); --pheno-name a,b picks several.")
@click.option("--top", type=click.IntRange(min=0), default=10, show_default=True,
              help="Top hits in the summary.")
@handle_errors
def assoc(**kw):
    """Per-SNP association scan (exact GEMMA-style, or --fast)."""
    from gwaslmm.drivers.assoc import outputs_of, run_assoc
    from gwaslmm.drivers.options import AssocOptions

    if kw["test"] is None:
        kw["test"] = "score" if kw["binary"] else "wald"
    opts = build_options(AssocOptions, kw)
    run_logged(opts, run_assoc, outputs_of(opts))
