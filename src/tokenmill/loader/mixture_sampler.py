"""A mixture's seeded, rank-aware order: ``MixtureBatchSampler``, resumable in O(1) at any world size.

It is the seeded sampler (``tokenmill.loader.seeded_sampler``: global batches of ``B =
batch_size * world_size`` positions, each rank its slice, ``set_epoch``, ``state_dict``) over
the mixture's global positions ``P = epoch * windows_per_epoch + position`` (windows handed out
per epoch), each mapped by ``tokenmill.loader.mixture.Mixture`` to a component's window. So the
next epoch continues every component's stream where it stopped, and a state is a few ints plus
what identifies the mixture.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from tokenmill.loader.mixture import Mixture
from tokenmill.loader.seeded_sampler import SeededBatchSampler
from tokenmill.loader.state import MIXTURE_FORMAT, check_state

__all__ = ["MixtureBatchSampler"]


class MixtureBatchSampler(SeededBatchSampler):
    """Rank ``rank``'s batches of a mixture's global positions, as indices of a ``MixtureDataset``.

    ``names``/``sizes`` are the components and their windows, ``weights`` as ``create_dataloader``
    takes them, ``epoch_windows`` the positions of an epoch. ``windows_drawn`` is, per component,
    the windows drawn in the global batches handed out so far (all ranks), for logging.

    Pitfall: as with one store, call ``set_epoch(e)`` before each epoch, or every epoch repeats
    epoch 0's positions (and so its windows).

    >>> s = MixtureBatchSampler(["a", "b"], [6, 3], {"a": 2, "b": 1}, epoch_windows=9,
    ...                         batch_size=3, seed=0, shuffle=False)
    >>> [b.tolist() for b in s], s.windows_drawn
    ([[0, 6, 1], [2, 7, 3], [4, 8, 5]], {'a': 6, 'b': 3})
    """

    def __init__(
        self, names: list[str], sizes: list[int], weights: Any, *, epoch_windows: int,
        batch_size: int, seed: int, rank: int = 0, world_size: int = 1, shuffle: bool = True,
        drop_last: bool = False, dataset_id: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(
            epoch_windows, batch_size, seed=seed, rank=rank, world_size=world_size,
            shuffle=shuffle, drop_last=drop_last, dataset_id=dataset_id,
        )
        self.mixture = Mixture(
            names, sizes, weights, seed=seed, shuffle=shuffle, global_batch_size=self.global_batch_size,
        )

    # A chunk's windows are permuted in one pass (permute_groups) whatever its components, so
    # chunks as small as one store's keep their arrays in cache and compute little past a stop.
    chunk_windows = 8192

    def order(self, epoch: int) -> Callable[[np.ndarray], np.ndarray]:
        """Epoch ``epoch``'s positions -> the mixture dataset's indices, any shape."""
        first, mixture = epoch * self._end, self.mixture
        return lambda positions: mixture.indices(first + positions)

    def check_state(self, state_dict: Any) -> tuple[int, int]:
        return check_mixture_state(self, state_dict)

    def global_position(self, epoch: int, next_global_batch: int) -> int:
        """The run's global window position at ``next_global_batch`` of ``epoch``."""
        return epoch * self._end + min(next_global_batch * self.global_batch_size, self._end)

    @property
    def windows_drawn(self) -> dict[str, int]:
        """Per component, the windows drawn in the global batches handed out so far (all ranks)."""
        state = self.state_dict()
        position = self.global_position(state["epoch"], state["next_global_batch"])
        return dict(zip(self.mixture.names, self.mixture.counts(position).tolist()))

    def _state(self, epoch: int, next_global_batch: int) -> dict[str, Any]:
        state = super()._state(epoch, next_global_batch)
        position = self.global_position(epoch, next_global_batch)
        # The segments that decided the positions before this one: appending later ones is safe.
        state.update(
            format=MIXTURE_FORMAT, global_position=position,
            schedule=self.mixture.schedule_before(-(-position // self.global_batch_size)),
        )
        return state


def check_mixture_state(sampler: MixtureBatchSampler, state: Any) -> tuple[int, int]:
    """``(epoch, next_global_batch)`` of a mixture's ``state`` if it fits, else ValueError saying why.

    Besides the seeded order's checks (same components and stores, epoch size, seed, ``B``),
    the schedule that decided the saved positions must be this loader's: later segments may be
    added, earlier ones not changed.
    """
    epoch, g = check_state(sampler, state, MIXTURE_FORMAT)
    position = sampler.global_position(epoch, g)
    saved = state.get("schedule")
    have = sampler.mixture.schedule_before(-(-position // sampler.global_batch_size))
    if saved != have:
        def show(segments: Any) -> str:
            if not isinstance(segments, list):
                return repr(segments)[:80]
            return "; ".join(f"from global batch {s[0]}: {_fractions(sampler, s)}" for s in segments)

        raise ValueError(
            f"the state was saved at global position {position} under weights {show(saved)}, but "
            f"this loader's weights before that position are {show(have)}: resuming would change "
            f"the past (windows repeated or skipped); keep the earlier segments as they were and "
            f"add new ones only at later global batches"
        )
    return epoch, g


def _fractions(sampler: MixtureBatchSampler, segment: Any) -> str:
    try:
        _, weights, d = segment
        return "{" + ", ".join(f"{n}: {w}/{d}" for n, w in zip(sampler.mixture.names, weights)) + "}"
    except (TypeError, ValueError):
        return repr(segment)[:80]
