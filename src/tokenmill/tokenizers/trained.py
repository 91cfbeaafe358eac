"""Tokenizer directories written by ``tokenmill train-tokenizer``, loaded to run on tiktoken.

A directory holds three files (format ``tokenmill-tokenizer``, version 1; docs/format.md):

* ``tokenizer.tiktoken``: the ranks, ``BASE64 RANK`` per line, ranks 0..255 the bytes;
* ``tokenmill-tokenizer.json``: pattern name and regex, special tokens, vocabulary size,
  the sha256 of both other files, and what the tokenizer was trained on;
* ``tokenizer.json``: the same tokenizer for Hugging Face ``tokenizers`` (same IDs).

Pitfall: the ranks file is checked against the sha256 recorded in the JSON on every load;
an edited ranks file is refused rather than silently giving other IDs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tokenmill.common.files import sha256_file
from tokenmill.tokenizers.bpe import TiktokenTokenizer, read_ranks

FORMAT = "tokenmill-tokenizer"
VERSION = 1
META_FILE = "tokenmill-tokenizer.json"
RANKS_FILE = "tokenizer.tiktoken"
HF_FILE = "tokenizer.json"


def is_tokenizer_dir(path: str | os.PathLike[str]) -> bool:
    """Does ``path`` look like a tokenizer directory (it holds the metadata file)?"""
    return (Path(path) / META_FILE).is_file()


def read_meta(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """The metadata of a tokenizer directory; ValueError saying what is wrong and the fix."""
    path = Path(directory) / META_FILE
    if not path.is_file():
        raise ValueError(
            f"{directory} is not a tokenizer directory (no {META_FILE}); make one with: "
            f"tokenmill train-tokenizer INPUT... --vocab-size N --out {directory}"
        )
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ValueError(f"{path}: not valid JSON ({exc}); train the tokenizer again") from None
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        raise ValueError(f"{path}: not a tokenmill tokenizer (no 'format': {FORMAT!r})")
    if meta.get("version") != VERSION:
        raise ValueError(
            f"{path}: tokenizer format version {meta.get('version')!r}, this tokenmill reads "
            f"version {VERSION}; upgrade tokenmill or train the tokenizer again"
        )
    for key in ("pat_str", "special_tokens", "vocab_size", "ranks_sha256"):
        if key not in meta:
            raise ValueError(f"{path}: the field {key!r} is missing; train the tokenizer again")
    return meta


def load_tokenizer_dir(directory: str | os.PathLike[str]) -> TiktokenTokenizer:
    """A trained tokenizer directory as a tiktoken-backed tokenizer, its ranks verified.

    ``name`` is the directory path (as given), like a tokenizer loaded from a file;
    ``ranks_path`` is its ranks file.
    """
    import tiktoken

    meta = read_meta(directory)
    ranks_path = Path(directory) / RANKS_FILE
    if not ranks_path.is_file():
        raise ValueError(f"{directory}: the ranks file {RANKS_FILE} is missing; train the tokenizer again")
    sha = sha256_file(ranks_path)
    if sha != meta["ranks_sha256"]:
        raise ValueError(
            f"{ranks_path}: sha256 {sha} is not the {meta['ranks_sha256']} recorded in {META_FILE}: "
            "the ranks file was changed after training; train the tokenizer again"
        )
    ranks = read_ranks(ranks_path)
    name = os.fspath(directory)
    encoding = tiktoken.Encoding(
        name,
        pat_str=meta["pat_str"],
        mergeable_ranks=ranks,
        special_tokens={str(k): int(v) for k, v in meta["special_tokens"].items()},
        explicit_n_vocab=int(meta["vocab_size"]),
    )
    tok = TiktokenTokenizer(name, encoding, ranks_path, sha)
    tok.pattern_name = meta.get("pattern")  # type: ignore[attr-defined]
    return tok
