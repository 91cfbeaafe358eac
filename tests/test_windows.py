"""WindowDataset and create_dataloader: window contents vs plain slicing, no-copy pickling, errors."""

from __future__ import annotations

import itertools
import pickle
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler

from tokenmill.windows import (
    WindowBatchSampler,
    WindowDataset,
    WindowLoader,
    _batch_as_is,
    create_dataloader,
    window_loader,
)


def reference_windows(
    tokens: list[int], max_length: int, stride: int
) -> list[tuple[list[int], list[int]]]:
    """The book's loop, in plain Python: the oracle for every window test."""
    return [
        (tokens[i : i + max_length], tokens[i + 1 : i + max_length + 1])
        for i in range(0, len(tokens) - max_length, stride)
    ]


def as_lists(pair: Any) -> tuple[list[int], list[int]]:
    inputs, targets = pair
    return inputs.tolist(), targets.tolist()


DTYPES = ("list", "int64", "uint16", "int32", "uint32")


def make_tokens(ids: list[int], kind: str) -> Any:
    return list(ids) if kind == "list" else np.array(ids, dtype=kind)


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


@pytest.fixture()
def token_file(tmp_path: Path) -> tuple[Path, np.ndarray]:
    ids = np.random.default_rng(0).integers(0, 50257, size=200_003).astype(np.uint16)
    path = tmp_path / "tokens.bin"
    ids.tofile(path)
    return path, ids


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


def test_create_dataloader_reads_a_token_store(tmp_path: Path) -> None:
    store = pytest.importorskip("tokenmill.store")
    ids = np.arange(1, 401, dtype=np.uint16)
    entry = store.write_shard(tmp_path, "train-00000", ids, np.array([0, 200, 400]))
    store.write_manifest(tmp_path, store.manifest._example_manifest([entry]))
    opened = store.TokenStore.open(tmp_path)
    loader = create_dataloader(
        opened, batch_size=3, max_length=10, stride=10, shuffle=False
    )
    inputs, targets = next(iter(loader))
    assert inputs.tolist() == [
        list(range(1, 11)),
        list(range(11, 21)),
        list(range(21, 31)),
    ]
    assert targets.tolist() == [
        list(range(2, 12)),
        list(range(12, 22)),
        list(range(22, 32)),
    ]
    with pytest.raises(
        ValueError, match="made with tokenizer 'gpt2'.*pass tokenizer='gpt2'"
    ):
        create_dataloader(opened, tokenizer="cl100k_base", batch_size=3, max_length=10)
    with pytest.raises(ValueError, match="no split 'val'"):
        create_dataloader(opened, split="val", batch_size=3, max_length=10)


# --- the loader -----------------------------------------------------------------------------


def reference_loader(
    tokens: list[int],
    batch_size: int,
    max_length: int,
    stride: int,
    shuffle: bool,
    drop_last: bool,
) -> DataLoader:
    """A plain DataLoader over the windows as precomputed tensors, as the book builds it."""
    windows = [
        (torch.tensor(x), torch.tensor(y))
        for x, y in reference_windows(tokens, max_length, stride)
    ]
    return DataLoader(
        windows, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last
    )  # type: ignore[arg-type]


def batches_equal(ours: list[Any], theirs: list[Any]) -> None:
    assert len(ours) == len(theirs)
    for (x, y), (bx, by) in zip(ours, theirs):
        assert x.dtype == bx.dtype == torch.int64
        assert torch.equal(x, bx) and torch.equal(y, by)


@pytest.mark.parametrize(
    ("batch_size", "max_length", "stride", "shuffle", "drop_last"),
    [
        (4, 8, 4, True, True),
        (3, 5, 1, True, False),
        (2, 16, 16, False, False),
        (5, 6, 9, True, True),
        (1, 4, 1, False, True),
    ],
)
@pytest.mark.parametrize("seed", [0, 7])
def test_loader_matches_a_plain_dataloader(
    batch_size: int,
    max_length: int,
    stride: int,
    shuffle: bool,
    drop_last: bool,
    seed: int,
) -> None:
    tokens = np.random.default_rng(seed).integers(0, 1000, size=301).tolist()
    ours = create_dataloader(
        tokens,
        batch_size=batch_size,
        max_length=max_length,
        stride=stride,
        shuffle=shuffle,
        drop_last=drop_last,
    )
    theirs = reference_loader(
        tokens, batch_size, max_length, stride, shuffle, drop_last
    )
    assert len(ours) == len(theirs)
    for _epoch in range(2):  # a new order each epoch, drawn the same way
        torch.manual_seed(seed)
        got = list(ours)
        after_ours = torch.rand(1)
        torch.manual_seed(seed)
        want = list(theirs)
        assert torch.equal(
            after_ours, torch.rand(1)
        )  # the same number of draws from the global RNG
        batches_equal(got, want)


