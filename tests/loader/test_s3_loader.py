"""create_dataloader over a store on S3 (a moto server on 127.0.0.1): the local store's batches exactly."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from tests.s3 import prepared_store, upload_store
from tokenmill import create_dataloader
from tokenmill.storage.cache import ObjectCache
from tokenmill.store import TokenStore


@pytest.fixture(scope="module")
def local_store(tmp_path_factory) -> Path:
    return prepared_store(tmp_path_factory.mktemp("s3loader"), documents=600)


@pytest.fixture
def remote(s3_server, local_store) -> str:
    url = s3_server.url("stores/loader")
    upload_store(local_store, url)
    return url


def batches(loader, n: int | None = None) -> list[list[list[int]]]:
    out = []
    for i, (inputs, targets) in enumerate(loader):
        if n is not None and i == n:
            break
        out.append([inputs.tolist(), targets.tolist()])
    return out


@pytest.mark.parametrize("world_size", [1, 2])
def test_a_loader_from_s3_gives_the_local_stores_batches(remote, local_store, tmp_path, world_size) -> None:
    largest = max(os.path.getsize(p) for p in local_store.glob("*.bin"))
    for rank in range(world_size):
        common = {"batch_size": 4, "max_length": 32, "seed": 7, "rank": rank, "world_size": world_size}
        want = batches(create_dataloader(local_store, **common))
        loader = create_dataloader(remote, cache_dir=tmp_path / "cache", cache_limit=3 * largest, **common)
        assert batches(loader) == want
        loader.sampler.set_epoch(1)
        assert batches(loader) == batches(_epoch(create_dataloader(local_store, **common), 1))


def _epoch(loader, epoch: int):
    loader.sampler.set_epoch(epoch)
    return loader


def test_a_stateful_loader_from_s3_resumes_where_the_local_one_does(remote, local_store, tmp_path) -> None:
    pytest.importorskip("torchdata")
    common = {"batch_size": 4, "max_length": 32, "seed": 3, "stateful": True}
    local = create_dataloader(local_store, **common)
    it = iter(local)
    for _ in range(5):
        next(it)
    state = local.state_dict()
    want = [[x.tolist() for x in b] for b in it]
    resumed = create_dataloader(remote, cache_dir=tmp_path / "cache", **common)
    resumed.load_state_dict(state)
    assert [[x.tolist() for x in b] for b in resumed] == want


def _wait_for(predicate, seconds: float = 60) -> bool:  # generous: shared machines stall
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


def test_the_seeded_order_fetches_the_next_batches_shards_ahead(remote, tmp_path) -> None:
    cache = ObjectCache(tmp_path / "cache")
    loader = create_dataloader(remote, batch_size=2, max_length=16, seed=5, cache_dir=cache.root)
    prefetcher = loader.sampler.prefetcher
    shas = prefetcher.shas
    peek = iter(create_dataloader(remote, batch_size=2, max_length=16, seed=5, cache_dir=tmp_path / "other").sampler)
    first = [next(peek) for _ in range(3)]
    needed = {shas[s] for idx in first for s in prefetcher.shards_of(idx)}
    assert not any(cache.has(s) for s in needed)
    iter(loader)  # nothing read yet: the first batches' shards are fetched in the background
    assert _wait_for(lambda: all(cache.has(s) for s in needed))


def test_a_restored_position_prefetches_what_it_needs(remote, tmp_path) -> None:
    common = {"batch_size": 2, "max_length": 16, "seed": 9}
    probe = create_dataloader(remote, cache_dir=tmp_path / "probe", **common)
    sampler = probe.sampler
    it = iter(sampler)
    for _ in range(40):
        next(it)
    state = sampler.state_dict()
    later = [next(it) for _ in range(2)]
    needed = {sampler.prefetcher.shas[s] for idx in later for s in sampler.prefetcher.shards_of(idx)}
    cache = ObjectCache(tmp_path / "cache")
    loader = create_dataloader(remote, cache_dir=cache.root, **common)
    loader.sampler.load_state_dict(state)
    iter(loader.sampler)
    assert _wait_for(lambda: all(cache.has(s) for s in needed))


WORKER = textwrap.dedent("""
    import hashlib, sys
    from tokenmill import create_dataloader
    url, cache, limit, rank = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    digest = hashlib.sha256()
    for epoch in range(2):
        loader = create_dataloader(url, batch_size=4, max_length=32, seed=11, rank=rank, world_size=2,
                                   cache_dir=cache, cache_limit=limit)
        loader.sampler.set_epoch(epoch)
        for inputs, targets in loader:
            digest.update(inputs.numpy().tobytes()); digest.update(targets.numpy().tobytes())
    print(digest.hexdigest())
""")


@pytest.mark.slow
def test_two_loader_processes_share_one_cache_directory(remote, local_store, tmp_path) -> None:
    largest = max(os.path.getsize(p) for p in local_store.glob("*.bin"))
    cache = tmp_path / "cache"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, remote, str(cache), str(3 * largest), str(rank)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=os.environ,
        )
        for rank in (0, 1)
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (_, err) in zip(procs, outs):
        assert p.returncode == 0, err
    for rank, (out, _) in enumerate(outs):
        digest = hashlib.sha256()
        for epoch in range(2):
            loader = create_dataloader(local_store, batch_size=4, max_length=32, seed=11, rank=rank, world_size=2)
            loader.sampler.set_epoch(epoch)
            for inputs, targets in loader:
                digest.update(inputs.numpy().tobytes())
                digest.update(targets.numpy().tobytes())
        assert out.strip() == digest.hexdigest()
    info = ObjectCache(cache).info()
    assert info["partial"] == 0 and info["bytes"] <= 3 * largest + 2 * largest
    for path in (cache / "sha256").rglob("*"):  # every cached object is whole and right
        if path.is_file():
            assert hashlib.sha256(path.read_bytes()).hexdigest() == path.name


def test_num_workers_read_through_the_cache(remote, local_store, tmp_path) -> None:
    common = {"batch_size": 4, "max_length": 32, "seed": 1}
    want = batches(create_dataloader(local_store, **common), 6)
    # a worker that blocked on a lock inherited from the parent would time out here, not hang
    got = batches(create_dataloader(remote, cache_dir=tmp_path / "c", num_workers=2, timeout=60, **common), 6)
    assert got == want
    assert isinstance(TokenStore.open(remote, cache_dir=tmp_path / "c"), TokenStore)
    assert torch.tensor(got).shape == (6, 2, 4, 32)
