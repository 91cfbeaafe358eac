"""truncate() on lists, numpy arrays and tensors, and InputEmbedding's overflow policies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.embeddings import InputEmbedding
from tokenmill.tokenizers.truncate import truncate


def expected_row(row: list[int], context_length: int, keep: str) -> list[int]:
    """Oracle: the slice truncate must keep, spelled out with explicit indices."""
    n = len(row)
    if n <= context_length:
        return list(row)
    start = n - context_length if keep == "last" else 0
    return [row[i] for i in range(start, start + context_length)]


def test_import_then_truncate_a_list() -> None:
    import tokenmill.embeddings as embeddings

    assert embeddings.truncate([1, 2, 3], 2) == [2, 3]


def test_golden() -> None:
    ids = [40, 367, 2885, 1464, 1807, 3619]
    assert truncate(ids, 4) == [2885, 1464, 1807, 3619]
    assert truncate(ids, 4, keep="first") == [40, 367, 2885, 1464]
    assert truncate(ids, 100) == ids


rows = st.lists(st.integers(0, 50256), max_size=12)
keeps = st.sampled_from(["last", "first"])
lengths = st.integers(1, 15)


@settings(max_examples=80, deadline=None)
@given(row=rows, context_length=lengths, keep=keeps)
def test_flat_inputs(row: list[int], context_length: int, keep: str) -> None:
    want = expected_row(row, context_length, keep)
    got = truncate(row, context_length, keep=keep)
    assert type(got) is list and got == want
    assert got is not row  # lists come back new, never aliased
    array = np.array(row, dtype=np.int64)
    got_np = truncate(array, context_length, keep=keep)
    assert isinstance(got_np, np.ndarray) and got_np.tolist() == want
    assert got_np.size == 0 or np.shares_memory(got_np, array)  # a view, not a copy
    tensor = torch.tensor(row, dtype=torch.long)
    got_t = truncate(tensor, context_length, keep=keep)
    assert isinstance(got_t, torch.Tensor) and got_t.tolist() == want
    assert got_t.untyped_storage().data_ptr() == tensor.untyped_storage().data_ptr()
    if len(row) <= context_length:  # short input comes back unchanged
        assert got == row and np.array_equal(got_np, array) and torch.equal(got_t, tensor)


@settings(max_examples=80, deadline=None)
@given(
    batch=st.integers(0, 4), seq_len=st.integers(0, 12), context_length=lengths, keep=keeps,
    data=st.data(),
)
def test_batched_inputs(
    batch: int, seq_len: int, context_length: int, keep: str, data: st.DataObject
) -> None:
    ids = data.draw(st.lists(st.lists(st.integers(0, 99), min_size=seq_len, max_size=seq_len),
                             min_size=batch, max_size=batch))
    want = [expected_row(row, context_length, keep) for row in ids]
    assert truncate(ids, context_length, keep=keep) == want
    array = np.array(ids, dtype=np.int32).reshape(batch, seq_len)
    got_np = truncate(array, context_length, keep=keep)
    assert got_np.shape == (batch, min(seq_len, context_length)) and got_np.tolist() == want
    tensor = torch.tensor(array)
    got_t = truncate(tensor, context_length, keep=keep)
    assert got_t.shape == (batch, min(seq_len, context_length)) and got_t.tolist() == want
    if seq_len <= context_length:
        assert np.array_equal(got_np, array) and torch.equal(got_t, tensor)


def test_ragged_list_of_lists() -> None:
    assert truncate([[1, 2, 3, 4], [5], []], 2) == [[3, 4], [5], []]


def test_tensor_result_is_a_view() -> None:
    tensor = torch.arange(10).reshape(2, 5)
    view = truncate(tensor, 3)
    view[0, 0] = -1
    assert tensor[0, 2] == -1


@pytest.mark.parametrize(
    ("ids", "kwargs", "error", "pattern"),
    [
        ([1, 2], {"context_length": 0}, ValueError, "context_length must be >= 1, got 0"),
        ([1, 2], {"context_length": 2.5}, TypeError, "context_length must be an int"),
        ([1, 2], {"context_length": 2, "keep": "middle"}, ValueError,
         r"keep='middle' is not one of \('last', 'first'\)"),
        ((1, 2), {"context_length": 2}, TypeError, "builtins.tuple"),
        ("abc", {"context_length": 2}, TypeError, "builtins.str"),
        ([1, [2]], {"context_length": 2}, TypeError, "mixing IDs and lists"),
        ([[[1]]], {"context_length": 2}, ValueError, "nested 3 deep"),
        (np.zeros((1, 2, 3)), {"context_length": 2}, ValueError, r"got shape \(1, 2, 3\)"),
        (torch.tensor(5), {"context_length": 2}, ValueError, r"got shape \(\)"),
    ],
)
def test_bad_arguments(ids: object, kwargs: dict, error: type, pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        truncate(ids, **kwargs)


# --- InputEmbedding overflow ----------------------------------------------------------------


def test_overflow_error_names_both_lengths_and_the_fixes() -> None:
    emb = InputEmbedding(100, 8, 4)
    with pytest.raises(ValueError, match=r"seq_len=6 .*context_length=4") as info:
        emb(torch.arange(6)[None])
    message = str(info.value)
    assert "tokenmill.truncate" in message and 'overflow="keep_last"' in message


@pytest.mark.parametrize("positional", ["learned", "sinusoidal", "none"])
@pytest.mark.parametrize(("overflow", "keep"), [("keep_last", "last"), ("keep_first", "first")])
@pytest.mark.parametrize("extra", [1, 5])
def test_overflow_keep_equals_embedding_the_kept_tokens(
    positional: str, overflow: str, keep: str, extra: int
) -> None:
    context_length = 4
    torch.manual_seed(7)
    emb = InputEmbedding(100, 8, context_length, positional=positional, overflow=overflow)
    ids = torch.randint(0, 100, (3, context_length + extra))  # (batch, context_length + extra)
    kept = ids[:, -context_length:] if keep == "last" else ids[:, :context_length]
    message = f"seq_len={context_length + extra} exceeds context_length=4"
    with pytest.warns(UserWarning, match=message):
        out = emb(ids)
    assert out.shape == (3, context_length, 8)
    assert torch.equal(out, emb(kept))
    assert emb.dropped_tokens == 3 * extra


def test_overflow_warns_once_per_module() -> None:
    ids = torch.arange(10)[None]
    first = InputEmbedding(100, 8, 4, overflow="keep_last")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(3):
            first(ids)
        second = InputEmbedding(100, 8, 4, overflow="keep_last")
        second(ids)
        second(ids)
    assert len(caught) == 2  # one per instance, not one per call
    assert first.dropped_tokens == 18 and second.dropped_tokens == 12


def test_overflow_does_not_warn_for_short_input() -> None:
    emb = InputEmbedding(100, 8, 4, overflow="keep_last")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        emb(torch.arange(4)[None])
    assert emb.dropped_tokens == 0


def test_out_of_range_ids_in_the_dropped_part_still_raise() -> None:
    # Nothing silently dropped: a bad ID is a bug upstream even if truncation would cut it.
    emb = InputEmbedding(100, 8, 4, overflow="keep_last")
    with pytest.raises(ValueError, match="token ID 500"):
        emb(torch.tensor([[500, 1, 2, 3, 4]]))
