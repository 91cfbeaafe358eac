"""A mixture's fast paths give exactly what the plain definitions give: grouped permutations, chunks, rows."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tokenmill.loader.mixture as mixture_module
import tokenmill.loader.permutation as permutation_module
from tokenmill.loader.dataset import WindowDataset
from tokenmill.loader.mixture import Mixture
from tokenmill.loader.mixture_dataset import MixtureDataset
from tokenmill.loader.mixture_sampler import MixtureBatchSampler
from tokenmill.loader.permutation import Permutation, permutation_reference, permute_groups

SIZES = st.one_of(st.integers(1, 70), st.sampled_from([1, 2, 64, 65, 1000, 4097, 19531, 65_537]))


@settings(max_examples=60, deadline=None)
@given(
    specs=st.lists(st.tuples(SIZES, st.integers(0, 2**64 - 1), st.integers(0, 50)), min_size=1, max_size=6),
    data=st.data(),
    tail=st.sampled_from([0, 16, 10**6]),  # walk in numpy to the end, as shipped, in Python from the start
)
def test_permute_groups_is_each_permutation_on_its_own_positions(specs, data, tail) -> None:
    perms = [Permutation(n, seed=seed, epoch=epoch) for n, seed, epoch in specs]
    size = data.draw(st.integers(0, 300))
    group = np.array(data.draw(st.lists(st.integers(0, len(perms) - 1), min_size=size, max_size=size)), np.int64)
    positions = np.array([data.draw(st.integers(0, perms[g].n - 1)) for g in group], np.int64)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(permutation_module, "_PYTHON_TAIL", tail)
        out = permute_groups(perms, group, positions)
    expected = np.empty(size, np.int64)
    for g, perm in enumerate(perms):
        expected[group == g] = perm(positions[group == g])
    assert out.dtype == np.int64 and np.array_equal(out, expected)


def test_permute_groups_keeps_the_shape_and_matches_the_reference() -> None:
    perms = [Permutation(10, seed=123), Permutation(1000, seed=7, epoch=3)]
    group = np.array([[0, 1, 1], [1, 0, 0]])
    positions = np.array([[0, 999, 5], [17, 9, 3]])
    out = permute_groups(perms, group, positions)
    assert out.shape == (2, 3)
    for g, p, o in zip(group.ravel(), positions.ravel(), out.ravel()):
        assert o == permutation_reference(int(p), perms[g].n, seed=perms[g].seed, epoch=perms[g].epoch)


def test_permute_groups_refuses_positions_out_of_range_and_mismatched_shapes() -> None:
    perms = [Permutation(10, seed=1), Permutation(3, seed=2)]
    with pytest.raises(IndexError, match="position 3 is out of range for 3 windows"):
        permute_groups(perms, [0, 1], [9, 3])
    with pytest.raises(IndexError, match="position -1"):
        permute_groups(perms, [0], [-1])
    with pytest.raises(ValueError, match="one shape"):
        permute_groups(perms, [0, 1], [1])
    with pytest.raises(TypeError, match="integers"):
        permute_groups(perms, [0], [1.0])


def windows_one_by_one(m: Mixture, k: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Each draw's window from its own Permutation call: the definition."""
    out = np.empty(k.shape, np.int64)
    for i in np.ndindex(k.shape):
        n = m.sizes[k[i]]
        epoch, at = divmod(int(c[i]), n)
        out[i] = Permutation(n, seed=m.seeds[k[i]], epoch=epoch)(np.array([at]))[0] if m.shuffle else at
    return out


@settings(max_examples=40, deadline=None)
@given(
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=5),
    seed=st.integers(0, 2**64 - 1),
    start=st.one_of(st.integers(0, 5000), st.integers(0, 10**15)),
    shape=st.sampled_from([(40,), (16, 8), (3, 1)]),
    dense=st.booleans(),
)
def test_grouped_windows_are_each_draws_own_permutation(sizes, seed, start, shape, dense) -> None:
    names = [f"c{i}" for i in range(len(sizes))]
    m = Mixture(names, sizes, {n: i + 1 for i, n in enumerate(names)}, seed=seed, global_batch_size=8)
    k, c = m.draws(start + np.arange(int(np.prod(shape))).reshape(shape))
    with pytest.MonkeyPatch.context() as patch:
        if not dense:  # (component, epoch) groups found by a sort instead of a count
            patch.setattr(mixture_module, "_DENSE_GROUPS", 0)
        got = m.windows(k, c)
    assert np.array_equal(got, windows_one_by_one(m, k, c))


