"""Cut a huge text where the pre-tokenizer splits anyway, so its parts encode to the same IDs.

Pitfall: BPE never merges across pre-tokenizer pieces, so a huge text may be encoded in
parts only if it is cut where the pre-tokenizer regex splits anyway. :func:`safe_cut`
finds such places (see its docstring for the proof sketch); the proof holds only for the
patterns in :data:`CUTTABLE_PATTERNS`, and texts under any other pattern are not cut.

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

    Text without a safe place is only buffered (a list: no quadratic re-concatenation);
    with a non-cuttable pattern everything is buffered until the document ends.

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
        if not self.has_cut or self.size < 2 * self.target:
            return []
        *pieces, rest = cut_pieces(self.rest, True, self.target)
        self.parts, self.size = [rest], len(rest)
        self.has_cut = _CUT.search(rest, 1) is not None
        return pieces


def cut_pieces(text: str, cuttable: bool, target: int) -> Iterator[str]:
    """A complete text's pieces of about ``target`` chars, cut as :class:`Cutter` cuts, one at a time.

    Lazy, so that a huge text is never held twice (text + all its pieces) in memory.

    >>> list(cut_pieces("one two three four", True, 4)), list(cut_pieces("a b", False, 1))
    (['one', ' two', ' three', ' four'], ['a b'])
    """
    start = 0
    while cuttable and len(text) - start >= 2 * target:
        cut = safe_cut(text, start + target, lo=start + 1)
        if cut == 0:  # none in the window: the first one after it
            m = _CUT.search(text, start + target)
            if m is None:
                break
            cut = m.start()
        yield text[start:cut]
        start = cut
    yield text[start:] if start else text
