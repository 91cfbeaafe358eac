"""A locality-preserving seeded order: shuffled blocks of consecutive windows, mixed within groups.

``LocalPermutation(n, seed=..., epoch=..., block_windows=b, group_blocks=G)`` is a bijection of
``[0, n)``, a pure function of ``(n, seed, epoch, b, G)`` in O(1) memory, like
``tokenmill.loader.permutation.Permutation``, but a run of positions needs few distinct stretches
of the store: cut the windows into blocks of ``b`` consecutive windows, shuffle the blocks (a
``Permutation`` of the full blocks), take them ``G`` at a time as groups, and shuffle the windows
of each group (a ``Permutation`` per group). So the ``G * b`` positions of one group read only
``G`` blocks, and a cache that holds a group's bytes (plus the next group's, to prefetch)
downloads each stretch about once per epoch, where a uniform shuffle needs a different shard for
nearly every window.

Pitfall: the mixing is weaker than the uniform order's. A window moves anywhere in the epoch
with its block, but its neighbours in a batch come from only ``G`` blocks: each global batch
holds windows of at most ``G`` (+1, the tail's) stretches of ``b`` windows (``+G`` more when it
straddles two groups). The windows after the last full block (fewer than ``b``) are mixed into
the last group. The order is versioned (``LOCAL_PERMUTATION_VERSION``, recorded in the loader's
state): another version is another order.

>>> p = LocalPermutation(10, seed=123, block_windows=2, group_blocks=2)
>>> p(np.arange(10)).tolist()
[1, 9, 0, 8, 4, 3, 5, 2, 7, 6]
>>> sorted(p(np.arange(10)).tolist()) == list(range(10))
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tokenmill.common.checks import non_negative_int, positive_int
from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.common.sizes import parse_size
from tokenmill.loader.permutation import Permutation, check_positions, check_seed

__all__ = [
    "LOCAL_PERMUTATION_VERSION", "ORDERS", "LocalOrder", "LocalPermutation", "local_reference",
    "resolve_order", "store_order",
]

LOCAL_PERMUTATION_VERSION = 1
ORDERS = ("uniform", "local")
_MASK64 = (1 << 64) - 1
# Seeds of the block shuffle and of each group's shuffle, kept apart from each other and from
# the uniform order's, so that no two of them are the same permutation.
_BLOCK_SALT, _GROUP_SALT = 0x6C6F63616C2D626B, 0x6C6F63616C2D6772


@dataclass(frozen=True)
class LocalOrder:
    """The locality-preserving order's sizes: ``create_dataloader(..., order=LocalOrder(...))``.

    ``order="local"`` is ``LocalOrder()``. Pick ``block_windows * max_length`` tokens of the
    order of a shard or more, and ``group_blocks`` so that two groups' bytes fit the cache.

    >>> LocalOrder().state()
    {'name': 'local', 'version': 1, 'block_windows': 1024, 'group_blocks': 8}
    """

    # consecutive windows kept together: long enough that a block reads whole shards, not a few
    # windows of many (with 1024-token windows, 1024 windows are 2 MiB of uint16)
    block_windows: int = field(default=1024)
    # blocks shuffled together: how many stretches of the store one group (and a batch) mixes
    group_blocks: int = field(default=8)

    def __post_init__(self) -> None:
        positive_int("block_windows", self.block_windows)
        positive_int("group_blocks", self.group_blocks)

    @classmethod
    def for_shards(cls, n_windows: int, n_shards: int, cache_shards: int | None = None) -> LocalOrder:
        """Sizes for a store of ``n_shards`` shards and a cache of ``cache_shards`` (None: a tenth of them).

        A block of ``k`` shards' windows reads ``k + 1`` shards (its ends straddle two), so an
        epoch downloads about ``(k + 1) / k`` times the store; a group of ``G`` blocks must fit
        the cache less 2 shards (what the loader fetches ahead of the next group):
        ``G * (k + 1) <= cache_shards - 2``, with ``k`` up to 5 (1.2x) and then ``G`` as large
        as fits. ``order="local"`` on a token store uses this.

        >>> LocalOrder.for_shards(100_000, 100)  # 1,000 windows a shard, a 10-shard cache
        LocalOrder(block_windows=5000, group_blocks=1)
        >>> LocalOrder.for_shards(100_000, 100, cache_shards=60)
        LocalOrder(block_windows=5000, group_blocks=9)
        """
        per_shard = max(1, n_windows // max(1, n_shards))
        room = max(2, (cache_shards if cache_shards is not None else n_shards // 10) - 2)
        k = max(1, min(5, room - 1))
        return cls(block_windows=k * per_shard, group_blocks=max(1, room // (k + 1)))

    def permutation(self, n: int, *, seed: int, epoch: int = 0) -> LocalPermutation:
        """This order's permutation of ``n`` windows for ``(seed, epoch)``."""
        return LocalPermutation(
            n, seed=seed, epoch=epoch, block_windows=self.block_windows, group_blocks=self.group_blocks,
        )

    def state(self) -> dict[str, Any]:
        """What a loader's state dict records of the order (a state of another order is refused)."""
        return {
            "name": "local", "version": LOCAL_PERMUTATION_VERSION,
            "block_windows": self.block_windows, "group_blocks": self.group_blocks,
        }


