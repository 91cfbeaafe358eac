"""Where each window's tokens come from when documents stay apart: ``document_layout``.

A layout is a table of *pieces*: runs of tokens ``[start, start + length)`` of one document,
each placed in a row of ``max_length + 1`` token slots at ``offset`` (the last slot is only a
target). ``"documents"`` puts one piece in each row; ``"packed"`` packs pieces into rows by
best-fit decreasing. Everything is numpy arrays of O(documents) size (no Python object per
document) and a pure function of the document offsets and the options, so every rank, worker
and resumed run computes the same table. numpy only: no torch here.

Packing rule (``PACKING_VERSION`` 1): pieces are taken longest first, equal lengths in document
order; each goes into the row with the least free space that holds it; among rows with equal
free space, the one that has had it longest (its last piece placed earliest); if none holds it,
a new row is opened. ``pack_reference`` is that rule written out one piece at a time, the oracle
of the fast ``pack`` (which places all pieces of one length per step).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "LAYOUTS",
    "PACKING_VERSION",
    "Layout",
    "crop_to_fit_dropped",
    "document_layout",
    "document_pieces",
    "layout_figures",
    "pack",
    "pack_reference",
    "store_layout_figures",
]

LAYOUTS = ("sliding", "documents", "packed")
PACKING_VERSION = 1  # bump whenever pieces, the packing rule or its tie-breaks change


@dataclass(frozen=True)
class Layout:
    """Pieces sorted by (row, offset); the pieces of row ``r`` are ``row_ptr[r]:row_ptr[r+1]``."""

    start: np.ndarray  # int64 (pieces,): global token position of each piece's first token
    length: np.ndarray  # int64 (pieces,): tokens in the piece, 1..max_length + 1
    offset: np.ndarray  # int64 (pieces,): slot of the piece's first token in its row
    row_ptr: np.ndarray  # int64 (rows + 1,): CSR pointers into the piece arrays
    cut_documents: int  # documents longer than a row, so split over several pieces

    @property
    def n_rows(self) -> int:
        return len(self.row_ptr) - 1


def document_pieces(offsets: np.ndarray, max_length: int, stride: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(starts, lengths, cut)``: each document cut into pieces of at most ``max_length + 1`` tokens.

    A document of ``L <= max_length + 1`` tokens is one piece; a longer one has pieces starting
    every ``stride`` tokens inside it until one reaches its end (with ``stride == max_length`` each piece's
    last token is the next piece's first, so no next-token pair is lost). Empty documents give
    no piece. ``cut`` counts the documents longer than a row (cut, or cropped by a stride > max_length).

    >>> starts, lengths, cut = document_pieces(np.array([0, 3, 10]), 3, 3)
    >>> starts.tolist(), lengths.tolist(), cut
    ([0, 3, 6], [3, 4, 4], 1)
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    span = max_length + 1
    first, sizes = offsets[:-1], np.diff(offsets)  # (documents,)
    extra = np.maximum(sizes - span, 0)
    # more pieces until one reaches the end, but none starting past it (stride > max_length skips)
    more = np.minimum((extra + stride - 1) // stride, np.maximum(sizes - 1, 0) // stride)
    count = np.where(sizes > span, 1 + more, (sizes > 0).astype(np.int64))
    total = int(count.sum())
    doc = np.repeat(np.arange(len(sizes), dtype=np.int64), count)  # (pieces,)
    base = np.cumsum(count) - count  # index of each document's first piece
    k = np.arange(total, dtype=np.int64) - np.repeat(base, count)  # piece number inside its document
    starts = first[doc] + k * stride
    lengths = np.minimum(span, sizes[doc] - k * stride)
    return starts, lengths, int((sizes > span).sum())


def pack(lengths: np.ndarray, capacity: int) -> tuple[np.ndarray, np.ndarray, int]:
    """``(row, offset, n_rows)`` of each item under best-fit decreasing (rule in the module doc).

    Pitfall: an item longer than ``capacity`` is refused (cut documents into pieces first).

    >>> row, offset, n = pack(np.array([2, 3, 1, 4]), 5)
    >>> row.tolist(), offset.tolist(), n
    ([1, 1, 0, 0], [3, 0, 4, 0], 2)
    """
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and (lengths.min() < 1 or lengths.max() > capacity):
        raise ValueError(f"pack: item lengths must be 1..{capacity}, got {lengths.min()}..{lengths.max()}")
    order = np.argsort(-lengths, kind="stable")  # longest first, ties in item order
    ordered = lengths[order]
    row_of = np.empty(len(lengths), np.int64)
    offset_of = np.empty(len(lengths), np.int64)
    # free space -> FIFO of row-id chunks (rows that reached that free space earliest first)
    buckets: dict[int, list[np.ndarray]] = {}
    n_rows = 0
    cuts = np.flatnonzero(ordered[1:] != ordered[:-1]) + 1
    for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(ordered)]) if len(ordered) else ():
        size, pos, left = int(ordered[a]), a, b - a
        for free in sorted(f for f in buckets if f >= size):
            rows = np.concatenate(buckets.pop(free))
            per = free // size
            used = min(len(rows), -(-left // per))
            if used < len(rows):
                buckets[free] = [rows[used:]]
            pos, left = _fill(rows[:used], per, free, size, capacity, order, pos, left,
                              row_of, offset_of, buckets)
            if not left:
                break
        if left:
            per = capacity // size
            new = np.arange(n_rows, n_rows + -(-left // per), dtype=np.int64)
            n_rows += len(new)
            pos, left = _fill(new, per, capacity, size, capacity, order, pos, left,
                              row_of, offset_of, buckets)
    return row_of, offset_of, n_rows


def _fill(
    rows: np.ndarray, per: int, free: int, size: int, capacity: int, order: np.ndarray, pos: int,
    left: int, row_of: np.ndarray, offset_of: np.ndarray, buckets: dict[int, list[np.ndarray]],
) -> tuple[int, int]:
    """Put ``per`` items of ``size`` into each of ``rows`` (free space ``free``), the last row fewer."""
    counts = np.full(len(rows), per, np.int64)
    take = min(left, per * len(rows))
    counts[-1] = take - per * (len(rows) - 1)
    items = order[pos : pos + take]
    row_of[items] = np.repeat(rows, counts)
    within = np.arange(take, dtype=np.int64) - np.repeat(np.cumsum(counts) - counts, counts)
    offset_of[items] = (capacity - free) + within * size
    rest = free - counts * size  # each row's free space now
    # Arrival order: the rows in the order they were filled (the last one possibly less full).
    for value, chunk in ((int(rest[0]), rows[:-1]), (int(rest[-1]), rows[-1:])):
        if chunk.size and value > 0:
            buckets.setdefault(value, []).append(chunk)
    return pos + take, left - take


def pack_reference(lengths: list[int], capacity: int) -> tuple[list[int], list[int], int]:
    """The packing rule, one item at a time over every row: the oracle of :func:`pack`.

    >>> pack_reference([2, 3, 1, 4], 5)
    ([1, 1, 0, 0], [3, 0, 4, 0], 2)
    """
    free: list[int] = []
    changed: list[int] = []  # when each row's free space last changed
    row_of, offset_of = [0] * len(lengths), [0] * len(lengths)
    for clock, i in enumerate(sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))):
        fits = [r for r in range(len(free)) if free[r] >= lengths[i]]
        if fits:
            best = min(fits, key=lambda r: (free[r], changed[r]))
        else:
            free.append(capacity)
            changed.append(clock)
            best = len(free) - 1
        row_of[i], offset_of[i] = best, capacity - free[best]
        free[best] -= lengths[i]
        changed[best] = clock
    return row_of, offset_of, len(free)


def document_layout(offsets: np.ndarray, *, windows: str, max_length: int, stride: int) -> Layout:
    """The pieces of ``"documents"`` (one per row) or ``"packed"`` (best-fit decreasing) windows.

    >>> lay = document_layout(np.array([0, 2, 7, 8]), windows="packed", max_length=4, stride=4)
    >>> lay.n_rows, lay.start.tolist(), lay.offset.tolist()
    (2, [2, 0, 7], [0, 0, 2])
    """
    starts, lengths, cut = document_pieces(offsets, max_length, stride)
    if windows == "documents":
        rows = np.arange(len(starts) + 1, dtype=np.int64)
        return Layout(starts, lengths, np.zeros(len(starts), np.int64), rows, cut)
    row, offset, n_rows = pack(lengths, max_length + 1)
    order = np.lexsort((offset, row))
    row_ptr = np.zeros(n_rows + 1, np.int64)
    np.cumsum(np.bincount(row, minlength=n_rows), out=row_ptr[1:])
    return Layout(starts[order], lengths[order], offset[order], row_ptr, cut)


def crop_to_fit_dropped(offsets: np.ndarray, max_length: int) -> int:
    """Tokens a BOS-aligned crop-to-fit loader drops: every token past a row's end, per document.

    The model: each row starts at a document's start and holds one document of at most
    ``max_length + 1`` tokens; the rest of a longer document is cropped (a lower bound on what
    nanochat's best-fit loader crops, which also crops to fill a row's remainder).

    >>> crop_to_fit_dropped(np.array([0, 3, 10]), 3)
    3
    """
    sizes = np.diff(np.asarray(offsets, dtype=np.int64))
    return int(np.maximum(sizes - (max_length + 1), 0).sum())


def layout_figures(offsets: np.ndarray, max_length: int) -> dict[str, int | float]:
    """What each layout makes of documents at ``max_length`` (stride ``max_length``): rows, padding.

    ``*_padding`` is the share of input positions that are padding.

    >>> layout_figures(np.array([0, 3, 10]), 3)["packed_windows"]
    3
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n_tokens = int(offsets[-1]) if len(offsets) else 0
    out: dict[str, int | float] = {
        "max_length": max_length,
        "sliding_windows": len(range(0, n_tokens - max_length, max_length)),
    }
    for name in ("documents", "packed"):
        lay = document_layout(offsets, windows=name, max_length=max_length, stride=max_length)
        filled = np.add.reduceat(lay.length, lay.row_ptr[:-1]) if len(lay.length) else np.zeros(0, np.int64)
        real = int(np.minimum(filled, max_length).sum())  # the last slot is a target only
        slots = lay.n_rows * max_length
        out[f"{name}_windows"] = lay.n_rows
        out[f"{name}_padding"] = (slots - real) / slots if slots else 0.0
        out["cut_documents"] = lay.cut_documents
    out["crop_to_fit_dropped"] = crop_to_fit_dropped(offsets, max_length)
    out["crop_to_fit_dropped_share"] = out["crop_to_fit_dropped"] / n_tokens if n_tokens else 0.0
    return out


def store_layout_figures(store: Any, max_length: int, splits: list[str] | None = None) -> dict[str, dict[str, Any]]:
    """:func:`layout_figures` of each split of a token store (``tokenmill stats --max-length``)."""
    names = list(store.splits) if splits is None else splits
    return {s: layout_figures(store.document_offsets(s), max_length) for s in names}
