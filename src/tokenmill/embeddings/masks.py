"""A batch's ``document_ids`` -> attention masks that keep packed documents apart.

``document_causal_mask`` is the dense boolean mask ``scaled_dot_product_attention`` takes
(``(batch, 1, T, T)``: O(T^2) memory, for small T and as the reference);
``document_block_mask`` is the same rule as a ``BlockMask`` for ``flex_attention``, which skips
the blocks the mask empties. The rule: query ``i`` may attend key ``j`` when ``j <= i`` and both
lie in the same segment of the row (``document_ids[i] == document_ids[j] >= 0``); a padding
position (``-1``) attends to itself alone, so no row of the mask is empty (an empty row makes
softmax return NaN).
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = ["document_block_mask", "document_causal_mask"]


def _check(document_ids: Any) -> torch.Tensor:
    if not isinstance(document_ids, torch.Tensor) or document_ids.dtype.is_floating_point or (
        document_ids.dtype == torch.bool
    ):
        got = getattr(document_ids, "dtype", type(document_ids).__name__)
        raise TypeError(f"document_ids must be an integer tensor (a batch's 'document_ids'), got {got}")
    if document_ids.ndim != 2:
        raise ValueError(
            f"document_ids must have shape (batch, seq_len), got {tuple(document_ids.shape)}; "
            f"for one row use document_ids[None]"
        )
    return document_ids


def document_causal_mask(document_ids: torch.Tensor) -> torch.Tensor:
    """Bool ``(batch, 1, T, T)``, True where a query may attend a key: causal, inside one document.

    Pitfall: pass it as ``attn_mask`` to ``scaled_dot_product_attention`` with ``is_causal=False``
    (causality is in the mask); True means *may attend*, the opposite of
    ``nn.MultiheadAttention``'s ``key_padding_mask``.

    >>> document_causal_mask(torch.tensor([[0, 0, 1, -1]]))[0, 0].int()
    tensor([[1, 0, 0, 0],
            [1, 1, 0, 0],
            [0, 0, 1, 0],
            [0, 0, 0, 1]], dtype=torch.int32)
    """
    doc = _check(document_ids)  # (batch, T)
    T = doc.shape[1]
    causal = torch.ones(T, T, dtype=torch.bool, device=doc.device).tril()  # (T, T)
    same = (doc[:, :, None] == doc[:, None, :]) & (doc[:, :, None] >= 0)  # (batch, T, T)
    eye = torch.eye(T, dtype=torch.bool, device=doc.device)  # (T, T)
    return ((same & causal) | eye)[:, None]  # (batch, 1, T, T)


def document_block_mask(document_ids: torch.Tensor, *, block_size: int = 128) -> Any:
    """The rule of :func:`document_causal_mask` as a ``flex_attention`` ``BlockMask``.

    Pitfall: ``flex_attention`` needs ``T`` to be a multiple of ``block_size`` on some torch
    versions (pad the batch, or pick ``max_length`` so); it is fast compiled
    (``torch.compile(flex_attention)``); uncompiled it is a slow reference.

    >>> mask = document_block_mask(torch.tensor([[0, 0, 1, -1]]), block_size=4)
    >>> mask.shape
    (1, 1, 4, 4)
    """
    from torch.nn.attention.flex_attention import create_block_mask  # not in every torch build

    doc = _check(document_ids)  # (batch, T)
    batch, T = doc.shape

    def may_attend(b: Any, h: Any, q: Any, kv: Any) -> Any:
        same = (doc[b, q] == doc[b, kv]) & (doc[b, q] >= 0)
        return (q >= kv) & (same | (q == kv))

    return create_block_mask(may_attend, batch, None, T, T, device=doc.device, BLOCK_SIZE=block_size)
