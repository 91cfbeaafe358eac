"""WindowBatchSampler: torch's order and RNG draws, without a list of indices."""

from __future__ import annotations

import itertools
import tracemalloc
from pathlib import Path
from typing import Any

import numpy as np
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from torch.utils.data import BatchSampler, RandomSampler, SequentialSampler

from tokenmill.loader.book_sampler import WindowBatchSampler
from tokenmill.loader.dataloader import create_dataloader


@settings(max_examples=80, deadline=None)
# A partial last batch: torch's sampler runs out (and draws again) before it is yielded.
@example(n=13, batch_size=4, drop_last=False, shuffle=True, own_generator=True, taken=4, seed=0)
@example(n=12, batch_size=4, drop_last=False, shuffle=True, own_generator=True, taken=3, seed=0)
@example(n=13, batch_size=4, drop_last=True, shuffle=True, own_generator=True, taken=3, seed=0)
@given(
    n=st.integers(1, 120),
    batch_size=st.integers(1, 40),
    drop_last=st.booleans(),
    shuffle=st.booleans(),
    own_generator=st.booleans(),
    taken=st.integers(0, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_sampler_order_and_rng_draws_are_torchs(
    n: int, batch_size: int, drop_last: bool, shuffle: bool, own_generator: bool, taken: int,
    seed: int,
) -> None:
    def run(make: Any) -> tuple[list[Any], torch.Tensor, torch.Tensor | None, int]:
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed ^ 1) if own_generator else None
        sampler = make(gen)
        # Two whole epochs, then a few batches of a third (draws happen at the first batch).
        order = [[np.asarray(b).tolist() for b in sampler] for _ in range(2)]
        order.append([np.asarray(b).tolist() for b in itertools.islice(sampler, taken)])
        return order, torch.get_rng_state(), None if gen is None else gen.get_state(), len(sampler)

    def torchs(gen: torch.Generator | None) -> BatchSampler:
        base = RandomSampler(range(n), generator=gen) if shuffle else SequentialSampler(range(n))
        return BatchSampler(base, batch_size, drop_last)

    ours = run(lambda gen: WindowBatchSampler(
        n, batch_size, shuffle=shuffle, drop_last=drop_last, generator=gen
    ))
    theirs = run(torchs)
    assert ours[0] == theirs[0]
    assert torch.equal(ours[1], theirs[1])
    assert (ours[2] is None) == (theirs[2] is None)
    assert ours[2] is None or torch.equal(ours[2], theirs[2])
    assert ours[3] == theirs[3]
    for batch in WindowBatchSampler(n, batch_size, shuffle=shuffle, drop_last=drop_last):
        assert isinstance(batch, np.ndarray) and batch.dtype == np.int64


def test_stride_1_loader_over_a_large_memmap_builds_no_list_of_indices(tmp_path: Path) -> None:
    n = 5_000_000
    path = tmp_path / "big.bin"
    (np.arange(n) % 50_000).astype(np.uint16).tofile(path)
    loader = create_dataloader(
        np.memmap(path, dtype=np.uint16, mode="r"), batch_size=8, max_length=64, stride=1
    )
    assert len(loader.dataset) == n - 64
    torch.manual_seed(0)
    tracemalloc.start()
    try:
        inputs, targets = next(iter(loader))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # RandomSampler's randperm(n).tolist() would hold 40 MB of list pointers alone, plus a
    # 28-byte int object per window; the permutation here is one int64 tensor, which torch
    # allocates outside Python's allocator, and each batch is a view of it.
    assert peak < 2_000_000, peak
    assert inputs.shape == targets.shape == (8, 64)
    assert torch.equal(inputs[:, 1:], targets[:, :-1])
    steps = (inputs[:, 1:] - inputs[:, :-1]) % 50_000  # (8, 63) consecutive tokens of the file
    assert torch.equal(steps, torch.ones(8, 63, dtype=torch.int64))
