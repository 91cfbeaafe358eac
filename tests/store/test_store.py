"""The token store: write primitives, the memory-mapped reader, verify() and stats()."""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import pickle
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.store import (
    FORMAT_VERSION,
    MANIFEST_NAME,
    TokenArray,
    TokenStore,
    atomic_write_bytes,
    dtype_for,
    read_manifest,
    sha256_file,
    shard_name,
    write_manifest,
    write_shard,
)
from tokenmill.store.array import _window_reference

EOT = 50256


def make_store(
    directory: Path,
    splits: dict[str, list[list[list[int]]]],
    *,
    dtype: str = "uint16",
    max_token_value: int = EOT,
    stats: dict | None = None,
) -> Path:
    """Build a store from ``{split: [shard: [document: [ids]]]}`` with the write primitives."""
    entries = {}
    for split, shards in splits.items():
        shard_entries = []
        for k, docs in enumerate(shards):
            tokens = np.array([t for d in docs for t in d], dtype=np.int64)
            offsets = np.cumsum([0] + [len(d) for d in docs])
            shard_entries.append(write_shard(directory, shard_name(split, k), tokens, offsets, dtype=dtype))
        entries[split] = {
            "n_tokens": sum(e["n_tokens"] for e in shard_entries),
            "n_documents": sum(e["n_documents"] for e in shard_entries),
            "shards": shard_entries,
        }
    manifest = {
        "format": "tokenmill-store",
        "format_version": FORMAT_VERSION,
        "tokenmill_version": "0.1.0",
        "tokenizer": {"name": "gpt2", "vocab_size": 50257, "max_token_value": max_token_value, "ranks_sha256": None, "eot_id": EOT},
        "dtype": dtype,
        "eot": {"policy": "append", "id": EOT},
        "splits": entries,
        "inputs": [],
        "options": {"tokenizer": "gpt2"},
        "stats": stats or {"documents": 0, "empty_documents": 0, "bytes_read": 0, "eot_spellings": 0, "replacements": 0, "bad_lines_skipped": 0},
    }
    write_manifest(directory, manifest)
    return directory


SHARDS = [[[1, 2, EOT], [3, EOT]], [[4, 5, 6, 7, EOT]], [[8, EOT], [EOT], [9, 10, EOT]]]
FLAT = np.array([t for shard in SHARDS for d in shard for t in d], dtype=np.uint16)


@pytest.fixture()
def store(tmp_path: Path) -> TokenStore:
    make_store(tmp_path, {"train": SHARDS, "val": [[[11, 12, EOT]]]})
    return TokenStore.open(tmp_path)


# --- write primitives -------------------------------------------------------------------


