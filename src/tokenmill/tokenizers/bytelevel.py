"""GPT-2's byte-level alphabet: each of the 256 bytes as one printable character.

Byte-level BPE vocabularies (GPT-2's ``encoder.json``, Hugging Face's ``ByteLevel``) spell
tokens in these characters, so a token's bytes are its characters mapped back, even when
they are part of a UTF-8 character (which ``decode`` would turn into U+FFFD).

>>> chars = byte_chars()
>>> chars[ord("a")], chars[ord(" ")], chars[0xE4]
('a', 'Ġ', 'ä')
"""

from __future__ import annotations

from functools import cache

__all__ = ["byte_chars", "char_bytes"]


@cache
def byte_chars() -> tuple[str, ...]:
    """Byte -> character: printable Latin-1 bytes (not the space) as themselves, the rest from U+0100 on."""
    table, extra = [], 0
    for b in range(256):
        if chr(b).isprintable() and chr(b) != " ":
            table.append(chr(b))
        else:
            table.append(chr(256 + extra))
            extra += 1
    return tuple(table)


@cache
def char_bytes() -> dict[str, int]:
    """Character -> byte, the inverse of :func:`byte_chars`."""
    return {c: b for b, c in enumerate(byte_chars())}
