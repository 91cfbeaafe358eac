"""The names chapter 2 of *Build a Large Language Model (From Scratch)* uses, on tokenmill's parts.

``SimpleTokenizerV1``/``V2`` are the book's word tokenizers, ``GPTDatasetV1`` and
``create_dataloader_v1`` its sliding-window dataset and loader: same constructor arguments,
same IDs, same batches under the same ``torch.manual_seed``. Where the book fails obscurely
they raise a ValueError that says what to do instead (see each class).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from tokenmill.tokenizers import WordTokenizer, get_tokenizer
from tokenmill.training.simple import BPETokenizerSimple
from tokenmill.windows import ENDOFTEXT, WindowDataset, window_loader

__all__ = [
    "BPETokenizerSimple",
    "GPTDatasetV1",
    "SimpleTokenizerV1",
    "SimpleTokenizerV2",
    "create_dataloader_v1",
]

UNK = "<|unk|>"


class SimpleTokenizerV1:
    """The book's first word tokenizer: split on punctuation and spaces, look each piece up.

    Pitfall: a word outside ``vocab`` raises a ValueError naming it (the book raises a bare
    KeyError); use ``SimpleTokenizerV2`` with a vocabulary that has ``<|unk|>`` to map such
    words to it instead.

    >>> tok = SimpleTokenizerV1({"Hello": 0, ",": 1, "world": 2, "!": 3})
    >>> tok.encode("Hello, world!")
    [0, 1, 2, 3]
    >>> tok.decode([0, 1, 2, 3])
    'Hello, world!'
    """

    _unknown = "error"
    _fix = (
        f"use SimpleTokenizerV2 with a vocabulary that has {UNK!r} (e.g. "
        f"WordTokenizer.from_text(text).str_to_int) to map unknown words to it"
    )

    def __init__(self, vocab: Mapping[str, int]) -> None:
        self._tokenizer = WordTokenizer(vocab, unknown=self._unknown)
        self.str_to_int: dict[str, int] = self._tokenizer.str_to_int
        self.int_to_str: dict[int, str] = self._tokenizer.int_to_str

    def encode(self, text: str) -> list[int]:
        """Text -> IDs; a spelled ``<|endoftext|>`` is the special token when the vocabulary has it."""
        try:
            return self._tokenizer.encode(text, allowed_special="all")
        except ValueError:
            unknown = next(
                (p for p in WordTokenizer.split(text) if p not in self.str_to_int), None
            )
            if unknown is None:
                raise
            raise ValueError(
                f"{unknown!r} is not in the vocabulary of {len(self.str_to_int)} words; {self._fix}"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        """IDs -> text: words joined by spaces, with no space before punctuation."""
        return self._tokenizer.decode(list(ids))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab of {len(self.str_to_int)} tokens)"


class SimpleTokenizerV2(SimpleTokenizerV1):
    """The book's second word tokenizer: unknown words become ``<|unk|>``.

    ``<|endoftext|>`` in the text is the special token, as in the book.

    Pitfall: ``vocab`` must contain ``<|unk|>`` (the book's 1,132-token vocabulary does);
    without it an unknown word raises a ValueError.

    >>> tok = SimpleTokenizerV2({"Hello": 0, ",": 1, "<|endoftext|>": 2, "<|unk|>": 3})
    >>> tok.encode("Hello, tea <|endoftext|>")
    [0, 1, 3, 2]
    >>> tok.decode([0, 1, 3, 2])
    'Hello, <|unk|> <|endoftext|>'
    """

    _unknown = "unk"
    _fix = f"add {UNK!r} to the vocabulary (WordTokenizer.from_text adds it) to map unknown words to it"


def _encode_like_book(txt: str, tokenizer: Any) -> list[int]:
    """``tokenizer.encode(txt, allowed_special={"<|endoftext|>"})``, for each kind of tokenizer."""
    if isinstance(tokenizer, SimpleTokenizerV1):
        return tokenizer.encode(txt)
    tok = get_tokenizer(tokenizer)  # a name, a tokenmill tokenizer or a tiktoken.Encoding
    # tiktoken ignores an allowed special token it does not have; tokenmill's tokenizers refuse it.
    return tok.encode(txt, allowed_special={ENDOFTEXT} & set(tok.special_tokens))


class GPTDatasetV1(WindowDataset):
    """The book's sliding-window dataset: ``GPTDatasetV1(txt, tokenizer, max_length, stride)``.

    ``tokenizer`` is a ``tiktoken.Encoding`` (as in the book), a tokenmill tokenizer or its name,
    or a ``SimpleTokenizerV1``/``V2``. ``len`` and ``ds[i]`` equal the book's; the windows are cut
    on access instead of being stored as lists of tensors up front (the book's stride 1 needs
    about 5 KB per token), and ``input_ids``/``target_ids`` build those lists only when read.

    Pitfall: text too short for one window raises a ValueError (the book silently makes an
    empty dataset, which its DataLoader then rejects or iterates as nothing).

    >>> ds = GPTDatasetV1("I HAD always thought Jack Gisburn rather a cheap genius", "gpt2", 4, 4)
    >>> len(ds), ds[0]
    (3, (tensor([  40,  367, 2885, 1464]), tensor([ 367, 2885, 1464, 1807])))
    """

    def __init__(self, txt: str, tokenizer: Any, max_length: int, stride: int) -> None:
        super().__init__(
            _encode_like_book(txt, tokenizer), max_length=max_length, stride=stride
        )

    @property
    def input_ids(self) -> list[torch.Tensor]:
        """Every window's inputs, as the book's list of tensors (built on each access)."""
        return list(self.batch(range(len(self)))[0])

    @property
    def target_ids(self) -> list[torch.Tensor]:
        """Every window's targets, as the book's list of tensors (built on each access)."""
        return list(self.batch(range(len(self)))[1])


def create_dataloader_v1(
    txt: str,
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
) -> DataLoader:
    """The book's loader: GPT-2 tokens of ``txt`` in windows, batched; same batches, same seed.

    Pitfall: ``drop_last=True`` with fewer windows than ``batch_size`` raises a ValueError
    instead of yielding nothing. ``loader.batch_size``, ``loader.drop_last`` and ``len(loader)``
    (the number of batches) are as in the book.

    >>> loader = create_dataloader_v1("I HAD always thought Jack Gisburn rather a cheap genius",
    ...                               batch_size=1, max_length=4, stride=1, shuffle=False)
    >>> next(iter(loader))
    [tensor([[  40,  367, 2885, 1464]]), tensor([[ 367, 2885, 1464, 1807]])]
    """
    dataset = GPTDatasetV1(txt, "gpt2", max_length, stride)
    return window_loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
    )