def test_shard_files_are_exact_little_endian_bytes(tmp_path: Path) -> None:
    entry = write_shard(tmp_path, "train-00000", np.array([1, 258, 65535], np.uint16), np.array([0, 1, 3]))
    assert (tmp_path / "train-00000.bin").read_bytes() == b"\x01\x00\x02\x01\xff\xff"
    idx = (tmp_path / "train-00000.idx").read_bytes()
    assert idx == (0).to_bytes(8, "little") + (1).to_bytes(8, "little") + (3).to_bytes(8, "little")
    assert entry == {
        "name": "train-00000",
        "n_tokens": 3,
        "n_documents": 2,
        "bin_sha256": hashlib.sha256(b"\x01\x00\x02\x01\xff\xff").hexdigest(),
        "idx_sha256": hashlib.sha256(idx).hexdigest(),
    }
    assert sha256_file(tmp_path / "train-00000.idx") == entry["idx_sha256"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["train-00000.bin", "train-00000.idx"]  # no *.tmp left


def test_uint32_shard_bytes(tmp_path: Path) -> None:
    write_shard(tmp_path, "train-00000", np.array([70000]), np.array([0, 1]), dtype=dtype_for(100276))
    assert (tmp_path / "train-00000.bin").read_bytes() == (70000).to_bytes(4, "little")


@pytest.mark.parametrize(
    ("value", "expected"),
    [(0, "uint16"), (50256, "uint16"), (65535, "uint16"), (65536, "uint32"), (100276, "uint32"), (2**32 - 1, "uint32")],
)
def test_dtype_for_boundaries(value: int, expected: str) -> None:
    assert dtype_for(value) == np.dtype(expected)
    assert dtype_for(SimpleNamespace(max_token_value=value)) == np.dtype(expected)


def test_dtype_for_refuses() -> None:
    with pytest.raises(ValueError, match="2\\*\\*32"):
        dtype_for(2**32)
    with pytest.raises(ValueError, match=">= 0"):
        dtype_for(-1)
    with pytest.raises(TypeError, match="max_token_value"):
        dtype_for("gpt2")


@pytest.mark.parametrize("bad", [65536, -1])
def test_write_shard_refuses_out_of_range_ids(tmp_path: Path, bad: int) -> None:
    with pytest.raises(ValueError, match=f"token ID {bad} does not fit the store dtype uint16"):
        write_shard(tmp_path, "train-00000", np.array([1, bad, 2]), np.array([0, 3]), dtype="uint16")
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing truncated


@pytest.mark.parametrize(
    ("offsets", "message"),
    [([1, 3], "start at 0"), ([0, 2], "end at n_tokens=3"), ([0, 2, 1, 3], "never decrease"), ([], "n_documents \\+ 1")],
)
def test_write_shard_validates_offsets(tmp_path: Path, offsets: list[int], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        write_shard(tmp_path, "train-00000", np.array([1, 2, 3], np.uint16), np.array(offsets, dtype=np.int64))


def test_write_shard_wants_an_explicit_dtype_for_wide_input(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="pass dtype=dtype_for"):
        write_shard(tmp_path, "train-00000", np.array([1, 2]), np.array([0, 2]))


def test_shard_name() -> None:
    assert shard_name("train", 0) == "train-00000"
    assert shard_name("val", 12345) == "val-12345"
    with pytest.raises(ValueError):
        shard_name("train", -1)
    with pytest.raises(ValueError):
        shard_name("a/b", 0)


def test_atomic_write_replaces_and_cleans_up(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic_write_bytes(target, b"old")
    atomic_write_bytes(target, memoryview(b"new"))
    assert target.read_bytes() == b"new"
    with pytest.raises(TypeError):
        atomic_write_bytes(target, "not bytes")  # type: ignore[arg-type]
    assert target.read_bytes() == b"new"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_manifest_is_deterministic_sorted_json(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": SHARDS})
    first = (tmp_path / MANIFEST_NAME).read_bytes()
    manifest = json.loads(first)
    write_manifest(tmp_path, manifest)
    assert (tmp_path / MANIFEST_NAME).read_bytes() == first
    assert first.endswith(b"}\n")
    assert first == (json.dumps(manifest, sort_keys=True, indent=2) + "\n").encode()
    assert read_manifest(tmp_path) == manifest


def test_read_manifest_errors_say_what_to_run(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="does not exist.*tokenmill prepare INPUT --out"):
        read_manifest(tmp_path / "nope")
    with pytest.raises(ValueError, match="no manifest.json.*tokenmill prepare INPUT --out"):
        read_manifest(tmp_path)
    (tmp_path / ".progress.json").write_text("{}")
    with pytest.raises(ValueError, match="incomplete token store.*interrupted"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text("{not json")
    with pytest.raises(ValueError, match="manifest.json is corrupt.*tokenmill prepare"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST_NAME).write_text(json.dumps({"format": "something-else"}))
    with pytest.raises(ValueError, match="not a tokenmill store manifest"):
        read_manifest(tmp_path)


def test_read_manifest_refuses_a_newer_format(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": SHARDS})
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    manifest["format_version"] = FORMAT_VERSION + 1
    write_manifest(tmp_path, manifest)
    with pytest.raises(ValueError, match=f"format_version {FORMAT_VERSION + 1} but this tokenmill reads up to {FORMAT_VERSION}; upgrade"):
        TokenStore.open(tmp_path)


# --- reading ----------------------------------------------------------------------------


def test_round_trip(store: TokenStore, tmp_path: Path) -> None:
    assert store.splits == ("train", "val")
    assert store.path == tmp_path
    assert store.dtype == np.dtype("uint16")
    assert (store.eot_id, store.eot_policy, store.tokenizer_name) == (EOT, "append", "gpt2")
    train = store["train"]
    assert (len(train), train.shape, train.ndim, train.dtype) == (len(FLAT), (len(FLAT),), 1, np.dtype("uint16"))
    np.testing.assert_array_equal(np.asarray(train), FLAT)
    np.testing.assert_array_equal(store["val"][:], [11, 12, EOT])
    assert store.num_documents("train") == 6 and store.num_documents("val") == 1
    np.testing.assert_array_equal(store.document_offsets("train"), [0, 3, 5, 10, 12, 13, 16])
    assert "val" in store and "test" not in store
    with pytest.raises(ValueError, match="no split 'test'; available splits: train, val"):
        store["test"]


def test_documents_are_the_written_documents(store: TokenStore) -> None:
    docs = [d.tolist() for d in store.documents("train")]
    assert docs == [d for shard in SHARDS for d in shard]
    assert [d.tolist() for d in store.documents("val")] == [[11, 12, EOT]]


def test_views_are_zero_copy_and_read_only(store: TokenStore) -> None:
    train = store["train"]
    inside = train[5:10]  # exactly shard 1
    assert isinstance(inside, np.ndarray) and not inside.flags.writeable
    assert np.shares_memory(inside, train[6:8])
    with pytest.raises(ValueError):
        inside[0] = 1
    across = train[3:12]
    np.testing.assert_array_equal(across, FLAT[3:12])
    assert isinstance(train[4], np.integer) and train[4] == EOT and train[-1] == EOT
    with pytest.raises(IndexError, match="out of range"):
        train[len(FLAT)]


def test_single_shard_fancy_index(store: TokenStore) -> None:
    val = store["val"]
    np.testing.assert_array_equal(val[np.array([[2, 0], [1, -1]])], [[EOT, 11], [12, EOT]])


def test_take_windows_straddling_shard_boundaries(store: TokenStore) -> None:
    train = store["train"]
    starts = np.array([0, 3, 4, 9, 11, 12])  # 3/4/9 cross boundaries at 5 and 10
    windows = train.take_windows(starts, 4)
    assert windows.shape == (6, 4) and windows.dtype == np.dtype("uint16")
    np.testing.assert_array_equal(windows, np.stack([FLAT[s : s + 4] for s in starts]))
    np.testing.assert_array_equal(windows, _window_reference(train, starts, 4))
    only_straddling = np.array([4, 9])
    np.testing.assert_array_equal(train.take_windows(only_straddling, 3), [FLAT[4:7], FLAT[9:12]])
    with pytest.raises(ValueError, match="window start 13 with length 4 does not fit in 16 tokens"):
        train.take_windows(np.array([13]), 4)


shard_lists = st.lists(st.lists(st.integers(0, 65535), max_size=12), min_size=1, max_size=5)


@settings(max_examples=60, deadline=None)
@given(shards=shard_lists, data=st.data())
def test_token_array_matches_the_concatenated_reference(shards: list[list[int]], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as d:
        paths, lengths = [], []
        for k, tokens in enumerate(shards):
            write_shard(d, shard_name("train", k), np.array(tokens, np.uint16), np.array([0, len(tokens)]))
            paths.append(Path(d) / f"{shard_name('train', k)}.bin")
            lengths.append(len(tokens))
        ref = np.array([t for s in shards for t in s], dtype=np.uint16)
        arr = TokenArray(paths, lengths, "uint16")
        n = len(ref)
        assert len(arr) == n
        np.testing.assert_array_equal(np.asarray(arr), ref)
        start = data.draw(st.none() | st.integers(-n - 2, n + 2))
        stop = data.draw(st.none() | st.integers(-n - 2, n + 2))
        step = data.draw(st.none() | st.sampled_from([1, 2, 3, -1, -2]))
        np.testing.assert_array_equal(arr[start:stop:step], ref[start:stop:step])
        if n:
            index = np.array(data.draw(st.lists(st.integers(-n, n - 1), max_size=20)), dtype=np.int64)
            np.testing.assert_array_equal(arr[index], ref[index])
            i = data.draw(st.integers(-n, n - 1))
            assert arr[i] == ref[i]
            mask = np.array(data.draw(st.lists(st.booleans(), min_size=n, max_size=n)))
            np.testing.assert_array_equal(arr[mask], ref[mask])
        length = data.draw(st.integers(0, n))
        starts = np.array(data.draw(st.lists(st.integers(0, n - length), max_size=10)), dtype=np.int64)
        expected = np.stack([ref[s : s + length] for s in starts]) if len(starts) else np.empty((0, length), np.uint16)
        np.testing.assert_array_equal(arr.take_windows(starts, length), expected)
        restored = pickle.loads(pickle.dumps(arr))
        np.testing.assert_array_equal(np.asarray(restored), ref)


def test_pickle_is_small_and_reopens(tmp_path: Path) -> None:
    big = np.arange(1_000_000, dtype=np.int64) % 50000
    make_store(tmp_path, {"train": [[big[:600_000].tolist()], [big[600_000:].tolist()]]})
    arr = TokenStore.open(tmp_path)["train"]
    _ = arr[599_990:600_010]  # open the memmaps first: they must not be pickled
    blob = pickle.dumps(arr)
    assert len(blob) < 1000
    restored = pickle.loads(blob)
    np.testing.assert_array_equal(restored.take_windows(np.array([0, 599_999]), 7), arr.take_windows(np.array([0, 599_999]), 7))
    assert restored[999_999] == big[-1]


def test_store_pickles_by_path(store: TokenStore) -> None:
    blob = pickle.dumps(store)
    assert len(blob) < 500
    restored = pickle.loads(blob)
    assert restored.path == store.path and restored.manifest == store.manifest
    np.testing.assert_array_equal(restored["train"][:], FLAT)


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_token_array_crosses_process_boundaries(store: TokenStore, method: str) -> None:
    if method not in multiprocessing.get_all_start_methods():
        pytest.skip(f"{method} is not available here")
    with multiprocessing.get_context(method).Pool(1) as pool:
        got = pool.apply(np.asarray, (store["train"],))
    np.testing.assert_array_equal(got, FLAT)


def test_empty_split(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": SHARDS, "val": [[]]})
    store = TokenStore.open(tmp_path)
    val = store["val"]
    assert len(val) == 0 and val[:].shape == (0,) and list(store.documents("val")) == []
    assert val.take_windows(np.array([], dtype=np.int64), 4).shape == (0, 4)
    assert np.asarray(val).shape == (0,)
    store.verify()
    stats = store.stats()
    assert stats["splits"]["val"]["documents"] == 0 and stats["splits"]["val"]["document_tokens"] is None
    assert stats["splits"]["val"]["top_tokens"] == []


def test_uint32_store(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": [[[70000, 5], [100276]]]}, dtype="uint32", max_token_value=100276)
    store = TokenStore.open(tmp_path)
    assert store.dtype == np.dtype("uint32")
    np.testing.assert_array_equal(store["train"][:], [70000, 5, 100276])
    store.verify()


# --- verify -----------------------------------------------------------------------------


def _flip_byte(path: Path, at: int) -> None:
    data = bytearray(path.read_bytes())
    data[at] ^= 0x01
    path.write_bytes(bytes(data))


def test_verify_passes_on_a_sound_store(store: TokenStore) -> None:
    assert store.verify() is None


@pytest.mark.parametrize(("suffix", "at"), [(".bin", 3), (".idx", 9)])
def test_verify_names_the_shard_with_a_flipped_byte(tmp_path: Path, suffix: str, at: int) -> None:
    make_store(tmp_path, {"train": SHARDS})
    target = tmp_path / f"train-00001{suffix}"
    expected = sha256_file(target)
    _flip_byte(target, at)
    store = TokenStore.open(tmp_path)  # sizes still match, so opening succeeds
    with pytest.raises(ValueError, match=f"train-00001\\{suffix} is corrupt: sha256 expected {expected}, found {sha256_file(target)}"):
        store.verify()


def test_truncated_shard_is_caught_on_open(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": SHARDS})
    target = tmp_path / "train-00002.bin"
    target.write_bytes(target.read_bytes()[:-2])
    with pytest.raises(ValueError, match="train-00002.bin has 10 bytes, expected 12"):
        TokenStore.open(tmp_path)
    (tmp_path / "train-00000.idx").unlink()
    with pytest.raises(ValueError, match="train-00000.idx is missing"):
        TokenStore.open(tmp_path)


def test_verify_checks_structure_behind_matching_hashes(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": SHARDS})
    manifest = json.loads((tmp_path / MANIFEST_NAME).read_text())
    bad = np.array([0, 4, 2], dtype="<i8")  # decreasing, though the right size and hashed
    (tmp_path / "train-00000.idx").write_bytes(bad.tobytes())
    manifest["splits"]["train"]["shards"][0]["idx_sha256"] = hashlib.sha256(bad.tobytes()).hexdigest()
    manifest["splits"]["train"]["shards"][0]["n_tokens"] = 5
    write_manifest(tmp_path, manifest)
    with pytest.raises(ValueError, match="train-00000.idx: offsets must start at 0 and end at n_tokens=5"):
        TokenStore.open(tmp_path).verify()


def test_verify_catches_ids_beyond_the_vocabulary(tmp_path: Path) -> None:
    make_store(tmp_path, {"train": [[[1, 60000]]]})
    with pytest.raises(ValueError, match="token ID 60000 > the tokenizer's max_token_value 50256"):
        TokenStore.open(tmp_path).verify()


# --- decode and stats -------------------------------------------------------------------


def test_decode_with_gpt2(tmp_path: Path) -> None:
    from tokenmill.tokenizers import get_tokenizer

    tok = get_tokenizer("gpt2")
    texts = ["Hello, world.", " It's the last summer."]
    make_store(tmp_path, {"train": [[tok.encode_ordinary(t) + [EOT] for t in texts]]})
    store = TokenStore.open(tmp_path)
    n0 = len(tok.encode_ordinary(texts[0]))
    assert store.decode(0, n0 + 1) == "Hello, world.<|endoftext|>"
    assert store.decode(0, len(store["train"])) == "Hello, world.<|endoftext|> It's the last summer.<|endoftext|>"
    assert store.tokenizer is store.tokenizer


def test_stats_numbers_on_a_hand_made_store(tmp_path: Path) -> None:
    prepared = {"documents": 7, "empty_documents": 1, "bytes_read": 64, "eot_spellings": 2, "replacements": 3, "bad_lines_skipped": 1}
    make_store(tmp_path, {"train": SHARDS, "val": [[[11, 12, EOT]]]}, stats=prepared)
    stats = TokenStore.open(tmp_path).stats(top_k=2)
    train, total = stats["splits"]["train"], stats["total"]
    # train document lengths: 3, 2, 5, 2, 1, 3; nearest-rank p90 of six is the 6th smallest
    assert (train["documents"], train["tokens"], train["shards"]) == (6, 16, 3)
    # Stored documents are never empty: the only empty-document count is prepare's (no contradiction).
    assert "empty_documents" not in train and "empty_documents" not in stats["total"]
    assert train["document_tokens"] == {"min": 1, "p10": 1, "p50": 2, "p90": 5, "p99": 5, "max": 5, "mean": 2.67}
    assert train["top_tokens"] == [
        {"id": EOT, "count": 6, "share": 0.375, "text": "<|endoftext|>"},
        {"id": 1, "count": 1, "share": 0.0625, "text": '"'},  # the string itself, not a repr
    ]
    assert (total["documents"], total["tokens"], total["shards"], total["bytes"]) == (7, 19, 4, 64)
    assert total["bytes_per_token"] == round(64 / 19, 4)
    assert total["top_tokens"][0] == {"id": EOT, "count": 7, "share": round(7 / 19, 6), "text": "<|endoftext|>"}
    assert stats["prepare"] == prepared
    assert stats["splits"]["val"]["document_tokens"]["max"] == 3
    json.dumps(stats)  # plain JSON types only
    only_val = TokenStore.open(tmp_path).stats(top_k=0, splits=["val"])
    assert list(only_val["splits"]) == ["val"] and "bytes" not in only_val["total"]
    assert "top_tokens" not in only_val["total"]


def test_token_counts_equal_a_plain_bincount(store: TokenStore) -> None:
    counts = store.token_counts("train")
    np.testing.assert_array_equal(counts, np.bincount(FLAT, minlength=EOT + 1))


def test_store_does_not_import_torch() -> None:
    code = "import tokenmill.store, sys; assert 'torch' not in sys.modules, sorted(m for m in sys.modules if 'torch' in m)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ})
    assert result.returncode == 0, result.stderr
