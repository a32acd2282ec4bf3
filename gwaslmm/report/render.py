"""Drawing the Manhattan and QQ plots (matplotlib's Agg canvas).

Rendering uses matplotlib through the object-oriented API
(``matplotlib.figure.Figure`` + ``FigureCanvasAgg``), imported lazily: no
pyplot, no global backend switch, nothing shown on screen.  Manhattan
12 x 5 in and QQ 6 x 6 in, both at 100 dpi (1200 x 500 and 600 x 600 px).
PNGs are written atomically.
"""

from __future__ import annotations

import math

from ..writers import atomic_file
from .qq import QQData
from .thinning import GENOME_WIDE_P, SUGGESTIVE_P, ManhattanData

MANHATTAN_SIZE_IN = (12.0, 5.0)
QQ_SIZE_IN = (6.0, 6.0)
DPI = 100
COLORS = ("#1f4e89", "#74a9dc")  # alternating chromosome colours
GW_COLOR = "#c0392b"
SUGG_COLOR = "#808080"


def _new_figure(size_in):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=size_in, dpi=DPI)
    FigureCanvasAgg(fig)
    return fig


def _save_png(fig, path: str) -> str:
    """Write ``fig`` to ``path`` atomically (:mod:`gwaslmm.writers`)."""
    with atomic_file(path) as fh:
        fig.savefig(fh, dpi=DPI, format="png")
    return path


def _spread_labels(fig, ax, texts) -> None:
    """Move overlapping labels up (in display space) until none overlap."""
    if len(texts) < 2:
        return
    renderer = fig.canvas.get_renderer()
    for _ in range(len(texts) * 3):
        moved = False
        boxes = [t.get_window_extent(renderer) for t in texts]
        for a in range(len(texts)):
            for b in range(a):
                if boxes[a].overlaps(boxes[b]):
                    x, y = texts[a].get_position()
                    texts[a].set_position((x, y + boxes[a].height + 2))
                    moved = True
                    boxes[a] = texts[a].get_window_extent(renderer)
        if not moved:
            break


def render_manhattan(data: ManhattanData, path: str, title: str | None = None) -> str:
    """Draw the Manhattan plot (1200 x 500 px PNG) to ``path`` atomically."""
    fig = _new_figure(MANHATTAN_SIZE_IN)
    ax = fig.add_axes((0.06, 0.11, 0.925, 0.80))
    nchr = len(data.chromosomes)
    for parity in (0, 1):
        sel = (data.chrom_index % 2) == parity
        if sel.any():
            ax.plot(data.x[sel], data.y[sel], ls="none", marker="o", ms=2.4, mew=0,
                    color=COLORS[parity])
    gw, sg = -math.log10(GENOME_WIDE_P), -math.log10(SUGGESTIVE_P)
    lines = [ax.axhline(gw, color=GW_COLOR, lw=1.0, ls="--", label="genome-wide (p = 5e-8)"),
             ax.axhline(sg, color=SUGG_COLOR, lw=0.9, ls=":", label="suggestive (p = 1e-5)")]
    ymax = max(float(data.y.max()) if data.y.size else 0.0, gw)
    ax.set_ylim(0, ymax * 1.12 + 0.3)
    pad = 0.005 * max(data.genome_width, 1.0)
    ax.set_xlim(-pad, data.genome_width + pad)
    ax.set_xticks(data.ticks)
    fs = 9 if nchr <= 26 else (7 if nchr <= 40 else 5)
    ax.set_xticklabels(data.chromosomes, fontsize=fs,
                       rotation=0 if nchr <= 26 else 90)
    if nchr > 26:
        ax.tick_params(axis="x", length=2)
    ax.set_xlabel("Chromosome", fontsize=10)
    ax.set_ylabel(r"$-\log_{10}(p)$", fontsize=10)
    ax.tick_params(axis="y", labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    texts = []
    for h in data.top_hits:
        ax.plot([h.x], [h.neglog10p], ls="none", marker="o", ms=5, mfc="none",
                mec="#222222", mew=0.8)
        frac = (h.x + pad) / (data.genome_width + 2 * pad) if data.genome_width else 0.5
        ha = "left" if frac < 0.06 else ("right" if frac > 0.94 else "center")
        dx = {"left": -4, "right": 4, "center": 0}[ha]
        texts.append(ax.annotate(h.variant_id, xy=(h.x, h.neglog10p), xytext=(dx, 6),
                                 textcoords="offset points", ha=ha, va="bottom",
                                 fontsize=8, color="#222222", annotation_clip=False))
    if texts:
        _spread_labels(fig, ax, texts)
    fig.legend(handles=lines, loc="upper right", bbox_to_anchor=(0.985, 0.995), fontsize=8, frameon=False,
               ncol=2)
    head = title if title is not None else "Manhattan plot"
    note = f"{data.n_snps:,} SNPs"
    if data.n_infinite:
        note += f"; {data.n_infinite:,} with p = 0 not shown"
    if data.n_unplaced:
        note += f"; {data.n_unplaced:,} without a position not shown"
    ax.set_title(f"{head}  ({note})", fontsize=11, loc="left")
    return _save_png(fig, path)


def render_qq(data: QQData, path: str, title: str | None = None) -> str:
    """Draw the QQ plot (600 x 600 px PNG) with its 95% band to ``path`` atomically."""
    fig = _new_figure(QQ_SIZE_IN)
    ax = fig.add_axes((0.13, 0.11, 0.82, 0.80))
    ax.fill_between(data.band_expected, data.band_lower, data.band_upper, color="#d9d9d9",
                    lw=0, label="95% band")
    emax = float(data.band_expected.max()) if data.band_expected.size else 1.0
    ax.plot([0, emax], [0, emax], color="#c0392b", lw=1.0)
    ax.plot(data.expected, data.observed, ls="none", marker="o", ms=3, mew=0,
            color=COLORS[0])
    omax = float(data.observed.max()) if data.observed.size else 1.0
    ax.set_xlim(0, emax * 1.04)
    ax.set_ylim(0, max(omax, float(data.band_upper.max()), emax) * 1.06)
    ax.set_xlabel(r"Expected $-\log_{10}(p)$", fontsize=10)
    ax.set_ylabel(r"Observed $-\log_{10}(p)$", fontsize=10)
    ax.tick_params(labelsize=9)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    head = title + "\n" if title else ""
    extra = f", {data.n_infinite:,} with p = 0 not shown" if data.n_infinite else ""
    ax.set_title(f"{head}$\\lambda_{{GC}}$ = {data.lambda_gc:.3f}   "
                 f"(N = {data.n:,} SNPs{extra})", fontsize=10)
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return _save_png(fig, path)
