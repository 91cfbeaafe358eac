"""The store's on-disk contract (``docs/format.md``, version 2; version 1 stores read alike): names, dtypes, atomic writes, shards.

Shards are written by :mod:`tokenmill.store.writer` (prepare's workers stream them;
``write_shard`` there writes one whole); every file goes to a temp name, is fsync'd and renamed, and ``manifest.json``
(:mod:`tokenmill.store.manifest`) is written last.

>>> shard_name("train", 3)
'train-00003'
>>> dtype_for(50256)  # GPT-2's largest ID fits in two bytes
dtype('uint16')
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tokenmill.common.checks import is_int
from tokenmill.store.shardfile import read_file_bytes

FORMAT = "tokenmill-store"
FORMAT_VERSION = 2  # 2: shards per task (<split>-<task>-<k>), a "tasks" key; version 1 still read
MANIFEST_NAME = "manifest.json"
PROGRESS_NAME = ".progress.json"  # prepare's resume checkpoint
LOCK_NAME = ".tokenmill.lock"  # flock'd by a running prepare
# Chunk size for streamed hashing and counting: bounded memory whatever the shard size.
_CHUNK_BYTES = 1 << 24
_STORE_DTYPES = (np.dtype("uint16"), np.dtype("uint32"))


def shard_name(split: str, k: int) -> str:
    """The file stem of shard ``k`` of ``split`` (``.bin``/``.idx`` are added to it).

    >>> shard_name("val", 0)
    'val-00000'
    """
    if not isinstance(split, str) or not split or not split.isidentifier():
        raise ValueError(f"split name must be a simple identifier like 'train', got {split!r}")
    if not is_int(k) or k < 0:
        raise ValueError(f"shard number must be an int >= 0, got {k!r}")
    return f"{split}-{int(k):05d}"


def task_shard_name(split: str, task: int, k: int) -> str:
    """The file stem of shard ``k`` that task ``task`` writes for ``split`` (format version 2).

    >>> task_shard_name("train", 3, 0)
    'train-00003-00000'
    """
    return f"{split}-{task:05d}-{k:05d}"


def dtype_for(tokenizer_or_max_token_value: Any) -> np.dtype:
    """The store dtype for a tokenizer (or its largest token ID): uint16 iff it fits.

    Pitfall: pass ``max_token_value`` (the largest ID, specials included), not the vocab
    size; 65535 still fits in uint16, 65536 does not.

    >>> dtype_for(65535), dtype_for(65536)
    (dtype('uint16'), dtype('uint32'))
    """
    value = tokenizer_or_max_token_value
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        value = getattr(value, "max_token_value", None)
        if not isinstance(value, (int, np.integer)):
            raise TypeError(
                "dtype_for() takes a tokenizer (with .max_token_value) or an int, got "
                f"{type(tokenizer_or_max_token_value).__name__}"
            )
    value = int(value)
    if value < 0:
        raise ValueError(f"max_token_value must be >= 0, got {value}")
    if value < 1 << 16:
        return np.dtype("uint16")
    if value < 1 << 32:
        return np.dtype("uint32")
    raise ValueError(f"max_token_value {value} does not fit in uint32; the store format caps IDs at 2**32-1")


def _le(dtype: np.dtype) -> np.dtype:
    return np.dtype(dtype).newbyteorder("<")


def _check_offsets(offsets: np.ndarray, n_tokens: int, *, what: str) -> None:
    """Raise ValueError unless ``offsets`` is a valid document index for ``n_tokens``."""
    if offsets.ndim != 1 or len(offsets) < 1:
        raise ValueError(
            f"{what}: offsets must be 1-D with n_documents + 1 >= 1 values, got shape {offsets.shape}"
        )
    if offsets.dtype.kind not in "iu":
        raise ValueError(f"{what}: offsets must be integers, got dtype {offsets.dtype}")
    if int(offsets[0]) != 0 or int(offsets[-1]) != n_tokens:
        raise ValueError(
            f"{what}: offsets must start at 0 and end at n_tokens={n_tokens}, "
            f"got first={int(offsets[0])} last={int(offsets[-1])}"
        )
    steps = np.diff(offsets.astype(np.int64))
    if steps.size and int(steps.min()) < 0:
        at = int(np.argmax(steps < 0))
        raise ValueError(
            f"{what}: offsets must never decrease, "
            f"offsets[{at}]={int(offsets[at])} > offsets[{at + 1}]={int(offsets[at + 1])}"
        )


def read_index(
    idx_path: str | os.PathLike[str], n_tokens: int, *, fix: str = "", identity: tuple[int, int, int] | None = None
) -> np.ndarray:
    """Read a shard's ``.idx`` and check its invariants; ValueError naming the file if broken.

    Every reader of an index goes through here: a damaged index must never turn into
    negative document lengths or out-of-range slices downstream. ``identity`` (st_ino,
    st_size, st_mtime_ns): the file must still be the one the store was opened with.
    """
    data = read_file_bytes(idx_path, identity)
    if len(data) % 8:
        raise ValueError(
            f"shard file {idx_path}: {len(data)} bytes is not a whole number of 8-byte offsets "
            f"(the index is damaged){'; ' + fix if fix else ''}"
        )
    offsets = np.frombuffer(data, dtype="<i8")
    try:
        _check_offsets(offsets, n_tokens, what=f"shard file {idx_path}")
    except ValueError as exc:
        raise ValueError(f"{exc} (the index is damaged){'; ' + fix if fix else ''}") from None
    return offsets
