"""Document layouts: pieces, the best-fit decreasing packing against its reference, figures."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tokenmill.loader.layouts import (
    crop_to_fit_dropped,
    document_layout,
    document_pieces,
    layout_figures,
    pack,
    pack_reference,
)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 12), st.lists(st.integers(1, 12), max_size=40))
def test_pack_is_the_reference_rule(capacity: int, raw: list[int]) -> None:
    lengths = [min(x, capacity) for x in raw]
    row, offset, n_rows = pack(np.array(lengths, np.int64), capacity)
    assert (row.tolist(), offset.tolist(), n_rows) == pack_reference(lengths, capacity)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 16), st.lists(st.integers(1, 16), max_size=40))
def test_packed_rows_hold_every_item_once_without_overlap(capacity: int, raw: list[int]) -> None:
    lengths = np.array([min(x, capacity) for x in raw], np.int64)
    row, offset, n_rows = pack(lengths, capacity)
    grid = np.zeros((n_rows, capacity), np.int64)
    for r, o, n in zip(row, offset, lengths):
        grid[r, o : o + n] += 1
    assert grid.max(initial=0) <= 1 and int(grid.sum()) == int(lengths.sum())
    # best fit never opens a row while another holds the item: rows are at least half full on average
    assert n_rows <= max(1, 2 * -(-int(lengths.sum()) // capacity))


def test_pack_golden_vector_and_tie_breaks() -> None:
    # capacity 5: 4 opens row 0, 3 opens row 1, 2 fits row 1 (free 2, the least), 1 fits row 0
    assert pack(np.array([2, 3, 1, 4]), 5)[0].tolist() == [1, 1, 0, 0]
    # two rows with free space 2: the one that has had it longest (row 0) takes the next 2
    row, offset, n = pack(np.array([3, 3, 2]), 5)
    assert (row.tolist(), offset.tolist(), n) == ([0, 1, 0], [0, 0, 3], 2)


def test_pack_refuses_items_longer_than_a_row() -> None:
    with pytest.raises(ValueError, match="lengths must be 1..4"):
        pack(np.array([5]), 4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), max_size=12), st.integers(1, 8), st.integers(1, 10))
def test_pieces_cover_each_document_and_chain(sizes: list[int], max_length: int, stride: int) -> None:
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    starts, lengths, cut = document_pieces(offsets, max_length, stride)
    k = 0
    for a, b in zip(offsets[:-1].tolist(), offsets[1:].tolist()):
        want, s = [], a
        while b > a:  # the obvious loop: pieces every stride until one reaches the end
            want.append((s, min(max_length + 1, b - s)))
            s += stride
            if s - stride + max_length + 1 >= b or s >= b:
                break
        got = list(zip(starts[k : k + len(want)].tolist(), lengths[k : k + len(want)].tolist()))
        assert got == want
        k += len(want)
    assert k == len(starts)
    assert cut == sum(1 for n in sizes if n > max_length + 1)


def test_packed_layout_cuts_long_documents_every_max_length() -> None:
    lay = document_layout(np.array([0, 10, 12]), windows="packed", max_length=4, stride=4)
    pieces = sorted(zip(lay.start.tolist(), lay.length.tolist()))
    assert pieces == [(0, 5), (4, 5), (8, 2), (10, 2)]  # each piece's last token starts the next
    assert lay.cut_documents == 1 and lay.n_rows == 3


def test_layout_figures_count_padding_and_what_cropping_drops() -> None:
    figures = layout_figures(np.array([0, 3, 10]), 3)
    assert figures["sliding_windows"] == 3 and figures["documents_windows"] == 3
    assert figures["cut_documents"] == 1 and figures["crop_to_fit_dropped"] == 3
    assert crop_to_fit_dropped(np.array([0, 100]), 9) == 90
    # documents: rows of 3, 4, 4 tokens -> inputs 3, 3, 3 of 9; packed puts 3 + ... likewise
    assert figures["documents_padding"] == pytest.approx(0.0)


def test_packing_many_documents_keeps_every_token_once_plus_the_chaining_ones() -> None:
    sizes = np.random.default_rng(0).integers(1, 3000, 10**5)
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    lay = document_layout(offsets, windows="packed", max_length=1024, stride=1024)
    assert int(lay.length.sum()) - (len(lay.length) - 10**5) == int(sizes.sum())
