"""The seeded order: the global-batch contract, set_epoch, exact and elastic resume, bad input."""

from __future__ import annotations

import sys
import time
import tracemalloc
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.utils.data import DataLoader

from tokenmill.loader.book_sampler import WindowBatchSampler
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.permutation import Permutation, permutation_reference
from tokenmill.loader.seeded_sampler import SeededBatchSampler

STRIDE = 3


def tokens_for(n_windows: int) -> np.ndarray:
    """Tokens whose window i starts with token i * STRIDE: a batch shows its window indices."""
    return np.arange(n_windows * STRIDE + 1, dtype=np.int64)


def loader(n_windows: int, **kwargs: Any) -> Any:
    kwargs.setdefault("seed", 11)
    return create_dataloader(tokens_for(n_windows), max_length=STRIDE, stride=STRIDE, **kwargs)


def windows_of(batch: list[torch.Tensor]) -> list[int]:
    return (batch[0][:, 0] // STRIDE).tolist()


def global_batches(loaders: list[Any], epoch: int | None = None) -> list[list[int]]:
    """Step the ranks' loaders together; each step's batches concatenated in rank order."""
    if epoch is not None:
        for one in loaders:
            one.sampler.set_epoch(epoch)
    its, out = [iter(one) for one in loaders], []
    while True:
        parts = [next(it, None) for it in its]
        if all(p is None for p in parts):
            return out
        out.append(sum((windows_of(p) for p in parts if p is not None), []))


def contract(n: int, B: int, seed: int, epoch: int, drop_last: bool) -> list[list[int]]:
    """The issue's contract, from the reference permutation: global batch g = positions [g*B, (g+1)*B)."""
    end = n - n % B if drop_last else n
    order = [permutation_reference(k, n, seed=seed, epoch=epoch) for k in range(end)]
    return [order[g : g + B] for g in range(0, end, B)]


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 120), batch_size=st.integers(1, 6), world_size=st.integers(1, 4),
    seed=st.integers(0, 2**64 - 1), epoch=st.integers(0, 5), drop_last=st.booleans(),
)
def test_global_batches_follow_the_contract_at_any_world_size(
    n: int, batch_size: int, world_size: int, seed: int, epoch: int, drop_last: bool
) -> None:
    B = batch_size * world_size
    if (drop_last and n < B) or (not drop_last and n <= (world_size - 1) * batch_size):
        with pytest.raises(ValueError, match="no full global batch|no window at all"):
            loader(n, batch_size=batch_size, world_size=world_size, rank=0, seed=seed, drop_last=drop_last)
        return
    ranks = [
        loader(n, batch_size=batch_size, rank=r, world_size=world_size, seed=seed, drop_last=drop_last)
        for r in range(world_size)
    ]
    got = global_batches(ranks, epoch)
    assert got == contract(n, B, seed, epoch, drop_last)
    seen = sum(got, [])
    assert len(seen) == len(set(seen))  # each window at most once, never a repeat to pad
    if not drop_last:
        assert sorted(seen) == list(range(n))  # and exactly once
    # The same B in one process gives the same global batches: B's division does not matter.
    assert global_batches([loader(n, batch_size=B, seed=seed, drop_last=drop_last)], epoch) == got
    for one in ranks:
        assert len(one) == len([b for b in global_batches([one], epoch)])
        assert one.batch_size == batch_size and one.drop_last == drop_last


def test_partial_last_global_batch_is_divided_the_same_way() -> None:
    # 10 windows, 3 ranks of 2: global batches of 6; the last has 4 windows: 2, 2 and none.
    ranks = [loader(10, batch_size=2, rank=r, world_size=3, drop_last=False) for r in range(3)]
    sizes = [[len(windows_of(b)) for b in one] for one in ranks]
    assert sizes == [[2, 2], [2, 2], [2]]
    assert [len(one) for one in ranks] == [2, 2, 1]
    ranks = [loader(11, batch_size=2, rank=r, world_size=3, drop_last=False) for r in range(3)]
    assert [[len(windows_of(b)) for b in one] for one in ranks] == [[2, 2], [2, 2], [2, 1]]


