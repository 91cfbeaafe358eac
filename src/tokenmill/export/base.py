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

import contextlib
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import OptionError
from tokenmill.common.files import fsync_dir
from tokenmill.store.format import read_index

__all__ = ["CHUNK_TOKENS", "Output", "Shard", "Staging", "Written", "read_pieces", "shards_of", "split_ends", "split_pieces"]

# Tokens read per step (4 MB of uint16): bounded memory whatever the size of a shard or a split.
CHUNK_TOKENS = 1 << 21


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


class Output:
    """One file being written into the staging directory; :meth:`copy` copies bytes in the kernel."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path, self.size = path, 0
        self.file = open(path, "wb", buffering=0)  # noqa: SIM115 - closed by Written.file

    def write(self, data: Any) -> None:
        view = memoryview(data).cast("B")
        while view.nbytes:
            n = self.file.write(view)
            view, self.size = view[n:], self.size + n

    def copy(self, source: Path, offset: int, count: int) -> None:
        """Append ``count`` bytes of ``source`` from byte ``offset`` (copy_file_range where the OS has it)."""
        with open(source, "rb") as f:
            while count > 0:
                try:
                    n = os.copy_file_range(f.fileno(), self.file.fileno(), count, offset)
                except (AttributeError, OSError):  # no copy_file_range here, or not across these file systems
                    f.seek(offset)
                    n = len(data := f.read(min(count, 1 << 24)))
                    self.write(data)
                    self.size -= n  # counted by write
                if n == 0:
                    raise ValueError(f"{source} ends early: {count} more bytes expected from byte {offset}")
                offset, count, self.size = offset + n, count - n, self.size + n


class Written:
    """The files an export writes into ``root`` (the staging directory), with their sizes."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.files: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def file(self, name: str) -> Iterator[Output]:
        """``name`` opened for writing; made durable (fsync) and recorded when the block ends cleanly."""
        out = Output(self.root / name)
        try:
            yield out
            os.fsync(out.file.fileno())
        finally:
            out.file.close()
        self.files[name] = {"bytes": out.size}

    def record(self, name: str) -> None:
        """Note a file that another library wrote under ``root``."""
        self.files[name] = {"bytes": (self.root / name).stat().st_size}

    def write(self, name: str, data: bytes) -> None:
        with self.file(name) as out:
            out.write(data)


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
    remote = getattr(store, "_remote", None)
    if remote is not None:  # a store at a URL: each shard fetched into its cache (sha256-checked) first
        return [
            Shard(_cached(remote, s["bin_sha256"]), _cached(remote, s["idx_sha256"]), int(s["n_tokens"]),
                  int(s["n_documents"]))
            for s in entry["shards"]
        ]
    root = Path(store.path)
    return [
        Shard(root / f"{s['name']}.bin", root / f"{s['name']}.idx", int(s["n_tokens"]), int(s["n_documents"]))
        for s in entry["shards"]
    ]


def _cached(remote: Any, sha256: str) -> Path:
    """The local file of a remote store's object ``sha256``, fetched now if the cache lacks it."""
    with remote.pinned(remote.local_path(sha256)) as local:
        return Path(local)


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


def copy_tokens(store: Any, split: str, out: Output, start: int = 0, count: int | None = None) -> None:
    """Append the split's tokens ``start`` .. ``start + count`` (None: to the end) to ``out``, as stored."""
    itemsize, pos = store.dtype.itemsize, 0
    stop = store.num_tokens(split) if count is None else start + count
    for shard in shards_of(store, split):
        a, b = max(start, pos), min(stop, pos + shard.n_tokens)
        if a < b:
            out.copy(shard.bin, (a - pos) * itemsize, (b - a) * itemsize)
        pos += shard.n_tokens
