"""prepare's local executor: a full in-flight window gives the same store whatever the workers."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from tests.helpers import all_files, write_jsonl
from tokenmill.corpus import inputs
from tokenmill.prepare import prepare
from tokenmill.prepare import tasks as tasks_module

WORDS = "the of and a to in is you that it he was for on are as with his they I at be this".split()


def synthetic_docs(n: int, seed: int = 0, size: int = 200) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) + rng.choice(["", ",", ".\n"]) for _ in range(rng.randint(1, size))) for _ in range(n)]


@pytest.mark.parametrize("workers, method", [(3, None), (2, "spawn")])
def test_workers_fill_the_in_flight_window_and_still_give_identical_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int, method: str | None
) -> None:
    texts = synthetic_docs(400, seed=5, size=300)
    src = write_jsonl(tmp_path / "a.jsonl", texts)
    monkeypatch.setattr(tasks_module, "RANGE_BYTES", 4096)  # many small tasks, of varied cost
    n_tasks = len(tasks_module.plan_tasks(inputs.resolve_inputs([src]), "x"))
    assert n_tasks > 4 * 4 * workers  # several times the in-flight window: results arrive out of order
    args = dict(shard_tokens=5000, val_fraction=0.3, progress=False)
    prepare([src], tmp_path / "s0", workers=0, **args)
    if method:
        monkeypatch.setenv("TOKENMILL_START_METHOD", method)
    prepare([src], tmp_path / "sN", workers=workers, **args)
    assert all_files(tmp_path / "s0") == all_files(tmp_path / "sN")