def test_a_tiny_component_over_many_epochs_in_one_chunk() -> None:
    m = Mixture(["big", "one", "two"], [10**6, 1, 2], {"big": 1, "one": 1, "two": 1}, seed=3, global_batch_size=4)
    k, c = m.draws(np.arange(9000))  # "one" and "two" go through thousands of epochs
    assert len({(kk, cc // m.sizes[kk]) for kk, cc in zip(k.tolist(), c.tolist())}) > 4000
    assert np.array_equal(m.windows(k, c), windows_one_by_one(m, k, c))


@pytest.mark.parametrize("world_size", [1, 3])
@pytest.mark.parametrize("chunk_windows", [1, 8, 100, 8192])
def test_sampler_chunks_give_the_positions_own_indices(world_size: int, chunk_windows: int) -> None:
    sizes, B = [203, 37, 11], 4 * world_size
    expected = None
    for rank in range(world_size):
        s = MixtureBatchSampler(["a", "b", "c"], sizes, {"a": 5, "b": 3, "c": 2}, epoch_windows=sum(sizes),
                                batch_size=4, seed=0, rank=rank, world_size=world_size)
        s.chunk_windows = chunk_windows
        for epoch in (0, 2):
            s.set_epoch(epoch)
            got = np.concatenate(list(s))
            positions = np.concatenate([
                np.arange(g * B + rank * 4, min(g * B + rank * 4 + 4, sum(sizes)))
                for g in range(s.num_global_batches)
            ])
            expected = s.mixture.indices(epoch * sum(sizes) + positions)
            assert np.array_equal(got, expected)
    assert expected is not None


def one_shard_store(directory, tokens: np.ndarray):
    from tokenmill.store import TokenStore
    from tokenmill.store.manifest import _example_manifest, write_manifest
    from tokenmill.store.writer import write_shard

    directory.mkdir()
    write_manifest(directory, _example_manifest([write_shard(directory, "train-00000", tokens, np.array([0, len(tokens)]))]))
    return TokenStore.open(directory)["train"]


def expected_rows(ds, parts, indices) -> tuple[torch.Tensor, torch.Tensor]:
    k, local = ds.split(indices)
    rows = [parts[kk][w] for kk, w in zip(k.tolist(), local.tolist())]
    if not rows:
        return torch.empty((0, ds.max_length), dtype=torch.int64), torch.empty((0, ds.max_length), dtype=torch.int64)
    return torch.stack([r[0] for r in rows]), torch.stack([r[1] for r in rows])


@pytest.mark.parametrize("stride", [1, 3, 9])
def test_a_few_rows_copied_as_bytes_are_each_components_windows(tmp_path, stride: int) -> None:
    rng = np.random.default_rng(stride)
    tokens = [rng.integers(0, 50257, size=n).astype(np.uint16) for n in (400, 123, 77)]
    tokens[0].tofile(tmp_path / "a.bin")
    sources = [np.memmap(tmp_path / "a.bin", dtype=np.uint16, mode="r"), one_shard_store(tmp_path / "b", tokens[1]),
               tokens[2]]
    parts = [WindowDataset(t, max_length=6, stride=stride) for t in sources]
    ds = MixtureDataset(["a", "b", "c"], parts)
    again = pickle.loads(pickle.dumps(ds))
    for indices in ([], [len(ds) - 1, 0], rng.integers(0, len(ds), size=64), list(range(len(ds)))[:64]):
        for d in (ds, again):
            inputs, targets = d.batch(np.asarray(indices, np.int64))
            want = expected_rows(d, parts, np.asarray(indices, np.int64))
            assert inputs.dtype == torch.int64 and inputs.is_contiguous() and targets.is_contiguous()
            assert torch.equal(inputs, want[0]) and torch.equal(targets, want[1])
    assert len(ds._bytes) == 3 and len(again._bytes) == 3  # the bytes path served them


@pytest.mark.parametrize("other", ["int64 list", "strided", "uint32"])
def test_rows_of_other_dtypes_or_strided_arrays_take_the_numpy_copy(other: str) -> None:
    rng = np.random.default_rng(0)
    base = rng.integers(0, 50257, size=600).astype(np.uint16)
    second = {"int64 list": base[:200].tolist(), "strided": base[::3], "uint32": base[:200].astype(np.uint32)}[other]
    parts = [WindowDataset(base, max_length=5, stride=2), WindowDataset(second, max_length=5, stride=2)]
    ds = MixtureDataset(["a", "b"], parts)
    indices = rng.integers(0, len(ds), size=40)
    inputs, targets = ds.batch(indices)
    want = expected_rows(ds, parts, indices)
    assert torch.equal(inputs, want[0]) and torch.equal(targets, want[1])
    assert ds._bytes == []
