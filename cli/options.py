"""Options shared by several commands, the command class that refuses
repeated options, and the error/exit-code wrapper."""

from __future__ import annotations

import functools
import shlex
import sys
import traceback

import click

from gwaslmm.errors import GwaslmmError

EXIT_CODES = ("Exit codes: 0 success; 1 bad input data or a numerical failure (one line "
              "'gwaslmm: error: ...'); 2 bad usage; 3 internal error (a bug: rerun with "
              "--debug and report it); 130 interrupted.")
REPEATS = ("--keep, --remove, --extract, --exclude and --model-snps may be given several "
           "times (the union of the files, as PLINK 2); name lists (--pheno-name, "
           "--covar-name, --cat-covar, --missing-code) are comma-separated and may be "
           "repeated; any other option given twice is an error.")


def epilog(*parts: str) -> str:
    """A --help epilog; click keeps paragraphs marked with \\b as written."""
    return "\n\n".join(parts)


class StrictCommand(click.Command):
    """A command that refuses a single-valued option given twice (click would
    silently keep the last)."""

    def parse_args(self, ctx, args):
        single = {}
        for p in self.params:
            if isinstance(p, click.Option) and not p.multiple and not p.count:
                for o in p.opts + p.secondary_opts:
                    single[o] = p
        seen: dict = {}
        skip = False
        for a in args:
            if skip:
                skip = False
                continue
            if a == "--":
                break
            name = a.split("=", 1)[0]
            p = single.get(name)
            if p is None:
                continue
            if "=" not in a and not p.is_flag:
                skip = True  # the next token is this option's value
            if p.name in seen:
                raise click.UsageError(f"option {name} given twice ({seen[p.name]} ... {a}); "
                                       f"give it once", ctx=ctx)
            seen[p.name] = a
        return super().parse_args(ctx, args)


def _csv(ctx, param, value):
    """Comma-separated names, from one or several uses of the option."""
    if value is None:
        return ()
    values = value if isinstance(value, (tuple, list)) else (value,)
    items = [v.strip() for s in values for v in s.split(",") if v.strip()]
    return tuple(items)


def input_options(f):
    """--bfile, sample/variant selection, QC, memory, threads, --out, --debug."""
    opts = [
        click.option("--bfile", required=True, metavar="PREFIX",
                     help="PLINK 1 binary fileset PREFIX.bed/.bim/.fam."),
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
        click.option("--maf", type=float, default=0.01, show_default=True,
                     help="Minimum minor allele frequency (analysed samples)."),
        click.option("--geno", type=float, default=0.05, show_default=True,
                     help="Maximum missing-call rate per variant."),
        click.option("--mac", type=float, default=None, help="Minimum minor allele count."),
        click.option("--memory-gb", type=float, default=4.0, show_default=True,
                     help="Memory budget that sets the SNP block size."),
        click.option("--threads", type=click.IntRange(min=1), default=None,
                     help="Threads for BLAS and numba (default: the cores this process may "
                          "use: its CPU affinity and cgroup quota, as SLURM sets them). On a "
                          "shared node give the cores your job was allotted."),
        click.option("--block-size", type=int, default=None, hidden=True),
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
        help="Precision of the kinship's block products: float32 is about 2x faster, "
             "relative error about 1e-7 (GCTA's storage precision). Default: float32 "
             "with assoc --fast, float64 otherwise.")


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


RENAME = {"chr_": "chr"}


def command_line() -> str:
    return "gwaslmm " + " ".join(shlex.quote(a) for a in sys.argv[1:])


def build_options(cls, kw: dict):
    """The command's options dataclass from click's keyword arguments, by
    keyword: a flag without a field (or a field without a flag) is a TypeError."""
    fields = {RENAME.get(k, k): v for k, v in kw.items() if k != "debug"}
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
        except Exception as exc:  # an internal error: still one line without --debug
            if debug:
                traceback.print_exc()
            click.echo(f"gwaslmm: internal error: {type(exc).__name__}: {exc} "
                       f"(rerun with --debug for a traceback)", err=True)
            sys.exit(3)
    return wrapper


def run_logged(opts, fn, outputs=None):
    """Open the run's log, set threads, run ``fn(opts, log)``; an error is also
    written to the log; the timings file is written only after a successful run.
    ``outputs``: the run's :class:`gwaslmm.paths.Outputs` (default: from --out)."""
    from gwaslmm._jit import cache_note, set_threads
    from gwaslmm.paths import Outputs

    out = outputs or Outputs(opts.out)
    log = make_log(out.log, opts.command_line)
    ok = False
    try:
        log.write(f"threads: {set_threads(opts.threads)}; {cache_note()}")
        result = fn(opts, log)
        ok = True
        return result
    except GwaslmmError as exc:
        log.write(f"error: {exc}", echo=False)
        raise
    finally:
        log.close(out.timings if ok else None)