def test_set_epoch_changes_the_order_and_an_unset_epoch_repeats() -> None:
    one = loader(50, batch_size=5)
    first, again = global_batches([one]), global_batches([one])
    assert first == again == contract(50, 5, 11, 0, True)
    one.sampler.set_epoch(1)
    assert global_batches([one]) == contract(50, 5, 11, 1, True) != first
    assert one.sampler.epoch == 1


def test_default_order_is_still_the_books() -> None:
    plain = create_dataloader(tokens_for(20), max_length=STRIDE, stride=STRIDE, batch_size=4)
    assert type(plain.sampler) is WindowBatchSampler
    torch.manual_seed(123)
    a = global_batches([plain])
    torch.manual_seed(123)
    want = [b.tolist() for b in DataLoader(list(range(20)), batch_size=4, shuffle=True, drop_last=True)]
    assert a == want
    assert type(loader(20, batch_size=4).sampler) is SeededBatchSampler
    # One training loop serves both orders: set_epoch is accepted and changes nothing here.
    plain.sampler.set_epoch(3)
    torch.manual_seed(123)
    assert global_batches([plain]) == want


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_is_exact_and_replays_nothing(num_workers: int) -> None:
    pytest.importorskip("torchdata")
    full = global_batches([loader(200, batch_size=8, drop_last=False)], epoch=2)
    a = loader(200, batch_size=8, drop_last=False, stateful=True, num_workers=num_workers)
    a.sampler.set_epoch(2)
    it = iter(a)
    head = [windows_of(next(it)) for _ in range(7)]
    state = a.state_dict()
    b = loader(200, batch_size=8, drop_last=False, stateful=True, num_workers=2 - num_workers)
    b.load_state_dict(state)
    b.sampler.set_epoch(2)  # the training loop's call keeps the restored position
    rest = [windows_of(x) for x in b]
    assert head + rest == full and len(rest) == len(full) - 7
    # The epoch after the restored one starts from its beginning.
    b.sampler.set_epoch(3)
    assert [windows_of(x) for x in b] == global_batches([loader(200, batch_size=8, drop_last=False)], epoch=3)


def test_elastic_resume_world_size_4_to_2_and_1() -> None:
    pytest.importorskip("torchdata")
    n, seed = 301, 5
    full = global_batches([loader(n, batch_size=16, seed=seed, drop_last=False)], epoch=1)
    four = [loader(n, batch_size=4, rank=r, world_size=4, seed=seed, drop_last=False, stateful=True) for r in range(4)]
    for one in four:
        one.sampler.set_epoch(1)
    its = [iter(one) for one in four]
    for step in range(6):
        assert sum((windows_of(next(it)) for it in its), []) == full[step]
    saved = four[3].state_dict()  # any rank's state: the global position
    for world_size, batch_size in ((2, 8), (1, 16), (4, 4)):
        job = [
            loader(n, batch_size=batch_size, rank=r, world_size=world_size, seed=seed, drop_last=False, stateful=True)
            for r in range(world_size)
        ]
        for one in job:
            one.load_state_dict(saved)
        rest = global_batches(job)
        assert rest == full[6:], world_size
        assert sorted(sum(full[:6] + rest, [])) == list(range(n))


def test_sampler_state_alone_restores_a_plain_loader() -> None:
    full = global_batches([loader(100, batch_size=4)])
    a = loader(100, batch_size=2, rank=1, world_size=2)
    it = iter(a)
    for _ in range(5):
        next(it)
    state = a.sampler.state_dict()
    assert state["next_global_batch"] == 5 and state["windows_done"] == 20
    assert sys.getsizeof(repr(state)) < 2000  # a few ints, whatever the window count
    b = loader(100, batch_size=4)
    b.sampler.load_state_dict(state)
    assert global_batches([b]) == full[5:]


def test_load_state_and_first_batch_at_step_a_million_is_immediate() -> None:
    n, batch_size = 10**10, 8
    sampler = SeededBatchSampler(n, batch_size, seed=3, rank=1, world_size=2)
    state = sampler.state_dict() | {"next_global_batch": 10**6, "epoch": 4}
    tracemalloc.start()
    try:
        t0 = time.perf_counter()
        sampler.load_state_dict(state)
        batch = next(iter(sampler))
        seconds = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    first = 10**6 * 16 + 8  # rank 1's slice of global batch 10**6
    assert batch.tolist() == [permutation_reference(first + j, n, seed=3, epoch=4) for j in range(8)]
    assert peak < 1 << 20  # order memory at 10**10 windows: under 1 MB
    assert seconds < 5  # a replay of a million batches would take minutes (not a timing test)


