"""Context length: cut token IDs to what a model can read, the way GPT models do.

A GPT has ``context_length`` positions (the rows of its position embedding); longer input must
be cut. ``truncate`` works on lists, numpy arrays and tensors and never imports torch itself,
so tokenizing tools can use it without the torch stack.
"""

from __future__ import annotations

import sys
from typing import TypeVar

from tokenmill.common.checks import positive_int

__all__ = ["KEEP_CHOICES", "truncate"]

KEEP_CHOICES: tuple[str, ...] = ("last", "first")

Ids = TypeVar("Ids")


def truncate(ids: Ids, context_length: int, *, keep: str = "last") -> Ids:
    """Cut token IDs to at most ``context_length`` along the sequence (last) axis.

    Accepts a list of IDs or a list of lists (one per sequence; rows may differ in length), a
    numpy array or a tensor of shape ``(seq_len,)`` or ``(batch, seq_len)``, and returns the same
    type. Arrays and tensors come back as views sharing the input's memory; lists come back as
    new lists (shallow). Shorter inputs come back whole.

    Pitfall: only the last axis is cut, so 3-D input (already embedded, ``(batch, seq_len,
    emb_dim)``) is refused rather than silently trimmed along ``emb_dim``. ``keep="last"`` keeps
    the most recent tokens, which is what GPT generation feeds the model; ``keep="first"`` keeps
    the start of a document.

    >>> truncate([40, 367, 2885, 1464, 1807], 4)
    [367, 2885, 1464, 1807]
    >>> truncate([[1, 2, 3], [4, 5]], 2, keep="first")
    [[1, 2], [4, 5]]
    >>> import numpy as np
    >>> truncate(np.arange(6).reshape(2, 3), 2)
    array([[1, 2],
           [4, 5]])
    """
    context_length = positive_int("context_length", context_length)
    if keep not in KEEP_CHOICES:
        raise ValueError(f"keep={keep!r} is not one of {KEEP_CHOICES}")
    # slice(-n, None) never reaches past the start, so short inputs come back whole.
    cut = slice(-context_length, None) if keep == "last" else slice(None, context_length)

    if isinstance(ids, list):
        return _truncate_list(ids, cut)  # type: ignore[return-value]
    # Looked up, not imported: an object can only be an ndarray/Tensor if its module is loaded,
    # so list and numpy input never pays for (or needs) importing torch.
    np_mod = sys.modules.get("numpy")
    torch_mod = sys.modules.get("torch")
    is_array = np_mod is not None and isinstance(ids, np_mod.ndarray)
    is_tensor = torch_mod is not None and isinstance(ids, torch_mod.Tensor)
    if is_array or is_tensor:
        shape = tuple(ids.shape)  # type: ignore[attr-defined]
        if len(shape) not in (1, 2):
            raise ValueError(
                f"truncate expects IDs of shape (seq_len,) or (batch, seq_len), got shape "
                f"{shape}; truncate the IDs before embedding them"
            )
        return ids[..., cut]  # type: ignore[index]  # (batch, <= context_length) view
    raise TypeError(
        f"truncate supports a list, a numpy.ndarray or a torch.Tensor of token IDs, got "
        f"{type(ids).__module__}.{type(ids).__qualname__}; convert it, e.g. list(ids)"
    )


def _truncate_list(ids: list, cut: slice) -> list:
    """Slice a flat list of IDs, or each row of a list of lists."""
    rows = [isinstance(item, list) for item in ids]
    if not any(rows):
        return ids[cut]
    if not all(rows):
        raise TypeError(
            "truncate got a list mixing IDs and lists; pass a flat list or a list of lists"
        )
    for row in ids:
        if row and isinstance(row[0], list):
            raise ValueError(
                "truncate got lists nested 3 deep; pass (seq_len,) or (batch, seq_len)"
            )
    return [row[cut] for row in ids]
