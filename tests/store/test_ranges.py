"""take_ranges (many token runs in one call) against the obvious loop, over shards of any size."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tokenmill.store.ranges as ranges_module
from tokenmill.store import TokenArray, shard_name, write_shard
from tokenmill.store.ranges import take_ranges, take_ranges_reference


def _token_array(directory: str, shards: list[list[int]]) -> TokenArray:
    paths, lengths = [], []
    for k, tokens in enumerate(shards):
        write_shard(directory, shard_name("train", k), np.array(tokens, np.uint16), np.array([0, len(tokens)]))
        paths.append(Path(directory) / f"{shard_name('train', k)}.bin")
        lengths.append(len(tokens))
    return TokenArray(paths, lengths, "uint16")


shard_lists = st.lists(st.lists(st.integers(0, 65535), max_size=12), min_size=1, max_size=6)


@settings(max_examples=100, deadline=None)
@given(shards=shard_lists, data=st.data(), gather=st.booleans())
def test_runs_anywhere_are_the_loops(shards: list[list[int]], data: st.DataObject, gather: bool) -> None:
    flat = np.array([t for s in shards for t in s], np.uint16)
    n = len(flat)
    starts = data.draw(st.lists(st.integers(0, n), max_size=15))
    lengths = [data.draw(st.integers(0, n - s)) for s in starts]  # empty runs, whole-array runs, straddling runs
    want = take_ranges_reference(flat, starts, lengths)
    with tempfile.TemporaryDirectory() as d:
        arr = _token_array(d, shards)
        # both strategies: slices joined, or one gather per shard
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(ranges_module, "RUNS_PER_SHARD_TO_GATHER", 0 if gather else 10**9)
            got = arr.take_ranges(np.array(starts, np.int64), np.array(lengths, np.int64))
            wide = take_ranges(arr, starts, lengths, dtype=np.int64)
        np.testing.assert_array_equal(got, want)
        assert got.dtype == np.uint16 and wide.dtype == np.int64
        np.testing.assert_array_equal(wide, want.astype(np.int64))
    np.testing.assert_array_equal(take_ranges(flat, starts, lengths), want)  # a plain array


def test_golden_runs_over_two_shards() -> None:
    with tempfile.TemporaryDirectory() as d:
        arr = _token_array(d, [[1, 2, 3], [], [4, 5]])
        assert arr.take_ranges([2, 0, 4, 1], [2, 1, 0, 4], dtype=np.int64).tolist() == [3, 4, 1, 2, 3, 4, 5]
        copy = arr.take_ranges([1], [2])  # a writable copy: the store is untouched
        copy[0] = 7
        assert copy.tolist() == [7, 3] and arr[1] == 2


@pytest.mark.parametrize(
    ("starts", "lengths", "match"),
    [
        ([3], [3], r"run 0 \(start 3, length 3\) does not fit in 5 tokens"),
        ([0, -1], [1, 1], r"run 1 \(start -1, length 1\)"),
        ([0], [-2], r"run 0 \(start 0, length -2\)"),
        ([0, 1], [1], r"got 2 starts but 1 lengths"),
        ([[0]], [[1]], r"starts must be a 1-D integer array"),
    ],
)
def test_runs_that_do_not_fit_name_the_run(starts, lengths, match) -> None:
    with tempfile.TemporaryDirectory() as d:
        arr = _token_array(d, [[1, 2, 3], [4, 5]])
        with pytest.raises(ValueError, match=match):
            arr.take_ranges(starts, lengths)
    with pytest.raises(ValueError, match=match):
        take_ranges(np.arange(5), starts, lengths)
