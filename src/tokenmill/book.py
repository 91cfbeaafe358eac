"""The names chapter 2 of *Build a Large Language Model (From Scratch)* uses, on tokenmill's parts.

``SimpleTokenizerV1``/``V2`` are the book's word tokenizers, ``GPTDatasetV1`` and
``create_dataloader_v1`` its sliding-window dataset and loader: same constructor arguments,
same IDs, same batches under the same ``torch.manual_seed``. Where the book fails obscurely
they raise a ValueError that says what to do instead (see each class); where the book gives
an empty dataset or loader (too little text), so do they, with a warning that says why.
"""

from __future__ import annotations

import inspect
import operator
import os
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

import torch
from torch.utils.data import DataLoader

from tokenmill.loader.dataloader import window_loader
from tokenmill.loader.dataset import WindowDataset, as_token_array
from tokenmill.tokenizers import ENDOFTEXT, Tokenizer, WordTokenizer, get_tokenizer
from tokenmill.training.simple import BPETokenizerSimple

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
    """``tokenizer.encode(txt, allowed_special={"<|endoftext|>"})``, for each kind of tokenizer.

    A name or path, a tokenmill tokenizer or a ``tiktoken.Encoding`` goes through
    ``get_tokenizer``; any other object with an ``encode`` method (a learner's own chapter-2
    tokenizer) is called as the book calls it, without ``allowed_special`` if its ``encode``
    takes no such argument (the book's ``SimpleTokenizerV2.encode(text)`` does not).
    """
    if isinstance(tokenizer, SimpleTokenizerV1):
        return tokenizer.encode(txt)
    if isinstance(tokenizer, (str, os.PathLike, Tokenizer)) or _is_tiktoken(tokenizer):
        tok = get_tokenizer(tokenizer)
        # tiktoken ignores an allowed special token it does not have; tokenmill's tokenizers refuse it.
        return tok.encode(txt, allowed_special={ENDOFTEXT} & set(tok.special_tokens))
    encode = getattr(tokenizer, "encode", None)
    if not callable(encode):
        raise TypeError(
            f"tokenizer must have an encode(text) method (as tiktoken.get_encoding('gpt2') and the "
            f"book's SimpleTokenizerV2 do), or be a tokenizer name such as 'gpt2'; got "
            f"{type(tokenizer).__name__}"
        )
    ids = encode(txt, allowed_special={ENDOFTEXT}) if _takes_allowed_special(encode) else encode(txt)
    try:
        return [operator.index(i) for i in ids]
    except TypeError:
        raise TypeError(
            f"{type(tokenizer).__name__}.encode must return token IDs (ints), got "
            f"{type(ids).__name__} of {type(next(iter(ids), None)).__name__}"
        ) from None


def _is_tiktoken(obj: Any) -> bool:
    return type(obj).__name__ == "Encoding" and hasattr(obj, "_mergeable_ranks")


def _takes_allowed_special(encode: Any) -> bool:
    try:
        params = inspect.signature(encode).parameters.values()
    except (TypeError, ValueError):  # a builtin without a signature: call it as the book does
        return True
    return any(p.name == "allowed_special" or p.kind is p.VAR_KEYWORD for p in params)


def _too_little_text(why: str) -> None:
    warnings.warn(
        f"{why}; as in the book, the result is empty and iterating it yields no batches (a "
        f"validation loss over it is nan). Lower max_length, stride or batch_size, or give more text.",
        UserWarning,
        stacklevel=3,
    )