def test_loader_with_generator_matches_a_plain_dataloader_with_one() -> None:
    tokens = list(range(500))
    ours_gen, their_gen = torch.Generator().manual_seed(3), torch.Generator().manual_seed(3)
    ours = create_dataloader(tokens, batch_size=4, max_length=8, stride=7, generator=ours_gen)
    windows = [(torch.tensor(x), torch.tensor(y)) for x, y in reference_windows(tokens, 8, 7)]
    theirs = DataLoader(windows, batch_size=4, shuffle=True, drop_last=True, generator=their_gen)
    global_before = torch.get_rng_state()
    for _epoch in range(2):
        batches_equal(list(ours), list(theirs))
        # The same draws from the generator, including RandomSampler's trailing randperm.
        assert torch.equal(ours_gen.get_state(), their_gen.get_state())
    assert torch.equal(torch.get_rng_state(), global_before)  # the global RNG untouched
    first = list(ours)
    ours_gen.manual_seed(3)
    again = list(ours)
    ours_gen.manual_seed(3)
    batches_equal(list(ours), again)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(first, again))


def test_two_workers_give_the_same_batches_as_none() -> None:
    tokens = np.random.default_rng(3).integers(0, 50000, size=2000).tolist()
    args = {"batch_size": 4, "max_length": 16, "stride": 8, "shuffle": True}
    torch.manual_seed(11)
    single = list(create_dataloader(tokens, **args))
    torch.manual_seed(11)
    workers = list(create_dataloader(tokens, num_workers=2, **args))
    batches_equal(workers, single)


def test_spawned_worker_reopens_the_memmap(token_file: tuple[Path, np.ndarray]) -> None:
    path, ids = token_file
    ds = WindowDataset(np.memmap(path, dtype=np.uint16, mode="r"), max_length=32, stride=1000)

    def loader(**workers: Any) -> DataLoader:
        sampler = WindowBatchSampler(len(ds), 8, shuffle=True)
        return WindowLoader(
            ds, batch_size=None, sampler=sampler, collate_fn=_batch_as_is, **workers
        )

    torch.manual_seed(4)
    got = list(loader(num_workers=1, multiprocessing_context="spawn"))
    torch.manual_seed(4)
    batches_equal(got, list(loader()))
    firsts = sorted(row[0].item() for inputs, _ in got for row in inputs)
    assert firsts == sorted(ids[::1000][: len(ds)].tolist())  # every window once, none dropped


def test_default_dataloader_uses_getitems() -> None:
    ds = WindowDataset(list(range(100)), max_length=4, stride=3)
    inputs, targets = next(iter(DataLoader(ds, batch_size=5)))
    assert inputs.tolist() == [
        [0, 1, 2, 3],
        [3, 4, 5, 6],
        [6, 7, 8, 9],
        [9, 10, 11, 12],
        [12, 13, 14, 15],
    ]
    assert targets.tolist()[0] == [1, 2, 3, 4]


def test_create_dataloader_from_text_with_an_explicit_tokenizer() -> None:
    loader = create_dataloader(
        "hello world " * 20,
        tokenizer="gpt2",
        batch_size=2,
        max_length=4,
        stride=4,
        shuffle=False,
    )
    inputs, _ = next(iter(loader))
    assert inputs.tolist() == [[31373, 995, 23748, 995], [23748, 995, 23748, 995]]


