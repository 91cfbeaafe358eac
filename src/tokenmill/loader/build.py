"""What ``create_dataloader`` is given -> the dataset it batches: ``build_dataset``.

One place turns a source (text, token IDs, a token store or its path) into a window dataset,
so that a loader over one store and each component of a mixture are built the same way.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from tokenmill.loader.dataset import WindowDataset
from tokenmill.loader.sources import check_store_tokenizer, open_store_path
from tokenmill.tokenizers.base import ENDOFTEXT
from tokenmill.tokenizers.load import get_tokenizer

__all__ = ["build_dataset", "source_tokens"]


def source_tokens(
    source: Any, *, tokenizer: Any = None, split: str = "train",
    allowed_special: Collection[str] | str = (ENDOFTEXT,), **remote: Any,
) -> tuple[Any, Any]:
    """``(tokens, source)``: the token IDs ``source`` stands for, and the source as resolved.

    A store's path is opened (the resolved source is then the ``TokenStore``) and its
    ``split`` read; text is encoded as the book does; token IDs are returned as they are.

    >>> tokens, resolved = source_tokens("Hello, world. Hello")
    >>> list(tokens), resolved
    ([15496, 11, 995, 13, 18435], 'Hello, world. Hello')
    """
    store = open_store_path(source, **remote)  # remote: storage_options, cache_dir, cache_limit for a URL
    if store is not None:
        source = store
    if isinstance(source, str):
        # names, paths and tokenizer objects alike; None is the book's tokenizer for text
        tok = get_tokenizer("gpt2" if tokenizer is None else tokenizer)
        if isinstance(allowed_special, str) and allowed_special != "all":
            allowed_special = (allowed_special,)  # one token's name, not its characters
        # Like tiktoken, a listed special token the tokenizer lacks is simply never matched.
        known = set(tok.special_tokens)
        special = "all" if allowed_special == "all" else frozenset(allowed_special) & known
        return tok.encode(source, allowed_special=special), source
    if hasattr(source, "splits") and hasattr(source, "__getitem__"):  # a token store
        check_store_tokenizer(source, tokenizer)
        return source[split], source
    return source, source


def build_dataset(
    source: Any, *, tokenizer: Any = None, split: str = "train",
    allowed_special: Collection[str] | str = (ENDOFTEXT,), max_length: int, stride: int,
    storage_options: dict[str, Any] | None = None, cache_dir: Any = None, cache_limit: Any = None,
) -> tuple[WindowDataset, Any]:
    """``(dataset, source)``: the windows ``create_dataloader`` batches, and the resolved source.

    >>> dataset, _ = build_dataset(list(range(10)), max_length=4, stride=2)
    >>> len(dataset), dataset[0][1].tolist()
    (3, [1, 2, 3, 4])
    """
    tokens, source = source_tokens(
        source, tokenizer=tokenizer, split=split, allowed_special=allowed_special,
        storage_options=storage_options, cache_dir=cache_dir, cache_limit=cache_limit,
    )
    return WindowDataset(tokens, max_length=max_length, stride=stride), source
