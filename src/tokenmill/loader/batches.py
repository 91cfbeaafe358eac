"""Dict batches' batch-level fields: ``finish_batch`` adds ``cu_seqlens``, ``max_seqlen``, ``num_items_in_batch``.

Per-row fields (``input_ids``, ``labels``, ``position_ids``, ``document_ids``) are made by the
datasets; the fields below span the whole batch, so they are computed once the rows are
together (a mixture assembles its rows from several stores first).

``cu_seqlens`` holds the cumulative segment lengths over the flattened batch, as
flash-attention's varlen functions and Megatron take them: a segment is a run of equal
``document_ids`` inside one row, and a row's padding tail (``document_ids == -1``) is a
segment of its own, so the last real value is ``batch * max_length``. The tensor is padded to
the fixed length ``batch * max_length + 1`` by repeating that last value, so that batches of
one shape stack; the zero-length segments the padding adds are harmless to varlen kernels.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

__all__ = ["IGNORE_INDEX", "finish_batch", "finish_batch_from_segments"]

IGNORE_INDEX = -100  # torch.nn.functional.cross_entropy's default ignore_index


def finish_batch(batch: dict[str, Any]) -> dict[str, Any]:
    """``batch`` with ``cu_seqlens`` (int32), ``max_seqlen`` (int), ``num_items_in_batch`` (int) set.

    Pitfall: ``max_seqlen`` counts padding segments too (they are segments of ``cu_seqlens``).

    >>> doc = torch.tensor([[0, 0, 1, -1], [0, 0, 0, 0]], dtype=torch.int32)
    >>> labels = torch.tensor([[5, -100, 7, -100], [1, 2, 3, 4]])
    >>> out = finish_batch({"document_ids": doc, "labels": labels})
    >>> out["cu_seqlens"].tolist(), out["max_seqlen"], out["num_items_in_batch"]
    ([0, 2, 3, 4, 8, 8, 8, 8, 8], 4, 6)
    """
    doc = batch["document_ids"]  # (batch, max_length)
    rows, width = doc.shape
    # numpy on CPU: a handful of small torch ops cost more than the work (tens of microseconds)
    ids = doc.numpy() if doc.device.type == "cpu" else doc.cpu().numpy()  # (batch, max_length)
    starts = np.ones((rows, width), dtype=bool)  # (batch, max_length): a segment starts here
    starts[:, 1:] = ids[:, 1:] != ids[:, :-1]
    labels = batch["labels"]  # (batch, max_length)
    kept = np.count_nonzero(labels.numpy() != IGNORE_INDEX) if labels.device.type == "cpu" else (labels != IGNORE_INDEX).sum()
    return finish_batch_from_segments(batch, np.flatnonzero(starts), n_items=int(kept))


def finish_batch_from_segments(
    batch: dict[str, Any], starts: np.ndarray, max_seqlen: int | None = None, *, n_items: int,
) -> dict[str, Any]:
    """:func:`finish_batch`'s fields from what a dataset already knows, without rescanning the rows.

    ``starts`` are the flat indices (into ``batch * max_length``) where each segment begins, in
    increasing order; ``max_seqlen`` the longest segment (found from ``starts`` when None);
    ``n_items`` the number of labels that are not -100.

    Pitfall: nothing is checked against ``document_ids``; a dataset using this is tested
    against :func:`finish_batch` (which calls it with the starts it scans for).

    >>> doc = torch.tensor([[0, 0, 1, -1], [0, 0, 0, 0]], dtype=torch.int32)
    >>> out = finish_batch_from_segments({"document_ids": doc}, np.array([0, 2, 3, 4]), n_items=6)
    >>> out["cu_seqlens"].tolist(), out["max_seqlen"], out["num_items_in_batch"]
    ([0, 2, 3, 4, 8, 8, 8, 8, 8], 4, 6)
    """
    doc = batch["document_ids"]  # (batch, max_length)
    total = doc.shape[0] * doc.shape[1]
    cu = np.full(total + 1, total, dtype=np.int32)  # (batch * max_length + 1,)
    cu[: len(starts)] = starts
    longest = max_seqlen
    if longest is None:
        longest = total - int(starts[-1]) if len(starts) else 0  # the last segment's length
        if len(starts) > 1:
            longest = max(longest, int((starts[1:] - starts[:-1]).max()))
    cu_seqlens = torch.from_numpy(cu)
    batch["cu_seqlens"] = cu_seqlens if doc.device.type == "cpu" else cu_seqlens.to(doc.device)
    batch["max_seqlen"] = longest
    batch["num_items_in_batch"] = int(n_items)
    return batch
