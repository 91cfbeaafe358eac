"""A mixture under torchrun --nproc_per_node=2 (gloo): the global batches of one process; killed, resumed at 4."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from itertools import zip_longest
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.loader.test_torchrun import free_port
from tokenmill.loader.dataloader import create_dataloader

pytest.importorskip("torchdata")
pytestmark = pytest.mark.slow

WORKER = Path(__file__).resolve().parent / "mixture_torchrun_worker.py"
L, BATCH, KILL = 4, 4, 9  # B = 8 at world size 2; "c" (7 windows) ends its first epoch in the first steps
SIZES = {"a": 61, "b": 23, "c": 7}
# batch 5 on: mostly c; batch 8 on: a and c only. Step 9 is past both, and past c's epochs.
WEIGHTS = [[0, {"a": 0.5, "b": 0.3, "c": 0.2}], [5, {"a": 0.2, "b": 0.2, "c": 0.6}], [8, {"a": 1, "b": 0, "c": 1}]]


def torchrun(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER), "--data", str(data),
        "--out", str(out), "--batch-size", str(BATCH), "--weights", json.dumps(WEIGHTS), *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def logged(out: Path) -> list[list[list[int]]]:
    """Each global batch's rows, rank 0's then rank 1's (rank 1 lacks an epoch's short last batch)."""
    batches: dict[tuple[int, int], list[list[int]]] = {}
    for r in (0, 1):
        for line in (out / f"rank{r}.jsonl").read_text().splitlines():
            entry = json.loads(line)
            batches.setdefault(tuple(entry["batch"]), []).extend(entry["rows"])
    return [batches[key] for key in sorted(batches)]


def source(data: Path) -> dict[str, np.ndarray]:
    return {n: np.load(data / f"{n}.npy") for n in SIZES}


def in_process(data: Path, world: int, state: dict | None = None) -> list[list[list[int]]]:
    loaders = [
        create_dataloader(source(data), weights=WEIGHTS, seed=5, batch_size=2 * BATCH // world, rank=r,
                          world_size=world, max_length=L, drop_last=False, stateful=True)
        for r in range(world)
    ]
    if state is not None:
        for lo in loaders:
            lo.load_state_dict(state)
    out = []
    for epoch in range(loaders[0].sampler.epoch, 2):
        for lo in loaders:
            lo.sampler.set_epoch(epoch)
        for parts in zip_longest(*loaders):
            rows = torch.cat([p[0] for p in parts if p is not None])[:, 0].tolist()
            out.append([[t // 10**6, (t % 10**6) // L] for t in rows])
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    data = tmp_path_factory.mktemp("mixture-torchrun")
    for k, (name, n) in enumerate(SIZES.items()):
        np.save(data / f"{name}.npy", np.arange(k * 10**6, k * 10**6 + n * L + 1, dtype=np.int64))
    (data / "names.json").write_text(json.dumps(list(SIZES)))
    full = torchrun(data, data / "full")
    assert full.returncode == 0, full.stdout + full.stderr
    killed = torchrun(data, data / "killed", "--kill-after", str(KILL))
    return {"data": data, "full": logged(data / "full"), "killed": killed}


def test_two_ranks_give_the_global_batches_of_one_process(runs: dict) -> None:
    assert runs["full"] == in_process(runs["data"], 1)
    assert len(runs["full"]) == 2 * -(-sum(SIZES.values()) // (2 * BATCH))


def test_killed_at_two_ranks_resumes_at_four(runs: dict) -> None:
    data = runs["data"]
    assert runs["killed"].returncode != 0
    assert logged(data / "killed") == runs["full"][:KILL]
    state = torch.load(data / "killed" / "ckpt-rank1.pt")["loader"]
    assert in_process(data, 4, state) == runs["full"][KILL:]
    assert in_process(data, 1, state) == runs["full"][KILL:]
