"""Where a token store lives: the one place that turns a location (a path or a URL) into a local path.

Token stores are local directories for now. A location with a URL scheme (``s3://``,
``gs://``, ``https://``, ...) is refused here with one line naming it, never turned into a
local path (``Path("s3://b/s")`` is ``s3:/b/s``, a directory named ``s3:``). Stores on
object storage will replace :func:`store_path` for the schemes they support.

>>> store_path("~/store") == Path.home() / "store"
True
>>> store_path("s3://bucket/store")
Traceback (most recent call last):
...
ValueError: s3://bucket/store is a URL: token stores on object storage are not supported yet; copy the store to a local directory (or a mounted file system) and pass its path
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from tokenmill.common.errors import OptionError

__all__ = ["is_url", "store_path"]

# RFC 3986's scheme, then "://": "s3://b/s", "gs://", "hf://", "file://". A Windows drive ("C:\") has no "//".
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(location: Any) -> bool:
    """Whether ``location`` is a str (or path-like) that starts with a URL scheme and ``://``.

    >>> is_url("s3://b/s"), is_url("https://x/y"), is_url("data/store"), is_url("C:\\\\data")
    (True, True, False, False)
    """
    if isinstance(location, os.PathLike):
        location = os.fspath(location)
    return isinstance(location, str) and bool(_URL.match(location))


def store_path(location: str | os.PathLike[str], *, parameter: str | None = None) -> Path:
    """The local path of a token store's ``location`` (``~`` expanded); ValueError for a URL.

    ``parameter`` names the option the location came from (``"out"``), so that the command
    line's error names its flag. Pitfall: nothing here checks that the path exists; each
    caller says what a missing one means (a store to create, or one not there).
    """
    if is_url(location):
        url = os.fspath(location)
        why = (
            "is a URL: token stores on object storage are not supported yet; copy the store to a "
            "local directory (or a mounted file system) and pass its path"
        )
        if parameter is None:
            raise ValueError(f"{url} {why}")
        raise OptionError(parameter, "{%s} {0} %s" % (parameter, why), url)
    return Path(os.path.expanduser(os.fspath(location)))
