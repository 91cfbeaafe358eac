"""Train tokenizers: byte-level BPE from a corpus (fast, exported to tiktoken) and the book's
readable ``BPETokenizerSimple``.

>>> sorted(PATTERNS)
['cl100k', 'gpt2', 'multilingual', 'o200k']
"""

from __future__ import annotations

from tokenmill.training.patterns import DEFAULT_PATTERN, PATTERNS, pattern_for
from tokenmill.training.simple import BPETokenizerSimple
from tokenmill.training.trainer import train_tokenizer

__all__ = ["BPETokenizerSimple", "DEFAULT_PATTERN", "PATTERNS", "pattern_for", "train_tokenizer"]
