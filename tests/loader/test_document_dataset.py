"""DocumentDataset against a naive oracle: every token, position, segment and label of every row."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.loader.document_dataset import DocumentDataset
from tokenmill.loader.layouts import pack_reference

PAD = 9999


def _pieces(doc: list[int], max_length: int, stride: int) -> list[list[int]]:
    out, s = [], 0
    while doc:
        out.append(doc[s : s + max_length + 1])
        s += stride
        if s - stride + max_length + 1 >= len(doc) or s >= len(doc):
            break
    return out


def _row(pieces: list[list[int]], max_length: int) -> dict[str, list[int]]:
    """One row of max_length + 1 slots from pieces laid side by side, then its four fields."""
    tok, seg, pos = [], [], []
    for k, piece in enumerate(pieces):
        tok += piece
        seg += [k] * len(piece)
        pos += list(range(len(piece)))
    span = max_length + 1
    tok += [PAD] * (span - len(tok))
    seg += [-1] * (span - len(seg))
    pos += [0] * (span - len(pos))
    labels = [
        tok[i + 1] if seg[i] >= 0 and seg[i + 1] == seg[i] else -100 for i in range(max_length)
    ]
    return {"input_ids": tok[:-1], "labels": labels, "position_ids": pos[:-1], "document_ids": seg[:-1]}


def _oracle(docs: list[list[int]], windows: str, max_length: int, stride: int) -> list[dict[str, list[int]]]:
    pieces = [p for doc in docs for p in _pieces(doc, max_length, stride)]
    if windows == "documents":
        return [_row([p], max_length) for p in pieces]
    row_of, offset_of, n_rows = pack_reference([len(p) for p in pieces], max_length + 1)
    rows: list[list[tuple[int, list[int]]]] = [[] for _ in range(n_rows)]
    for p, r, o in zip(pieces, row_of, offset_of):
        rows[r].append((o, p))
    return [_row([p for _, p in sorted(row)], max_length) for row in rows]


docs_strategy = st.lists(st.lists(st.integers(0, 500), max_size=25), min_size=1, max_size=10).filter(
    lambda docs: any(docs)
)


@settings(max_examples=150, deadline=None)
@given(docs_strategy, st.sampled_from(["documents", "packed"]), st.integers(1, 9), st.integers(1, 9))
def test_every_field_of_every_row_is_the_oracles(docs, windows, max_length, stride) -> None:
    stride = max_length if windows == "packed" else stride
    ds = DocumentDataset(docs, windows=windows, max_length=max_length, stride=stride, pad_id=PAD, return_dict=True)
    want = _oracle(docs, windows, max_length, stride)
    assert len(ds) == len(want)
    got = ds.batch(list(range(len(ds))))
    for key in ("input_ids", "labels", "position_ids", "document_ids"):
        assert got[key].tolist() == [row[key] for row in want], key
    assert got["document_ids"].dtype.is_floating_point is False and str(got["document_ids"].dtype) == "torch.int32"
    # the tuple form: the same inputs, the targets are the labels
    inputs, targets = DocumentDataset(docs, windows=windows, max_length=max_length, stride=stride, pad_id=PAD).batch(
        list(range(len(ds)))
    )
    assert inputs.tolist() == got["input_ids"].tolist() and targets.tolist() == got["labels"].tolist()


@settings(max_examples=150, deadline=None)
@given(docs_strategy, st.integers(1, 6), st.integers(1, 6))
def test_sliding_dict_rows_reset_at_each_document_start(docs, max_length, stride) -> None:
    flat = [t for d in docs for t in d]
    starts_of = np.cumsum([0] + [len(d) for d in docs])
    doc_of = [int(np.searchsorted(starts_of, i, side="right") - 1) for i in range(len(flat))]
    if len(flat) <= max_length:
        return
    ds = DocumentDataset(docs, windows="sliding", max_length=max_length, stride=stride, return_dict=True)
    assert len(ds) == len(range(0, len(flat) - max_length, stride))
    got = ds.batch(list(range(len(ds))))
    for w, s in enumerate(range(0, len(flat) - max_length, stride)):
        seg = [doc_of[s + i] - doc_of[s] for i in range(max_length + 1)]
        pos = [s + i - max(int(starts_of[doc_of[s + i]]), s) for i in range(max_length)]
        labels = [flat[s + i + 1] if seg[i + 1] == seg[i] else -100 for i in range(max_length)]
        assert got["input_ids"][w].tolist() == flat[s : s + max_length]
        assert got["labels"][w].tolist() == labels
        assert got["position_ids"][w].tolist() == pos
        assert got["document_ids"][w].tolist() == seg[:-1]


def test_packed_golden_batch_with_batch_fields() -> None:
    docs = [[1, 2, 3], [4, 5], [6, 7, 8, 9, 10, 11, 12]]
    ds = DocumentDataset(docs, windows="packed", max_length=4, return_dict=True)
    b = ds.batch([0, 1, 2])
    # pieces [6..10] (a full row), then [1, 2, 3] and [10, 11, 12] (equal: document order), [4, 5]
    assert b["input_ids"].tolist() == [[6, 7, 8, 9], [1, 2, 3, 4], [10, 11, 12, 0]]
    assert b["labels"].tolist() == [[7, 8, 9, 10], [2, 3, -100, 5], [11, 12, -100, -100]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3], [0, 1, 2, 0], [0, 1, 2, 0]]
    assert b["document_ids"].tolist() == [[0, 0, 0, 0], [0, 0, 0, 1], [0, 0, 0, -1]]
    assert b["cu_seqlens"].tolist()[:6] == [0, 4, 7, 8, 11, 12] and len(b["cu_seqlens"]) == 13
    assert b["max_seqlen"] == 4 and b["num_items_in_batch"] == 9


def test_single_rows_and_negative_indices() -> None:
    ds = DocumentDataset([[1, 2, 3], [4, 5]], windows="documents", max_length=3)
    assert [t.tolist() for t in ds[-1]] == [[4, 5, 0], [5, -100, -100]]
    assert set(DocumentDataset([[1, 2]], windows="documents", max_length=3, return_dict=True)[0]) == {
        "input_ids", "labels", "position_ids", "document_ids",
    }
    with pytest.raises(IndexError, match="row index 2 is out of range for 2 rows"):
        ds.batch([2])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"windows": "stream"}, r"windows='stream' is not one of"),
        ({"windows": "packed", "stride": 2}, r"stride=2 has no meaning there"),
        ({"windows": "documents", "pad_id": -1}, r"pad_id"),
    ],
)
def test_bad_options_name_the_value_and_the_fix(kwargs, match) -> None:
    with pytest.raises(ValueError, match=match):
        DocumentDataset([[1, 2, 3]], **{"max_length": 4, **kwargs})


def test_sources_without_boundaries_are_refused_with_the_way_on() -> None:
    with pytest.raises(ValueError, match="document boundaries.*list of documents' token lists"):
        DocumentDataset([1, 2, 3, 4], windows="packed", max_length=2)
    with pytest.raises(ValueError, match="make no window|hold no token"):
        DocumentDataset([[], []], windows="documents", max_length=2)


@settings(max_examples=150, deadline=None)
@given(st.integers(1, 4), st.integers(1, 7), st.data())
def test_finish_batch_is_the_rule_of_the_decisions(rows, width, data) -> None:
    import torch

    from tokenmill.loader.batches import finish_batch

    doc = torch.tensor(data.draw(st.lists(st.lists(st.integers(-1, 2), min_size=width, max_size=width),
                                          min_size=rows, max_size=rows)), dtype=torch.int32)
    labels = torch.tensor(data.draw(st.lists(st.lists(st.sampled_from([-100, 1, 7]), min_size=width,
                                                      max_size=width), min_size=rows, max_size=rows)))
    out = finish_batch({"document_ids": doc, "labels": labels})
    cu, flat = [], 0  # the obvious loop: a segment is a run of equal IDs inside one row
    for row in doc.tolist():
        for i, d in enumerate(row):
            if i == 0 or d != row[i - 1]:
                cu.append(flat + i)
        flat += width
    lengths = [b - a for a, b in zip(cu, cu[1:] + [flat])]
    assert out["cu_seqlens"].tolist() == cu + [flat] * (rows * width + 1 - len(cu))
    assert out["cu_seqlens"].dtype == torch.int32 and out["max_seqlen"] == max(lengths)
    assert out["num_items_in_batch"] == int((labels != -100).sum())


class _ShardedStore:
    """What DocumentDataset reads of a token store, over shards cut anywhere (documents straddle them)."""

    splits = ("train",)
    eot_id = None

    def __init__(self, array, offsets) -> None:
        self._array, self._offsets = array, offsets

    def __getitem__(self, split):
        return self._array

    def document_offsets(self, split):
        return self._offsets


@settings(max_examples=100, deadline=None)
@given(docs_strategy, st.sampled_from(["sliding", "documents", "packed"]), st.integers(1, 9), st.integers(1, 9),
       st.data())
def test_any_rows_in_any_order_keep_their_fields_and_the_batch_fields(docs, windows, max_length, stride, data) -> None:
    import tempfile

    import torch

    from tokenmill.loader.batches import finish_batch
    from tokenmill.store import TokenArray, shard_name, write_shard

    stride = max_length if windows == "packed" else stride
    if windows == "sliding" and sum(map(len, docs)) <= max_length:
        return
    ds = DocumentDataset(docs, windows=windows, max_length=max_length, stride=stride, pad_id=PAD, return_dict=True)
    every = ds.batch(list(range(len(ds))))
    rows = data.draw(st.lists(st.integers(-len(ds), len(ds) - 1), min_size=1, max_size=12))
    got = ds.batch(rows)
    for key in ("input_ids", "labels", "position_ids", "document_ids"):
        assert got[key].tolist() == [every[key][r].tolist() for r in rows], key
    # the batch fields the dataset derives from its segments are finish_batch's scan of the rows
    want = finish_batch({"document_ids": got["document_ids"].clone(), "labels": got["labels"].clone()})
    assert torch.equal(got["cu_seqlens"], want["cu_seqlens"]) and got["cu_seqlens"].dtype == torch.int32
    assert (got["max_seqlen"], got["num_items_in_batch"]) == (want["max_seqlen"], want["num_items_in_batch"])
    # the same rows read from a store whose shards are cut anywhere
    flat = [t for d in docs for t in d]
    cuts = sorted(data.draw(st.lists(st.integers(0, len(flat)), max_size=4)))
    with tempfile.TemporaryDirectory() as d:
        paths, lengths = [], []
        for k, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(flat)])):
            write_shard(d, shard_name("train", k), np.array(flat[a:b], np.uint16), np.array([0, b - a]))
            paths.append(f"{d}/{shard_name('train', k)}.bin")
            lengths.append(b - a)
        offsets = np.cumsum([0] + [len(doc) for doc in docs]).astype(np.int64)
        store = _ShardedStore(TokenArray(paths, lengths, "uint16"), offsets)
        stored = DocumentDataset(store, windows=windows, max_length=max_length, stride=stride, pad_id=PAD,
                                 return_dict=True).batch(rows)
        for key in ("input_ids", "labels", "position_ids", "document_ids", "cu_seqlens"):
            assert torch.equal(stored[key], got[key]), key
