"""The loader front's names that need torch, imported when first asked for (PEP 562).

>>> import tokenmill.loader
>>> tokenmill.loader.WindowDataset.__name__
'WindowDataset'
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

# public name -> the module that defines it (each imports torch)
LAZY = {
    "DocumentDataset": "tokenmill.loader.document_dataset",
    "SeededBatchSampler": "tokenmill.loader.seeded_sampler",
    "StatefulWindowLoader": "tokenmill.loader.stateful",
    "WindowBatchSampler": "tokenmill.loader.book_sampler",
    "WindowDataset": "tokenmill.loader.dataset",
    "WindowLoader": "tokenmill.loader.dataloader",
    "create_dataloader": "tokenmill.loader.dataloader",
    "window_loader": "tokenmill.loader.dataloader",
}


def __getattr__(name: str) -> Any:
    if name in LAZY:
        value = getattr(importlib.import_module(LAZY[name]), name)
        setattr(sys.modules["tokenmill.loader"], name, value)  # looked up once
        return value
    raise AttributeError(f"module 'tokenmill.loader' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(sys.modules["tokenmill.loader"].__all__)
