"""llm.c / modded-nanogpt shards: a 256 x int32 header, then the tokens; written from a store, read back.

Header (little-endian int32): magic 20240520 with version 1 and uint16 tokens (GPT-2), or
magic 20240801 with version 7 and uint32 tokens (vocabularies above 65,535); then the token
count; the rest zero. Files are ``{name}_val_000000.bin`` first, then ``{name}_train_000001.bin``
and on, numbered across splits, as llm.c's ``fineweb.py`` names them; a document may run on
into the next shard, as there.

Pitfall: llm.c's loaders take EOT as the *start* of a document (``fineweb.py`` prepends it);
a store that appends EOT still loads, shifted by one document, so the export warns.

>>> header(np.dtype("uint16"), 13)[:12].hex()
'88d83401010000000d000000'
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import OptionError
from tokenmill.export.base import Written, copy_tokens, read_pieces

HEADER_INTS = 256
HEADER_BYTES = 4 * HEADER_INTS
MAGIC = {2: (20240520, 1), 4: (20240801, 7)}  # itemsize -> (magic, version)
MAX_TOKENS = (1 << 31) - 1  # the count is an int32: each shard below 2**31 tokens
DEFAULT_SHARD_TOKENS = 100_000_000  # fineweb.py's shard size


def header(dtype: np.dtype, n_tokens: int) -> bytes:
    """The 1024-byte header of a shard of ``n_tokens`` tokens of ``dtype``."""
    magic, version = MAGIC[np.dtype(dtype).itemsize]
    values = np.zeros(HEADER_INTS, dtype="<i4")
    values[:3] = (magic, version, n_tokens)
    return values.tobytes()


def shard_name(name: str, split: str, k: int) -> str:
    return f"{name}_{split}_{k:06d}.bin"


def write(store: Any, splits: list[str], written: Written, *, name: str, shard_tokens: int) -> list[str]:
    """Every split in shards of at most ``shard_tokens`` tokens, numbered across splits; the file names."""
    if not 0 < shard_tokens <= MAX_TOKENS:
        raise OptionError("shard_tokens", "{shard_tokens} must be in 1..{0} (llm.c's token count is an int32), "
                          "got {1}", MAX_TOKENS, shard_tokens)
    names: list[str] = []
    for split in splits:
        total = store.num_tokens(split)
        for start in range(0, total, shard_tokens):
            n = min(shard_tokens, total - start)
            file_name = shard_name(name, split, len(names))
            with written.file(file_name) as out:
                out.write(header(store.dtype, n))
                copy_tokens(store, split, out, start, n)
            names.append(file_name)
    return names


class Shards:
    """The llm.c shards of one split (``*_{split}_*.bin`` in sorted order), headers checked."""

    def __init__(self, files: list[Path]) -> None:
        self.files, self.counts = files, []
        fix = "re-create it with llm.c's fineweb.py or `tokenmill export STORE --format llmc`"
        self.dtype: np.dtype | None = None
        for path in files:
            with open(path, "rb") as f:
                head = np.frombuffer(f.read(HEADER_BYTES), dtype="<i4")
            if head.size < HEADER_INTS:
                raise ValueError(f"{path} is shorter than llm.c's 1024-byte header; {fix}")
            itemsize = next((k for k, mv in MAGIC.items() if mv == (int(head[0]), int(head[1]))), None)
            if itemsize is None:
                raise ValueError(f"{path} has magic {int(head[0])} version {int(head[1])}, not llm.c's "
                                 "20240520/1 or 20240801/7; " + fix)
            dtype = np.dtype("<u2" if itemsize == 2 else "<u4")
            if self.dtype is not None and dtype != self.dtype:
                raise ValueError(f"{path} holds {dtype.name} tokens but the shards before it hold {self.dtype.name}")
            self.dtype, n = dtype, int(head[2])
            size = path.stat().st_size
            if n < 0 or size != HEADER_BYTES + n * itemsize:
                raise ValueError(f"{path} has {size} bytes but its header says {n} tokens "
                                 f"({HEADER_BYTES + n * itemsize} bytes): truncated or mislabelled; {fix}")
            self.counts.append(n)
        self.dtype = self.dtype or np.dtype("<u2")
        self.n_tokens = sum(self.counts)

    def pieces(self) -> Iterator[np.ndarray]:
        for path in self.files:
            yield from read_pieces(path, self.dtype, start=HEADER_BYTES // self.dtype.itemsize)
