"""MixtureDataset: rows back in the sampler's order, list and dict batches (component_ids, finish_batch)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from tokenmill.loader.batches import IGNORE_INDEX, finish_batch
from tokenmill.loader.dataloader import create_dataloader
from tokenmill.loader.dataset import WindowDataset
from tokenmill.loader.mixture_dataset import MixtureDataset


class DictWindows(WindowDataset):
    """Sliding windows as the documents issue's dict batches: a document ends at each token 0."""

    def batch(self, indices: Any) -> dict[str, Any]:
        inputs, targets = super().batch(indices)
        doc = torch.cumsum((inputs == 0).to(torch.int32), dim=1)  # (batch, max_length)
        labels = targets.clone()
        labels[:, -1] = IGNORE_INDEX
        position_ids = torch.arange(inputs.shape[1]).expand_as(inputs).clone()
        return finish_batch({"input_ids": inputs, "labels": labels, "position_ids": position_ids, "document_ids": doc})


def components(cls: type = WindowDataset) -> list[WindowDataset]:
    rng = np.random.default_rng(0)
    return [cls(rng.integers(0, 5, size=n), max_length=6, stride=3) for n in (40, 100, 25)]


def test_rows_come_back_in_the_order_asked() -> None:
    parts = components()
    ds = MixtureDataset(["a", "b", "c"], parts)
    indices = np.array([ds.offsets[1], 0, len(ds) - 1, 5, ds.offsets[1] + 1, 11])
    inputs, targets = ds.batch(indices)
    k, local = ds.split(indices)
    assert k.tolist() == [1, 0, 2, 0, 1, 0]
    for row, (kk, w) in enumerate(zip(k.tolist(), local.tolist())):
        assert torch.equal(inputs[row], parts[kk][w][0]) and torch.equal(targets[row], parts[kk][w][1])
    assert inputs.dtype == torch.int64 and inputs.shape == (6, 6) and inputs.is_contiguous()
    one = ds.batch([1, 2])  # one component: its own batch as it is
    assert torch.equal(one[0], parts[0].batch([1, 2])[0])
    with pytest.raises(IndexError, match="out of range"):
        ds.batch([len(ds)])


def test_dict_batches_gain_component_ids_and_their_batch_fields_again() -> None:
    parts = components(DictWindows)
    ds = MixtureDataset(["a", "b", "c"], parts)
    indices = np.array([ds.offsets[1], 0, len(ds) - 1, 5])
    batch = ds.batch(indices)
    assert batch["component_ids"].tolist() == [1, 0, 2, 0]
    k, local = ds.split(indices)
    for key in ("input_ids", "labels", "position_ids", "document_ids"):
        for row, (kk, w) in enumerate(zip(k.tolist(), local.tolist())):
            assert torch.equal(batch[key][row], parts[kk].batch([w])[key][0])
    again = finish_batch({"document_ids": batch["document_ids"], "labels": batch["labels"]})
    assert torch.equal(batch["cu_seqlens"], again["cu_seqlens"])
    assert batch["num_items_in_batch"] == again["num_items_in_batch"] == 4 * 5
    assert batch["max_seqlen"] == again["max_seqlen"]


def test_windows_of_another_shape_are_refused() -> None:
    with pytest.raises(ValueError, match="one shape"):
        MixtureDataset(["a", "b"], [WindowDataset(list(range(20)), max_length=4, stride=4),
                                    WindowDataset(list(range(20)), max_length=4, stride=2)])


def test_worker_processes_give_the_same_batches() -> None:
    source = {"a": np.arange(0, 400), "b": np.arange(1000, 1100)}
    one = [b[0] for b in create_dataloader(source, seed=3, batch_size=4, max_length=4)]
    two = [b[0] for b in create_dataloader(source, seed=3, batch_size=4, max_length=4, num_workers=2)]
    assert len(one) == len(two) == 30 and all(torch.equal(x, y) for x, y in zip(one, two))


def test_large_batches_and_store_splits_take_the_general_way(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import tokenmill.loader.mixture_dataset as module

    monkeypatch.setattr(module, "_MAX_SHARD_VIEWS", 2)  # shards' views evicted all the time
    from tokenmill.store import TokenStore
    from tokenmill.store.manifest import _example_manifest, write_manifest
    from tokenmill.store.writer import write_shard

    rng = np.random.default_rng(1)
    tokens = rng.integers(0, 50257, size=3000).astype(np.uint16)
    (tmp_path / "s").mkdir()
    entries = [write_shard(tmp_path / "s", f"train-{i:05d}", part, np.array([0, len(part)]))
               for i, part in enumerate(np.array_split(tokens, 3))]
    write_manifest(tmp_path / "s", _example_manifest(entries))
    split = TokenStore.open(tmp_path / "s")["train"]  # three shards: no single view
    parts = [WindowDataset(split, max_length=6, stride=3), WindowDataset(tokens[:500], max_length=6, stride=3)]
    ds = MixtureDataset(["store", "array"], parts)
    straddling = [331, 332, 333, 665, 666, len(ds) - 1]  # windows 332, 333 and 665, 666 cross a shard's end
    for indices in (straddling, rng.integers(0, len(ds), size=5), rng.integers(0, len(ds), size=300)):
        # a few rows (one copy each, from views of the shards), and more (a gather per component)
        inputs, targets = ds.batch(indices)
        k, local = ds.split(indices)
        expected = [parts[kk][w] for kk, w in zip(k.tolist(), local.tolist())]
        assert torch.equal(inputs, torch.stack([e[0] for e in expected]))
        assert torch.equal(targets, torch.stack([e[1] for e in expected]))
    assert len(ds._shard_views) <= 2
    one_map = MixtureDataset(["a", "b"], [WindowDataset(tokens, max_length=6, stride=3), parts[1]])
    indices = rng.integers(0, len(one_map), size=300)
    assert torch.equal(one_map.batch(indices)[0], torch.cat([one_map.batch(indices[i : i + 50])[0]
                                                              for i in range(0, 300, 50)]))
