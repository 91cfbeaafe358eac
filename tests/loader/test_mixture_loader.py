"""Mixtures through create_dataloader: real stores, world sizes, resume, schedules, refused states."""

from __future__ import annotations

from itertools import zip_longest
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.helpers import set_ranks_sha256, write_jsonl
from tokenmill import prepare
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.mixture_sampler import MixtureBatchSampler
from tokenmill.store import TokenStore

pytest.importorskip("torchdata")
L = 4  # max_length = stride: window w of a token array arange(a, ...) starts at a + w * L


def arrays() -> dict[str, np.ndarray]:
    """Three components whose tokens say where they come from: component k's tokens are k*10**6 + i."""
    sizes = {"web": 203, "books": 37, "code": 11}  # windows
    return {name: np.arange(k * 10**6, k * 10**6 + n * L + 1) for k, (name, n) in enumerate(sizes.items())}


WEIGHTS = {"web": 0.5, "books": 0.3, "code": 0.2}
SCHEDULE = [(0, WEIGHTS), (6, {"web": 0.1, "books": 0.1, "code": 0.8}), (9, {"web": 1, "books": 0, "code": 0})]


def loader(world: int = 1, rank: int = 0, weights: object = WEIGHTS, B: int = 8, **kw: object):
    return create_dataloader(
        arrays(), weights=weights, seed=11, batch_size=B // world, rank=rank, world_size=world,
        max_length=L, drop_last=False, stateful=True, **kw,
    )


