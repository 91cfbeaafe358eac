"""``TokenArray``: one read-only 1-D array of token IDs over several memory-mapped shards."""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from tokenmill.common.checks import is_int
from tokenmill.store.format import _le
from tokenmill.store.shardfile import Identity, map_shard

MAX_OPEN_SHARDS = 128  # maps kept open per TokenArray: each holds a file descriptor


def _rebuild(paths: Any, lengths: Any, dtype: str, kwargs: dict[str, Any]) -> TokenArray:
    return TokenArray(paths, lengths, dtype, **kwargs)


def _window_reference(array: Any, starts: Sequence[int], length: int) -> np.ndarray:
    """The obvious per-window loop; the test oracle for :meth:`TokenArray.take_windows`."""
    rows = [np.asarray(array[int(s) : int(s) + length]) for s in starts]
    return np.stack(rows) if rows else np.empty((0, length), dtype=array.dtype)


class TokenArray:
    """A 1-D read-only array of token IDs spread over memory-mapped shard files.

    Indexing with an int gives a numpy scalar, with a slice an ndarray (a zero-copy view
    when the slice lies inside one shard, else a concatenated copy), with an integer or
    boolean array a gathered copy. It pickles as paths and lengths, so DataLoader workers
    (fork or spawn) reopen the files instead of copying the tokens.

    At most ``max_open`` shards stay mapped (the least recently used is let go first), so a
    store of any number of shards reads within the open-file limit. ``identities`` (st_ino,
    st_size, st_mtime_ns per shard, as ``TokenStore`` records them when it opens) make a
    (re)open that finds another file raise ValueError naming the shard; without them, the
    first open of each shard records its identity.

    Pitfall: views keep their shard file mapped; they are read-only (``arr[0] = 1``
    raises), so copy before modifying.

    >>> import tempfile
    >>> d = Path(tempfile.mkdtemp())
    >>> for k, ids in enumerate([[1, 2, 3], [4, 5]]):
    ...     _ = write_shard(d, shard_name("train", k), np.array(ids, np.uint16), np.array([0, len(ids)]))
    >>> arr = TokenArray([d / "train-00000.bin", d / "train-00001.bin"], [3, 2], "uint16")
    >>> arr[2:4], arr[[0, -1]]  # the slice straddles the two shards
    (array([3, 4], dtype=uint16), array([1, 5], dtype=uint16))
    >>> arr.take_windows(np.array([0, 2]), 3)
    array([[1, 2, 3],
           [3, 4, 5]], dtype=uint16)
    """

    __slots__ = ("_paths", "_lengths", "_dtype", "_bounds", "_maps", "_views", "_ids", "_max_open", "_remote")

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        lengths: Sequence[int],
        dtype: np.dtype | str,
        *,
        identities: Sequence[Identity | None] | None = None,
        max_open: int = MAX_OPEN_SHARDS,
        remote: Any = None,
    ) -> None:
        if len(paths) != len(lengths):
            raise ValueError(f"got {len(paths)} shard paths but {len(lengths)} lengths")
        if isinstance(max_open, bool) or not isinstance(max_open, int) or max_open < 1:
            raise ValueError(f"max_open must be an int >= 1, got {max_open!r}")
        self._paths = tuple(str(p) for p in paths)
        self._lengths = tuple(int(n) for n in lengths)
        self._dtype = _le(np.dtype(dtype))
        self._bounds = np.concatenate([[0], np.cumsum(self._lengths, dtype=np.int64)]).astype(np.int64)
        ids = list(identities) if identities is not None else [None] * len(self._paths)
        if len(ids) != len(self._paths):
            raise ValueError(f"got {len(self._paths)} shard paths but {len(ids)} identities")
        self._ids: list[Identity | None] = [None if i is None else tuple(i) for i in ids]  # type: ignore[misc]
        self._max_open = max_open
        self._remote = remote  # a store on object storage: shards come through its cache (store.remote)
        # Opened lazily and let go least recently used first: each open map holds a descriptor.
        self._maps: OrderedDict[int, np.ndarray] = OrderedDict()
        self._views: dict[tuple[int, int], np.ndarray] = {}

    def __reduce__(self) -> tuple[Any, ...]:
        kwargs = {"identities": self._ids, "max_open": self._max_open, "remote": self._remote}
        return (_rebuild, (self._paths, self._lengths, self._dtype.str, kwargs))

    def _shard(self, s: int) -> np.ndarray:
        arr = self._maps.get(s)
        if arr is not None:
            self._maps.move_to_end(s)
            return arr
        n = self._lengths[s]
        if n == 0:  # mmap refuses empty files
            arr = np.empty(0, dtype=self._dtype)
            arr.flags.writeable = False
        elif self._remote is not None:  # content-addressed and checked by sha256: no identity to keep
            arr = self._remote.map(self._paths[s], n, self._dtype)
        else:
            arr, found = map_shard(self._paths[s], n, self._dtype, self._ids[s])
            self._ids[s] = found
        while len(self._maps) >= self._max_open:
            old, _ = self._maps.popitem(last=False)
            for key in [k for k in self._views if k[0] == old]:
                del self._views[key]
        self._maps[s] = arr
        return arr

    @property
    def dtype(self) -> np.dtype:
        return self._dtype

    @property
    def shape(self) -> tuple[int]:
        return (int(self._bounds[-1]),)

    ndim = 1

    @property
    def size(self) -> int:
        return int(self._bounds[-1])

    @property
    def shard_bounds(self) -> np.ndarray:
        """Global start of each shard plus the total: ``n_shards + 1`` int64 values."""
        return self._bounds.copy()

    def __len__(self) -> int:
        return int(self._bounds[-1])

    def __repr__(self) -> str:
        return f"TokenArray(n_tokens={len(self)}, shards={len(self._paths)}, dtype={self._dtype.name})"

    def __iter__(self) -> Iterator[np.generic]:
        for s in range(len(self._paths)):
            yield from self._shard(s)

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        if copy is False and len(self._paths) > 1:
            raise ValueError("a TokenArray over several shards cannot become one array without a copy")
        arr = self._range(0, len(self))
        if copy:
            arr = arr.copy()
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def _locate(self, positions: np.ndarray) -> np.ndarray:
        # side="right" skips empty shards, whose start equals the next shard's start.
        return np.searchsorted(self._bounds, positions, side="right") - 1

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, tuple) and len(key) == 1:
            key = key[0]
        n = len(self)
        if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
            i = int(key) + n if key < 0 else int(key)
            if not 0 <= i < n:
                raise IndexError(f"index {int(key)} is out of range for a TokenArray of {n} tokens")
            s = int(self._locate(np.int64(i)))
            return self._shard(s)[i - int(self._bounds[s])]
        if isinstance(key, slice):
            start, stop, step = key.indices(n)
            if step == 1:
                return self._range(start, stop)
            return self._gather(np.arange(start, stop, step, dtype=np.int64))
        index = np.asarray(key)
        if index.dtype == np.bool_:
            if index.shape != (n,):
                raise IndexError(f"boolean index must have shape ({n},), got {index.shape}")
            return self._gather(np.flatnonzero(index))
        if index.dtype.kind in "iu" or index.size == 0:
            return self._gather(index.astype(np.int64))
        raise TypeError(
            f"TokenArray indices must be ints, slices or integer/boolean arrays, got {type(key).__name__}"
        )

    def _range(self, start: int, stop: int) -> np.ndarray:
        if stop <= start:
            return np.empty(0, dtype=self._dtype)
        first, last = (int(s) for s in self._locate(np.array([start, stop - 1])))
        b = self._bounds
        if first == last:
            return self._shard(first)[start - b[first] : stop - b[first]]
        out = np.empty(stop - start, dtype=self._dtype)  # filled shard by shard: no map is held past its copy
        for s in range(first, last + 1):
            lo, hi = max(start, int(b[s])), min(stop, int(b[s + 1]))
            out[lo - start : hi - start] = self._shard(s)[lo - int(b[s]) : hi - int(b[s])]
        return out

    def _gather(self, index: np.ndarray) -> np.ndarray:
        n = len(self)
        flat = index.reshape(-1)
        if flat.size and (flat.min() < -n or flat.max() >= n):
            bad = int(flat.min()) if flat.min() < -n else int(flat.max())
            raise IndexError(f"index {bad} is out of range for a TokenArray of {n} tokens")
        flat = np.where(flat < 0, flat + n, flat)
        if len(self._paths) == 1:
            return self._shard(0)[flat].reshape(index.shape)
        out = np.empty(flat.shape, dtype=self._dtype)
        if flat.size:
            shard_of = self._locate(flat)
            lo, hi = int(shard_of.min()), int(shard_of.max())
            if lo == hi:
                out[:] = self._shard(lo)[flat - self._bounds[lo]]
            else:
                order = np.argsort(shard_of, kind="stable")
                cuts = np.cumsum(np.bincount(shard_of, minlength=len(self._paths)))[:-1]
                for s, rows in enumerate(np.split(order, cuts)):
                    if rows.size:
                        out[rows] = self._shard(s)[flat[rows] - self._bounds[s]]
        return out.reshape(index.shape)

    def _windows(self, s: int, length: int) -> np.ndarray:
        """Every window of ``length`` in shard ``s`` as a strided view, cached per length."""
        key = (s, length)
        view = self._views.get(key)
        if view is None:
            if len(self._views) > 2 * len(self._paths):  # callers switched lengths: start over
                self._views.clear()
            view = np.lib.stride_tricks.sliding_window_view(
                self._shard(s), length
            )  # (n - length + 1, length)
            self._views[key] = view
        return view

    def take_windows(self, starts: np.ndarray | Sequence[int], length: int) -> np.ndarray:
        """Copy the windows ``self[s : s + length]`` for each ``s`` in ``starts``.

        Returns shape ``(len(starts), length)`` in the store dtype. Windows inside one
        shard are gathered per shard in one vectorised step; the rare window straddling
        a shard boundary is stitched element-wise.
        """
        starts = np.asarray(starts)
        if starts.ndim != 1 or (starts.size and starts.dtype.kind not in "iu"):
            raise ValueError(
                f"starts must be a 1-D integer array, got shape {starts.shape} dtype {starts.dtype}"
            )
        if not is_int(length) or length < 0:
            raise ValueError(f"length must be an int >= 0, got {length!r}")
        length, n = int(length), len(self)
        starts = starts.astype(np.int64)
        if not starts.size or not length:
            return np.empty((len(starts), length), dtype=self._dtype)
        if starts.min() < 0 or starts.max() + length > n:
            bad = int(starts.min()) if starts.min() < 0 else int(starts.max())
            raise ValueError(
                f"window start {bad} with length {length} does not fit in {n} tokens "
                f"(need 0 <= start <= {n - length})"
            )
        if len(self._paths) == 1:
            return self._windows(0, length)[starts]
        first, last = self._locate(starts), self._locate(starts + (length - 1))
        inside = first == last
        lo, hi = int(first.min()), int(first.max())
        if lo == hi and inside.all():
            return self._windows(lo, length)[starts - self._bounds[lo]]
        out = np.empty((len(starts), length), dtype=self._dtype)
        # Group the windows that lie inside one shard by shard (one sort, one gather each).
        order = np.flatnonzero(inside)
        order = order[np.argsort(first[order], kind="stable")]
        cuts = np.flatnonzero(first[order][1:] != first[order][:-1]) + 1
        for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(order)]) if order.size else ():
            rows = order[a:b]
            s = int(first[rows[0]])
            out[rows] = self._windows(s, length)[starts[rows] - self._bounds[s]]
        straddle = np.flatnonzero(~inside)
        if straddle.size:
            out[straddle] = self._gather(starts[straddle, None] + np.arange(length, dtype=np.int64))
        return out
