import click

from .options import EXIT_CODES, NAME_LISTS, StrictCommand, build_options, covar_options, epilog
from .options import handle_errors, input_options, kinship_options, pheno_options, repeats
from .options import run_logged


@click.command(cls=StrictCommand, epilog=epilog(
    "Fits the null model on the samples with a phenotype (and covariates), then writes "
    "OUT.predict.tsv (FID IID in_training phenotype genetic_value pev reliability fitted) for "
    "every kept sample of the genotype file, OUT.snp_effects.tsv (variant_id effect_allele "
    "weight center u; for plink2 --score) when the kinship is built from the genotypes, "
    "OUT.log and OUT.timings.json.", repeats(*NAME_LISTS), EXIT_CODES))
@input_options
@pheno_options(multi=False)
@covar_options
@kinship_options
@click.option("--null", metavar="PREFIX",
              help="Use the null model saved by reml --save-null PREFIX (its training samples, "
                   "phenotype, covariates and variance components; no refit); the kinship is "
                   "rebuilt from the genotypes and checked against it.")
@click.option("--bfile-new", metavar="PREFIX",
              help="Also predict the samples of this PLINK 1 fileset (no phenotype needed), "
                   "from the variants it shares with the training file (matched by ID and "
                   "alleles).")
@click.option("--pfile-new", metavar="PREFIX",
              help="As --bfile-new for a PLINK 2 fileset (dosages, or hard calls with "
                   "--hard-calls).")
@click.option("--cv", type=click.IntRange(min=2), default=None, metavar="K",
              help="K-fold cross-validation of the predictions (OUT.cv.tsv); folds by family "
                   "(FID) so relatives never straddle them.")
@click.option("--cv-by-sample", is_flag=True,
              help="With --cv: random folds by sample instead of by family.")
@click.option("--seed", type=int, default=1, show_default=True,
              help="Random seed of the --cv folds.")
@handle_errors
def predict(**kw):
    """Genetic values by BLUP (also of samples without phenotype), SNP effects."""
    from gwaslmm.drivers.options import PredictOptions
    from gwaslmm.drivers.predict import run_predict

    run_logged(build_options(PredictOptions, kw), run_predict)
