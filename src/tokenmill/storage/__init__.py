"""Where bytes live: one small interface (head, get, ranged get, put, conditional put, list) over local directories and S3."""

from tokenmill.storage.base import (
    CorruptObjectError,
    ObjectInfo,
    Storage,
    StorageConfigError,
    StorageError,
    StorageIOError,
    StorageNotFoundError,
)
from tokenmill.storage.local import LocalStorage
from tokenmill.storage.urls import SCHEMES, open_storage

__all__ = [
    "SCHEMES",
    "CorruptObjectError",
    "LocalStorage",
    "ObjectInfo",
    "Storage",
    "StorageConfigError",
    "StorageError",
    "StorageIOError",
    "StorageNotFoundError",
    "open_storage",
]
