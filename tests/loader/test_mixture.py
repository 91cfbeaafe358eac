"""The mixture's order (torch-free): rational weights, the period table's bound, draws, schedules, seeds."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmill.loader.mixture import (
    MAX_DENOMINATOR,
    Mixture,
    component_seed,
    period_table,
    rational_weights,
)
from tokenmill.loader.permutation import Permutation


def deviation(component: np.ndarray, W: tuple[int, ...], D: int) -> float:
    """max over components and prefixes of |count_k(N) - N W_k / D| (exact rationals, as floats)."""
    n = np.arange(1, len(component) + 1, dtype=np.int64)
    worst = Fraction(0)
    for k, w in enumerate(W):
        counts = np.cumsum(component == k)
        # |counts*D - n*w| / D, in integers
        worst = max(worst, Fraction(int(np.abs(counts * D - n * w).max()), D))
    return float(worst)


def test_exact_weights_stay_exact() -> None:
    assert rational_weights([0.7, 0.3]) == ((7, 3), 10)
    assert rational_weights([1 / 3, 1 / 3, 1 / 3]) == ((1, 1, 1), 3)
    assert rational_weights([70, 30]) == ((7, 3), 10)
    assert rational_weights([0.5, 0, 0.25]) == ((2, 0, 1), 3)


def test_awkward_weights_round_to_the_bounded_denominator() -> None:
    W, D = rational_weights([12345, 67891, 3])
    assert D <= MAX_DENOMINATOR and sum(W) == D and all(W)
    for w, share in zip(W, [12345 / 80239, 67891 / 80239, 3 / 80239]):
        assert abs(w / D - share) <= 1 / D


@given(st.lists(st.integers(0, 300), min_size=1, max_size=9).filter(any))
def test_every_prefix_of_a_period_is_within_one_of_its_share(weights: list[int]) -> None:
    W, D = rational_weights(weights)
    component, local = period_table(W)
    K = len(W)
    bound = 1 - 1 / (2 * K - 2) if K > 1 else 0
    assert deviation(component, W, D) <= bound + 1e-12
    # local is each entry's rank among its component's entries: the O(1) count
    for k in range(K):
        assert local[component == k].tolist() == list(range(W[k]))


@given(
    st.lists(st.floats(0.01, 100), min_size=2, max_size=6),
    st.lists(st.integers(1, 50), min_size=6, max_size=6),
    st.integers(1, 5000),
)
def test_proportions_exact_over_every_prefix_of_the_run(weights: list[float], sizes: list[int], n: int) -> None:
    names = [f"c{i}" for i in range(len(weights))]
    m = Mixture(names, sizes[: len(names)], dict(zip(names, weights)), seed=7, global_batch_size=4)
    k, c = m.draws(np.arange(n))
    seg = m.segments[0]
    for j in range(len(names)):
        counts = np.cumsum(k == j)
        expected = np.arange(1, n + 1) * seg.weights[j] / seg.denominator
        assert np.abs(counts - expected).max() < 1
        # draws of a component are 0, 1, 2, ... in position order, and counts() agrees
        assert c[k == j].tolist() == list(range(int(counts[-1])))
    assert m.counts(n).tolist() == [int((k == j).sum()) for j in range(len(names))]


def test_a_period_repeats_so_the_bound_holds_past_it() -> None:
    m = Mixture(["a", "b", "c"], [5, 5, 5], {"a": 5, "b": 3, "c": 1}, seed=0, global_batch_size=1)
    k, _ = m.draws(np.arange(9 * 40))
    assert (k.reshape(40, 9) == k[:9]).all()


@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32))
def test_each_component_epoch_is_a_permutation_of_its_windows(n_a: int, n_b: int, seed: int) -> None:
    m = Mixture(["a", "b"], [n_a, n_b], {"a": 0.6, "b": 0.4}, seed=seed, global_batch_size=2)
    k, c = m.draws(np.arange(3 * (n_a + n_b)))
    w = m.windows(k, c)
    for j, n in ((0, n_a), (1, n_b)):
        mine, draws = w[k == j], c[k == j]
        for epoch in range(int(draws.max()) // n):  # whole epochs only
            assert sorted(mine[epoch * n : (epoch + 1) * n].tolist()) == list(range(n))
    # and component j's draw c is its own Permutation's, epoch c // n
    j = int(k[-1])
    n = [n_a, n_b][j]
    perm = Permutation(n, seed=component_seed(seed, m.names[j]), epoch=int(c[-1]) // n)
    assert w[-1] == perm(np.array([c[-1] % n]))[0]


def test_the_same_store_under_two_names_is_drawn_in_two_orders() -> None:
    m = Mixture(["x", "y"], [1000, 1000], {"x": 1, "y": 1}, seed=3, global_batch_size=1)
    k, c = m.draws(np.arange(200))
    w = m.windows(k, c)
    assert w[k == 0].tolist() != w[k == 1].tolist()
    assert component_seed(3, "x") == component_seed(3, "x") != component_seed(4, "x")


def test_a_schedule_continues_every_component_where_it_was() -> None:
    schedule = [(0, {"a": 1, "b": 1}), (3, {"a": 0, "b": 1}), (5, {"a": 3, "b": 1})]
    m = Mixture(["a", "b"], [7, 9], schedule, seed=1, global_batch_size=4)
    k, c = m.draws(np.arange(100))
    assert (k[12:20] == 1).all()  # global batches 3 and 4: b only
    for j in (0, 1):
        assert c[k == j].tolist() == list(range(int((k == j).sum())))  # none skipped, none repeated
    assert m.counts(12).tolist() == [6, 6] and m.counts(20).tolist() == [6, 14]
    assert m.weights_at(4) == {"a": 0, "b": 1} and m.weights_at(99)["a"] == Fraction(3, 4)


def test_first_repeat_is_where_a_component_starts_its_second_epoch() -> None:
    schedule = [(0, {"a": 1, "b": 1}), (3, {"a": 0, "b": 1}), (5, {"a": 3, "b": 1})]
    m = Mixture(["a", "b"], [7, 9], schedule, seed=1, global_batch_size=4)
    k, c = m.draws(np.arange(200))
    for j, n in ((0, 7), (1, 9)):
        assert m.first_repeat(j) == int(np.flatnonzero((k == j) & (c == n))[0])
    assert Mixture(["a", "b"], [7, 9], {"a": 1, "b": 0}, seed=0, global_batch_size=1).first_repeat(1) is None


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"a": 1}, "missing \\['b'\\]"),
        ({"a": 1, "b": 1, "c": 1}, "unknown \\['c'\\]"),
        ({"a": -1, "b": 1}, "finite number >= 0"),
        ({"a": float("nan"), "b": 1}, "finite number >= 0"),
        ({"a": 0, "b": 0}, "all 0"),
        ([(1, {"a": 1, "b": 1})], "start at global batch 0"),
        ([(0, {"a": 1, "b": 1}), (0, {"a": 1, "b": 2})], "increasing"),
    ],
)
def test_bad_weights_are_refused_with_the_fix(weights: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        Mixture(["a", "b"], [3, 3], weights, seed=0, global_batch_size=1)


def test_the_order_and_the_plan_never_import_torch() -> None:
    code = "import sys, tokenmill.loader.mixture, tokenmill.loader.plan; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], timeout=120).returncode == 0


def test_start_up_is_independent_of_the_number_of_windows() -> None:
    sizes = [10**8 + i for i in range(100)]  # 10**10 windows in all
    m = Mixture([f"c{i}" for i in range(100)], sizes, None, seed=0, global_batch_size=8)
    assert m.segments[0].component.nbytes + m.segments[0].local.nbytes <= 12 * MAX_DENOMINATOR
    idx = m.indices(np.arange(10**9, 10**9 + 8))
    assert ((idx >= 0) & (idx < sum(sizes))).all()


@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.lists(st.integers(0, 9), min_size=3, max_size=3).filter(any)),
        min_size=1, max_size=4,
    ),
    st.integers(1, 5),
)
def test_any_schedule_continues_each_component_and_keeps_each_segment_exact(
    segments: list[tuple[int, list[int]]], B: int
) -> None:
    names = ["a", "b", "c"]
    starts = np.cumsum([0] + [length for length, _ in segments[:-1]]).tolist()
    schedule = [(start, dict(zip(names, w))) for start, (_, w) in zip(starts, segments)]
    m = Mixture(names, [4, 7, 3], schedule, seed=2, global_batch_size=B)
    n = (starts[-1] + 6) * B
    k, c = m.draws(np.arange(n))
    for j in range(3):
        assert c[k == j].tolist() == list(range(int((k == j).sum())))  # none skipped, none repeated
    bounds = [s * B for s in starts] + [n]
    for seg, lo, hi in zip(m.segments, bounds, bounds[1:]):
        for j in range(3):  # within a segment, every prefix is within one of its weights
            counts = np.cumsum(k[lo:hi] == j)
            expected = np.arange(1, hi - lo + 1) * seg.weights[j] / seg.denominator
            assert np.abs(counts - expected).max() < 1
    assert all(m.counts(p).tolist() == [int((k[:p] == j).sum()) for j in range(3)] for p in range(0, n, 3))