def test_create_dataloader_takes_a_tiktoken_encoding(tmp_path: Path) -> None:
    tiktoken = pytest.importorskip("tiktoken")
    from tiktoken.load import load_tiktoken_bpe

    from tokenmill.tokenizers import get_tokenizer

    gpt2 = get_tokenizer("gpt2")
    # Built by hand from the ranks file, as a book reader would have it (not tokenmill's own).
    enc = tiktoken.Encoding(
        name="gpt2",
        pat_str=gpt2.pat_str,
        mergeable_ranks=load_tiktoken_bpe(str(gpt2.ranks_path)),
        special_tokens={"<|endoftext|>": 50256},
    )
    text = "hello world <|endoftext|> once more " * 10
    args = {"batch_size": 2, "max_length": 4, "stride": 3}
    torch.manual_seed(0)
    got = list(create_dataloader(text, tokenizer=enc, **args))
    torch.manual_seed(0)
    batches_equal(got, list(create_dataloader(text, tokenizer="gpt2", **args)))
    assert any(50256 in inputs.flatten().tolist() for inputs, _ in got)
    store = pytest.importorskip("tokenmill.store")
    ids = np.arange(1, 101, dtype=np.uint16)
    entry = store.write_shard(tmp_path, "train-00000", ids, np.array([0, 100]))
    store.write_manifest(tmp_path, store.manifest._example_manifest([entry]))
    opened = store.TokenStore.open(tmp_path)
    assert len(create_dataloader(opened, tokenizer=enc, **args)) == len(range(0, 96, 3)) // 2


def test_allowed_special_and_other_tokenizers() -> None:
    from tokenmill.tokenizers import WordTokenizer

    text = "the cat sat <|endoftext|> the end " * 3
    for allowed in ("<|endoftext|>", ("<|endoftext|>",), "all"):
        inputs, _ = next(
            iter(
                create_dataloader(
                    text,
                    allowed_special=allowed,
                    batch_size=1,
                    max_length=8,
                    shuffle=False,
                )
            )
        )
        assert 50256 in inputs.tolist()[0]
    with pytest.raises(ValueError, match="contains the special token"):
        create_dataloader(text, allowed_special=(), batch_size=1, max_length=8)
    word = WordTokenizer.from_text(
        "the cat sat the end", special_tokens=("<|unk|>",)
    )  # no <|endoftext|>
    inputs, _ = next(
        iter(
            create_dataloader(
                "the cat sat the end " * 3,
                tokenizer=word,
                batch_size=1,
                max_length=4,
                shuffle=False,
            )
        )
    )
    assert word.decode(inputs[0].tolist()) == "the cat sat the"


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
    ("kwargs", "error", "message"),
    [
        ({"max_length": 0}, ValueError, "max_length must be >= 1, got 0"),
        ({"stride": 0}, ValueError, "stride must be >= 1, got 0"),
        ({"stride": -2}, ValueError, "stride must be >= 1, got -2"),
        ({"batch_size": 0}, ValueError, "batch_size must be >= 1, got 0"),
        ({"max_length": 2.5}, TypeError, "max_length must be an int, got float 2.5"),
        (
            {"batch_size": True},
            TypeError,
            "batch_size must be an int, got the bool True",
        ),
    ],
)
def test_bad_sizes_are_refused(
    kwargs: dict[str, Any], error: type[Exception], message: str
) -> None:
    args = {"batch_size": 2, "max_length": 4, "stride": 2} | kwargs
    with pytest.raises(error, match=message):
        create_dataloader(list(range(100)), **args)


def test_a_loader_with_no_batches_is_refused() -> None:
    with pytest.raises(
        ValueError,
        match=r"drop_last=True with batch_size=8 drops every batch: there are only 3 windows.*drop_last=False",
    ):
        create_dataloader(list(range(10)), batch_size=8, max_length=4, stride=2)
    assert (
        len(
            create_dataloader(
                list(range(10)), batch_size=8, max_length=4, stride=2, drop_last=False
            )
        )
        == 1
    )


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


def test_window_loader_rejects_what_the_dataloader_would_silently_empty() -> None:
    ds = WindowDataset(list(range(6)), max_length=2, stride=1)
    with pytest.raises(ValueError, match="only 4 windows"):
        window_loader(ds, batch_size=5)
    with pytest.raises(TypeError, match="dataset must be a WindowDataset, got list"):
        window_loader([(1, 2)], batch_size=1)  # type: ignore[arg-type]


# --- the batch sampler and the loader's attributes -------------------------------------------


