"""The book's regex word tokenizer (chapter 2), with a vocabulary saved as JSON."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from tokenmill.tokenizers.base import _SPECIAL_SHAPE, ENDOFTEXT, UNK, Tokenizer, _as_id, _check_text


class WordTokenizer(Tokenizer):
    """The book's regex word tokenizer (ch. 2): split on punctuation and spaces, look words up.

    Pitfall: it only knows the words of the text its vocabulary came from; any other word maps
    to ``<|unk|>`` (when the vocabulary has it) or raises.

    >>> tok = WordTokenizer.from_text("the cat sat. The end")
    >>> tok.encode("the cat sat on the end.")
    [5, 2, 4, 7, 5, 3, 0]
    >>> tok.decode([5, 2, 4, 7, 5, 3, 0])
    'the cat sat <|unk|> the end.'
    """

    SPLIT = re.compile(r'([,.:;?_!"()\']|--|\s)')
    _JOIN_FIX = re.compile(r'\s+([,.?!"()\'])')

    def __init__(
        self, vocab: Mapping[str, int], *, unknown: Literal["unk", "error"] = "unk", name: str = "word"
    ):
        if not isinstance(vocab, Mapping):
            raise TypeError(f"vocab must be a dict of token -> id, got {type(vocab).__name__}")
        if unknown not in ("unk", "error"):
            raise ValueError(f"unknown must be 'unk' or 'error', got {unknown!r}")
        self.str_to_int = {str(s): _as_id(i) for s, i in vocab.items()}
        self.int_to_str = {i: s for s, i in self.str_to_int.items()}
        if len(self.int_to_str) != len(self.str_to_int):
            raise ValueError("vocab maps two tokens to the same id; ids must be unique")
        self.unknown = unknown
        self.name = name
        self.special_tokens = {s: i for s, i in self.str_to_int.items() if _SPECIAL_SHAPE.match(s)}
        self.vocab_size = len(self.str_to_int)
        self.max_token_value = max(self.int_to_str, default=-1)
        self.eot_id = self.str_to_int.get(ENDOFTEXT)

    @classmethod
    def split(cls, text: str) -> list[str]:
        """The book's pre-tokenization: regex split, pieces stripped, empty pieces dropped."""
        return [p.strip() for p in cls.SPLIT.split(_check_text(text)) if p.strip()]

    @classmethod
    def from_text(
        cls, text: str, *, special_tokens: Sequence[str] = (ENDOFTEXT, UNK), **kwargs: Any
    ) -> WordTokenizer:
        """Vocabulary = the sorted unique tokens of `text`, then `special_tokens` in order."""
        if isinstance(special_tokens, str):
            raise TypeError(f"special_tokens must be a sequence of tokens, got the str {special_tokens!r}; "
                            f"wrap it: special_tokens=({special_tokens!r},)")
        words = sorted(set(cls.split(text)) - set(special_tokens))
        return cls({tok: i for i, tok in enumerate([*words, *special_tokens])}, **kwargs)

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        ids = []
        for piece in self.split(text):
            if piece in allowed or (piece in self.str_to_int and piece not in self.special_tokens):
                ids.append(self.str_to_int[piece])
            elif self.unknown == "unk" and UNK in self.str_to_int:
                ids.append(self.str_to_int[UNK])
            else:
                raise ValueError(
                    f"{piece!r} is not in the vocabulary of {self.vocab_size} tokens; add "
                    f"{UNK!r} to the vocabulary (WordTokenizer.from_text adds it) to map unknown words to it"
                )
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        words = []
        for i in map(_as_id, ids):
            if i not in self.int_to_str:
                raise ValueError(f"token id {i} is not in the vocabulary (ids 0..{self.max_token_value})")
            words.append(self.int_to_str[i])
        return self._JOIN_FIX.sub(r"\1", " ".join(words))

    def decode_tokens_bytes(self, ids: Iterable[int]) -> list[bytes]:
        return [self.decode([i]).encode() for i in ids]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the vocabulary as JSON (format ``tokenmill-word-vocab``, version 1)."""
        doc = {"format": "tokenmill-word-vocab", "version": 1, "unknown": self.unknown, "vocab": self.str_to_int}
        Path(path).write_text(json.dumps(doc, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> WordTokenizer:
        """Read a vocabulary written by `save`; ValueError naming the file (and line) if corrupt."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 (byte {exc.start}: {exc.reason})") from None
        if not isinstance(doc, dict) or doc.get("format") != "tokenmill-word-vocab":
            raise ValueError(f"{path}: not a tokenmill word vocabulary (no 'format': 'tokenmill-word-vocab')")
        vocab = doc.get("vocab")
        if not isinstance(vocab, dict) or not all(isinstance(v, int) for v in vocab.values()):
            raise ValueError(f"{path}: 'vocab' must map each token to an integer id")
        try:
            return cls(vocab, unknown=doc.get("unknown", "unk"), name=str(path))
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: {exc}") from None
