"""Showing tokens to people: a token that holds part of a UTF-8 character is shown as bytes.

BPE vocabularies (GPT-2's included) cut many characters, such as most CJK ones, into 2-3
tokens. Decoding such a token alone gives U+FFFD, which hides what the token is; these
helpers show its bytes instead, the way ``tokenmill tokenize`` always has.

>>> shown_token("日".encode()[:2]), shown_token(b" the")
("b'\\\\xe6\\\\x97'", "' the'")
"""

from __future__ import annotations

import codecs
from collections.abc import Iterable

__all__ = ["shown_context", "shown_token"]


def shown_token(piece: bytes) -> str:
    """A token for a table: ``repr`` of its text, or of its bytes where it is not whole UTF-8.

    >>> print(shown_token(b"caf\\xc3\\xa9"), shown_token(b"\\xe4\\xb8"))
    'café' b'\\xe4\\xb8'
    """
    try:
        return repr(piece.decode("utf-8"))
    except UnicodeDecodeError:
        return repr(piece)


def shown_context(pieces: Iterable[bytes]) -> str:
    """Tokens read so far: their text up to the last whole character, plus the bytes pending.

    Pitfall: bytes that can never become a character (not a prefix of valid UTF-8) are shown
    as U+FFFD, as decoding would; only an unfinished character's bytes are pending.

    >>> print(shown_context([b"\\xe6\\xad\\xa3", b"\\xe4\\xb8"]))
    '正' + b'\\xe4\\xb8'
    >>> print(shown_context([b"\\xe4\\xb8"]), shown_context([b"The", b" Miller"]))
    b'\\xe4\\xb8' 'The Miller'
    """
    # An incremental decoder holds back exactly the bytes of an unfinished character.
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    text = decoder.decode(b"".join(pieces), final=False)
    pending = decoder.getstate()[0]
    if not pending:
        return repr(text)
    return f"{text!r} + {pending!r}" if text else repr(pending)
