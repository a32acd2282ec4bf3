"""Every output path, derived in one place from ``--out`` (and ``--chunk``).

Workflow rules (Snakemake, Nextflow) can declare a command's outputs with
these functions instead of repeating the naming rules.  A ``--chunk K/N`` run
writes its per-run files (results, metadata, log, timings, sample list,
plots) under ``OUT.chunkKofN``; what describes the model rather than the run
(``--save-eigen``) stays under ``OUT``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .errors import UsageError

ASSOC_SUFFIX = ".assoc.tsv"
META_SUFFIX = "-meta.yaml"


def check_out(out: str) -> str:
    """An --out prefix names files to write, not a folder: refuse an empty
    prefix, '.', '..', a trailing '/' or an existing directory (which would
    give hidden files such as 'out/.log')."""
    base = os.path.basename(out)
    if not out or out.endswith(os.sep) or base in ("", ".", "..") or os.path.isdir(out):
        raise UsageError(f"--out '{out}' names a folder; give a prefix for the files, for "
                         f"example {os.path.join(out or '.', 'run')}")
    return out


def chunk_prefix(out: str, k: int, n: int) -> str:
    return f"{out}.chunk{k}of{n}"


def assoc_path(prefix: str, gzip: bool = True) -> str:
    return prefix + ASSOC_SUFFIX + (".gz" if gzip else "")


def meta_path(results: str) -> str:
    """The GWAS-SSF metadata file beside a result file."""
    return results + META_SUFFIX


def null_path(prefix: str) -> str:
    """A saved null model (``reml --save-null PREFIX``); PREFIX may end in .npz."""
    return prefix if prefix.endswith(".npz") else prefix + ".null.npz"


def loco_null_path(prefix: str, chromosome: str) -> str:
    return f"{prefix}.chr{chromosome}.null.npz"


def loco_null_pattern(prefix: str) -> str:
    """glob pattern of the per-chromosome null models of ``reml --loco --save-null``."""
    return f"{prefix}.chr*.null.npz"


def eigen_path(prefix: str) -> str:
    return prefix if prefix.endswith(".npz") else prefix + ".eigen.npz"


def _run_file(suffix: str, doc: str) -> property:
    """A file named OUT<suffix> (OUT.chunkKofN<suffix> for a --chunk job)."""
    return property(lambda self: self.run + suffix, doc=doc)


def _model_file(suffix: str, doc: str) -> property:
    """A file named OUT<suffix>, the same for every chunk of a run."""
    return property(lambda self: self.out + suffix, doc=doc)


@dataclass(frozen=True)
class Outputs:
    """The files of one run of a command with ``--out OUT`` (and ``--chunk``)."""

    out: str
    chunk: tuple | None = None  # (k, n)
    gzip: bool = True

    @property
    def run(self) -> str:
        return self.out if self.chunk is None else chunk_prefix(self.out, *self.chunk)

    log = _run_file(".log", "the run's log")
    timings = _run_file(".timings.json", "seconds per stage, written after a successful run")
    samples = _run_file(".samples.tsv", "the analysed samples, #FID IID (readable by --keep)")
    manhattan = _run_file(".manhattan.png", "the Manhattan plot")
    qq = _run_file(".qq.png", "the QQ plot")
    reml = _model_file(".reml.tsv", "reml: one row per phenotype")
    reml_fixed = _model_file(".reml.fixed.tsv", "reml: the fixed effects")
    vc = _model_file(".vc.tsv", "reml with several variance components: one row per component")
    reml_loco = _model_file(".reml.loco.tsv", "reml --loco: one row per left-out chromosome")
    predict = _model_file(".predict.tsv", "predict: one row per sample")
    snp_effects = _model_file(".snp_effects.tsv", "predict: SNP effects for plink2 --score")
    cv = _model_file(".cv.tsv", "predict --cv: accuracy per fold")
    shared = _model_file(".shared.snplist", "predict --bfile-new: the variants both files share")

    @property
    def assoc(self) -> str:
        return assoc_path(self.run, self.gzip)

    @property
    def assoc_meta(self) -> str:
        return meta_path(self.assoc)

    @property
    def grm(self) -> tuple:
        return (self.out + ".grm.bin", self.out + ".grm.N.bin", self.out + ".grm.id")

    @property
    def eigen(self) -> str:
        return eigen_path(self.out)


def plot_run(out: str) -> Outputs:
    """Where ``gwaslmm plot --out OUT`` keeps its log and timings: OUT.plot.log
    and OUT.plot.timings.json, so that plotting beside an assoc run keeps that
    run's OUT.log (its PNGs are :attr:`Outputs.manhattan` and :attr:`Outputs.qq`
    of ``Outputs(OUT)``)."""
    return Outputs(out + ".plot")
