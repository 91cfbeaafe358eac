"""Opening a store's files safely: inside the store, the same file the store was opened with.

A store is a directory someone else may have written (or may be rewriting): every file a
manifest names must resolve inside the store directory (no ``../``, no absolute names, no
symlink out of it), and a file mapped or read after the store was opened must be the very
file that was there when it was opened, identified by ``(st_ino, st_size, st_mtime_ns)``.
``prepare`` replaces shards by renaming new files onto their names, so an open map keeps the
old bytes and a later (re)open finds another inode: that is an error, never other data.

>>> import tempfile
>>> d = Path(tempfile.mkdtemp())
>>> inside(d, "train-00000.bin", what="shard 'train-00000'") == (d / "train-00000.bin").resolve()
True
>>> inside(d, "../secret", what="shard '../secret'")
Traceback (most recent call last):
...
ValueError: shard '../secret' names ../secret, which is outside the store ...; a store names only files inside its own directory: rebuild the store or get it from a trusted source
"""

from __future__ import annotations

import mmap
import os
from pathlib import Path

import numpy as np

Identity = tuple[int, int, int]  # (st_ino, st_size, st_mtime_ns)

REWRITTEN = "the store was rewritten while open: reopen it"


def identity_of(st: os.stat_result) -> Identity:
    return (int(st.st_ino), int(st.st_size), int(st.st_mtime_ns))


def inside(root: str | os.PathLike[str], name: str, *, what: str) -> Path:
    """``root / name`` resolved (symlinks followed); ValueError naming ``what`` unless it stays in ``root``."""
    base = os.path.realpath(root)
    bad = os.path.isabs(name) or "\\" in name or "\x00" in name
    target = os.path.realpath(os.path.join(base, name)) if not bad else ""
    if bad or os.path.commonpath([base, target]) != base or target == base:
        where = "" if bad else f" (it resolves to {target})"
        raise ValueError(
            f"{what} names {name}, which is outside the store {os.fspath(root)}{where}; a store names only "
            "files inside its own directory: rebuild the store or get it from a trusted source"
        )
    return Path(target)


def _check_same(path: str, st: os.stat_result, want: Identity | None) -> None:
    if want is not None and identity_of(st) != tuple(want):
        raise ValueError(f"shard file {path} is not the file that was there when the store was opened; {REWRITTEN}")


def map_shard(path: str, n: int, dtype: np.dtype, want: Identity | None) -> tuple[np.ndarray, Identity]:
    """Memory-map ``n`` items of ``path`` read-only; the array and the file's identity.

    Pitfall: the map keeps its own descriptor until the array and every view of it are gone;
    callers bound how many they keep (see ``TokenArray``'s ``max_open``).
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        st = os.fstat(fd)  # of the file actually opened: a rename in between cannot slip through
        _check_same(path, st, want)
        if st.st_size != n * dtype.itemsize:
            raise ValueError(
                f"shard file {path} has {st.st_size} bytes, expected {n * dtype.itemsize}; {REWRITTEN}"
            )
        mm = mmap.mmap(fd, n * dtype.itemsize, access=mmap.ACCESS_READ)
    finally:
        os.close(fd)  # mmap holds a duplicate of its own
    return np.frombuffer(mm, dtype=dtype, count=n), identity_of(st)


def read_file_bytes(path: str | os.PathLike[str], want: Identity | None) -> bytes:
    """The whole file at ``path``; ValueError if it is not the file identified by ``want``."""
    with open(path, "rb") as f:
        _check_same(os.fspath(path), os.fstat(f.fileno()), want)
        return f.read()
