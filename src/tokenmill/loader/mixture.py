"""Mixtures of stores at set weights: which component each global window position draws from, in O(1).

A mixture's weights are made rational, ``W_k / D`` with ``D <= 2**16`` (exact for weights such
as 0.7/0.3 or 1/3 each; other weights are rounded to the nearest such fractions by largest
remainders, and the rounded weights are what is promised and reported). One *period* of ``D``
positions is laid out once by Tijdeman's chairman assignment (earliest deadline first among
the components that are due), which keeps every prefix of the period within ``1 - 1/(2K-2)``
of its share for ``K`` components: ``|count_k(N) - N * W_k / D| < 1``. The period repeats
exactly, so the bound holds over every prefix of the run, and a position maps to its component
and its draw number in O(1): ``count_k(P) = (P // D) * W_k + local[P % D]``. Memory is the
period table (``D`` entries), whatever the number of windows.

Component ``k``'s draw ``c`` is its window ``Permutation(n_k, seed=seed_k, epoch=c // n_k)(c %
n_k)`` (or ``c % n_k`` unshuffled): a used-up component starts its next epoch while the others
go on. ``seed_k = splitmix64(seed ^ first 8 bytes (little-endian) of sha256(name))``, so one
store listed under two names is drawn in two orders.

A weight schedule is a list of ``(global_batch, weights)`` segments, the first at 0; a segment
starts at position ``global_batch * B`` and every component's draws continue where they were.
numpy only, never torch.

>>> m = Mixture(["web", "books"], [100, 10], {"web": 0.7, "books": 0.3}, seed=0, global_batch_size=4)
>>> m.weights_at(0), m.segments[0].denominator
({'web': Fraction(7, 10), 'books': Fraction(3, 10)}, 10)
>>> k, c = m.draws(np.arange(10)); k.tolist()
[0, 1, 0, 0, 0, 1, 0, 0, 1, 0]
>>> m.counts(1000).tolist()
[700, 300]
"""

from __future__ import annotations

import bisect
import hashlib
import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

from tokenmill.common.checks import is_int
from tokenmill.common.errors import OptionError, OptionTypeError
from tokenmill.loader.permutation import Permutation, check_seed, permute_groups

__all__ = ["MAX_DENOMINATOR", "Mixture", "Segment", "component_seed", "period_table", "rational_weights"]

MAX_DENOMINATOR = 2**16  # the period's length at most: 64 Ki entries, a few hundred KiB
_DENSE_GROUPS = 2**16  # (component, epoch) keys found by bincount below this many, else by a sort
_EXACT = 1e-9  # a float weight within this of a fraction of denominator <= 2**16 is that fraction


def _splitmix64(z: int) -> int:
    """splitmix64's finaliser (Steele, Lea and Flood), on a Python int below 2**64."""
    mask = (1 << 64) - 1
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & mask
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & mask
    return z ^ (z >> 31)


def component_seed(seed: int, name: str) -> int:
    """Component ``name``'s seed in a run seeded ``seed``: splitmix64(seed ^ sha256(name)[:8]).

    >>> component_seed(0, "web") != component_seed(0, "books")
    True
    """
    salt = int.from_bytes(hashlib.sha256(name.encode("utf-8")).digest()[:8], "little")
    return _splitmix64(check_seed(seed) ^ salt)


