"""A token store on object storage (``s3://bucket/prefix``), read through the local object cache.

The manifest is read from the bucket at every open (a store whose ``manifest.json`` is
missing is no store: prepare writes it last). Shards are fetched whole into the shared,
content-addressed :class:`~tokenmill.storage.cache.ObjectCache` when first needed (or
ahead, by :meth:`RemoteStore.prefetch`), checked against the manifest's sha256 before use,
then memory-mapped exactly like a local store's files, so a warm cache reads as fast as a
local store.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from tokenmill.common.errors import OptionError
from tokenmill.common.words import human_bytes
from tokenmill.storage.base import CorruptObjectError, StorageNotFoundError
from tokenmill.storage.cache import ObjectCache
from tokenmill.storage.urls import open_storage
from tokenmill.store.bundled import TOKENIZER_DIR
from tokenmill.store.format import MANIFEST_NAME
from tokenmill.store.schema import validate_manifest
from tokenmill.store.shardfile import map_shard

__all__ = ["PREFETCH_THREADS", "RemoteStore"]

PREFETCH_THREADS = 4  # concurrent shard downloads ahead of the loader


class RemoteStore:
    """The bucket side of a ``TokenStore`` opened from a URL: its manifest, storage and cache.

    Pitfall: objects are named in the cache by the manifest's sha256, so a shard rewritten
    in the bucket under the same name is never confused with the old one: its bytes no
    longer match and it is refused, by name.
    """

    def __init__(
        self, url: str, *, storage_options: dict[str, Any] | None = None,
        cache_dir: str | os.PathLike[str] | None = None, cache_limit: Any = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.storage_options = dict(storage_options or {})
        self.storage = open_storage(self.url, storage_options=self.storage_options)
        self.cache = ObjectCache(cache_dir, limit=cache_limit)
        try:
            raw = self.storage.get(MANIFEST_NAME)
        except StorageNotFoundError:
            raise StorageNotFoundError(
                f"no token store at {self.url} (no {MANIFEST_NAME} there: a prepare to it never finished, "
                f"or the prefix is wrong); create one with `tokenmill prepare INPUT --out {self.url}`"
            ) from None
        try:
            manifest = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise ValueError(f"{self.url}/{MANIFEST_NAME} is corrupt (not valid JSON: {exc})") from None
        validate_manifest(manifest, f"{self.url}/{MANIFEST_NAME}")
        self.manifest: dict[str, Any] = manifest
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        # sha256 -> (key, size) of every object the manifest names
        self.objects: dict[str, tuple[str, int]] = {}
        itemsize = np.dtype(manifest["dtype"]).itemsize
        for split in manifest["splits"].values():
            for sh in split["shards"]:
                self.objects[sh["bin_sha256"]] = (f"{sh['name']}.bin", int(sh["n_tokens"]) * itemsize)
                self.objects[sh["idx_sha256"]] = (f"{sh['name']}.idx", (int(sh["n_documents"]) + 1) * 8)
        largest = max((size for _, size in self.objects.values()), default=0)
        if self.cache.limit is not None and self.cache.limit < largest:
            raise OptionError(
                "cache_limit",
                "{cache_limit} {0} is smaller than the largest shard of {1} ({2}): it must be at least {3} "
                "bytes; pass {cache_limit=%d} or more (a few shards' worth lets the loader fetch ahead)" % largest,
                self.cache.limit, self.url, human_bytes(largest), largest,
            )
        self._pool: ThreadPoolExecutor | None = None
        self._pending: dict[str, Future[Any]] = {}
        self._lock = threading.Lock()

    def __reduce__(self) -> tuple[Any, ...]:
        return (_reopen, (self.url, self.storage_options, str(self.cache.root), self.cache.limit))

    def local_path(self, sha256: str) -> Path:
        """Where the object ``sha256`` is (or will be) in the cache."""
        return self.cache.path_of(sha256)

    def _fetch(self, sha256: str) -> Path:
        key, size = self.objects[sha256]
        return self.cache.fetch(
            sha256, size, lambda out: _download(self.storage, key, out), name=self.storage.url_of(key)
        )

    def map(self, path: str | os.PathLike[str], n: int, dtype: np.dtype) -> np.ndarray:
        """The shard whose cache path is ``path``, fetched if need be, memory-mapped read-only."""
        sha = Path(path).name
        self._wait(sha)
        with self.cache.pin(sha):
            local = self._fetch(sha)
            array, _ = map_shard(str(local), n, dtype, None)
        return array

    @contextlib.contextmanager
    def pinned(self, path: str | os.PathLike[str]) -> Iterator[Path]:
        """The cached file ``path`` (a shard's index), fetched if need be, kept while the block runs."""
        sha = Path(path).name
        self._wait(sha)
        with self.cache.pin(sha):
            yield self._fetch(sha)

    def _wait(self, sha: str) -> None:
        """Let a prefetch of ``sha`` already under way finish rather than download it twice."""
        future = self._pending.get(sha)
        if future is not None:
            try:
                future.result()
            except Exception:  # noqa: BLE001 - the direct fetch that follows raises it, once
                pass

    def prefetch(self, sha256s: list[str]) -> None:
        """Fetch these objects in the background (a small thread pool), skipping those cached or under way."""
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(PREFETCH_THREADS, thread_name_prefix="tokenmill-prefetch")
            for sha in sha256s:
                if sha in self._pending or self.cache.has(sha):
                    continue
                future = self._pool.submit(self._fetch, sha)
                self._pending[sha] = future
                future.add_done_callback(lambda _, sha=sha: self._pending.pop(sha, None))

    def tokenizer_dir(self) -> Path:
        """A local directory holding the store's own tokenizer files (``tokenizer/``), for loading them."""
        root = self.cache.root / "stores" / self.manifest_sha256
        if self.manifest["tokenizer"].get("file"):
            for info in self.storage.list(f"{TOKENIZER_DIR}/"):
                target = root.joinpath(*info.key.split("/"))
                if not target.exists():
                    target.parent.mkdir(parents=True, exist_ok=True)
                    tmp = target.with_name(f"{target.name}.{os.getpid()}.tmp")
                    tmp.write_bytes(self.storage.get(info.key))
                    os.replace(tmp, target)
        root.mkdir(parents=True, exist_ok=True)
        return root

    def verify(self) -> int:
        """Stream every object from the bucket and check its sha256; the count checked.

        CorruptObjectError names the first bad object (its URL, the expected and found sha256).
        """
        for sha, (key, size) in self.objects.items():
            sink = _HashSink()
            _download(self.storage, key, sink)
            digest, n = sink.hash, sink.size
            if digest.hexdigest() != sha or n != size:
                raise CorruptObjectError(
                    f"{self.storage.url_of(key)} is corrupt: sha256 expected {sha} ({size} bytes), found "
                    f"{digest.hexdigest()} ({n} bytes); rewrite it (rerun the prepare that made the store)"
                )
        return len(self.objects)


class _HashSink:
    """A writer that only hashes and counts."""

    def __init__(self) -> None:
        self.hash, self.size = hashlib.sha256(), 0

    def write(self, data: Any) -> None:
        view = memoryview(data)
        self.hash.update(view)
        self.size += view.nbytes


def _download(storage: Any, key: str, out: Any) -> None:
    download = getattr(storage, "download", None)
    if download is not None:
        download(key, out)
    else:
        out.write(storage.get(key))


def _reopen(url: str, options: dict[str, Any], cache_dir: str, limit: int | None) -> RemoteStore:
    return RemoteStore(url, storage_options=options, cache_dir=cache_dir, cache_limit=limit)
