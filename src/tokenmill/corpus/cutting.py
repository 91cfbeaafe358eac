"""Cut a huge text where the pre-tokenizer splits anyway, so its parts encode to the same IDs.

Pitfall: BPE never merges across pre-tokenizer pieces, so a huge text may be encoded in
parts only if it is cut where the pre-tokenizer regex splits anyway. :func:`safe_cut`
finds such places (see its docstring for the proof sketch); the proof holds only for the
patterns in :data:`CUTTABLE_PATTERNS`. Memory stays bounded all the same: a text with no
such place within ``FORCE_FACTOR`` pieces (Japanese has none; nor has any text under
another pattern) is cut anyway, before a whitespace if there is one near, and every such
cut, which may change the IDs next to it, is counted (the manifest's ``unsafe_cuts``).

>>> text = "The cat sat.\\nOn the mat"
>>> cut = safe_cut(text, len(text))
>>> text[:cut], text[cut:]
('The cat sat.\\nOn the', ' mat')
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from tokenmill.tokenizers.registry import CL100K_PATTERN, GPT2_PATTERN, O200K_PATTERN

# Pre-tokenizer patterns for which the cut rule of safe_cut() is proven (tests re-check it):
# GPT-2/r50k/p50k, cl100k_base and o200k_base. Any other pattern: huge texts are not cut.
# The original GPT-2 release's spelling of the GPT-2 pattern (tiktoken uses a faster equivalent).
_GPT2_PAT_OLD = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
CUTTABLE_PATTERNS = frozenset({GPT2_PATTERN, _GPT2_PAT_OLD, CL100K_PATTERN, O200K_PATTERN})

# An ASCII letter followed by a space or newline: the cut goes between the two.
_CUT = re.compile(r"(?<=[A-Za-z])[ \n]")
_CUT_WINDOW = 1 << 12  # chars searched backwards for a cut first (widened x4 until one is found)
FORCE_FACTOR = 4  # a text without a safe place over this many pieces' length is cut anyway (memory)


def safe_cut(text: str, end: int, lo: int = 0) -> int:
    """The largest ``lo <= i <= end`` where ``text[:i]`` and ``text[i:]`` may be encoded apart; 0 if none.

    Rule: ``text[i-1]`` is an ASCII letter and ``text[i]`` is a space or a newline. Why
    it is exact for the GPT-2, cl100k and o200k patterns: (1) no pre-tokenizer piece
    contains a letter followed by whitespace, so the piece holding ``text[i-1]`` ends at
    ``i`` and a new piece starts there; (2) the regex has no look-behind, so matches from
    ``i`` on depend only on ``text[i:]``; (3) before ``i``, the only alternatives that
    look past a match are ``(?!\\S)`` and ``\\s++$``, which need whitespace right before
    ``i``, and ``text[i-1]`` is a letter. So the pieces of the whole are the pieces of
    the two parts, and BPE (which never merges across pieces) gives the same IDs.
    ASCII letters only, so that Unicode-version differences between Python and the Rust
    regex engine cannot matter.

    Pitfall: 0 means "no safe place", not "cut at the start"; text without an ASCII letter
    before a space (say, Chinese) has none.

    >>> safe_cut("one two", 7), safe_cut("1 2 3", 5)
    (3, 0)
    """
    floor, lo = lo, max(lo, end - _CUT_WINDOW)
    while True:
        last = 0
        for m in _CUT.finditer(text, lo, end + 1):
            last = m.start()
        if last or lo == floor:
            return last
        lo = max(floor, end - 4 * (end - lo))


class Cutter:
    """Cuts a growing text into pieces of about ``target`` chars at :func:`safe_cut` places.

    Text without a safe place is buffered (a list: no quadratic re-concatenation) up to
    ``FORCE_FACTOR * target`` chars, then cut anyway (:func:`cut_pieces`); :attr:`unsafe`
    counts those cuts.

    Pitfall: :meth:`feed` returns only the pieces that are certain; what it holds back is
    :attr:`rest`, which the caller must send as the document's last piece.

    >>> cutter = Cutter(True, 4)
    >>> cutter.feed("one two three four"), cutter.rest
    (['one', ' two', ' three'], ' four')
    """

    def __init__(self, cuttable: bool, target: int) -> None:
        self.cuttable, self.target = cuttable, target
        self.parts: list[str] = []
        self.size, self.has_cut = 0, False  # does the buffer hold a safe place past its start?
        self.unsafe = 0  # cuts made where no safe place was near (they may change IDs)

    @property
    def rest(self) -> str:
        return "".join(self.parts)

    def feed(self, text: str) -> list[str]:
        if self.cuttable and not self.has_cut:
            before = self.parts[-1][-1:] if self.parts else ""  # the look-behind char
            m = _CUT.search(before + text)
            self.has_cut = m is not None and (m.start() > 0 or bool(self.size))
        self.parts.append(text)
        self.size += len(text)
        if self.size < 2 * self.target or (not self.has_cut and self.size < FORCE_FACTOR * self.target):
            return []
        unsafe: list[int] = []
        # No safe place in the buffer: cut it without searching for one (a search would scan it all).
        *pieces, rest = cut_pieces(self.rest, self.cuttable and self.has_cut, self.target, unsafe)
        self.unsafe += len(unsafe)
        self.parts, self.size = [rest], len(rest)
        # A buffer with no safe place leaves a rest with none: no need to scan it again.
        self.has_cut = self.has_cut and _CUT.search(rest, 1) is not None
        return pieces


def cut_pieces(text: str, cuttable: bool, target: int, unsafe: list[int] | None = None) -> Iterator[str]:
    """A complete text's pieces of about ``target`` chars, cut as :class:`Cutter` cuts, one at a time.

    Lazy, so that a huge text is never held twice (text + all its pieces) in memory. No
    piece is much longer than ``FORCE_FACTOR * target``: where no safe place is near, the
    text is cut anyway (:func:`forced_cut`) and the place appended to ``unsafe``.

    >>> list(cut_pieces("one two three four", True, 4)), list(cut_pieces("a b", False, 1))
    (['one', ' two', ' three', ' four'], ['a b'])
    >>> unsafe = []
    >>> list(cut_pieces("日本語の文章ですね。はい", True, 2, unsafe)), unsafe
    (['日本', '語の', '文章ですね。はい'], [2, 4])
    """
    start = 0
    while len(text) - start >= 2 * target:
        cut = safe_cut(text, start + target, lo=start + 1) if cuttable else 0
        if cut == 0 and cuttable:  # none in the window: the first one after it, if near
            m = _CUT.search(text, start + target, start + FORCE_FACTOR * target)
            cut = m.start() if m is not None else 0
        if cut == 0:
            if len(text) - start <= FORCE_FACTOR * target:
                break  # short enough to encode at once: never cut unsafely without need
            cut = forced_cut(text, start, target)
            if unsafe is not None:
                unsafe.append(cut)
        yield text[start:cut]
        start = cut
    yield text[start:] if start else text


def forced_cut(text: str, start: int, target: int) -> int:
    """Where to cut ``text[start:]`` when no safe place is near: before the last whitespace
    that follows a non-space in the second half of the piece (a pre-tokenizer usually starts a
    piece there), else at ``start + target``; always ``> start``.

    >>> forced_cut("ab cd ef", 0, 6), forced_cut("abcdefgh", 0, 4)
    (5, 4)
    """
    end = start + target
    for i in range(end, start + target // 2, -1):
        if text[i].isspace() and not text[i - 1].isspace():
            return i
    return end
