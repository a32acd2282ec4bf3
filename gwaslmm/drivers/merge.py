"""``gwaslmm merge``: join the chunk files of a split ``assoc`` run.

Checks that every chunk K = 1..N is present once, that all come from the
same null model and settings (their metadata), and that their variant
ranges do not overlap; then writes exactly the file a single run writes,
its metadata with lambda_GC over all rows.
"""

from __future__ import annotations

import glob
import os
import shutil

import numpy as np

from ..errors import InputError, UsageError
from ..paths import ASSOC_SUFFIX, Outputs, meta_path
from ..results import read_table
from ..scan.pvalues import lambda_gc
from ..writers import TMP_TAG, TableWriter, atomic_file, read_meta_yaml, write_meta_yaml

SAME = ("null_model", "test", "sample_size", "phenotype", "covariates", "loco", "run_settings")


def _expand(files) -> list:
    """The chunk files named, a glob standing for the result files it matches
    (not the chunks' logs, metadata or unfinished temporary files)."""
    out = []
    for f in files:
        if any(ch in f for ch in "*?["):
            hits = [h for h in sorted(glob.glob(f))
                    if h.endswith((ASSOC_SUFFIX, ASSOC_SUFFIX + ".gz"))
                    and TMP_TAG not in os.path.basename(h)]
            if not hits:
                raise InputError(f"merge: '{f}' matches no result file (names ending in "
                                 f"{ASSOC_SUFFIX} or {ASSOC_SUFFIX}.gz)")
            out += hits
        else:
            out.append(f)
    return out


def _meta(f: str) -> dict:
    """A chunk's metadata, checked for the keys merge needs; a malformed file
    is a one-line data error."""
    meta_file = meta_path(f)
    if not os.path.exists(f) or not os.path.exists(meta_file):
        raise InputError(f"merge: {f} or its metadata {meta_file} is missing")
    try:
        meta = read_meta_yaml(meta_file)
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"merge: cannot read {meta_file} ({exc})") from None
    if "chunk" not in meta:
        raise InputError(f"merge: {f} is not a chunk file (no 'chunk' in its metadata)")
    try:
        k, n = (int(x) for x in str(meta["chunk"]).split("/"))
        lo, hi = (int(x) for x in str(meta["chunk_bim_rows"]).split("-"))
        rows = int(meta["variants"])
        if not (1 <= k <= n and 0 <= lo <= hi and rows >= 0):
            raise ValueError("out of range")
    except (KeyError, ValueError) as exc:
        raise InputError(f"merge: {meta_file} is malformed (chunk {meta.get('chunk')!r}, "
                         f"chunk_bim_rows {meta.get('chunk_bim_rows')!r}, variants "
                         f"{meta.get('variants')!r}: {exc})") from None
    meta["_k"], meta["_n"], meta["_rows"], meta["_range"] = k, n, rows, (lo, hi)
    return meta


def _chunks(files) -> tuple:
    chunks, ref = {}, None
    for f in files:
        meta = _meta(f)
        k, n = meta["_k"], meta["_n"]
        if k in chunks:
            raise InputError(f"merge: chunk {k}/{n} given twice ({chunks[k][0]} and {f})")
        sig = {key: meta.get(key) for key in SAME}
        sig["n_chunks"] = n
        if ref is None:
            ref = (f, sig)
        elif sig != ref[1]:
            diff = [key for key in sig if sig[key] != ref[1][key]]
            raise InputError(f"merge: {f} does not match {ref[0]} ({', '.join(diff)} differ): "
                             f"chunks must come from the same null model and settings")
        chunks[k] = (f, meta)
    n = ref[1]["n_chunks"]
    missing = [k for k in range(1, n + 1) if k not in chunks]
    if missing:
        raise InputError(f"merge: {len(missing)} of {n} chunks missing (first: {missing[0]}/{n})")
    return chunks, n


def run_merge(opts, log) -> str:
    """Concatenate chunk files K = 1..N in order after checking they belong together."""
    if opts.bgzip and opts.no_gzip:
        raise UsageError("--bgzip writes a compressed file; drop --no-gzip")
    files = _expand(opts.files)
    if not files:
        raise InputError("merge: no chunk files given")
    chunks, n = _chunks(files)
    out = Outputs(opts.out, gzip=not opts.no_gzip)
    path = out.assoc
    inputs = {os.path.realpath(f) for f, _ in chunks.values()}
    inputs |= {os.path.realpath(meta_path(f)) for f in list(inputs)}
    for p in (path, out.assoc_meta, out.samples):
        if os.path.realpath(p) in inputs or any(os.path.realpath(p) == os.path.realpath(
                os.path.join(os.path.dirname(f), m.get("analysed_samples", "")))
                for f, m in chunks.values()):
            raise UsageError(f"merge: --out {opts.out} would overwrite its input {p}; choose "
                             f"another --out")
    header = None
    writer = None
    total = 0
    seen_last = -1
    nl = []
    try:
        for k in range(1, n + 1):
            f, meta = chunks[k]
            lo, hi = meta["_range"]
            if lo < seen_last:
                raise InputError(f"merge: chunk {k} overlaps the previous one")
            seen_last = hi
            try:
                h, lines = read_table(f)
            except InputError as exc:
                raise InputError(f"merge: {exc}") from None
            if header is None:
                header = h
                writer = TableWriter(path, header)
                j = header.index("neg_log_10_p_value")
            elif h != header:
                raise InputError(f"merge: {f} has other columns than chunk 1")
            if len(lines) != meta["_rows"]:
                raise InputError(f"merge: {f} has {len(lines)} rows but its metadata says "
                                 f"{meta['_rows']}; is the chunk complete?")
            writer.write_lines([ln + "\n" for ln in lines])
            total += len(lines)
            col = np.array([ln.split("\t")[j] for ln in lines], dtype=object)
            nl.append(np.where(col == "NA", "nan", col).astype(np.float64))
        writer.finish(expected_rows=total)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    meta = {k: v for k, v in chunks[1][1].items() if not k.startswith("_")}
    meta.pop("chunk", None)
    meta.pop("chunk_bim_rows", None)
    meta["data_file_name"] = os.path.basename(path)
    meta["variants"] = total
    y = np.concatenate(nl) if nl else np.zeros(0)
    y = y[~np.isnan(y)]
    meta["lambda_gc"] = round(lambda_gc(y), 4) if y.size else float("nan")
    samples = chunks[1][0]
    samples = os.path.join(os.path.dirname(samples), meta.get("analysed_samples", ""))
    if meta.get("analysed_samples") and os.path.isfile(samples):
        with atomic_file(out.samples) as fh, open(samples, "rb") as src:
            shutil.copyfileobj(src, fh)
        meta["analysed_samples"] = os.path.basename(out.samples)
        log.write(f"wrote {out.samples} (the analysed samples of chunk 1, the same in every chunk)")
    if opts.bgzip:
        from ..bgzf import bgzip_and_index

        _, tbi = bgzip_and_index(path)
        log.write(f"wrote {path} as BGZF with its tabix index {tbi} (tabix {path} 1:1-1000000)")
    write_meta_yaml(out.assoc_meta, meta)
    log.write(f"merged {n} chunks, {total} variants, into {path}; lambda_GC {meta['lambda_gc']}")
    return path
