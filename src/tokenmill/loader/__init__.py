"""The loader: token IDs -> sliding windows -> batches, in the book's order or a seeded, resumable one.

``create_dataloader`` (``dataloader``) takes what ``sources`` recognises (text, token IDs, a token
store or its path), windows it with ``WindowDataset`` (``dataset``) or, keeping documents apart,
``DocumentDataset`` (``document_dataset``, over the pieces and packing of ``layouts``) and batches it in the book's
order (``book_sampler``) or a seeded, rank-aware one (``seeded_sampler``, over ``permutation``, or ``block_permutation``'s
locality-preserving order),
whose state dicts ``state`` checks and ``stateful`` restores through torchdata.

Pitfall: the names that need torch are imported on first use, as in the package face, so that
``tokenmill.loader.permutation`` and ``tokenmill.loader.state`` stay free of torch.
"""

from tokenmill.loader.block_permutation import LocalOrder, LocalPermutation
from tokenmill.loader.lazy import __dir__ as __dir__  # the PEP 562 hooks of this front
from tokenmill.loader.lazy import __getattr__ as __getattr__
from tokenmill.loader.permutation import PERMUTATION_VERSION, Permutation, permutation_reference

__all__ = [
    "DocumentDataset",
    "LocalOrder",
    "LocalPermutation",
    "PERMUTATION_VERSION",
    "Permutation",
    "SeededBatchSampler",
    "StatefulWindowLoader",
    "WindowBatchSampler",
    "WindowDataset",
    "WindowLoader",
    "create_dataloader",
    "permutation_reference",
    "window_loader",
]