def resolve_order(
    order: Any, *, seeded: bool, shuffle: bool, windows: str = "sliding", mixture: bool = False,
) -> LocalOrder | None:
    """``order`` as ``create_dataloader`` takes it -> None (the uniform order) or a ``LocalOrder``.

    Pitfall: the local order is a seeded shuffle of sliding windows only: without ``seed=``,
    with ``shuffle=False``, with packed rows or in a mixture it is refused, not ignored.

    >>> resolve_order("uniform", seeded=False, shuffle=True) is None
    True
    >>> resolve_order("local", seeded=True, shuffle=True)
    LocalOrder(block_windows=1024, group_blocks=8)
    """
    if isinstance(order, str) and order == "uniform":
        return None
    if isinstance(order, str) and order == "local":
        order = LocalOrder()
    if not isinstance(order, LocalOrder):
        if isinstance(order, str):
            raise OptionError("order", "{order} must be one of {0}, got {1!r}", ", ".join(map(repr, ORDERS)), order)
        raise OptionTypeError(
            "order", "{order} must be 'uniform', 'local' or a LocalOrder(...), got {0}", type(order).__name__,
        )
    why = (
        "needs {seed=}: it is the seeded permutation's variant (pass {seed=123})" if not seeded
        else "is a shuffle: with {shuffle=False} the windows come in store order; drop {order}"
        if not shuffle
        else "is for sliding windows; packed rows keep the uniform order: drop {order}"
        if windows != "sliding"
        else "is not offered for mixtures, which keep the uniform order: drop {order}" if mixture
        else ""
    )
    if why:
        raise OptionError("order", "{order='local'} " + why)
    return order


def _mix(z: int) -> int:
    """splitmix64's finaliser (as in the uniform order): every output bit depends on every input bit."""
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
    return z ^ (z >> 31)