class GPTDatasetV1(WindowDataset):
    """The book's sliding-window dataset: ``GPTDatasetV1(txt, tokenizer, max_length, stride)``.

    ``tokenizer`` is a ``tiktoken.Encoding`` (as in the book), a tokenmill tokenizer or its name,
    a ``SimpleTokenizerV1``/``V2``, or any object with an ``encode(text, allowed_special=...)``
    (or ``encode(text)``) method, such as a tokenizer class written while reading chapter 2.
    ``len``, ``ds[i]`` (an int or a 0-d tensor) and ``ds[a:b]`` (two lists of tensors) equal
    the book's; the windows are cut on access instead of being stored as lists of tensors up
    front (the book's stride 1 needs about 5 KB per token), and ``input_ids``/``target_ids``
    build those lists only when read.

    Pitfall: text too short for one window gives an empty dataset, as in the book, with a
    warning (``tokenmill.create_dataloader`` raises a ValueError instead).

    >>> ds = GPTDatasetV1("I HAD always thought Jack Gisburn rather a cheap genius", "gpt2", 4, 4)
    >>> len(ds), ds[0]
    (3, (tensor([  40,  367, 2885, 1464]), tensor([ 367, 2885, 1464, 1807])))
    >>> ds[0:2][1]  # a slice: the book's two lists of tensors
    [tensor([ 367, 2885, 1464, 1807]), tensor([ 3619,   402,   271, 10899])]
    """

    def __init__(self, txt: str, tokenizer: Any, max_length: int, stride: int) -> None:
        ids = _encode_like_book(txt, tokenizer)
        try:
            too_short = len(ids) <= operator.index(max_length)
        except TypeError:
            too_short = False  # WindowDataset names the bad type
        if not too_short:
            super().__init__(ids, max_length=max_length, stride=stride)
            return
        # The book's range(0, len(ids) - max_length, stride) is empty: so is this dataset.
        super().__init__(list(range(max_length + 1)), max_length=max_length, stride=stride)
        self._tokens = as_token_array(ids)
        self.n_tokens, self._n_windows = len(ids), 0
        _too_little_text(
            f"the text gives {len(ids)} tokens, too few for one window of max_length={max_length} "
            f"(a window needs max_length + 1 = {max_length + 1} tokens)"
        )

    def __getitem__(self, index: Any) -> Any:
        if isinstance(index, slice):  # the book's lists: (inputs, targets), each a list of tensors
            chosen = range(len(self))[index]
            if not chosen:
                return [], []
            inputs, targets = self.batch(chosen)
            return list(inputs), list(targets)
        if isinstance(index, torch.Tensor) and index.ndim == 0:
            index = operator.index(index)  # a 0-d tensor indexes the book's lists like an int
        return super().__getitem__(index)

    @property
    def input_ids(self) -> list[torch.Tensor]:
        """Every window's inputs, as the book's list of tensors (built on each access)."""
        return self[:][0]

    @property
    def target_ids(self) -> list[torch.Tensor]:
        """Every window's targets, as the book's list of tensors (built on each access)."""
        return self[:][1]


def create_dataloader_v1(
    txt: str,
    batch_size: int = 4,
    max_length: int = 256,
    stride: int = 128,
    shuffle: bool = True,
    drop_last: bool = True,
    num_workers: int = 0,
    *,
    tokenizer: Any = "gpt2",
) -> DataLoader:
    """The book's loader: GPT-2 tokens of ``txt`` in windows, batched; same batches, same seed.

    ``loader.batch_size``, ``loader.drop_last`` and ``len(loader)`` (the number of batches) are
    as in the book. ``tokenizer`` (keyword-only, not in the book) takes whatever
    ``GPTDatasetV1`` takes, a learner's own tokenizer object included. The defaults are the
    book's (``max_length=256, stride=128``: windows overlap by half); ``tokenmill.create_dataloader``
    defaults to ``stride=max_length`` instead (each token once per epoch).

    Pitfall: too little text for one batch (no window at all, or ``drop_last=True`` with fewer
    windows than ``batch_size``) gives what the book gives, a loader with ``len(loader) == 0``
    that yields nothing, and a warning that says why (``tokenmill.create_dataloader`` raises).

    >>> loader = create_dataloader_v1("I HAD always thought Jack Gisburn rather a cheap genius",
    ...                               batch_size=1, max_length=4, stride=1, shuffle=False)
    >>> next(iter(loader))
    [tensor([[  40,  367, 2885, 1464]]), tensor([[ 367, 2885, 1464, 1807]])]
    """
    dataset = GPTDatasetV1(txt, tokenizer, max_length, stride)
    if len(dataset) == 0 or (drop_last and isinstance(batch_size, int) and len(dataset) < batch_size):
        if len(dataset):
            _too_little_text(
                f"drop_last=True with batch_size={batch_size} drops every batch: the text makes "
                f"only {len(dataset)} windows"
            )
        # The book's own DataLoader, which has no batches here; shuffled, it still draws from
        # the global RNG as the book's does (an empty one cannot shuffle: the book's raises).
        return DataLoader(
            dataset, batch_size=batch_size, shuffle=shuffle and len(dataset) > 0,
            drop_last=drop_last, num_workers=num_workers,
        )
    return window_loader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle,
        drop_last=drop_last,
        num_workers=num_workers,
    )
