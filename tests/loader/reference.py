"""The book's windows and loader, built the plain way: the oracles the loader tests compare with."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader


def reference_windows(
    tokens: list[int], max_length: int, stride: int
) -> list[tuple[list[int], list[int]]]:
    """The book's loop, in plain Python: the oracle for every window test."""
    return [
        (tokens[i : i + max_length], tokens[i + 1 : i + max_length + 1])
        for i in range(0, len(tokens) - max_length, stride)
    ]


def as_lists(pair: Any) -> tuple[list[int], list[int]]:
    inputs, targets = pair
    return inputs.tolist(), targets.tolist()


DTYPES = ("list", "int64", "uint16", "int32", "uint32")


def make_tokens(ids: list[int], kind: str) -> Any:
    return list(ids) if kind == "list" else np.array(ids, dtype=kind)


def reference_loader(
    tokens: list[int],
    batch_size: int,
    max_length: int,
    stride: int,
    shuffle: bool,
    drop_last: bool,
) -> DataLoader:
    """A plain DataLoader over the windows as precomputed tensors, as the book builds it."""
    windows = [
        (torch.tensor(x), torch.tensor(y))
        for x, y in reference_windows(tokens, max_length, stride)
    ]
    return DataLoader(
        windows, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last
    )  # type: ignore[arg-type]


def batches_equal(ours: list[Any], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs)
    for (x, y), (bx, by) in zip(ours, theirs):
        assert x.dtype == bx.dtype == torch.int64
        assert torch.equal(x, bx) and torch.equal(y, by)
