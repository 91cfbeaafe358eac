"""A storage for a URL or a local path: the one place that knows the schemes.

>>> open_storage("/tmp/somewhere").url
'/tmp/somewhere'
>>> open_storage("gs://bucket/store")
Traceback (most recent call last):
...
tokenmill.storage.base.StorageConfigError: gs://bucket/store: the scheme gs:// is not supported; use s3://BUCKET/PREFIX (S3 or an S3-compatible server), file:// or a local path
"""

from __future__ import annotations

import os
from typing import Any

from tokenmill.common.paths import is_url
from tokenmill.storage.base import Storage, StorageConfigError
from tokenmill.storage.local import LocalStorage

__all__ = ["SCHEMES", "open_storage", "scheme_of"]

SCHEMES = ("s3", "file")  # what open_storage accepts besides a plain path


def scheme_of(location: str | os.PathLike[str]) -> str | None:
    """``"s3"`` for ``s3://b/p``; None for a local path."""
    return os.fspath(location).split("://", 1)[0].lower() if is_url(location) else None


def open_storage(location: str | os.PathLike[str], *, storage_options: dict[str, Any] | None = None) -> Storage:
    """The :class:`Storage` rooted at ``location``: ``s3://bucket/prefix``, ``file:///dir`` or a directory.

    Pitfall: ``storage_options`` only matter for ``s3://``; nothing is contacted here (the
    first request finds a missing bucket or bad credentials).
    """
    scheme = scheme_of(location)
    text = os.fspath(location)
    if scheme is None:
        return LocalStorage(text)
    if scheme == "file":
        return LocalStorage(text.split("://", 1)[1])
    if scheme in ("s3", "s3a"):
        from tokenmill.storage.s3 import S3Storage

        return S3Storage("s3://" + text.split("://", 1)[1], storage_options=storage_options)
    raise StorageConfigError(
        f"{text}: the scheme {scheme}:// is not supported; use s3://BUCKET/PREFIX (S3 or an S3-compatible "
        "server), file:// or a local path"
    )
