"""Many token runs in one call: ``take_ranges`` (packed rows read a run per document piece).

A packed row of 1,025 slots may hold a hundred short documents from all over the store, so
reading it as windows (one per piece, each a row long) copies a hundred times more than it
keeps. ``take_ranges`` copies only the runs: from one array, one fancy gather over the runs'
positions; from a ``TokenArray`` over many shards, each run sliced from its shard and the
slices joined (few runs per shard) or one gather per shard (many runs per shard).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["range_positions", "take_ranges", "take_ranges_reference"]

# Slicing and joining costs about 0.3 us a run; one gather per shard about 5 us a shard plus
# a few ns a token (2-core Xeon, packed rows of short documents). Past this many runs per
# distinct shard, gather per shard.
RUNS_PER_SHARD_TO_GATHER = 16


def range_positions(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Every position of the runs ``[s, s + l)`` laid end to end: int64 ``(sum(lengths),)``.

    >>> range_positions(np.array([5, 0]), np.array([2, 3])).tolist()
    [5, 6, 0, 1, 2]
    """
    before = np.cumsum(lengths) - lengths  # (runs,) where each run begins in the output
    return np.arange(int(before[-1] + lengths[-1]) if len(lengths) else 0, dtype=np.int64) + np.repeat(
        starts - before, lengths
    )


def check_ranges(starts: Any, lengths: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(starts, lengths)`` as int64 arrays, else ValueError naming the first bad run."""
    starts, lengths = np.asarray(starts), np.asarray(lengths)
    for name, a in (("starts", starts), ("lengths", lengths)):
        if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
            raise ValueError(f"{name} must be a 1-D integer array, got shape {a.shape} dtype {a.dtype}")
    if starts.shape != lengths.shape:
        raise ValueError(f"got {len(starts)} starts but {len(lengths)} lengths")
    starts, lengths = starts.astype(np.int64, copy=False), lengths.astype(np.int64, copy=False)
    # three reductions on the good path; the first bad run is looked for only when there is one
    if starts.size and (starts.min() < 0 or lengths.min() < 0 or (starts + lengths).max() > n):
        i = int(np.flatnonzero((lengths < 0) | (starts < 0) | (starts + lengths > n))[0])
        raise ValueError(
            f"run {i} (start {int(starts[i])}, length {int(lengths[i])}) does not fit in {n} "
            f"tokens (need 0 <= start, 0 <= length, start + length <= {n})"
        )
    return starts, lengths


def take_ranges(tokens: Any, starts: Any, lengths: Any, dtype: Any = None) -> np.ndarray:
    """``concatenate([tokens[s : s + l] for s, l in zip(starts, lengths)])``, in ``dtype``.

    ``tokens`` is a 1-D numpy array or anything with a ``take_ranges`` method (a token store
    split). Pitfall: runs are copied in the order given, overlaps included; the result is a
    copy even when a single run would have been a view.

    >>> take_ranges(np.arange(10, 20), [5, 0], [2, 3]).tolist()
    [15, 16, 10, 11, 12]
    """
    if hasattr(tokens, "take_ranges"):
        return tokens.take_ranges(starts, lengths, dtype=dtype)
    starts, lengths = check_ranges(starts, lengths, len(tokens))
    out = np.asarray(tokens)[range_positions(starts, lengths)]
    return out if dtype is None else out.astype(dtype, copy=False)


def take_ranges_reference(tokens: Any, starts: Any, lengths: Any) -> np.ndarray:
    """The obvious loop over runs: the test oracle of :func:`take_ranges`."""
    parts = [np.asarray(tokens[int(s) : int(s) + int(n)]) for s, n in zip(starts, lengths)]
    return np.concatenate(parts) if parts else np.empty(0, dtype=np.asarray(tokens[:0]).dtype)


def shard_runs(
    bounds: np.ndarray, starts: np.ndarray, lengths: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(shard, local start, length)`` of each run, runs straddling shards cut at the boundary.

    Empty runs are dropped; the rest keep their order.

    >>> shard_runs(np.array([0, 3, 3, 6]), np.array([1, 5]), np.array([4, 0]))
    (array([0, 2]), array([1, 0]), array([2, 2]))
    """
    if lengths.size and lengths.min() == 0:
        keep = lengths > 0
        starts, lengths = starts[keep], lengths[keep]
    # side="right" skips empty shards, whose start equals the next shard's start.
    first = bounds.searchsorted(starts, side="right") - 1
    last = bounds.searchsorted(starts + lengths - 1, side="right") - 1
    if (first == last).all():
        return first, starts - bounds[first], lengths
    count = last - first + 1  # (runs,) shards each run touches, empty ones included
    before = np.cumsum(count) - count
    shard = np.arange(int(count.sum()), dtype=np.int64) - np.repeat(before - first, count)
    lo = np.maximum(np.repeat(starts, count), bounds[shard])
    hi = np.minimum(np.repeat(starts + lengths, count), bounds[shard + 1])
    keep = hi > lo
    return shard[keep], (lo - bounds[shard])[keep], (hi - lo)[keep]


def take_located(
    shard_array: Callable[[int], np.ndarray], memoryviews: Callable[[set[int]], dict[int, memoryview]],
    dtype: np.dtype, shard: np.ndarray, local: np.ndarray, length: np.ndarray, out_dtype: np.dtype, max_open: int,
) -> np.ndarray:
    """The runs ``shard_array(s)[a : a + l]`` laid end to end, in ``out_dtype`` (``TokenArray``'s engine).

    Few runs per shard: each run a memoryview slice, all joined by ``bytearray.join`` (about half
    the cost of numpy slices and ``np.concatenate``). Many: one gather per shard, shards in
    turn, so no more than one extra map is held.
    """
    if not len(shard):
        return np.empty(0, dtype=out_dtype)
    ids = shard.tolist()
    used = set(ids)
    if len(ids) <= RUNS_PER_SHARD_TO_GATHER * len(used) and len(used) <= max_open:
        views = memoryviews(used)
        # a bytearray, so the array over it is writable without another copy
        joined = bytearray().join([views[s][a:b] for s, a, b in zip(ids, local.tolist(), (local + length).tolist())])
        out = np.frombuffer(joined, dtype=dtype)
        return out if out_dtype == dtype else out.astype(out_dtype)
    order = np.argsort(shard, kind="stable")
    total = np.cumsum(length)
    source = range_positions(local[order], length[order])  # positions in each run's shard
    target = range_positions((total - length)[order], length[order])  # positions in the output
    out = np.empty(int(total[-1]), dtype=out_dtype)
    grouped = shard[order]
    cuts = np.flatnonzero(grouped[1:] != grouped[:-1]) + 1
    ends = np.cumsum(length[order])
    at = [0, *ends[cuts - 1].tolist(), int(ends[-1])]
    for s, a, b in zip(grouped[np.concatenate([[0], cuts])].tolist(), at[:-1], at[1:]):
        out[target[a:b]] = shard_array(s)[source[a:b]]
    return out
