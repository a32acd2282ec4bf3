"""Manhattan and QQ plots: from a result file (``gwaslmm plot``) or from the
values a scan already holds (``assoc --plot``).

Reading is :mod:`.assoc_reader`, the thinned Manhattan data :mod:`.thinning`,
the QQ data :mod:`.qq`, the drawing :mod:`.render`.  The title names the
phenotype: given, or read from the ``-meta.yaml`` beside a gwaslmm result
file, else the file's name.
"""

from __future__ import annotations

import os
import time

import numpy as np

from ..errors import UsageError
from ..paths import Outputs, meta_path
from .assoc_reader import CHUNK_BYTES, read_assoc_points
from .qq import qq_data
from .render import render_manhattan, render_qq
from .thinning import Y_BIN, ManhattanData


def check_label_top(label_top) -> int:
    if isinstance(label_top, bool) or not isinstance(label_top, (int, np.integer)) \
            or label_top < 0:
        raise UsageError(f"--label-top must be a non-negative integer (got {label_top!r})")
    return int(label_top)


def default_title(path: str) -> str:
    """The phenotype named in the ``-meta.yaml`` beside a gwaslmm result file,
    else the file's name."""
    meta = meta_path(path)
    if os.path.exists(meta):
        from ..writers import read_meta_yaml

        try:
            pheno = read_meta_yaml(meta).get("phenotype")
        except (OSError, UnicodeDecodeError):
            pheno = None
        if isinstance(pheno, str) and pheno:
            return pheno
    return os.path.basename(path)


def draw(man: ManhattanData, neglog10p: np.ndarray, out_prefix: str, title: str,
         log=None) -> dict:
    """Write OUT.manhattan.png and OUT.qq.png from thinned Manhattan data and
    every -log10 p (float32 or float64, sorted in place).  Returns paths and counts."""
    t1 = time.perf_counter()
    qq = qq_data(neglog10p, overwrite_input=True)
    t_qq = time.perf_counter() - t1
    t2 = time.perf_counter()
    out = Outputs(out_prefix)
    man_path = render_manhattan(man, out.manhattan, title=title)
    qq_path = render_qq(qq, out.qq, title=title)
    t_draw = time.perf_counter() - t2
    if log is not None:
        log.write(f"Manhattan: {man.n_plotted} of {man.n_snps} points drawn ({man.n_full} with "
                  f"p <= 0.01 kept exactly, {man.n_binned} bin representatives of the rest, "
                  f"x bin {man.x_bin_bp} bp, y bin {Y_BIN}); {len(man.chromosomes)} chromosomes")
        if man.n_unplaced:
            log.write(f"  {man.n_unplaced} variants without a position (base_pair_location <= 0)"
                      f" are not drawn in the Manhattan plot")
        for h in man.top_hits:
            log.write(f"  top hit {h.variant_id} chr{h.chromosome}:{h.position} "
                      f"-log10 p {h.neglog10p:.3f}")
        log.write(f"QQ: {qq.expected.size} of {qq.n} points drawn; lambda_GC = {qq.lambda_gc:.4f}")
        log.write(f"wrote {man_path} and {qq_path}")
        log.stage("qq", t_qq)
        log.stage("draw", t_draw)
    return {"manhattan": man_path, "qq": qq_path, "lambda_gc": qq.lambda_gc, "n_snps": qq.n,
            "n_plotted": man.n_plotted, "n_qq_plotted": int(qq.expected.size),
            "n_unplaced": man.n_unplaced}


def plot_assoc(path: str, out_prefix: str, label_top: int = 5, log=None,
               chunk_bytes: int = CHUNK_BYTES, title: str | None = None) -> dict:
    """Read an association file and write ``out_prefix.manhattan.png`` and ``.qq.png``.

    Returns {'manhattan', 'qq': paths, 'lambda_gc', 'n_snps', 'n_plotted'
    (Manhattan points drawn), 'n_qq_plotted', 'n_unplaced', 'n_rows', 'n_missing',
    'seconds'}.
    """
    label_top = check_label_top(label_top)
    if chunk_bytes < 1:
        raise UsageError(f"chunk_bytes must be positive (got {chunk_bytes})")
    t0 = time.perf_counter()
    pts = read_assoc_points(path, label_top=label_top, chunk_bytes=chunk_bytes, log=log)
    if log is not None:
        log.stage("read", time.perf_counter() - t0)
    man, y = pts.manhattan, pts.neglog10p
    n_rows, n_missing = pts.n_rows, pts.n_missing
    del pts
    res = draw(man, y, out_prefix, title if title is not None else default_title(path), log)
    res.update(n_rows=n_rows, n_missing=n_missing, seconds=time.perf_counter() - t0)
    return res
