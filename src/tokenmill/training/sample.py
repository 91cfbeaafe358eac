"""The training sample: which chunks of the corpus the trainer sees, so that memory has a bound.

The corpus is cut into chunks (whole lines, about 4096 characters, as the trainer is fed
anyway); each chunk gets a seeded hash of its identity (input name, document key, chunk
number: :func:`chunk_hash`), and the sample is the chunks with the smallest hashes whose
text, in hash order, fits a byte budget (:class:`BottomSample`); the memory model
(:mod:`tokenmill.training.memory`) may then keep a shorter prefix of that order. The
choice depends only on the inputs, ``seed`` and ``max_memory``: never on the executor,
the workers or the task plan.

>>> s = BottomSample(10)
>>> for key, text in [((5,), "aaaa"), ((1,), "bbbb"), ((3,), "cccc"), ((2,), "dd")]:
...     s.add(key, text)
>>> [t for _, t in s.items()], s.cutoff
(['bbbb', 'dd', 'cccc'], (5,))
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Iterable
from typing import Any

METHOD = "bottom-hash chunks"  # recorded in the tokenizer's metadata


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
