"""Byte-pair encoding through tiktoken, built from a verified ranks file (see `tokenmill.tokenizers.ranks`)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import tokenmill.tokenizers.ranks as _ranks
from tokenmill.tokenizers.base import ENDOFTEXT, Tokenizer, _check_texts, _reload
from tokenmill.tokenizers.registry import GPT2_PATTERN, EncodingSpec, spec_for


class TiktokenTokenizer(Tokenizer):
    """A BPE tokenizer run by tiktoken, built from a verified ranks file where one is found."""

    def __init__(self, source: str, encoding: Any, ranks_path: Path | None, sha256: str | None):
        self._source = source  # the name or path it was made from; pickling re-resolves it
        self.encoding = encoding
        self.ranks_path = ranks_path
        self.ranks_sha256 = sha256
        self.name = encoding.name
        self.pat_str: str = encoding._pat_str
        self.special_tokens = dict(encoding._special_tokens)
        self.vocab_size = encoding.n_vocab
        self.max_token_value = encoding.max_token_value
        self.eot_id = self.special_tokens.get(ENDOFTEXT)
        self.definition_sha256 = definition_sha256(sha256, self.pat_str, self.special_tokens)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_reload, (self._source,))

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        return self.encoding.encode(text, allowed_special=allowed, disallowed_special=())

    def encode_ordinary_batch(self, texts: Sequence[str], *, num_threads: int = 8) -> list[list[int]]:
        return self.encoding.encode_ordinary_batch(_check_texts(texts), num_threads=num_threads)

    def decode(self, ids: Iterable[int]) -> str:
        return self.encoding.decode(self._check_ids(ids), errors="replace")

    def decode_tokens_bytes(self, ids: Iterable[int]) -> list[bytes]:
        return self.encoding.decode_tokens_bytes(self._check_ids(ids))


def definition_sha256(ranks_sha256: str | None, pat_str: str, special_tokens: dict[str, int]) -> str | None:
    """The hash of a BPE tokenizer's whole definition: ranks file, pattern and special tokens.

    Any of the three changes the IDs, so a store records this as ``tokenizer.definition_sha256``
    (docs/format.md); None without a ranks hash (an encoding built in memory).

    >>> definition_sha256("ab" * 32, "x", {"<|e|>": 3}) != definition_sha256("ab" * 32, "y", {"<|e|>": 3})
    True
    """
    if ranks_sha256 is None:
        return None
    text = json.dumps(
        {"ranks_sha256": ranks_sha256, "pat_str": pat_str, "special_tokens": special_tokens},
        sort_keys=True, ensure_ascii=True, separators=(",", ":"),
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def read_ranks(path: str | os.PathLike[str]) -> dict[bytes, int]:
    """Parse a ``.tiktoken`` file (``BASE64 RANK`` per line); ValueError naming file and line."""
    with open(path, "rb") as f:
        lines = f.read().splitlines()
    try:  # the fast path: one strict decode per line, no per-line bookkeeping
        ranks = {_b64(token): int(rank) for token, rank in (line.split() for line in lines if line)}
    except (ValueError, binascii.Error):
        ranks = {}
    if len(ranks) == sum(1 for line in lines if line) and ranks:
        return ranks
    # Something is wrong: find the first bad line, slowly, to say where.
    seen: dict[bytes, int] = {}
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            piece = _b64(token)
            int(rank)
        except (ValueError, binascii.Error):
            raise ValueError(
                f"{path}, line {lineno}: not a tiktoken ranks line (expected 'BASE64 RANK'): "
                f"{line[:60]!r}"
            ) from None
        if piece in seen:
            raise ValueError(f"{path}, line {lineno}: the token {piece!r} appears twice")
        seen[piece] = lineno
    raise ValueError(f"{path}: the ranks file is empty")


def _b64(token: bytes) -> bytes:
    if sys.version_info >= (3, 11):
        return binascii.a2b_base64(token, strict_mode=True)
    return base64.b64decode(token, validate=True)


def _tiktoken_from_file(
    source: str, path: Path, spec: EncodingSpec | None, sha: str
) -> TiktokenTokenizer:
    """A tokenizer from a ranks file whose sha256 (`sha`) the caller has already computed."""
    import tiktoken

    ranks = read_ranks(path)
    if spec is None:
        # An unknown ranks file: assume GPT-2's pre-tokenizer and <|endoftext|> right after the ranks.
        name, pat, n_vocab = str(path), GPT2_PATTERN, None
        specials = {ENDOFTEXT: max(ranks.values()) + 1}
    else:
        name, pat, specials, n_vocab = spec.name, spec.pat_str, spec.special_tokens, spec.explicit_n_vocab
    enc = tiktoken.Encoding(
        name, pat_str=pat, mergeable_ranks=ranks, special_tokens=dict(specials), explicit_n_vocab=n_vocab
    )
    return TiktokenTokenizer(source, enc, path, sha)


def _tiktoken_by_name(name: str) -> TiktokenTokenizer:
    spec = spec_for(name)
    path = _ranks.find_ranks_file(spec)
    if path is not None:
        return _tiktoken_from_file(name, path, spec, spec.sha256)  # just verified
    import tiktoken

    try:  # last resort: tiktoken's own cache, then its download
        enc = tiktoken.get_encoding(name)
    except OSError as exc:  # no network, no cache (requests' errors are OSErrors): "not installed"
        raise ValueError(_ranks.missing_message(spec, exc)) from exc
    except Exception as exc:  # noqa: BLE001 - anything else is a real fault: say which, never "not installed"
        raise ValueError(
            f"tiktoken failed to build tokenizer {name!r}: {type(exc).__name__}: {exc}; install its ranks file "
            f"with `tokenmill vocab install {name}` so that tokenmill builds it from a verified file"
        ) from exc
    return TiktokenTokenizer(name, enc, None, None)
