"""tokenmill.book against the book's chapter 2: golden IDs and batch-for-batch equality."""

from __future__ import annotations

import pickle
import random
import re
from typing import Any

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from tokenmill.book import (
    GPTDatasetV1,
    SimpleTokenizerV1,
    SimpleTokenizerV2,
    create_dataloader_v1,
)
from tokenmill.tokenizers import get_tokenizer
from tokenmill.windows import create_dataloader

GPT2 = get_tokenizer("gpt2")


# --- the book's code, restated plainly: the oracle --------------------------------------------


def book_words(text: str) -> list[str]:
    return [p.strip() for p in re.split(r'([,.:;?_!"()\']|--|\s)', text) if p.strip()]


class BookDataset(Dataset):
    """Section 2.6's dataset: every window precomputed as a pair of tensors."""

    def __init__(self, txt: str, max_length: int, stride: int) -> None:
        ids = GPT2.encoding.encode(txt, allowed_special={"<|endoftext|>"})
        starts = range(0, len(ids) - max_length, stride)
        self.input_ids = [torch.tensor(ids[i : i + max_length]) for i in starts]
        self.target_ids = [
            torch.tensor(ids[i + 1 : i + max_length + 1]) for i in starts
        ]

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.input_ids[i], self.target_ids[i]


def book_loader(
    txt: str,
    batch_size: int,
    max_length: int,
    stride: int,
    shuffle: bool,
    drop_last: bool,
) -> DataLoader:
    return DataLoader(
        BookDataset(txt, max_length, stride),
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
    )


def assert_same_batches(ours: Any, theirs: Any, seed: int) -> None:
    torch.manual_seed(seed)
    got = list(ours)
    got_next = torch.rand(2)
    torch.manual_seed(seed)
    want = list(theirs)
    assert torch.equal(got_next, torch.rand(2)), (
        "different number of draws from torch's RNG"
    )
    assert len(got) == len(want) == len(ours)
    for g, w in zip(got, want):
        assert isinstance(g, list) and len(g) == 2
        assert (
            g[0].dtype == w[0].dtype
            and torch.equal(g[0], w[0])
            and torch.equal(g[1], w[1])
        )


def synthetic_text(seed: int, n_words: int = 3000) -> str:
    rng = random.Random(seed)
    words = [
        "the",
        "cat",
        "sat",
        "on",
        "a",
        "mat",
        ",",
        ".",
        "\n\n",
        "Über",
        "naïve",
        "42",
        "<|endoftext|>",
        "rain",
    ]
    return " ".join(rng.choice(words) for _ in range(n_words))


SETTINGS = [  # batch_size, max_length, stride, shuffle, drop_last
    (4, 256, 128, True, True),  # the book's defaults
    (8, 4, 4, True, False),
    (1, 4, 1, False, True),
    (3, 32, 1, True, True),
    (2, 64, 128, True, False),
    (5, 16, 4, False, False),
]


# --- the word tokenizers -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def verdict_vocab(verdict_text: str) -> dict[str, int]:
    return {w: i for i, w in enumerate(sorted(set(book_words(verdict_text))))}


def test_the_verdict_and_its_vocabulary(
    verdict_text: str, verdict_vocab: dict[str, int]
) -> None:
    assert len(verdict_text) == 20_479
    assert len(verdict_vocab) == 1_130
    assert len(GPT2.encode(verdict_text, allowed_special={"<|endoftext|>"})) == 5_145


def test_simple_tokenizer_v1_golden(verdict_vocab: dict[str, int]) -> None:
    tok = SimpleTokenizerV1(verdict_vocab)
    text = '"It\'s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
    ids = tok.encode(text)
    assert ids == [
        1,
        56,
        2,
        850,
        988,
        602,
        533,
        746,
        5,
        1126,
        596,
        5,
        1,
        67,
        7,
        38,
        851,
        1108,
        754,
        793,
        7,
    ]
    assert (
        tok.decode(ids)
        == '" It\' s the last he painted, you know," Mrs. Gisburn said with pardonable pride.'
    )
    assert tok.str_to_int is not verdict_vocab and tok.str_to_int == verdict_vocab
    assert tok.int_to_str[1126] == "you"


