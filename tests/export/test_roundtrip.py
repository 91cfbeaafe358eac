"""import(export(store)) gives the same token stream and document index per split, for every format."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.export.stores import DOCS, EOT, make_store, random_docs
from tokenmill.export import base, export, import_store
from tokenmill.store import TokenStore

EXACT = ("megatron", "datatrove", "parquet")


def same_splits(a: TokenStore, b: TokenStore) -> None:
    assert a.splits == b.splits
    for split in a.splits:
        assert np.array_equal(np.asarray(a[split]), np.asarray(b[split])), split
        assert np.array_equal(a.document_offsets(split), b.document_offsets(split)), split


def layout(seed: int, *, prepend: bool = False) -> dict[str, list[list[list[int]]]]:
    rng = np.random.default_rng(seed)
    return {"train": [random_docs(rng, 30, prepend=prepend), random_docs(rng, 1, prepend=prepend),
                      random_docs(rng, 17, prepend=prepend)],
            "val": [random_docs(rng, 5, prepend=prepend)]}


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch):
    """Read in pieces of 7 tokens, so documents run across pieces as they do across 8M-token pieces."""
    monkeypatch.setattr(base, "CHUNK_TOKENS", 7)


@pytest.mark.parametrize("fmt", EXACT)
def test_exact_formats_round_trip(tmp_path, fmt):
    store = TokenStore.open(make_store(tmp_path / "s", layout(1)))
    export(store, fmt, tmp_path / "out")
    back = import_store(tmp_path / "out", fmt, tmp_path / "back", tokenizer="gpt2", shard_tokens=100)
    same_splits(store, back)
    assert back.manifest["boundaries"] == "exact" and back.eot_policy == "append"
    assert len(back.manifest["splits"]["train"]["shards"]) > 1  # the store's writer cut shards again
    back.verify()


def test_nanogpt_round_trip_infers_documents_from_the_appended_eot(tmp_path):
    store = TokenStore.open(make_store(tmp_path / "s", layout(2)))
    export(store, "nanogpt", tmp_path / "out")
    back = import_store(tmp_path / "out", "nanogpt", tmp_path / "back", tokenizer="gpt2")
    same_splits(store, back)
    assert back.manifest["boundaries"] == "inferred" and back.manifest["import"]["eot"] == "append"


def test_llmc_round_trip_infers_documents_from_the_prepended_eot(tmp_path):
    store = TokenStore.open(make_store(tmp_path / "s", layout(3, prepend=True), policy="prepend"))
    export(store, "llmc", tmp_path / "out", shard_tokens=50)  # documents run across llm.c shards
    back = import_store(tmp_path / "out", "llmc", tmp_path / "back", tokenizer="gpt2")
    same_splits(store, back)
    assert back.eot_policy == "prepend"


def test_megatron_prefix_imports_as_the_named_split(tmp_path):
    store = TokenStore.open(make_store(tmp_path / "s", {"train": [DOCS]}))
    export(store, "megatron", tmp_path / "out", prefix="books")
    back = import_store(tmp_path / "out" / "books_text_document", "megatron", tmp_path / "b", tokenizer="gpt2",
                        split="val")
    assert back.splits == ("val",) and [d.tolist() for d in back.documents("val")] == DOCS


def test_inferred_boundaries_keep_a_tail_without_eot(tmp_path):
    (tmp_path / "src").mkdir()
    np.array([5, EOT, 6, 7], "<u2").tofile(tmp_path / "src" / "train.bin")
    back = import_store(tmp_path / "src", "nanogpt", tmp_path / "b", tokenizer="gpt2")
    assert [d.tolist() for d in back.documents()] == [[5, EOT], [6, 7]]
    back = import_store(tmp_path / "src", "nanogpt", tmp_path / "c", tokenizer="gpt2", eot="prepend")
    assert [d.tolist() for d in back.documents()] == [[5], [EOT, 6, 7]]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    docs=st.lists(st.lists(st.integers(0, 50255), min_size=0, max_size=12), min_size=1, max_size=20),
    cut=st.integers(1, 20),
    fmt=st.sampled_from(EXACT),
)
def test_any_documents_round_trip_exactly(tmp_path_factory, docs, cut, fmt):
    """Empty documents, one shard or several: the document index comes back as it was."""
    tmp = tmp_path_factory.mktemp("rt")
    shards = [docs[i:i + cut] for i in range(0, len(docs), cut)]
    store = TokenStore.open(make_store(tmp / "s", {"train": shards}, policy="none"))
    export(store, fmt, tmp / "out")
    same_splits(store, import_store(tmp / "out", fmt, tmp / "back", tokenizer="gpt2", shard_tokens=5))