def store_order(store: Any, split: str, n_windows: int, cache_limit: Any = None) -> LocalOrder:
    """``order="local"`` on a token store: :meth:`LocalOrder.for_shards` of its split and the cache."""
    shards = store.manifest["splits"][split]["shards"] or [{"n_tokens": 0}]
    cache = None
    if cache_limit is not None:  # in shards of the split's mean size
        mean = max(1, sum(int(s["n_tokens"]) for s in shards) * store.dtype.itemsize // len(shards))
        cache = parse_size("cache_limit", cache_limit) // mean
    return LocalOrder.for_shards(n_windows, len(shards), cache)


def _sub_seed(seed: int, salt: int, index: int = 0) -> int:
    return _mix(_mix(seed ^ salt) ^ _mix((index * 0x9E3779B97F4A7C15 + 1) & _MASK64))


class LocalPermutation:
    """The local order of ``range(n)``: ``p(positions)`` -> window indices, int64 (see the module).

    >>> p = LocalPermutation(7, seed=0, epoch=1, block_windows=3, group_blocks=1)
    >>> sorted(p(np.arange(7)).tolist()) == list(range(7)), p.n
    (True, 7)
    """

    __slots__ = ("block", "epoch", "group", "n", "seed", "_blocks", "_full", "_groups", "_tail")

    def __init__(self, n: int, *, seed: int, epoch: int = 0, block_windows: int, group_blocks: int) -> None:
        self.n = positive_int("n", n)
        self.seed = check_seed(seed)
        self.epoch = non_negative_int("epoch", epoch)
        self.block = positive_int("block_windows", block_windows)
        self.group = positive_int("group_blocks", group_blocks)
        self._full, self._tail = divmod(self.n, self.block)  # full blocks; windows after them
        # The tail joins the last group (or is the only group when there is no full block).
        self._groups = max(1, -(-self._full // self.group))
        self._blocks = (
            Permutation(self._full, seed=_sub_seed(self.seed, _BLOCK_SALT), epoch=self.epoch)
            if self._full else None
        )

    def __repr__(self) -> str:
        return (
            f"LocalPermutation(n={self.n}, seed={self.seed}, epoch={self.epoch}, "
            f"block_windows={self.block}, group_blocks={self.group})"
        )

    def _group_size(self, j: int) -> int:
        slots = min((j + 1) * self.group, self._full) - j * self.group
        return slots * self.block + (self._tail if j == self._groups - 1 else 0)

    def _group_perm(self, j: int) -> Permutation:
        return Permutation(self._group_size(j), seed=_sub_seed(self.seed, _GROUP_SALT, j), epoch=self.epoch)

    def __call__(self, positions: Any) -> np.ndarray:
        """Window indices at ``positions`` (ints in ``[0, n)``), as an int64 array of their shape."""
        pos = check_positions(positions, self.n)
        flat = pos.astype(np.int64).reshape(-1)
        span = self.group * self.block  # positions of a full group
        groups = np.minimum(flat // span, self._groups - 1)
        inner = np.empty_like(flat)
        # Positions are mostly consecutive (a batch, a chunk of batches): a handful of groups.
        for j in np.unique(groups).tolist():
            at = np.flatnonzero(groups == j)
            inner[at] = self._group_perm(j)(flat[at] - j * span)
        slot = groups * self.group + inner // self.block  # the block's place in the block order
        out = np.empty_like(flat)
        full = slot < self._full
        if self._blocks is not None and full.any():
            out[full] = self._blocks(slot[full]) * self.block + inner[full] % self.block
        tail = ~full  # the last group's windows past its full blocks are the tail's
        out[tail] = inner[tail] + groups[tail] * span  # = full*b + (inner - the group's full blocks' windows)
        return out.reshape(pos.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of order state: two permutations' keys and sizes (the same for any ``n``)."""
        return 2 * Permutation(1, seed=0).nbytes + 8 * 6


def local_reference(position: int, n: int, *, seed: int, epoch: int = 0, block_windows: int,
                    group_blocks: int) -> int:
    """The window at ``position``, one Python int at a time, from the definition: the test oracle.

    >>> [local_reference(k, 10, seed=123, block_windows=2, group_blocks=2) for k in range(3)]
    [1, 9, 0]
    """
    from tokenmill.loader.permutation import permutation_reference

    if not 0 <= position < n:
        raise IndexError(f"position {position} is out of range for {n} windows")
    b, g = block_windows, group_blocks
    full, tail = divmod(n, b)
    groups = max(1, -(-full // g))
    j = min(position // (g * b), groups - 1)
    slots = min((j + 1) * g, full) - j * g
    size = slots * b + (tail if j == groups - 1 else 0)
    q = permutation_reference(position - j * g * b, size, seed=_sub_seed(seed, _GROUP_SALT, j), epoch=epoch)
    if q // b < slots:  # a window of a full block: the block order says which block
        block = permutation_reference(j * g + q // b, full, seed=_sub_seed(seed, _BLOCK_SALT), epoch=epoch)
        return block * b + q % b
    return full * b + q - slots * b
