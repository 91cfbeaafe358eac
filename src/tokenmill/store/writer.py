"""The streaming shard writer: documents in, durable ``.bin``/``.idx`` shards and their manifest entries out.

``tokenmill prepare``'s workers write every shard with :class:`ShardWriter`, and
:func:`write_shard` writes one whole shard with it too, so there is
one writer of the format in docs/format.md. The ``.bin`` streams to a temporary file
(:class:`tokenmill.common.files.AtomicFile`), is fsync'd and renamed when the shard closes;
its ``.idx`` is written after it, atomically, so an ``.idx`` on disk always has its ``.bin``.

Pitfall: a shard closes at the first document end at or past ``shard_tokens`` tokens; a
document never spans two shards, so one huge document makes one big shard. An ID that does
not fit the store dtype is refused (ValueError), never wrapped around.

>>> import tempfile, numpy as np
>>> d = tempfile.mkdtemp()
>>> w = ShardWriter(d, "train", 0, np.dtype("uint16"), shard_tokens=2)
>>> w.add([np.array([5, 6, 7])], last=True); w.add([np.array([8])], last=True); w.close()
>>> [(e["name"], e["n_tokens"], e["n_documents"]) for e in w.entries]
[('train-00000-00000', 3, 1), ('train-00000-00001', 1, 1)]
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.files import AtomicFile, atomic_write_bytes
from tokenmill.store.format import _STORE_DTYPES, _check_offsets, task_shard_name

__all__ = ["ShardWriter", "check_ids", "write_shard"]


def check_ids(ids: np.ndarray, dtype: np.dtype, tokenizer: dict[str, Any]) -> None:
    """ValueError naming the ID, the tokenizer and the dtype if an ID is above the tokenizer's
    ``max_token_value`` (from which the store dtype was chosen) or does not fit ``dtype``.

    >>> check_ids(np.array([70000]), np.dtype("uint16"), {"name": "t", "max_token_value": 50256})
    Traceback (most recent call last):
    ...
    ValueError: tokenizer 't' returned token ID 70000, but its max_token_value is 50256 and the store dtype uint16 holds 0..65535; the ID is refused, never truncated: fix the tokenizer's max_token_value (it chooses the dtype)
    """
    if not ids.size:
        return
    lo, hi = int(ids.min()), int(ids.max())
    limit = int(np.iinfo(dtype).max)
    top = tokenizer.get("max_token_value")
    if lo < 0 or hi > (limit if top is None else min(int(top), limit)):
        bad = lo if lo < 0 else hi
        raise ValueError(
            f"tokenizer {tokenizer.get('name')!r} returned token ID {bad}, but its max_token_value is {top} "
            f"and the store dtype {np.dtype(dtype).name} holds 0..{limit}; the ID is refused, never "
            "truncated: fix the tokenizer's max_token_value (it chooses the dtype)"
        )


class ShardWriter:
    """The shards of one split written by one task (``<split>-<task>-<k>``), streamed to disk.

    ``tokenizer`` (``name``, ``max_token_value``) is what :func:`check_ids` names in its
    error; ``name`` overrides the shard naming for a single shard (:func:`write_shard`).
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        split: str,
        task: int,
        dtype: np.dtype,
        *,
        shard_tokens: int,
        tokenizer: dict[str, Any] | None = None,
        name: str | None = None,
    ) -> None:
        self.out, self.split, self.task, self.shard_tokens = Path(directory), split, task, shard_tokens
        self.dtype, self.tokenizer, self.name = np.dtype(dtype).newbyteorder("<"), tokenizer or {}, name
        self.entries: list[dict[str, Any]] = []
        self.file: AtomicFile | None = None
        self.n_tokens, self.ends = 0, [0]

    def _shard_name(self) -> str:
        return self.name if self.name is not None else task_shard_name(self.split, self.task, len(self.entries))

    def begin(self) -> None:
        """Open a shard if none is open (an empty shard is written when closed right away)."""
        if self.file is None:
            self.file = AtomicFile(self.out / f"{self._shard_name()}.bin").__enter__()

    def add(self, pieces: list[np.ndarray], last: bool) -> None:
        """Append the pieces of one document; ``last``: the document ends with them."""
        self.begin()
        assert self.file is not None
        for ids in pieces:
            check_ids(ids, self.dtype, self.tokenizer)  # a cast must never wrap an ID around
            self.file.write(memoryview(np.ascontiguousarray(ids, dtype=self.dtype)).cast("B"))
            self.n_tokens += len(ids)
        if last:
            self.ends.append(self.n_tokens)
            if self.n_tokens >= self.shard_tokens:
                self.close()

    def add_documents(self, tokens: np.ndarray, offsets: np.ndarray) -> None:
        """Append whole documents at once: ``tokens`` and their ``offsets`` (first 0, last ``len(tokens)``)."""
        self.begin()
        assert self.file is not None
        check_ids(tokens, self.dtype, self.tokenizer)
        self.file.write(memoryview(np.ascontiguousarray(tokens, dtype=self.dtype)).cast("B"))
        self.ends += [self.n_tokens + int(o) for o in offsets[1:]]
        self.n_tokens += len(tokens)

    def close(self) -> None:
        """Make the open shard durable: .bin fsync'd and renamed, then its .idx (which fsyncs the dir)."""
        if self.file is None:
            return
        name = self._shard_name()
        file, self.file = self.file, None
        file.__exit__(None, None, None)
        idx = np.array(self.ends, dtype="<i8").tobytes()
        atomic_write_bytes(self.out / f"{name}.idx", idx)
        self.entries.append(
            {
                "name": name,
                "n_tokens": self.n_tokens,
                "n_documents": len(self.ends) - 1,
                "bin_sha256": file.sha256,
                "idx_sha256": hashlib.sha256(idx).hexdigest(),
            }
        )
        self.n_tokens, self.ends = 0, [0]

    def abandon(self) -> None:
        """Drop the open shard's temporary file (the task failed)."""
        if self.file is not None:
            file, self.file = self.file, None
            file.__exit__(RuntimeError, None, None)