def origin(inputs: torch.Tensor) -> list[tuple[int, int]]:
    """(component, window) of each row, read from the tokens."""
    first = inputs[:, 0].tolist()
    return [(t // 10**6, (t % 10**6) // L) for t in first]


def global_batches(world: int, epochs: int = 1, **kw: object) -> list[list[tuple[int, int]]]:
    loaders = [loader(world, r, **kw) for r in range(world)]
    out = []
    for epoch in range(epochs):
        for lo in loaders:
            lo.sampler.set_epoch(epoch)
        for parts in zip_longest(*(iter(lo) for lo in loaders)):  # a rank may lack the short last batch
            out.append(sum((origin(p[0]) for p in parts if p is not None), []))
    return out


def test_a_mixture_epoch_is_all_windows_and_keeps_the_weights() -> None:
    lo = loader()
    assert len(lo.dataset) == 203 + 37 + 11 and len(lo) == -(-251 // 8)
    rows = sum(global_batches(1), [])
    counts = [sum(1 for k, _ in rows if k == j) for j in range(3)]
    assert counts == [round(251 * w) for w in (0.5, 0.3, 0.2)] or max(
        abs(c - 251 * w) for c, w in zip(counts, (0.5, 0.3, 0.2))
    ) < 1
    assert lo.component_names == ["web", "books", "code"]
    it = iter(lo)
    next(it), next(it)
    assert lo.windows_drawn == {"web": 8, "books": 5, "code": 3}


def test_each_component_epoch_holds_its_windows_once_and_small_ones_repeat() -> None:
    rows = sum(global_batches(1, epochs=3), [])  # 753 windows: code (11) is repeated ~14 times
    for j, n in enumerate((203, 37, 11)):
        mine = [w for k, w in rows if k == j]
        for e in range(len(mine) // n):
            assert sorted(mine[e * n : (e + 1) * n]) == list(range(n))
        if j == 2:
            assert mine[:n] != mine[n : 2 * n]  # its next epoch is a new permutation


@pytest.mark.parametrize("world", [2, 4])
def test_the_same_global_batches_at_every_world_size(world: int) -> None:
    assert global_batches(world, epochs=2) == global_batches(1, epochs=2)
    assert global_batches(world, weights=SCHEDULE) == global_batches(1, weights=SCHEDULE)


def run_and_resume(stop: int, world_before: int, world_after: int, weights: object, epochs: int = 2):
    """Global batches of a run killed after `stop` steps of epoch 0 at one world size, resumed at another."""
    before = [loader(world_before, r, weights=weights) for r in range(world_before)]
    out = []
    its = [iter(lo) for lo in before]
    for _ in range(stop):
        out.append(sum((origin(next(it)[0]) for it in its), []))
    state = before[-1].state_dict()  # any rank's
    after = [loader(world_after, r, weights=weights) for r in range(world_after)]
    for lo in after:
        lo.load_state_dict(state)
    for epoch in range(epochs):
        for lo in after:
            lo.sampler.set_epoch(epoch)
        for parts in zip_longest(*(iter(lo) for lo in after)):
            out.append(sum((origin(p[0]) for p in parts if p is not None), []))
    return out


@pytest.mark.parametrize(("stop", "before", "after"), [(2, 2, 4), (17, 4, 1), (30, 1, 2)])
def test_kill_and_resume_at_another_world_size(stop: int, before: int, after: int) -> None:
    # step 2: code's first epoch (11 windows) ends at step ~7 after it; 17 and 30: past a schedule change
    for weights in (WEIGHTS, SCHEDULE):
        assert run_and_resume(stop, before, after, weights) == global_batches(1, epochs=2, weights=weights)


def test_a_schedule_that_appends_later_segments_resumes_one_that_changes_the_past_is_refused() -> None:
    lo = loader(weights=SCHEDULE[:2])
    it = iter(lo)
    for _ in range(7):
        next(it)
    state = lo.state_dict()
    appended = loader(weights=SCHEDULE)  # segment 9 starts after the saved global batch 7
    appended.load_state_dict(state)
    assert origin(next(iter(appended))[0]) == global_batches(1, weights=SCHEDULE)[7]
    changed = loader(weights=[SCHEDULE[0], (5, SCHEDULE[1][1])])
    with pytest.raises(ValueError, match="change the past"):
        changed.load_state_dict(state)
    changed = loader(weights=[(0, {"web": 1, "books": 1, "code": 1}), SCHEDULE[1]])
    with pytest.raises(ValueError, match="change the past"):
        changed.load_state_dict(state)


def test_a_state_from_another_mixture_is_refused_with_what_differs() -> None:
    lo = loader()
    next(iter(lo))
    state = lo.state_dict()
    other = arrays() | {"books": np.arange(5 * 10**6, 5 * 10**6 + 37 * L + 1)}
    renamed = {"web": arrays()["web"], "novels": arrays()["books"], "code": arrays()["code"]}
    for source, weights, what in (
        (other, WEIGHTS, "component books"),
        (renamed, {"web": 0.5, "novels": 0.3, "code": 0.2}, "components"),
    ):
        with pytest.raises(ValueError, match=what):
            create_dataloader(source, weights=weights, seed=11, batch_size=8, max_length=L, stateful=True,
                              drop_last=False).load_state_dict(state)
    with pytest.raises(ValueError, match="seed"):
        create_dataloader(arrays(), weights=WEIGHTS, seed=12, batch_size=8, max_length=L, stateful=True,
                          drop_last=False).load_state_dict(state)
    one = create_dataloader(arrays()["web"], seed=11, batch_size=8, max_length=L, stateful=True)
    with pytest.raises(ValueError, match="MixtureBatchSampler"):
        one.load_state_dict(state)


def test_a_component_too_small_is_named() -> None:
    with pytest.raises(ValueError, match="component 'code': 45 tokens make no window"):
        create_dataloader(arrays(), seed=0, max_length=50)


def test_a_seed_is_required_and_weights_need_a_mapping() -> None:
    with pytest.raises(ValueError, match="needs seed="):
        create_dataloader(arrays(), weights=WEIGHTS, max_length=L)
    with pytest.raises(ValueError, match="for a mixture"):
        create_dataloader(arrays()["web"], weights=WEIGHTS, seed=0, max_length=L)


def test_epoch_windows_and_epoch_tokens_set_the_epoch() -> None:
    assert len(loader(epoch_windows=80)) == 10
    assert len(loader(epoch_tokens=80 * L - 1)) == 10
    lo = loader(epoch_windows=80)
    lo.sampler.set_epoch(1)
    assert origin(next(iter(lo))[0]) == sum(global_batches(1), [])[80:88]  # epoch 1 goes on from 80
    with pytest.raises(ValueError, match="not both"):
        loader(epoch_windows=8, epoch_tokens=8)


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    tmp = tmp_path_factory.mktemp("mixture-stores")
    out = {}
    for name, n in (("web", 120), ("books", 30), ("code", 9)):
        text = write_jsonl(tmp / f"{name}.jsonl", [f"{name} document {i} tells of {name} things." for i in range(n)])
        prepare([text], tmp / name, workers=0, progress=False, val_fraction=0.2 if name == "books" else 0.0)
        out[name] = tmp / name
    return out


def test_stores_by_path_store_and_split_pair(stores: dict[str, Path]) -> None:
    books = TokenStore.open(stores["books"])
    source = {"web": stores["web"], "books": (books, "val"), "code": str(stores["code"])}
    lo = create_dataloader(source, weights={"web": 2, "books": 1, "code": 1}, seed=0, batch_size=4, max_length=8)
    ds = lo.dataset
    assert ds.names == ["web", "books", "code"] and ds.datasets[1].n_tokens == len(books["val"])
    indices = next(iter(lo.sampler))
    inputs, targets = next(iter(lo))
    k, local = ds.split(indices)
    for row, (kk, w) in enumerate(zip(k.tolist(), local.tolist())):
        assert inputs[row].tolist() == ds.datasets[kk][w][0].tolist()
        assert targets[row].tolist() == ds.datasets[kk][w][1].tolist()


def test_components_with_other_tokenizers_are_named(stores: dict[str, Path], tmp_path: Path) -> None:
    import shutil

    other = tmp_path / "other"
    shutil.copytree(stores["code"], other)
    set_ranks_sha256(other, "0" * 64)
    with pytest.raises(ValueError, match="'web' and 'code'.*different tokenizers"):
        create_dataloader({"web": stores["web"], "code": other}, seed=0, max_length=8)


def test_a_state_from_a_changed_store_is_refused(stores: dict[str, Path], tmp_path: Path) -> None:
    lo = create_dataloader({"web": stores["web"], "code": stores["code"]}, seed=0, max_length=8, batch_size=2,
                           stateful=True)
    next(iter(lo))
    state = lo.state_dict()
    swapped = create_dataloader({"web": stores["books"], "code": stores["code"]}, seed=0, max_length=8,
                                batch_size=2, stateful=True)
    with pytest.raises(ValueError, match="component web"):
        swapped.load_state_dict(state)


def test_sampler_state_is_a_few_fields() -> None:
    s = MixtureBatchSampler(["a", "b"], [10**9, 10**9], None, epoch_windows=2 * 10**9, batch_size=8, seed=0)
    state = s.state_dict()
    assert state["format"] == "tokenmill.MixtureBatchSampler" and state["schedule"] == [[0, [1, 1], 2]]
    assert len(repr(state)) < 2000


def test_a_mixture_of_packed_stores_gives_dict_batches_with_each_rows_own_documents(tmp_path: Path) -> None:
    """The layouts and return_dict reach every component: each row is that component's own packed row."""
    stores = {}
    for name, words in (("a", ["alpha beta gamma", "one two three four five six seven eight"]),
                        ("b", ["red green blue", "cat dog", "north south east west up down"])):
        write_jsonl(tmp_path / f"{name}.jsonl", words)
        prepare(tmp_path / f"{name}.jsonl", out=tmp_path / name, val_fraction=0, progress=False)
        stores[name] = TokenStore.open(tmp_path / name)
    lo = create_dataloader(
        stores, weights={"a": 0.5, "b": 0.5}, seed=3, batch_size=4, max_length=8, windows="packed",
        return_dict=True, drop_last=False,
    )
    one = {name: create_dataloader(store, seed=0, batch_size=64, max_length=8, windows="packed",
                                   return_dict=True, shuffle=False, drop_last=False)
           for name, store in stores.items()}
    rows = {name: {tuple(r) for r in next(iter(lo_one))["input_ids"].tolist()} for name, lo_one in one.items()}
    seen = 0
    for batch in lo:
        assert set(batch) >= {"input_ids", "labels", "position_ids", "document_ids", "component_ids",
                              "cu_seqlens", "max_seqlen", "num_items_in_batch"}
        for row, k in zip(batch["input_ids"].tolist(), batch["component_ids"].tolist()):
            assert tuple(row) in rows[lo.component_names[k]]
            seen += 1
        assert batch["cu_seqlens"].shape == (batch["input_ids"].numel() + 1,)
    assert seen == len(lo.dataset)
