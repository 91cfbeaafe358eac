"""A local cache of immutable objects, content-addressed by sha256, shared safely by many processes.

Layout under the root (``cache_dir``, default ``<tokenmill cache dir>/objects``)::

    sha256/ab/abcdef...      an object, named by the sha256 of its bytes (verified before the rename)
    tmp/abcdef....PID.N.part a download in progress (preallocated, so it counts against the limit)
    locks/ab/abcdef....pin   flock'd shared by each process using the object, exclusively to evict it
    locks/ab/abcdef....get   flock'd exclusively by the one process downloading the object
    cache.lock               flock'd exclusively while the space is counted and made

Everything is coordinated with ``fcntl.flock`` on files in the cache itself (no ``/dev/shm``,
no daemon), so ranks, DataLoader workers, jobs and users on one node share it; two stores
that hold the same shard share its bytes. Least recently used (by mtime, touched on every
use) objects that no process has pinned are evicted first, so the files stay within
``limit`` plus the objects in use. A mapped file that is evicted keeps its bytes for its
reader (POSIX unlink semantics) until it is unmapped.

>>> import tempfile, hashlib
>>> cache = ObjectCache(tempfile.mkdtemp(), limit=100)
>>> data = b"hello"
>>> sha = hashlib.sha256(data).hexdigest()
>>> with cache.pin(sha):
...     path = cache.fetch(sha, len(data), lambda out: out.write(data), name="s3://b/hello")
>>> path.read_bytes(), cache.info()["objects"], cache.info()["bytes"]
(b'hello', 1, 5)
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import itertools
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from tokenmill.common.files import cache_dir
from tokenmill.common.sizes import parse_size
from tokenmill.storage.base import CorruptObjectError, StorageError

__all__ = ["CacheFullError", "ObjectCache", "default_cache_root"]

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
_COUNTER = itertools.count()
# Lock files this process has open. A flock belongs to the open file, which a fork shares: a
# forked child (a DataLoader worker) closes its copies, or a lock the parent lets go would stay
# held by the child's copy and block everyone.
_HELD: set[int] = set()


def _close_inherited() -> None:
    for fd in list(_HELD):
        _HELD.discard(fd)
        with contextlib.suppress(OSError):
            os.close(fd)


os.register_at_fork(after_in_child=_close_inherited)


def _release(fd: int) -> None:
    _HELD.discard(fd)
    os.close(fd)  # drops the lock (no other copy of this open file remains)


class CacheFullError(StorageError, ValueError):
    """The cache's disk is full (or a quota or file-size limit hit): nothing was left half-written."""


def default_cache_root() -> Path:
    """``<tokenmill's cache dir>/objects``: ``$TOKENMILL_CACHE_DIR``, else ``$XDG_CACHE_HOME/tokenmill``."""
    return cache_dir() / "objects"


# write() size into the cache's files. Measured on ext4 (Linux 5.x VM): one 1 MiB write() of a
# received chunk costs ~2.6 ms, the same bytes in 128 KiB writes ~0.2 ms (benchmarks/bench_s3.py)
WRITE_SLICE = 128 << 10


class _HashingWriter:
    """A file that hashes and counts what is written to it (in ``WRITE_SLICE`` writes)."""

    def __init__(self, file: Any) -> None:
        self.file, self.hash, self.size = file, hashlib.sha256(), 0

    def write(self, data: Any) -> int:
        view = memoryview(data).cast("B")
        for start in range(0, view.nbytes, WRITE_SLICE):
            self.file.write(view[start:start + WRITE_SLICE])
        self.hash.update(view)
        self.size += view.nbytes
        return view.nbytes


