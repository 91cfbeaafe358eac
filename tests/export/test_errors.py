"""Bad input: one error naming the file and the fix, and nothing half-written left behind."""

from __future__ import annotations

import numpy as np
import pytest

from tests.export.stores import DOCS, make_store, three_docs
from tokenmill.common.errors import OptionError
from tokenmill.export import export, import_store
from tokenmill.export import megatron as megatron_format


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".tmp"))


def uint32_store(path):
    return make_store(path, {"train": [[[70000, 1], [2]]]}, dtype="uint32",
                      tokenizer={"name": "big", "max_token_value": 100000})


def test_unknown_format(tmp_path):
    with pytest.raises(OptionError, match=r"format must be one of nanogpt, llmc, megatron, datatrove, litdata, "
                       r"parquet, got 'megatronn'"):
        export(three_docs(tmp_path / "s"), "megatronn", tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_nanogpt_refuses_a_uint32_store_and_says_why(tmp_path):
    with pytest.raises(ValueError, match=r"holds uint32 tokens .* nanoGPT's train.py reads uint16 only; export it "
                       "with --format megatron"):
        export(uint32_store(tmp_path / "s"), "nanogpt", tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_megatron_refuses_ids_above_int32(tmp_path):
    store = make_store(tmp_path / "s", {"train": [[[1, 2], [3_000_000_000]]]}, dtype="uint32",
                       tokenizer={"name": "huge", "max_token_value": 4_000_000_000})
    with pytest.raises(ValueError, match=r"train-00000-00000.bin holds token ID 3000000000, above Megatron's int32"):
        export(store, "megatron", tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []  # the .bin half-written: removed


def test_megatron_refuses_more_documents_than_int32(tmp_path, monkeypatch):
    monkeypatch.setattr(megatron_format, "INT32_MAX", 2)
    with pytest.raises(ValueError, match=r"holds 3 documents; Megatron indexes documents with int32 \(at most 2\)"):
        export(three_docs(tmp_path / "s"), "megatron", tmp_path / "out")
    assert leftovers(tmp_path) == []


def test_llmc_shard_limit(tmp_path):
    with pytest.raises(OptionError, match=r"shard_tokens must be below 2\*\*31"):
        export(three_docs(tmp_path / "s"), "llmc", tmp_path / "out", shard_tokens=1 << 31)


def test_output_directory_with_other_files_is_refused_and_kept(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(OptionError, match=r"out.* already holds files; name a new or empty directory"):
        export(three_docs(tmp_path / "s"), "datatrove", out)
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]


def test_an_empty_output_directory_is_used(tmp_path):
    (tmp_path / "out").mkdir()
    export(three_docs(tmp_path / "s"), "datatrove", tmp_path / "out")
    assert (tmp_path / "out" / "train.ds").is_file()


def test_llmc_export_warns_unless_eot_is_prepended(tmp_path):
    with pytest.warns(UserWarning, match=r"EOT policy 'append', but llm.c's loaders expect EOT before each document"):
        export(three_docs(tmp_path / "s"), "llmc", tmp_path / "out")


@pytest.fixture
def megatron_dir(tmp_path):
    export(three_docs(tmp_path / "s"), "megatron", tmp_path / "m")
    return tmp_path / "m"


def test_import_refuses_ids_beyond_the_named_tokenizer(tmp_path):
    (tmp_path / "src").mkdir()
    np.array([1, 60000, 50256], "<u2").tofile(tmp_path / "src" / "train.bin")
    with pytest.raises(ValueError, match=r"train.bin holds token ID 60000, beyond tokenizer 'gpt2' \(largest ID "
                       r"50256\); name the tokenizer that made these files with tokenizer"):
        import_store(tmp_path / "src", "nanogpt", tmp_path / "store", tokenizer="gpt2")
    assert not (tmp_path / "store").exists() and leftovers(tmp_path) == []


def test_import_truncated_idx(megatron_dir, tmp_path):
    idx = megatron_dir / "train_text_document.idx"
    idx.write_bytes(idx.read_bytes()[:-8])
    with pytest.raises(ValueError, match=r"train_text_document.idx has 94 bytes but its header says 102 .*truncated "
                       "or mislabelled; re-create it"):
        import_store(megatron_dir, "megatron", tmp_path / "store", tokenizer="gpt2")
    assert not (tmp_path / "store").exists()


def test_import_mislabelled_idx_dtype(megatron_dir, tmp_path):
    idx = megatron_dir / "train_text_document.idx"
    data = bytearray(idx.read_bytes())
    data[17] = 4  # says int32, the .bin holds uint16
    idx.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=r"train_text_document.bin has 26 bytes but .* describes 13 tokens of int32"):
        import_store(megatron_dir, "megatron", tmp_path / "store", tokenizer="gpt2")


def test_import_not_an_idx(megatron_dir, tmp_path):
    (megatron_dir / "train_text_document.idx").write_bytes(b"hello")
    with pytest.raises(ValueError, match=r"is not a Megatron index \(no MMIDIDX header\)"):
        import_store(megatron_dir, "megatron", tmp_path / "store", tokenizer="gpt2")


def test_import_missing_source(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"does not exist; give the directory"):
        import_store(tmp_path / "nope", "datatrove", tmp_path / "store", tokenizer="gpt2")


def test_import_wrong_format_for_the_files(megatron_dir, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"holds no datatrove files .*check --format"):
        import_store(megatron_dir, "datatrove", tmp_path / "store", tokenizer="gpt2")


def test_import_eot_only_for_formats_without_boundaries(megatron_dir, tmp_path):
    with pytest.raises(OptionError, match=r"eot applies to nanogpt and llmc files only"):
        import_store(megatron_dir, "megatron", tmp_path / "store", tokenizer="gpt2", eot="append")


def test_import_truncated_llmc_shard(tmp_path):
    store = make_store(tmp_path / "s", {"train": [DOCS]}, policy="prepend")
    export(store, "llmc", tmp_path / "l")
    shard = tmp_path / "l" / "tokenmill_train_000000.bin"
    shard.write_bytes(shard.read_bytes()[:-2])
    with pytest.raises(ValueError, match=r"tokenmill_train_000000.bin has 1048 bytes but its header says 13 tokens"):
        import_store(tmp_path / "l", "llmc", tmp_path / "store", tokenizer="gpt2")


def test_import_datatrove_index_that_does_not_match(tmp_path):
    export(three_docs(tmp_path / "s"), "datatrove", tmp_path / "d")
    np.array([4, 7, 12], "<u8").tofile(tmp_path / "d" / "train.ds.index")
    with pytest.raises(ValueError, match=r"train.ds.index does not match .*train.ds \(13 tokens\)"):
        import_store(tmp_path / "d", "datatrove", tmp_path / "store", tokenizer="gpt2")


def test_self_check_catches_a_wrong_write_and_leaves_nothing(tmp_path, monkeypatch):
    from tokenmill.export import megatron as megatron_format

    def off_by_one(store, split, out, start=0, count=None):
        out.write((np.asarray(store[split]) + 1).astype(store.dtype).tobytes())

    monkeypatch.setattr(megatron_format, "copy_tokens", off_by_one)
    with pytest.raises(RuntimeError, match=r"export self-check failed: .*train_text_document.bin differs from the "
                       r"store's split 'train' at token 0"):
        export(three_docs(tmp_path / "s"), "megatron", tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []


def test_first_difference_across_pieces():
    from tokenmill.export.run import _first_difference

    a = [np.array([1, 2]), np.array([], np.int64), np.array([3, 4, 5])]
    assert _first_difference(iter(a), iter([np.array([1, 2, 3, 4, 5])])) is None
    assert _first_difference(iter(a), iter([np.array([1, 2, 3]), np.array([9, 5])])) == 3
    assert _first_difference(iter(a), iter([np.array([1, 2, 3, 4])])) == 4
    assert _first_difference(iter([]), iter([np.array([1])])) == 0


def test_import_parquet_from_another_writer_checks_the_ids(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    (tmp_path / "p").mkdir()
    pq.write_table(pa.table({"input_ids": pa.array([[1, 2, 50256], [-1, 3]], type=pa.list_(pa.int64()))}),
                   tmp_path / "p" / "train.parquet")
    with pytest.raises(ValueError, match=r"train.parquet holds token ID -1, beyond tokenizer 'gpt2'"):
        import_store(tmp_path / "p", "parquet", tmp_path / "store", tokenizer="gpt2")
    pq.write_table(pa.table({"text": ["a"]}), tmp_path / "p" / "train.parquet")
    with pytest.raises(ValueError, match=r"train.parquet has no input_ids column \(columns: text\)"):
        import_store(tmp_path / "p", "parquet", tmp_path / "store", tokenizer="gpt2")


def test_import_parquet_int64_lists(tmp_path):
    pa = pytest.importorskip("pyarrow")
    import pyarrow.parquet as pq

    (tmp_path / "p").mkdir()
    pq.write_table(pa.table({"input_ids": pa.array(DOCS, type=pa.list_(pa.int64()))}), tmp_path / "p" / "val.parquet")
    store = import_store(tmp_path / "p", "parquet", tmp_path / "store", tokenizer="gpt2")
    assert store.splits == ("val",) and [d.tolist() for d in store.documents("val")] == DOCS
    assert store.dtype == np.dtype("<u2") and store.eot_policy == "append"


def test_import_datatrove_without_metadata_takes_the_size_from_the_tokenizer(tmp_path):
    export(three_docs(tmp_path / "s"), "datatrove", tmp_path / "d")
    (tmp_path / "d" / "train.ds.metadata").unlink()
    store = import_store(tmp_path / "d", "datatrove", tmp_path / "store", tokenizer="gpt2")
    assert [d.tolist() for d in store.documents()] == DOCS


def test_self_check_catches_wrong_document_ends(tmp_path, monkeypatch):
    from tokenmill.export import raw

    monkeypatch.setattr(raw, "split_ends", lambda store, split: iter([np.array([3, 7, 13])]))
    with pytest.raises(RuntimeError, match=r"the document boundaries in .*train.ds differ from the store's split"):
        export(three_docs(tmp_path / "s"), "datatrove", tmp_path / "out")
    assert not (tmp_path / "out").exists() and leftovers(tmp_path) == []
