"""Megatron-LM's ``{prefix}_text_document.bin/.idx`` pair: written from a store split, read back.

The ``.bin`` is the raw tokens; the ``.idx`` is, little-endian and packed: ``MMIDIDX\\x00\\x00``,
version ``<Q`` 1, a dtype code ``<B``, the sequence count S ``<Q``, the document count + 1
``<Q``, S sequence lengths ``<i4``, S byte pointers ``<i8``, S + 1 document indices ``<i8``
(one sequence per document, as ``preprocess_data.py`` writes in document mode).

Pitfall: Megatron has no uint32 code; a uint32 store is written with the int32 code (4)
after checking that every ID is below 2**31, and more than 2**31 - 1 documents are refused
(its ``GPTDataset`` indexes documents with int32).

>>> header(8, 3)[:17] + header(8, 3)[17:18]
b'MMIDIDX\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x00\\x08'
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import ExplainedError
from tokenmill.export.base import Written, copy_tokens, read_pieces, shards_of, split_ends

MAGIC = b"MMIDIDX\x00\x00"
VERSION = 1
HEADER_BYTES = 34
# Megatron's DType codes for the token dtypes a store or an import can hold.
CODES = {8: np.dtype("<u2"), 4: np.dtype("<i4"), 1: np.dtype("u1"), 3: np.dtype("<i2"), 5: np.dtype("<i8")}
INT32_MAX = (1 << 31) - 1


def header(code: int, n_sequences: int) -> bytes:
    """The 34-byte ``.idx`` header for ``n_sequences`` documents of one sequence each."""
    return MAGIC + struct.pack("<QBQQ", VERSION, code, n_sequences, n_sequences + 1)


def file_names(prefix: str) -> tuple[str, str]:
    return f"{prefix}_text_document.bin", f"{prefix}_text_document.idx"


def write(store: Any, split: str, written: Written, *, prefix: str) -> list[str]:
    """Write ``split`` as ``{prefix}_text_document.bin/.idx``; the two file names."""
    bin_name, idx_name = file_names(prefix)
    n_docs = store.num_documents(split)
    if n_docs > INT32_MAX:
        raise ExplainedError(
            "store split {0!r} holds {1} documents; Megatron indexes documents with int32 (at most {2}); "
            "prepare a smaller store or export part of it",
            split, n_docs, INT32_MAX,
        )
    code = 8 if store.dtype.itemsize == 2 else 4
    itemsize = store.dtype.itemsize
    for shard in shards_of(store, split) if code == 4 else []:
        for piece in read_pieces(shard.bin, store.dtype, count=shard.n_tokens):
            if piece.size and int(piece.max()) > INT32_MAX:
                raise ExplainedError(
                    "{0} holds token ID {1}, above Megatron's int32 limit {2}; this store cannot be "
                    "exported to megatron (its uint32 IDs need a dtype Megatron lacks)",
                    shard.bin, int(piece.max()), INT32_MAX,
                )
    with written.file(bin_name) as out:
        copy_tokens(store, split, out)  # uint32 below 2**31 has the int32 bytes
    with written.file(idx_name) as idx:
        idx.write(header(code, n_docs))
        previous = 0
        for ends in split_ends(store, split):  # sequence lengths
            lengths = np.diff(ends, prepend=previous)
            if lengths.size and int(lengths.max()) > INT32_MAX:
                raise ExplainedError(
                    "store split {0!r} has a document of {1} tokens; Megatron's sequence lengths are int32 "
                    "(at most {2})", split, int(lengths.max()), INT32_MAX,
                )
            idx.write(lengths.astype("<i4").tobytes())
            previous = int(ends[-1]) if ends.size else previous
        previous = 0
        for ends in split_ends(store, split):  # byte pointers: where each document starts
            starts = np.concatenate(([previous], ends[:-1])) if ends.size else ends
            idx.write((starts.astype("<i8") * itemsize).tobytes())
            previous = int(ends[-1]) if ends.size else previous
        for start in range(0, n_docs + 1, 1 << 22):  # document indices: one sequence per document
            idx.write(np.arange(start, min(n_docs + 1, start + (1 << 22)), dtype="<i8").tobytes())
    return [bin_name, idx_name]


class Index:
    """A Megatron ``.idx`` read and checked against its ``.bin``; ValueError naming the file if not."""

    def __init__(self, prefix: str | Path) -> None:
        self.idx_path, self.bin_path = Path(f"{prefix}.idx"), Path(f"{prefix}.bin")
        fix = "re-create it with Megatron's preprocess_data.py or `tokenmill export STORE --format megatron`"
        for path in (self.idx_path, self.bin_path):
            if not path.is_file():
                raise FileNotFoundError(f"{path} does not exist; give the path prefix of a .bin/.idx pair "
                                        "(e.g. data/train_text_document) or a directory that holds them")
        size = self.idx_path.stat().st_size
        with open(self.idx_path, "rb") as f:
            head = f.read(HEADER_BYTES)
        if len(head) < HEADER_BYTES or head[:9] != MAGIC:
            raise ValueError(f"{self.idx_path} is not a Megatron index (no MMIDIDX header); {fix}")
        version, code, n_seq, n_doc = struct.unpack("<QBQQ", head[9:])
        if version != VERSION:
            raise ValueError(f"{self.idx_path} has index version {version}, expected {VERSION}; {fix}")
        if code not in CODES:
            raise ValueError(f"{self.idx_path} has dtype code {code}, which is not an integer token dtype; {fix}")
        want = HEADER_BYTES + 12 * n_seq + 8 * n_doc
        if size not in (want, want + n_seq):  # + n_seq: the multimodal modes, which text ignores
            raise ValueError(f"{self.idx_path} has {size} bytes but its header says {want} "
                             f"({n_seq} sequences, {n_doc} document indices): truncated or mislabelled; {fix}")
        self.dtype, self.code = CODES[code], code
        self.n_sequences, self.n_documents = int(n_seq), int(n_doc) - 1
        mm = np.memmap(self.idx_path, mode="r", dtype=np.uint8)
        self.lengths = mm[HEADER_BYTES:HEADER_BYTES + 4 * n_seq].view("<i4")
        self.pointers = mm[HEADER_BYTES + 4 * n_seq:HEADER_BYTES + 12 * n_seq].view("<i8")
        self.doc_index = mm[HEADER_BYTES + 12 * n_seq:HEADER_BYTES + 12 * n_seq + 8 * n_doc].view("<i8")
        self.n_tokens = int(self.lengths.sum(dtype=np.int64))
        bin_size = self.bin_path.stat().st_size
        if bin_size != self.n_tokens * self.dtype.itemsize:
            raise ValueError(f"{self.bin_path} has {bin_size} bytes but {self.idx_path} describes "
                             f"{self.n_tokens} tokens of {self.dtype.name} ({self.n_tokens * self.dtype.itemsize} "
                             f"bytes): truncated or mislabelled; {fix}")
        bad = n_doc < 1 or int(self.doc_index[0]) != 0 or int(self.doc_index[-1]) != n_seq
        if bad or (n_doc > 1 and int(np.diff(self.doc_index).min()) < 0) or (n_seq and int(self.lengths.min()) < 0):
            raise ValueError(f"{self.idx_path} has inconsistent sequence lengths or document indices; {fix}")
        ends = np.cumsum(self.lengths, dtype=np.int64)
        if n_seq and not np.array_equal(self.pointers, (ends - self.lengths) * self.dtype.itemsize):
            raise ValueError(f"{self.idx_path}: its sequences are not stored back to back in {self.bin_path}, "
                             "which tokenmill cannot import; rewrite them in order with Megatron's merge tool")

    def document_ends(self) -> Iterator[np.ndarray]:
        """Global token end of each document (int64), in pieces."""
        step = 1 << 22
        ends = np.cumsum(self.lengths, dtype=np.int64)
        for start in range(1, self.n_documents + 1, step):
            seq = self.doc_index[start:start + step]
            yield np.where(seq > 0, ends[np.maximum(seq - 1, 0)], 0)

    def pieces(self) -> Iterator[np.ndarray]:
        return read_pieces(self.bin_path, self.dtype)
