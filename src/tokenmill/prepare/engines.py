"""Tokenizing engines for ``prepare``: tiktoken (default) and the opt-in riptoken.

Both give a document's IDs as a numpy array, with special-token spellings encoded as
ordinary text. riptoken (``pip install 'tokenmill[fast]'``) is a faster reimplementation of
tiktoken; it is used only after it reproduced tiktoken exactly on :data:`PARITY_SAMPLE`.

Pitfall: a lone surrogate (``"\\ud800"``, possible in JSON escapes) cannot be UTF-8
encoded; like tiktoken's ``encode_ordinary`` we replace it with U+FFFD, and count it.

>>> from tokenmill.tokenizers import get_tokenizer
>>> encode = make_encoder(get_tokenizer("gpt2"), "tiktoken")
>>> encode("hello world<|endoftext|>").tolist()
[31373, 995, 27, 91, 437, 1659, 5239, 91, 29]
"""

from __future__ import annotations

import array
from collections.abc import Callable
from typing import Any

import numpy as np

ENGINES = ("tiktoken", "riptoken")

# Varied text that exercises every branch of the pre-tokenizer patterns: contractions in
# both cases, digit runs, punctuation runs, whitespace runs (tabs, CRLF, trailing), accents,
# combining marks, CJK, RTL scripts, emoji with ZWJ/skin tones and spelled special tokens.
PARITY_SAMPLE = (
    "\n".join(
        [
            "It's the 1st of May, 2024; we'll see what they've done (or didn't) -- don't panic!",
            "I'M SURE YOU'LL LIKE IT. She'd've known. Rock'n'roll isn't dead: 'quoted' \"double\".",
            "Numbers: 0 12 345 6789 01234567890 3.14159 -42 1e10 0x1F 1,000,000 $9.99 50% #1 @home",
            "Punctuation runs: ... !!! ??? ;;; --- *** ((()))) [[]] {{}} <<>> /// \\\\ ||| ~~~ ``` ^^^",
            "Whitespace:  two   three    four\ttab\t\ttabs\r\nCRLF\r\rCR   \n\n\n   leading and trailing   ",
            "Café naïve résumé coöperate façade São Paulo Zürich Ångström Ærø œuvre straße ΑΒΓ δέλτα",
            "Combining: e\u0301 a\u0308 n\u0303 o\u0302\u0323 — dashes – and … ellipses « guillemets »",
            "中文文本测试，没有空格。日本語のテキスト、カタカナとひらがな。한국어 텍스트입니다.",
            "العربية نص تجريبي עברית טקסט Русский текст пример. हिन्दी पाठ. ไทย ภาษา",
            "Emoji: 😀 👍🏽 👩‍👩‍👧‍👦 🇫🇷 ❤️ 🧪✨ 1️⃣ ☕ and math ∑∫√∞ ≠ ≤ ≥ ± × ÷ and ⅓ ½ ² ³",
            "Specials spelled: <|endoftext|> <|fim_prefix|><|fim_middle|><|fim_suffix|> <|endofprompt|>",
            "Code: def f(x):\n    return {'a': [1, 2, 3]}  # comment\n\tif x>=0 and y!=1: pass\n",
            "URLs: https://example.com/path?q=1&r=2#frag mail@example.org C:\\Windows\\path",
            "  \u00a0nbsp\u2003emspace\u3000ideographic\u200bzero-width\ufeffbom end",
        ]
    )
    * 2
)


def scrub_surrogates(text: str) -> tuple[str, int]:
    """(text with lone surrogates replaced by U+FFFD as tiktoken does, how many were replaced)."""
    fixed = text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return fixed, fixed.count("\ufffd") - text.count("\ufffd")


_CORES: dict[tuple[Any, ...], Any] = {}  # built once per process (forked workers inherit it)


def _riptoken_core(tokenizer: Any) -> Any:
    key = (tokenizer.name, getattr(tokenizer, "ranks_sha256", None), getattr(tokenizer, "pat_str", None))
    if key not in _CORES:
        _CORES[key] = _build_riptoken_core(tokenizer)
    return _CORES[key]


def _build_riptoken_core(tokenizer: Any) -> Any:
    try:
        import riptoken
    except ImportError:
        raise ValueError(
            "engine='riptoken' needs the riptoken package: pip install 'tokenmill[fast]'"
        ) from None
    if not hasattr(tokenizer, "pat_str") or not hasattr(tokenizer, "encoding"):
        raise ValueError(
            f"engine='riptoken' works only with tiktoken-style BPE tokenizers, not {tokenizer.name!r}; "
            "use engine='tiktoken'"
        )
    # The very ranks, pre-tokenizer pattern and specials of the tiktoken encoding (already in
    # memory: re-reading the ranks file would cost ~0.2 s before any work starts).
    ranks = tokenizer.encoding._mergeable_ranks
    return riptoken.CoreBPE(ranks, dict(tokenizer.special_tokens), tokenizer.pat_str)


def make_encoder(tokenizer: Any, engine: str = "tiktoken") -> Callable[[str], np.ndarray]:
    """A function text -> IDs (uint32 array) that never treats text as a special token."""
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    if engine == "riptoken":
        core = _riptoken_core(tokenizer)
        return lambda text: _as_array(core.encode_ordinary(text))
    encoding = getattr(tokenizer, "encoding", None)
    if encoding is not None and hasattr(encoding, "encode_to_numpy"):
        # allowed_special=() with no disallowed check == encode_ordinary, minus the list.
        return lambda text: encoding.encode_to_numpy(text, allowed_special=set(), disallowed_special=())
    return lambda text: _as_array(tokenizer.encode_ordinary(text))


def _as_array(ids: list[int]) -> np.ndarray:
    # array.array converts a list of ints 3x faster than np.array (measured on 3M IDs).
    return np.frombuffer(array.array("I", ids), dtype=np.uint32)


def check_parity(tokenizer: Any, engine: str, *, sample: str = PARITY_SAMPLE) -> None:
    """Refuse ``engine`` (ValueError) unless it gives exactly tiktoken's IDs on ``sample``."""
    if engine == "tiktoken":
        return
    fast, reference = make_encoder(tokenizer, engine), make_encoder(tokenizer, "tiktoken")
    for line in [sample, *sample.splitlines(keepends=True)]:
        got, want = fast(line).tolist(), reference(line).tolist()
        if got != want:
            at = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
            raise ValueError(
                f"engine {engine!r} disagrees with tiktoken for tokenizer {tokenizer.name!r} on {line[:60]!r}: "
                f"first difference at token {at} ({got[at : at + 3]} vs {want[at : at + 3]}); use engine='tiktoken'"
            )