def rational_weights(weights: Sequence[Any]) -> tuple[tuple[int, ...], int]:
    """``(W, D)``: the weights normalised to ``W_k / D``, ``D <= 2**16``, exact where possible.

    Pitfall: a positive weight too small for ``1 / 2**16`` is raised to it (never to zero).

    >>> rational_weights([0.7, 0.3]), rational_weights([1, 1, 1]), rational_weights([2, 0])
    (((7, 3), 10), ((1, 1, 1), 3), ((1, 0), 1))
    """
    exact = [Fraction(w) for w in weights]
    total = sum(exact)
    shares = [w / total for w in exact]
    near = [s.limit_denominator(MAX_DENOMINATOR) for s in shares]
    if sum(near) == 1 and all(abs(a - s) <= _EXACT for a, s in zip(near, shares)):
        D = math.lcm(*(a.denominator for a in near))
        if D <= MAX_DENOMINATOR:
            return tuple(int(a * D) for a in near), D
    D = MAX_DENOMINATOR  # largest remainders: floors, then the biggest fractional parts get one more
    scaled = [s * D for s in shares]
    W = [math.floor(x) for x in scaled]
    for k in sorted(range(len(W)), key=lambda k: (scaled[k] - W[k], -k), reverse=True)[: D - sum(W)]:
        W[k] += 1
    for k, s in enumerate(shares):
        if s > 0 and W[k] == 0:  # drawn rarely, never not at all
            W[k], W[W.index(max(W))] = 1, max(W) - 1
    g = math.gcd(*W)
    return tuple(w // g for w in W), D // g


def period_table(W: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """``(component, local)``, each ``(D,)``: the component of each position of one period and
    how many of that component's positions precede it in the period.

    Tijdeman's chairman assignment: at step ``n`` (1-based) the components that are due (``n *
    W_k / D - x_k >= s`` with ``s = 1/(2K-2)``) compete, and the earliest deadline ``(x_k + 1 -
    s) / W_k`` wins; every prefix then keeps ``|x_k - n W_k / D| <= 1 - s``.

    >>> period_table([2, 1])[0].tolist(), period_table([2, 1])[1].tolist()
    ([0, 1, 0], [0, 0, 1])
    """
    K, D = len(W), sum(W)
    if sum(1 for w in W if w) == 1:
        k = next(k for k, w in enumerate(W) if w)
        return np.full(D, k, np.int32), np.arange(D, dtype=np.int64)
    s = 2 * K - 2  # 1/s is Tijdeman's slack

    def release(k: int, x: int) -> int:  # the first step at which k's (x+1)-th position is due
        return -(-(D + s * x * D) // (s * W[k]))

    waiting = [(release(k, 0), k) for k in range(K) if W[k]]
    heapq.heapify(waiting)
    scale = math.lcm(*(w for w in W if w))  # deadlines (a / W_k) as exact ints a * scale / W_k
    due: list[tuple[int, int]] = []
    counts = [0] * K
    component, local = np.empty(D, np.int32), np.empty(D, np.int64)
    for n in range(1, D + 1):
        while waiting and waiting[0][0] <= n:
            _, k = heapq.heappop(waiting)
            heapq.heappush(due, ((s * (counts[k] + 1) - 1) * (scale // W[k]), k))
        _, k = heapq.heappop(due)  # the theorem: some component is always due
        component[n - 1], local[n - 1] = k, counts[k]
        counts[k] += 1
        heapq.heappush(waiting, (release(k, counts[k]), k))
    return component, local


@dataclass(frozen=True)
class Segment:
    """A stretch of the run at one set of weights: from global batch ``start`` on."""

    start: int  # the first global batch at these weights
    weights: tuple[int, ...]  # W_k: component k takes W_k of every `denominator` positions
    denominator: int  # D, the period
    component: np.ndarray  # (D,) int32: the component at each position of the period
    local: np.ndarray  # (D,) int64: that component's earlier positions in the period

    def counts(self, length: int) -> np.ndarray:
        """Draws of each component in this segment's first ``length`` positions, ``(K,)``."""
        q, r = divmod(length, self.denominator)
        W = np.asarray(self.weights, np.int64)
        return q * W + np.bincount(self.component[:r], minlength=len(W)).astype(np.int64)

    def position_of(self, k: int, c: int) -> int:
        """The position in this segment of component ``k``'s draw ``c`` (counted in the segment)."""
        q, j = divmod(c, self.weights[k])
        return q * self.denominator + int(np.flatnonzero(self.component == k)[j])


def _weights_list(names: Sequence[str], weights: Mapping[str, Any], where: str) -> list[Any]:
    if not isinstance(weights, Mapping):
        raise OptionTypeError(
            "weights", "{weights} must map component names to numbers (or be a list of "
            "(global_batch, {{name: weight}}) segments), got {0}", type(weights).__name__,
        )
    missing, extra = [n for n in names if n not in weights], [n for n in weights if n not in names]
    if missing or extra:
        raise OptionError(
            "weights", "{weights}%s must name each component once: missing {0}, unknown {1} (the "
            "components are {2})" % where, missing, extra, list(names),
        )
    values = []
    for name in names:
        w = weights[name]
        ok = (is_int(w) or isinstance(w, (float, Fraction))) and not isinstance(w, bool)
        if not ok or not (math.isfinite(w) and w >= 0):
            raise OptionError(
                "weights", "{weights}%s: the weight of {0!r} must be a finite number >= 0, got {1!r}"
                % where, name, w,
            )
        values.append(w)
    if not any(values):
        raise OptionError("weights", "{weights}%s are all 0: give some component a positive weight" % where)
    return values


def parse_schedule(names: Sequence[str], weights: Any, sizes: Sequence[int]) -> list[tuple[int, list[Any]]]:
    """``[(start_global_batch, [weight per component])]`` from what ``weights=`` may be."""
    if weights is None:
        return [(0, list(sizes))]
    if isinstance(weights, Mapping):
        return [(0, _weights_list(names, weights, ""))]
    if not isinstance(weights, (list, tuple)) or not weights:
        raise OptionTypeError(
            "weights", "{weights} must be None, {{name: weight}} or a non-empty list of "
            "(global_batch, {{name: weight}}) segments, got {0!r}", weights,
        )
    out: list[tuple[int, list[Any]]] = []
    for i, segment in enumerate(weights):
        if not (isinstance(segment, (list, tuple)) and len(segment) == 2 and is_int(segment[0])):
            raise OptionError(
                "weights", "{weights}[{0}] must be a (global_batch, {{name: weight}}) pair, got {1!r}",
                i, segment,
            )
        start = int(segment[0])
        if (i == 0 and start != 0) or (i and start <= out[-1][0]):
            raise OptionError(
                "weights", "{weights}: segments must start at global batch 0 and then at "
                "increasing global batches; segment {0} starts at {1}", i, start,
            )
        out.append((start, _weights_list(names, segment[1], f"[{i}]")))
    return out


class Mixture:
    """The mixture's order: global window position -> (component, draw) -> window, all O(1).

    ``names`` and ``sizes`` (windows per component) in order; ``weights`` None (in proportion
    to ``sizes``), ``{name: weight}`` or a schedule ``[(global_batch, {name: weight}), ...]``;
    ``global_batch_size`` places the schedule's segments (segment at ``g`` starts at position
    ``g * B``). Pitfall: the rounded weights (``weights_at``) are the promised ones.
    """

    def __init__(
        self, names: Sequence[str], sizes: Sequence[int], weights: Any, *, seed: int | None,
        global_batch_size: int, shuffle: bool = True,
    ) -> None:
        self.names, self.sizes = list(names), [int(n) for n in sizes]
        self.shuffle, self.global_batch_size = bool(shuffle), int(global_batch_size)
        self.seed = None if seed is None else check_seed(seed)
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(np.int64)  # (K+1,)
        self.seeds = [component_seed(self.seed or 0, name) for name in self.names]
        self.segments: list[Segment] = []
        for start, values in parse_schedule(self.names, weights, self.sizes):
            W, D = rational_weights(values)
            self.segments.append(Segment(start, W, D, *period_table(W)))
        self._starts = [s.start * self.global_batch_size for s in self.segments]  # positions
        base = [np.zeros(len(self.names), np.int64)]
        for seg, lo, hi in zip(self.segments, self._starts, self._starts[1:]):
            base.append(base[-1] + seg.counts(hi - lo))
        self._base = base  # draws of each component before each segment
        self._perms: dict[tuple[int, int], Permutation] = {}

    def weights_at(self, global_batch: int) -> dict[str, Fraction]:
        """The (rounded) weights in effect at ``global_batch``."""
        seg = self.segments[bisect.bisect_right([s.start for s in self.segments], global_batch) - 1]
        return {n: Fraction(w, seg.denominator) for n, w in zip(self.names, seg.weights)}

    def schedule_before(self, global_batch: int) -> list[list[Any]]:
        """The segments that decided positions before ``global_batch``, as JSON-able lists."""
        return [
            [s.start, list(s.weights), s.denominator] for s in self.segments
            if s.start < global_batch or s is self.segments[0]
        ]

    def draws(self, positions: Any) -> tuple[np.ndarray, np.ndarray]:
        """``(component, draw)`` at each global position (ints >= 0), int64 arrays of its shape."""
        pos = np.asarray(positions, np.int64)
        flat = pos.reshape(-1)
        k, c = np.empty_like(flat), np.empty_like(flat)
        which = np.searchsorted(self._starts, flat, side="right") - 1
        for i in np.unique(which).tolist():
            seg, here = self.segments[i], which == i
            q, r = np.divmod(flat[here] - self._starts[i], seg.denominator)
            kk = seg.component[r].astype(np.int64)
            k[here] = kk
            c[here] = self._base[i][kk] + q * np.asarray(seg.weights, np.int64)[kk] + seg.local[r]
        return k.reshape(pos.shape), c.reshape(pos.shape)

    def counts(self, position: int) -> np.ndarray:
        """Draws of each component in global positions ``[0, position)``, ``(K,)`` int64."""
        i = bisect.bisect_right(self._starts, position) - 1 if position > 0 else 0
        return self._base[i] + self.segments[i].counts(position - self._starts[i])

    def windows(self, k: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Component ``k``'s draw ``c`` -> the window in that component (int64, same shape)."""
        sizes = np.asarray(self.sizes, np.int64)[k]
        epoch, at = np.divmod(c, sizes)
        if not self.shuffle:
            return at
        if not epoch.size:
            return at
        # One group per (component, component epoch), a few per chunk, permuted in one pass.
        lo = int(epoch.min())
        span = int(epoch.max()) - lo + 1
        key = k * span + (epoch - lo)
        if len(self.sizes) * span <= _DENSE_GROUPS:
            present = np.flatnonzero(np.bincount(key.reshape(-1)))
            lookup = np.zeros(int(present[-1]) + 1, np.intp)
            lookup[present] = np.arange(len(present))
            group = lookup[key]
        else:  # a tiny component drawn over many epochs in one chunk
            present, group = np.unique(key, return_inverse=True)
        perms = [self._permutation(kk, lo + e) for kk, e in (divmod(p, span) for p in present.tolist())]
        return permute_groups(perms, group.reshape(at.shape), at)

    def _permutation(self, k: int, epoch: int) -> Permutation:
        perm = self._perms.get((k, epoch))
        if perm is None:
            if len(self._perms) > 4 * len(self.names):
                self._perms.clear()  # a few epochs per component are live at a time
            perm = self._perms[(k, epoch)] = Permutation(self.sizes[k], seed=self.seeds[k], epoch=epoch)
        return perm

    def indices(self, positions: Any) -> np.ndarray:
        """The mixture dataset's indices (components' windows, concatenated) at global positions."""
        k, c = self.draws(positions)
        return self.offsets[k] + self.windows(k, c)

    def first_repeat(self, k: int) -> int | None:
        """The global position of component ``k``'s first repeated window (draw ``n_k``), or None."""
        target = self.sizes[k]
        for i, seg in enumerate(self.segments):
            end = self._starts[i + 1] if i + 1 < len(self.segments) else None
            have = int(self._base[i][k])
            last = None if end is None else int(self._base[i + 1][k])
            if seg.weights[k] and (last is None or last > target):
                return self._starts[i] + seg.position_of(k, target - have)
        return None
