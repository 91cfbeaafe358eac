"""store: a manifest written by someone else: paths outside the store, malformed keys, bounds, duplicates."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tokenmill.html import report_page
from tokenmill.store import TokenStore, read_manifest, write_manifest, write_shard
from tokenmill.store.format import read_index
from tokenmill.store.manifest import _example_manifest

EOT = 50256
SECRET = b"KEY=0123456789abcdef-not-for-the-page\n"


def small_store(directory: Path) -> dict[str, Any]:
    directory.mkdir(parents=True, exist_ok=True)
    entries = [
        write_shard(directory, "train-00000-00000", np.array([31373, 995, EOT], np.uint16), np.array([0, 3])),
        write_shard(directory, "train-00001-00000", np.array([40, EOT], np.uint16), np.array([0, 2])),
    ]
    manifest = _example_manifest(entries)
    manifest["inputs"] = [{"path": "/d/a.txt", "name": "a.txt", "size": 10, "mtime_ns": 1}]
    write_manifest(directory, manifest)
    return manifest


def edit(directory: Path, change: Any) -> None:
    path = directory / "manifest.json"
    manifest = json.loads(path.read_text())
    change(manifest)
    path.write_text(json.dumps(manifest))


@pytest.fixture()
def outside(tmp_path: Path) -> Path:
    """A file outside the store, the size of a 2-token uint16 shard (4 bytes fit; a secret does not)."""
    secret = tmp_path / "secret"
    secret.mkdir()
    (secret / "key.bin").write_bytes(SECRET[:4])
    (secret / "key.idx").write_bytes(np.array([0, 2], "<i8").tobytes())
    (secret / "key").write_bytes(SECRET)
    return secret


def _rename_shard(name: str):
    def change(m: dict[str, Any]) -> None:
        m["splits"]["train"]["shards"][1]["name"] = name

    return change


@pytest.mark.parametrize("name", ["../secret/key", "/abs/train-00000-00000", "train-00001-00000/../../secret/key"])
def test_shard_names_that_leave_the_store_are_refused_naming_the_entry(tmp_path: Path, outside: Path, name: str) -> None:
    store = tmp_path / "s"
    small_store(store)
    edit(store, _rename_shard(name.replace("/abs", str(outside))))
    with pytest.raises(ValueError, match=r"manifest.json: splits\.train\.shards\[1\]\.name is .*not a shard name of split 'train'"):
        TokenStore.open(store)


@pytest.mark.parametrize("ext", ["bin", "idx"])
def test_a_shard_file_that_is_a_symlink_out_of_the_store_is_refused(tmp_path: Path, outside: Path, ext: str) -> None:
    store = tmp_path / "s"
    small_store(store)
    target = store / f"train-00001-00000.{ext}"
    target.unlink()
    target.symlink_to(outside / f"key.{ext}")
    with pytest.raises(ValueError, match=rf"manifest.json: shard 'train-00001-00000' names train-00001-00000.{ext}, which is outside the store .*resolves to {outside}"):
        TokenStore.open(store)


def test_a_symlink_inside_the_store_still_reads(tmp_path: Path) -> None:
    store = tmp_path / "s"
    small_store(store)
    (store / "data").mkdir()
    os.replace(store / "train-00001-00000.bin", store / "data" / "t.bin")
    (store / "train-00001-00000.bin").symlink_to(store / "data" / "t.bin")
    assert TokenStore.open(store)["train"][:].tolist() == [31373, 995, EOT, 40, EOT]


@pytest.mark.parametrize("file", ["/etc/passwd", "../secret/key", "tokenizer/../../secret/key", "link/key"])
def test_a_tokenizer_file_outside_the_store_is_refused(tmp_path: Path, outside: Path, file: str) -> None:
    store = tmp_path / "s"
    small_store(store)
    (store / "link").symlink_to(outside)

    def change(m: dict[str, Any]) -> None:
        m["tokenizer"]["file"] = file

    edit(store, change)
    opened = TokenStore.open(store)
    with pytest.raises(ValueError, match=rf"manifest.json: tokenizer.file names {file}, which is outside the store"):
        _ = opened.tokenizer


def test_report_never_puts_an_outside_files_bytes_into_the_page(tmp_path: Path, outside: Path, cli) -> None:
    store = tmp_path / "s"
    small_store(store)
    target = store / "train-00001-00000.bin"
    target.unlink()
    target.symlink_to(outside / "key.bin")
    page = tmp_path / "r.html"
    r = cli("report", str(store), "-o", str(page))
    assert r.returncode == 2 and "outside the store" in r.stderr and len(r.stderr.splitlines()) == 1
    assert not page.exists()
    leaked = str(int.from_bytes(SECRET[:2], "little"))
    assert leaked not in r.stdout + r.stderr


def test_one_shard_listed_twice_is_refused_by_open_and_verify(tmp_path: Path, cli) -> None:
    store = tmp_path / "s"
    small_store(store)

    def change(m: dict[str, Any]) -> None:
        split = m["splits"]["train"]
        split["shards"].append(copy.deepcopy(split["shards"][0]))
        split["n_tokens"] += 3
        split["n_documents"] += 1

    edit(store, change)
    with pytest.raises(ValueError, match=r"manifest.json: shard 'train-00000-00000' is listed twice"):
        TokenStore.open(store)
    r = cli("stats", str(store), "--verify")
    assert r.returncode == 1 and "verify FAILED" in r.stderr and "listed twice" in r.stderr


def _deep(m: dict[str, Any]) -> None:
    m["options"] = json.loads("[" * 100_000 + "]" * 100_000)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda m: m.pop("tokenizer"), r"the required key tokenizer is missing"),
        (lambda m: m["tokenizer"].pop("name"), r"the required key tokenizer\.name is missing"),
        (lambda m: m["splits"]["train"]["shards"][0].pop("n_tokens"), r"shards\[0\]\.n_tokens is missing"),
        (lambda m: m.update(splits=[]), r"splits must be dict, got list"),
        (lambda m: m.update(eot="append"), r"eot must be dict, got str"),
        (lambda m: m["splits"]["train"].update(shards={"a": 1}), r"splits\.train\.shards must be list"),
        (lambda m: m["splits"]["train"]["shards"][0].update(n_tokens="3"), r"n_tokens must be int, got str"),
        (lambda m: m["splits"]["train"]["shards"][0].update(n_tokens=True), r"n_tokens must be int, got bool"),
        (lambda m: m["splits"]["train"]["shards"][0].update(n_documents=-1), r"n_documents is -1, outside 0\.\."),
        (lambda m: m["splits"]["train"].update(n_tokens=6), r"splits\.train\.n_tokens is 6 but its shards sum to 5"),
        (lambda m: m["splits"]["train"]["shards"][0].update(bin_sha256="x"), r"bin_sha256 is 'x', not a lowercase hex"),
        (lambda m: m["tokenizer"].update(max_token_value=2_000_000_000), r"max_token_value is 2000000000 but dtype is 'uint16'"),
        (lambda m: m["tokenizer"].update(max_token_value=2**32), r"max_token_value is 4294967296, outside 0\.\.4294967295"),
        (lambda m: m["eot"].update(policy="middle"), r"eot\.policy is 'middle'"),
        (lambda m: m["eot"].update(id=60000), r"eot\.id 60000 is above tokenizer\.max_token_value 50256"),
        (lambda m: m["splits"].update({"../x": m["splits"]["train"]}), r"split name '\.\./x' is not a simple identifier"),
        (lambda m: m.update(stats={"documents": "many"}), r"stats\.documents must be a count"),
        (lambda m: m.update(command="tokenmill prepare"), r"command must be list"),
        (_deep, r"corrupt \(not valid JSON: nested too deeply\)"),
    ],
)
def test_malformed_manifests_are_one_value_error_naming_the_file_and_key(tmp_path: Path, change: Any, message: str) -> None:
    store = tmp_path / "s"
    small_store(store)
    if change is _deep:
        (store / "manifest.json").write_text('{"format": "tokenmill-store", "format_version": 2, "options": ' + "[" * 100_000 + "]" * 100_000 + "}")
    else:
        edit(store, change)
    with pytest.raises(ValueError, match=f"{store / 'manifest.json'}.*{message}"):
        TokenStore.open(store)


def test_stats_of_a_uint32_store_claiming_a_huge_vocabulary_stays_small(tmp_path: Path) -> None:
    import tracemalloc

    store = tmp_path / "s"
    store.mkdir()
    entry = write_shard(store, "train-00000-00000", np.array([70000, 5, 70000], np.uint32), np.array([0, 3]))
    manifest = _example_manifest([entry])
    manifest["dtype"], manifest["tokenizer"]["max_token_value"] = "uint32", 2_000_000_000
    write_manifest(store, manifest)
    opened = TokenStore.open(store)
    tracemalloc.start()
    counts = opened.token_counts()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert len(counts) == 70001 and counts[70000] == 2 and counts[5] == 1
    assert peak < 50_000_000  # 2e9 int64 counts would be 16 GB


# --- fuzz: every malformed manifest or index is a ValueError naming the file, never another exception

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
KEYS = [
    ("dtype",), ("tokenizer",), ("tokenizer", "name"), ("tokenizer", "max_token_value"), ("tokenizer", "file"),
    ("tokenizer", "ranks_sha256"), ("tokenizer", "definition_sha256"), ("eot",), ("eot", "policy"), ("eot", "id"),
    ("splits",), ("splits", "train"), ("splits", "train", "shards"), ("splits", "train", "n_tokens"),
    ("splits", "train", "shards", 0), ("splits", "train", "shards", 0, "name"), ("splits", "train", "shards", 0, "n_tokens"),
    ("splits", "train", "shards", 0, "n_documents"), ("splits", "train", "shards", 1, "bin_sha256"),
    ("stats",), ("options",), ("command",), ("options", "tokenizer"), ("format_version",),
    ("inputs",), ("inputs", 0), ("inputs", 0, "size"), ("split_rule",), ("skipped_inputs",),
]


def _set(m: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        m = m[key]
    m[path[-1]] = value


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(edits=st.lists(st.tuples(st.sampled_from(KEYS), JSON), min_size=1, max_size=3), drop=st.sampled_from(KEYS))
def test_fuzzed_manifests_give_a_value_error_naming_the_file_or_a_sound_store(tmp_path: Path, edits, drop) -> None:
    store = tmp_path / "fuzz"
    base = small_store(store)
    m = copy.deepcopy(base)
    for path, value in edits:
        try:
            _set(m, path, value)
        except (KeyError, IndexError, TypeError):
            pass
    try:
        parent = m
        for key in drop[:-1]:
            parent = parent[key]
        del parent[drop[-1]]
    except (KeyError, IndexError, TypeError):
        pass
    (store / "manifest.json").write_text(json.dumps(m))
    try:
        opened = TokenStore.open(store)
        opened.stats(top_k=2)
        list(opened.documents("train")) if "train" in opened else None
        opened.verify()
        report_page(opened)
    except ValueError as exc:
        assert str(store) in str(exc), exc
    finally:
        write_manifest(store, base)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=80), n_tokens=st.integers(0, 20))
def test_fuzzed_indexes_give_a_value_error_naming_the_file(tmp_path: Path, data: bytes, n_tokens: int) -> None:
    idx = tmp_path / "train-00000-00000.idx"
    idx.write_bytes(data)
    try:
        offsets = read_index(idx, n_tokens)
    except ValueError as exc:
        assert str(idx) in str(exc)
    else:
        assert offsets[0] == 0 and offsets[-1] == n_tokens and (np.diff(offsets) >= 0).all()


def test_read_manifest_names_the_file_for_huge_integers(tmp_path: Path) -> None:
    store = tmp_path / "s"
    small_store(store)
    text = (store / "manifest.json").read_text().replace('"n_tokens": 5', '"n_tokens": ' + "9" * 5000, 1)
    (store / "manifest.json").write_text(text)
    with pytest.raises(ValueError, match=f"{store / 'manifest.json'} is corrupt"):
        read_manifest(store)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200) | JSON.map(lambda v: json.dumps(v).encode()), cut=st.integers(0, 2000))
def test_fuzzed_manifest_bytes_give_a_value_error_naming_the_file(tmp_path: Path, data: bytes, cut: int) -> None:
    store = tmp_path / "raw"
    base = small_store(store)
    text = json.dumps(base).encode()
    (store / "manifest.json").write_bytes(data if cut % 2 else text[: cut % len(text)] + data)
    try:
        TokenStore.open(store).stats(top_k=1)
    except ValueError as exc:
        assert str(store / "manifest.json") in str(exc) or str(store) in str(exc), exc
    finally:
        write_manifest(store, base)


@pytest.mark.parametrize("key", ["name", "spec"])
def test_a_tokenizer_named_by_a_path_outside_the_store_is_never_loaded(tmp_path: Path, key: str) -> None:
    from tokenmill.tokenizers import get_tokenizer

    outside_vocab = tmp_path / "elsewhere.tiktoken"
    outside_vocab.write_bytes(get_tokenizer("gpt2").ranks_path.read_bytes())
    store = tmp_path / "s"
    small_store(store)

    def change(m: dict[str, Any]) -> None:
        if key == "name":
            m["tokenizer"]["name"] = str(outside_vocab)
        else:
            m["tokenizer"]["name"], m["options"] = "no-such-name", {"tokenizer": str(outside_vocab)}

    edit(store, change)
    what = "tokenizer.name" if key == "name" else "options.tokenizer"
    with pytest.raises(ValueError, match=rf"manifest.json: {what} '{outside_vocab}' is not a built-in tokenizer name"):
        _ = TokenStore.open(store).tokenizer
