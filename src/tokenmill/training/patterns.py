"""Named pre-tokenizer patterns for training: ``gpt2``, ``cl100k``, ``o200k`` and ``multilingual``.

BPE never merges across the pieces the pre-tokenizer regex cuts, so the pattern decides
what a token can be. GPT-2's ``\\p{L}+`` glues a whole run of Japanese or Chinese letters
(no spaces) into one piece: merges then span words, training is slow (merge work grows
with piece length) and so is encoding.

``multilingual`` (the default) keeps GPT-2's behaviour for spaced scripts (a word with its
leading space, English contractions, punctuation runs) and cuts runs of letters where the
script changes between kanji (Han), hiragana and katakana, letting a kanji run keep the
hiragana that follows it (okurigana and particles: 思った, 東京に), the unit Japanese
readers see as a word, and a Japanese comma or full stop right after (た。). Digits go in
groups of up to three, as in cl100k. The figures behind this choice are in
docs/benchmarks.md.

Pitfall: the regex must match every character of any text (tiktoken silently drops what
no branch matches); the last branch of ``multilingual`` is a catch-all, and a test checks
that the pieces join back to the text.

>>> import regex
>>> regex.findall(PATTERNS["multilingual"], "吾輩は猫である。名前はまだ無い。")
['吾輩は', '猫である。', '名前はまだ', '無い。']
>>> regex.findall(PATTERNS["multilingual"], "We'll see 12345 cats")
['We', "'ll", ' see', ' ', '123', '45', ' cats']
"""

from __future__ import annotations

from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.tokenizers.registry import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN

# Letters (and combining marks) of every script but the three Japanese ones; ー/ｰ, the
# katakana length marks, are script "Common" and are listed with katakana instead.
_OTHER_LETTER = r"[^\s\p{N}\p{P}\p{S}\p{C}\p{Z}\p{Han}\p{Hiragana}\p{Katakana}ーｰ]"
_KATAKANA = r"[\p{Katakana}ーｰ]"

MULTILINGUAL_PATTERN = "|".join(
    [
        r"""'(?i:[sdmt]|ll|ve|re)""",  # English contractions, as cl100k
        r""" ?""" + _OTHER_LETTER + r"""+""",  # a word of a spaced script, with its leading space
        r""" ?\p{Han}+\p{Hiragana}*[、。]?""",  # kanji run + the hiragana after it (+ 、 or 。)
        r""" ?\p{Hiragana}+[、。]?""",
        r""" ?""" + _KATAKANA + r"""+""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n]*""",  # punctuation and symbols, as cl100k
        r"""\s+(?!\S)""",
        r"""\s+""",
        r""".""",  # catch-all: any character no branch above takes (never silently dropped)
    ]
)

PATTERNS: dict[str, str] = {
    "multilingual": MULTILINGUAL_PATTERN,
    "gpt2": GPT2_PATTERN,
    "cl100k": CL100K_PATTERN,
    "o200k": O200K_PATTERN,
}
DEFAULT_PATTERN = "multilingual"


def pattern_for(name: str) -> str:
    """The regex of a named pattern; ValueError listing the known names otherwise.

    >>> pattern_for("gpt2") == GPT2_PATTERN
    True
    >>> pattern_for("bert")
    Traceback (most recent call last):
    ...
    tokenmill.common.errors.OptionError: unknown pattern 'bert'; known patterns: multilingual, gpt2, cl100k, o200k
    """
    if not isinstance(name, str):
        raise OptionTypeError("pattern", "{pattern} must be a pattern name (str), got {0}", type(name).__name__)
    try:
        return PATTERNS[name]
    except KeyError:
        raise OptionError("pattern", "unknown {pattern} {0!r}; known patterns: {1}", name, ", ".join(PATTERNS)) from None
