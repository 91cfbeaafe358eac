"""Fault injection on a real `tokenmill prepare`: SIGKILLed workers, kill -9 at random moments, a full disk.

Each attack runs a seeded number of times: ``TOKENMILL_FAULT_RUNS`` SIGKILLed workers and
``TOKENMILL_FAULT_KILLS`` kill -9 of the CLI (default 2 each, so `make test` runs a subset);
`make test-faults` runs the full sweep, 14 and 28 (figures in docs/faults.md).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.helpers import all_files
from tests.prepare.kills import prepare_cmd, synthetic_corpus

RUNS = int(os.environ.get("TOKENMILL_FAULT_RUNS", "2"))
KILLS = int(os.environ.get("TOKENMILL_FAULT_KILLS", "2"))

pytestmark = [pytest.mark.slow, pytest.mark.faults]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~21 MB of .jsonl in 1 MiB range tasks: about 4 s of tokenizing on 2 cores."""
    return synthetic_corpus(tmp_path_factory.mktemp("faults") / "corpus.jsonl", 3000, seed=1)


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("faults") / "reference"
    subprocess.run(prepare_cmd(corpus, out), check=True, timeout=300)
    return all_files(out)


def _workers_of(pid: int) -> list[int]:
    import psutil

    try:
        return [c.pid for c in psutil.Process(pid).children()]
    except psutil.NoSuchProcess:
        return []


@pytest.mark.parametrize("attempt", range(RUNS))
def test_a_sigkilled_worker_ends_the_run_within_seconds_and_the_rerun_resumes(
    corpus: Path, reference: dict[str, bytes], tmp_path: Path, attempt: int
) -> None:
    rng = random.Random(attempt)
    out = tmp_path / "store"
    proc = subprocess.Popen(prepare_cmd(corpus, out), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        while len(_workers_of(proc.pid)) < 2 and proc.poll() is None:
            time.sleep(0.01)
        time.sleep(rng.uniform(0.05, 1.0))  # somewhere inside a task (the OOM killer picks its moment)
        victims = _workers_of(proc.pid)
        if proc.poll() is not None or not victims:
            pytest.skip("the run finished before the planned kill")
        os.kill(rng.choice(victims), signal.SIGKILL)
        killed_at = time.monotonic()
        _, err = proc.communicate(timeout=60)  # the old pool hung here for ever
        took = time.monotonic() - killed_at
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    if proc.returncode == 0:
        pytest.skip("the worker was killed after its last task")
    assert proc.returncode == 1, err
    assert took < 30, f"a killed worker took {took:.0f} s to end the run"
    assert err.count("\n") == 1 and "worker died" in err and "-9" in err, err
    assert not _workers_of(proc.pid)
    again = subprocess.run(prepare_cmd(corpus, out), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert all_files(out) == reference


@pytest.mark.parametrize("attempt", range(KILLS))
def test_kill_9_at_a_random_moment_then_rerun_gives_the_identical_store(
    corpus: Path, reference: dict[str, bytes], tmp_path: Path, attempt: int
) -> None:
    rng = random.Random(1000 + attempt)
    out = tmp_path / "store"
    proc = subprocess.Popen(prepare_cmd(corpus, out), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(rng.uniform(0.3, 3.5))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for _ in range(2):  # the rerun (twice: the second finds the store complete)
        again = subprocess.run(prepare_cmd(corpus, out), capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert all_files(out) == reference


IDLE_KILL = r"""
import multiprocessing, os, signal, time, types
from tokenmill.prepare.local_executor import LocalExecutor
with LocalExecutor(workers=2) as ex:
    ex._pool_for(types.SimpleNamespace(key="k"))
    time.sleep(0.5)  # both idle, waiting for a task: one of them holds the old pool's queue lock
    for child in multiprocessing.active_children():
        os.kill(child.pid, signal.SIGKILL)
    time.sleep(0.2)
print("closed")
"""


def test_workers_killed_while_idle_never_hang_the_shutdown() -> None:
    done = subprocess.run([sys.executable, "-c", IDLE_KILL], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == "closed\n", done.stderr


@pytest.fixture
def small_disk(tmp_path: Path) -> Path:
    """A 300 KB tmpfs (the tests run as root in CI); skipped where it cannot be mounted."""
    mount = tmp_path / "small"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)], capture_output=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.decode().strip()}")
    yield mount
    subprocess.run(["umount", str(mount)], check=True)


def test_a_full_disk_says_so_keeps_the_finished_tasks_and_the_rerun_resumes(
    corpus: Path, reference: dict[str, bytes], small_disk: Path, tmp_path: Path
) -> None:
    out = small_disk / "store"
    done = subprocess.run(prepare_cmd(corpus, out), capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "disk of --out is full" in done.stderr and "shared file system" not in done.stderr, done.stderr
    finished = out.is_dir() and any((out / ".tasks").glob("*.json"))
    assert ("finished task" in done.stderr and "to resume" in done.stderr) == finished, done.stderr
    assert ("nothing was kept" in done.stderr) == (not finished), done.stderr
    moved = tmp_path / "moved"  # more room: the same store, resumed, byte-identical
    if finished:
        import shutil

        shutil.copytree(out, moved, symlinks=True)
    again = subprocess.run(prepare_cmd(corpus, moved), capture_output=True, text=True, timeout=300)
    assert again.returncode == 0, again.stderr
    assert all_files(moved) == reference


def test_a_disk_full_at_the_first_write_leaves_nothing(small_disk: Path, tmp_path: Path) -> None:
    src = tmp_path / "big.txt"
    src.write_text("many words here " * 200_000)  # 3.2 MB of text: its one shard cannot fit
    out = small_disk / "store"
    done = subprocess.run(
        [sys.executable, "-m", "tokenmill", "prepare", str(src), "--out", str(out), "--workers", "2", "--quiet"],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
    assert "disk of --out is full" in done.stderr and "nothing was kept" in done.stderr, done.stderr
    assert "keeps the finished tasks" not in done.stderr and "every worker can write" not in done.stderr
    assert not out.exists() and list(small_disk.iterdir()) == []
