"""Assemble the store's manifest from the tasks' records (the coordinator's last step).

The manifest lists each split's shards in task order, then shard order within a task, and
sums the tasks' counters; it depends only on the records, which depend only on the inputs
and options, so it is byte-identical whatever executor or number of workers made them.

>>> SPLIT_RULE.startswith("a document is in 'val' iff blake2b(")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenmill._version import __version__
from tokenmill.prepare.tasks import TaskSpec
from tokenmill.prepare.worker import STAT_KEYS
from tokenmill.store import FORMAT, FORMAT_VERSION, write_manifest

SPLIT_RULE = (
    "a document is in 'val' iff blake2b(f'{seed}:{name}:{key}', digest_size=8) "
    "as a big-endian integer < val_fraction * 2**64, where name is the input's inputs[].name "
    "(a file argument's base name, else its path relative to the directory argument or to the "
    "glob's leading directory, '/'-separated) and key the document's place in it: the byte offset "
    "of its line in the (decompressed) .jsonl, its row number in a parquet file, 0 for a .txt"
)


def totals(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The tasks' counters summed."""
    return {k: sum(int(r["stats"].get(k, 0)) for r in records) for k in STAT_KEYS}


def build_manifest(
    identity: dict[str, Any],
    dtype: str,
    splits: Sequence[str],
    tasks: Sequence[TaskSpec],
    records: Sequence[dict[str, Any]],
    range_bytes: int,
) -> dict[str, Any]:
    """The manifest of a store whose tasks all finished (``records`` in task order)."""
    by_split: dict[str, Any] = {}
    for split in splits:
        shards = [e for r in records for e in r["shards"].get(split, [])]
        by_split[split] = {
            "n_tokens": sum(e["n_tokens"] for e in shards),
            "n_documents": sum(e["n_documents"] for e in shards),
            "shards": shards,
        }
    opt, tokenizer = identity["options"], identity["tokenizer"]
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "tokenmill_version": __version__,
        "tokenizer": tokenizer,
        "dtype": dtype,
        "eot": {"policy": opt["eot"], "id": tokenizer["eot_id"] if opt["eot"] != "none" else None},
        "splits": by_split,
        "inputs": identity["inputs"],
        "options": opt,
        "split_rule": SPLIT_RULE,
        "tasks": {
            "range_bytes": range_bytes,
            "list": [[t.input_index, t.start, t.stop] for t in tasks],
        },
        "stats": totals(records),
    }


def finish_store(out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest: from this moment ``out`` is a complete store."""
    write_manifest(out, manifest)
