"""The interface every tokenizer offers, and tiktoken's special-token rule, in one place."""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Collection, Iterable, Sequence
from typing import Literal

from tokenmill.common.errors import ExplainedError, OptionError

ENDOFTEXT = "<|endoftext|>"  # GPT-2's end-of-text token; every module imports it from here
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


# get_tokenizer (tokenizers/load.py) sits above the tokenizers it builds, so it registers itself
# here rather than being imported. Unpickling imports this module, hence the package front,
# which imports load.py: the registration is always done before _reload runs.
_LOADER: list[Callable[[str], Tokenizer]] = []


def _reload(source: str) -> Tokenizer:
    """Unpickle a tokenizer by resolving its name or path again (the vocabulary is not pickled)."""
    return _LOADER[0](source)


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
    # sha256 of everything that decides the IDs (vocabulary, pattern, special tokens), or None
    definition_sha256: str | None = None

    def encode(self, text: str, *, allowed_special: AllowedSpecial = frozenset()) -> list[int]:
        """Text -> IDs. Spelled special tokens raise unless listed in `allowed_special` (or "all")."""
        _check_text(text)
        allowed = self._allowed(allowed_special)
        unknown = allowed - set(self.special_tokens)
        if unknown:
            raise OptionError(
                "allowed_special",
                "{allowed_special} names {0}, which {1} does not have; its special tokens are {2}",
                sorted(unknown), self.name, sorted(self.special_tokens),
            )
        for special in self.special_tokens:
            if special not in allowed and special in text:
                raise _special_in_text(special)
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

    # tiktoken's names, for code written against tiktoken.Encoding.
    @property
    def n_vocab(self) -> int:
        """``max_token_value + 1``, as tiktoken's ``n_vocab`` (an ID gap counts: it is not ``vocab_size``)."""
        return self.max_token_value + 1

    @property
    def eot_token(self) -> int:
        """The ``<|endoftext|>`` ID, as tiktoken's ``eot_token``; AttributeError if there is none.

        >>> from tokenmill.tokenizers.load import get_tokenizer
        >>> tok = get_tokenizer("gpt2")
        >>> tok.eot_token, tok.n_vocab, tok.decode_single_token_bytes(995)
        (50256, 50257, b' world')
        """
        if self.eot_id is None:
            raise AttributeError(
                f"tokenizer {self.name!r} has no {ENDOFTEXT} token, so no eot_token; its special "
                f"tokens are {sorted(self.special_tokens)}"
            )
        return self.eot_id

    def decode_single_token_bytes(self, token: int) -> bytes:
        """The bytes of one token, as tiktoken's; ValueError for an ID outside the vocabulary."""
        return self.decode_tokens_bytes(self._check_ids([token]))[0]

    def _encode(self, text: str, allowed: set[str]) -> list[int]:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} vocab_size={self.vocab_size}>"


def _special_in_text(special: str) -> ValueError:
    """The error for text that spells ``special``: how to allow it, or how to keep it text."""
    value = repr(special)
    if "{" in value or "}" in value:  # cannot stand in a template field: spelled the Python way
        return ValueError(
            f"the text contains the special token {value}. To encode it as the special token, pass "
            f"allowed_special={{{value}}}; to encode it as plain text, use encode_ordinary(text)."
        )
    return ExplainedError(
        "the text contains the special token {0}. To encode it as the special token, pass "
        "{allowed_special=%s}; to encode it as plain text, use encode_ordinary(text)." % value,
        value,
    )
