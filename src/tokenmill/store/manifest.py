"""``manifest.json``: written last (its presence marks a store complete), read and checked first."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tokenmill.common.files import atomic_write_bytes
from tokenmill.store.format import FORMAT, FORMAT_VERSION, LOCK_NAME, MANIFEST_NAME, PROGRESS_NAME
from tokenmill.store.repair import prepare_command
from tokenmill.store.schema import validate_manifest

_PREPARE_HINT = "run `tokenmill prepare INPUT --out {dir}` to create it"


def write_manifest(directory: str | os.PathLike[str], manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` (sorted keys, indent 2, trailing newline) atomically.

    Pitfall: write it last; its presence is what marks the store as complete.
    """
    missing = [k for k in ("format", "format_version", "dtype", "splits") if k not in manifest]
    if missing:
        raise ValueError(f"manifest lacks required keys {missing}; see docs/format.md")
    if manifest["format"] != FORMAT:
        raise ValueError(f"manifest format must be {FORMAT!r}, got {manifest['format']!r}")
    text = json.dumps(manifest, sort_keys=True, indent=2) + "\n"
    atomic_write_bytes(Path(directory) / MANIFEST_NAME, text.encode("utf-8"))


def _file_not_store(file: Path) -> str:
    """Why a file is no store, and the command that works: its store's, or prepare's for a corpus file."""
    parent = file.parent
    if (parent / MANIFEST_NAME).is_file() or (parent / PROGRESS_NAME).is_file():
        return f"{file} is a file of the token store {parent}, not a store: give the store's directory, e.g. `tokenmill stats {parent}`"
    if not _prepare_reads(file.name):
        return (
            f"{file} is a file, not a token store directory (nor a corpus file that `tokenmill prepare` reads: "
            ".txt, .jsonl, .parquet, .txt/.jsonl compressed with .gz, .xz or .zst)"
        )
    # The input file given where the store goes: `prepare FILE --out FILE` would fail too.
    fresh = _fresh_store_dir(file)
    return (
        f"{file} is a file, not a token store directory; to make a store from it, run "
        f"`tokenmill prepare {file} --out {fresh}/` (a new directory), then use {fresh}/"
    )


def _prepare_reads(name: str) -> bool:
    """Would ``tokenmill prepare`` take a file of this name (its type, by the suffixes)?"""
    from tokenmill.corpus import inputs

    return inputs.classify(name) is not None  # the one rule of what prepare reads


def _fresh_store_dir(file: Path) -> Path:
    """A directory name beside ``file`` for a store made from it (``many.jsonl.xz`` -> ``many-store``)."""
    base = file.name.split(".")[0] or file.name.lstrip(".").split(".")[0] or "corpus"
    candidate, n = file.parent / f"{base}-store", 2
    while candidate.exists():
        candidate, n = file.parent / f"{base}-store{n}", n + 1
    return candidate


def read_manifest(directory: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and check ``manifest.json``; ValueError saying what to run when it is unusable."""
    directory = Path(directory)
    path = directory / MANIFEST_NAME
    hint = _PREPARE_HINT.format(dir=directory)
    if not path.is_file():
        if directory.is_file():
            raise ValueError(_file_not_store(directory))
        if not directory.exists():
            raise ValueError(f"no token store at {directory} (the directory does not exist); {hint}")
        progress = directory / PROGRESS_NAME
        shards = any(directory.glob("*-[0-9]*.bin*"))
        if shards and not progress.exists():
            # A run writes its checkpoint before any shard and removes it after the manifest:
            # shards with neither are a store whose manifest was deleted, not an interrupted run.
            raise ValueError(
                f"{directory} holds shards but no {MANIFEST_NAME} and no checkpoint of an interrupted prepare: "
                f"its manifest was deleted; rebuild the store with the `tokenmill prepare` command that made it "
                f"(`tokenmill prepare INPUT --out {directory}`, with the same inputs and options)"
            )
        if progress.exists() or (directory / LOCK_NAME).exists():
            try:
                identity = json.loads(progress.read_text(encoding="utf-8")).get("identity")
            except (OSError, ValueError, AttributeError):
                identity = None
            raise ValueError(
                f"{directory} holds an incomplete token store: a `tokenmill prepare` was interrupted "
                f"there (no {MANIFEST_NAME} yet); rerun the same command to resume it "
                f"(`{prepare_command(directory, identity)}`, with the same inputs and options)"
            )
        raise ValueError(
            f"no token store at {directory} (no {MANIFEST_NAME}); "
            f"create one with `tokenmill prepare INPUT --out {directory}`"
        )
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, RecursionError) as exc:  # bad UTF-8 or JSON, digits past int limits, deep nesting
        why = "nested too deeply" if isinstance(exc, RecursionError) else exc
        raise ValueError(
            f"{path} is corrupt (not valid JSON: {why}); rerun the `tokenmill prepare` command that made "
            f"the store to rebuild it (`{prepare_command(directory, None)}`)"
        ) from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        found = manifest.get("format") if isinstance(manifest, dict) else type(manifest).__name__
        raise ValueError(
            f"{path} is not a tokenmill store manifest (format={found!r}, expected {FORMAT!r}); {hint}"
        )
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"{path} has an invalid format_version {version!r}; {hint}")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"{path} has format_version {version} but this tokenmill reads up to {FORMAT_VERSION}; "
            "upgrade tokenmill (`pip install -U tokenmill`) or re-create the store with this version"
        )
    validate_manifest(manifest, path)
    return manifest


def _example_manifest(shards: list[dict[str, Any]], *, split: str = "train") -> dict[str, Any]:
    """A minimal GPT-2 manifest for doctests and tests (prepare writes the real one)."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "dtype": "uint16",
        "tokenizer": {
            "name": "gpt2",
            "vocab_size": 50257,
            "max_token_value": 50256,
            "ranks_sha256": None,
            "eot_id": 50256,
        },
        "eot": {"policy": "append", "id": 50256},
        "splits": {
            split: {
                "n_tokens": sum(s["n_tokens"] for s in shards),
                "n_documents": sum(s["n_documents"] for s in shards),
                "shards": shards,
            }
        },
        "stats": {},
    }
