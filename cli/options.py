"""Options shared by several commands, the command class that refuses
repeated options, and the error/exit-code wrapper."""

from __future__ import annotations

import dataclasses
import functools
import math
import shlex
import signal
import sys
import threading
import traceback

import click

from gwaslmm.errors import GwaslmmError

EXIT_CODES = ("Exit codes: 0 success; 1 bad input data or a numerical failure (one line "
              "'gwaslmm: error: ...'); 2 bad usage; 3 internal error (a bug: rerun with "
              "--debug and report it); 130 interrupted (Ctrl-C); 143 stopped by SIGTERM (as "
              "SLURM stops a job); temporary files are removed in all these cases.")
def repeats(*lists: str) -> str:
    """The --help paragraph on repeated options, for the options a command has."""
    files = ["--keep", "--remove", "--extract", "--exclude"] + [x for x in lists
                                                               if x == "--model-snps"]
    names = [x for x in lists if x != "--model-snps"]
    text = (f"{', '.join(files[:-1])} and {files[-1]} may be given several times (the union of "
            f"the files, as PLINK 2)")
    if names:
        text += (f"; name lists ({', '.join(names)}) are comma-separated and may be "
                 f"repeated")
    return text + "; any other option given twice is an error."


NAME_LISTS = ("--pheno-name", "--covar-name", "--cat-covar", "--missing-code")


def epilog(*parts: str) -> str:
    """A --help epilog; click keeps paragraphs marked with \\b as written."""
    return "\n\n".join(parts)


class StrictCommand(click.Command):
    """A command that refuses a single-valued option given twice (click would
    silently keep the last)."""

    def parse_args(self, ctx, args):
        options = {}
        for p in self.params:
            if isinstance(p, click.Option):
                for o in p.opts + p.secondary_opts:
                    options[o] = p
        seen: dict = {}
        skip = False
        for a in args:
            if skip:
                skip = False
                continue
            if a == "--":
                break
            name = a.split("=", 1)[0]
            p = options.get(name)
            if p is None:
                continue
            if "=" not in a and not p.is_flag:
                skip = True  # the next token is this option's value, whatever it looks like
            if p.multiple or p.count:
                continue
            if p.name in seen:
                raise click.UsageError(f"option {name} given twice ({seen[p.name]} ... {a}); "
                                       f"give it once", ctx=ctx)
            seen[p.name] = a
        return super().parse_args(ctx, args)


