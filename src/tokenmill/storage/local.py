"""A local directory behind the storage interface: atomic writes, link-based conditional puts.

>>> import tempfile
>>> s = LocalStorage(tempfile.mkdtemp())
>>> s.put("a/b.bin", b"hello"); s.put_if_absent("a/b.bin", b"other"), s.get("a/b.bin")
(False, b'hello')
>>> s.get_range("a/b.bin", 1, 3), [(o.key, o.size) for o in s.list()]
(b'el', [('a/b.bin', 5)])
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

from tokenmill.common.files import AtomicFile, atomic_write_bytes, fsync_dir
from tokenmill.storage.base import ObjectInfo, Storage, StorageNotFoundError, check_key

__all__ = ["LocalStorage"]


class LocalStorage(Storage):
    """Objects as files under ``root``; keys are paths relative to it.

    Pitfall: ``put_if_absent`` writes a temporary file, then hard-links it to the key, which
    fails atomically when the key exists: no reader ever sees a half-written object (a plain
    ``O_EXCL`` create would show the empty file while it is written).
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(os.path.expanduser(os.fspath(root))).absolute()
        self.url = str(self.root)

    def path_of(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def head(self, key: str) -> ObjectInfo | None:
        try:
            st = self.path_of(key).stat()
        except (FileNotFoundError, NotADirectoryError):
            return None
        return ObjectInfo(key, st.st_size, f"{st.st_mtime_ns:x}-{st.st_size:x}")

    def get(self, key: str) -> bytes:
        try:
            return self.path_of(key).read_bytes()
        except FileNotFoundError:
            raise StorageNotFoundError(f"{self.url_of(key)} does not exist") from None

    def get_range(self, key: str, start: int, end: int) -> bytes:
        try:
            with open(self.path_of(key), "rb") as f:
                f.seek(start)
                return f.read(max(0, end - start))
        except FileNotFoundError:
            raise StorageNotFoundError(f"{self.url_of(key)} does not exist") from None

    def put(self, key: str, data: bytes) -> None:
        path = self.path_of(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, data)

    def put_file(self, key: str, path: str | os.PathLike[str]) -> None:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "rb") as src, AtomicFile(target) as out:
            shutil.copyfileobj(src, out, 1 << 20)

    def put_if_absent(self, key: str, data: bytes) -> bool:
        target = self.path_of(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f"{target.name}.{uuid.uuid4().hex}.tmp")
        with open(tmp, "xb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        try:
            os.link(tmp, target)
        except FileExistsError:
            return False
        finally:
            tmp.unlink(missing_ok=True)
        fsync_dir(target.parent)
        return True

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        if not self.root.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames.sort()
            rel = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                key = name if rel == "." else f"{rel}/{name}"
                if key.startswith(prefix) and not name.endswith(".tmp"):
                    info = self.head(key)
                    if info is not None:
                        yield info

    def delete(self, key: str) -> None:
        self.path_of(key).unlink(missing_ok=True)
