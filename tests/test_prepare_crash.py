"""kill -9 a real `tokenmill prepare` at several points; the rerun must give the identical store."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

WORDS = (
    "the of and a to in is you that it he was for on are as with his they "
    "I at be this have from or one had by"
).split()


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~12 MB of synthetic .jsonl: a couple of seconds of tokenizing on 2 cores."""
    rng = random.Random(0)
    path = tmp_path_factory.mktemp("crash") / "corpus.jsonl"
    with open(path, "w") as f:
        for _ in range(1500):
            text = " ".join(
                rng.choice(WORDS) + rng.choice(["", "", ",", ".", "\n"])
                for _ in range(rng.randint(100, 3000))
            )
            f.write(json.dumps({"text": text}) + "\n")
    return path


def _cmd(corpus: Path, out: Path) -> list[str]:
    options = ["--workers", "2", "--shard-tokens", "60000", "--val-fraction", "0.1", "--quiet"]
    return [sys.executable, "-m", "tokenmill", "prepare", str(corpus), "--out", str(out), *options]


def _files(d: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(d.iterdir()) if p.name != ".tokenmill.lock"}


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("crash") / "reference"
    subprocess.run(_cmd(corpus, out), check=True, timeout=300)
    files = _files(out)
    assert sum(n.endswith(".bin") for n in files) > 20
    return files


def _run_and_kill(cmd: list[str], out: Path, visible_shards: int) -> bool:
    """Start the CLI, SIGKILL it once ``visible_shards`` shards exist; True if it was killed."""
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            if out.is_dir() and sum(p.suffix == ".idx" for p in out.iterdir()) >= visible_shards:
                proc.send_signal(signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.002)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("visible_shards", [0, 1, 4, 11, 30])
def test_kill_9_then_rerun_gives_the_identical_store(
    corpus: Path, reference: dict[str, bytes], tmp_path: Path, visible_shards: int
) -> None:
    out = tmp_path / "store"
    cmd = _cmd(corpus, out)
    killed = _run_and_kill(cmd, out, visible_shards)
    finished = 0
    if killed:
        assert not (out / "manifest.json").exists(), "a killed run must not look complete"
        finished = len(list((out / ".tasks").glob("*.json"))) if (out / ".tasks").is_dir() else 0
    # Immediately: the dead run's lock must not block the rerun.
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert _files(out) == reference
    if finished:  # the tasks recorded as finished are not redone, and the rerun says so
        assert f"resumed: skipped {finished} of " in done.stdout, done.stdout
    if visible_shards >= 30:
        assert finished >= 2


def test_kill_twice_then_rerun(corpus: Path, reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "store"
    cmd = _cmd(corpus, out)
    _run_and_kill(cmd, out, 3)
    _run_and_kill(cmd, out, 8)
    subprocess.run(cmd, check=True, timeout=300)
    assert _files(out) == reference
    assert not (out / ".progress.json").exists() and not any(p.suffix == ".tmp" for p in out.iterdir())
    assert os.path.getsize(out / "manifest.json") > 0


def _start_and_wait_for(cmd: list[str], out: Path, err: Path, visible_shards: int) -> subprocess.Popen[bytes]:
    # A session of its own: Ctrl-C in a terminal signals the whole process group.
    with open(err, "wb") as stderr:  # the child keeps its own copy of the descriptor
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=stderr, start_new_session=True)
    deadline = time.monotonic() + 120
    while not (out.is_dir() and sum(p.suffix == ".idx" for p in out.iterdir()) >= visible_shards):
        assert proc.poll() is None and time.monotonic() < deadline, "prepare ended too soon"
        time.sleep(0.002)
    return proc


def test_ctrl_c_is_one_line_not_a_traceback_per_worker(corpus: Path, tmp_path: Path) -> None:
    out, err = tmp_path / "store", tmp_path / "err"
    proc = _start_and_wait_for(_cmd(corpus, out), out, err, 2)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the workers get it too
    assert proc.wait(timeout=60) == 130
    text = err.read_text()
    assert "interrupted" in text and "Traceback" not in text and "KeyboardInterrupt" not in text, text


def test_workers_of_a_killed_prepare_exit_quietly(corpus: Path, tmp_path: Path) -> None:
    import psutil

    out, err = tmp_path / "store", tmp_path / "err"
    proc = _start_and_wait_for(_cmd(corpus, out), out, err, 2)
    workers = psutil.Process(proc.pid).children()
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, "orphaned workers kept running"
    text = err.read_text()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text
