"""Which rank this loader is: as given, else torch.distributed's, else what a launcher says.

Pitfall: under torchrun with torch.distributed not yet initialised, guessing rank 0 of 1 would
feed every rank the same batches; ``loader_ranks`` refuses that instead.
"""

from __future__ import annotations

import os

import torch

from tokenmill.common.checks import rank_and_world_size
from tokenmill.common.errors import OptionError

__all__ = ["launched_rank", "loader_ranks"]


def launched_rank() -> tuple[str, str] | None:
    """``(RANK, WORLD_SIZE)`` as a launcher (torchrun) set them when they say several ranks, else None."""
    rank, world = os.environ.get("RANK", "").strip(), os.environ.get("WORLD_SIZE", "").strip()
    several = world not in ("", "1") or rank not in ("", "0")
    return (rank or "?", world or "?") if several else None


def loader_ranks(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """``(rank, world_size)``: as given, else torch.distributed's when initialised, else 0 and 1.

    Pitfall: under a launcher that says several ranks (``RANK``/``WORLD_SIZE``) with
    torch.distributed not yet initialised, guessing 0 and 1 would feed every rank the same
    batches: that is refused (ValueError) unless both are given.
    """
    dist = torch.distributed
    live = dist.is_available() and dist.is_initialized()
    launched = None if live or (rank is not None and world_size is not None) else launched_rank()
    if launched is not None:
        raise OptionError(
            "world_size",
            "the environment says this process is rank {0} of {1} (RANK and WORLD_SIZE, as "
            "torchrun sets them), but torch.distributed is not initialised and {rank=} and "
            "{world_size=} were not both given, so every rank would load the same batches; "
            "call torch.distributed.init_process_group() before create_dataloader, or pass "
            "{rank=int(os.environ['RANK'])} and {world_size=int(os.environ['WORLD_SIZE'])} "
            "({rank=0} and {world_size=1} for a loader of this process alone)",
            *launched,
        )
    return rank_and_world_size(
        rank if rank is not None else dist.get_rank() if live else 0,
        world_size if world_size is not None else dist.get_world_size() if live else 1,
    )
