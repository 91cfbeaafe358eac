"""tokenmill: text -> tokens -> token IDs -> sliding windows -> embeddings, for GPT-style models.

The public API. Names that need torch (datasets, loaders, embeddings) are imported on first
use, so that tokenizing, preparing and reading a token store never import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

from tokenmill._version import __version__
from tokenmill.export import export  # eager, as prepare: the subpackage tokenmill.export would shadow a lazy name
from tokenmill.prepare import prepare  # eager: a lazy name would be shadowed by the submodule
from tokenmill.tokenizers import (
    HFTokenizer,
    TiktokenTokenizer,
    Tokenizer,
    WordTokenizer,
    get_tokenizer,
)

# public name -> module that defines it (imported lazily: these modules import torch or are large)
_LAZY = {
    "TokenStore": "tokenmill.store",
    "WindowDataset": "tokenmill.loader.dataset",
    "create_dataloader": "tokenmill.loader.dataloader",
    "InputEmbedding": "tokenmill.embeddings.layers",
    "RotaryEmbedding": "tokenmill.embeddings.rotary",
    "document_causal_mask": "tokenmill.embeddings.masks",
    "document_block_mask": "tokenmill.embeddings.masks",
    "truncate": "tokenmill.tokenizers.truncate",
    "train_tokenizer": "tokenmill.training",
    "import_store": "tokenmill.export",
    "plan_mixture": "tokenmill.loader.plan",
}

__all__ = [
    "HFTokenizer",
    "TiktokenTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "get_tokenizer",
    "__version__",
    "TokenStore",
    "prepare",
    "export",
    "import_store",
    "train_tokenizer",
    "WindowDataset",
    "create_dataloader",
    "plan_mixture",
    "InputEmbedding",
    "RotaryEmbedding",
    "document_causal_mask",
    "document_block_mask",
    "truncate",
]


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'tokenmill' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