def test_simple_tokenizer_v1_names_the_unknown_word(
    verdict_vocab: dict[str, int],
) -> None:
    with pytest.raises(
        ValueError,
        match=r"'Hello' is not in the vocabulary of 1130 words; use SimpleTokenizerV2.*<\|unk\|>",
    ):
        SimpleTokenizerV1(verdict_vocab).encode("Hello, do you like tea?")


def test_simple_tokenizer_v2_golden(verdict_text: str) -> None:
    words = sorted(set(book_words(verdict_text)))
    vocab = {w: i for i, w in enumerate([*words, "<|endoftext|>", "<|unk|>"])}
    assert len(vocab) == 1_132
    tok = SimpleTokenizerV2(vocab)
    ids = tok.encode(
        "Hello, do you like tea? <|endoftext|> In the sunlit terraces of the palace."
    )
    assert ids == [
        1131,
        5,
        355,
        1126,
        628,
        975,
        10,
        1130,
        55,
        988,
        956,
        984,
        722,
        988,
        1131,
        7,
    ]
    assert (
        tok.decode(ids)
        == "<|unk|>, do you like tea? <|endoftext|> In the sunlit terraces of the <|unk|>."
    )


def test_simple_tokenizer_v2_without_unk_says_what_to_add() -> None:
    with pytest.raises(
        ValueError, match=r"'tea' is not in the vocabulary of 2 words; add '<\|unk\|>'"
    ):
        SimpleTokenizerV2({"Hello": 0, ",": 1}).encode("Hello, tea")


def test_simple_tokenizers_match_the_books_loop_on_synthetic_text() -> None:
    text = synthetic_text(5, 400)
    words = sorted(set(book_words(text)))
    vocab = {w: i for i, w in enumerate(words)}
    assert SimpleTokenizerV1(vocab).encode(text) == [vocab[w] for w in book_words(text)]
    small = {w: i for i, w in enumerate([*words[:5], "<|unk|>"])}
    assert SimpleTokenizerV2(small).encode(text) == [
        small.get(w, small["<|unk|>"]) for w in book_words(text)
    ]


# --- the dataset and loader --------------------------------------------------------------------


def test_create_dataloader_v1_golden_batches(verdict_text: str) -> None:
    it = iter(
        create_dataloader_v1(
            verdict_text, batch_size=1, max_length=4, stride=1, shuffle=False
        )
    )
    first, second = next(it), next(it)
    assert [t.tolist() for t in first] == [
        [[40, 367, 2885, 1464]],
        [[367, 2885, 1464, 1807]],
    ]
    assert [t.tolist() for t in second] == [
        [[367, 2885, 1464, 1807]],
        [[2885, 1464, 1807, 3619]],
    ]
    inputs, _ = next(
        iter(
            create_dataloader_v1(
                verdict_text, batch_size=8, max_length=4, stride=4, shuffle=False
            )
        )
    )
    assert inputs.tolist() == [
        [40, 367, 2885, 1464], [1807, 3619, 402, 271], [10899, 2138, 257, 7026], [15632, 438, 2016, 257],
        [922, 5891, 1576, 438], [568, 340, 373, 645], [1049, 5975, 284, 502], [284, 3285, 326, 11],
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("batch_size", "max_length", "stride", "shuffle", "drop_last"), SETTINGS
)
def test_every_batch_equals_the_books_on_the_verdict(
    verdict_text: str,
    batch_size: int,
    max_length: int,
    stride: int,
    shuffle: bool,
    drop_last: bool,
) -> None:
    theirs = book_loader(
        verdict_text, batch_size, max_length, stride, shuffle, drop_last
    )
    ours = create_dataloader_v1(
        verdict_text, batch_size, max_length, stride, shuffle, drop_last
    )
    seeds = (123, 0, 2024) if shuffle else (0,)
    for seed in seeds:
        assert_same_batches(ours, theirs, seed)
    generic = create_dataloader(
        verdict_text,
        batch_size=batch_size,
        max_length=max_length,
        stride=stride,
        shuffle=shuffle,
        drop_last=drop_last,
    )
    assert_same_batches(generic, theirs, seeds[0])


