"""The training sample: which pieces of the corpus the trainer sees, so that memory has a bound.

Hugging Face's BPE trainer keeps every distinct pre-token with its characters' pairs:
measured, about 17-20 bytes of memory per byte of distinct Japanese text (no spaces, so
almost every pre-token is new), far less for English. ``max_memory`` therefore sets a
*sample budget* (:func:`sample_budget`): the bytes of text the trainer may see. The corpus
is cut into chunks (whole lines, about 4096 characters, as the trainer is fed anyway);
each chunk gets a seeded hash of its identity (input name, document key, chunk number:
:func:`chunk_hash`), and the sample is the chunks with the smallest hashes whose text,
in hash order, fits the budget (:class:`BottomSample`). The choice depends only on the
inputs, ``seed`` and the budget: never on the executor, the workers or the task plan.

The memory model is fitted on Japanese, the worst case measured (vocabulary 32,000, one
process): samples of 6.2, 13.7 and 27.7 MB peaked at 258, 413 and 641 MB of RSS, under
``BASE_BYTES + BYTES_PER_TEXT_BYTE * sample`` (286, 451, 759 MB); the peak grows more
slowly than the sample (repeated pre-tokens), so the model holds for bigger ones.

Pitfall: a spaced language (English) uses far less than the bound, since its pre-tokens
repeat; text of nearly all-distinct ASCII pieces (hex, base64) could use more.

>>> parse_size("2GB"), parse_size("1.5GiB"), parse_size(1000)
(2000000000, 1610612736, 1000)
>>> s = BottomSample(10)
>>> for key, text in [((5,), "aaaa"), ((1,), "bbbb"), ((3,), "cccc"), ((2,), "dd")]:
...     s.add(key, text)
>>> [t for _, t in s.items()], s.cutoff
(['bbbb', 'dd', 'cccc'], (5,))
"""

from __future__ import annotations

import hashlib
import heapq
import re
from collections.abc import Iterable
from typing import Any

from tokenmill.common.errors import OptionError, OptionTypeError

DEFAULT_MAX_MEMORY = "2GB"  # a laptop stays safe; the same on every machine, so the same tokenizer
BASE_BYTES = 150 * 10**6  # the run without the trainer's model: Python, tokenizers, reading (fitted, below)
BYTES_PER_TEXT_BYTE = 30  # peak memory per byte of sampled Japanese text (fitted, below)
WORKER_BYTES = 40 * 10**6  # one reading worker's own pages (a forked one shares the rest), without its text
MIN_SAMPLE_BYTES_PER_TOKEN = 64  # less text per requested token than this rarely gives the merges
METHOD = "bottom-hash chunks"  # recorded in the tokenizer's metadata

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


def format_size(n: float) -> str:
    """``n`` bytes for people: ``'1.5 GB'``, ``'300 MB'``.

    >>> format_size(1.5e9), format_size(3e8)
    ('1.5 GB', '300 MB')
    """
    return f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def expected_memory(sample_bytes: int, workers: int = 0, task_text: int = 0) -> int:
    """The peak memory expected when the trainer sees ``sample_bytes`` of text, workers included.

    Reading: this process holds the sample, and up to two results per worker (a worker's
    result is its task's share of the sample, at most ``min(sample_bytes, task_text)``),
    each worker its own share twice (kept, then pickled). Training, once the workers are
    gone: the trainer's model, :data:`BYTES_PER_TEXT_BYTE` per byte of text.

    >>> format_size(expected_memory(50 * 10**6)), format_size(expected_memory(50 * 10**6, 2, 10**6))
    ('1.6 GB', '1.6 GB')
    """
    held = min(sample_bytes, task_text)
    reading = BASE_BYTES + 2 * sample_bytes + workers * (WORKER_BYTES + 4 * held)
    training = BASE_BYTES + BYTES_PER_TEXT_BYTE * sample_bytes
    return max(reading, training)


def workers_within(max_memory: int, sample_bytes: int, task_text: int, requested: int) -> int:
    """The most reading workers, up to ``requested``, whose memory fits ``max_memory`` (at least 1).

    The sample never depends on this number; only the reading's speed does.

    >>> workers_within(2 * 10**9, 60 * 10**6, 10**6, 4), workers_within(2 * 10**9, 60 * 10**6, 10**9, 16)
    (4, 6)
    """
    n = requested
    while n > 1 and expected_memory(sample_bytes, n, task_text) > max_memory:
        n -= 1
    return n


