"""create_dataloader and window_loader: batches vs a plain DataLoader, tokenizers, stores, bad options."""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from tests.loader.reference import batches_equal, reference_loader, reference_windows
from tokenmill.loader.book_sampler import WindowBatchSampler
from tokenmill.loader.dataloader import WindowLoader, _batch_as_is, create_dataloader, window_loader
from tokenmill.loader.dataset import WindowDataset


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


# --- bad options ----------------------------------------------------------------------------


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


def test_window_loader_rejects_what_the_dataloader_would_silently_empty() -> None:
    ds = WindowDataset(list(range(6)), max_length=2, stride=1)
    with pytest.raises(ValueError, match="only 4 windows"):
        window_loader(ds, batch_size=5)
    with pytest.raises(TypeError, match="dataset must be a WindowDataset, got list"):
        window_loader([(1, 2)], batch_size=1)  # type: ignore[arg-type]


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
