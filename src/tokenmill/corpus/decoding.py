"""Bytes to text, as every reader of the corpus does it: UTF-8 with a policy, JSON lines, blocks.

Pitfall: ``errors="replace"`` counts the U+FFFD it puts in (not those already in the text);
``errors="strict"`` raises, naming the file, the byte offset and the option that skips it.

>>> decode_utf8(b"ok\\xff", "replace", "x.txt", 0)
('ok\ufffd', 1)
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from tokenmill.common.errors import ExplainedError

__all__ = ["decode_utf8", "incomplete_tail", "parse_json", "parse_jsonl_line", "read_blocks"]


def decode_utf8(data: bytes, errors: str, where: str, offset: int) -> tuple[str, int]:
    """(text, replacements): strict first; on failure ``errors="strict"`` names the byte offset.

    Pitfall: a U+FFFD already in the input is not counted as a replacement.

    >>> decode_utf8(b"caf\\xe9!", "replace", "x.txt", 0)
    ('caf\\ufffd!', 1)
    >>> decode_utf8(b"ok\\xff", "strict", "x.txt", 10)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    tokenmill.common.errors.ExplainedError: x.txt: invalid UTF-8 at byte offset 12 (byte 0xff); pass errors='replace' ...
    """
    try:
        return data.decode("utf-8"), 0
    except UnicodeDecodeError as exc:
        if errors == "strict":
            bad = data[exc.start : exc.start + 1].hex()
            raise ExplainedError(
                "{0}: invalid UTF-8 at byte offset {1} (byte 0x{2}); pass {errors='replace'} to replace it with U+FFFD",
                where, offset + exc.start, bad,
            ) from None
    text = data.decode("utf-8", "replace")
    return text, text.count("\ufffd") - data.count(b"\xef\xbf\xbd")


def incomplete_tail(data: bytes) -> int:
    """How many trailing bytes of ``data`` are an unfinished UTF-8 sequence (0-3).

    >>> incomplete_tail("é".encode()[:1]), incomplete_tail("é".encode())
    (1, 0)
    """
    for back in range(1, min(4, len(data)) + 1):
        b = data[-back]
        if b < 0x80:
            return 0
        if b >= 0xC0:  # a lead byte: complete if it has all its continuation bytes
            need = 2 if b < 0xE0 else 3 if b < 0xF0 else 4
            return back if back < need else 0
    return 0


def read_blocks(stream: IO[bytes], size: int) -> Iterator[bytes]:
    while block := stream.read(size):
        yield block


def parse_jsonl_line(
    line: bytes, *, errors: str, text_field: str, where: str, offset: int
) -> tuple[Any, int, str | None]:
    """(text or None, replacements, why the line is bad or None) for one .jsonl line.

    Pitfall: a bad line is returned, not raised, so that the caller can skip and count it.

    >>> parse_jsonl_line(b'{"text": "hi"}', errors="strict", text_field="text", where="a:1", offset=0)
    ('hi', 0, None)
    >>> parse_jsonl_line(b'{"body": "hi"}', errors="strict", text_field="text", where="a:1", offset=0)[2]
    "has no 'text' field (keys: ['body'])"
    """
    text, replacements = decode_utf8(line, errors, where, offset)
    value, bad = parse_json(text, text_field)
    return value, replacements, bad


def parse_json(text: str, text_field: str) -> tuple[Any, str | None]:
    """(the text field's value or None, why the JSON is bad or None)."""
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"is not valid JSON ({exc.msg.removesuffix(' at')} at column {exc.colno})"
    if not isinstance(obj, dict):
        return None, f"is a JSON {type(obj).__name__}, not an object"
    if text_field not in obj:
        return None, f"has no {text_field!r} field (keys: {sorted(obj)[:8]})"
    value = obj[text_field]
    if not isinstance(value, str):
        return None, f"has a {text_field!r} that is {type(value).__name__}, not a string"
    return value, None
