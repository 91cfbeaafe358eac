"""``tokenmill.windows``: the loader's public names where the README documents them.

The code is in ``tokenmill.loader`` (``dataloader``, ``dataset``, ``book_sampler``,
``seeded_sampler``); this module only re-exports it.
"""

from tokenmill.loader.book_sampler import WindowBatchSampler
from tokenmill.loader.dataloader import WindowLoader, create_dataloader, window_loader
from tokenmill.loader.dataset import WindowDataset, as_token_array
from tokenmill.loader.seeded_sampler import SeededBatchSampler
from tokenmill.tokenizers.base import ENDOFTEXT

__all__ = [
    "ENDOFTEXT",
    "SeededBatchSampler",
    "WindowBatchSampler",
    "WindowDataset",
    "WindowLoader",
    "as_token_array",
    "create_dataloader",
    "window_loader",
]