class ObjectCache:
    """Objects by sha256 under ``directory``; at most ``limit`` bytes (int or ``"20GB"``) not in use.

    Pitfall: hold :meth:`pin` on an object from before :meth:`fetch` until you are done
    opening (or mapping) it: an unpinned object may be evicted by another process at any time.
    """

    def __init__(self, directory: str | os.PathLike[str] | None = None, *, limit: Any = None) -> None:
        self.root = Path(os.path.expanduser(os.fspath(directory))) if directory is not None else default_cache_root()
        self.limit = None if limit is None else parse_size("cache_limit", limit)
        self._over = False  # room was short because objects were pinned: trim once they are let go

    def __repr__(self) -> str:
        return f"ObjectCache({str(self.root)!r}, limit={self.limit})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (str(self.root), self.limit))

    def path_of(self, sha256: str) -> Path:
        return self.root / "sha256" / sha256[:2] / sha256

    def _lock_file(self, name: str) -> int:
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        _HELD.add(fd)
        return fd

    @contextlib.contextmanager
    def _flock(self, name: str, how: int) -> Iterator[None]:
        fd = self._lock_file(name)
        try:
            fcntl.flock(fd, how)
            yield
        finally:
            _release(fd)

    @contextlib.contextmanager
    def pin(self, sha256: str) -> Iterator[None]:
        """Keep ``sha256`` from being evicted (by any process) while the block runs."""
        with self._flock(f"locks/{sha256[:2]}/{sha256}.pin", fcntl.LOCK_SH):
            yield

    def has(self, sha256: str) -> bool:
        return self.path_of(sha256).is_file()

    def fetch(self, sha256: str, size: int, download: Callable[[Any], Any], *, name: str) -> Path:
        """The cached file holding ``sha256``, downloaded with ``download(out)`` if absent.

        ``out.write(bytes)`` receives the object; its sha256 and ``size`` are checked before the
        file is renamed into place, so a corrupt object (named ``name`` in the error) never
        enters the cache. One process downloads an object while the others wait for it.
        """
        path = self.path_of(sha256)
        if self._touch(path):
            return path
        with self._flock(f"locks/{sha256[:2]}/{sha256}.get", fcntl.LOCK_EX):
            if self._touch(path):
                return path  # another process fetched it while this one waited
            path.parent.mkdir(parents=True, exist_ok=True)
            (self.root / "tmp").mkdir(parents=True, exist_ok=True)
            tmp = self.root / "tmp" / f"{sha256}.{os.getpid()}.{next(_COUNTER)}.part"
            try:
                with open(tmp, "xb") as f:
                    with self._flock("cache.lock", fcntl.LOCK_EX):
                        self._make_room(size)
                        _reserve(f, size)
                    out = _HashingWriter(f)
                    download(out)
                    f.flush()
                    # the bytes reach the disk before the rename, so that a file in sha256/ is whole
                    # after a crash; its size was set by _reserve, so fdatasync suffices
                    _datasync(f.fileno())
                found = out.hash.hexdigest()
                if found != sha256 or out.size != size:
                    raise CorruptObjectError(
                        f"{name} is corrupt: sha256 expected {sha256} ({size} bytes), found {found} "
                        f"({out.size} bytes); rewrite the object (rerun the prepare that made the store)"
                    )
                # no fsync of the directory: a rename lost in a crash only means a download again
                os.replace(tmp, path)
            except OSError as exc:
                if exc.errno in _DISK_FULL:
                    raise CacheFullError(
                        f"no space left in the cache {self.root} for {name} ({size} bytes): free space there, "
                        "pass a smaller cache_limit, or point cache_dir (TOKENMILL_CACHE_DIR) at a larger disk"
                    ) from None
                raise
            finally:
                tmp.unlink(missing_ok=True)
        return path

    def _touch(self, path: Path) -> bool:
        """Mark ``path`` as just used (the LRU order); False when it is not there."""
        try:
            os.utime(path)
        except FileNotFoundError:
            return False
        return True

    def _objects(self) -> list[tuple[int, int, Path]]:
        """(mtime_ns, size, path) of every object and download in progress."""
        found = []
        for sub in ("sha256", "tmp"):
            for dirpath, _, files in os.walk(self.root / sub):
                for name in files:
                    with contextlib.suppress(FileNotFoundError):
                        st = os.stat(os.path.join(dirpath, name))
                        found.append((st.st_mtime_ns, st.st_size, Path(dirpath, name)))
        return found

    def _make_room(self, size: int) -> None:
        """Evict least recently used, unpinned objects until ``size`` more bytes fit (caller holds cache.lock)."""
        if self.limit is None:
            return
        objects = self._objects()
        total = sum(s for _, s, _ in objects)
        for _, s, path in sorted(o for o in objects if o[2].parent.parent.name == "sha256"):
            if total + size <= self.limit:
                break
            if self._evict(path):
                total -= s
        self._over = total + size > self.limit

    def trim(self) -> None:
        """Evict down to the limit if an earlier fetch found the room short (objects in use then)."""
        if self._over:
            with self._flock("cache.lock", fcntl.LOCK_EX):
                self._make_room(0)

    def _evict(self, path: Path) -> bool:
        """Remove the object at ``path`` unless a process has it pinned."""
        sha = path.name
        fd = self._lock_file(f"locks/{sha[:2]}/{sha}.pin")
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _release(fd)
            return False
        try:
            path.unlink(missing_ok=True)
        finally:
            _release(fd)
        return True

    def info(self) -> dict[str, Any]:
        """``{"root", "objects", "bytes", "partial", "limit"}``: what the cache holds now."""
        objects = self._objects()
        done = [o for o in objects if o[2].parent.parent.name == "sha256"]
        return {
            "root": str(self.root),
            "objects": len(done),
            "bytes": sum(s for _, s, _ in done),
            "partial": len(objects) - len(done),
            "limit": self.limit,
        }

    def clear(self) -> dict[str, int]:
        """Remove every object no process has pinned, and leftovers of killed downloads.

        ``{"removed", "bytes", "in_use"}``: ``in_use`` objects were kept (a reader has them pinned).
        """
        removed = freed = kept = 0
        with self._flock("cache.lock", fcntl.LOCK_EX):
            for _, size, path in self._objects():
                if path.parent.name == "tmp":
                    if not _downloading(path):
                        path.unlink(missing_ok=True)
                    continue
                if self._evict(path):
                    removed, freed = removed + 1, freed + size
                else:
                    kept += 1
        return {"removed": removed, "bytes": freed, "in_use": kept}


def _downloading(part: Path) -> bool:
    """Is the process that writes ``part`` (``SHA.PID.N.part``) still alive?"""
    try:
        pid = int(part.name.split(".")[1])
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def _reserve(f: Any, size: int) -> None:
    """Allocate ``size`` bytes up front: a full disk fails here, before any byte is downloaded."""
    if size <= 0:
        return
    try:
        os.posix_fallocate(f.fileno(), 0, size)
    except OSError as exc:
        if exc.errno in _DISK_FULL:
            raise
        # a file system without fallocate: the writes find a full disk instead


_datasync = getattr(os, "fdatasync", os.fsync)  # macOS has no fdatasync


def _rebuild(root: str, limit: int | None) -> ObjectCache:
    return ObjectCache(root, limit=limit)
