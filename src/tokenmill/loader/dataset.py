"""Token IDs -> (inputs, targets) training windows: ``WindowDataset``, without copying the IDs.

``WindowDataset`` views any 1-D integer array (list, numpy array, ``np.memmap``, a token store
split) as the book's sliding windows without copying it; a batch is one vectorised gather.
The loaders that batch it are in ``tokenmill.loader.dataloader``; the orders they draw, in
``tokenmill.loader.book_sampler`` and ``tokenmill.loader.seeded_sampler``.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tokenmill.common.checks import positive_int
from tokenmill.common.errors import OptionError

__all__ = ["WindowDataset", "as_token_array"]


def as_token_array(tokens: Any) -> Any:
    """The 1-D integer array a ``WindowDataset`` reads, copying only Python sequences.

    A list/tuple/range becomes one int64 numpy array (the only copy); numpy arrays and memmaps
    are used as they are; a CPU tensor is viewed as numpy; an object with a ``take_windows``
    method (a token store split) is used as it is.

    >>> as_token_array([40, 367, 2885])
    array([  40,  367, 2885])
    """
    source, what = tokens, type(tokens).__name__
    if isinstance(tokens, (str, bytes)):
        raise TypeError(f"tokens must be token IDs, got {what}; pass text to create_dataloader")
    if isinstance(tokens, torch.Tensor):
        # .cpu() is a no-op for CPU tensors, so .numpy() shares their memory.
        tokens, what = tokens.detach().cpu().numpy(), "a tensor"
    elif isinstance(tokens, (list, tuple, range)):
        tokens, what = np.asarray(tokens) if len(tokens) else np.empty(0, np.int64), f"a {what}"
    elif not (isinstance(tokens, np.ndarray) or hasattr(tokens, "take_windows")):
        raise TypeError(
            f"tokens must be a list, numpy array, np.memmap, tensor or token store split of token "
            f"IDs, got {what}"
        )
    if getattr(tokens, "ndim", 1) != 1:
        raise ValueError(
            f"tokens must be 1-D, got {what} of shape {tokens.shape}; flatten it (arr.reshape(-1))"
        )
    dtype = getattr(tokens, "dtype", None)
    if dtype is not None and np.dtype(dtype).kind not in "iu":
        raise TypeError(
            f"tokens must be integer token IDs, got {what} of dtype {dtype}; convert them to "
            f"integers first (e.g. np.asarray(tokens).astype(np.int64))"
        )
    is_sequence = isinstance(source, (list, tuple, range))
    return tokens.astype(np.int64, copy=False) if is_sequence else tokens


def _memmap_location(arr: np.ndarray) -> tuple[str, int] | None:
    """(file name, byte offset) of a contiguous 1-D array that lies in an ``np.memmap``, else None.

    Pitfall: a memmap's slice keeps its parent's ``offset``, so this works from data addresses.
    """
    if arr.ndim != 1 or not arr.flags.c_contiguous or arr.size == 0:
        return None
    owner: Any = arr
    while isinstance(owner, np.ndarray) and not isinstance(owner, np.memmap):
        owner = owner.base
    mapped, filename = getattr(owner, "_mmap", None), getattr(owner, "filename", None)
    # A copy-on-write map ("c") may hold changes its file lacks, so it travels as a copy.
    if mapped is None or filename is None or getattr(owner, "mode", "c") == "c":
        return None
    try:
        map_start = np.frombuffer(mapped, dtype=np.uint8).ctypes.data
    except (ValueError, TypeError):  # a closed mmap
        return None
    # np.memmap maps from the offset rounded down to the allocation granularity.
    file_start = owner.offset - owner.offset % mmap.ALLOCATIONGRANULARITY
    inside = arr.ctypes.data - map_start
    if inside < 0 or inside + arr.nbytes > len(mapped):
        return None
    return os.fspath(filename), file_start + inside


class WindowDataset(Dataset):
    """The book's sliding windows over a 1-D array of token IDs, without copying the array.

    Window ``i`` is ``inputs = tokens[i*stride : i*stride + max_length]`` and ``targets``, the
    same span one token later, int64 tensors of shape ``(max_length,)``; there are as many as
    the book's ``GPTDatasetV1`` makes, ``len(range(0, n_tokens - max_length, stride))``.
    ``ds[i]`` is one window as a tuple; ``ds[indices]`` (a list, array or tensor) is a batch
    ``[inputs, targets]``, each ``(len(indices), max_length)``, gathered in one vectorised step
    (``__getitems__`` gives torch's default DataLoader the same).

    Pitfalls: a Python list is copied once to int64 (8 bytes per token); pass a numpy array,
    memmap or token store split to avoid that. ``stride > max_length`` skips tokens between
    windows. Pickling (spawned DataLoader workers) reopens an ``np.memmap`` by file name and
    offset, and a token store split by its paths; an in-memory array is copied.

    >>> ds = WindowDataset(list(range(10)), max_length=4, stride=2)
    >>> len(ds)
    3
    >>> ds[1]
    (tensor([2, 3, 4, 5]), tensor([3, 4, 5, 6]))
    >>> ds[[0, 2]][1]
    tensor([[1, 2, 3, 4],
            [5, 6, 7, 8]])
    """

    def __init__(self, tokens: Any, *, max_length: int, stride: int) -> None:
        self.max_length = positive_int("max_length", max_length)
        self.stride = positive_int("stride", stride)
        self._tokens = as_token_array(tokens)
        self.n_tokens = n = len(self._tokens)
        if n <= self.max_length:
            lower = "lower {max_length} to at most %d or give more tokens" % (n - 1) if n > 1 else ""
            raise OptionError(
                "max_length",
                "{0} tokens make no window of {max_length=%d}: a window needs {max_length} + 1 = "
                "{1} tokens (the targets are the inputs shifted by one); %s"
                % (self.max_length, lower or "give more tokens"),
                n, self.max_length + 1,
            )
        self._n_windows = len(range(0, n - self.max_length, self.stride))
        self._view: np.ndarray | None = None  # all windows as one strided view, built on first use
        # Looked up once: a failed getattr on an ndarray costs microseconds per batch.
        self._has_take_windows = hasattr(self._tokens, "take_windows")

    @property
    def tokens(self) -> Any:
        """The underlying token array (not a copy)."""
        return self._tokens

    def __len__(self) -> int:
        return self._n_windows

    def __repr__(self) -> str:
        return (
            f"WindowDataset(n_tokens={self.n_tokens}, max_length={self.max_length}, "
            f"stride={self.stride}, windows={self._n_windows})"
        )

    def _starts(self, indices: Any) -> np.ndarray:
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(
                f"window indices must be a 1-D sequence of ints, got dtype {idx.dtype} "
                f"shape {idx.shape}"
            )
        idx, n = idx.astype(np.int64, copy=False), self._n_windows
        lo, hi = (int(idx.min()), int(idx.max())) if idx.size else (0, 0)
        if lo < -n or hi >= n:
            bad = lo if lo < -n else hi
            raise IndexError(f"window index {bad} is out of range for {n} windows")
        if lo < 0:
            idx = np.where(idx < 0, idx + n, idx)
        return idx * self.stride if self.stride != 1 else idx

    def _gather(self, starts: np.ndarray) -> np.ndarray:
        """Rows ``tokens[s : s + max_length + 1]`` per start: (len(starts), max_length + 1)."""
        span = self.max_length + 1
        if self._has_take_windows:
            return np.asarray(self._tokens.take_windows(starts, span))
        if self._view is None:
            # A strided view of every window: indexing its first axis copies whole rows,
            # about 2x faster than fancy-indexing with starts[:, None] + arange(span).
            self._view = np.lib.stride_tricks.sliding_window_view(self._tokens, span)
        return self._view[starts]

    def batch(self, indices: Any) -> list[torch.Tensor]:
        """Windows ``indices`` as ``[inputs, targets]``, each int64 (len(indices), max_length)."""
        rows = self._gather(self._starts(indices))  # (batch, max_length + 1), the array's dtype
        inputs = torch.from_numpy(rows[:, :-1].astype(np.int64))  # (batch, max_length)
        targets = torch.from_numpy(rows[:, 1:].astype(np.int64))  # (batch, max_length)
        return [inputs, targets]

    def __getitem__(self, index: Any) -> Any:
        # The loaders' types first: isinstance against a tuple of types costs microseconds.
        if type(index) is np.ndarray or type(index) is list:
            return self.batch(index)
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            inputs, targets = self.batch([index])
            return inputs[0], targets[0]
        if isinstance(index, (list, tuple, range, np.ndarray, torch.Tensor)):
            return self.batch(index)
        raise TypeError(
            f"index must be an int or a sequence of ints, got {type(index).__name__} {index!r}"
        )

    def __getitems__(self, indices: Sequence[int]) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """torch's batched fetch: one gather, returned as the per-window samples torch expects."""
        inputs, targets = self.batch(indices)
        return list(zip(inputs.unbind(0), targets.unbind(0)))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__ | {"_view": None}
        tokens = state["_tokens"]
        where = _memmap_location(tokens) if isinstance(tokens, np.ndarray) else None
        if where is not None:
            state["_tokens"] = ("memmap", *where, tokens.dtype.str, tokens.shape[0])
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        tokens = state["_tokens"]
        if isinstance(tokens, tuple) and tokens[:1] == ("memmap",):
            _, filename, offset, dtype, n = tokens
            state["_tokens"] = np.memmap(filename, dtype=dtype, mode="r", offset=offset, shape=(n,))
        self.__dict__.update(state)
