"""Tokenizers: text -> token IDs and back, one interface for the book's word tokenizer and BPE.

Every tokenizer follows tiktoken's rule for special tokens: text that spells one (such as
``<|endoftext|>``) raises a ValueError unless the caller allows it with ``allowed_special``;
``encode_ordinary`` never treats text as special.

>>> tok = get_tokenizer("gpt2")
>>> tok.encode("hello world")
[31373, 995]
>>> tok.decode([31373, 995])
'hello world'
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import operator
import os
import re
import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

from tokenmill import vocab as _vocab

ENDOFTEXT = _vocab.ENDOFTEXT
UNK = "<|unk|>"
AllowedSpecial = Literal["all"] | Collection[str]
_SPECIAL_SHAPE = re.compile(r"^<\|[^|<>]+\|>$")


def _check_text(text: object) -> str:
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}; decode bytes first")
    return text


def _check_texts(texts: object) -> list[str]:
    if isinstance(texts, str):
        raise TypeError("texts must be a list of str, got one str; wrap it: encode_batch([text])")
    return [_check_text(t) for t in texts]  # type: ignore[attr-defined]


def _as_id(i: object) -> int:
    try:
        return operator.index(i)  # also accepts numpy integers and 0-d tensors
    except TypeError:
        raise TypeError(f"token ids must be integers, got {type(i).__name__} {i!r}") from None


class Tokenizer:
    """The interface every tokenizer offers; subclasses implement the `_encode*` hooks."""

    name: str  # how get_tokenizer() finds it again
    vocab_size: int  # number of token IDs, special tokens included
    max_token_value: int  # the largest ID it can produce
    eot_id: int | None  # the <|endoftext|> ID, or None
    special_tokens: dict[str, int]  # special token text -> ID
    ranks_sha256: str | None = None  # sha256 of the vocabulary file it was built from

    def encode(self, text: str, *, allowed_special: AllowedSpecial = frozenset()) -> list[int]:
        """Text -> IDs. Spelled special tokens raise unless listed in `allowed_special` (or "all")."""
        _check_text(text)
        allowed = self._allowed(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise ValueError(
                f"allowed_special names {sorted(unknown)}, which {self.name} does not have; "
                f"its special tokens are {sorted(self.special_tokens)}"
            )
        for special in self.special_tokens:
            if special not in allowed and special in text:
                raise ValueError(
                    f"the text contains the special token {special!r}. To encode it as the "
                    f"special token, pass allowed_special={{{special!r}}}; to encode it as "
                    f"plain text, use encode_ordinary(text)."
                )
        return self._encode(text, allowed) if text else []

    def _allowed(self, allowed_special: AllowedSpecial) -> set[str]:
        if allowed_special == "all":
            return set(self.special_tokens)
        if isinstance(allowed_special, str):  # one token, not its characters
            return {allowed_special}
        if allowed_special is None or not isinstance(allowed_special, Collection):
            raise TypeError(
                f"allowed_special must be 'all' or a set of special tokens, got {allowed_special!r}; "
                f"use set() to allow none"
            )
        return set(allowed_special)

    def _check_ids(self, ids: Iterable[int]) -> list[int]:
        """IDs as a list of ints; ValueError naming the first ID outside 0..max_token_value."""
        out = [_as_id(i) for i in ids]
        bad = next((i for i in out if not 0 <= i <= self.max_token_value), None)
        if bad is not None:
            raise ValueError(
                f"token id {bad} is outside {self.name}'s vocabulary (ids 0..{self.max_token_value})"
            )
        return out

    def encode_ordinary(self, text: str) -> list[int]:
        """Text -> IDs, treating text that spells a special token as ordinary text."""
        return self._encode(_check_text(text), set()) if text else []

    def encode_batch(
        self, texts: Sequence[str], *, allowed_special: AllowedSpecial = frozenset()
    ) -> list[list[int]]:
        """`encode` for each text, in order."""
        return [self.encode(t, allowed_special=allowed_special) for t in _check_texts(texts)]

    def encode_ordinary_batch(self, texts: Sequence[str], *, num_threads: int = 8) -> list[list[int]]:
        """`encode_ordinary` for each text, in order (threaded where the backend allows)."""
        return [self.encode_ordinary(t) for t in _check_texts(texts)]

    def decode(self, ids: Iterable[int]) -> str:
        """IDs -> text. Invalid UTF-8 from a partial token sequence becomes U+FFFD."""
        return b"".join(self.decode_tokens_bytes(ids)).decode("utf-8", errors="replace")

    def decode_tokens_bytes(self, ids: Iterable[int]) -> list[bytes]:
        """The bytes of each token, for showing token boundaries."""
        raise NotImplementedError

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} vocab_size={self.vocab_size}>"


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

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (get_tokenizer, (self._source,))

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        return self.encoding.encode(text, allowed_special=allowed, disallowed_special=())

    def encode_ordinary_batch(self, texts: Sequence[str], *, num_threads: int = 8) -> list[list[int]]:
        return self.encoding.encode_ordinary_batch(_check_texts(texts), num_threads=num_threads)

    def decode(self, ids: Iterable[int]) -> str:
        return self.encoding.decode(self._check_ids(ids), errors="replace")

    def decode_tokens_bytes(self, ids: Iterable[int]) -> list[bytes]:
        return self.encoding.decode_tokens_bytes(self._check_ids(ids))


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


def _tiktoken_from_file(source: str, path: Path, spec: _vocab.EncodingSpec | None) -> TiktokenTokenizer:
    import tiktoken

    sha = _vocab.sha256_of(path)
    ranks = read_ranks(path)
    if spec is None:
        # An unknown ranks file: assume GPT-2's pre-tokenizer and <|endoftext|> right after the ranks.
        name, pat, n_vocab = str(path), _vocab.GPT2_PATTERN, None
        specials = {ENDOFTEXT: max(ranks.values()) + 1}
    else:
        name, pat, specials, n_vocab = spec.name, spec.pat_str, spec.special_tokens, spec.explicit_n_vocab
    enc = tiktoken.Encoding(
        name, pat_str=pat, mergeable_ranks=ranks, special_tokens=dict(specials), explicit_n_vocab=n_vocab
    )
    return TiktokenTokenizer(source, enc, path, sha)


def _tiktoken_by_name(name: str) -> TiktokenTokenizer:
    spec = _vocab.spec_for(name)
    path = _vocab.find_ranks_file(spec)
    if path is not None:
        return _tiktoken_from_file(name, path, spec)
    import tiktoken

    try:  # last resort: tiktoken's own cache, then its download
        enc = tiktoken.get_encoding(name)
    except Exception as exc:  # any network or cache failure means "not installed" to the user
        raise ValueError(_vocab.missing_message(spec, exc)) from exc
    return TiktokenTokenizer(name, enc, None, None)


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
            self._hf = _HF.from_file(str(path))
        except Exception as exc:
            raise ValueError(f"{path}: not a valid Hugging Face tokenizer.json ({exc})") from exc
        self.name = str(path)
        added = self._hf.get_added_tokens_decoder()
        self.special_tokens = {t.content: i for i, t in added.items() if t.special}
        self.vocab_size = self._hf.get_vocab_size(with_added_tokens=True)
        self.max_token_value = max(self._hf.get_vocab(with_added_tokens=True).values())
        self.eot_id = self.special_tokens.get(ENDOFTEXT)
        self.ranks_sha256 = _vocab.sha256_of(path)

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return (get_tokenizer, (self._source,))

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
        return [self._hf.decode([i], skip_special_tokens=False).encode() for i in ids]


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


@functools.lru_cache(maxsize=32)
def _load(name_or_path: str) -> Tokenizer:
    if name_or_path in _vocab.KNOWN_ENCODINGS:
        return _tiktoken_by_name(name_or_path)
    path = Path(name_or_path)
    if not path.is_file():
        known = ", ".join(sorted(_vocab.KNOWN_ENCODINGS))
        raise ValueError(
            f"unknown tokenizer {name_or_path!r}: not a known name ({known}) and no such file "
            f"(give a .tiktoken ranks file, a Hugging Face tokenizer.json or a saved WordTokenizer vocabulary)"
        )
    if path.suffix == ".tiktoken":
        sha = _vocab.sha256_of(path)
        spec = next((s for s in _vocab.KNOWN_ENCODINGS.values() if s.sha256 == sha), None)
        named = next((s for s in _vocab.KNOWN_ENCODINGS.values() if path.name in s.filenames), None)
        if spec is None and named is not None:  # e.g. an edited gpt2.tiktoken: refuse, never mislabel
            _vocab.verify_ranks_file(path, named)
        return _tiktoken_from_file(name_or_path, path, spec)
    if path.suffix == ".json":
        try:
            with open(path, encoding="utf-8") as f:
                head = f.read(4096)
        except UnicodeDecodeError as exc:
            raise ValueError(f"{path}: not UTF-8 JSON (byte {exc.start}: {exc.reason})") from None
        if "tokenmill-word-vocab" in head:
            return WordTokenizer.load(path)
        return HFTokenizer(path)
    raise ValueError(f"{path}: unsupported tokenizer file; expected a .tiktoken or .json file")


def get_tokenizer(name_or_path: str | os.PathLike[str] | Tokenizer) -> Tokenizer:
    """A tokenizer by tiktoken name ("gpt2", "cl100k_base", ...) or by file path; cached.

    Pitfall: on an offline machine the ranks file must be installed first
    (``tokenmill vocab install gpt2``); the error says so and names the file and its sha256.

    >>> get_tokenizer("gpt2").vocab_size, get_tokenizer("gpt2").eot_id
    (50257, 50256)
    """
    if isinstance(name_or_path, Tokenizer):
        return name_or_path
    if type(name_or_path).__name__ == "Encoding" and hasattr(name_or_path, "_mergeable_ranks"):
        # A tiktoken.Encoding the caller built (the book passes one): wrap it as it is.
        return TiktokenTokenizer(name_or_path.name, name_or_path, None, None)
    if not isinstance(name_or_path, (str, os.PathLike)):
        raise TypeError(f"expected a tokenizer name or path, got {type(name_or_path).__name__}")
    return _load(os.fspath(name_or_path))
