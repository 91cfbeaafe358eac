"""The seeded, rank-aware order: ``SeededBatchSampler``, resumable in O(1) at any world size.

It yields whole batches of window indices (int64 arrays), which ``WindowDataset`` gathers in
one step: a pure function of ``(seed, epoch, position)`` (``tokenmill.loader.permutation``),
cut into global batches of ``batch_size * world_size`` windows of which each rank takes its
slice, with ``set_epoch``, ``state_dict`` and ``load_state_dict`` as torch and torchdata expect.
The book's order (torch's global RNG) is ``tokenmill.loader.book_sampler``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from torch.utils.data import Sampler

from tokenmill.common.checks import non_negative_int, positive_int, rank_and_world_size
from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.loader.block_permutation import LocalOrder
from tokenmill.loader.permutation import PERMUTATION_VERSION, Permutation, check_seed
from tokenmill.loader.state import STATE_FORMAT, STATE_VERSION, check_state

__all__ = ["SeededBatchSampler"]

_CHUNK_WINDOWS = 8192  # positions permuted per numpy call: 64 KiB of indices, whatever n is


class SeededBatchSampler(Sampler[np.ndarray]):
    """Rank ``rank``'s batches of a seeded permutation of the windows, resumable in O(1).

    With ``B = batch_size * world_size``, global batch ``g`` of an epoch is the windows at
    positions ``[g*B, (g+1)*B)`` of ``Permutation(n_windows, seed=seed, epoch=epoch)`` (or of
    ``range(n_windows)`` if not ``shuffle``; of ``order.permutation(...)``, the locality-preserving
    order of ``tokenmill.loader.block_permutation``, given ``order=LocalOrder(...)``), and this rank yields its slice ``[rank*batch_size,
    (rank+1)*batch_size)`` of it. So the global batches depend on ``(seed, epoch, B)`` only,
    and an epoch hands every window out at most once (exactly once unless ``drop_last``).

    Pitfalls: ``drop_last=False`` divides the last, partial global batch the same way, so some
    ranks get a shorter batch or none (``len`` differs between ranks by at most one); nothing
    is repeated to pad it. As with torch's ``DistributedSampler``, call ``set_epoch(e)``
    before each epoch or every epoch has the same order. ``state_dict`` records the global
    position, so any rank's state restores any rank of a job with the same ``B``.

    >>> s = SeededBatchSampler(10, 2, seed=123, rank=1, world_size=2)
    >>> [b.tolist() for b in s]  # global batches [3, 8, 5, 7], [2, 1, 4, 6], [0, 9]
    [[5, 7], [4, 6]]
    >>> it = iter(s); _ = next(it); s.state_dict()["next_global_batch"]
    1
    """

    # Set by create_dataloader when stride was left to its default: a state saved with another
    # stride is then explained as the 0.2.0 change of default (tokenmill.loader.state).
    stride_defaulted = False
    chunk_windows = _CHUNK_WINDOWS  # positions an iterator maps per numpy call, at most
    local_order: LocalOrder | None = None  # None: the uniform permutation

    def __init__(
        self, n_windows: int, batch_size: int, *, seed: int | None, rank: int = 0,
        world_size: int = 1, shuffle: bool = True, drop_last: bool = False,
        dataset_id: dict[str, Any] | None = None, order: LocalOrder | None = None,
    ) -> None:
        self.n_windows = positive_int("n_windows", n_windows)
        self.batch_size = positive_int("batch_size", batch_size)
        self.rank, self.world_size = rank_and_world_size(rank, world_size)
        self.shuffle, self.drop_last = bool(shuffle), bool(drop_last)
        if self.shuffle and seed is None:
            raise OptionError("seed", "SeededBatchSampler({shuffle=True}) needs a seed; pass {seed=123}")
        self.seed = None if seed is None else check_seed(seed)
        self.dataset_id = dataset_id  # what a state dict must match (see tokenmill.loader.state)
        if order is not None and not isinstance(order, LocalOrder):
            raise OptionTypeError("order", "{order} must be None or a LocalOrder, got {0}", type(order).__name__)
        if order is not None and not self.shuffle:
            raise OptionError("order", "{order=LocalOrder(...)} is a shuffle; with {shuffle=False} drop it")
        self.local_order = order  # None: the uniform permutation; else tokenmill.loader.block_permutation
        self.global_batch_size = B = self.batch_size * self.world_size
        n = self.n_windows
        self._end = n - n % B if self.drop_last else n  # positions handed out per epoch
        self.num_global_batches = -(-self._end // B)
        self._check_every_rank_gets_windows()
        self.epoch = 0
        self._resume = 0  # the global batch the next iterator starts at (set by load_state_dict)
        self._live: _SeededIterator | None = None

    def _check_every_rank_gets_windows(self) -> None:
        n, size, B, ws = self.n_windows, self.batch_size, self.global_batch_size, self.world_size
        if self._end == 0:
            raise OptionError(
                "batch_size",
                "{drop_last=True} drops every batch: {0} windows make no full global batch of "
                "{batch_size=%d} x {world_size=%d} = {1}; lower {batch_size} to at most {2}, "
                "give more windows, or pass {drop_last=False}" % (size, ws),
                n, B, max(1, n // ws),
            )
        starved = (ws - 1) - (n - 1) // size if n < B else 0
        if starved > 0:
            raise OptionError(
                "batch_size",
                "{0} windows in batches of {batch_size=%d} leave {1} of the {world_size=%d} "
                "ranks with no window at all (their loaders would be empty and their collectives "
                "would hang); lower {batch_size} to at most {2}, use fewer ranks, or give more "
                "windows" % (size, ws),
                n, starved, max(1, n // ws),
            )

    def __len__(self) -> int:
        """This rank's batches in a whole epoch (the last may be short, or missing)."""
        full, rest = divmod(self._end, self.global_batch_size)
        return full + (1 if rest > self.rank * self.batch_size else 0)

    def __iter__(self) -> _SeededIterator:
        # A restored position serves the iteration that draws from it (DataLoader iterators
        # may call iter() twice before drawing); the one after it starts the epoch over.
        self._live = _SeededIterator(self, self.epoch, self._resume)
        return self._live

    def set_epoch(self, epoch: int) -> None:
        """Use epoch ``epoch``'s order from the next ``iter()``, as ``DistributedSampler.set_epoch``.

        Setting the epoch a restored state is in keeps the restored position, so the usual
        ``for epoch in range(start, n): sampler.set_epoch(epoch)`` loop resumes mid-epoch.
        """
        epoch = non_negative_int("epoch", epoch)
        if epoch >= 2**63:  # the permutation's keys take the epoch mod 2**64: it would wrap
            raise OptionError("epoch", "{epoch} must be < 2**63, got {0}", epoch)
        if epoch != self.epoch:
            self.epoch, self._resume, self._live = epoch, 0, None

    def state_dict(self) -> dict[str, Any]:
        """The order's state: a few ints (epoch, next global batch, sizes, seed, dataset id)."""
        if self._live is not None:
            return self._live.state_dict()
        return self._state(self.epoch, self._resume)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue from ``state_dict`` (any rank's, any world size with the same ``B``) at the next ``iter()``."""
        self.epoch, self._resume = self.check_state(state_dict)
        self._live = None

    def check_state(self, state_dict: Any) -> tuple[int, int]:
        """``(epoch, next_global_batch)`` of ``state_dict`` if it fits this sampler, else ValueError."""
        return check_state(self, state_dict)

    def order(self, epoch: int) -> Callable[[np.ndarray], np.ndarray] | None:
        """Epoch ``epoch``'s positions -> window indices, any shape (None: the positions themselves)."""
        if not self.shuffle:
            return None
        if self.local_order is not None:
            return self.local_order.permutation(self.n_windows, seed=self.seed, epoch=epoch)
        return Permutation(self.n_windows, seed=self.seed, epoch=epoch)

    def _state(self, epoch: int, next_global_batch: int) -> dict[str, Any]:
        state = {
            "format": STATE_FORMAT,
            "version": STATE_VERSION,
            "permutation_version": PERMUTATION_VERSION,
            "epoch": epoch,
            "next_global_batch": next_global_batch,
            "windows_done": min(next_global_batch * self.global_batch_size, self._end),
            "global_batch_size": self.global_batch_size,
            "n_windows": self.n_windows,
            "seed": self.seed,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "dataset": self.dataset_id,
            "saved_by": {"rank": self.rank, "world_size": self.world_size, "batch_size": self.batch_size},
        }
        if self.local_order is not None:  # the uniform order's state stays as it was: no "order" field
            state["order"] = self.local_order.state()
        return state


class _SeededIterator(Iterator[np.ndarray]):
    """One pass over a ``SeededBatchSampler``'s epoch: its position is the next global batch."""

    def __init__(self, sampler: SeededBatchSampler, epoch: int, start: int) -> None:
        self._sampler = sampler
        # The permuted indices of the next few global batches of this rank, (K, batch_size).
        self._chunk_batches = max(1, sampler.chunk_windows // sampler.batch_size)
        self._seek(epoch, start)

    def _seek(self, epoch: int, next_global_batch: int) -> None:
        s = self._sampler
        self.epoch, self.next_global_batch = epoch, next_global_batch
        self._perm = s.order(epoch)
        self._first, self._chunk = -1, np.empty((0, s.batch_size), np.int64)
        # K starts small and grows to _chunk_batches: the first batch after a seek is quick.
        self._rows = min(4, self._chunk_batches)

    def __iter__(self) -> _SeededIterator:
        return self

    def __next__(self) -> np.ndarray:
        s = self._sampler
        s._resume = 0
        while self.next_global_batch < s.num_global_batches:
            g = self.next_global_batch
            lo = g * s.global_batch_size + s.rank * s.batch_size
            size = min(s.batch_size, s._end - lo)
            self.next_global_batch = g + 1
            if size > 0:  # a rank's slice of the partial last global batch can be empty
                return self._batch(g)[:size]
        raise StopIteration

    def _batch(self, g: int) -> np.ndarray:
        if not self._first <= g < self._first + len(self._chunk):
            s = self._sampler
            rows = np.arange(g, min(g + self._rows, s.num_global_batches), dtype=np.int64)
            self._rows = min(self._rows * 8, self._chunk_batches)
            starts = rows * s.global_batch_size + s.rank * s.batch_size
            positions = starts[:, None] + np.arange(s.batch_size)  # (K, batch_size)
            # Positions past the end fill a short last row; they are cut off, never yielded.
            np.minimum(positions, s._end - 1, out=positions)
            chunk = positions if self._perm is None else self._perm(positions)
            chunk.flags.writeable = False
            self._first, self._chunk = g, chunk
        return self._chunk[g - self._first]  # (batch_size,) a read-only view

    def state_dict(self) -> dict[str, Any]:
        return self._sampler._state(self.epoch, self.next_global_batch)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._seek(*self._sampler.check_state(state_dict))
