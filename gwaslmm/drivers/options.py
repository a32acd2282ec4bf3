"""Per-command options, built by keyword (a misspelt option is a TypeError,
never a silent default).  The CLI fills them from its flags; library users
build them directly."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import UsageError
from ..qc import VariantFilters


def given_flags(opts, *flags: str) -> list:
    """The flags among ``flags`` (e.g. "--within-family") that are set in
    ``opts`` (the field of the flag's name, dashes as underscores; --plot is
    ``make_plot``), in the order given: for one error line naming every
    option a mode does not take."""
    def field(flag):
        name = flag.lstrip("-").replace("-", "_")
        return "make_plot" if name == "plot" else name
    return [f for f in flags if getattr(opts, field(f))]


@dataclass(frozen=True, kw_only=True)
class RunOptions:
    out: str
    threads: int | None = None
    command_line: str = ""


@dataclass(frozen=True, kw_only=True)
class GenotypeOptions(RunOptions):
    """The genotypes and what of them to use.  keep/remove/extract/exclude
    take several files (their union, as PLINK 2)."""

    bfile: str | None = None
    pfile: str | None = None
    bgen: str | None = None
    sample: str | None = None
    ref_first: bool = False
    ref_last: bool = False
    count_other_allele: bool = False
    hard_calls: bool = False
    keep: tuple = ()
    remove: tuple = ()
    extract: tuple = ()
    exclude: tuple = ()
    chr: str | None = None
    maf: float = 0.01
    geno: float = 0.05
    mac: float | None = None
    info_min: float | None = None
    minimac_r2_min: float | None = None
    memory_gb: float = 4.0
    block_size: int | None = None

    def __post_init__(self):
        if sum(x is not None for x in (self.bfile, self.pfile, self.bgen)) != 1:
            raise UsageError("give the genotypes with one of --bfile PREFIX (PLINK 1 "
                             ".bed/.bim/.fam), --pfile PREFIX (PLINK 2 .pgen/.pvar/.psam) or "
                             "--bgen FILE (with --sample FILE)")
        if self.bgen is None:
            for flag, given in (("--sample", self.sample is not None),
                                ("--ref-first", self.ref_first), ("--ref-last", self.ref_last)):
                if given:
                    raise UsageError(f"{flag} goes with --bgen")
        if self.ref_first and self.ref_last:
            raise UsageError("--ref-first and --ref-last contradict each other")
        if self.hard_calls and self.bfile is not None:
            raise UsageError("--hard-calls goes with --pfile or --bgen (a .bed holds hard "
                             "calls only)")
        if self.info_min is not None and (self.bgen is None or self.hard_calls):
            raise UsageError("--info-min filters on IMPUTE INFO, computed from BGEN "
                             "probabilities: it needs --bgen without --hard-calls (for .pgen "
                             "dosages use --minimac-r2-min)")
        if self.minimac_r2_min is not None and (self.pfile is None or self.hard_calls):
            raise UsageError("--minimac-r2-min filters on MaCH R2, computed from .pgen "
                             "dosages: it needs --pfile without --hard-calls (for BGEN use "
                             "--info-min)")
        self.filters  # noqa: B018 - checks --maf/--geno/--mac before any work

    @property
    def filters(self) -> VariantFilters:
        if self.minimac_r2_min is not None:
            return VariantFilters(maf=self.maf, geno=self.geno, mac=self.mac,
                                  info_min=self.minimac_r2_min, info_flag="--minimac-r2-min")
        return VariantFilters(maf=self.maf, geno=self.geno, mac=self.mac, info_min=self.info_min)


@dataclass(frozen=True, kw_only=True)
class PhenotypeOptions:
    pheno: str | None = None
    pheno_name: tuple = ()
    pheno_col: int | None = None
    missing_code: tuple = ("-9",)
    covar: str | None = None
    covar_name: tuple = ()
    cat_covar: tuple = ()


@dataclass(frozen=True, kw_only=True)
class KinshipOptions:
    grm: str | None = None
    kinship: str | None = None
    eigen: str | None = None
    save_eigen: bool = False
    grm_type: str = "standardized"
    grm_dtype: str | None = None  # None: the method's default


@dataclass(frozen=True, kw_only=True)
class GrmOptions(GenotypeOptions):
    grm_type: str = "standardized"
    grm_dtype: str | None = None


@dataclass(frozen=True, kw_only=True)
class ComponentOptions:
    """Variance components besides the kinship (reml, assoc)."""

    random: tuple = ()
    random_slope: tuple = ()
    slope_cov: bool = False
    mgrm: str | None = None
    no_kinship: bool = False
    gxe_vc: str | None = None
    grm_split: str | None = None


@dataclass(frozen=True, kw_only=True)
class BinaryOptions:
    """A binary trait (reml, assoc): the logistic mixed model."""

    binary: bool = False
    prevalence: float | None = None  # population prevalence, for h2 on the liability scale


@dataclass(frozen=True, kw_only=True)
class RemlOptions(GenotypeOptions, PhenotypeOptions, KinshipOptions, ComponentOptions,
                  BinaryOptions):
    all_pheno: bool = False
    loco: bool = False
    save_null: str | None = None
    engine_choice: str = "dense"  # --engine dense|cg
    mc_probes: int | None = None  # --engine cg
    seed: int = 1                 # --engine cg
    loco_h2: str = "once"         # --engine cg --loco
    cg_tol: float = 5e-4          # --engine cg --save-null: the LOCO solves' relative residual


@dataclass(frozen=True, kw_only=True)
class PredictOptions(GenotypeOptions, PhenotypeOptions, KinshipOptions):
    bfile_new: str | None = None
    pfile_new: str | None = None
    null: str | None = None
    cv: int | None = None
    cv_by_sample: bool = False
    seed: int = 1


@dataclass(frozen=True, kw_only=True)
class AssocOptions(GenotypeOptions, PhenotypeOptions, KinshipOptions, ComponentOptions,
                   BinaryOptions):
    test: str = "wald"
    fast: bool = False
    loco: bool = False
    null: str | None = None
    model_snps: tuple = ()
    chunk: str | None = None
    no_gzip: bool = False
    bgzip: bool = False
    all_pheno: bool = False
    assembly: str | None = None
    rotate_dtype: str = "float64"
    make_plot: bool = False
    top: int = 10
    gxe: str | None = None
    gxe_joint: bool = False
    within_family: bool = False
    family_col: str | None = None
    spa_cutoff: float = 2.0  # --binary: |z| above which the saddlepoint p is used
    firth: bool = False
    firth_p: float = 0.05    # --binary --firth: Firth for variants with a score p below this
    engine_choice: str = "dense"  # --engine: dense, cg or auto
    retest_p: float = 1e-5   # --engine cg: exact re-test below this calibrated p
    cg_tol: float = 5e-4     # --engine cg: relative residual of the LOCO solves
    seed: int = 1            # --engine cg: Monte-Carlo REML and calibration draws
    mc_probes: int | None = None  # --engine cg: Monte-Carlo REML phenotypes (None: BOLT's)
    loco_h2: str = "once"    # --engine cg --loco: h2 once (BOLT-LMM) or per left-out chromosome

    @property
    def engine(self) -> str:
        return "cg" if self.engine_choice == "cg" else "fast" if self.fast else "exact"


@dataclass(frozen=True, kw_only=True)
class MergeOptions(RunOptions):
    files: tuple
    no_gzip: bool = False
    bgzip: bool = False


@dataclass(frozen=True, kw_only=True)
class PlotOptions(RunOptions):
    assoc_file: str
    label_top: int = 5
    title: str | None = None
