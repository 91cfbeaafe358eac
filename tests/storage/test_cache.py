"""The object cache's write path: whatever chunks a download arrives in, the file is its bytes, checked."""

from __future__ import annotations

import hashlib
import random
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tokenmill.storage.base import CorruptObjectError
from tokenmill.storage.cache import WRITE_SLICE, ObjectCache


def _payload(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@given(
    size=st.integers(0, 3 * WRITE_SLICE + 7),
    cuts=st.lists(st.floats(0, 1), max_size=6),
    seed=st.integers(0, 2**16),
)
def test_a_download_in_any_chunks_is_cached_byte_for_byte(size: int, cuts: list[float], seed: int) -> None:
    data = _payload(size, seed)
    bounds = sorted({0, size, *(int(c * size) for c in cuts)})
    chunks = [data[a:b] for a, b in zip(bounds, bounds[1:])]
    sha = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory() as root:
        cache = ObjectCache(root)
        with cache.pin(sha):
            path = cache.fetch(sha, size, lambda out: [out.write(memoryview(c)) for c in chunks], name="s3://b/k")
        assert path.read_bytes() == data
        assert not list((Path(root) / "tmp").iterdir())


def test_typed_buffers_are_written_as_their_bytes(tmp_path: Path) -> None:
    tokens = np.arange(WRITE_SLICE, dtype=np.uint16)  # (WRITE_SLICE,): 2 bytes each, two slices
    data = tokens.tobytes()
    sha = hashlib.sha256(data).hexdigest()
    cache = ObjectCache(tmp_path)
    with cache.pin(sha):
        path = cache.fetch(sha, len(data), lambda out: out.write(tokens), name="s3://b/tokens")
    assert path.read_bytes() == data


def test_one_wrong_byte_past_the_first_slice_is_refused_and_nothing_kept(tmp_path: Path) -> None:
    data = _payload(2 * WRITE_SLICE + 3, 1)
    sha = hashlib.sha256(data).hexdigest()
    bad = bytearray(data)
    bad[WRITE_SLICE + 1] ^= 1
    cache = ObjectCache(tmp_path)
    with cache.pin(sha), pytest.raises(CorruptObjectError, match=f"s3://b/k is corrupt: sha256 expected {sha}"):
        cache.fetch(sha, len(data), lambda out: out.write(bad), name="s3://b/k")
    assert not cache.has(sha) and not list((tmp_path / "tmp").iterdir())
