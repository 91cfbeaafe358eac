"""The book's order: torch's ``RandomSampler`` shuffle, batched, and resumable mid-epoch.

``WindowBatchSampler`` yields exactly the batches (and makes exactly the RNG draws) of
``BatchSampler(RandomSampler(...))``, so ``torch.manual_seed(123)`` gives the book's batches.
Its ``state_dict`` records how the epoch's shuffle was drawn (the seed of its private
generator, or a caller's generator's state) and how many batches were handed out, so
``create_dataloader(..., stateful=True)`` without ``seed=`` resumes exactly too: restoring
redraws the one ``randperm`` (O(n_windows)), never replays batches.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from tokenmill.common.checks import non_negative_int, positive_int
from tokenmill.common.errors import ExplainedError
from tokenmill.loader.state import BOOK_FORMAT, STATE_VERSION, check_book_state

__all__ = ["WindowBatchSampler"]


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

    # Set by create_dataloader when stride was left to its default: a state saved with another
    # stride is then explained as the 0.2.0 change of default (tokenmill.loader.state).
    stride_defaulted = False

    def __init__(
        self, n_windows: int, batch_size: int, *, shuffle: bool = True, drop_last: bool = False,
        generator: torch.Generator | None = None, dataset_id: dict[str, Any] | None = None,
    ) -> None:
        self.n_windows = positive_int("n_windows", n_windows)
        self.batch_size = positive_int("batch_size", batch_size)
        self.shuffle, self.drop_last, self.generator = bool(shuffle), bool(drop_last), generator
        self.dataset_id = dataset_id  # what a state dict must match (see tokenmill.loader.state)
        self.epoch = 0
        self._drawn: dict[str, Any] | None = None  # how the current epoch's shuffle was drawn
        self._done = 0  # batches of the current epoch handed out
        self._restore: tuple[dict[str, Any] | None, int] | None = None

    def __len__(self) -> int:
        full, rest = divmod(self.n_windows, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def set_epoch(self, epoch: int) -> None:
        """Accepted so that one training loop serves both orders; the epoch changes nothing here.

        The book's order draws a new shuffle from torch's RNG at every epoch already.
        """
        self.epoch = non_negative_int("epoch", epoch)

    def state_dict(self) -> dict[str, Any]:
        """How this epoch's shuffle was drawn and how many batches were handed out."""
        drawn, done = self._restore if self._restore is not None else (self._drawn, self._done)
        return {
            "format": BOOK_FORMAT,
            "version": STATE_VERSION,
            "n_windows": self.n_windows,
            "batch_size": self.batch_size,
            "shuffle": self.shuffle,
            "drop_last": self.drop_last,
            "dataset": self.dataset_id,
            "drawn": drawn,
            "position": done,
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Continue the saved epoch at the next ``iter()``: the same shuffle, from the same batch."""
        drawn, position = check_book_state(self, state_dict)
        if drawn is not None and "generator_state" in drawn and self.generator is None:
            raise ExplainedError(
                "this state was saved by a loader made with {generator=}, whose state it holds; "
                "pass a torch.Generator as {generator=} to restore it"
            )
        self._restore = (drawn, position)

    def _generator(self, drawn: dict[str, Any] | None) -> tuple[torch.Generator, dict[str, Any]]:
        """The generator that draws the epoch's shuffle, and how to draw it again."""
        if drawn is not None and "seed" in drawn:
            return torch.Generator().manual_seed(int(drawn["seed"])), drawn
        if drawn is not None and self.generator is not None:  # put back where the epoch began
            self.generator.set_state(torch.tensor(drawn["generator_state"], dtype=torch.uint8))
            return self.generator, drawn
        if self.generator is None:  # RandomSampler's way: one draw from the global RNG seeds its own
            seed = int(torch.empty((), dtype=torch.int64).random_().item())
            return torch.Generator().manual_seed(seed), {"seed": seed}
        return self.generator, {"generator_state": self.generator.get_state().tolist()}

    def __iter__(self) -> Iterator[np.ndarray]:
        # A generator: nothing below runs (no RNG draw) until the first batch is asked for.
        n, size = self.n_windows, self.batch_size
        stop = n - n % size if self.drop_last else n
        drawn, first = self._restore if self._restore is not None else (None, 0)
        self._restore = None
        if not self.shuffle:
            self._drawn, self._done = None, first
            for start in range(first * size, stop, size):
                self._done += 1
                yield np.arange(start, min(start + size, n), dtype=np.int64)
            return
        generator, self._drawn = self._generator(drawn)
        self._done = first
        order = torch.randperm(n, generator=generator).numpy()  # (n,) int64, shares the tensor
        order.flags.writeable = False
        # RandomSampler draws an unused permutation when it runs out, which BatchSampler hits
        # while filling a partial last batch or when asked for one batch more. Only a caller's
        # generator can see that draw, so only then is it repeated, at the same moment.
        visible = self.generator is not None
        for start in range(first * size, stop, size):
            if visible and start + size > n:
                torch.randperm(n, generator=generator)
            self._done += 1
            yield order[start : start + size]  # (<= batch_size,) a view
        if visible and stop % size == 0:
            torch.randperm(n, generator=generator)
