"""A seeded shuffle of ``range(n)`` computed, not stored: position ``k`` -> window, in O(1) memory.

``Permutation(n, seed=..., epoch=...)`` is a bijection of ``[0, n)`` that depends only on
``(n, seed, epoch)``: a Feistel network over the smallest power of two >= n, with cycle walking
(an output >= n is encrypted again until it lands in range, which keeps it a bijection of
``[0, n)``). It holds a few ints whatever ``n`` is, so an epoch of 10^10 windows costs the same
as one of 10, and any position of any epoch is computed directly: resuming at batch 10^6 is as
cheap as starting. numpy only, never torch.

Pitfall: this is a shuffle for training data, not cryptography; it is fixed by this module's
``PERMUTATION_VERSION`` (recorded in loader state dicts), and a change to the rounds below is a
new version.

>>> p = Permutation(10, seed=123)
>>> p(np.arange(10)).tolist()
[3, 8, 5, 7, 2, 1, 4, 6, 0, 9]
>>> [permutation_reference(k, 10, seed=123) for k in range(3)]
[3, 8, 5]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from tokenmill.common.checks import non_negative_int, positive_int
from tokenmill.common.errors import OptionError

__all__ = ["PERMUTATION_VERSION", "Permutation", "check_positions", "check_seed", "permutation_reference", "permute_groups"]

PERMUTATION_VERSION = 1
ROUNDS = 6  # even, so the two halves end at the widths they started with
_MASK64 = (1 << 64) - 1
_MIX1, _MIX2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB  # splitmix64's finaliser constants
_GOLDEN = 0x9E3779B97F4A7C15
_PYTHON_TAIL = 16  # permute_groups walks at most this many elements on in Python


def _mix(z: int) -> int:
    """splitmix64's finaliser on a Python int: every output bit depends on every input bit."""
    z = ((z ^ (z >> 30)) * _MIX1) & _MASK64
    z = ((z ^ (z >> 27)) * _MIX2) & _MASK64
    return z ^ (z >> 31)


def check_seed(seed: Any) -> int:
    """``seed`` as an int in ``[0, 2**64)``, or a TypeError/ValueError that says so."""
    seed = non_negative_int("seed", seed)
    if seed > _MASK64:
        raise OptionError("seed", "{seed} must be < 2**64, got {0}; pass {seed} % 2**64", seed)
    return seed


def _round_keys(seed: int, epoch: int) -> tuple[int, ...]:
    base = _mix(_mix(seed ^ _GOLDEN) ^ ((epoch * _GOLDEN) & _MASK64))
    return tuple(_mix((base + i * _GOLDEN) & _MASK64) for i in range(ROUNDS))


def _halves(n: int) -> tuple[int, int]:
    """Bit widths (left, right) of the Feistel domain 2**(left + right) >= n, which is < 2n."""
    bits = max(1, (n - 1).bit_length())
    return bits // 2, bits - bits // 2


def permutation_reference(position: int, n: int, *, seed: int, epoch: int = 0) -> int:
    """The window at ``position`` of the permutation, one Python int at a time: the test oracle.

    >>> sorted(permutation_reference(k, 5, seed=1) for k in range(5))
    [0, 1, 2, 3, 4]
    """
    if not 0 <= position < n:
        raise IndexError(f"position {position} is out of range for {n} windows")
    return _walk(position, n, _round_keys(check_seed(seed), epoch), *_halves(n))


def _walk(x: int, n: int, keys: tuple[int, ...], left: int, right: int) -> int:
    """Encrypt ``x`` until it lands below ``n`` (cycle walking), one Python int."""
    while True:
        a, b = left, right  # the widths of the high (L) and low (R) halves of x
        for key in keys:
            high, low = x >> b, x & ((1 << b) - 1)
            # (L, R) -> (R, L ^ F(R)): a bijection whatever F is, and the halves trade widths.
            x = (low << a) | (high ^ (_mix(low ^ key) & ((1 << a) - 1)))
            a, b = b, a
        if x < n:  # cycle walking: the cycle through `position` comes back below n
            return x


def check_positions(positions: Any, n: int) -> np.ndarray:
    """``positions`` as a numpy array of ints in ``[0, n)``, else TypeError/IndexError naming the bad one.

    >>> check_positions([0, 2], 3).tolist()
    [0, 2]
    """
    pos = np.asarray(positions)
    if pos.size and pos.dtype.kind not in "iu":
        raise TypeError(f"positions must be integers, got dtype {pos.dtype}")
    if pos.size and (int(pos.min()) < 0 or int(pos.max()) >= n):
        bad = int(pos.min()) if int(pos.min()) < 0 else int(pos.max())
        raise IndexError(f"position {bad} is out of range for {n} windows")
    return pos


