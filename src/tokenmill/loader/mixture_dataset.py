"""A mixture's windows: ``MixtureDataset``, its components' index spaces concatenated.

Index ``offsets[k] + i`` is component ``k``'s window ``i``. A batch is split by component,
each component's rows are fetched in one step, and the rows are put back in the sampler's
order. Dict batches (``return_dict=True`` datasets) keep their per-row tensors, gain
``component_ids`` and get their batch-level fields again from ``finish_batch``.
"""

from __future__ import annotations

import bisect
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

from tokenmill.loader.batches import finish_batch
from tokenmill.loader.dataset import WindowDataset

__all__ = ["BATCH_FIELDS", "MixtureDataset"]

BATCH_FIELDS = ("cu_seqlens", "max_seqlen", "num_items_in_batch")  # finish_batch's, recomputed
_ROW_LOOP = 64  # batches of up to this many rows are gathered row by row
_MAX_SHARD_VIEWS = 128  # shards' maps a mixture keeps open for that, as TokenArray's max_open_shards


def _shard_bounds(tokens: Any) -> list[int] | None:
    """Where the shards of ``tokens`` start, and its length: ``[0, n]`` for an array; None if unknown."""
    if isinstance(tokens, np.ndarray):
        return [0, len(tokens)]
    bounds = getattr(tokens, "shard_bounds", None)
    return None if bounds is None else [int(b) for b in bounds]


