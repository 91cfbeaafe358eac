"""Token IDs -> (inputs, targets) training windows, and the DataLoader that batches them.

``WindowDataset`` views any 1-D integer array (list, numpy array, ``np.memmap``, a token store
split) as the book's sliding windows without copying it; a batch is one vectorised gather.
``create_dataloader`` batches it like the book's ``create_dataloader_v1`` (section 2.6): for
text and the same arguments and torch seed, the same batches.
"""

from __future__ import annotations

import mmap
import os
from collections.abc import Collection, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from tokenmill.context import _positive_int

__all__ = ["WindowBatchSampler", "WindowDataset", "create_dataloader", "window_loader"]

ENDOFTEXT = "<|endoftext|>"


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
        self.max_length = _positive_int("max_length", max_length)
        self.stride = _positive_int("stride", stride)
        self._tokens = as_token_array(tokens)
        self.n_tokens = n = len(self._tokens)
        if n <= self.max_length:
            lower = f"lower max_length to at most {n - 1} or give more tokens" if n > 1 else ""
            raise ValueError(
                f"{n} tokens make no window of max_length={self.max_length}: a window needs "
                f"max_length + 1 = {self.max_length + 1} tokens (the targets are the inputs "
                f"shifted by one); {lower or 'give more tokens'}"
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


class WindowBatchSampler(Sampler[np.ndarray]):
    """Batches of window indices as int64 arrays: torch's shuffled order without a Python list.

    Yields the batches of ``BatchSampler(RandomSampler(range(n_windows), generator=generator),
    batch_size, drop_last)`` (``SequentialSampler`` if not ``shuffle``) in the same order and
    with the same RNG draws, but keeps the epoch's ``torch.randperm`` as one int64 array (8
    bytes per window; RandomSampler makes a Python list, ~36) and yields read-only slices of it.

    Pitfall: as in torch, the order is drawn at the first batch (one int64 from the global RNG
    seeds a private generator, unless ``generator`` is given), so seed just before iterating.

    >>> _ = torch.manual_seed(0)
    >>> [b.tolist() for b in WindowBatchSampler(5, 2, drop_last=True)]
    [[1, 3], [4, 2]]
    """

    def __init__(
        self, n_windows: int, batch_size: int, *, shuffle: bool = True, drop_last: bool = False,
        generator: torch.Generator | None = None,
    ) -> None:
        self.n_windows = _positive_int("n_windows", n_windows)
        self.batch_size = _positive_int("batch_size", batch_size)
        self.shuffle, self.drop_last, self.generator = bool(shuffle), bool(drop_last), generator

    def __len__(self) -> int:
        full, rest = divmod(self.n_windows, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __iter__(self) -> Iterator[np.ndarray]:
        n, size, generator = self.n_windows, self.batch_size, self.generator
        stop = n - n % size if self.drop_last else n
        if not self.shuffle:
            for start in range(0, stop, size):
                yield np.arange(start, min(start + size, n), dtype=np.int64)
            return
        if generator is None:  # RandomSampler's way: one draw from the global RNG seeds its own
            generator = torch.Generator()
            generator.manual_seed(int(torch.empty((), dtype=torch.int64).random_().item()))
        order = torch.randperm(n, generator=generator).numpy()  # (n,) int64, shares the tensor
        order.flags.writeable = False
        # RandomSampler draws an unused permutation when it runs out, which BatchSampler hits
        # while filling a partial last batch or when asked for one batch more. Only a caller's
        # generator can see that draw, so only then is it repeated, at the same moment.
        visible = self.generator is not None
        for start in range(0, stop, size):
            if visible and start + size > n:
                torch.randperm(n, generator=generator)
            yield order[start : start + size]  # (<= batch_size,) a view
        if visible and stop % size == 0:
            torch.randperm(n, generator=generator)


class WindowLoader(DataLoader):
    """A DataLoader whose ``batch_size`` and ``drop_last`` report its ``WindowBatchSampler``'s.

    The sampler yields whole batches, so torch runs unbatched and would record None and False
    (it reads them only for iterable datasets); setting them later raises, as on any DataLoader.
    """

    # The setters drop what DataLoader.__init__ assigns (None, False); the sampler holds the truth.
    batch_size = property(lambda self: self.sampler.batch_size, lambda self, _: None)
    drop_last = property(lambda self: self.sampler.drop_last, lambda self, _: None)


def _batch_as_is(batch: list[torch.Tensor]) -> list[torch.Tensor]:
    """The DataLoader's collate_fn: the dataset already returns whole batches."""
    return batch


def window_loader(
    dataset: WindowDataset, *, batch_size: int = 4, shuffle: bool = True, drop_last: bool = True,
    num_workers: int = 0, generator: torch.Generator | None = None,
) -> WindowLoader:
    """A DataLoader over ``dataset`` that fetches each batch with one gather.

    Same batches, RNG draws, ``batch_size``, ``drop_last`` and ``len`` as ``DataLoader(dataset,
    batch_size, shuffle=..., drop_last=..., generator=...)``; ``loader.sampler`` is a
    ``WindowBatchSampler``. Pitfall: refuses (ValueError) a loader that would drop every batch.

    >>> loader = window_loader(WindowDataset(list(range(12)), max_length=3, stride=3),
    ...                        batch_size=2, shuffle=False)
    >>> len(loader), loader.batch_size, [inputs.tolist() for inputs, targets in loader]
    (1, 2, [[[0, 1, 2], [3, 4, 5]]])
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
    sampler = WindowBatchSampler(
        len(dataset), batch_size, shuffle=shuffle, drop_last=drop_last, generator=generator
    )
    # batch_size=None: the sampler yields whole batches and the dataset gathers each in one step.
    return WindowLoader(
        dataset, batch_size=None, sampler=sampler, collate_fn=_batch_as_is,
        num_workers=num_workers, generator=generator,
    )


def _check_store_tokenizer(store: Any, tokenizer: Any) -> None:
    """ValueError unless ``tokenizer`` is the one the store was made with (same name or ranks)."""
    from tokenmill.tokenizers import get_tokenizer

    manifest = getattr(store, "manifest", None)
    info = manifest.get("tokenizer", {}) if isinstance(manifest, dict) else {}
    want = info.get("name")
    if want is None or (isinstance(tokenizer, str) and tokenizer == want):
        return
    tok = get_tokenizer(tokenizer)
    have_sha, want_sha = tok.ranks_sha256, info.get("ranks_sha256")
    if have_sha and want_sha:  # the vocabulary's hash decides where both are known; names can lie
        if have_sha == want_sha:
            return
    elif tok.name == want:
        return
    raise ValueError(
        f"the token store at {getattr(store, 'path', '?')} was made with tokenizer {want!r}, but "
        f"tokenizer={tok.name!r} was given; pass tokenizer={want!r} (its IDs need it)"
    )


def create_dataloader(
    source: Any, *, tokenizer: Any = "gpt2", batch_size: int = 4, max_length: int = 256,
    stride: int = 128, shuffle: bool = True, drop_last: bool = True, num_workers: int = 0,
    allowed_special: Collection[str] | str = (ENDOFTEXT,), split: str = "train",
    generator: torch.Generator | None = None,
) -> WindowLoader:
    """A DataLoader of ``[inputs, targets]`` batches, each int64 ``(batch_size, max_length)``.

    ``source`` is text (encoded with ``tokenizer.encode(text, allowed_special=...)``, as the
    book does; ``tokenizer`` is a name, a path, a tokenmill tokenizer or a ``tiktoken.Encoding``),
    token IDs (list, numpy array, memmap, tensor) or a token store (its ``split`` is read;
    ``tokenizer`` must be the store's, which the default "gpt2" is for GPT-2 stores). For text
    and the same arguments and ``torch.manual_seed``, the batches are exactly those of the
    book's ``create_dataloader_v1``.

    Pitfalls: with shuffling, the order is drawn from torch's global RNG when iteration starts
    (like any DataLoader), so seed before ``iter(loader)``, or pass ``generator``. ``stride <
    max_length`` makes windows overlap; ``stride > max_length`` skips tokens.

    >>> loader = create_dataloader("In the heart of the city stood the old library, a relic",
    ...                            batch_size=2, max_length=4, stride=4, shuffle=False)
    >>> inputs, targets = next(iter(loader))
    >>> inputs.tolist(), targets[0].tolist()
    ([[818, 262, 2612, 286], [262, 1748, 6204, 262]], [262, 2612, 286, 262])
    """
    # Checked before tokenizing, which can take seconds.
    for name, value in (("batch_size", batch_size), ("max_length", max_length), ("stride", stride)):
        _positive_int(name, value)
    if isinstance(source, str):
        from tokenmill.tokenizers import get_tokenizer

        tok = get_tokenizer(tokenizer)  # names, paths and tokenizer objects alike
        if isinstance(allowed_special, str) and allowed_special != "all":
            allowed_special = (allowed_special,)  # one token's name, not its characters
        # Like tiktoken, a listed special token the tokenizer lacks is simply never matched.
        known = set(tok.special_tokens)
        special = "all" if allowed_special == "all" else frozenset(allowed_special) & known
        tokens: Any = tok.encode(source, allowed_special=special)
    elif hasattr(source, "splits") and hasattr(source, "__getitem__"):  # a token store
        _check_store_tokenizer(source, tokenizer)
        tokens = source[split]
    else:
        tokens = source
    dataset = WindowDataset(tokens, max_length=max_length, stride=stride)
    return window_loader(
        dataset, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last,
        num_workers=num_workers, generator=generator,
    )
