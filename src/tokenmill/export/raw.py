"""The header-less formats: nanoGPT's ``train.bin``/``val.bin`` and datatrove's ``.ds`` (+ ``.ds.index``, ``.ds.metadata``).

Both are the store's token bytes as they are (uint16 or uint32, little-endian), so these
exports are byte copies. datatrove adds the documents' end positions (``<u8``, one per
document, no leading 0) and a three-line text file that its merger reads the token size from.

Pitfall: nanoGPT's ``train.py`` memory-maps uint16 and nothing else, so a uint32 store
cannot be exported to it; and neither file keeps document boundaries except as the EOT token.

>>> metric(13, "T"), metric(1_234_567, "T"), metric(999_999, "T")
('13.0 T', '1.23 MT', '1.00 MT')
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import ExplainedError
from tokenmill.export.base import Written, copy_tokens, read_pieces, split_ends

_PREFIXES = ("", "k", "M", "G", "T", "P", "E", "Z", "Y", "R", "Q")


def copy_split(store: Any, split: str, written: Written, name: str) -> None:
    """Write the split's tokens, as stored, to ``name``."""
    with written.file(name) as out:
        copy_tokens(store, split, out)


def write_nanogpt(store: Any, split: str, written: Written) -> list[str]:
    """``{split}.bin``: raw uint16 tokens, what nanoGPT's ``get_batch`` memory-maps."""
    if store.dtype.itemsize != 2:
        raise ExplainedError(
            "the store at {0} holds uint32 tokens (tokenizer {1!r}), but nanoGPT's train.py reads uint16 "
            "only; export it with --format megatron, llmc, datatrove, litdata or parquet instead",
            store.path, store.tokenizer_name,
        )
    copy_split(store, split, written, f"{split}.bin")
    return [f"{split}.bin"]


def metric(value: int, unit: str) -> str:
    """``value`` with an SI prefix and three significant digits, as datatrove's metadata line writes it."""
    exponent = math.floor(math.log10(abs(value))) if value else 0
    scaled = value / 10 ** (exponent // 3 * 3)
    digits = max(0, 2 - exponent % 3)
    if round(abs(scaled), digits) >= 10 ** (exponent % 3 + 1):  # 999.999 rounds up to the next prefix
        exponent += 1
        scaled = value / 10 ** (exponent // 3 * 3)
        digits = max(0, 2 - exponent % 3)
    return f"{scaled:.{digits}f} {_PREFIXES[exponent // 3]}{unit}"


def write_datatrove(store: Any, split: str, written: Written) -> list[str]:
    """``{split}.ds``, ``{split}.ds.index`` and ``{split}.ds.metadata``, as datatrove's tokenizer writes them."""
    name = f"{split}.ds"
    copy_split(store, split, written, name)
    with written.file(f"{name}.index") as index:
        for ends in split_ends(store, split):
            index.write(ends.astype("<u8").tobytes())
    n = store.num_tokens(split)
    text = f"{store.tokenizer_name}|{store.dtype.itemsize}\n{n}\n{metric(n, 'T')}"
    written.write(f"{name}.metadata", text.encode("utf-8"))
    return [name, f"{name}.index", f"{name}.metadata"]


class Datatrove:
    """A ``.ds`` file with its ``.ds.index`` (and ``.ds.metadata`` for the token size) read back."""

    def __init__(self, path: str | Path, *, token_size: int | None = None) -> None:
        """``token_size``: used when there is no ``.ds.metadata`` to say it."""
        self.path = Path(path)
        fix = "re-create it with datatrove's DocumentTokenizer or `tokenmill export STORE --format datatrove`"
        meta = Path(f"{self.path}.metadata")
        if meta.is_file():  # what the writer says wins over a default
            first = meta.read_text(encoding="utf-8").split("\n", 1)[0]
            try:
                token_size = int(first.rsplit("|", 1)[1])
            except (IndexError, ValueError):
                raise ValueError(f"{meta} does not start with 'TOKENIZER|TOKEN_SIZE'; {fix}") from None
        if token_size not in (2, 4):
            raise ValueError(f"{self.path}: token size {token_size} is not 2 or 4 bytes; {fix}")
        self.dtype = np.dtype("<u2" if token_size == 2 else "<u4")
        size = self.path.stat().st_size
        if size % token_size:
            raise ValueError(f"{self.path} has {size} bytes, not a multiple of the token size {token_size}; {fix}")
        self.n_tokens = size // token_size
        self.index_path = Path(f"{self.path}.index")
        if not self.index_path.is_file():
            raise FileNotFoundError(f"{self.index_path} is missing: the document boundaries of {self.path}; {fix}")
        ends = np.memmap(self.index_path, dtype="<u8", mode="r") if self.index_path.stat().st_size else np.zeros(0)
        if self.index_path.stat().st_size % 8 or (ends.size and int(ends[-1]) != self.n_tokens) or (
            not ends.size and self.n_tokens
        ) or (ends.size > 1 and bool((np.diff(ends.astype(np.int64)) < 0).any())):
            raise ValueError(f"{self.index_path} does not match {self.path} ({self.n_tokens} tokens): its last end "
                             "must equal the token count and ends never decrease; truncated or mislabelled; " + fix)
        self.ends = ends

    def document_ends(self) -> Iterator[np.ndarray]:
        step = 1 << 22
        for start in range(0, len(self.ends), step):
            yield np.asarray(self.ends[start:start + step], dtype=np.int64)

    def pieces(self) -> Iterator[np.ndarray]:
        return read_pieces(self.path, self.dtype)
