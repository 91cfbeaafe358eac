"""create_dataloader over document layouts from a store: orders, ranks, resume, identity, bad input."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch

from tests.helpers import write_jsonl
from tokenmill import create_dataloader
from tokenmill.prepare import prepare
from tokenmill.store import TokenStore

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> TokenStore:
    rng = random.Random(0)
    texts = [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 90))) for _ in range(120)]
    tmp = tmp_path_factory.mktemp("docs")
    src = write_jsonl(tmp / "a.jsonl", texts)
    return prepare([src], tmp / "store", workers=0, shard_tokens=2000, progress=False)


def _documents(store: TokenStore) -> list[list[int]]:
    return [doc.tolist() for doc in store.documents("train")]


def _rows_of(batch: dict[str, torch.Tensor]) -> list[tuple[int, ...]]:
    return [tuple(r) for r in batch["input_ids"].tolist()]


@pytest.mark.parametrize("windows", ["documents", "packed"])
def test_a_store_and_its_documents_as_lists_give_the_same_rows(store: TokenStore, windows: str) -> None:
    a = create_dataloader(store, batch_size=4, max_length=32, windows=windows, return_dict=True, shuffle=False,
                          drop_last=False)
    b = create_dataloader(_documents(store), batch_size=4, max_length=32, windows=windows, return_dict=True,
                          shuffle=False, drop_last=False, pad_id=store.eot_id)
    for x, y in zip(a, b, strict=True):
        for key in ("input_ids", "labels", "position_ids", "document_ids", "cu_seqlens"):
            assert torch.equal(x[key], y[key]), key
    # the padding is the store's EOT ID, and every document boundary comes from its index
    pads = torch.cat([x["input_ids"][x["document_ids"] == -1] for x in a])
    assert pads.numel() and pads.unique().tolist() == [store.eot_id]


@pytest.mark.parametrize("windows", ["sliding", "documents", "packed"])
def test_ranks_split_the_global_batch_of_one_process(store: TokenStore, windows: str) -> None:
    one = create_dataloader(store, batch_size=8, max_length=16, windows=windows, return_dict=True, seed=3)
    ranks = [create_dataloader(store, batch_size=4, max_length=16, windows=windows, return_dict=True, seed=3,
                               rank=r, world_size=2) for r in (0, 1)]
    for whole, *parts in zip(one, *ranks):
        assert _rows_of(whole) == _rows_of(parts[0]) + _rows_of(parts[1])
    assert len(one.dataset) == len(ranks[0].dataset)


@pytest.mark.parametrize("windows", ["documents", "packed"])
def test_stateful_resume_and_set_epoch_over_the_new_windows(store: TokenStore, windows: str) -> None:
    def make() -> torch.utils.data.DataLoader:
        return create_dataloader(store, batch_size=4, max_length=16, windows=windows, return_dict=True, seed=5,
                                 stateful=True)

    a = make()
    a.sampler.set_epoch(1)
    it = iter(a)
    for _ in range(3):
        next(it)
    state = a.state_dict()
    rest = [_rows_of(b) for b in it]
    b = make()
    b.load_state_dict(state)
    b.sampler.set_epoch(1)
    assert [_rows_of(x) for x in b] == rest
    c = make()
    c.sampler.set_epoch(2)
    assert [_rows_of(x) for x in c] != [_rows_of(x) for x in make()]


def test_the_books_order_works_over_packed_rows(store: TokenStore) -> None:
    def epoch() -> list[list[tuple[int, ...]]]:
        torch.manual_seed(123)
        loader = create_dataloader(store, batch_size=4, max_length=16, windows="packed")
        return [[tuple(r) for r in inputs.tolist()] for inputs, _ in loader]

    first = epoch()
    assert first == epoch() and len(first) == len(create_dataloader(store, batch_size=4, max_length=16,
                                                                      windows="packed"))
    rows = {r for batch in first for r in batch}
    assert len(rows) > 4  # a shuffled, complete pass over distinct packed rows


def test_a_sliding_state_never_restores_into_a_packed_loader(store: TokenStore) -> None:
    sliding = create_dataloader(store, batch_size=2, max_length=16, seed=1, stateful=True)
    next(iter(sliding))
    packed = create_dataloader(store, batch_size=2, max_length=16, seed=1, stateful=True, windows="packed")
    with pytest.raises(ValueError, match="windows"):
        packed.load_state_dict(sliding.state_dict())
    with pytest.raises(ValueError, match="windows"):
        sliding.load_state_dict(packed.state_dict())
    # dict batches over the same sliding windows are the same windows: their state restores
    plain = create_dataloader(store, batch_size=2, max_length=16, seed=1, stateful=True, return_dict=True)
    plain.load_state_dict(sliding.state_dict())


def test_sliding_dict_batches_are_the_books_windows(store: TokenStore) -> None:
    torch.manual_seed(0)
    inputs, targets = next(iter(create_dataloader(store, batch_size=4, max_length=16)))
    torch.manual_seed(0)
    batch = next(iter(create_dataloader(store, batch_size=4, max_length=16, return_dict=True)))
    assert torch.equal(batch["input_ids"], inputs)
    keep = batch["labels"] != -100
    assert torch.equal(batch["labels"][keep], targets[keep])
    # the labels dropped are exactly where a target starts another document
    assert bool((inputs[~keep] == store.eot_id).all())


@pytest.mark.parametrize(
    ("source", "kwargs", "match"),
    [
        ("some text to train on", {"windows": "packed"}, r"needs document boundaries, which text has not"),
        ("some text to train on", {"return_dict": True}, r"return_dict=True.*TokenStore.open"),
        (list(range(50)), {"return_dict": True},
         r"windows='sliding' with return_dict=True needs document boundaries, which a list of token IDs has not"),
        (np.arange(50), {"windows": "documents"}, r"which a ndarray of token IDs has not.*list of documents"),
        ([[1, 2, 3]], {"windows": "Packed"}, r"windows='Packed' is not one of 'sliding', 'documents', 'packed'"),
        ([[1, 2, 3]], {"windows": "packed", "stride": 4}, r"stride=4 has no meaning"),
    ],
)
def test_bad_input_is_a_value_error_naming_the_value_and_the_fix(source, kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        create_dataloader(source, batch_size=1, max_length=4, **kwargs)


def test_a_list_of_token_lists_is_a_token_stream_for_sliding_tuples() -> None:
    loader = create_dataloader([[1, 2, 3], np.array([4, 5, 6])], batch_size=1, max_length=2, shuffle=False)
    assert [x.tolist() for x, _ in loader] == [[[1, 2]], [[3, 4]]]


def test_a_store_whose_index_disagrees_with_its_shards_is_refused(tmp_path) -> None:
    src = write_jsonl(tmp_path / "a.jsonl", ["one two three", "four five", "six seven eight nine"])
    out = tmp_path / "store"
    prepare([src], out, workers=0, progress=False)
    idx = next(out.glob("train-*.idx"))
    offsets = np.fromfile(idx, "<i8")
    offsets[1] = offsets[-1] + 5  # a document past the shard's end, the file size unchanged
    offsets.tofile(idx)
    with pytest.raises(ValueError, match=idx.name):
        create_dataloader(TokenStore.open(out), batch_size=1, max_length=4, windows="packed")


def test_document_datasets_pickle_for_loader_workers(store: TokenStore) -> None:
    import pickle

    for windows in ("sliding", "documents", "packed"):
        ds = create_dataloader(store, batch_size=2, max_length=16, windows=windows, return_dict=True).dataset
        ds.batch([0, 1])  # builds the cached strided view, which must not travel
        again = pickle.loads(pickle.dumps(ds))
        assert len(pickle.dumps(ds)) < 200_000
        for key in ("input_ids", "labels", "position_ids", "document_ids", "cu_seqlens"):
            assert torch.equal(again.batch([0, 3])[key], ds.batch([0, 3])[key])


def test_two_loader_workers_give_the_same_batches(store: TokenStore) -> None:
    def rows(workers: int) -> list[list[tuple[int, ...]]]:
        loader = create_dataloader(store, batch_size=4, max_length=16, windows="packed", return_dict=True, seed=2,
                                   num_workers=workers)
        return [_rows_of(b) for b in loader]

    assert rows(2) == rows(0)
