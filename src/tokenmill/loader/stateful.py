"""``StatefulWindowLoader``: torchdata's ``StatefulDataLoader`` over windows (extra ``stateful``).

Imported only by ``create_dataloader(..., stateful=True)``; importing it without torchdata
raises the ImportError that ``create_dataloader`` turns into advice.
"""

from __future__ import annotations

import warnings
from typing import Any

from torchdata.stateful_dataloader import StatefulDataLoader

from tokenmill.loader.state import sampler_state_of

__all__ = ["StatefulWindowLoader"]


class StatefulWindowLoader(StatefulDataLoader):
    """A ``StatefulDataLoader`` over a window sampler, restorable across job shapes.

    ``state_dict()`` is torchdata's, holding the sampler's: for the seeded order a few ints
    (the global position), for the book's order how its epoch was drawn and the batches done.
    ``load_state_dict`` takes any such dict (saved by any rank, at any world size with the same
    global batch size, with any ``num_workers``, or a bare ``sampler.state_dict()``) and hands
    the position to the sampler: the next ``iter()`` continues there, in O(1), replaying nothing.
    """

    # As WindowLoader: the sampler yields whole batches, so torch would record None and False.
    batch_size = property(lambda self: self.sampler.batch_size, lambda self, _: None)
    drop_last = property(lambda self: self.sampler.drop_last, lambda self, _: None)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        with warnings.catch_warnings():  # torchdata 0.11 calls torch.set_vital, deprecated in torch
            warnings.filterwarnings("ignore", message=".*set_vital.*")
            super().__init__(*args, **kwargs)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        # Through the sampler, not torchdata's per-layout restore: torchdata asserts the same
        # num_workers, and would start a fresh epoch after a state saved at an epoch's end.
        self.sampler.load_state_dict(sampler_state_of(state_dict))
        super().load_state_dict({})