class FiniteFloat(click.ParamType):
    """A finite float (no nan/inf), above ``low`` (or at least it, unless
    ``open_low``)."""

    name = "float"

    def __init__(self, low: float = 0.0, open_low: bool = True):
        self.low, self.open_low = low, open_low

    def convert(self, value, param, ctx):
        try:
            v = float(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not a number", param, ctx)
        if not math.isfinite(v):
            self.fail(f"{value!r} is not a finite number", param, ctx)
        if v < self.low or (self.open_low and v == self.low):
            self.fail(f"{value!r} must be {'above' if self.open_low else 'at least'} "
                      f"{self.low:g}", param, ctx)
        return v


def _csv(ctx, param, value):
    """Comma-separated names, from one or several uses of the option."""
    if value is None:
        return ()
    values = value if isinstance(value, (tuple, list)) else (value,)
    items = [v.strip() for s in values for v in s.split(",") if v.strip()]
    return tuple(items)


def input_options(f):
    """--bfile/--pfile/--bgen, sample/variant selection, QC, memory, threads, --out, --debug."""
    opts = [
        click.option("--bfile", metavar="PREFIX",
                     help="PLINK 1 binary fileset PREFIX.bed/.bim/.fam (effect allele A1)."),
        click.option("--pfile", metavar="PREFIX",
                     help="PLINK 2 fileset PREFIX.pgen/.pvar/.psam, ALT dosages (effect "
                          "allele ALT)."),
        click.option("--bgen", metavar="FILE",
                     help="BGEN 1.1/1.2/1.3 file of dosages (effect allele: the first of "
                          "each variant's two, unless --ref-first)."),
        click.option("--sample", metavar="FILE",
                     help="With --bgen: Oxford .sample file (ID_1 = FID, ID_2 = IID); "
                          "default: the IDs stored in the BGEN, as IIDs."),
        click.option("--ref-first", is_flag=True,
                     help="With --bgen: the first allele is REF, count the second (UK "
                          "Biobank's convention; default --ref-last counts the first, as "
                          "plink2 --export bgen writes ALT first)."),
        click.option("--ref-last", is_flag=True, hidden=True),
        click.option("--count-other-allele", is_flag=True,
                     help="Count the other allele (A2, REF, the other BGEN allele): betas "
                          "change sign, frequencies become 1 - f."),
        click.option("--hard-calls", is_flag=True,
                     help="With --pfile: the hard calls plink2 stored; with --bgen: dosages "
                          "within 0.1 of 0/1/2 rounded, others missing (PLINK 2's "
                          "--hard-call-threshold)."),
        click.option("--out", required=True, metavar="PREFIX",
                     help="Output prefix (parent folders are created)."),
        click.option("--keep", metavar="FILE", multiple=True,
                     help="Keep only these samples (FID IID per line); repeatable."),
        click.option("--remove", metavar="FILE", multiple=True,
                     help="Drop these samples (FID IID per line); repeatable."),
        click.option("--extract", metavar="FILE", multiple=True,
                     help="Use only these variant IDs; repeatable."),
        click.option("--exclude", metavar="FILE", multiple=True,
                     help="Drop these variant IDs; repeatable."),
        click.option("--chr", "chr_", metavar="LIST", help="Chromosomes, e.g. 1-5,7,X."),
        click.option("--maf", type=FiniteFloat(0.0, open_low=False), default=0.01,
                     show_default=True,
                     help="Minimum minor allele frequency (analysed samples)."),
        click.option("--geno", type=FiniteFloat(0.0, open_low=False), default=0.05,
                     show_default=True,
                     help="Maximum missing-call rate per variant."),
        click.option("--mac", type=FiniteFloat(0.0, open_low=False), default=None,
                     help="Minimum minor allele count."),
        click.option("--info-min", type=FiniteFloat(0.0, open_low=False), default=None,
                     help="With --bgen: minimum IMPUTE INFO (over the analysed samples)."),
        click.option("--minimac-r2-min", type=FiniteFloat(0.0, open_low=False), default=None,
                     help="With --pfile dosages: minimum MaCH R-squared (over the analysed "
                          "samples)."),
        click.option("--memory-gb", type=FiniteFloat(0.0), default=4.0, show_default=True,
                     help="Memory budget that sets the SNP block size."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Threads for BLAS and numba (default: the cores this process may "
                          "use: its CPU affinity and cgroup quota, as SLURM sets them). On a "
                          "shared node give the cores your job was allotted."),
        click.option("--block-size", type=click.IntRange(min=1), default=None, hidden=True),
        click.option("--debug", is_flag=True, help="Show tracebacks on errors."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def pheno_options(multi: bool):
    """--pheno and its column choice; ``multi``: the command fits several phenotypes."""
    name_help = ("Phenotype column name(s), comma-separated." if multi
                 else "Phenotype column name (one per run; reml fits several).")

    def deco(f):
        opts = [
            click.option("--pheno", metavar="FILE",
                         help="Phenotype table FID IID col... (default: the .fam's phenotype "
                              "column 6, or column 5+K with --pheno-col K)."),
            click.option("--pheno-name", callback=_csv, metavar="NAME" + ("S" if multi else ""),
                         multiple=True, help=name_help),
            click.option("--pheno-col", type=int, default=None, metavar="K",
                         help="Phenotype column number, 1-based after IID (without --pheno: "
                              "the .fam's K-th phenotype column, GEMMA's -n K)."),
            click.option("--missing-code", default=("-9",), show_default=True, callback=_csv,
                         multiple=True, help="Extra missing-value code(s) besides NA/nan/empty."),
        ]
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


def covar_options(f):
    opts = [
        click.option("--covar", metavar="FILE",
                     help="Covariate table FID IID col... (if it is the --pheno file, its "
                          "phenotype columns are left out)."),
        click.option("--covar-name", callback=_csv, metavar="NAMES", multiple=True,
                     help="Covariate columns to use (default: all)."),
        click.option("--cat-covar", callback=_csv, metavar="NAMES", multiple=True,
                     help="Covariates to treat as categorical even if numeric."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def grm_dtype_option():
    return click.option(
        "--grm-dtype", type=click.Choice(["float64", "float32"]), default=None,
        help="Precision of the kinship's block products: float32 is about 1.7x faster, "
             "relative error about 1e-7 (GCTA's storage precision). Default: float32 "
             "with grm (whose file is float32), assoc --fast and --binary (reml and assoc), "
             "float64 otherwise.")


def kinship_options(f):
    opts = [
        click.option("--grm", metavar="PREFIX", help="GCTA binary GRM PREFIX.grm.bin/.grm.id."),
        click.option("--kinship", metavar="FILE",
                     help="GEMMA text kinship (.cXX.txt/.sXX.txt, .fam order)."),
        click.option("--eigen", metavar="PREFIX",
                     help="Reuse PREFIX.eigen.npz saved by --save-eigen."),
        click.option("--save-eigen", is_flag=True, help="Save the eigendecomposition."),
        click.option("--grm-type", type=click.Choice(["standardized", "centered"]),
                     default="standardized", show_default=True,
                     help="Kinship built from the genotypes when none is given."),
        grm_dtype_option(),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def _names(ctx, param, value) -> tuple:
    """NAME[,NAME...] given once or repeated: one tuple of names."""
    return tuple(x for item in value for x in item.split(",") if x)


def component_options(f):
    """Variance components besides the kinship (reml, assoc)."""
    opts = [
        click.option("--random", metavar="NAME[,NAME...]", multiple=True, callback=_names,
                     help="Random intercepts for these categorical columns of --covar "
                          "(households, clinics; two or more: cross-classified); several "
                          "variance components by AI-REML."),
        click.option("--random-slope", metavar="NAME:GROUP", multiple=True,
                     help="A random slope: covariate NAME's effect varies by the groups of "
                          "column GROUP; repeatable."),
        click.option("--slope-cov", is_flag=True,
                     help="Estimate the covariance of each random slope with its group's "
                          "intercept (--random GROUP); the 2x2 matrix kept positive "
                          "semi-definite."),
        click.option("--mgrm", metavar="FILE",
                     help="Several kinships: FILE lists GCTA GRM prefixes, one per line "
                          "(GCTA's convention; relative to FILE's folder), one variance "
                          "component each."),
        click.option("--no-kinship", is_flag=True,
                     help="No genetic component: group random effects only (with --random)."),
        click.option("--grm-split", metavar="SPEC",
                     help="Several kinships built in one pass over the genotypes, one variance "
                          "component each: chr:1-11/12-22 (chromosome sets) or "
                          "maf:0.01,0.05,0.5 (MAF bins)."),
        click.option("--gxe-vc", metavar="NAME",
                     help="A GxE variance component: the genetic effect's slope on covariate "
                          "NAME, covariance K o ee' (with --slope-cov also its covariance with "
                          "the genetic intercept)."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def binary_options(scan: bool):
    """A binary trait (reml, and with the scan's own options assoc)."""
    def deco(f):
        opts = [
            click.option("--binary", is_flag=True,
                         help="The phenotype is binary (coded 0/1, or PLINK's 1/2 = control/"
                              "case): the logistic mixed model, fitted by PQL + AI-REML"
                              + ("; per variant the score test with its exact variance and "
                                 "saddlepoint p-values." if scan else ".")),
            click.option("--prevalence", type=float, metavar="K",
                         help="With --binary: the population prevalence, for h2 on the "
                              "liability scale (Lee et al. 2011)."),
        ]
        if scan:
            opts += [
                click.option("--spa-cutoff", type=click.FloatRange(min=0), default=2.0,
                             show_default=True,
                             help="With --binary: the saddlepoint p-value where |score z| "
                                  "exceeds this (SAIGE's default 2), the normal one below."),
                click.option("--firth", is_flag=True,
                             help="With --binary: Firth-penalized logistic regression (the null "
                                  "model's random-effect prediction as offset) for variants with "
                                  "p below --firth-p: columns beta_firth, se_firth, p_firth."),
                click.option("--firth-p", type=click.FloatRange(min=0, max=1, min_open=True),
                             default=0.05, show_default=True,
                             help="With --firth: the score p below which Firth runs "
                                  "(REGENIE's --pThresh)."),
            ]
        for o in reversed(opts):
            f = o(f)
        return f
    return deco


RENAME = {"chr_": "chr"}


def command_line() -> str:
    return "gwaslmm " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def build_options(cls, kw: dict):
    """The command's options dataclass from click's keyword arguments, by
    keyword: a flag without a field (or a field without a flag) is a TypeError."""
    from gwaslmm.paths import check_out

    fields = {RENAME.get(k, k): v for k, v in kw.items() if k != "debug"}
    check_out(fields["out"])
    return cls(**fields, command_line=command_line())


def progress_factory(label, total):
    """click's progress bar on a terminal (else the library prints plain lines)."""
    bar = click.progressbar(length=total, label=label, file=sys.stderr)
    bar.__enter__()
    state = {"pos": 0, "open": True}

    def cb(done, total=total):
        if not state["open"]:
            return
        bar.update(done - state["pos"])
        state["pos"] = done
        if done >= total:
            bar.__exit__(None, None, None)
            state["open"] = False
    return cb


def make_log(log_path, command_line):
    from gwaslmm.log import RunLog

    factory = progress_factory if sys.stderr.isatty() else None
    return RunLog(log_path, command_line, progress_factory=factory)


class Terminated(BaseException):
    """Raised in the main thread when SIGTERM arrives (what SLURM sends on
    cancel and time-out), so that it unwinds like Ctrl-C: every temporary
    file is removed and the log says why the run stopped."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise Terminated(signum)


def handle_errors(f):
    """Turn library errors into one line on stderr and an exit code (1 data, 2 usage);
    tracebacks only with --debug."""

    @functools.wraps(f)
    def wrapper(*args, **kwargs):
        debug = kwargs.get("debug", False) or (click.get_current_context().obj or {}).get("debug")
        try:
            return f(*args, **kwargs)
        except GwaslmmError as exc:
            if debug:
                traceback.print_exc()
            click.echo(f"gwaslmm: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except MemoryError:
            if debug:
                traceback.print_exc()
            click.echo("gwaslmm: error: out of memory; lower --memory-gb or use fewer samples",
                       err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("gwaslmm: interrupted; no complete output was written", err=True)
            sys.exit(130)
        except Terminated as exc:
            name = signal.Signals(exc.signum).name
            click.echo(f"gwaslmm: stopped by {name}; no complete output was written", err=True)
            sys.exit(128 + exc.signum)
        except Exception as exc:  # an internal error: still one line without --debug
            if debug:
                traceback.print_exc()
            click.echo(f"gwaslmm: internal error: {type(exc).__name__}: {exc} "
                       f"(rerun with --debug for a traceback)", err=True)
            sys.exit(3)
    return wrapper


def run_logged(opts, fn, outputs=None):
    """Lock the run's output prefix, open its log, set threads, run
    ``fn(opts, log)``.  An error or a stop (Ctrl-C, SIGTERM) is written to the
    log; the timings file is written only after a successful run.
    ``outputs``: the run's :class:`gwaslmm.paths.Outputs` (default: from --out)."""
    from gwaslmm._jit import cache_note, compile_note, set_threads
    from gwaslmm.paths import Outputs
    from gwaslmm.writers import RunLock

    out = outputs or Outputs(opts.out)
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_signal)
    else:  # signals reach the main thread only (a test runner's worker thread)
        previous = None
    try:
        with RunLock(out.run):
            log = make_log(out.log, opts.command_line)
            ok = False
            try:
                k = set_threads(opts.threads)
                asked = "" if opts.threads in (None, k) else \
                    f" (--threads {opts.threads}: more than the {k} cores this process may use)"
                log.write(f"threads: {k}{asked}; {cache_note()}")
                # every library gets the count used, not the one asked for
                opts = dataclasses.replace(opts, threads=k)
                result = fn(opts, log)
                ok = True
                note = compile_note()
                if note:
                    log.write(note)
                return result
            except GwaslmmError as exc:
                _last_words(log, f"error: {exc}")
                raise
            except KeyboardInterrupt:
                _last_words(log, "stopped: interrupted (Ctrl-C); temporary files removed")
                raise
            except Terminated as exc:
                _last_words(log, f"stopped: {signal.Signals(exc.signum).name} received; "
                                 f"temporary files removed")
                raise
            finally:
                log.close(out.timings if ok else None)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _last_words(log, line: str) -> None:
    """Write the reason a run stopped to its log, even when the log's own disk
    is what failed."""
    try:
        log.write(line, echo=False)
    except GwaslmmError:
        pass


def cg_options(scan: bool):
    """The large-sample (CG) engine (reml, and with the scan's own options assoc)."""
    def deco(f):
        engines = ["dense", "cg", "auto"] if scan else ["dense", "cg"]
        opts = [
            click.option("--engine", "engine_choice", type=click.Choice(engines),
                         default="dense", show_default=True,
                         help="dense: the kinship and its decomposition"
                              + (" (exact, or --fast)" if scan else "")
                              + "; cg: the large-sample engine, which never forms the kinship "
                                "(genotypes at 2 bits, Monte-Carlo REML, batched conjugate "
                                "gradient"
                              + (", fixed-variance tests with a calibrated x'Px, exact below "
                                 "--retest-p); auto: cg from 2,000 analysed samples with --loco, "
                                 "4,000 without, where it applies (the measured crossover)."
                                 if scan else
                                 "; logl_reml/logl_ml/p_h2 NA, h2_se the AI-REML SE; "
                                 "--save-null stores every LOCO mask in one file).")),
            click.option("--cg-tol", type=click.FloatRange(min=1e-12, max=0.1), default=5e-4,
                         show_default=True,
                         help="--engine cg: relative residual of the LOCO solves (BOLT-LMM's "
                              "5e-4)."),
            click.option("--loco-h2", type=click.Choice(["once", "each"]), default="once",
                         show_default=True,
                         help="--engine cg --loco: h2 estimated once on every variant "
                              "(BOLT-LMM's LOCO) or for each left-out chromosome (the dense "
                              "engine's --loco; the chromosomes' fits share their passes)."),
            click.option("--mc-probes", type=click.IntRange(min=2, max=1000), default=None,
                         help="--engine cg: random phenotypes of the Monte-Carlo REML (default "
                              "BOLT-LMM's max(min(4e9/n^2, 15), 3)); its Monte-Carlo SE falls "
                              "as 1/sqrt(probes)."),
            click.option("--seed", type=int, default=1, show_default=True,
                         help="--engine cg: seed of the Monte-Carlo REML phenotypes and the "
                              "calibration variants."),
        ]
        if scan:
            opts.insert(1, click.option(
                "--retest-p", type=float, default=1e-5, show_default=True,
                help="--engine cg: re-test every variant with a calibrated p below this by "
                     "its own exact solve."))
        for o in reversed(opts):
            f = o(f)
        return f
    return deco
