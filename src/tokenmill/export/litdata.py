"""litdata chunks for litgpt's ``--data LitData``: ``{split}/index.json`` and ``{split}/chunk-0-K.bin``.

A chunk holds one item: ``uint32`` item count (1), ``uint32`` byte offsets of the item's start
and end (12 and the file size), then the tokens. litdata's ``TokensLoader`` cuts each chunk
into blocks of ``block_size`` tokens and drops what is left of a chunk, so every chunk but the
last holds a multiple of ``block_size`` tokens: only the split's final remainder, too short
for a block, is not read.

Pitfall: the chunks suit block sizes that divide the chunk size (``block_size`` itself and its
divisors); litgpt's block size is ``max_seq_length + 1``.

>>> chunk_tokens(2049, 1 << 25) % 2049, chunk_tokens(10, 3)
(0, 10)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import OptionError
from tokenmill.export.base import Written, copy_tokens, read_pieces

DEFAULT_BLOCK_SIZE = 2049  # litgpt: max_seq_length 2048 + 1
TARGET_CHUNK_TOKENS = 1 << 25  # about 64 MB of uint16 per chunk
DATA_FORMAT = {2: "no_header_numpy:5", 4: "no_header_numpy:6"}  # litdata's numpy codes: uint16, uint32
_SPEC = '[1, {"type": null, "context": null, "children_spec": []}]'


def chunk_tokens(block_size: int, target: int | None = None) -> int:
    """The tokens per chunk: the largest multiple of ``block_size`` up to ``target`` (at least one block)."""
    return block_size * max(1, (target or TARGET_CHUNK_TOKENS) // block_size)


def write(store: Any, split: str, written: Written, *, block_size: int) -> list[str]:
    """The split's chunks and ``index.json``; the file names (relative to the export)."""
    if block_size < 1:
        raise OptionError("block_size", "{block_size} must be >= 1, got {0}", block_size)
    itemsize = store.dtype.itemsize
    size = chunk_tokens(block_size)
    if 12 + size * itemsize >= 1 << 32:
        raise OptionError("block_size", "{block_size} {0} makes chunks over litdata's 4 GiB limit; "
                          "use a smaller {block_size}", block_size)
    total, names, chunks = store.num_tokens(split), [], []
    for start in range(0, total, size):
        n = min(size, total - start)
        file_name = f"chunk-0-{len(chunks)}.bin"
        with written.file(f"{split}/{file_name}") as out:
            out.write(np.array([1, 12, 12 + n * itemsize], dtype="<u4").tobytes())
            copy_tokens(store, split, out, start, n)
        chunks.append({"chunk_bytes": 12 + n * itemsize, "chunk_size": 1, "dim": n, "filename": file_name})
        names.append(f"{split}/{file_name}")
    config = {
        "chunk_bytes": None, "chunk_size": size, "compression": None, "data_format": [DATA_FORMAT[itemsize]],
        "data_spec": _SPEC, "encryption": None, "item_loader": "TokensLoader",
    }
    index = {"chunks": chunks, "config": config, "updated_at": "0"}
    written.write(f"{split}/index.json", (json.dumps(index, sort_keys=True, indent=1) + "\n").encode("utf-8"))
    return [*names, f"{split}/index.json"]


def read(directory: Path) -> tuple[np.dtype, Iterator[np.ndarray]]:
    """The dtype and tokens of a litdata token directory, chunk by chunk (header and index checked)."""
    index_path = directory / "index.json"
    index = json.loads(index_path.read_text(encoding="utf-8"))
    code = index["config"]["data_format"][0]
    itemsize = next((k for k, v in DATA_FORMAT.items() if v == code), None)
    if itemsize is None:
        raise ValueError(f"{index_path}: data format {code!r} is not one tokenmill writes")
    dtype = np.dtype("<u2" if itemsize == 2 else "<u4")

    def chunks() -> Iterator[np.ndarray]:
        for chunk in index["chunks"]:
            path = directory / chunk["filename"]
            head = np.fromfile(path, dtype="<u4", count=3)
            size = path.stat().st_size
            if size != chunk["chunk_bytes"] or head.tolist() != [1, 12, size]:
                raise ValueError(f"{path} does not match {index_path}")
            yield from read_pieces(path, dtype, start=12 // itemsize)

    return dtype, chunks()