def sample_budget(max_memory: int, vocab_size: int) -> int:
    """The bytes of text the trainer may see within ``max_memory``; too small a bound says what it needs.

    >>> sample_budget(2 * 10**9, 32000) // 10**6
    61
    """
    budget = max(0, (max_memory - BASE_BYTES) // BYTES_PER_TEXT_BYTE)
    need = MIN_SAMPLE_BYTES_PER_TOKEN * vocab_size
    if budget < need:
        needed = BASE_BYTES + BYTES_PER_TEXT_BYTE * need
        raise OptionError(
            "max_memory",
            "{max_memory=%s} is too small to train %s tokens: it leaves %s of text for the trainer, and "
            "%s tokens need about %s, so at least {max_memory=%s}; or ask for a smaller {vocab_size}"
            % (_round_up(max_memory), f"{vocab_size:,}", format_size(budget), f"{vocab_size:,}",
               format_size(need), _round_up(needed)),
        )
    return budget


def _round_up(n: int) -> str:
    """A size at least ``n``, in MB, as a user types it (``'450MB'``)."""
    return f"{-(-n // 10**6)}MB"


def chunk_hash(seed: int, name: str, key: int, k: int) -> int:
    """A chunk's place in the sample order: a seeded hash of (input name, document key, chunk number).

    >>> chunk_hash(0, "a.jsonl", 0, 0) == chunk_hash(0, "a.jsonl", 0, 0) != chunk_hash(1, "a.jsonl", 0, 0)
    True
    """
    digest = hashlib.blake2b(f"{seed}:{name}:{key}:{k}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


class BottomSample:
    """The items with the smallest keys whose text, in key order, fits ``budget`` bytes.

    Exactly: sort every item ever added by key and keep the longest prefix whose UTF-8
    bytes are at most ``budget``. ``cutoff`` is the key of the first item past that prefix
    (None: all fitted). Merging the samples of any partition of the items, with their
    cutoffs (:meth:`merge`), gives the sample of all of them: a part's prefix holds every
    item of the whole's prefix that it has, and the whole's first excluded item is cut by
    its part or here.

    Pitfall: keys must be unique and totally ordered (a tuple ending in the item's identity).
    """

    def __init__(self, budget: int) -> None:
        self.budget = budget
        self.nbytes = 0
        self.cutoff: Any = None
        self._heap: list[tuple[Any, int, str]] = []  # a max-heap by key: (negated key, bytes, text)

    def add(self, key: Any, text: str, nbytes: int | None = None) -> None:
        if self.cutoff is not None and key >= self.cutoff:
            return
        n = len(text.encode("utf-8")) if nbytes is None else nbytes
        heapq.heappush(self._heap, (_Neg(key), n, text))
        self.nbytes += n
        self._trim()

    def cut(self, cutoff: Any) -> None:
        """Another part's first excluded key: nothing at or past it is in the whole's sample."""
        if cutoff is None or (self.cutoff is not None and self.cutoff <= cutoff):
            return
        self.cutoff = cutoff
        while self._heap and self._heap[0][0].key >= cutoff:
            _, n, _ = heapq.heappop(self._heap)
            self.nbytes -= n

    def merge(self, items: Iterable[tuple[Any, str]], cutoff: Any) -> None:
        """Another part's :meth:`items` and ``cutoff``."""
        self.cut(cutoff)
        for key, text in items:
            self.add(key, text)

    def _trim(self) -> None:
        while self.nbytes > self.budget:
            neg, n, _ = heapq.heappop(self._heap)
            self.nbytes -= n
            self.cutoff = neg.key if self.cutoff is None else min(self.cutoff, neg.key)

    def items(self) -> list[tuple[Any, str]]:
        """(key, text) of the sample, in key order."""
        return sorted(((neg.key, text) for neg, _, text in self._heap), key=lambda kv: kv[0])

    def __len__(self) -> int:
        return len(self._heap)


class _Neg:
    """A key ordered backwards (heapq is a min-heap)."""

    __slots__ = ("key",)

    def __init__(self, key: Any) -> None:
        self.key = key

    def __lt__(self, other: _Neg) -> bool:
        return other.key < self.key
