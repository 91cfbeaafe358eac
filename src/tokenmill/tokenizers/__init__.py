"""Tokenizers: text -> token IDs and back, one interface for the book's word tokenizer and BPE.

Every tokenizer follows tiktoken's rule for special tokens: text that spells one (such as
``<|endoftext|>``) raises a ValueError unless the caller allows it with ``allowed_special``;
``encode_ordinary`` never treats text as special.

>>> tok = get_tokenizer("gpt2")
>>> tok.encode("hello world")
[31373, 995]
>>> tok.decode([31373, 995])
'hello world'
"""

from __future__ import annotations

from tokenmill.tokenizers.base import ENDOFTEXT, UNK, AllowedSpecial, Tokenizer
from tokenmill.tokenizers.bpe import TiktokenTokenizer, read_ranks
from tokenmill.tokenizers.hf import HFTokenizer
from tokenmill.tokenizers.load import get_tokenizer
from tokenmill.tokenizers.word import WordTokenizer

__all__ = [
    "ENDOFTEXT",
    "UNK",
    "AllowedSpecial",
    "HFTokenizer",
    "TiktokenTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "get_tokenizer",
    "read_ranks",
]
