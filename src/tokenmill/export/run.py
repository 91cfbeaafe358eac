"""``export(store, format, out)``: a token store written in a trainer's own format, checked, with provenance.

Writes into a staging directory beside ``out`` (:class:`~tokenmill.export.base.Staging`),
re-reads every file it wrote with its own parser of the format and compares each token, and
each document end where the format keeps them, with the store's; only then writes
``tokenmill-export.json`` and renames the directory to ``out``.

Pitfall: the export keeps the store's tokens as they are, the EOT separators where the store
put them; llm.c's loaders expect EOT *before* each document, so a store made with
``--eot append`` exported to llmc warns (prepare with ``--eot prepend`` for llm.c).
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np

import tokenmill.export.litdata as litdata
import tokenmill.export.llmc as llmc
import tokenmill.export.megatron as megatron
import tokenmill.export.parquet as parquet
import tokenmill.export.raw as raw
import tokenmill.export.sources as sources
from tokenmill._version import __version__
from tokenmill.common.errors import ExplainedError, ExplainedWarning, OptionError
from tokenmill.common.files import sha256_file
from tokenmill.common.paths import is_url
from tokenmill.export.base import Staging, Written, split_ends, split_pieces
from tokenmill.export.options import EXPORT_FORMATS, ExportOptions, check_format
from tokenmill.storage.urls import open_storage
from tokenmill.store import MANIFEST_NAME, TokenStore

PROVENANCE_NAME = "tokenmill-export.json"
PROVENANCE_FORMAT = "tokenmill-export"
PROVENANCE_VERSION = 1


class _Compare:
    """Compares a stream of integer pieces, fed in pieces of any sizes, with an expected stream."""

    def __init__(self, expected: Iterator[np.ndarray]) -> None:
        self.ys = (p for p in expected if p.size)
        self.y, self.pos, self.diff = next(self.ys, None), 0, None

    def feed(self, x: np.ndarray) -> None:
        while x.size and self.diff is None:
            if self.y is None:  # longer than expected
                self.diff = self.pos
                return
            n = min(x.size, self.y.size)
            if not np.array_equal(x[:n], self.y[:n]):
                self.diff = self.pos + int(np.argmax(x[:n] != self.y[:n]))
                return
            x, self.y, self.pos = x[n:], self.y[n:], self.pos + n
            self.y = self.y if self.y.size else next(self.ys, None)

    def end(self) -> int | None:
        """Where the streams first differ (a shorter one included), or None if they are equal."""
        if self.diff is None and self.y is not None:
            self.diff = self.pos
        return self.diff


def _first_difference(a: Iterator[np.ndarray], b: Iterator[np.ndarray]) -> int | None:
    """Where two streams of integers (in pieces of any sizes) first differ, a shorter one included; None if equal."""
    compare = _Compare(b)
    for x in a:
        compare.feed(x)
    return compare.end()


def _written_splits(fmt: str, store: TokenStore, written: Written, options: ExportOptions) -> dict[str, list[str]]:
    """Write every split; the files written per split."""
    files: dict[str, list[str]] = {}
    if fmt == "llmc":  # val first (shard 000000), as llm.c's fineweb.py numbers them
        order = sorted(store.splits, key=lambda s: (s != "val", s != "train", s))
        nonempty = [s for s in order if store.num_tokens(s)]
        names = llmc.write(store, nonempty, written, name=options.name, shard_tokens=options.shard_tokens)
        for split in nonempty:
            files[split] = [n for n in names if n.startswith(f"{options.name}_{split}_")]
        return files
    for split in store.splits:
        if fmt == "nanogpt":
            files[split] = raw.write_nanogpt(store, split, written)
        elif fmt == "megatron":
            files[split] = megatron.write(store, split, written, prefix=options.prefix or split)
        elif fmt == "datatrove":
            files[split] = raw.write_datatrove(store, split, written)
        elif fmt == "litdata":
            if store.num_tokens(split):  # litdata cannot open a split without chunks
                files[split] = litdata.write(store, split, written, block_size=options.block_size)
        else:
            files[split] = parquet.write(store, split, written)
    return files


def _reader(fmt: str, root: Path, split: str, names: list[str]) -> sources.Source:
    if fmt == "nanogpt":
        return sources.nanogpt(root / names[0])
    if fmt == "llmc":
        return sources.llmc([root / n for n in names])
    if fmt == "megatron":
        return sources.megatron(root / names[0][: -len(".bin")])
    if fmt == "datatrove":
        return sources.datatrove(root / names[0])
    if fmt == "litdata":
        return sources.litdata_source(root / split)
    return sources.parquet_source(root / names[0])


def self_check(fmt: str, store: TokenStore, root: Path, files: dict[str, list[str]]) -> None:
    """Re-read each split as written and compare its tokens (and document ends) with the store's."""
    for split, names in files.items():
        source = _reader(fmt, root, split, names)
        tokens = _Compare(split_pieces(store, split))
        ends = _Compare(split_ends(store, split)) if source.ends is not None else None
        for piece, piece_ends in source.stream():
            tokens.feed(piece)
            if ends is not None and piece_ends is not None:
                ends.feed(piece_ends)
        at = tokens.end()
        if at is not None:
            raise RuntimeError(f"export self-check failed: {source.where} differs from the store's split {split!r} "
                               f"at token {at}; please report this as a tokenmill bug")
        if ends is not None and ends.end() is not None:
            raise RuntimeError(f"export self-check failed: the document boundaries in {source.where} differ "
                               f"from the store's split {split!r}; please report this as a tokenmill bug")


