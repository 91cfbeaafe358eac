"""Stores made by `tokenmill prepare` (task shards, a val split, each EOT policy): every format out and back."""

from __future__ import annotations

import numpy as np
import pytest

from tests.helpers import write_jsonl
from tokenmill.export import EXPORT_FORMATS, export, import_store
from tokenmill.export.options import IMPORT_FORMATS
from tokenmill.store import TokenStore

TEXTS = [f"Document {i}: " + "the quick brown fox jumps over the lazy dog. " * (i % 7 + 1) for i in range(60)]


@pytest.fixture(scope="module", params=["append", "prepend"])
def prepared(request, tmp_path_factory):
    from tokenmill import prepare

    tmp = tmp_path_factory.mktemp(f"prepared-{request.param}")
    corpus = write_jsonl(tmp / "corpus.jsonl", TEXTS)
    prepare([corpus], tmp / "store", workers=0, eot=request.param, val_fraction=0.2, shard_tokens=400)
    return TokenStore.open(tmp / "store"), request.param


@pytest.mark.parametrize("fmt", EXPORT_FORMATS)
def test_prepared_store_out_and_back(prepared, fmt, tmp_path):
    store, policy = prepared
    assert store.splits == ("train", "val") and len(store.manifest["splits"]["train"]["shards"]) > 1
    if fmt == "llmc" and policy == "append":
        with pytest.warns(UserWarning, match="expect EOT before each document"):
            export(store, fmt, tmp_path / "out")
    else:
        export(store, fmt, tmp_path / "out")
    if fmt not in IMPORT_FORMATS:
        return
    back = import_store(tmp_path / "out", fmt, tmp_path / "back", tokenizer="gpt2",
                        eot=policy if fmt in ("nanogpt", "llmc") else None)
    assert back.splits == store.splits
    for split in store.splits:
        assert np.array_equal(np.asarray(back[split]), np.asarray(store[split]))
        assert np.array_equal(back.document_offsets(split), store.document_offsets(split))
    assert back.eot_policy == policy and back.tokenizer_name == "gpt2"
    assert back.decode(0, 3) == store.decode(0, 3)
