"""Token IDs -> (inputs, targets) training windows, and the DataLoader that batches them.

``WindowDataset`` views any 1-D integer array (list, numpy array, ``np.memmap``, a token
store split) as the book's sliding windows without copying it; a batch is one vectorised
gather. ``create_dataloader`` builds a plain ``torch.utils.data.DataLoader`` over it that, for
text and the same arguments and torch seed, yields exactly the batches of the book's
``create_dataloader_v1`` (section 2.6).
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Collection, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
)

from tokenmill.context import _positive_int

__all__ = ["WindowDataset", "create_dataloader", "window_loader"]

ENDOFTEXT = "<|endoftext|>"


def _check_ids(arr: np.ndarray, what: str) -> np.ndarray:
    if arr.ndim != 1:
        raise ValueError(
            f"tokens must be 1-D, got {what} of shape {arr.shape}; flatten it (arr.reshape(-1)) first"
        )
    if arr.dtype.kind not in "iu":
        raise TypeError(
            f"tokens must be integer token IDs, got {what} of dtype {arr.dtype}; "
            f"convert them to integers first (e.g. np.asarray(tokens).astype(np.int64))"
        )
    return arr


def as_token_array(tokens: Any) -> Any:
    """The 1-D integer array a ``WindowDataset`` reads, copying only Python sequences.

    A list/tuple/range becomes one int64 numpy array (the only copy); numpy arrays and
    memmaps are used as they are; a CPU tensor is viewed as numpy; an object with a
    ``take_windows`` method (a token store split) is used as it is.

    >>> as_token_array([40, 367, 2885])
    array([  40,  367, 2885])
    """
    if hasattr(tokens, "take_windows") and hasattr(tokens, "__len__"):
        dtype = getattr(tokens, "dtype", None)
        if dtype is not None and np.dtype(dtype).kind not in "iu":
            raise TypeError(
                f"tokens must be integer token IDs, got {type(tokens).__name__} of dtype {dtype}"
            )
        return tokens
    if isinstance(tokens, np.ndarray):
        return _check_ids(tokens, type(tokens).__name__)
    if isinstance(tokens, torch.Tensor):
        # .cpu() is a no-op for CPU tensors, so .numpy() shares their memory.
        return _check_ids(tokens.detach().cpu().numpy(), "a tensor")
    if isinstance(tokens, (str, bytes)):
        raise TypeError(
            f"tokens must be token IDs, got {type(tokens).__name__}; "
            f"pass text to create_dataloader, which tokenizes it"
        )
    if isinstance(tokens, (list, tuple, range)):
        arr = np.asarray(tokens) if len(tokens) else np.empty(0, dtype=np.int64)
        return _check_ids(arr, f"a {type(tokens).__name__}").astype(
            np.int64, copy=False
        )
    raise TypeError(
        f"tokens must be a list, numpy array, np.memmap, tensor or token store split of token IDs, "
        f"got {type(tokens).__name__}"
    )


def _memmap_location(arr: np.ndarray) -> tuple[str, int] | None:
    """(file name, byte offset) of a contiguous 1-D array that lies in an ``np.memmap``, else None.

    Pitfall: a slice of a memmap keeps the *parent's* ``offset`` attribute, so the offset is
    worked out from data addresses, not read from the attribute.
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

    Window ``i`` starts at token ``i * stride``: ``inputs = tokens[i*stride : i*stride +
    max_length]`` and ``targets`` is the same span shifted one token right, both int64 tensors
    of shape ``(max_length,)``. There are ``len(range(0, n_tokens - max_length, stride))``
    windows, exactly as many as the book's ``GPTDatasetV1`` makes.

    ``ds[i]`` is one window as a tuple; ``ds[[i, j, ...]]`` (a list, array or tensor of
    indices) is a batch ``[inputs, targets]`` of shape ``(len(indices), max_length)`` gathered
    in one vectorised step, which is what ``create_dataloader`` uses. ``__getitems__`` gives
    torch's DataLoader one gather per batch as well.

    Pitfalls: a Python list is converted once to an int64 numpy array (8 bytes per token);
    pass a numpy array, memmap or token store split to avoid that copy. ``stride >
    max_length`` is allowed but skips ``stride - max_length`` tokens between windows. Pickling
    (DataLoader workers under spawn) reopens an ``np.memmap`` by file name and offset, and a
    token store split by its paths; an in-memory array is copied.

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
        self.max_length = _positive_int("max_length", max_length)
        self.stride = _positive_int("stride", stride)
        self._tokens = as_token_array(tokens)
        self.n_tokens = len(self._tokens)
        if self.n_tokens <= self.max_length:
            lower = (
                f"lower max_length to at most {self.n_tokens - 1} or give more tokens"
                if self.n_tokens > 1
                else "give more tokens"
            )
            raise ValueError(
                f"{self.n_tokens} tokens make no window of max_length={self.max_length}: a window needs "
                f"max_length + 1 = {self.max_length + 1} tokens (the targets are the inputs shifted by "
                f"one); {lower}"
            )
        self._n_windows = len(range(0, self.n_tokens - self.max_length, self.stride))
        self._view: np.ndarray | None = (
            None  # all windows as one strided view, built on first use
        )
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
                f"window indices must be a 1-D sequence of ints, got dtype {idx.dtype} shape {idx.shape}"
            )
        idx = idx.astype(np.int64, copy=False)
        if not idx.size:
            return idx
        # Python's min/max on a short list cost a fraction of numpy's per-call overhead.
        lo, hi = (
            (min(indices), max(indices))
            if isinstance(indices, list)
            else (idx.min(), idx.max())
        )
        n = self._n_windows
        if lo < -n or hi >= n:
            raise IndexError(
                f"window index {int(lo) if lo < -n else int(hi)} is out of range for {n} windows"
            )
        if lo < 0:
            idx = np.where(idx < 0, idx + n, idx)
        return idx * self.stride if self.stride != 1 else idx

    def _gather(self, starts: np.ndarray) -> np.ndarray:
        """Rows ``tokens[s : s + max_length + 1]`` for each start: shape (len(starts), max_length + 1)."""
        span = self.max_length + 1
        if self._has_take_windows:
            return np.asarray(self._tokens.take_windows(starts, span))
        if self._view is None:
            # A strided view of every window: indexing its first axis copies whole rows,
            # about 2x faster than fancy-indexing with starts[:, None] + arange(span).
            self._view = np.lib.stride_tricks.sliding_window_view(self._tokens, span)
        return self._view[starts]

    def batch(self, indices: Any) -> list[torch.Tensor]:
        """Windows ``indices`` as ``[inputs, targets]``, each int64 of shape (len(indices), max_length)."""
        rows = self._gather(
            self._starts(indices)
        )  # (batch, max_length + 1), the array's dtype
        inputs = torch.from_numpy(rows[:, :-1].astype(np.int64))  # (batch, max_length)
        targets = torch.from_numpy(rows[:, 1:].astype(np.int64))  # (batch, max_length)
        return [inputs, targets]

    def __getitem__(self, index: Any) -> Any:
        if (
            type(index) is list
        ):  # the loader's path first: isinstance(x, torch.Tensor) costs ~2 us
            return self.batch(index)
        if isinstance(index, (int, np.integer)) and not isinstance(
            index, (bool, np.bool_)
        ):
            inputs, targets = self.batch([index])
            return inputs[0], targets[0]
        if isinstance(index, (list, tuple, range, np.ndarray, torch.Tensor)):
            return self.batch(index)
        raise TypeError(
            f"index must be an int or a sequence of ints, got {type(index).__name__} {index!r}"
        )

    def __getitems__(
        self, indices: Sequence[int]
    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """torch's batched fetch: one gather, returned as the per-window samples torch expects."""
        inputs, targets = self.batch(indices)
        return list(zip(inputs.unbind(0), targets.unbind(0)))

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_view"] = None
        tokens = state["_tokens"]
        if isinstance(tokens, np.ndarray):
            where = _memmap_location(tokens)
            if where is not None:
                state["_tokens"] = (
                    "memmap",
                    where[0],
                    where[1],
                    tokens.dtype.str,
                    tokens.shape[0],
                )
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        tokens = state["_tokens"]
        if isinstance(tokens, tuple) and tokens[:1] == ("memmap",):
            _, filename, offset, dtype, n = tokens
            state["_tokens"] = np.memmap(
                filename, dtype=np.dtype(dtype), mode="r", offset=offset, shape=(n,)
            )
        self.__dict__.update(state)


def _batch_as_is(batch: list[torch.Tensor]) -> list[torch.Tensor]:
    """The DataLoader's collate_fn: the dataset already returns whole batches."""
    return batch


def window_loader(
    dataset: WindowDataset,
    *,
    batch_size: int = 4,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A DataLoader over ``dataset`` that fetches each batch with one gather.

    It draws from torch's RNG exactly like ``DataLoader(dataset, batch_size, shuffle=...)``
    (a base seed when iteration starts, then the RandomSampler's seed), so the same seed
    gives the same order. Pitfall: the batch size lives in its BatchSampler, so
    ``loader.batch_size`` is None; ``len(loader)`` is the number of batches.

    >>> loader = window_loader(WindowDataset(list(range(12)), max_length=3, stride=3),
    ...                        batch_size=2, shuffle=False)
    >>> len(loader), [inputs.tolist() for inputs, targets in loader]
    (1, [[[0, 1, 2], [3, 4, 5]]])
    """
    if not isinstance(dataset, WindowDataset):
        raise TypeError(
            f"dataset must be a WindowDataset, got {type(dataset).__name__}; for other datasets "
            f"use torch.utils.data.DataLoader directly"
        )
    batch_size = _positive_int("batch_size", batch_size)
    if drop_last and len(dataset) < batch_size:
        raise ValueError(
            f"drop_last=True with batch_size={batch_size} drops every batch: there are only "
            f"{len(dataset)} windows ({dataset.n_tokens} tokens, max_length={dataset.max_length}, "
            f"stride={dataset.stride}); lower batch_size to at most {len(dataset)}, lower stride "
            f"or max_length, or pass drop_last=False"
        )
    sampler = (
        RandomSampler(dataset, generator=generator)
        if shuffle
        else SequentialSampler(dataset)
    )
    return DataLoader(
        dataset,
        batch_size=None,  # the BatchSampler below makes the batches; the dataset gathers each in one step
        sampler=BatchSampler(sampler, batch_size, drop_last),
        collate_fn=_batch_as_is,
        num_workers=num_workers,
        generator=generator,
    )


def _is_store(source: Any) -> bool:
    return (
        hasattr(source, "splits")
        and hasattr(source, "__getitem__")
        and not isinstance(source, (str, bytes))
    )


def _check_store_tokenizer(store: Any, tokenizer: Any) -> None:
    """ValueError unless ``tokenizer`` is the one the store was made with (same name or same ranks)."""
    manifest = getattr(store, "manifest", None)
    info = manifest.get("tokenizer", {}) if isinstance(manifest, dict) else {}
    want = info.get("name")
    if want is None or tokenizer == want:
        return
    from tokenmill.tokenizers import get_tokenizer

    tok = get_tokenizer(tokenizer)
    if tok.name == want or (
        info.get("ranks_sha256") and info.get("ranks_sha256") == tok.ranks_sha256
    ):
        return
    raise ValueError(
        f"the token store at {getattr(store, 'path', '?')} was made with tokenizer {want!r}, but "
        f"tokenizer={tok.name!r} was given; pass tokenizer={want!r} (the IDs only make sense with it)"
    )


def create_dataloader(
    source: Any,
    *,
    tokenizer: Any = "gpt2",
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
    allowed_special: Collection[str] | str = (ENDOFTEXT,),
    split: str = "train",
    generator: torch.Generator | None = None,
) -> DataLoader:
    """A DataLoader of ``[inputs, targets]`` batches, each int64 ``(batch_size, max_length)``.

    ``source`` is text (encoded with ``tokenizer.encode(text, allowed_special=...)``, as the
    book does), token IDs (list, numpy array, memmap, tensor) or a token store (its ``split``
    is read; ``tokenizer`` must name the store's tokenizer, which the default "gpt2" does for
    GPT-2 stores). For text and the same arguments and ``torch.manual_seed``, the batches are
    exactly those of the book's ``create_dataloader_v1``.

    Pitfalls: with shuffling, the order is drawn from torch's global RNG when iteration starts
    (like any DataLoader), so seed before ``iter(loader)``, or pass ``generator``. ``stride <
    max_length`` makes windows overlap; ``stride > max_length`` skips tokens. ``loader.batch_size``
    is None (see ``window_loader``).

    >>> loader = create_dataloader("In the heart of the city stood the old library, a relic",
    ...                            batch_size=2, max_length=4, stride=4, shuffle=False)
    >>> inputs, targets = next(iter(loader))
    >>> inputs
    tensor([[ 818,  262, 2612,  286],
            [ 262, 1748, 6204,  262]])
    >>> targets
    tensor([[ 262, 2612,  286,  262],
            [1748, 6204,  262, 1468]])
    """
    # Checked before tokenizing, which can take seconds.
    for name, value in (
        ("batch_size", batch_size),
        ("max_length", max_length),
        ("stride", stride),
    ):
        _positive_int(name, value)
    if isinstance(source, str):
        from tokenmill.tokenizers import get_tokenizer

        tok = get_tokenizer(tokenizer)
        if isinstance(allowed_special, str) and allowed_special != "all":
            allowed_special = (allowed_special,)  # one token's name, not its characters
        # Like tiktoken, a listed special token the tokenizer lacks is simply never matched.
        special = (
            "all"
            if allowed_special == "all"
            else frozenset(allowed_special) & set(tok.special_tokens)
        )
        tokens: Any = tok.encode(source, allowed_special=special)
    elif _is_store(source):
        _check_store_tokenizer(source, tokenizer)
        tokens = source[split]
    else:
        tokens = source
    dataset = WindowDataset(tokens, max_length=max_length, stride=stride)
    return window_loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
        generator=generator,
    )
