"""Assemble the store's manifest from the tasks' records (the coordinator's last step).

The manifest lists each split's shards in task order, then shard order within a task, and
sums the tasks' counters; it depends only on the records, which depend only on the inputs
and options, so it is byte-identical whatever executor or number of workers made them.

>>> SPLIT_RULE.startswith("a document is in 'val' iff blake2b(")
True
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tokenmill._version import __version__
from tokenmill.common.files import atomic_write_bytes
from tokenmill.prepare.tasks import TaskSpec, record_path
from tokenmill.prepare.worker import STAT_KEYS
from tokenmill.store import FORMAT, FORMAT_VERSION, write_manifest

SPLIT_RULE = (
    "a document is in 'val' iff blake2b(f'{seed}:{name}:{key}', digest_size=8) "
    "as a big-endian integer < val_fraction * 2**64, where name is the input's inputs[].name "
    "(a file argument's base name, else its path relative to the directory argument or to the "
    "glob's leading directory, '/'-separated) and key the document's place in it: the byte offset "
    "of its line in the (decompressed) .jsonl, its row number in a parquet file, 0 for a .txt"
)


# The counters a summary reports, (singular, plural) in words: each is a data problem or a
# skip that a user should see, never a silent one.
NOTES = (
    ("replacements", "U+FFFD replacement (invalid UTF-8)", "U+FFFD replacements (invalid UTF-8)"),
    ("bad_lines_skipped", "bad line skipped", "bad lines skipped"),
    ("empty_documents", "empty document skipped", "empty documents skipped"),
    ("empty_files", "empty input file", "empty input files"),
    ("unknown_files_skipped", "file of unknown type skipped", "files of unknown type skipped"),
    ("eot_spellings", "EOT spelling kept as text", "EOT spellings kept as text"),
)


def data_notes(stats: dict[str, Any]) -> list[str]:
    """The manifest's counters that are not 0, in words with their plural forms.

    >>> data_notes({"replacements": 1, "bad_lines_skipped": 2, "empty_files": 0, "documents": 5})
    ['1 U+FFFD replacement (invalid UTF-8)', '2 bad lines skipped']
    """
    return [f"{n:,} {one if n == 1 else many}" for key, one, many in NOTES if (n := int(stats.get(key) or 0))]


def totals(records: Sequence[dict[str, Any]]) -> dict[str, int]:
    """The tasks' counters summed (a counter a record lacks counts 0)."""
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
    stats = totals(records)
    for optional in ("empty_files", "unsafe_cuts"):  # a store of sound inputs keeps the counters it always had
        if not stats[optional]:
            del stats[optional]
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
            # per task, its counters that are not 0: a damaged store rebuilds only the damaged tasks
            "stats": [{k: v for k, v in r["stats"].items() if v} for r in records],
        },
        "stats": stats,
    }


def restore_records(out: Path, manifest: dict[str, Any], tasks: Sequence[TaskSpec]) -> int:
    """Write back the task records of a finished store (its manifest): the number written.

    A damaged store (a truncated shard) is then rebuilt task by task: each task checks its
    shards' sha256 against its record, so only the tasks whose output is damaged are redone.
    Nothing is written unless the manifest's plan is this plan and it has the tasks' counters
    (stores made before those were recorded are rebuilt whole).
    """
    recorded = manifest.get("tasks", {})
    plan = [[t.input_index, t.start, t.stop] for t in tasks]
    stats = recorded.get("stats")
    if recorded.get("list") != plan or not isinstance(stats, list) or len(stats) != len(tasks):
        return 0
    shards: list[dict[str, list[Any]]] = [{s: [] for s in manifest["splits"]} for _ in tasks]
    for split, listed in manifest["splits"].items():
        for entry in listed["shards"]:
            shards[int(entry["name"].split("-")[1])][split].append(entry)
    for spec, counters in zip(tasks, stats):
        record = {
            "digest": spec.digest,
            "task": spec.index,
            "shards": shards[spec.index],
            "stats": {k: int(counters.get(k, 0)) for k in STAT_KEYS},
        }
        atomic_write_bytes(record_path(out, spec.index), json.dumps(record, sort_keys=True).encode())
    return len(tasks)


def finish_store(out: Path, manifest: dict[str, Any]) -> None:
    """Write the manifest: from this moment ``out`` is a complete store."""
    write_manifest(out, manifest)
