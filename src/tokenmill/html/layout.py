"""The report's "Windows" section: layout figures at one ``max_length`` and a packed row by document."""

from __future__ import annotations

from typing import Any

import numpy as np

from tokenmill.html.page import esc, section, table
from tokenmill.html.tokens import visible
from tokenmill.loader.layouts import document_layout, store_layout_figures

__all__ = ["layout_section", "packed_row"]


def packed_row(offsets: np.ndarray, max_length: int) -> list[tuple[int, int]]:
    """``(start, length)`` of each piece of the packed row holding the most documents (the first such).

    >>> packed_row(np.array([0, 2, 7, 8]), 4)
    [(0, 2), (7, 1)]
    >>> packed_row(np.array([0, 2, 4, 9]), 4)
    [(0, 2), (2, 2)]
    """
    lay = document_layout(offsets, windows="packed", max_length=max_length, stride=max_length)
    if not lay.n_rows:
        return []
    r = int(np.argmax(np.diff(lay.row_ptr)))
    a, b = int(lay.row_ptr[r]), int(lay.row_ptr[r + 1])
    return list(zip(lay.start[a:b].tolist(), lay.length[a:b].tolist()))


def layout_section(store: Any, max_length: int, split: str = "train") -> str:
    """Figures per split, then one packed row of ``split`` with each document in its own colour."""
    figures = store_layout_figures(store, max_length)
    rows = [
        [s, f["sliding_windows"], f["documents_windows"], f"{f['documents_padding']:.2%}", f["packed_windows"],
         f"{f['packed_padding']:.2%}", f["cut_documents"], f"{f['crop_to_fit_dropped_share']:.2%}"]
        for s, f in figures.items()
    ]
    header = ["split", "sliding", "documents", "padding", "packed", "padding", "documents cut", "crop-to-fit drops"]
    parts = [table(header, rows, numeric=range(1, 8))]
    if split in store.splits and store.num_documents(split):
        pieces = packed_row(store.document_offsets(split), max_length)
        spans, used = [], 0
        tokens = store[split]
        for k, (start, length) in enumerate(pieces):
            ids = np.asarray(tokens[start : start + length]).tolist()
            try:
                text = store.tokenizer.decode(ids)
            except (ValueError, OSError, ImportError, KeyError):  # no vocabulary: the IDs themselves
                text = " ".join(map(str, ids))
            spans.append(f'<span class="t t{k % 4}" title="document {k} of the row: {length} tokens">'
                         f"{visible(text)}</span>")
            used += length
        pad = max_length + 1 - used
        if pad > 0:
            spans.append(f'<span class="t special" title="padding">[{pad} padding]</span>')
        parts.append(
            f'<p class="note">One packed row of {esc(split)} ({max_length} inputs + 1 target slot), '
            f"each document in its own colour: attention and positions restart at each colour.</p>"
            f'<div class="toks">{"".join(spans)}</div>'
        )
    return section(f"Windows at max_length {max_length}", *parts, anchor="windows")
