"""A mixture's windows: ``MixtureDataset``, its components' index spaces concatenated.

Index ``offsets[k] + i`` is component ``k``'s window ``i``. A batch is split by component,
each component's rows are fetched in one step, and the rows are put back in the sampler's
order. Dict batches (``return_dict=True`` datasets) keep their per-row tensors, gain
``component_ids`` and get their batch-level fields again from ``finish_batch``.
"""

from __future__ import annotations

import bisect
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


def _one_map(tokens: Any) -> bool:
    """Whether ``tokens`` is one array in memory or in one map: an ndarray or a one-shard split."""
    if isinstance(tokens, np.ndarray):
        return True
    bounds = getattr(tokens, "shard_bounds", None)
    return bounds is not None and len(bounds) == 2


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
        self._views: list[np.ndarray] | None = None
        self._offset_list = self.offsets.tolist()
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
        if self._plain and len(indices) <= _ROW_LOOP and self._windows_views() is not None:
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
        """A few rows of in-memory components: one copy each beats masks and fancy indexing."""
        idx = np.asarray(indices)
        if idx.ndim != 1 or (idx.size and idx.dtype.kind not in "iu"):
            raise TypeError(f"window indices must be a 1-D sequence of ints, got dtype {idx.dtype} shape {idx.shape}")
        ids, n = idx.tolist(), len(self)
        if ids and (min(ids) < 0 or max(ids) >= n):
            bad = min(ids) if min(ids) < 0 else max(ids)
            raise IndexError(f"window index {bad} is out of range for {n} windows")
        views, offsets, stride = self._views, self._offset_list, self.stride
        assert views is not None  # checked by the caller
        rows = np.empty((len(ids), self.max_length + 1), dtype=self._dtype)  # (batch, max_length + 1)
        for r, i in enumerate(ids):
            k = bisect.bisect_right(offsets, i) - 1
            rows[r] = views[k][(i - offsets[k]) * stride]
        inputs = torch.from_numpy(rows[:, :-1].astype(np.int64))  # (batch, max_length)
        targets = torch.from_numpy(rows[:, 1:].astype(np.int64))  # (batch, max_length)
        return [inputs, targets]

    def _windows_views(self) -> list[np.ndarray] | None:
        """Each component's windows as one strided view (no copy), or None if one cannot be viewed.

        An array is viewed as it is, a store split of one shard through its one map (slicing a
        ``TokenArray`` inside a shard is a view); a split of several shards cannot be.
        """
        if self._views is None and all(_one_map(ds.tokens) for ds in self.datasets):
            span = self.max_length + 1
            whole = [ds.tokens if isinstance(ds.tokens, np.ndarray) else ds.tokens[0 : len(ds.tokens)]
                     for ds in self.datasets]
            self._views = [np.lib.stride_tricks.sliding_window_view(t, span) for t in whole]
        return self._views

    def __getstate__(self) -> dict[str, Any]:
        return self.__dict__ | {"_views": None}  # views pickle as copies: rebuilt where used

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
