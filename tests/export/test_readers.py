"""Each export opened by its own project's reader (skipped where that reader is not installed), every token compared.

megatron-core's IndexedDataset, litdata's StreamingDataset + TokensLoader, Hugging Face
datasets' parquet loader, datatrove's DatatroveFolderDataset, and nanoGPT's get_batch and
modded-nanogpt's shard loader restated (neither is a package).
"""

from __future__ import annotations

import numpy as np
import pytest

from tests.export.stores import make_store, random_docs
from tokenmill.export import export
from tokenmill.export import litdata as litdata_format
from tokenmill.export.raw import metric
from tokenmill.store import TokenStore


@pytest.fixture
def store(tmp_path):
    rng = np.random.default_rng(7)
    splits = {"train": [random_docs(rng, 40), random_docs(rng, 25)], "val": [random_docs(rng, 9)]}
    return TokenStore.open(make_store(tmp_path / "store", splits))


def test_megatron_indexed_dataset(store, tmp_path):
    indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    export(store, "megatron", tmp_path / "out")
    for split in store.splits:
        ds = indexed.IndexedDataset(str(tmp_path / "out" / f"{split}_text_document"), multimodal=False, mmap=True)
        docs = [d.tolist() for d in store.documents(split)]
        assert len(ds) == len(docs) and [ds[i].tolist() for i in range(len(ds))] == docs
        assert ds[0].dtype == np.uint16 and list(ds.document_indices) == list(range(len(docs) + 1))


def test_megatron_indexed_dataset_reads_a_uint32_store_as_int32(tmp_path):
    indexed = pytest.importorskip("megatron.core.datasets.indexed_dataset")
    store = make_store(tmp_path / "s", {"train": [[[70000, 1], [2, 99999, 3]]]}, dtype="uint32",
                       tokenizer={"name": "big", "max_token_value": 100000})
    export(store, "megatron", tmp_path / "out")
    ds = indexed.IndexedDataset(str(tmp_path / "out" / "train_text_document"))
    assert [ds[i].tolist() for i in range(len(ds))] == [[70000, 1], [2, 99999, 3]] and ds[0].dtype == np.int32


def test_litdata_streaming_dataset_tokens_loader(store, tmp_path, monkeypatch):
    litdata = pytest.importorskip("litdata")
    from litdata.streaming.item_loader import TokensLoader

    block = 17
    monkeypatch.setattr(litdata_format, "TARGET_CHUNK_TOKENS", 200)  # several chunks: blocks never cut at their ends
    export(store, "litdata", tmp_path / "out", block_size=block)
    for split in store.splits:
        ds = litdata.StreamingDataset(input_dir=str(tmp_path / "out" / split), item_loader=TokensLoader(block_size=block),
                                      shuffle=False, drop_last=False)
        tokens = np.asarray(store[split])
        whole = len(tokens) // block * block  # only the final remainder, shorter than a block, is not read
        assert len(ds) == len(tokens) // block
        assert np.concatenate([np.asarray(ds[i]) for i in range(len(ds))]).tolist() == tokens[:whole].tolist()


def test_hf_datasets_load_parquet(store, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    datasets = pytest.importorskip("datasets")
    export(store, "parquet", tmp_path / "out")
    files = {s: str(tmp_path / "out" / f"{s}.parquet") for s in store.splits}
    for split in store.splits:
        ds = datasets.load_dataset("parquet", data_files=files, split=split, cache_dir=str(tmp_path / "hf"))
        assert ds.features["input_ids"].feature.dtype == "uint16"
        assert ds["input_ids"][:] == [d.tolist() for d in store.documents(split)]


def test_datatrove_folder_dataset(store, tmp_path):
    dataset = pytest.importorskip("datatrove.utils.dataset")
    export(store, "datatrove", tmp_path / "out")
    seq_len = 9
    for split in store.splits:
        ds = dataset.DatatroveFolderDataset(str(tmp_path / "out"), seq_len=seq_len, filename_pattern=f"{split}.ds",
                                            token_size=2, shuffle=False, return_positions=True)
        tokens = np.asarray(store[split])
        n = len(tokens) // (seq_len + 1)
        assert len(ds) == n
        items = [ds[i] for i in range(n)]
        assert sum((it["input_ids"].tolist() for it in items), []) == tokens[: n * (seq_len + 1)].tolist()
        # positions restart after each document end read from the .ds.index
        starts = set(store.document_offsets(split).tolist())
        for i, it in enumerate(items):
            for j, p in enumerate(it["positions"].tolist()[1:], start=1):
                assert (p == 0) == (i * (seq_len + 1) + j in starts)


def test_datatrove_metadata_line_matches_humanize():
    humanize = pytest.importorskip("humanize")
    for value in (0, 7, 13, 999, 1000, 9_995, 99_950, 999_999, 1_234_567, 25_000_000_000, 10**15):
        assert metric(value, "T") == humanize.metric(value, unit="T"), value


def test_nanogpt_get_batch(store, tmp_path):
    torch = pytest.importorskip("torch")
    export(store, "nanogpt", tmp_path / "out")
    block_size, batch_size = 8, 4
    for split in store.splits:
        # train.py's get_batch, restated: a fresh memmap each call, int64 (B, T) inputs and shifted targets
        data = np.memmap(tmp_path / "out" / f"{split}.bin", dtype=np.uint16, mode="r")
        assert np.array_equal(data, np.asarray(store[split]))
        ix = torch.randint(len(data) - block_size, (batch_size,), generator=torch.Generator().manual_seed(0))
        x = torch.stack([torch.from_numpy(data[i:i + block_size].astype(np.int64)) for i in ix])
        y = torch.stack([torch.from_numpy(data[i + 1:i + 1 + block_size].astype(np.int64)) for i in ix])
        tokens = np.asarray(store[split]).astype(np.int64)
        for row, i in enumerate(ix.tolist()):
            assert x[row].tolist() == tokens[i:i + block_size].tolist()
            assert y[row].tolist() == tokens[i + 1:i + 1 + block_size].tolist()


def test_modded_nanogpt_shard_loader(tmp_path):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    store = TokenStore.open(make_store(tmp_path / "s", {"train": [random_docs(rng, 30, prepend=True)],
                                                        "val": [random_docs(rng, 5, prepend=True)]}, policy="prepend"))
    export(store, "llmc", tmp_path / "out", shard_tokens=150, name="fineweb")
    shards = sorted((tmp_path / "out").glob("fineweb_*.bin"))
    assert shards[-1].name == "fineweb_val_000000.bin"
    for split in store.splits:
        got = []
        for path in sorted((tmp_path / "out").glob(f"fineweb_{split}_*.bin")):
            # modded-nanogpt's _load_data_shard, restated
            header = torch.from_file(str(path), False, 256, dtype=torch.int32)
            assert int(header[0]) == 20240520 and int(header[1]) == 1
            n = int(header[2])
            tokens = torch.empty(n, dtype=torch.uint16)
            with path.open("rb", buffering=0) as f:
                f.seek(256 * 4)
                assert f.readinto(tokens.numpy()) == 2 * n
            got += tokens.tolist()
        assert got == np.asarray(store[split]).tolist()
        assert got[0] == 50256  # every document, the first included, starts with BOS as llm.c expects
