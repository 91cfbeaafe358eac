"""The locality-preserving order: a bijection, a pure function of its inputs, local, elastic, refused where it does not apply."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tokenmill.loader.block_permutation import LocalOrder, LocalPermutation, local_reference, resolve_order
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.permutation import Permutation
from tokenmill.loader.state import sampler_state_of


def local(n: int, seed: int = 3, epoch: int = 0, b: int = 4, g: int = 3) -> np.ndarray:
    return LocalPermutation(n, seed=seed, epoch=epoch, block_windows=b, group_blocks=g)(np.arange(n))


@settings(max_examples=80, deadline=None)
@given(
    n=st.one_of(st.integers(1, 500), st.integers(501, 200_000)),
    b=st.one_of(st.integers(1, 9), st.integers(10, 5000)),
    g=st.integers(1, 20),
    seed=st.integers(0, 2**64 - 1),
    epoch=st.integers(0, 10**6),
)
@example(n=1, b=1, g=1, seed=0, epoch=0)
@example(n=7, b=8, g=1, seed=0, epoch=0)  # no full block: the tail is the only group
@example(n=16, b=4, g=4, seed=1, epoch=0)  # one group, no tail
def test_a_bijection_for_any_sizes(n: int, b: int, g: int, seed: int, epoch: int) -> None:
    out = local(n, seed, epoch, b, g)
    assert out.dtype == np.int64 and out.shape == (n,)
    assert np.array_equal(np.bincount(out, minlength=n), np.ones(n, np.int64))


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 3000), b=st.integers(1, 50), g=st.integers(1, 6), seed=st.integers(0, 2**64 - 1),
       epoch=st.integers(0, 99), data=st.data())
def test_vectorised_equals_the_definition(n: int, b: int, g: int, seed: int, epoch: int, data: st.DataObject) -> None:
    positions = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=30))
    got = LocalPermutation(n, seed=seed, epoch=epoch, block_windows=b, group_blocks=g)(np.array(positions))
    want = [local_reference(k, n, seed=seed, epoch=epoch, block_windows=b, group_blocks=g) for k in positions]
    assert got.tolist() == want


def test_golden_vectors() -> None:
    # Fixed by LOCAL_PERMUTATION_VERSION 1: a change here is a new version of the order.
    assert local(10, seed=123, b=2, g=2).tolist() == [1, 9, 0, 8, 4, 3, 5, 2, 7, 6]
    assert local(13, seed=0, epoch=1, b=3, g=2).tolist() == LocalPermutation(
        13, seed=0, epoch=1, block_windows=3, group_blocks=2)(np.arange(13)).tolist()
    assert local(13, seed=0, epoch=1, b=3, g=2).tolist() == [
        local_reference(k, 13, seed=0, epoch=1, block_windows=3, group_blocks=2) for k in range(13)
    ]


def test_a_pure_function_of_seed_epoch_and_position() -> None:
    a = LocalPermutation(10_000, seed=9, epoch=4, block_windows=64, group_blocks=4)
    b = LocalPermutation(10_000, seed=9, epoch=4, block_windows=64, group_blocks=4)
    positions = np.array([9_999, 0, 5_000, 77, 5_000])
    assert a(positions).tolist() == b(positions).tolist() == a(np.arange(10_000))[positions].tolist()
    assert not np.array_equal(local(10_000, seed=9, epoch=4), local(10_000, seed=9, epoch=5))
    assert not np.array_equal(local(10_000, seed=9), local(10_000, seed=10))
    assert a.nbytes == LocalPermutation(10**12, seed=9, block_windows=64, group_blocks=4).nbytes


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 20_000), b=st.integers(1, 300), g=st.integers(1, 10), seed=st.integers(0, 2**32))
def test_each_group_of_positions_reads_at_most_its_blocks(n: int, b: int, g: int, seed: int) -> None:
    out = local(n, seed, 0, b, g)
    span, full = g * b, n // b
    for start in range(0, n, span):
        blocks = np.unique(out[start:start + span] // b)
        # g blocks, and the tail (which sits past the full blocks) in the last group only
        assert len(blocks) <= g + (1 if start + span >= full * b else 0)
    # the whole epoch's blocks are shuffled: a block's windows move together, anywhere
    if full >= 50:
        first_windows = out[np.arange(0, full * b, b)] // b
        assert abs(np.corrcoef(np.arange(len(first_windows)), first_windows)[0, 1]) < 0.5


def test_it_mixes_less_than_the_uniform_order_but_over_the_whole_epoch() -> None:
    n = 100_000
    uniform = Permutation(n, seed=1)(np.arange(n))
    near = local(n, seed=1, b=256, g=8)
    # position vs window index: ~0 for both (blocks travel the whole epoch)
    assert abs(np.corrcoef(np.arange(n), near)[0, 1]) < 0.1
    assert abs(np.corrcoef(np.arange(n), uniform)[0, 1]) < 0.1
    # distinct 1,000-window stretches per batch of 64: few for the local order
    per_batch = lambda order: np.mean([len(np.unique(order[i:i + 64] // 1000)) for i in range(0, n, 64)])  # noqa: E731
    assert per_batch(near) <= 2 * 8 < 40 < per_batch(uniform)  # a block straddles at most 2 stretches


def windows_of(batch) -> list[int]:  # noqa: ANN001
    return (batch[0][:, 0] // 3).tolist()  # the window each row starts at (stride 3)


def loader(**kwargs):  # noqa: ANN003, ANN201
    kwargs.setdefault("order", LocalOrder(block_windows=5, group_blocks=3))
    kwargs.setdefault("drop_last", False)
    return create_dataloader(np.arange(3 * 301 + 1), max_length=3, stride=3, seed=5, **kwargs)


def test_the_loader_draws_the_local_order_by_global_batch() -> None:
    one = loader(batch_size=16)
    one.sampler.set_epoch(1)
    got = sum((windows_of(x) for x in one), [])
    assert got == LocalPermutation(301, seed=5, epoch=1, block_windows=5, group_blocks=3)(np.arange(301)).tolist()
    uniform = create_dataloader(np.arange(3 * 301 + 1), max_length=3, stride=3, seed=5, batch_size=16, drop_last=False)
    assert "order" not in uniform.sampler.state_dict()  # the default's state is unchanged
    assert [windows_of(x) for x in uniform][0] == Permutation(301, seed=5)(np.arange(16)).tolist()


def test_elastic_resume_world_size_4_to_2_and_1() -> None:
    pytest.importorskip("torchdata")
    full = [windows_of(x) for x in loader(batch_size=16)]
    four = [loader(batch_size=4, rank=r, world_size=4, stateful=True) for r in range(4)]
    its = [iter(one) for one in four]
    for step in range(6):
        assert sum((windows_of(next(it)) for it in its), []) == full[step]
    saved = four[2].state_dict()
    assert sampler_state_of(saved)["order"] == {"name": "local", "version": 1, "block_windows": 5, "group_blocks": 3}
    for world_size, batch_size in ((2, 8), (1, 16)):
        job = [loader(batch_size=batch_size, rank=r, world_size=world_size, stateful=True) for r in range(world_size)]
        for one in job:
            one.load_state_dict(saved)
        its = [iter(one) for one in job]
        rest = [sum((windows_of(next(it)) for it in its), []) for _ in range(len(full) - 6)]
        assert rest == full[6:], world_size


def test_a_state_of_one_order_is_refused_by_the_other() -> None:
    pytest.importorskip("torchdata")
    uniform = create_dataloader(np.arange(904), max_length=3, stride=3, seed=5, batch_size=16, stateful=True)
    near = loader(batch_size=16, drop_last=True, stateful=True)
    other = loader(batch_size=16, drop_last=True, stateful=True, order=LocalOrder(block_windows=6, group_blocks=3))
    with pytest.raises(ValueError, match=r"uniform order .*this loader draws the local order"):
        near.load_state_dict(uniform.state_dict())
    with pytest.raises(ValueError, match=r"saved with the local order .*block_windows=5.*uniform order"):
        uniform.load_state_dict(near.state_dict())
    with pytest.raises(ValueError, match=r"block_windows=5.*block_windows=6"):
        other.load_state_dict(near.state_dict())
    state = near.sampler.state_dict()
    state["order"] = dict(state["order"], version=2)
    with pytest.raises(ValueError, match="version 2"):
        loader(batch_size=16, drop_last=True).sampler.load_state_dict(state)


@pytest.mark.parametrize(("kwargs", "error", "match"), [
    ({"order": "local", "seed": None}, ValueError, r"order='local'.* needs seed="),
    ({"order": "local", "shuffle": False}, ValueError, r"shuffle=False"),
    ({"order": "blocks"}, ValueError, r"order must be one of 'uniform', 'local', got 'blocks'"),
    ({"order": 3}, TypeError, r"order must be 'uniform', 'local' or a LocalOrder"),
])
def test_bad_orders_are_refused(kwargs: dict, error: type, match: str) -> None:
    kwargs = {"seed": 1, **kwargs}
    with pytest.raises(error, match=match):
        create_dataloader(np.arange(100), max_length=3, **kwargs)


def test_packed_rows_and_mixtures_keep_the_uniform_order() -> None:
    with pytest.raises(ValueError, match="packed rows keep the uniform order"):
        resolve_order("local", seeded=True, shuffle=True, windows="packed")
    with pytest.raises(ValueError, match="mixtures"):
        resolve_order("local", seeded=True, shuffle=True, mixture=True)
    assert resolve_order("uniform", seeded=True, shuffle=True, mixture=True) is None


@pytest.mark.parametrize("field", ["block_windows", "group_blocks"])
def test_sizes_must_be_positive(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        LocalOrder(**{field: 0})


def test_local_on_a_store_sizes_its_blocks_to_the_shards_and_the_cache(tmp_path) -> None:  # noqa: ANN001
    from tests.helpers import write_jsonl
    from tokenmill.prepare import prepare

    corpus = write_jsonl(tmp_path / "c.jsonl", [f"words {i} " * 40 for i in range(400)])
    store = prepare([corpus], tmp_path / "store", workers=0, progress=False, shard_tokens=2000)
    shards = store.manifest["splits"]["train"]["shards"]
    assert len(shards) >= 10
    mean = sum(s["n_tokens"] for s in shards) * 2 // len(shards)  # bytes of a shard, uint16
    auto = create_dataloader(store, max_length=16, batch_size=4, seed=1, order="local")
    n = len(auto.dataset)
    assert auto.sampler.local_order == LocalOrder.for_shards(n, len(shards))
    small = create_dataloader(store, max_length=16, batch_size=4, seed=1, order="local", cache_limit=6 * mean)
    assert small.sampler.local_order == LocalOrder(3 * (n // len(shards)), 1)  # 6 shards, less 2 ahead: 3 + 1
    explicit = LocalOrder(block_windows=7, group_blocks=2)
    assert create_dataloader(store, max_length=16, batch_size=4, seed=1, order=explicit).sampler.local_order == explicit