def test_ranks_default_to_one_process_and_seed_is_required_for_more() -> None:
    one = loader(20, batch_size=2, seed=None)
    assert isinstance(one.sampler, WindowBatchSampler)
    with pytest.raises(ValueError, match="world_size=2 > 1 needs seed="):
        loader(20, batch_size=2, seed=None, rank=0, world_size=2)
    sequential = loader(20, batch_size=2, seed=None, rank=1, world_size=2, shuffle=False)
    assert global_batches([sequential]) == [[2, 3], [6, 7], [10, 11], [14, 15], [18, 19]]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rank": 2, "world_size": 2}, ValueError, "rank=2 is out of range for world_size=2; ranks are 0 to 1"),
        ({"rank": -1, "world_size": 2}, ValueError, "rank must be >= 0, got -1"),
        ({"rank": 0, "world_size": 0}, ValueError, "world_size must be >= 1, got 0"),
        ({"rank": 0, "world_size": -3}, ValueError, "world_size must be >= 1, got -3"),
        ({"rank": 0.0, "world_size": 2}, TypeError, "rank must be an int, got float"),
        ({"seed": -5}, ValueError, "seed must be >= 0, got -5"),
        ({"generator": torch.Generator()}, ValueError, "pass seed= or generator=, not both"),
        ({"batch_size": 5, "world_size": 6, "rank": 0, "drop_last": False}, ValueError,
         "leave 1 of the world_size=6 ranks with no window at all"),
        ({"batch_size": 5, "world_size": 6, "rank": 0}, ValueError,
         "drop_last=True drops every batch: 21 windows make no full global batch of batch_size=5 x world_size=6 = 30"),
    ],
)
def test_bad_ranks_and_seeds_are_refused(kwargs: dict, error: type, match: str) -> None:
    kwargs.setdefault("batch_size", 2)
    with pytest.raises(error, match=match):
        loader(21, **kwargs)


def test_stateful_without_torchdata_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torchdata", None)
    monkeypatch.setitem(sys.modules, "torchdata.stateful_dataloader", None)
    monkeypatch.delitem(sys.modules, "tokenmill.loader.stateful", raising=False)
    with pytest.raises(ImportError, match=r"pip install 'tokenmill\[stateful\]'.*torchdata"):
        loader(20, batch_size=2, stateful=True)


def saved_state(**kwargs: Any) -> dict[str, Any]:
    a = loader(kwargs.pop("n", 100), batch_size=4, **kwargs)
    it = iter(a)
    next(it)
    return a.sampler.state_dict()


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"n": 90}, "n_windows: saved 100, here 90"),
        ({"seed": 12}, "seed: saved 11, here 12"),
        ({"drop_last": False}, "drop_last: saved True, here False"),
    ],
)
def test_a_state_from_another_dataset_says_what_differs(change: dict, match: str) -> None:
    state = saved_state()
    n = change.pop("n", 100)
    other = loader(n, batch_size=4, **change)
    with pytest.raises(ValueError, match=match):
        other.sampler.load_state_dict(state)


def test_a_state_from_other_tokens_of_the_same_size_is_refused() -> None:
    state = saved_state()
    shifted = create_dataloader(tokens_for(100) + 1, max_length=STRIDE, stride=STRIDE, batch_size=4, seed=11)
    with pytest.raises(ValueError, match="dataset: saved tokens_sha256 '[0-9a-f]+' here '[0-9a-f]+'"):
        shifted.sampler.load_state_dict(state)
    wider = create_dataloader(tokens_for(100), max_length=2, stride=STRIDE, batch_size=4, seed=11)
    with pytest.raises(ValueError, match="max_length 3 here 2"):
        wider.sampler.load_state_dict(state)


def test_another_global_batch_size_is_refused_with_the_fix() -> None:
    state = saved_state()  # B = 4
    with pytest.raises(ValueError, match="global batch size 4 .* this loader's is 6 .*pass batch_size=2"):
        loader(100, batch_size=3, rank=0, world_size=2).sampler.load_state_dict(state)
    with pytest.raises(ValueError, match="world_size=3 does not divide 4"):
        loader(100, batch_size=1, rank=0, world_size=3).sampler.load_state_dict(state)


