"""Damaged loader state dicts are refused when loaded, each with a ValueError naming the field."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from tokenmill.loader.dataloader import create_dataloader

pytest.importorskip("torchdata")
TOKENS = np.arange(4097, dtype=np.int64)


def seeded(num_workers: int = 0):  # noqa: ANN201
    return create_dataloader(
        TOKENS, max_length=64, seed=1, stateful=True, num_workers=num_workers,
        multiprocessing_context="fork" if num_workers else None,
    )


@pytest.fixture(scope="module")
def worker_state() -> dict:
    loader = seeded(num_workers=1)
    it = iter(loader)
    next(it)
    next(it)
    return loader.state_dict()


@pytest.mark.parametrize("steps", [-2, 1.9, "1", None, 2**70])
def test_steps_since_snapshot_must_be_a_small_non_negative_int(worker_state: dict, steps: object) -> None:
    state = dict(worker_state, _steps_since_snapshot=steps)
    with pytest.raises(ValueError, match="_steps_since_snapshot"):
        seeded().load_state_dict(state)


def test_steps_since_snapshot_counts_on_from_the_snapshot(worker_state: dict) -> None:
    state = dict(worker_state, _steps_since_snapshot=1)
    loader = seeded()
    loader.load_state_dict(state)
    assert loader.sampler.state_dict()["next_global_batch"] == 3


@pytest.mark.parametrize("snapshot", [5, "x", [1], {"_main_snapshot": 5}])
def test_snapshot_of_the_wrong_type_is_a_value_error(worker_state: dict, snapshot: object) -> None:
    with pytest.raises(ValueError, match="_snapshot"):
        seeded().load_state_dict(dict(worker_state, _snapshot=snapshot))


@pytest.mark.parametrize("epoch", [2**63, 2**64, 2**100, -1, 1.0])
def test_epoch_beyond_int64_is_refused_not_wrapped(epoch: object) -> None:
    state = dict(seeded().sampler.state_dict(), epoch=epoch)
    with pytest.raises(ValueError, match="'epoch'"):
        seeded().load_state_dict(state)
    with pytest.raises((ValueError, TypeError), match="epoch"):
        seeded().sampler.set_epoch(epoch)


def book(generator: torch.Generator | None = None):  # noqa: ANN201
    return create_dataloader(TOKENS, max_length=64, stateful=True, generator=generator)


@pytest.mark.parametrize(
    "damage",
    [
        lambda s: s[:-1],  # one byte short
        lambda s: s[:100] + [300] + s[101:],  # not a byte
        lambda s: s[:100] + [1.5] + s[101:],
        lambda s: "nope",
    ],
)
def test_bad_generator_state_fails_at_load_not_at_first_batch(damage) -> None:  # noqa: ANN001
    loader = book(torch.Generator().manual_seed(0))
    next(iter(loader))
    state = loader.state_dict()
    sampler_state = copy.deepcopy(loader.sampler.state_dict())
    sampler_state["drawn"]["generator_state"] = damage(sampler_state["drawn"]["generator_state"])
    with pytest.raises(ValueError, match="'drawn'"):
        book(torch.Generator()).load_state_dict(sampler_state)
    book(torch.Generator()).load_state_dict(state)  # the undamaged one loads


@pytest.mark.parametrize("drawn", [{"seed": 2**70}, {"seed": "1"}, {"seed": True}, {"seed": 1, "x": 2}, []])
def test_bad_drawn_seed_fails_at_load(drawn: object) -> None:
    loader = book()
    next(iter(loader))
    state = dict(loader.sampler.state_dict(), drawn=drawn)
    with pytest.raises(ValueError, match="'drawn'"):
        book().load_state_dict(state)
