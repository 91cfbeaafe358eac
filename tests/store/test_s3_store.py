"""Token stores on S3 (a moto server on 127.0.0.1), read through the local cache."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from tests.s3 import prepared_store, upload_store
from tokenmill.common.errors import OptionError
from tokenmill.storage import CorruptObjectError, StorageNotFoundError, open_storage
from tokenmill.storage.cache import ObjectCache
from tokenmill.store import TokenStore


@pytest.fixture(scope="module")
def local_store(tmp_path_factory) -> Path:
    return prepared_store(tmp_path_factory.mktemp("s3store"))


@pytest.fixture
def remote(s3_server, local_store) -> str:
    url = s3_server.url("stores/small")
    upload_store(local_store, url)
    return url


def open_remote(url: str, cache: Path, **kwargs) -> TokenStore:
    return TokenStore.open(url, cache_dir=cache, **kwargs)


def test_a_store_on_s3_reads_as_the_local_store(remote, local_store, tmp_path) -> None:
    store, local = open_remote(remote, tmp_path / "cache"), TokenStore.open(local_store)
    assert store.path == remote and store.splits == local.splits
    for split in local.splits:
        assert np.array_equal(np.asarray(store[split][:]), np.asarray(local[split][:]))
        assert [d.tolist() for d in store.documents(split)] == [d.tolist() for d in local.documents(split)]
        assert np.array_equal(store.document_offsets(split), local.document_offsets(split))
    want, got = local.stats(), store.stats()
    want.pop("path"), got.pop("path")
    assert got == want
    assert store.decode(0, 5) == local.decode(0, 5)
    store.verify()
    again = pickle.loads(pickle.dumps(store))  # a DataLoader worker reopens it by URL
    assert np.array_equal(np.asarray(again["train"][:100]), np.asarray(local["train"][:100]))


def test_a_corrupt_object_is_named_and_never_enters_the_cache(remote, s3_server, local_store, tmp_path) -> None:
    bad = "train-00000-00001.bin"
    data = bytearray((local_store / bad).read_bytes())
    data[10] ^= 0xFF
    s3_server.client().put_object(Bucket=s3_server.bucket, Key=f"stores/small/{bad}", Body=bytes(data))
    store = open_remote(remote, tmp_path / "cache")
    with pytest.raises(CorruptObjectError, match=rf"{remote}/{bad} is corrupt: sha256 expected [0-9a-f]{{64}}") as err:
        np.asarray(store["train"][:])
    assert isinstance(err.value, ValueError) and "\n" not in str(err.value)
    with pytest.raises(CorruptObjectError, match=rf"{remote}/{bad} is corrupt"):
        store.verify()
    cache = ObjectCache(tmp_path / "cache")
    sha = store.manifest["splits"]["train"]["shards"][1]["bin_sha256"]
    assert not cache.has(sha) and cache.info()["partial"] == 0


def test_a_prefix_without_a_manifest_is_no_store(s3_server, tmp_path) -> None:
    open_storage(s3_server.url("half")).put("train-00000-00000.bin", b"\0\0")
    with pytest.raises(StorageNotFoundError, match=r"no token store at s3://.*/half \(no manifest.json there"):
        open_remote(s3_server.url("half"), tmp_path)


def test_a_cache_limit_smaller_than_a_shard_is_refused_saying_how_big(remote, tmp_path) -> None:
    with pytest.raises(OptionError, match=r"cache_limit 1000 is smaller than the largest shard .* at least (\d+) bytes"):
        open_remote(remote, tmp_path, cache_limit="1kB")


def test_the_cache_limit_holds_while_every_window_is_read(remote, local_store, tmp_path) -> None:
    local = TokenStore.open(local_store)
    largest = max(os.path.getsize(p) for p in local_store.glob("*.bin"))
    limit = 2 * largest
    store = open_remote(remote, tmp_path / "cache", cache_limit=limit, max_open_shards=1)
    cache = ObjectCache(tmp_path / "cache")
    rng = np.random.default_rng(0)
    n = len(local["train"])
    peak = 0
    for start in rng.integers(0, n - 64, size=60):
        assert np.array_equal(store["train"][start : start + 64], local["train"][start : start + 64])
        peak = max(peak, cache.info()["bytes"])
    # in use at any moment: the one mapped shard (max_open_shards=1) and an index
    assert largest < peak <= limit + largest, (peak, limit)


def test_two_stores_that_share_a_shard_share_its_bytes(remote, s3_server, local_store, tmp_path) -> None:
    other = s3_server.url("stores/copy")
    upload_store(local_store, other)
    a, b = open_remote(remote, tmp_path / "cache"), open_remote(other, tmp_path / "cache")
    np.asarray(a["train"][:]), np.asarray(b["train"][:])
    assert ObjectCache(tmp_path / "cache").info()["objects"] == len(a.manifest["splits"]["train"]["shards"])


def test_a_full_disk_is_one_clear_error_with_nothing_half_written(remote, tmp_path) -> None:
    # A file-size limit makes the cache's preallocation fail as a full disk does (EFBIG).
    script = textwrap.dedent(f"""
        import resource, signal, sys
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, 1000))
        from tokenmill.store import TokenStore
        store = TokenStore.open({remote!r}, cache_dir={str(tmp_path / "cache")!r})
        try:
            store["train"][0]
        except ValueError as exc:
            print(type(exc).__name__, exc)
    """)
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60, env=os.environ)
    assert out.stdout.startswith("CacheFullError no space left in the cache"), out.stdout + out.stderr
    assert "cache_limit" in out.stdout and "\n" not in out.stdout.strip()
    info = ObjectCache(tmp_path / "cache").info()
    assert (info["objects"], info["partial"]) == (0, 0)
