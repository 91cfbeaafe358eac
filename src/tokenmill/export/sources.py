"""Files of another tool opened as token streams, per split: for import and for the export's self-check.

A :class:`Source` is a split's tokens in pieces plus, where the format keeps them, its
document end positions; :func:`discover` finds the splits in what the user names (a
directory, a file, or Megatron's path prefix).

Pitfall: nanoGPT and llm.c files keep no boundaries (``ends`` is None); the importer finds
them from the EOT token.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import tokenmill.export.litdata as litdata
import tokenmill.export.parquet as parquet
from tokenmill.export.base import read_pieces
from tokenmill.export.llmc import Shards
from tokenmill.export.megatron import Index
from tokenmill.export.raw import Datatrove

_LLMC = re.compile(r"^(?P<name>.+)_(?P<split>[A-Za-z_][A-Za-z0-9_]*?)_(?P<k>\d{6})\.bin$")


@dataclass
class Source:
    """One split of another tool's files: where it lies, its dtype, its tokens and document ends."""

    where: str
    dtype: np.dtype
    pieces: Callable[[], Iterator[np.ndarray]]
    ends: Callable[[], Iterator[np.ndarray]] | None  # global end of each document; None: not kept
    # (tokens, ends) in one pass, for formats that store them together (parquet: read once, not twice)
    pairs: Callable[[], Iterator[tuple[np.ndarray, np.ndarray]]] | None = None

    def stream(self) -> Iterator[tuple[np.ndarray, np.ndarray | None]]:
        """Tokens and document ends in one pass: ``(tokens, None)`` pieces, then ``(empty, ends)`` pieces."""
        if self.pairs is not None:
            yield from self.pairs()
            return
        for piece in self.pieces():
            yield piece, None
        for ends in self.ends() if self.ends is not None else ():
            yield np.zeros(0, self.dtype), ends


def megatron(prefix: Path) -> Source:
    index = Index(prefix)
    return Source(str(index.bin_path), index.dtype, index.pieces, index.document_ends)


def datatrove(path: Path, token_size: int | None = None) -> Source:
    ds = Datatrove(path, token_size=token_size)
    return Source(str(path), ds.dtype, ds.pieces, ds.document_ends)


def nanogpt(path: Path) -> Source:
    if path.stat().st_size % 2:
        raise ValueError(f"{path} has an odd number of bytes; nanoGPT files are uint16 tokens (truncated?)")
    return Source(str(path), np.dtype("<u2"), lambda: read_pieces(path, np.dtype("<u2")), None)


def llmc(files: list[Path]) -> Source:
    shards = Shards(sorted(files))
    return Source(str(files[0]) if len(files) == 1 else f"{files[0]} and {len(files) - 1} more",
                  shards.dtype, shards.pieces, None)


def litdata_source(directory: Path) -> Source:
    dtype, _ = litdata.read(directory)
    return Source(str(directory), dtype, lambda: litdata.read(directory)[1], None)


def parquet_source(path: Path) -> Source:
    dtype, _ = parquet.read(path)

    def pieces() -> Iterator[np.ndarray]:
        for tokens, _lengths in parquet.read(path)[1]:
            yield tokens

    def ends() -> Iterator[np.ndarray]:
        base = 0
        for _tokens, lengths in parquet.read(path)[1]:
            yield np.cumsum(lengths) + base
            base += int(lengths.sum())

    def pairs() -> Iterator[tuple[np.ndarray, np.ndarray]]:
        base = 0
        for tokens, lengths in parquet.read(path)[1]:
            yield tokens, np.cumsum(lengths) + base
            base += int(lengths.sum())

    return Source(str(path), dtype, pieces, ends, pairs)


def _split_name(name: str, path: Path, fmt: str) -> str:
    if not name.isidentifier():
        raise ValueError(f"{path}: its split name {name!r} is not a simple name like train; rename the file "
                         f"(e.g. train{path.suffix}) or import it alone with --split NAME")
    return name


def discover(fmt: str, src: str | Path, *, split: str, token_size: int | None = None) -> dict[str, Source]:
    """The splits found at ``src`` for format ``fmt``; FileNotFoundError/ValueError naming it when none."""
    src = Path(src)
    found: dict[str, Source] = {}
    if fmt == "megatron":
        if Path(f"{src}.idx").is_file() or Path(f"{src}.bin").is_file():
            return {split: megatron(src)}
        if src.is_dir():
            for idx in sorted(src.glob("*.idx")):
                stem = idx.name[: -len(".idx")]
                found[_split_name(stem.removesuffix("_text_document"), idx, fmt)] = megatron(idx.with_suffix(""))
    elif fmt == "datatrove":
        if src.is_file():
            return {split: datatrove(src, token_size)}
        for ds in sorted(src.glob("*.ds")) if src.is_dir() else []:
            found[_split_name(ds.name[:-3], ds, fmt)] = datatrove(ds, token_size)
    elif fmt == "nanogpt":
        if src.is_file():
            return {split: nanogpt(src)}
        for path in sorted(src.glob("*.bin")) if src.is_dir() else []:
            found[_split_name(path.stem, path, fmt)] = nanogpt(path)
    elif fmt == "llmc":
        if src.is_file():
            return {split: llmc([src])}
        groups: dict[str, list[Path]] = {}
        for path in sorted(src.glob("*.bin")) if src.is_dir() else []:
            if m := _LLMC.match(path.name):
                groups.setdefault(m["split"], []).append(path)
        found = {_split_name(s, files[0], fmt): llmc(files) for s, files in groups.items()}
    elif fmt == "parquet":
        if src.is_file():
            return {split: parquet_source(src)}
        for path in sorted(src.glob("*.parquet")) if src.is_dir() else []:
            found[_split_name(path.stem, path, fmt)] = parquet_source(path)
    if not found:
        if not src.exists() and not Path(f"{src}.idx").exists():
            raise FileNotFoundError(f"{src} does not exist; give the directory (or file) that holds the {fmt} files")
        want = {"megatron": "NAME_text_document.bin/.idx pairs (or give the path prefix)",
                "datatrove": "NAME.ds files with their .ds.index", "nanogpt": "train.bin/val.bin",
                "llmc": "NAME_SPLIT_000000.bin shards", "parquet": "SPLIT.parquet files"}[fmt]
        raise FileNotFoundError(f"{src} holds no {fmt} files ({want}); check --format and the path")
    return found
