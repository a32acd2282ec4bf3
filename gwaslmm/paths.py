"""Every output path, derived in one place from ``--out`` (and ``--chunk``).

Workflow rules (Snakemake, Nextflow) can declare a command's outputs with
these functions instead of repeating the naming rules.  A ``--chunk K/N`` run
writes its per-run files (results, metadata, log, timings, sample list,
plots) under ``OUT.chunkKofN``; what describes the model rather than the run
(``--save-eigen``) stays under ``OUT``.
"""

from __future__ import annotations

from dataclasses import dataclass

ASSOC_SUFFIX = ".assoc.tsv"
META_SUFFIX = "-meta.yaml"


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


@dataclass(frozen=True)
class Outputs:
    """The files of one run of a command with ``--out OUT`` (and ``--chunk``)."""

    out: str
    chunk: tuple | None = None  # (k, n)
    gzip: bool = True

    @property
    def run(self) -> str:
        return self.out if self.chunk is None else chunk_prefix(self.out, *self.chunk)

    @property
    def log(self) -> str:
        return self.run + ".log"

    @property
    def timings(self) -> str:
        return self.run + ".timings.json"

    @property
    def samples(self) -> str:
        """The analysed samples, ``#FID IID`` (readable by --keep)."""
        return self.run + ".samples.tsv"

    @property
    def assoc(self) -> str:
        return assoc_path(self.run, self.gzip)

    @property
    def assoc_meta(self) -> str:
        return meta_path(self.assoc)

    @property
    def manhattan(self) -> str:
        return self.run + ".manhattan.png"

    @property
    def qq(self) -> str:
        return self.run + ".qq.png"

    @property
    def plot_log(self) -> str:
        return self.run + ".plot.log"

    @property
    def grm(self) -> tuple:
        return (self.out + ".grm.bin", self.out + ".grm.N.bin", self.out + ".grm.id")

    @property
    def reml(self) -> str:
        return self.out + ".reml.tsv"

    @property
    def reml_fixed(self) -> str:
        return self.out + ".reml.fixed.tsv"

    @property
    def reml_loco(self) -> str:
        return self.out + ".reml.loco.tsv"

    @property
    def eigen(self) -> str:
        return eigen_path(self.out)
