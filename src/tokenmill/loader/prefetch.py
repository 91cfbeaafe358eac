"""Fetching ahead what the seeded order will read next, for stores on object storage.

The seeded order is a pure function of (seed, epoch, position), so the shards the next
global batches need are known before they are asked for: :class:`PrefetchingBatchSampler`
reads this rank's order a few batches ahead of the loader (a second iterator over the same
permutation, so the loader's position and state dict are untouched) and hands the shards
those windows touch to the store's background fetcher. A restored state starts both at the
restored position, so a resumed job fetches exactly what its next batches need.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tokenmill.loader.seeded_sampler import SeededBatchSampler, _SeededIterator

__all__ = ["PREFETCH_BATCHES", "PrefetchingBatchSampler", "ShardPrefetcher"]

PREFETCH_BATCHES = 8  # global batches read ahead of the loader


class ShardPrefetcher:
    """Window indices -> the shard objects of ``store[split]`` they touch -> fetched in the background."""

    def __init__(self, store: Any, split: str, *, max_length: int, stride: int) -> None:
        self.remote = store._remote
        self.bounds = store[split].shard_bounds  # (n_shards + 1,) global starts
        self.shas = [sh["bin_sha256"] for sh in store.manifest["splits"][split]["shards"]]
        self.span, self.stride = max_length + 1, stride

    def shards_of(self, indices: np.ndarray) -> list[int]:
        """The shards the windows ``indices`` read, in the order first needed."""
        starts = np.asarray(indices, np.int64) * self.stride  # (batch,)
        first = np.searchsorted(self.bounds, starts, side="right") - 1
        last = np.searchsorted(self.bounds, starts + self.span - 1, side="right") - 1
        last = np.minimum(last, len(self.shas) - 1)
        needed: dict[int, None] = {}
        for a, b in zip(first.tolist(), last.tolist()):
            for s in range(a, b + 1):
                needed[s] = None
        return list(needed)

    def __call__(self, indices: np.ndarray) -> None:
        self.remote.prefetch([self.shas[s] for s in self.shards_of(indices)])


class PrefetchingBatchSampler(SeededBatchSampler):
    """A ``SeededBatchSampler`` that fetches the shards of the next ``PREFETCH_BATCHES`` batches ahead.

    Same batches, length and state dicts as its base class; ``prefetcher`` (None: none) is
    called with each batch's window indices a few batches before the loader asks for it.
    """

    prefetcher: ShardPrefetcher | None = None
    depth: int = PREFETCH_BATCHES

    def __iter__(self) -> Any:
        live = super().__iter__()
        if self.prefetcher is None:
            return live
        return _AheadIterator(self, live)


class _AheadIterator(Iterator[np.ndarray]):
    """The loader's iterator, with a second one over the same order running ``depth`` batches ahead."""

    def __init__(self, sampler: PrefetchingBatchSampler, live: _SeededIterator) -> None:
        self._sampler, self._live = sampler, live
        self._peek: _SeededIterator | None = None
        self._ahead()  # the first batches (or a restored position's) before the first is asked for

    def _ahead(self) -> None:
        s, live = self._sampler, self._live
        if self._peek is None or self._peek.epoch != live.epoch or self._peek.next_global_batch < live.next_global_batch:
            self._peek = _SeededIterator(s, live.epoch, live.next_global_batch)
        resume = s._resume  # the peek must not consume a restored position meant for the loader
        try:
            while self._peek.next_global_batch < live.next_global_batch + s.depth:
                s.prefetcher(next(self._peek))  # type: ignore[misc]
        except StopIteration:
            pass
        finally:
            s._resume = resume

    def __iter__(self) -> _AheadIterator:
        return self

    def __next__(self) -> np.ndarray:
        batch = next(self._live)
        self._ahead()
        return batch

    def state_dict(self) -> dict[str, Any]:
        return self._live.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._live.load_state_dict(state_dict)
        self._peek = None
        self._ahead()
