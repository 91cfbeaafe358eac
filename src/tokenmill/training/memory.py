"""train-tokenizer's memory: ``max_memory`` sizes, and the model that fits the sample under it.

Hugging Face's BPE trainer keeps every *distinct* pre-token: its string, its characters as
symbols and, per pair of neighbours, the word in the pair's index. Its memory therefore
follows the sample's distinct pre-tokens, not its size: Japanese (no spaces, so almost
every pre-token is new) measured 17-20 bytes per byte of text, English far less. So:

1. ``max_memory`` gives a byte budget (:func:`sample_budget`, at Japanese's cost per byte),
   which bounds what the reading holds (:func:`reading_memory`);
2. the sample's prefix, in hash order, is profiled (:func:`fit_prefix`: its pre-tokens,
   hashed with CRC-32, distinct ones counted) and the longest prefix whose
   :meth:`Profile.peak` fits ``max_memory`` is kept: text whose pre-tokens are more
   distinct than Japanese gets fewer bytes. Both steps are deterministic.

The constants are fitted on measured peaks (``benchmarks/bench_train_tokenizer_memory.py
--calibrate``; docs/benchmarks.md): real and synthetic Japanese and English.

Pitfall: the model is measured with tokenizers 0.2x on Linux; another allocator or
version may differ by some percent (the constants keep a margin).

>>> parse_size("2GB"), parse_size("1.5GiB"), parse_size(1000)
(2000000000, 1610612736, 1000)
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.common.words import human_bytes

DEFAULT_MAX_MEMORY = "2GB"  # a laptop stays safe; the same on every machine, so the same tokenizer
# The peak, measured on 10 runs (docs/benchmarks.md): samples of 3-84 MB of Japanese and of
# synthetic kana/kanji text, up to 1 GB of input. The constants sit above every point (the
# closest: the most distinct sample, from 1 GB of shifted-kanji text; its many distinct
# character pairs cost more than its characters say).
BASE_BYTES = 140 * 10**6  # the run without the trainer's model: Python, tokenizers, reading
PER_DISTINCT_CHAR = 90  # per character of a distinct pre-token (the trainer's words, symbols, pair index)
PER_DISTINCT_PIECE = 0  # per distinct pre-token (measured: no better fit than the characters alone)
PER_TEXT_BYTE = 11  # per byte of sampled text (the text, the trainer's counting maps as they merge)
BUDGET_PER_TEXT_BYTE = 20  # the byte budget's cost per byte (Japanese's); the profile then fits it
WORKER_BYTES = 40 * 10**6  # one reading worker's own pages (a forked one shares the rest), without its text
MIN_SAMPLE_BYTES_PER_TOKEN = 64  # less text per requested token than this rarely gives the merges

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}


def parse_size(value: Any, name: str = "max_memory") -> int:
    """Bytes from ``value``: an int, or a str like ``"2GB"`` (10**9), ``"2GiB"`` (2**30), ``"500MB"``.

    >>> parse_size("512 MiB") == 512 << 20
    True
    """
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise OptionTypeError(name, "{%s} must be a size like '2GB' or a number of bytes, got {0!r}" % name, value)
    if isinstance(value, int):
        size = value
    else:
        m = re.fullmatch(r"\s*(\d+(?:\.\d*)?)\s*([a-zA-Z]*)\s*", value)
        if m is None or m.group(2).lower() not in _UNITS:
            raise OptionError(name, "{%s} must be a size like 2GB, 1.5GiB or 500MB, got {0!r}" % name, value)
        size = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if size <= 0:
        raise OptionError(name, "{%s} must be positive, got {0!r}; e.g. {%s=2GB}" % (name, name), value)
    return size


def _round_up(n: int) -> str:
    """A size at least ``n``, in MB, as a user types it (``'450MB'``)."""
    return f"{-(-n // 10**6)}MB"


def sample_budget(max_memory: int, vocab_size: int) -> int:
    """The most bytes of text the trainer may see within ``max_memory``; too small a bound says what it needs.

    >>> sample_budget(2 * 10**9, 32000) // 10**6
    93
    """
    budget = max(0, (max_memory - BASE_BYTES) // BUDGET_PER_TEXT_BYTE)
    need = MIN_SAMPLE_BYTES_PER_TOKEN * vocab_size
    if budget < need:
        needed = BASE_BYTES + BUDGET_PER_TEXT_BYTE * need
        raise OptionError(
            "max_memory",
            "{max_memory=%s} is too small to train %s tokens: it leaves %s of text for the trainer, and "
            "%s tokens need about %s, so at least {max_memory=%s}; or ask for a smaller {vocab_size}"
            % (_round_up(max_memory), f"{vocab_size:,}", human_bytes(budget), f"{vocab_size:,}",
               human_bytes(need), _round_up(needed)),
        )
    return budget


def check_enough(profile: Profile, total_bytes: int, vocab_size: int, max_memory: int) -> None:
    """Refuse a fitted sample too small for ``vocab_size`` (unless it is the whole corpus), saying what would do.

    The memory asked for is the profile's cost per byte over the text ``vocab_size`` needs.
    """
    need = MIN_SAMPLE_BYTES_PER_TOKEN * vocab_size
    if profile.nbytes >= min(need, total_bytes):
        return
    per_byte = (profile.peak() - BASE_BYTES) / max(1, profile.nbytes) if profile.nbytes else BUDGET_PER_TEXT_BYTE * 2
    needed = int(BASE_BYTES + per_byte * need)
    raise OptionError(
        "max_memory",
        "{max_memory=%s} is too small to train %s tokens on this text: it leaves %s of it for the trainer "
        "(its pre-tokens are mostly distinct), and %s tokens need about %s, so at least {max_memory=%s}; "
        "or ask for a smaller {vocab_size}"
        % (_round_up(max_memory), f"{vocab_size:,}", human_bytes(profile.nbytes), f"{vocab_size:,}",
           human_bytes(need), _round_up(needed)),
    )


def reading_memory(sample_bytes: int, workers: int = 0, task_text: int = 0) -> int:
    """The peak while the corpus is read into a sample of ``sample_bytes``, workers included.

    This process holds the sample and up to two results per worker (a result is its task's
    share of the sample, at most ``min(sample_bytes, task_text)``); each worker its own
    share twice (kept, then pickled).

    >>> human_bytes(reading_memory(50 * 10**6)), human_bytes(reading_memory(50 * 10**6, 2, 10**6))
    ('240.0 MB', '328.0 MB')
    """
    held = min(sample_bytes, task_text)
    return BASE_BYTES + 2 * sample_bytes + workers * (WORKER_BYTES + 4 * held)


def workers_within(max_memory: int, sample_bytes: int, task_text: int, requested: int) -> int:
    """The most reading workers, up to ``requested``, whose memory fits ``max_memory`` (at least 1).

    The sample never depends on this number; only the reading's speed does.

    >>> workers_within(2 * 10**9, 90 * 10**6, 10**6, 4), workers_within(2 * 10**9, 90 * 10**6, 10**9, 16)
    (4, 4)
    """
    n = requested
    while n > 1 and reading_memory(sample_bytes, n, task_text) > max_memory:
        n -= 1
    return n


@dataclass
class Profile:
    """A sample's pre-tokens, as the trainer's memory sees them."""

    nbytes: int = 0  # UTF-8 bytes of text
    pieces: int = 0  # pre-tokens
    distinct_pieces: int = 0
    distinct_chars: int = 0  # characters of the distinct pre-tokens
    exact: bool = True  # False: a bound from the text's size alone (the profile was not needed)

    def peak(self) -> int:
        """The peak memory expected when the trainer sees this sample."""
        return int(BASE_BYTES + PER_DISTINCT_CHAR * self.distinct_chars + PER_DISTINCT_PIECE * self.distinct_pieces
                   + PER_TEXT_BYTE * self.nbytes)


def worst_case(texts: Sequence[str]) -> Profile:
    """A profile no sample of ``texts`` exceeds: every character a distinct pre-token.

    >>> worst_case(["ab", "c"]).peak() - BASE_BYTES
    303
    """
    chars = sum(map(len, texts))
    nbytes = sum(len(t.encode("utf-8")) for t in texts)
    return Profile(nbytes, chars, chars, chars, exact=False)


def fit_prefix(texts: Sequence[str], pat_str: str, max_memory: int) -> tuple[int, Profile]:
    """(how many of ``texts``, in order, to keep; their profile): the longest prefix whose peak fits.

    Every prefix is profiled in one pass: each distinct pre-token (by CRC-32) is charged to
    the text where it first appears. When even the worst case fits, nothing is counted.

    >>> n, p = fit_prefix(["ab ab ab", "cd"] * 100, r"\\S+|\\s+", BASE_BYTES + 10**6)
    >>> n, p.distinct_pieces, p.exact
    (200, 1000, False)
    >>> n, p = fit_prefix(["ab ab ab", "cd"] * 100, r"\\S+|\\s+", BASE_BYTES + 2000)
    >>> n, p.distinct_pieces, p.distinct_chars
    (28, 3, 5)
    """
    whole = worst_case(texts)
    if whole.peak() <= max_memory:
        return len(texts), whole
    import numpy as np
    import regex

    pat = regex.compile(pat_str)
    n = len(texts)
    counts, nbytes = np.zeros(n, np.int64), np.zeros(n, np.int64)
    crcs, lens = [], []
    for i, text in enumerate(texts):
        pieces = pat.findall(text)
        crcs.append(np.fromiter((zlib.crc32(p.encode("utf-8", "surrogatepass")) for p in pieces), np.uint32, len(pieces)))
        lens.append(np.fromiter(map(len, pieces), np.uint32, len(pieces)))
        counts[i], nbytes[i] = len(pieces), len(text.encode("utf-8"))
    crc, length = np.concatenate(crcs), np.concatenate(lens)
    del crcs, lens
    first = np.unique(crc, return_index=True)[1]  # each distinct pre-token's first appearance
    del crc
    owner = np.repeat(np.arange(n), counts)[first]  # the text it first appears in
    new_pieces = np.cumsum(np.bincount(owner, minlength=n))
    new_chars = np.cumsum(np.bincount(owner, weights=length[first], minlength=n)).astype(np.int64)
    cum_bytes, cum_pieces = np.cumsum(nbytes), np.cumsum(counts)
    peaks = BASE_BYTES + PER_DISTINCT_CHAR * new_chars + PER_DISTINCT_PIECE * new_pieces + PER_TEXT_BYTE * cum_bytes
    done = int(np.searchsorted(peaks, max_memory, side="right"))  # peaks never decrease
    if done == 0:
        return 0, Profile()
    k = done - 1
    profile = Profile(int(cum_bytes[k]), int(cum_pieces[k]), int(new_pieces[k]), int(new_chars[k]))
    return done, profile
