"""The seeded permutation: a bijection of range(n) for every n, a pure function of (n, seed, epoch)."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokenmill.loader.permutation import Permutation, permutation_reference

PRIMES = (2, 3, 5, 7, 11, 13, 97, 65_521, 65_537, 1_000_003, 2_999_999)
POWERS_OF_TWO = tuple(2**k for k in range(0, 22))  # 1 .. 2,097,152


def assert_bijection(n: int, seed: int, epoch: int) -> np.ndarray:
    out = Permutation(n, seed=seed, epoch=epoch)(np.arange(n))
    assert out.dtype == np.int64 and out.shape == (n,)
    assert out.min() >= 0 and out.max() < n
    # Every index hit exactly once: a bijection of [0, n).
    assert np.array_equal(np.bincount(out, minlength=n), np.ones(n, np.int64))
    return out


@settings(max_examples=60, deadline=None)
@given(
    n=st.one_of(
        st.integers(1, 300),
        st.integers(301, 100_000),
        st.sampled_from(PRIMES + POWERS_OF_TWO),
        st.sampled_from([2**k + d for k in range(1, 21) for d in (-1, 1)]),
        st.integers(100_001, 3_000_000),  # a few million
    ),
    seed=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 10**6),
)
@example(n=1, seed=0, epoch=0)
@example(n=2, seed=0, epoch=0)
@example(n=3, seed=2**64 - 1, epoch=0)
def test_a_bijection_for_any_size(n: int, seed: int, epoch: int) -> None:
    assert_bijection(n, seed, epoch)


@pytest.mark.parametrize("n", [2_999_999, 2**22, 4_000_037])
def test_a_bijection_at_a_few_million(n: int) -> None:
    assert_bijection(n, seed=123, epoch=5)


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 2000), seed=st.integers(0, 2**64 - 1), epoch=st.integers(0, 99), data=st.data())
def test_vectorised_equals_the_reference(n: int, seed: int, epoch: int, data: st.DataObject) -> None:
    positions = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=30))
    got = Permutation(n, seed=seed, epoch=epoch)(np.array(positions)).tolist()
    assert got == [permutation_reference(k, n, seed=seed, epoch=epoch) for k in positions]


def test_a_pure_function_of_seed_epoch_and_position() -> None:
    n = 10_007
    a = Permutation(n, seed=42, epoch=3)(np.arange(n))
    # Any position alone gives what it gives inside the whole: nothing depends on the order asked.
    picks = np.array([5000, 0, n - 1, 17])
    assert Permutation(n, seed=42, epoch=3)(picks).tolist() == a[picks].tolist()
    assert np.array_equal(Permutation(n, seed=42, epoch=3)(np.arange(n)), a)
    others = [Permutation(n, seed=42, epoch=4), Permutation(n, seed=43, epoch=3)]
    for other in others:  # another epoch or seed is another order
        assert np.mean(other(np.arange(n)) == a) < 0.01
    assert not np.array_equal(a, np.arange(n))


def test_the_shuffle_looks_random() -> None:
    n = 100_000
    out = Permutation(n, seed=7)(np.arange(n)).astype(np.float64)
    assert abs(np.corrcoef(np.arange(n), out)[0, 1]) < 0.02
    assert abs(np.corrcoef(out[:-1], out[1:])[0, 1]) < 0.02
    # Neighbouring positions land far apart: a real shuffle, not a rotation or a stride.
    assert np.median(np.abs(np.diff(out))) > n / 5


def test_order_memory_is_constant_at_ten_billion_windows() -> None:
    small, huge = Permutation(10, seed=1), Permutation(10**10, seed=1)
    assert small.nbytes == huge.nbytes < 1024
    tracemalloc.start()
    try:
        p = Permutation(10**10, seed=1, epoch=2)
        out = p(np.arange(5 * 10**9, 5 * 10**9 + 64))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1 << 20
    assert len(set(out.tolist())) == 64 and out.max() < 10**10
    assert out.tolist()[:3] == [permutation_reference(5 * 10**9 + k, 10**10, seed=1, epoch=2) for k in range(3)]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"n": 0, "seed": 1}, ValueError, "n must be >= 1, got 0"),
        ({"n": 5, "seed": -1}, ValueError, "seed must be >= 0, got -1"),
        ({"n": 5, "seed": 2**64}, ValueError, "seed must be < 2\\*\\*64"),
        ({"n": 5, "seed": 1.5}, TypeError, "seed must be an int, got float"),
        ({"n": 5, "seed": 1, "epoch": -2}, ValueError, "epoch must be >= 0, got -2"),
    ],
)
def test_bad_arguments_are_refused(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        Permutation(**kwargs)


def test_positions_out_of_range_are_refused() -> None:
    p = Permutation(5, seed=1)
    with pytest.raises(IndexError, match="position 5 is out of range for 5 windows"):
        p(np.array([0, 5]))
    with pytest.raises(TypeError, match="positions must be integers"):
        p(np.array([0.5]))


def test_permutation_never_imports_torch() -> None:
    code = (
        "import sys, tokenmill.permutation, tokenmill.loader.permutation, tokenmill.loader.state, "
        "tokenmill.common.checks; sys.exit('torch' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
