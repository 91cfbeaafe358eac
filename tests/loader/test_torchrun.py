"""Real processes: torchrun --nproc_per_node=2 (gloo, 127.0.0.1), a crash, resume at world size 1 and 2."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from tokenmill.loader.dataloader import create_dataloader

pytest.importorskip("torchdata")
pytestmark = pytest.mark.slow

WORKER = Path(__file__).resolve().parent / "torchrun_worker.py"
N_WINDOWS, STRIDE, BATCH, SEED, EPOCH = 103, 2, 4, 2026, 1  # B = 8: 13 global batches, the last of 7


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def torchrun(tmp: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}
    cmd = [
        sys.executable, "-m", "torch.distributed.run", "--nnodes=1", "--nproc_per_node=2",
        "--master_addr=127.0.0.1", f"--master_port={free_port()}", str(WORKER),
        "--tokens", str(tmp / "tokens.npy"), "--out", str(out), "--batch-size", str(BATCH),
        "--stride", str(STRIDE), "--seed", str(SEED), "--epoch", str(EPOCH), *extra,
    ]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def global_batches(out: Path) -> list[list[int]]:
    """Each step's batches of rank 0 then rank 1 (rank 1 may lack the partial last one)."""
    logs = [
        [json.loads(line)["windows"] for line in (out / f"rank{r}.jsonl").read_text().splitlines()]
        for r in (0, 1)
    ]
    return [a + (logs[1][i] if i < len(logs[1]) else []) for i, a in enumerate(logs[0])]


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("torchrun")
    np.save(tmp / "tokens.npy", np.arange(N_WINDOWS * STRIDE + 1, dtype=np.uint32))
    full = torchrun(tmp, tmp / "full")
    assert full.returncode == 0, full.stdout + full.stderr
    killed = torchrun(tmp, tmp / "killed", "--kill-after", "5", "--num-workers", "1")
    return {"tmp": tmp, "full": global_batches(tmp / "full"), "killed": killed}


def test_two_ranks_see_disjoint_windows_whose_union_is_all(runs: dict) -> None:
    full = runs["full"]
    ranks = [
        sum((json.loads(x)["windows"] for x in (runs["tmp"] / "full" / f"rank{r}.jsonl").read_text().splitlines()), [])
        for r in (0, 1)
    ]
    assert not set(ranks[0]) & set(ranks[1])
    assert sorted(ranks[0] + ranks[1]) == list(range(N_WINDOWS))
    # The global batches are the one-process loader's with B = 8: the division does not matter.
    one = create_dataloader(
        np.load(runs["tmp"] / "tokens.npy"), batch_size=2 * BATCH, max_length=STRIDE, stride=STRIDE,
        seed=SEED, drop_last=False,
    )
    one.sampler.set_epoch(EPOCH)
    assert full == [(b[0][:, 0] // STRIDE).tolist() for b in one]
    assert len(full) == 13 and len(full[-1]) == 7


def test_killed_run_left_step_5_checkpoints(runs: dict) -> None:
    killed, tmp = runs["killed"], runs["tmp"]
    assert killed.returncode != 0  # SIGKILLed, as a crash
    assert global_batches(tmp / "killed") == runs["full"][:5]
    for r in (0, 1):
        assert torch.load(tmp / "killed" / f"ckpt-rank{r}.pt")["step"] == 5


def test_resume_at_world_size_1(runs: dict) -> None:
    tmp = runs["tmp"]
    saved = torch.load(tmp / "killed" / "ckpt-rank1.pt")["loader"]  # rank 1's state, for world size 1
    one = create_dataloader(
        np.load(tmp / "tokens.npy", mmap_mode="r"), batch_size=2 * BATCH, max_length=STRIDE,
        stride=STRIDE, seed=SEED, drop_last=False, stateful=True, rank=0, world_size=1,
    )
    one.load_state_dict(saved)
    one.sampler.set_epoch(EPOCH)
    rest = [(b[0][:, 0] // STRIDE).tolist() for b in one]
    assert rest == runs["full"][5:]


def test_resume_at_world_size_2(runs: dict) -> None:
    tmp = runs["tmp"]
    resumed = torchrun(tmp, tmp / "resumed", "--resume", str(tmp / "killed" / "ckpt-rank0.pt"))
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rest = global_batches(tmp / "resumed")
    assert rest == runs["full"][5:]
    assert sorted(sum(runs["full"][:5] + rest, [])) == list(range(N_WINDOWS))


def test_loader_built_before_init_process_group_is_refused(runs: dict) -> None:
    tmp = runs["tmp"]
    early = torchrun(tmp, tmp / "early", "--loader-first")
    assert early.returncode != 0
    assert "torch.distributed is not initialised" in early.stderr
    assert "init_process_group() before create_dataloader" in early.stderr
    assert not (tmp / "early").exists()  # failed before a single batch was trained on
