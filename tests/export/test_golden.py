"""Golden bytes: each format's files for the 3-document store, written out here byte for byte."""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.export.stores import DOCS, make_store, three_docs
from tokenmill.export import export
from tokenmill.export import litdata as litdata_format

TOKENS_LE16 = "01000200030050c404000500" "50c4060007000800" "09000a0050c4"  # the 13 IDs as <u2
# Megatron's own IndexedDatasetBuilder wrote these 102 bytes for the fixture (uint16, code 8).
MEGATRON_IDX = (
    "4d4d494449445800000100000000000000080300000000000000040000000000000004000000030000000600"
    "0000000000000000000008000000000000000e000000000000000000000000000000010000000000000002000000"
    "000000000300000000000000"
)


@pytest.fixture
def store(tmp_path):
    return three_docs(tmp_path / "store")


def test_nanogpt_is_the_raw_uint16_tokens(store, tmp_path):
    export(store, "nanogpt", tmp_path / "out")
    assert (tmp_path / "out" / "train.bin").read_bytes().hex() == TOKENS_LE16
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["tokenmill-export.json", "train.bin"]


def test_megatron_idx_and_bin_bytes(store, tmp_path):
    export(store, "megatron", tmp_path / "out")
    assert (tmp_path / "out" / "train_text_document.idx").read_bytes().hex() == MEGATRON_IDX
    assert (tmp_path / "out" / "train_text_document.bin").read_bytes().hex() == TOKENS_LE16


def test_megatron_prefix_names_the_pair(store, tmp_path):
    export(store, "megatron", tmp_path / "out", prefix="books")
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "books_text_document.bin", "books_text_document.idx", "tokenmill-export.json"]


def test_megatron_uint32_store_uses_the_int32_code(tmp_path):
    store = make_store(tmp_path / "s", {"train": [[[70000, 1], [2]]]}, dtype="uint32",
                       tokenizer={"name": "big", "max_token_value": 100000})
    export(store, "megatron", tmp_path / "out")
    idx = (tmp_path / "out" / "train_text_document.idx").read_bytes()
    assert idx[17] == 4 and len(idx) == 34 + 12 * 2 + 8 * 3
    assert np.frombuffer((tmp_path / "out" / "train_text_document.bin").read_bytes(), "<i4").tolist() == [70000, 1, 2]


def test_llmc_header_bytes_uint16(tmp_path):
    store = make_store(tmp_path / "s", {"train": [DOCS]}, policy="prepend")
    export(store, "llmc", tmp_path / "out")
    data = (tmp_path / "out" / "tokenmill_train_000000.bin").read_bytes()
    assert data[:12].hex() == "88d83401" "01000000" "0d000000" and data[12:1024] == bytes(1012)
    assert data[1024:].hex() == TOKENS_LE16 and len(data) == 1024 + 26


def test_llmc_header_bytes_uint32_version_7(tmp_path):
    store = make_store(tmp_path / "s", {"train": [[[1, 2, 3], [70000, 5]]]}, dtype="uint32", policy="prepend",
                       tokenizer={"name": "big", "max_token_value": 100000})
    export(store, "llmc", tmp_path / "out")
    data = (tmp_path / "out" / "tokenmill_train_000000.bin").read_bytes()
    assert data[:12].hex() == "a1d93401" "07000000" "05000000"
    assert np.frombuffer(data[1024:], "<u4").tolist() == [1, 2, 3, 70000, 5]


def test_llmc_val_shard_first_then_train_numbered_on(tmp_path):
    store = make_store(tmp_path / "s", {"train": [DOCS, DOCS], "val": [DOCS[:1]]}, policy="prepend")
    export(store, "llmc", tmp_path / "out", shard_tokens=10, name="fineweb")
    names = sorted(p.name for p in (tmp_path / "out").iterdir() if p.suffix == ".bin")
    assert names == ["fineweb_train_000001.bin", "fineweb_train_000002.bin", "fineweb_train_000003.bin",
                     "fineweb_val_000000.bin"]
    counts = [int(np.frombuffer((tmp_path / "out" / n).read_bytes()[8:12], "<i4")[0]) for n in names]
    assert counts == [10, 10, 6, 4]  # documents run on into the next shard, as fineweb.py cuts them


def test_datatrove_files(store, tmp_path):
    export(store, "datatrove", tmp_path / "out")
    out = tmp_path / "out"
    assert (out / "train.ds").read_bytes().hex() == TOKENS_LE16
    assert np.frombuffer((out / "train.ds.index").read_bytes(), "<u8").tolist() == [4, 7, 13]
    assert (out / "train.ds.metadata").read_bytes() == b"gpt2|2\n13\n13.0 T"


def test_litdata_chunks_are_multiples_of_the_block(store, tmp_path, monkeypatch):
    monkeypatch.setattr(litdata_format, "TARGET_CHUNK_TOKENS", 9)
    export(store, "litdata", tmp_path / "out", block_size=4)
    split = tmp_path / "out" / "train"
    index = json.loads((split / "index.json").read_text())
    assert [(c["filename"], c["dim"], c["chunk_bytes"]) for c in index["chunks"]] == [
        ("chunk-0-0.bin", 8, 28), ("chunk-0-1.bin", 5, 22)]
    assert index["config"]["data_format"] == ["no_header_numpy:5"] and index["config"]["item_loader"] == "TokensLoader"
    first = (split / "chunk-0-0.bin").read_bytes()
    assert first.hex() == "01000000" "0c000000" "1c000000" + TOKENS_LE16[:32]


def test_provenance_names_the_store_and_its_policy(store, tmp_path):
    record = export(store, "datatrove", tmp_path / "out")
    saved = json.loads((tmp_path / "out" / "tokenmill-export.json").read_text())
    assert saved == record
    assert saved["eot"] == {"policy": "append", "id": 50256} and saved["tokenizer"]["name"] == "gpt2"
    assert len(saved["store"]["manifest_sha256"]) == 64 and saved["checked"] is True
    assert set(saved["files"]) == {"train.ds", "train.ds.index", "train.ds.metadata"}
