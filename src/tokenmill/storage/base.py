"""The storage interface: a root (a local directory or ``s3://bucket/prefix``) holding objects by key.

Keys are relative to the root and use ``/`` (``"manifest.json"``, ``"shards/train-00000.bin"``).
Errors are one line naming the URL and the fix, and fall into the CLI's exit policy by their
base class: :class:`StorageConfigError` (a ValueError: a bad URL, a missing bucket, no or bad
credentials, an unreachable endpoint, exit 2), :class:`StorageNotFoundError` (a
FileNotFoundError, exit 2), :class:`CorruptObjectError` (a ValueError, exit 2) and
:class:`StorageIOError` (an OSError: the server failed after its retries, exit 1).

>>> err = StorageNotFoundError("s3://b/store/manifest.json does not exist")
>>> isinstance(err, FileNotFoundError), isinstance(err, StorageError), str(err)
(True, True, 's3://b/store/manifest.json does not exist')
>>> check_key("shards/a.bin"), check_key("../x")
Traceback (most recent call last):
...
ValueError: storage key '../x' must be a relative path without '..', '.' or empty parts
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = [
    "CorruptObjectError",
    "ObjectInfo",
    "Storage",
    "StorageConfigError",
    "StorageError",
    "StorageIOError",
    "StorageNotFoundError",
    "check_key",
]


class StorageError(Exception):
    """Any storage failure; the subclasses say whose fault it is (see the module docstring)."""


class StorageConfigError(StorageError, ValueError):
    """The URL, bucket, credentials or endpoint are wrong: the user fixes it (exit 2)."""


class StorageNotFoundError(StorageError, FileNotFoundError):
    """An object (or a store's manifest) is not at its URL (exit 2)."""


class CorruptObjectError(StorageError, ValueError):
    """An object's bytes do not match the sha256 its manifest records (exit 2)."""


class StorageIOError(StorageError, OSError):
    """The server failed after the retries (exit 1: a run failed, the input may be fine)."""


@dataclass(frozen=True)
class ObjectInfo:
    """One object: its key (relative to the storage's root), size in bytes and etag (opaque)."""

    key: str
    size: int
    etag: str = ""


def check_key(key: str) -> str:
    """``key`` if it stays inside the root (no ``..``, no absolute path); ValueError otherwise."""
    parts = key.split("/")
    if not key or key.startswith("/") or any(p in ("", ".", "..") for p in parts) or "\\" in key:
        raise ValueError(f"storage key {key!r} must be a relative path without '..', '.' or empty parts")
    return key


def join_key(prefix: str, key: str) -> str:
    """``prefix/key`` (either may be empty)."""
    return f"{prefix.rstrip('/')}/{key}" if prefix else key


class Storage(ABC):
    """Objects under one root. Pitfall: ``list`` yields keys relative to the root, never full URLs."""

    url: str  # the root: "s3://bucket/prefix" or an absolute local directory

    def url_of(self, key: str) -> str:
        """The full URL (or path) of ``key``, for messages."""
        return join_key(self.url.rstrip("/"), key) if key else self.url

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """The object's size and etag, or None when there is none."""

    @abstractmethod
    def get(self, key: str) -> bytes:
        """The whole object; StorageNotFoundError when absent."""

    @abstractmethod
    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``[start, end)`` of the object."""

    @abstractmethod
    def put(self, key: str, data: bytes) -> None:
        """Write the object whole (readers see the old one or the new one)."""

    @abstractmethod
    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        """Upload a local file (multipart where the backend does it)."""

    @abstractmethod
    def put_if_absent(self, key: str, data: bytes) -> bool:
        """Write the object only if no object has the key (If-None-Match: *); False when one does."""

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """Every object whose key starts with ``prefix``, keys relative to the root."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Remove the object (no error when it is already gone)."""

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"