def write_shard(
    directory: str | os.PathLike[str],
    name: str,
    tokens: np.ndarray,
    offsets: np.ndarray,
    *,
    dtype: np.dtype | str | None = None,
) -> dict[str, Any]:
    """Write ``name.bin`` and ``name.idx`` atomically; return the manifest's shard entry.

    ``tokens`` is the shard's IDs; ``offsets`` its ``n_documents + 1`` document starts
    (first 0, last ``len(tokens)``, never decreasing). ``dtype`` is the store dtype
    (from :func:`dtype_for`); it may be left out when ``tokens`` already is uint16/uint32.

    Pitfall: an ID that does not fit ``dtype`` is refused with ValueError, never
    truncated (a silent wrap-around would corrupt the corpus).

    >>> import tempfile
    >>> d = tempfile.mkdtemp()
    >>> entry = write_shard(d, "train-00000", np.array([5, 6, 7], np.uint16), np.array([0, 2, 3]))
    >>> entry["n_tokens"], entry["n_documents"], entry["bin_sha256"][:12]
    (3, 2, 'e33a2475b889')
    """
    if not isinstance(name, str) or not name or "/" in name or os.sep in name:
        raise ValueError(f"shard name must be a bare file stem like 'train-00000', got {name!r}")
    tokens = np.asarray(tokens)
    offsets = np.asarray(offsets)
    if dtype is None:
        if tokens.dtype.newbyteorder("=") not in _STORE_DTYPES:
            raise ValueError(
                f"tokens have dtype {tokens.dtype}; pass dtype=dtype_for(tokenizer) so the "
                "store dtype is explicit"
            )
        dtype = tokens.dtype
    dtype = np.dtype(dtype)
    if dtype.newbyteorder("=") not in _STORE_DTYPES:
        raise ValueError(f"store dtype must be uint16 or uint32, got {dtype}")
    if tokens.ndim != 1:
        raise ValueError(f"tokens must be 1-D, got shape {tokens.shape}")
    if tokens.size and tokens.dtype.kind not in "iu":
        raise ValueError(f"tokens must be integers, got dtype {tokens.dtype}")
    if tokens.size:
        lo, hi = int(tokens.min()), int(tokens.max())
        limit = int(np.iinfo(dtype).max)
        if lo < 0 or hi > limit:
            bad = lo if lo < 0 else hi
            raise ValueError(
                f"shard {name}: token ID {bad} does not fit the store dtype {dtype.name} "
                f"(0..{limit}); pick the dtype with dtype_for(tokenizer)"
            )
    _check_offsets(offsets, len(tokens), what=f"shard {name}")
    writer = ShardWriter(directory, "", 0, dtype, shard_tokens=len(tokens) + 1, name=name)
    writer.begin()
    if len(offsets) > 1:
        writer.add_documents(tokens, offsets)
    writer.close()
    return writer.entries[0]