@pytest.mark.parametrize(
    ("edit", "match"),
    [
        ({"version": 2}, "state version 2 is not one this tokenmill reads .*upgrade tokenmill"),
        ({"version": None}, "state version None is not one this tokenmill reads"),
        ({"format": None}, "not a tokenmill.SeededBatchSampler state"),
        ({"permutation_version": 0}, "permutation version 0"),
        ({"next_global_batch": 10**9}, "next_global_batch=1000000000 is past the epoch's 25 global batches"),
        ({"epoch": -1}, r"'epoch' must be an int from 0 to 2\*\*63 - 1, got '-1'"),
    ],
)
def test_state_versions_and_damage_are_refused(edit: dict, match: str) -> None:
    state = saved_state() | edit
    with pytest.raises(ValueError, match=match):
        loader(100, batch_size=4).sampler.load_state_dict(state)


@pytest.mark.filterwarnings("ignore:.*set_vital")
def test_a_loader_state_without_a_sampler_state_is_refused() -> None:
    pytest.importorskip("torchdata")
    from torchdata.stateful_dataloader import StatefulDataLoader

    plain = StatefulDataLoader(list(range(10)), batch_size=2)
    it = iter(plain)
    next(it)
    with pytest.raises(ValueError, match="holds no tokenmill sampler state"):
        loader(100, batch_size=4, stateful=True).load_state_dict(plain.state_dict())
    with pytest.raises(ValueError, match="pass it to loader.load_state_dict"):
        loader(100, batch_size=4).sampler.load_state_dict(plain.state_dict())


def test_permutation_positions_match_the_loader() -> None:
    one = loader(64, batch_size=64)
    (batch,) = list(one)
    assert windows_of(batch) == Permutation(64, seed=11)(np.arange(64)).tolist()


@pytest.mark.filterwarnings("ignore:.*set_vital")
@pytest.mark.parametrize("num_workers", [0, 1])
def test_the_sampler_resumes_inside_torchdatas_own_loader(num_workers: int) -> None:
    pytest.importorskip("torchdata")
    from torchdata.stateful_dataloader import StatefulDataLoader

    from tokenmill.loader.dataloader import _batch_as_is

    def plain(n_workers: int) -> Any:
        dataset = loader(150, batch_size=4).dataset
        sampler = SeededBatchSampler(len(dataset), 4, seed=11)
        return StatefulDataLoader(dataset, batch_size=None, sampler=sampler, collate_fn=_batch_as_is,
                                  num_workers=n_workers)

    full = [windows_of(b) for b in plain(0)]
    a = plain(num_workers)
    it = iter(a)
    head = [windows_of(next(it)) for _ in range(9)]
    b = plain(num_workers)
    b.load_state_dict(a.state_dict())  # torchdata's own restore: Stateful sampler, no replay
    assert head + [windows_of(x) for x in b] == full


@pytest.mark.parametrize(("num_workers", "with_generator", "drop_last"), [(0, False, True), (2, False, False), (0, True, False)])
def test_the_books_order_resumes_exactly_too(num_workers: int, with_generator: bool, drop_last: bool) -> None:
    pytest.importorskip("torchdata")

    def book(stateful: bool, workers: int = 0) -> Any:
        generator = torch.Generator().manual_seed(5) if with_generator else None
        return create_dataloader(tokens_for(97), max_length=STRIDE, stride=STRIDE, batch_size=4,
                                 drop_last=drop_last, stateful=stateful, num_workers=workers,
                                 generator=generator)

    torch.manual_seed(123)
    full = global_batches([book(False)])
    torch.manual_seed(123)
    a = book(True, num_workers)
    assert isinstance(a.sampler, WindowBatchSampler)
    it = iter(a)
    head = [windows_of(next(it)) for _ in range(6)]
    assert head == full[:6]  # stateful=True keeps the book's batches
    state = a.state_dict()
    torch.manual_seed(999)  # another process, another global RNG: the state alone decides
    b = book(True, 2 - num_workers)
    b.load_state_dict(state)
    rest = [windows_of(x) for x in b]
    assert head + rest == full
    with pytest.raises(ValueError, match="not a tokenmill.SeededBatchSampler state.*seed="):
        loader(97, batch_size=4, stateful=True).load_state_dict(state)
