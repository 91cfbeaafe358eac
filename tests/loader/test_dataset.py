"""WindowDataset: window contents vs plain slicing, no-copy memmaps and pickling, bad tokens and indices."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.loader.reference import DTYPES, as_lists, make_tokens, reference_windows
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.dataset import WindowDataset


@settings(max_examples=150, deadline=None)
@given(
    ids=st.lists(st.integers(0, 65535), max_size=70),
    max_length=st.integers(1, 20),
    stride=st.integers(1, 25),
    kind=st.sampled_from(DTYPES),
    data=st.data(),
)
def test_windows_match_plain_slicing(
    ids: list[int], max_length: int, stride: int, kind: str, data: Any
) -> None:
    tokens = make_tokens(ids, kind)
    if len(ids) <= max_length:
        with pytest.raises(
            ValueError,
            match=f"{len(ids)} tokens make no window of max_length={max_length}",
        ):
            WindowDataset(tokens, max_length=max_length, stride=stride)
        return
    ds = WindowDataset(tokens, max_length=max_length, stride=stride)
    want = reference_windows(ids, max_length, stride)
    assert len(ds) == len(want)
    assert [as_lists(ds[i]) for i in range(len(ds))] == want
    for inputs, targets in (ds[0], ds[-1]):
        assert inputs.dtype == targets.dtype == torch.int64 and inputs.shape == (
            max_length,
        )
    picks = data.draw(
        st.lists(st.integers(-len(ds), len(ds) - 1), min_size=1, max_size=9)
    )
    inputs, targets = ds[picks]  # (len(picks), max_length) each
    assert inputs.shape == targets.shape == (len(picks), max_length)
    assert inputs.is_contiguous() and targets.is_contiguous()
    assert list(zip(inputs.tolist(), targets.tolist())) == [want[p] for p in picks]
    assert [as_lists(s) for s in ds.__getitems__(picks)] == [want[p] for p in picks]


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 300), max_length=st.integers(1, 40), stride=st.integers(1, 50))
def test_window_count_is_the_books(n: int, max_length: int, stride: int) -> None:
    if n <= max_length:
        return
    ds = WindowDataset(np.arange(n), max_length=max_length, stride=stride)
    assert len(ds) == len(range(0, n - max_length, stride))
    assert ds[-1][1][-1].item() < n  # the last target exists


def test_list_is_converted_once_to_int64_and_arrays_are_not_copied() -> None:
    ds = WindowDataset([5, 6, 7, 8], max_length=2, stride=1)
    assert isinstance(ds.tokens, np.ndarray) and ds.tokens.dtype == np.int64
    arr = np.arange(100, dtype=np.uint16)
    assert WindowDataset(arr, max_length=8, stride=8).tokens is arr
    tensor = torch.arange(100)
    assert np.shares_memory(
        WindowDataset(tensor, max_length=8, stride=8).tokens, tensor.numpy()
    )


def test_stride_larger_than_max_length_skips_tokens() -> None:
    ds = WindowDataset(list(range(20)), max_length=3, stride=5)
    assert [ds[i][0].tolist() for i in range(len(ds))] == [
        [0, 1, 2],
        [5, 6, 7],
        [10, 11, 12],
        [15, 16, 17],
    ]


# --- memmaps and pickling ---------------------------------------------------------------------


def test_memmap_dataset_pickles_by_file_not_by_copy(
    token_file: tuple[Path, np.ndarray],
) -> None:
    path, ids = token_file
    mm = np.memmap(path, dtype=np.uint16, mode="r")
    ds = WindowDataset(mm, max_length=64, stride=64)
    blob = pickle.dumps(ds)
    assert len(blob) < 2_000, len(blob)  # the tokens are 400 KB
    back = pickle.loads(blob)
    assert isinstance(back.tokens, np.memmap)
    assert len(back) == len(ds)
    for i in (0, 17, len(ds) - 1):
        assert (
            as_lists(back[i])
            == as_lists(ds[i])
            == reference_windows(ids.tolist()[i * 64 : i * 64 + 65], 64, 64)[0]
        )


@pytest.mark.parametrize("cut", [1, 4096 + 3, 100_001])
def test_pickled_memmap_slices_and_views_keep_their_offset(
    token_file: tuple[Path, np.ndarray], cut: int
) -> None:
    path, ids = token_file
    for view in (
        np.memmap(path, dtype=np.uint16, mode="r")[cut:],
        np.asarray(np.memmap(path, dtype=np.uint16, mode="r"))[cut:],
        np.memmap(path, dtype=np.uint16, mode="r", offset=2 * cut),
    ):
        ds = WindowDataset(view, max_length=16, stride=5)
        back = pickle.loads(pickle.dumps(ds))
        assert len(pickle.dumps(ds)) < 2_000
        assert back.n_tokens == len(ids) - cut
        assert as_lists(back[0]) == (
            ids[cut : cut + 16].tolist(),
            ids[cut + 1 : cut + 17].tolist(),
        )
        assert as_lists(back[len(back) - 1]) == as_lists(ds[len(ds) - 1])


def test_npy_memmap_pickles_by_file(tmp_path: Path) -> None:
    ids = np.arange(10_000, dtype=np.int32)
    np.save(tmp_path / "ids.npy", ids)
    ds = WindowDataset(
        np.load(tmp_path / "ids.npy", mmap_mode="r"), max_length=10, stride=3
    )
    blob = pickle.dumps(ds)
    assert len(blob) < 2_000
    assert as_lists(pickle.loads(blob)[100]) == (
        list(range(300, 310)),
        list(range(301, 311)),
    )


def test_copy_on_write_memmap_pickles_its_changes(
    token_file: tuple[Path, np.ndarray],
) -> None:
    path, _ = token_file
    mm = np.memmap(path, dtype=np.uint16, mode="c")
    mm[0] = 7  # only in this process's copy, not in the file
    back = pickle.loads(pickle.dumps(WindowDataset(mm, max_length=4, stride=4)))
    assert back[0][0][0].item() == 7


def test_in_memory_array_pickles_whole() -> None:
    ds = WindowDataset(np.arange(1000), max_length=10, stride=10)
    assert as_lists(pickle.loads(pickle.dumps(ds))[3]) == as_lists(ds[3])


def test_token_store_split_uses_take_windows(tmp_path: Path) -> None:
    store = pytest.importorskip("tokenmill.store")
    ids = np.random.default_rng(1).integers(0, 50257, size=3000).astype(np.uint16)
    paths = []
    for k, (a, b) in enumerate(
        [(0, 1000), (1000, 1001), (1001, 3000)]
    ):  # a one-token shard: windows straddle
        paths.append(tmp_path / f"train-{k:05d}.bin")
        ids[a:b].tofile(paths[-1])
    array = store.TokenArray(paths, [1000, 1, 1999], "uint16")
    ds = WindowDataset(array, max_length=32, stride=7)
    assert ds.tokens is array
    want = reference_windows(ids.tolist(), 32, 7)
    assert [as_lists(ds[i]) for i in range(len(ds))] == want
    inputs, targets = ds[list(range(len(ds)))]
    assert list(zip(inputs.tolist(), targets.tolist())) == want
    assert len(pickle.dumps(ds)) < 2_000


# --- bad input ------------------------------------------------------------------------------


def test_too_few_tokens_says_how_many_and_what_to_lower() -> None:
    with pytest.raises(
        ValueError,
        match=r"3 tokens make no window of max_length=4: a window needs max_length \+ 1 = 5 tokens.*lower max_length to at most 2",
    ):
        WindowDataset([1, 2, 3], max_length=4, stride=1)
    with pytest.raises(ValueError, match="0 tokens make no window.*give more tokens"):
        WindowDataset([], max_length=4, stride=1)
    with pytest.raises(ValueError, match="4 tokens make no window of max_length=256"):
        create_dataloader("one two three four")


@pytest.mark.parametrize(
    ("tokens", "error", "message"),
    [
        (
            np.array([1.0, 2.0, 3.0, 4.0]),
            TypeError,
            "got ndarray of dtype float64; convert them to integers",
        ),
        ([1.5, 2, 3, 4], TypeError, "got a list of dtype float64"),
        ([True, False, True], TypeError, "got a list of dtype bool"),
        (
            np.arange(12).reshape(3, 4),
            ValueError,
            r"1-D, got ndarray of shape \(3, 4\)",
        ),
        ("some text", TypeError, "pass text to create_dataloader"),
        ({1: 2}, TypeError, "got dict"),
    ],
)
def test_bad_token_arrays_are_refused(
    tokens: Any, error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        WindowDataset(tokens, max_length=2, stride=1)


def test_bad_indices_are_refused() -> None:
    ds = WindowDataset(list(range(10)), max_length=2, stride=2)
    with pytest.raises(
        IndexError, match="window index 4 is out of range for 4 windows"
    ):
        ds[4]
    with pytest.raises(IndexError, match="window index -5 is out of range"):
        ds[[0, -5]]
    with pytest.raises(TypeError, match="index must be an int"):
        ds[1.0]
    with pytest.raises(TypeError, match="1-D sequence of ints"):
        ds[[0.5]]