class Permutation:
    """A seeded bijection of ``range(n)``: ``p(positions)`` -> window indices, int64.

    A pure function of ``(n, seed, epoch)``; vectorised over a numpy array of positions.
    ``nbytes`` is what it holds: a few ints, whatever ``n``.

    >>> p = Permutation(7, seed=0, epoch=1)
    >>> sorted(p(np.arange(7)).tolist()) == list(range(7)), p.n
    (True, 7)
    """

    __slots__ = ("epoch", "n", "seed", "_keys", "_left", "_right")

    def __init__(self, n: int, *, seed: int, epoch: int = 0) -> None:
        self.n = positive_int("n", n)
        self.seed = check_seed(seed)
        self.epoch = non_negative_int("epoch", epoch)
        self._keys = tuple(np.uint64(k) for k in _round_keys(self.seed, self.epoch))
        self._left, self._right = _halves(self.n)

    def __repr__(self) -> str:
        return f"Permutation(n={self.n}, seed={self.seed}, epoch={self.epoch})"

    def _feistel(self, x: np.ndarray) -> np.ndarray:
        a, b = self._left, self._right
        for key in self._keys:
            high, low = x >> np.uint64(b), x & np.uint64((1 << b) - 1)
            z = low ^ key  # _mix, vectorised, in place (uint64 products wrap as in _mix)
            z ^= z >> np.uint64(30)
            z *= np.uint64(_MIX1)
            z ^= z >> np.uint64(27)
            z *= np.uint64(_MIX2)
            z ^= z >> np.uint64(31)
            z &= np.uint64((1 << a) - 1)
            z ^= high
            x = (low << np.uint64(a)) | z
            a, b = b, a
        return x

    def __call__(self, positions: Any) -> np.ndarray:
        """Window indices at ``positions`` (ints in ``[0, n)``), as an int64 array of their shape."""
        pos = check_positions(positions, self.n)
        out = self._feistel(pos.astype(np.uint64).reshape(-1))
        walk = np.flatnonzero(out >= self.n)
        while walk.size:  # cycle walking; the domain is < 2n, so under 2 rounds on average
            again = self._feistel(out[walk])
            out[walk] = again
            walk = walk[again >= self.n]
        return out.astype(np.int64).reshape(pos.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of order state: the round keys and sizes (the same for any ``n``)."""
        return 8 * (len(self._keys) + 5)


def _feistel_groups(x: np.ndarray, group: np.ndarray, table: tuple[np.ndarray, ...]) -> np.ndarray:
    """``Permutation._feistel`` with each element's own keys and widths (those of its group)."""
    keys, left, right, left_mask, right_mask = table
    a, b, mask_a, mask_b = left[group], right[group], left_mask[group], right_mask[group]  # (n,) each
    for r in range(ROUNDS):
        high, low = x >> b, x & mask_b
        z = low ^ keys[r][group]
        z ^= z >> np.uint64(30)
        z *= np.uint64(_MIX1)
        z ^= z >> np.uint64(27)
        z *= np.uint64(_MIX2)
        z ^= z >> np.uint64(31)
        z &= mask_a
        z ^= high
        x = (low << a) | z
        a, b, mask_a, mask_b = b, a, mask_b, mask_a
    return x


def permute_groups(perms: Sequence[Permutation], group: Any, positions: Any) -> np.ndarray:
    """``perms[group[i]](positions[i])`` for every ``i``, in one vectorised pass: int64, their shape.

    Pitfall: the same values as one call per permutation on its positions, but one cycle
    walk for all of them: many small calls each pay the walk's tail (a dozen short rounds).

    >>> ps = [Permutation(10, seed=123), Permutation(7, seed=1, epoch=2)]
    >>> permute_groups(ps, [0, 1, 0], [0, 0, 1]).tolist() == [ps[0](0), ps[1](0), ps[0](1)]
    True
    """
    g = np.asarray(group, np.intp)
    pos = np.asarray(positions)
    if g.shape != pos.shape:
        raise ValueError(f"group and positions must have one shape, got {g.shape} and {pos.shape}")
    if pos.size and pos.dtype.kind not in "iu":
        raise TypeError(f"positions must be integers, got dtype {pos.dtype}")
    g, flat = g.reshape(-1), pos.reshape(-1)
    n = np.array([p.n for p in perms], np.int64)
    n_each = n[g] if g.size else np.empty(0, np.int64)
    bad = np.flatnonzero((flat < 0) | (flat >= n_each))
    if bad.size:
        i = int(bad[0])
        raise IndexError(f"position {int(flat[i])} is out of range for {int(n_each[i])} windows")
    left = np.array([p._left for p in perms], np.uint64)
    right = np.array([p._right for p in perms], np.uint64)
    one = np.uint64(1)
    table = (
        [np.array([p._keys[r] for p in perms], np.uint64) for r in range(ROUNDS)],
        left, right, (one << left) - one, (one << right) - one,
    )
    out = _feistel_groups(flat.astype(np.uint64), g, table)
    limit = n.astype(np.uint64)
    walk = np.flatnonzero(out >= limit[g])
    while walk.size > _PYTHON_TAIL:  # cycle walking, all groups at once: each domain is < 2n
        again = _feistel_groups(out[walk], g[walk], table)
        out[walk] = again
        walk = walk[again >= limit[g[walk]]]
    # The last few walk about 4 more short rounds of ~100 numpy calls: cheaper one by one.
    for i, x, k in zip(walk.tolist(), out[walk].tolist(), g[walk].tolist()):
        p = perms[k]
        out[i] = _walk_from(x, p)
    return out.astype(np.int64).reshape(pos.shape)


def _walk_from(x: int, p: Permutation) -> int:
    """Encrypt ``x`` (already once, and out of range) on with ``p``'s keys until it lands below ``p.n``."""
    return _walk(x, p.n, tuple(int(k) for k in p._keys), p._left, p._right)