@settings(max_examples=80, deadline=None)
# A partial last batch: torch's sampler runs out (and draws again) before it is yielded.
@example(n=13, batch_size=4, drop_last=False, shuffle=True, own_generator=True, taken=4, seed=0)
@example(n=12, batch_size=4, drop_last=False, shuffle=True, own_generator=True, taken=3, seed=0)
@example(n=13, batch_size=4, drop_last=True, shuffle=True, own_generator=True, taken=3, seed=0)
@given(
    n=st.integers(1, 120),
    batch_size=st.integers(1, 40),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    own_generator=st.booleans(),
    taken=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_sampler_order_and_rng_draws_are_torchs(
    n: int, batch_size: int, drop_last: bool, shuffle: bool, own_generator: bool, taken: int,
    seed: int,
) -> None:
    def run(make: Any) -> tuple[list[Any], torch.Tensor, torch.Tensor | None, int]:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed ^ 1) if own_generator else None
        sampler = make(gen)
        # Two whole epochs, then a few batches of a third (draws happen at the first batch).
        order = [[np.asarray(b).tolist() for b in sampler] for _ in range(2)]
        order.append([np.asarray(b).tolist() for b in itertools.islice(sampler, taken)])
        return order, torch.get_rng_state(), None if gen is None else gen.get_state(), len(sampler)

    def torchs(gen: torch.Generator | None) -> BatchSampler:
        base = RandomSampler(range(n), generator=gen) if shuffle else SequentialSampler(range(n))
        return BatchSampler(base, batch_size, drop_last)

    ours = run(lambda gen: WindowBatchSampler(
        n, batch_size, shuffle=shuffle, drop_last=drop_last, generator=gen
    ))
    theirs = run(torchs)
    assert ours[0] == theirs[0]
    assert torch.equal(ours[1], theirs[1])
    assert (ours[2] is None) == (theirs[2] is None)
    assert ours[2] is None or torch.equal(ours[2], theirs[2])
    assert ours[3] == theirs[3]
    for batch in WindowBatchSampler(n, batch_size, shuffle=shuffle, drop_last=drop_last):
        assert isinstance(batch, np.ndarray) and batch.dtype == np.int64


def test_stride_1_loader_over_a_large_memmap_builds_no_list_of_indices(tmp_path: Path) -> None:
    n = 5_000_000
    path = tmp_path / "big.bin"
    (np.arange(n) % 50_000).astype(np.uint16).tofile(path)
    loader = create_dataloader(
        np.memmap(path, dtype=np.uint16, mode="r"), batch_size=8, max_length=64, stride=1
    )
    assert len(loader.dataset) == n - 64
    torch.manual_seed(0)
    tracemalloc.start()
    try:
        inputs, targets = next(iter(loader))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # RandomSampler's randperm(n).tolist() would hold 40 MB of list pointers alone, plus a
    # 28-byte int object per window; the permutation here is one int64 tensor, which torch
    # allocates outside Python's allocator, and each batch is a view of it.
    assert peak < 2_000_000, peak
    assert inputs.shape == targets.shape == (8, 64)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    steps = (inputs[:, 1:] - inputs[:, :-1]) % 50_000  # (8, 63) consecutive tokens of the file
    assert torch.equal(steps, torch.ones(8, 63, dtype=torch.int64))


def test_loader_attributes_are_truthful_and_the_loader_pickles() -> None:
    for drop_last in (True, False):
        ours = create_dataloader(
            list(range(100)), batch_size=5, max_length=4, stride=3, drop_last=drop_last
        )
        plain = DataLoader(range(len(ours.dataset)), batch_size=5, drop_last=drop_last)
        assert (ours.batch_size, ours.drop_last, len(ours)) == (
            plain.batch_size, plain.drop_last, len(plain)
        ) == (5, drop_last, 6 if drop_last else 7)
        assert isinstance(ours, DataLoader) and isinstance(ours.sampler, WindowBatchSampler)
    with pytest.raises(ValueError, match="batch_size attribute should not be set"):
        ours.batch_size = 2
    with pytest.raises(ValueError, match="drop_last attribute should not be set"):
        ours.drop_last = True
    back = pickle.loads(pickle.dumps(ours))
    assert (back.batch_size, back.drop_last, len(back)) == (5, False, 7)
    torch.manual_seed(2)
    want = list(ours)
    torch.manual_seed(2)
    batches_equal(list(back), want)
