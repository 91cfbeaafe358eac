"""What every exporter and importer shares: the staged output directory, the store's shards read in pieces.

An export or import writes into a staging directory beside its target and renames it into
place only after its self-check passed, so the target holds a whole result or nothing; a
failed run removes the staging directory.

Pitfall: the target must be missing or empty. Writing beside other files would mix two
results, and removing them is not ours to do.

>>> import tempfile, pathlib
>>> out = pathlib.Path(tempfile.mkdtemp()) / "exported"
>>> with Staging(out, what="export") as stage:
...     _ = (stage.path / "a.bin").write_bytes(b"ab")
>>> sorted(p.name for p in out.iterdir())
['a.bin']
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import OptionError
from tokenmill.common.files import AtomicFile, fsync_dir, sha256_file
from tokenmill.store.format import read_index

__all__ = ["CHUNK_TOKENS", "Shard", "Staging", "Written", "read_pieces", "shards_of", "split_ends", "split_pieces"]

# Tokens read per step: bounded memory whatever the size of a shard or a split.
CHUNK_TOKENS = 1 << 23


class Staging:
    """A directory written beside ``out`` and renamed to ``out`` when the block ends cleanly."""

    def __init__(self, out: str | os.PathLike[str], *, what: str, parameter: str = "out") -> None:
        self.out = Path(out)
        if self.out.exists() and not self.out.is_dir():
            raise OptionError(parameter, "{0} is a file; name a new directory for the {1} with {out}", self.out, what)
        if self.out.is_dir() and any(self.out.iterdir()):
            raise OptionError(
                parameter,
                "{0} already holds files; name a new or empty directory for the {1} with {out} "
                "(nothing there is overwritten or removed)",
                self.out,
                what,
            )
        self.path = self.out.with_name(f".{self.out.name}.{os.getpid()}.tmp")

    def __enter__(self) -> Staging:
        self.out.parent.mkdir(parents=True, exist_ok=True)
        shutil.rmtree(self.path, ignore_errors=True)
        self.path.mkdir()
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is not None:
            shutil.rmtree(self.path, ignore_errors=True)
            return
        try:
            fsync_dir(self.path)
            if self.out.is_dir():
                self.out.rmdir()  # empty (checked): the rename needs the name free
            os.replace(self.path, self.out)
        except BaseException:
            shutil.rmtree(self.path, ignore_errors=True)
            raise
        fsync_dir(self.out.parent)


class Written:
    """The files an export wrote (name -> bytes, sha256), for the provenance file."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}

    def open(self, name: str) -> AtomicFile:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return AtomicFile(path).__enter__()

    def done(self, name: str, file: AtomicFile) -> None:
        file.__exit__(None, None, None)
        self.files[name] = {"bytes": file.size, "sha256": file.sha256}

    def record(self, name: str) -> None:
        """Note a file that another library wrote under ``root``."""
        path = self.root / name
        self.files[name] = {"bytes": path.stat().st_size, "sha256": sha256_file(path)}

    def write(self, name: str, data: bytes) -> None:
        file = self.open(name)
        try:
            file.write(data)
        except BaseException as exc:
            file.__exit__(type(exc), None, None)
            raise
        self.done(name, file)


@dataclass(frozen=True)
class Shard:
    """One store shard: its files and sizes as the manifest records them."""

    bin: Path
    idx: Path
    n_tokens: int
    n_documents: int

    def offsets(self) -> np.ndarray:
        """The shard's document starts plus its length (``n_documents + 1`` int64), checked."""
        return read_index(self.idx, self.n_tokens)


def shards_of(store: Any, split: str) -> list[Shard]:
    """The shards of ``store[split]`` in order."""
    entry = store.manifest["splits"][split]
    root = Path(store.path)
    return [
        Shard(root / f"{s['name']}.bin", root / f"{s['name']}.idx", int(s["n_tokens"]), int(s["n_documents"]))
        for s in entry["shards"]
    ]


def read_pieces(
    path: Path, dtype: np.dtype, *, start: int = 0, count: int | None = None, chunk: int | None = None
) -> Iterator[np.ndarray]:
    """The tokens of a raw file from token ``start``, ``count`` of them (None: to the end), in pieces.

    Plain reads, not a memory map: resident memory stays one piece whatever the file size.
    """
    dtype, chunk = np.dtype(dtype), chunk or CHUNK_TOKENS
    with open(path, "rb") as f:
        f.seek(start * dtype.itemsize)
        left = (os.fstat(f.fileno()).st_size // dtype.itemsize - start) if count is None else count
        while left > 0:
            n = min(chunk, left)
            data = f.read(n * dtype.itemsize)
            if len(data) != n * dtype.itemsize:
                raise ValueError(f"{path} ends early: expected {n * dtype.itemsize} more bytes, found {len(data)}")
            yield np.frombuffer(data, dtype=dtype)
            left -= n


def split_pieces(store: Any, split: str, *, chunk: int | None = None) -> Iterator[np.ndarray]:
    """The tokens of ``store[split]`` in order, in pieces of at most ``chunk`` tokens."""
    for shard in shards_of(store, split):
        yield from read_pieces(shard.bin, store.dtype, count=shard.n_tokens, chunk=chunk)


def split_ends(store: Any, split: str) -> Iterator[np.ndarray]:
    """The split's document end positions (global, int64), one shard's worth at a time."""
    base = 0
    for shard in shards_of(store, split):
        yield shard.offsets()[1:] + base
        base += shard.n_tokens
