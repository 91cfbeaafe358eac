"""create_dataloader's defaults and pass-through options: stride, launcher ranks, DataLoader options."""

from __future__ import annotations

import numpy as np
import pytest

from tokenmill.book import create_dataloader_v1
from tokenmill.loader.dataloader import create_dataloader

TOKENS = np.arange(4097, dtype=np.int64)


def test_default_stride_is_max_length_so_each_token_is_seen_once() -> None:
    loader = create_dataloader(TOKENS, batch_size=4, max_length=256, shuffle=False, drop_last=False)
    assert loader.dataset.stride == 256
    starts = sorted(int(s) for inputs, _ in loader for s in inputs[:, 0])
    assert starts == list(range(0, 4096 - 255, 256))  # 16 windows, no token twice


def test_book_loader_keeps_the_books_defaults() -> None:
    text = "I HAD always thought Jack Gisburn rather a cheap genius " * 60
    loader = create_dataloader_v1(text, shuffle=False)
    assert (loader.dataset.max_length, loader.dataset.stride) == (256, 128)


@pytest.mark.parametrize("seed", [None, 1])
def test_state_saved_with_the_old_default_stride_is_refused_with_the_way_back(seed: int | None) -> None:
    old = create_dataloader(TOKENS, max_length=256, stride=128, seed=seed, stateful=True)
    it = iter(old)
    next(it)
    state = old.state_dict()
    new = create_dataloader(TOKENS, max_length=256, seed=seed, stateful=True)
    with pytest.raises(ValueError, match=r"default stride changed.*pass stride=128"):
        new.load_state_dict(state)
    again = create_dataloader(TOKENS, max_length=256, stride=128, seed=seed, stateful=True)
    again.load_state_dict(state)  # the explicit old stride restores it


def test_explicit_other_stride_mismatch_is_not_blamed_on_the_default() -> None:
    old = create_dataloader(TOKENS, max_length=256, stride=64, seed=1, stateful=True)
    new = create_dataloader(TOKENS, max_length=256, stride=256, seed=1, stateful=True)
    with pytest.raises(ValueError, match="another dataset") as info:
        new.load_state_dict(old.state_dict())
    assert "default stride" not in str(info.value)


@pytest.mark.parametrize("env", [{"RANK": "1", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "4"}, {"RANK": "3"}])
def test_launcher_ranks_without_init_are_refused(monkeypatch: pytest.MonkeyPatch, env: dict) -> None:
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(ValueError, match=r"init_process_group\(\) before create_dataloader") as info:
        create_dataloader(TOKENS, max_length=8, seed=1)
    assert "rank=" in str(info.value) and "world_size=" in str(info.value)
    with pytest.raises(ValueError, match="not initialised"):
        create_dataloader(TOKENS, max_length=8, seed=1, rank=1)  # one of the two is not enough


def test_launcher_ranks_with_explicit_ranks_or_one_process_are_fine(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    loader = create_dataloader(TOKENS, max_length=8, seed=1, rank=1, world_size=2)
    assert (loader.sampler.rank, loader.sampler.world_size) == (1, 2)
    assert create_dataloader(TOKENS, max_length=8, rank=0, world_size=1).sampler is not None
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    create_dataloader(TOKENS, max_length=8)  # torchrun with one process


@pytest.mark.parametrize("seed", [None, 1])
def test_dataloader_options_pass_through(seed: int | None) -> None:
    loader = create_dataloader(
        TOKENS, max_length=64, seed=seed, num_workers=1, pin_memory=True, prefetch_factor=3,
        persistent_workers=True, timeout=30, multiprocessing_context="fork",
    )
    assert (loader.pin_memory, loader.prefetch_factor, loader.persistent_workers) == (True, 3, True)
    assert loader.timeout == 30


def test_dataloader_options_iterate_in_a_worker() -> None:
    seen = []
    loader = create_dataloader(
        TOKENS, max_length=64, seed=1, num_workers=1, prefetch_factor=2, persistent_workers=True,
        worker_init_fn=seen.append, multiprocessing_context="fork",
    )
    plain = create_dataloader(TOKENS, max_length=64, seed=1)
    assert [b[0].tolist() for b in loader] == [b[0].tolist() for b in plain]
