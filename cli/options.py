"""Options shared by several commands, and the error/exit-code wrapper."""

from __future__ import annotations

import functools
import shlex
import sys
import traceback

import click

from gwaslmm.errors import GwaslmmError


def _csv(ctx, param, value):
    if value is None:
        return None
    items = [v.strip() for v in value.split(",") if v.strip()]
    return items or None


def input_options(f):
    """--bfile, sample/variant selection, QC, memory, threads, --out, --debug."""
    opts = [
        click.option("--bfile", required=True, metavar="PREFIX",
                     help="PLINK 1 binary fileset PREFIX.bed/.bim/.fam."),
        click.option("--out", required=True, metavar="PREFIX",
                     help="Output prefix (parent folders are created)."),
        click.option("--keep", metavar="FILE", help="Keep only these samples (FID IID per line)."),
        click.option("--remove", metavar="FILE", help="Drop these samples (FID IID per line)."),
        click.option("--extract", metavar="FILE", help="Use only these variant IDs."),
        click.option("--exclude", metavar="FILE", help="Drop these variant IDs."),
        click.option("--chr", "chr_", metavar="LIST", help="Chromosomes, e.g. 1-5,7,X."),
        click.option("--maf", type=float, default=0.01, show_default=True,
                     help="Minimum minor allele frequency (analysed samples)."),
        click.option("--geno", type=float, default=0.05, show_default=True,
                     help="Maximum missing-call rate per variant."),
        click.option("--mac", type=float, default=None, help="Minimum minor allele count."),
        click.option("--memory-gb", type=float, default=4.0, show_default=True,
                     help="Memory budget that sets the SNP block size."),
        click.option("--threads", type=int, default=None,
                     help="Threads for BLAS and numba (default: all cores)."),
        click.option("--block-size", type=int, default=None, hidden=True),
        click.option("--debug", is_flag=True, help="Show tracebacks on errors."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def pheno_options(f):
    opts = [
        click.option("--pheno", metavar="FILE",
                     help="Phenotype table FID IID col... (default: .fam column 6)."),
        click.option("--pheno-name", callback=_csv, metavar="NAMES",
                     help="Phenotype column name(s), comma-separated."),
        click.option("--pheno-col", type=int, default=None, metavar="K",
                     help="Phenotype column number, 1-based after IID."),
        click.option("--missing-code", default="-9", show_default=True, callback=_csv,
                     help="Extra missing-value code(s) besides NA/nan/empty."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def covar_options(f):
    opts = [
        click.option("--covar", metavar="FILE", help="Covariate table FID IID col..."),
        click.option("--covar-name", callback=_csv, metavar="NAMES",
                     help="Covariate columns to use (default: all)."),
        click.option("--cat-covar", callback=_csv, metavar="NAMES",
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


def build_options(kw: dict):
    """Options dataclass from click's keyword arguments."""
    from gwaslmm.pipeline import Options

    o = Options()
    mapping = {"chr_": "chr"}
    for k, v in kw.items():
        name = mapping.get(k, k)
        if name == "debug":
            continue
        if name == "missing_code":
            v = tuple(v or ("-9",))
        if name == "cat_covar":
            v = tuple(v or ())
        setattr(o, name, v)
    o.command_line = "gwaslmm " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    return o


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


def make_log(out, command_line):
    from gwaslmm.log import RunLog

    factory = progress_factory if sys.stderr.isatty() else None
    return RunLog(out, command_line, progress_factory=factory)


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


def run_logged(opts, fn):
    """Open OUT.log, set threads, run ``fn(opts, log)``; an error is also written to
    the log; OUT.timings.json is written only after a successful run."""
    from gwaslmm._jit import set_threads

    log = make_log(opts.out, opts.command_line)
    ok = False
    try:
        log.write(f"threads: {set_threads(opts.threads)}")
        result = fn(opts, log)
        ok = True
        return result
    except GwaslmmError as exc:
        log.write(f"error: {exc}", echo=False)
        raise
    finally:
        log.close(opts.out + ".timings.json" if ok else None)
