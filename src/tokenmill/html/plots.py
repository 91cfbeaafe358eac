"""The data behind each picture (plain numpy, unit-tested) and its matplotlib drawing as inline SVG.

Why matplotlib to SVG: the pictures stay sharp at any zoom, text in them stays text, a plot
is 10-40 kB (a JS chart library inlined would add ~1 MB to every page), and the page needs
no script. matplotlib is imported on first use only (``pip install 'tokenmill[html]'``), so
importing tokenmill never pays for it.

>>> edges, counts = length_histogram(np.array([1, 1, 2, 5, 900]))
>>> int(counts.sum()), int(edges[0]), int(edges[-1])
(5, 1, 901)
>>> zipf_points(np.array([0, 5, 1, 9, 3]))
(array([1, 2, 3, 4]), array([9, 5, 3, 1]))
"""

from __future__ import annotations

import io
import re
from typing import Any

import numpy as np

_INSTALL_HINT = "the HTML pictures need matplotlib: pip install 'tokenmill[html]'"


def length_histogram(lengths: np.ndarray, *, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Document lengths binned on a log scale: integer ``edges`` (len n+1) and ``counts`` (len n).

    Bin ``i`` holds lengths ``edges[i] <= L < edges[i+1]``; a length 0 (possible with EOT
    policy "none") gets its own bin ``[0, 1)``. ``counts.sum() == len(lengths)``.
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size == 0:
        return np.array([0, 1], np.int64), np.zeros(1, np.int64)
    top, low = int(lengths.max()) + 1, int(lengths.min())
    edges = np.unique(np.round(np.geomspace(max(low, 1), max(top, low + 1, 2), bins + 1)).astype(np.int64))
    edges[-1] = max(int(edges[-1]), top)
    if low == 0:
        edges = np.concatenate([[0], edges])
    # Bin by searchsorted on integer edges: exact, and every length lands in one bin.
    counts = np.bincount(np.searchsorted(edges, lengths, side="right") - 1, minlength=len(edges) - 1)
    return edges, counts[: len(edges) - 1].astype(np.int64)


def zipf_points(counts: np.ndarray, *, max_points: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """(rank, frequency) of the tokens that occur, rank 1 the most frequent, thinned on a log scale.

    Every rank is kept while there are at most ``max_points``; beyond that, log-spaced ranks
    (always the first and the last), so the plot stays small for a 200k vocabulary.
    """
    freq = np.sort(np.asarray(counts, dtype=np.int64)[np.asarray(counts) > 0])[::-1]
    ranks = np.arange(1, len(freq) + 1)
    if len(freq) > max_points:
        keep = np.unique(np.round(np.geomspace(1, len(freq), max_points)).astype(np.int64))
        ranks, freq = keep, freq[keep - 1]
    return ranks, freq


def _pyplot() -> Any:
    try:
        import matplotlib
    except ImportError:
        raise ImportError(_INSTALL_HINT) from None
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


_RC = {
    "svg.fonttype": "none",  # text stays <text>: smaller, and searchable in the page
    "svg.hashsalt": "tokenmill",  # stable ids: the same data gives the same page
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
}


def svg(fig: Any) -> str:
    """A matplotlib figure as an inline ``<svg>`` element (no XML prolog), then closed.

    Margins are set by each figure (``subplots_adjust``), not ``bbox_inches="tight"``,
    which draws the figure twice.
    """
    plt = _pyplot()
    buf = io.StringIO()
    with plt.rc_context(_RC):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg") :]
    # Drop the comment and RDF metadata matplotlib writes: they name its version and nothing else.
    return re.sub(r"<!--.*?-->|<metadata>.*?</metadata>", "", text, flags=re.S)


def histogram_svg(edges: np.ndarray, counts: np.ndarray) -> str:
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 3.2))
        left = np.maximum(edges[:-1], 0.8)  # a [0, 1) bin is drawn from 0.8 on the log axis
        ax.bar(left, counts, width=edges[1:] - left, align="edge", color="#4c8bd6", edgecolor="white", lw=0.4)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_ylim(bottom=0.5)  # a bin of one document still shows as a bar
        ax.set_xlabel("document length (tokens, separator included; log scale)")
        ax.set_ylabel("documents (log scale)")
        return svg(_plain_minor(fig, ax))


def zipf_svg(ranks: np.ndarray, freq: np.ndarray) -> str:
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, ax = plt.subplots(figsize=(7.5, 3.2))
        ax.loglog(ranks, freq, ".", ms=3, color="#d9822b", label="tokens of this store")
        if len(freq):
            ax.loglog(ranks, freq[0] / ranks, "--", lw=1, color="#555", label="Zipf: f(1) / rank")
        ax.set_xlabel("rank (1 = most frequent token)")
        ax.set_ylabel("occurrences")
        ax.legend(frameon=False)
        return svg(_plain_minor(fig, ax))


def _plain_minor(fig: Any, ax: Any) -> Any:
    """Unlabelled minor ticks on log axes (labels there are clutter, and slow to lay out)."""
    from matplotlib.ticker import NullFormatter

    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_minor_formatter(NullFormatter())
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.96)
    return fig


def heatmaps_svg(tables: list[tuple[str, np.ndarray]]) -> str:
    """Side-by-side heatmaps of (positions, dims) tables, one colour bar each."""
    plt = _pyplot()
    with plt.rc_context(_RC | {"axes.grid": False}):
        fig, axes = plt.subplots(1, len(tables), figsize=(5.2 * len(tables), 3.6))
        for ax, (title, data) in zip(np.atleast_1d(axes), tables):
            lim = float(np.abs(data).max()) or 1.0
            im = ax.imshow(data, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, interpolation="nearest")
            ax.set_title(title)
            ax.set_xlabel("embedding dimension")
            ax.set_ylabel("position")
            if len(data) <= 16:  # a few positions: one integer tick each
                ax.set_yticks(range(len(data)))
            fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
        fig.tight_layout()
        return svg(fig)


def rope_svg(pairs: list[tuple[str, np.ndarray]], scores: list[tuple[str, np.ndarray]]) -> str:
    """One panel per dimension pair (the same 2-D vector turned at positions 0, 1, 2, ...), then
    a panel of attention scores against distance, one line per absolute start."""
    plt = _pyplot()
    with plt.rc_context(_RC):
        fig, axes = plt.subplots(1, len(pairs) + 1, figsize=(3.7 * (len(pairs) + 1), 3.7))
        last = axes[-1]
        for (label, values), style in zip(scores, ("-o", "--s", ":^")):  # styles: the lines coincide
            last.plot(np.arange(len(values)), values, style, ms=4, mfc="none", label=label)
        last.set_xlabel("distance m - n (positions)")
        last.set_title("q·k after RoPE", fontsize=10)
        last.legend(frameon=False, fontsize=8)
        for ax, (title, xy) in zip(axes[:-1], pairs):
            colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(xy)))
            r = float(np.hypot(xy[:, 0], xy[:, 1]).max()) * 1.18 or 1.0
            ax.add_patch(plt.Circle((0, 0), r / 1.18, fill=False, ls=":", color="#999"))
            for pos, ((x, y), c) in enumerate(zip(xy, colours)):
                ax.annotate("", (x, y), (0, 0), arrowprops={"arrowstyle": "-|>", "color": c, "lw": 1.4})
                ax.text(x * 1.1, y * 1.1, str(pos), color=c, fontsize=8, ha="center", va="center")
            ax.set_xlim(-r, r)
            ax.set_ylim(-r, r)
            ax.set_aspect("equal")
            ax.set_title(title, fontsize=10)
        fig.tight_layout()
        return svg(fig)
