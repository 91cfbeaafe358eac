"""Small stores made directly with the store's writer, for the export tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tokenmill.store import write_manifest, write_shard
from tokenmill.store.manifest import _example_manifest

EOT = 50256
# The 3-document fixture of the golden tests: GPT-2 IDs, EOT appended, 13 tokens.
DOCS = [[1, 2, 3, EOT], [4, 5, EOT], [6, 7, 8, 9, 10, EOT]]


def make_store(path: Path, splits: dict[str, list[list[list[int]]]], *, dtype: str = "uint16",
               policy: str = "append", tokenizer: dict | None = None) -> Path:
    """A store at ``path``: ``splits[name]`` is its shards, each a list of documents."""
    path.mkdir(parents=True, exist_ok=True)
    manifest = _example_manifest([])
    manifest["dtype"], manifest["eot"]["policy"], manifest["splits"] = dtype, policy, {}
    if tokenizer:
        manifest["tokenizer"] = {**manifest["tokenizer"], **tokenizer}
    for split, shards in splits.items():
        entries = []
        for k, docs in enumerate(shards):
            tokens = np.array([t for d in docs for t in d], dtype=dtype)
            offsets = np.concatenate(([0], np.cumsum([len(d) for d in docs]))).astype(np.int64)
            entries.append(write_shard(path, f"{split}-00000-{k:05d}", tokens, offsets, dtype=dtype))
        manifest["splits"][split] = {"n_tokens": sum(e["n_tokens"] for e in entries),
                                     "n_documents": sum(e["n_documents"] for e in entries), "shards": entries}
    write_manifest(path, manifest)
    return path


def three_docs(path: Path) -> Path:
    return make_store(path, {"train": [DOCS]})


def random_docs(rng: np.random.Generator, n: int, *, eot: int = EOT, high: int = 50000, prepend: bool = False) -> list[list[int]]:
    """``n`` documents of 1-40 random IDs below ``high``, each with EOT appended (or prepended)."""
    docs = []
    for _ in range(n):
        body = rng.integers(0, high, int(rng.integers(1, 40))).tolist()
        docs.append([eot, *body] if prepend else [*body, eot])
    return docs