class MixtureDataset(Dataset):
    """The windows of several datasets, one index space: ``batch(indices)`` as one dataset's.

    ``names[k]`` names ``datasets[k]``; all share ``max_length`` and ``stride``. ``n_tokens``
    is their sum.

    >>> ds = MixtureDataset(["a", "b"], [WindowDataset(list(range(10)), max_length=2, stride=2),
    ...                                  WindowDataset(list(range(100, 110)), max_length=2, stride=2)])
    >>> len(ds), ds.offsets.tolist(), ds.batch([5, 0])[0].tolist()
    (8, [0, 4, 8], [[102, 103], [0, 1]])
    """

    def __init__(self, names: Sequence[str], datasets: Sequence[Any]) -> None:
        self.names, self.datasets = list(names), list(datasets)
        first = self.datasets[0]
        for name, ds in zip(self.names, self.datasets):
            if (ds.max_length, ds.stride) != (first.max_length, first.stride):
                raise ValueError(
                    f"component {name!r} has max_length={ds.max_length}, stride={ds.stride}, "
                    f"component {self.names[0]!r} max_length={first.max_length}, "
                    f"stride={first.stride}: a mixture's windows must have one shape"
                )
        self.max_length, self.stride = first.max_length, first.stride
        self.n_tokens = sum(int(ds.n_tokens) for ds in self.datasets)
        self.offsets = np.concatenate([[0], np.cumsum([len(ds) for ds in self.datasets])]).astype(np.int64)
        # Plain sliding windows are gathered into one buffer: one conversion per batch, as one store.
        self._plain = all(type(ds) is WindowDataset for ds in self.datasets)
        dtypes = [getattr(ds.tokens, "dtype", None) for ds in self.datasets]
        self._offset_list = self.offsets.tolist()
        # Token positions where each component's shards start, and its end: [0, n] for an array.
        bounds = [_shard_bounds(ds.tokens) for ds in self.datasets] if self._plain else []
        self._bounds = bounds if bounds and None not in bounds else None
        self._shard_views: OrderedDict[tuple[int, int], np.ndarray] = OrderedDict()
        self._whole: list[np.ndarray | None] | None = None
        self._bytes: list[memoryview] = []  # set with _whole (see _whole_views)
        self._dtype = np.result_type(*dtypes) if self._plain and None not in dtypes else np.dtype(np.int64)

    def __len__(self) -> int:
        return int(self.offsets[-1])

    def __repr__(self) -> str:
        parts = ", ".join(f"{n}={len(d)}" for n, d in zip(self.names, self.datasets))
        return f"MixtureDataset({parts}, max_length={self.max_length}, stride={self.stride})"

    def split(self, indices: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(component, local index)`` of each index, int64 arrays."""
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if idx.size and (int(idx.min()) < 0 or int(idx.max()) >= len(self)):
            bad = int(idx.min()) if int(idx.min()) < 0 else int(idx.max())
            raise IndexError(f"window index {bad} is out of range for {len(self)} windows")
        k = np.searchsorted(self.offsets, idx, side="right") - 1
        return k, idx - self.offsets[k]

    def batch(self, indices: Any) -> Any:
        """The windows at ``indices``, as the components' batches are (list or dict), in order."""
        if self._bounds is not None and len(indices) <= _ROW_LOOP:
            return self._rows_batch(indices)
        k, local = self.split(indices)
        present = np.flatnonzero(np.bincount(k, minlength=len(self.datasets))).tolist()
        if self._plain:
            return self._plain_batch(k, local, present)
        parts = {c: self.datasets[c].batch(local[k == c]) for c in present}
        first = next(iter(parts.values()))
        if isinstance(first, dict):
            return self._dict_batch(k, parts)
        out = [torch.empty((len(k), *t.shape[1:]), dtype=t.dtype) for t in first]
        for c, part in parts.items():
            rows = torch.from_numpy(np.flatnonzero(k == c))
            for o, t in zip(out, part):
                o[rows] = t
        return out

    def _plain_batch(self, k: np.ndarray, local: np.ndarray, present: list[int]) -> list[torch.Tensor]:
        if len(present) == 1:
            return self.datasets[present[0]].batch(local)
        span = self.max_length + 1
        rows = np.empty((len(k), span), dtype=self._dtype)  # (batch, max_length + 1)
        for c in present:
            here = np.flatnonzero(k == c)
            # split() checked the indices: the starts are computed here, not checked again
            rows[here] = self.datasets[c]._gather(local[here] * self.stride)  # (n_c, max_length + 1)
        inputs = torch.from_numpy(rows[:, :-1].astype(np.int64))  # (batch, max_length)
        targets = torch.from_numpy(rows[:, 1:].astype(np.int64))  # (batch, max_length)
        return [inputs, targets]

    def _rows_batch(self, indices: Any) -> list[torch.Tensor]:
        """A few rows, one copy each from a view of its shard: cheaper than masks and a gather per component."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"window indices must be a 1-D sequence of ints, got dtype {idx.dtype} shape {idx.shape}")
        ids, n = idx.tolist(), len(self)
        if ids and (min(ids) < 0 or max(ids) >= n):
            bad = min(ids) if min(ids) < 0 else max(ids)
            raise IndexError(f"window index {bad} is out of range for {n} windows")
        offsets, stride, span, bounds = self._offset_list, self.stride, self.max_length + 1, self._bounds
        whole = self._whole_views()
        if self._bytes:
            # bytes.join copies the rows back to back in C: their memory loads overlap, which
            # a numpy copy per row (Python between rows) does not allow.
            size, views = self._dtype.itemsize, self._bytes
            step, width, parts = stride * size, span * size, []
            for i in ids:
                k = bisect.bisect_right(offsets, i) - 1
                start = (i - offsets[k]) * step
                parts.append(views[k][start : start + width])
            rows = np.frombuffer(b"".join(parts), self._dtype).reshape(len(ids), span)  # (batch, max_length + 1)
            inputs = torch.from_numpy(rows[:, :-1].astype(np.int64))  # (batch, max_length)
            targets = torch.from_numpy(rows[:, 1:].astype(np.int64))  # (batch, max_length)
            return [inputs, targets]
        rows = np.empty((len(ids), span), dtype=self._dtype)  # (batch, max_length + 1)
        for r, i in enumerate(ids):
            k = bisect.bisect_right(offsets, i) - 1
            start = (i - offsets[k]) * stride
            if whole[k] is not None:  # one shard (or an array): no shard to find
                rows[r] = whole[k][start]
                continue
            b = bounds[k]
            shard = bisect.bisect_right(b, start) - 1
            if start + span <= b[shard + 1]:
                rows[r] = self._shard_windows(k, shard)[start - b[shard]]
            else:  # across two shards: the store stitches it
                rows[r] = self.datasets[k].tokens[start : start + span]
        inputs = torch.from_numpy(rows[:, :-1].astype(np.int64))  # (batch, max_length)
        targets = torch.from_numpy(rows[:, 1:].astype(np.int64))  # (batch, max_length)
        return [inputs, targets]

    def _whole_views(self) -> list[np.ndarray | None]:
        """Per component, all its windows as one view if it has one shard, else None.

        Also sets ``_bytes``: each component's tokens as raw bytes (a memoryview, no copy) when
        every component is one contiguous shard of the batch's dtype, else an empty list.
        """
        if self._whole is None:
            self._whole = [self._shard_windows(k, 0) if len(b) == 2 else None for k, b in enumerate(self._bounds)]
            tokens = [None if w is None else self.datasets[k].tokens[: self._bounds[k][1]]
                      for k, w in enumerate(self._whole)]
            flat = all(isinstance(t, np.ndarray) and t.dtype == self._dtype and t.flags.c_contiguous for t in tokens)
            self._bytes = [memoryview(t).cast("B") for t in tokens] if flat else []
        return self._whole

    def _shard_windows(self, k: int, shard: int) -> np.ndarray:
        """Component ``k``'s shard as a strided view of its windows (no copy), kept in a bounded cache."""
        view = self._shard_views.get((k, shard))
        if view is None:
            lo, hi = self._bounds[k][shard], self._bounds[k][shard + 1]
            # Slicing inside one shard is a view of its map, for an array and a store split alike.
            part = self.datasets[k].tokens[lo:hi]
            view = self._shard_views[(k, shard)] = np.lib.stride_tricks.sliding_window_view(part, self.max_length + 1)
            if len(self._shard_views) > _MAX_SHARD_VIEWS:
                self._shard_views.popitem(last=False)  # each holds a map (and its file descriptor) open
        else:
            self._shard_views.move_to_end((k, shard))
        return view

    def __getstate__(self) -> dict[str, Any]:
        # Views pickle as copies, memoryviews not at all: rebuilt where used.
        return self.__dict__ | {"_shard_views": OrderedDict(), "_whole": None, "_bytes": []}

    def _dict_batch(self, k: np.ndarray, parts: dict[int, dict[str, Any]]) -> dict[str, Any]:
        n = len(k)
        first = next(iter(parts.values()))
        keys = [key for key, v in first.items() if key not in BATCH_FIELDS and isinstance(v, torch.Tensor)]
        out = {key: torch.empty((n, *first[key].shape[1:]), dtype=first[key].dtype) for key in keys}
        for c, part in parts.items():
            rows = torch.from_numpy(np.flatnonzero(k == c))
            for key in keys:
                out[key][rows] = part[key]
        out["component_ids"] = torch.from_numpy(k.copy())  # (batch,) int64: index into names
        return finish_batch(out)

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            batch = self.batch([index])
            if isinstance(batch, dict):
                return {key: v[0] if isinstance(v, torch.Tensor) and key not in BATCH_FIELDS else v
                        for key, v in batch.items()}
            return tuple(t[0] for t in batch)
        return self.batch(index)

    def __getitems__(self, indices: Sequence[int]) -> list[Any]:
        """torch's batched fetch: one gather, returned as per-window samples."""
        batch = self.batch(indices)
        if isinstance(batch, dict):
            return [self[i] for i in indices]
        return list(zip(*(t.unbind(0) for t in batch)))