def _precheck(fmt: str, store: TokenStore, options: ExportOptions) -> None:
    """Refuse what the format cannot hold before anything is written."""
    if fmt == "nanogpt" and store.dtype.itemsize != 2:
        raise ExplainedError(
            "the store at {0} holds uint32 tokens (tokenizer {1!r}), but nanoGPT's train.py reads uint16 only; "
            "export it with --format megatron, llmc, datatrove, litdata or parquet instead",
            store.path, store.tokenizer_name,
        )
    if fmt == "megatron" and options.prefix is not None and len(store.splits) > 1:
        raise OptionError("prefix", "{prefix} names one file pair, but the store at {0} has splits {1}; leave "
                          "{prefix} out to get one pair per split ({{split}}_text_document)",
                          store.path, ", ".join(store.splits))
    if fmt == "llmc" and store.eot_policy != "prepend":
        warnings.warn(ExplainedWarning(ExplainedError(
            "the store at {0} has EOT policy {1!r}, but llm.c's loaders expect EOT before each document "
            "(fineweb.py prepends it); training still works, shifted by one document: for an exact match, "
            "prepare the store with --eot prepend", store.path, store.eot_policy,
        )), stacklevel=3)
    if fmt == "parquet":
        parquet._pyarrow()


def _open_store(location: str | os.PathLike[str], storage_options: dict[str, Any] | None) -> TokenStore:
    """The store at ``location``; ``storage_options`` go to ``TokenStore.open`` (for a URL) when given."""
    if storage_options is None and not is_url(location):
        return TokenStore.open(location)
    return TokenStore.open(location, storage_options=storage_options)


def _manifest_sha256(location: Any, storage_options: dict[str, Any] | None) -> str:
    """The sha256 of the store's manifest file (an object, for a store at a URL)."""
    if not is_url(location):
        return sha256_file(Path(location) / MANIFEST_NAME)
    return hashlib.sha256(open_storage(os.fspath(location), storage_options=storage_options).get(MANIFEST_NAME)).hexdigest()


def export(
    store: TokenStore | str | os.PathLike[str],
    format: str,
    out: str | os.PathLike[str],
    *,
    prefix: str | None = None,
    block_size: int = ExportOptions.block_size,
    name: str = ExportOptions.name,
    shard_tokens: int = ExportOptions.shard_tokens,
    check: bool = True,
    storage_options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Write ``store`` in ``format`` (one of :data:`EXPORT_FORMATS`) into the new directory ``out``.

    Streams shard by shard in bounded memory; returns the provenance record (also written
    as ``out/tokenmill-export.json``). See docs/export.md for each format's files.

    ``store`` may be a URL (``s3://bucket/store``), opened with ``storage_options`` (as
    ``TokenStore.open`` takes them); ``out`` is a local directory.

    Pitfall: ``out`` must be missing or empty; nothing is written there unless the whole
    export succeeded and re-read equal to the store.

    >>> import tempfile, numpy as np
    >>> from tokenmill.store import write_shard, write_manifest
    >>> from tokenmill.store.manifest import _example_manifest
    >>> d = tempfile.mkdtemp()
    >>> entry = write_shard(d, "train-00000", np.array([1, 2, 50256, 3, 50256], np.uint16), np.array([0, 3, 5]))
    >>> write_manifest(d, _example_manifest([entry]))
    >>> record = export(d, "nanogpt", d + "/nanogpt")
    >>> sorted(record["files"]), np.fromfile(d + "/nanogpt/train.bin", np.uint16).tolist()
    (['train.bin'], [1, 2, 50256, 3, 50256])
    """
    fmt = check_format(format, EXPORT_FORMATS)
    options = ExportOptions(prefix=prefix, block_size=block_size, name=name, shard_tokens=shard_tokens, check=check)
    store = store if isinstance(store, TokenStore) else _open_store(store, storage_options)
    staging = Staging(out, what=f"{fmt} export")
    _precheck(fmt, store, options)
    with staging as stage:
        written = Written(stage.path)
        files = _written_splits(fmt, store, written, options)
        if options.check:
            self_check(fmt, store, stage.path, files)
        record = {
            "format": PROVENANCE_FORMAT,
            "format_version": PROVENANCE_VERSION,
            "export_format": fmt,
            "tokenmill_version": __version__,
            "store": {
                "path": str(Path(store.path).absolute()),
                "manifest_sha256": _manifest_sha256(store.path, storage_options),
                "dtype": store.dtype.name,
                "splits": {s: {"n_tokens": store.num_tokens(s), "n_documents": store.num_documents(s)}
                           for s in store.splits},
            },
            "tokenizer": store.manifest["tokenizer"],
            "eot": {"policy": store.eot_policy, "id": store.eot_id},
            "options": {"prefix": prefix, "block_size": block_size, "name": name, "shard_tokens": shard_tokens}
            if fmt in ("megatron", "litdata", "llmc") else {},
            "splits": files,
            "files": dict(written.files),
            "checked": options.check,
        }
        if fmt == "litdata":
            record["suits_block_sizes"] = f"divisors of {litdata.chunk_tokens(block_size)}, {block_size} among them"
        text = json.dumps(record, sort_keys=True, indent=2) + "\n"
        written.write(PROVENANCE_NAME, text.encode("utf-8"))
    return record
