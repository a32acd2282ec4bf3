"""Names and meanings of every output table's columns: plain data, imported
by the command line's help without loading numpy.  The association table's
formats are in :mod:`gwaslmm.schema`."""

BASE_COLUMNS = {
    "chromosome": "chromosome (23-26 shown as X, Y, XY, MT)",
    "base_pair_location": "base-pair position",
    "variant_id": "variant ID",
    "effect_allele": "the counted allele (A1, .bim column 5; ALT with --pfile; with --bgen the "
                     "first allele, the second with --ref-first)",
    "other_allele": "the other allele",
    "effect_allele_frequency": "effect-allele frequency over the analysed samples with a call",
    "n": "analysed samples",
    "beta": "effect of one copy of the effect allele",
    "standard_error": "its standard error",
    "p_value": "p of the main test (Wald for --test all); below 1e-290 printed from the exact log",
    "neg_log_10_p_value": "-log10 p, exact where p underflows",
}
OPTIONAL_COLUMNS = {
    "p_wald": "Wald test p (--test all)",
    "p_lrt": "likelihood-ratio test p (--test all)",
    "p_score": "score test p (--test all)",
    "lambda_remle": "exact mode: the variant's REML lambda (Wald)",
    "lambda_mle": "exact mode with lrt/all: the variant's ML lambda",
    "logl_h1": "exact mode: log-likelihood with the variant, REML for wald, ML for lrt/all "
               "(as GEMMA -lmm 1 / -lmm 2,4)",
    "n_miss": "missing calls of the variant among the analysed samples (GEMMA n_miss; "
              "mean-imputed in the test)",
    "t_stat": "beta / standard_error (PLINK 2 T_STAT; its square is the Wald F)",
    "chi2_lrt": "likelihood-ratio statistic 2 (logL1 - logL0), against chi-square(1)",
    "f_score": "score statistic n (x'Py)^2 / (y'Py x'Px) (GEMMA's), against F(1, n-c-1)",
    "beta_gxe": "--gxe: the interaction effect delta of x e (beta and standard_error are "
                "then the main effect x in the same model)",
    "se_gxe": "--gxe: its standard error",
    "p_gxe": "--gxe: Wald p of the interaction, against F(1, n-c-2) (also p_value)",
    "p_joint": "--gxe-joint: p of the 2-df Wald test of main effect and interaction "
               "together, against F(2, n-c-2)",
    "beta_between": "--within-family: the between-family effect (of the family mean of x; "
                    "beta and standard_error are then the within-family, direct effect)",
    "se_between": "--within-family: its standard error",
    "p_between": "--within-family: Wald p of the between-family effect, F(1, n-c-2)",
    "beta_diff": "--within-family: beta_between - beta (between minus direct)",
    "se_diff": "--within-family: its standard error (with the two estimates' covariance)",
    "p_diff": "--within-family: Wald p of the difference, F(1, n-c-2)",
    "score_z": "--binary: the score statistic T / sqrt(x'Px), T = x'(y - mu) against the "
               "logistic mixed model's null fit (its normal-approximation z)",
    "p_method": "--binary: which approximation gave p_value: normal (|score_z| at most "
                "--spa-cutoff), spa (saddlepoint), spa-fast (saddlepoint with the non-carriers "
                "of the sparse allele by their normal cumulant); --engine cg: calibrated "
                "(x'Px from the calibration factor) or exact (x'Px, x'Py and y'Py by the "
                "variant's own CG solve: every variant with a calibrated p below --retest-p)",
    "af_cases": "--binary: effect-allele frequency in the cases (missing calls at the "
                "variant's mean)",
    "af_controls": "--binary: effect-allele frequency in the controls",
    "n_cases": "--binary: analysed cases",
    "n_controls": "--binary: analysed controls",
    "beta_firth": "--firth: Firth-penalized logistic regression's log-odds ratio (covariates "
                  "fitted jointly, the null model's random-effect prediction as offset), for "
                  "variants with p_value below --firth-p; NA elsewhere",
    "se_firth": "--firth: its standard error (from the penalized fit's information)",
    "p_firth": "--firth: Wald p of that fit, 2 Phi(-|beta_firth/se_firth|) (plink2's "
               "--glm firth P)",
    "info": "imputation quality over the analysed samples: IMPUTE INFO (--bgen) or MaCH "
            "R-squared (--pfile dosages); only for those inputs",
}
# p_method's labels by code (gwaslmm.scan.spa: NORMAL, SPA, SPA_FAST; gwaslmm.scan.calibrated:
# CALIBRATED, EXACT)
METHOD_LABELS = ("normal", "spa", "spa-fast", "calibrated", "exact")
ALWAYS = ("n_miss",)  # optional columns every scan writes
ASSOC_COLUMNS = {**BASE_COLUMNS, **OPTIONAL_COLUMNS}

REML_COLUMNS = ["phenotype", "n", "h2", "h2_se", "sigma_g2", "sigma_e2", "lambda", "logl_reml",
                "logl_ml", "p_h2", "boundary"]
FIXED_COLUMNS = ["phenotype", "covariate", "beta", "standard_error"]
BINARY_REML_COLUMNS = ["phenotype", "n", "n_cases", "n_controls", "tau", "tau_se", "h2",
                       "h2_se", "h2_observed", "h2_observed_se", "prevalence", "h2_liability",
                       "h2_liability_se", "iterations", "boundary"]


def columns_help(header=None) -> str:
    """The association columns and their meaning, for --help and the README."""
    names = header or list(ASSOC_COLUMNS)
    return "\n".join(f"  {c}: {ASSOC_COLUMNS[c]}" for c in names)
