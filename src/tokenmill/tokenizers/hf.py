"""Hugging Face ``tokenizer.json`` files, run by the optional `tokenizers` package."""

from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

from tokenmill.common.files import sha256_file
from tokenmill.tokenizers.base import ENDOFTEXT, Tokenizer, _reload
from tokenmill.tokenizers.bytelevel import char_bytes


@contextlib.contextmanager
def _rust_stderr_held() -> Iterator[None]:
    """Hold what native code writes to fd 2 meanwhile; pass it on unless a panic is raised.

    A panic in the Rust library prints its message and a backtrace straight to fd 2 before
    it becomes ``pyo3_runtime.PanicException``; get_tokenizer turns that into one error line,
    so the raw print is dropped then (its message is in the exception), and kept otherwise.
    """
    try:
        saved = os.dup(2)
    except OSError:  # no fd 2 at all: nothing to hold
        yield
        return
    with tempfile.TemporaryFile() as held:
        sys.stderr.flush()
        os.dup2(held.fileno(), 2)
        panicked = True
        try:
            yield
            panicked = False
        except Exception:
            panicked = False
            raise
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            if not panicked:
                held.seek(0)
                if text := held.read():
                    os.write(2, text)


class HFTokenizer(Tokenizer):
    """A Hugging Face ``tokenizer.json`` run by the `tokenizers` package (extra ``tokenmill[hf]``)."""

    def __init__(self, path: str | os.PathLike[str]):
        try:
            from tokenizers import Tokenizer as _HF
        except ImportError:
            raise ValueError(
                "reading a tokenizer.json needs the `tokenizers` package: pip install 'tokenmill[hf]'"
            ) from None
        self._source = str(path)
        try:
            with _rust_stderr_held():
                self._hf = _HF.from_file(str(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a valid Hugging Face tokenizer.json ({exc})") from exc
        self.name = str(path)
        added = self._hf.get_added_tokens_decoder()
        self.special_tokens = {t.content: i for i, t in added.items() if t.special}
        self.vocab_size = self._hf.get_vocab_size(with_added_tokens=True)
        self.max_token_value = max(self._hf.get_vocab(with_added_tokens=True).values())
        self.eot_id = self.special_tokens.get(ENDOFTEXT)
        self.ranks_sha256 = sha256_file(path)
        self._added = set(added)
        # A byte-level vocabulary spells each token's bytes, also a part of a UTF-8 character.
        from tokenizers import decoders

        self._byte_level = isinstance(self._hf.decoder, decoders.ByteLevel)
        self.definition_sha256 = self.ranks_sha256  # the file is the whole definition

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (_reload, (self._source,))

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        # With encode_special_tokens, HF splits special-token text like any other text;
        # allowed specials are cut out first and inserted by ID.
        self._hf.encode_special_tokens = True
        if not allowed:
            return self._hf.encode(text, add_special_tokens=False).ids
        pieces = re.split("(" + "|".join(map(re.escape, sorted(allowed))) + ")", text)
        ids: list[int] = []
        for piece in pieces:
            if piece in allowed:
                ids.append(self.special_tokens[piece])
            elif piece:
                ids.extend(self._hf.encode(piece, add_special_tokens=False).ids)
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        return self._hf.decode(list(ids), skip_special_tokens=False)

    def decode_tokens_bytes(self, ids: Iterable[int]) -> list[bytes]:
        table = char_bytes()
        out = []
        for i in self._check_ids(ids):
            piece = self._hf.id_to_token(i) if self._byte_level and i not in self._added else None
            if piece is not None and all(c in table for c in piece):
                out.append(bytes(table[c] for c in piece))
            else:  # added tokens, and vocabularies that are not byte-level: their text
                out.append(self._hf.decode([i], skip_special_tokens=False).encode())
        return out
