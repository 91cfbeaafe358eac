"""``tokenize --max-tokens N`` on a big text file: read and encode only the end that is kept.

Printing 5 IDs of a 100 MB file must not read the whole file into memory (about 10x its
size as Python strings and IDs). :func:`encode_end` reads pieces from the kept end, in
growing chunks (the start for ``keep="first"``, backwards from the end for ``"last"``) and
encodes what it has read so far. Cutting a text can change the tokens next to the cut
only (a word cut in two, a run of spaces), so a token is trusted once two reads of
different lengths agree on it: the IDs both encodings share at the kept end, less a margin
of tokens next to the cut. When the chunk reaches the whole file, the IDs are exact.

Pitfall: only a plain text file streams (not stdin, .jsonl, .parquet or compressed
files, which are read whole); a file with invalid UTF-8 in the part read is read whole
too, so that its replacements are counted and reported as usual.
"""

from __future__ import annotations

import os
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from tokenmill.corpus.inputs import COMPRESSIONS, refuse_non_text

__all__ = ["Streamed", "encode_end", "streams"]

FIRST_CHUNK = 64 * 1024  # bytes read first; doubled on each further read
MARGIN = 16  # tokens next to a cut that two reads must agree on beyond the N kept


@dataclass(frozen=True)
class Streamed:
    """The kept IDs of a file and how much of it was read."""

    ids: list[int]  # at most N IDs, from the kept end, exactly as encoding the whole file gives
    bytes_read: int  # bytes of the file read and encoded
    size: int  # the file's size in bytes
    whole: bool  # True when the whole file was read (then the IDs are exact by construction)


def streams(path: str | None, *, max_tokens: int | None) -> bool:
    """True if ``tokenize --file path --max-tokens N`` reads only the kept end (a plain text file)."""
    if max_tokens is None or path is None or path == "-":
        return False
    name = os.path.basename(path).lower()
    stem, ext = os.path.splitext(name)
    return ext not in COMPRESSIONS and ext not in (".jsonl", ".parquet") and os.path.isfile(path)


def encode_end(
    path: str, tok: Any, n: int, *, keep: str, allowed_special: Collection[str] | str = ()
) -> Streamed | None:
    """The first or last ``n`` IDs of the text file ``path``, reading as little of it as it can.

    None when the file is small (up to twice the first chunk) or the part read is not valid
    UTF-8: the caller reads the whole file (which counts every token and reports replacements). Compressed or binary data is refused (ValueError), as a
    whole read would.
    """
    size = os.path.getsize(path)
    if size <= 2 * FIRST_CHUNK:  # small: the whole read is as cheap, and counts every token
        return None
    chunk = FIRST_CHUNK
    previous: list[int] | None = None
    with open(path, "rb") as f:
        head = f.read(8192)
        refuse_non_text(head, path)
        while True:
            whole = chunk >= size
            data = _read(f, size, min(chunk, size), keep)
            text = _decode(data, keep=keep, whole=whole)
            if text is None:
                return None
            ids = tok.encode(text, allowed_special=allowed_special)
            if whole:
                kept = ids[:n] if keep == "first" else ids[-n:]
                return Streamed(kept, size, size, True)
            if previous is not None:
                agreed = _agreed(previous, ids, keep)
                if agreed >= n + MARGIN:
                    kept = ids[:n] if keep == "first" else ids[-n:]
                    return Streamed(kept, len(data), size, False)
            previous, chunk = ids, chunk * 2


def _read(f: Any, size: int, length: int, keep: str) -> bytes:
    f.seek(0 if keep == "first" else size - length)
    return f.read(length)


def _decode(data: bytes, *, keep: str, whole: bool) -> str | None:
    """``data`` as text, less a character cut at the chunk's open end; None if not UTF-8 (or NUL).

    >>> _decode("ab吾".encode()[:-1], keep="first", whole=False), _decode("吾ab".encode()[1:], keep="last", whole=False)
    ('ab', 'ab')
    """
    if b"\x00" in data:  # binary: the whole read refuses it with its usual message
        return None
    if not whole and keep == "last":
        skip = 0
        while skip < min(3, len(data)) and data[skip] & 0xC0 == 0x80:  # continuation bytes of a cut character
            skip += 1
        data = data[skip:]
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        if whole or keep != "first" or exc.reason != "unexpected end of data" or exc.start < len(data) - 3:
            return None
        return data[: exc.start].decode("utf-8")  # the cut character waits for the next read


def _agreed(a: list[int], b: list[int], keep: str) -> int:
    """How many IDs ``a`` and ``b`` share at the kept end (their common prefix or suffix).

    >>> _agreed([1, 2, 3], [1, 2, 4, 5], "first"), _agreed([9, 2, 3], [7, 8, 2, 3], "last")
    (2, 2)
    """
    if keep == "last":
        a, b = a[::-1], b[::-1]
    same = 0
    for x, y in zip(a, b):
        if x != y:
            break
        same += 1
    return same
