"""What every worker of ``prepare`` gets: the :class:`Job` (tokenizer and options), and the split rule.

Pitfall: a document's split depends only on the seed, the input's name and the document's
key (see :data:`tokenmill.prepare.manifest.SPLIT_RULE`), never on how the work was cut
into tasks or which worker ran it.

>>> split_of(0, "a.jsonl", 2, 0.5)
1
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from tokenmill.corpus.inputs import InputFile

__all__ = ["Job", "split_of"]


@dataclass(frozen=True)
class Job:
    """Everything a worker needs besides its task, sent once per worker (or Ray object)."""

    tokenizer: Any  # picklable: a worker re-resolves it by name/path
    engine: str
    eot: str  # "append", "prepend" or "none"
    eot_id: int | None
    eot_text: str | None  # the EOT token's spelling, counted when it appears in text
    dtype: str  # store dtype; IDs are checked to fit
    val_fraction: float
    seed: int
    text_field: str
    errors: str
    skip_bad_lines: bool
    shard_tokens: int  # a shard closes at the first document end past this
    cuttable: bool  # may huge texts be cut (the tokenizer's pattern is in CUTTABLE_PATTERNS)?
    out: str  # the store directory (seen at this path by every worker)
    splits: tuple[str, ...]  # ("train",) or ("train", "val")
    files: tuple[InputFile, ...]  # the inputs, as planned
    key: str  # identity of the store being made (workers are reused only for the same key)
    tokenizer_info: dict[str, Any]  # the manifest's "tokenizer" (name, max_token_value): IDs are checked
    max_document_bytes: int | None = None  # a .jsonl line or parquet value over this is refused (memory)
    remote: Any = None  # a tokenmill.prepare.publish.Remote: out is then a local staging directory
    fetched: tuple[Any, ...] = ()  # (local copy, URL, storage_options) of s3:// inputs, for workers elsewhere


def split_of(seed: int, name: str, ordinal: int, val_fraction: float) -> int:
    """0 (train) or 1 (val): a seeded hash of the document's identity, stable across runs.

    ``name`` is the input's :attr:`~tokenmill.corpus.inputs.InputFile.name`, not its path as
    typed, so ``x`` and ``./x`` (or a rerun from elsewhere with ``/abs/x``) split alike.

    >>> [split_of(0, "a.jsonl", i, 0.5) for i in range(6)]
    [0, 0, 1, 0, 0, 1]
    """
    if val_fraction <= 0:
        return 0
    digest = hashlib.blake2b(f"{seed}:{name}:{ordinal}".encode(), digest_size=8).digest()
    return int(int.from_bytes(digest, "big") < val_fraction * 2.0**64)