@pytest.mark.parametrize(
    ("batch_size", "max_length", "stride", "shuffle", "drop_last"), SETTINGS
)
def test_every_batch_equals_the_books_on_synthetic_text(
    batch_size: int, max_length: int, stride: int, shuffle: bool, drop_last: bool
) -> None:
    text = synthetic_text(batch_size * 31 + stride)
    theirs = book_loader(text, batch_size, max_length, stride, shuffle, drop_last)
    ours = create_dataloader_v1(
        text, batch_size, max_length, stride, shuffle, drop_last
    )
    for seed in (1, 99):
        assert_same_batches(ours, theirs, seed)


def test_two_epochs_in_a_row_match_the_book(verdict_text: str) -> None:
    theirs = book_loader(verdict_text, 4, 16, 8, True, True)
    ours = create_dataloader_v1(verdict_text, 4, 16, 8)
    torch.manual_seed(5)
    got = [list(ours), list(ours)]
    torch.manual_seed(5)
    want = [list(theirs), list(theirs)]
    for g, w in zip(got, want):
        assert all(
            torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(g, w)
        )
    assert not torch.equal(got[0][0][0], got[1][0][0])  # a new order each epoch


@pytest.mark.parametrize("tokenizer", ["gpt2", GPT2, GPT2.encoding])
def test_gpt_dataset_v1_equals_the_books(verdict_text: str, tokenizer: Any) -> None:
    theirs = BookDataset(verdict_text, 32, 7)
    ours = GPTDatasetV1(verdict_text, tokenizer, 32, 7)
    assert len(ours) == len(theirs) == len(range(0, 5145 - 32, 7))
    for i in (0, 1, len(ours) // 2, len(ours) - 1):
        assert all(torch.equal(a, b) for a, b in zip(ours[i], theirs[i]))
    assert all(torch.equal(a, b) for a, b in zip(ours.input_ids, theirs.input_ids))
    assert all(torch.equal(a, b) for a, b in zip(ours.target_ids, theirs.target_ids))


def test_gpt_dataset_v1_with_a_simple_tokenizer() -> None:
    text = synthetic_text(8, 200)
    vocab = {w: i for i, w in enumerate(sorted(set(book_words(text))))}
    ds = GPTDatasetV1(text, SimpleTokenizerV2(vocab), 8, 8)
    ids = [vocab[w] for w in book_words(text)]
    assert ds[2][0].tolist() == ids[16:24] and ds[2][1].tolist() == ids[17:25]


class LearnersTokenizer:
    """A tokenizer as a reader writes it in chapter 2: a plain class, no tokenmill, no tiktoken."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.str_to_int = vocab

    def encode(self, text, allowed_special=None):  # the book calls encode(txt, allowed_special=...)
        self.seen = allowed_special
        return [self.str_to_int.get(w, self.str_to_int["<|unk|>"]) for w in book_words(text)]


class BookSimpleTokenizerV2:
    """The book's own SimpleTokenizerV2 shape: encode(text) only."""

    def __init__(self, vocab: dict[str, int]) -> None:
        self.str_to_int = vocab

    def encode(self, text):
        return [self.str_to_int.get(w, self.str_to_int["<|unk|>"]) for w in book_words(text)]


def _vocab_of(text: str) -> dict[str, int]:
    words = sorted(set(book_words(text)) | {"<|unk|>", "<|endoftext|>"})
    return {w: i for i, w in enumerate(words)}


@pytest.mark.parametrize("kind", [LearnersTokenizer, BookSimpleTokenizerV2])
def test_gpt_dataset_v1_takes_a_learners_own_tokenizer(kind: type) -> None:
    text = synthetic_text(11, 300)
    vocab = _vocab_of(text)
    tok = kind(vocab)
    ids = [vocab[w] for w in book_words(text)]
    ds = GPTDatasetV1(text, tok, 8, 4)
    assert len(ds) == len(range(0, len(ids) - 8, 4))
    assert ds[3][0].tolist() == ids[12:20] and ds[3][1].tolist() == ids[13:21]
    if kind is LearnersTokenizer:
        assert tok.seen == {"<|endoftext|>"}  # called exactly as the book calls it
    loader = create_dataloader_v1(text, batch_size=2, max_length=8, stride=4, shuffle=False, tokenizer=tok)
    inputs, targets = next(iter(loader))
    assert inputs.tolist() == [ids[0:8], ids[4:12]] and targets.tolist() == [ids[1:9], ids[5:13]]


def test_gpt_dataset_v1_says_what_a_tokenizer_needs() -> None:
    with pytest.raises(TypeError, match="must have an encode"):
        GPTDatasetV1("some text here", 42, 2, 1)

    class Bad:
        def encode(self, text):
            return text.split()

    with pytest.raises(TypeError, match=r"Bad.encode must return token IDs \(ints\)"):
        GPTDatasetV1("some text here", Bad(), 2, 1)


def test_too_little_text_gives_the_books_empty_dataset_and_loader() -> None:
    text = "one two three"  # 3 GPT-2 tokens
    with pytest.warns(UserWarning, match="3 tokens, too few for one window of max_length=4"):
        ds = GPTDatasetV1(text, "gpt2", 4, 1)
    assert len(ds) == len(BookDataset(text, 4, 1)) == 0
    with pytest.raises(IndexError):
        ds[0]
    assert ds[0:2] == ([], []) and ds.input_ids == []
    # The chapter 5 notebook's validation loader at context_length=1024 on a short text.
    with pytest.warns(UserWarning, match="as in the book, the result is empty"):
        val = create_dataloader_v1(text, batch_size=2, max_length=1024, stride=1024, shuffle=False, drop_last=False)
    book = book_loader(text, 2, 1024, 1024, False, False)
    assert len(val) == len(book) == 0 and list(val) == list(book) == []
    # drop_last with fewer windows than a batch: the book's loader has no batches either.
    with pytest.warns(UserWarning, match="drop_last=True with batch_size=4 drops every batch: the text makes only 2 windows"):
        train = create_dataloader_v1("one two three four five six", max_length=4, stride=1)
    book = book_loader("one two three four five six", 4, 4, 1, True, True)
    assert len(train) == len(book) == 0
    assert_same_batches(train, book, 7)  # nothing, and the same draws from torch's RNG
    assert train.batch_size == 4 and train.drop_last


def test_create_dataloader_keeps_its_teaching_errors() -> None:
    with pytest.raises(ValueError, match="3 tokens make no window of max_length=4"):
        create_dataloader("one two three", max_length=4, stride=1)
    with pytest.raises(ValueError, match="drop_last=True with batch_size=4 drops every batch"):
        create_dataloader("one two three four five six", max_length=4, stride=1)


def test_gpt_dataset_v1_indexes_like_the_books_lists() -> None:
    text = synthetic_text(3, 400)
    ours, theirs = GPTDatasetV1(text, "gpt2", 8, 3), BookDataset(text, 8, 3)
    for index in (slice(0, 2), slice(None), slice(-3, None), slice(1, 9, 3), slice(5, 2)):
        got, want = ours[index], (theirs.input_ids[index], theirs.target_ids[index])
        assert isinstance(got, tuple) and isinstance(got[0], list) and len(got[0]) == len(want[0])
        assert all(torch.equal(a, b) for g, w in zip(got, want) for a, b in zip(g, w))
    for index in (torch.tensor(4), torch.tensor(-1)):
        got, want = ours[index], theirs[int(index)]
        assert torch.equal(got[0], want[0]) and torch.equal(got[1], want[1])
    with pytest.raises(IndexError):
        ours[torch.tensor(len(theirs))]


def test_gpt_dataset_v1_pickles(verdict_text: str) -> None:
    ds = GPTDatasetV1(verdict_text, "gpt2", 16, 16)
    back = pickle.loads(pickle.dumps(ds))
    assert isinstance(back, GPTDatasetV1) and torch.equal(back[3][0], ds[3][0])
