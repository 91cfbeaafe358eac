"""Files written so that a crash leaves the old file or the whole new one, and their checksums.

Every file tokenmill writes (shards, indexes, manifests, task records, tokenizers, pages)
goes through :func:`atomic_write_bytes` or :class:`AtomicFile`: a temporary name beside the
target, fsync, rename, then fsync of the directory (without that last step a crash can lose
the rename).

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_bytes(d / "a.txt", b"hello")
>>> sha256_file(d / "a.txt")[:12], sorted(p.name for p in d.iterdir())
('2cf24dba5fb0', ['a.txt'])
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import IO, Any

__all__ = ["AtomicFile", "atomic_write_bytes", "cache_dir", "create_new", "fsync_dir", "sha256_file", "temp_name"]

_BLOCK = 1 << 20  # bytes read per step when hashing: bounded memory whatever the file size


def temp_name(path: str | os.PathLike[str]) -> Path:
    """The temporary name a write to ``path`` uses: ``<name>.<pid>.tmp`` beside it."""
    path = Path(path)
    return path.with_name(f"{path.name}.{os.getpid()}.tmp")


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename inside ``directory`` durable (a no-op where directories cannot be synced)."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover - some filesystems refuse fsync on directories
        pass
    finally:
        os.close(fd)


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one.

    Pitfall: the temporary file is removed on any error, Ctrl-C included; only a kill -9
    can leave a ``<name>.<pid>.tmp`` behind, which the writer's next run cleans up.
    """
    with AtomicFile(path) as f:
        f.write(data)


class AtomicFile:
    """A file streamed to a temporary name and renamed over ``path`` when the block ends cleanly.

    ``sha256`` holds the digest of what was written once the block ends. On an exception
    the temporary file is removed and ``path`` is left as it was.

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "x.bin"
    >>> with AtomicFile(target) as f:
    ...     f.write(b"ab"); f.write(b"c")
    >>> target.read_bytes(), f.sha256[:8]
    (b'abc', 'ba7816bf')
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.tmp = temp_name(self.path)
        self.sha256 = ""
        self.size = 0
        self._file: IO[bytes] | None = None
        self._hash = hashlib.sha256()

    def __enter__(self) -> AtomicFile:
        self._file = create_new(self.tmp)
        return self

    def write(self, data: Any) -> None:
        if self._file is None:
            raise RuntimeError(f"AtomicFile({self.path}).write() called outside its with block")
        self._file.write(data)
        self._hash.update(data)
        self.size += memoryview(data).nbytes

    def __exit__(self, kind: object, *_: object) -> None:
        file, self._file = self._file, None
        if file is None:
            return
        try:
            if kind is None:
                file.flush()
                os.fsync(file.fileno())
        finally:
            file.close()
        if kind is not None:
            self.tmp.unlink(missing_ok=True)
            return
        try:
            os.replace(self.tmp, self.path)
        except BaseException:
            self.tmp.unlink(missing_ok=True)
            raise
        self.sha256 = self._hash.hexdigest()
        fsync_dir(self.path.parent)


def create_new(path: Path) -> IO[bytes]:
    """``path`` created anew for writing, never through a link.

    A link planted under the name (or a leftover of a killed run with this pid) is removed,
    not followed: the bytes never land outside the directory the caller chose.
    """
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, 0o644)
    except FileExistsError:
        path.unlink()
        fd = os.open(path, flags, 0o644)
    return os.fdopen(fd, "wb")


def sha256_file(path: str | os.PathLike[str]) -> str:
    """The hex sha256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(_BLOCK), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_dir() -> Path:
    """tokenmill's user cache folder (it need not exist yet).

    ``$TOKENMILL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tokenmill``, else ``~/.cache/tokenmill``.
    """
    if os.environ.get("TOKENMILL_CACHE_DIR"):
        return Path(os.environ["TOKENMILL_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "tokenmill"
