"""kill -9 a real `tokenmill prepare` at several points; the rerun must give the identical store."""

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
from tests.prepare.kills import WORDS, prepare_cmd, synthetic_corpus

pytestmark = pytest.mark.slow  # kills processes: crash and signal tests


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """~12 MB of synthetic .jsonl: a couple of seconds of tokenizing on 2 cores."""
    return synthetic_corpus(tmp_path_factory.mktemp("crash") / "corpus.jsonl", 1500, seed=0)


@pytest.fixture(scope="module")
def reference(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("crash") / "reference"
    subprocess.run(prepare_cmd(corpus, out), check=True, timeout=300)
    files = all_files(out)
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
    cmd = prepare_cmd(corpus, out)
    assert _run_and_kill(cmd, out, visible_shards), "the planned kill did not happen"
    assert not (out / "manifest.json").exists(), "a killed run must not look complete"
    finished = len(list((out / ".tasks").glob("*.json"))) if (out / ".tasks").is_dir() else 0
    # Immediately: the dead run's lock must not block the rerun.
    done = subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert all_files(out) == reference
    if finished:  # the tasks recorded as finished are not redone, and the rerun says so
        assert f"resumed: skipped {finished} of " in done.stdout, done.stdout
    if visible_shards >= 30:
        assert finished >= 2


def test_kill_twice_then_rerun(corpus: Path, reference: dict[str, bytes], tmp_path: Path) -> None:
    out = tmp_path / "store"
    cmd = prepare_cmd(corpus, out)
    assert _run_and_kill(cmd, out, 3), "the first planned kill did not happen"
    assert _run_and_kill(cmd, out, 8), "the second planned kill did not happen"
    subprocess.run(cmd, check=True, timeout=300)
    assert all_files(out) == reference
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
    proc = _start_and_wait_for(prepare_cmd(corpus, out), out, err, 2)
    os.killpg(proc.pid, signal.SIGINT)  # as Ctrl-C does: the workers get it too
    assert proc.wait(timeout=60) == 130
    text = err.read_text()
    assert "interrupted" in text and "Traceback" not in text and "KeyboardInterrupt" not in text, text
    # What was kept, as it is: finished tasks ("resume"), or none yet ("start again").
    assert "rerun the same command to" in text and text.count("\n") == 1, text
    # `stats` on the interrupted directory explains it, with the command that resumes it.
    stats = subprocess.run(
        [sys.executable, "-m", "tokenmill", "stats", str(out)], capture_output=True, text=True, timeout=60
    )
    assert stats.returncode == 2 and "Traceback" not in stats.stderr
    assert "interrupted" in stats.stderr and "rerun the same command to resume" in stats.stderr, stats.stderr
    assert f"tokenmill prepare {corpus} --val-fraction 0.1 --shard-tokens 60000 --out {out}" in stats.stderr


def test_workers_of_a_killed_prepare_exit_quietly(corpus: Path, tmp_path: Path) -> None:
    import psutil

    out, err = tmp_path / "store", tmp_path / "err"
    proc = _start_and_wait_for(prepare_cmd(corpus, out), out, err, 2)
    workers = psutil.Process(proc.pid).children()
    assert workers
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, "orphaned workers kept running"
    text = err.read_text()
    assert "Traceback" not in text and "BrokenPipeError" not in text, text


# ---- kill points inside the writer: a real SIGKILL at a chosen place, every time ---------------------------

# Runs the CLI with a hook that SIGKILLs the process itself at a planned point (so the kill
# always happens exactly there); "none" runs it unhooked, with the same reader sizes.
HOOKED = r"""
import os, signal, sys
from tokenmill.corpus import readers
from tokenmill.prepare import manifest, worker
from tokenmill.store.writer import ShardWriter
point, n, small = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "small"
if small:  # documents of a few hundred KB are cut into many pieces
    readers.DOC_BYTES, readers.BLOCK_BYTES = 64 << 10, 16 << 10
count, main_pid = [0], os.getpid()  # forked workers inherit the hooks; die() kills prepare itself
def die():
    os.kill(main_pid, signal.SIGKILL)
    os.kill(os.getpid(), signal.SIGKILL)
if point == "val_alone":  # right after the n-th val shard that closed on its own (its task's train open)
    real_close = ShardWriter.close
    def close(self):
        real_close(self)
        if self.split == "val" and self.file is None and self.entries:
            count[0] += 1
            if count[0] == n:
                die()
    ShardWriter.close = close
elif point in ("before_manifest", "after_manifest"):  # around the manifest, in the coordinator
    real_write = manifest.write_manifest
    def write(directory, m):
        if point == "before_manifest":
            die()
        real_write(directory, m)
        die()
    manifest.write_manifest = write
elif point == "in_piece":  # after the n-th piece of a document that continues
    real_doc = worker._Worker._document
    def document(self, doc):
        real_doc(self, doc)
        if not doc.last:
            count[0] += 1
            if count[0] == n:
                die()
    worker._Worker._document = document
from tokenmill.cli import main
sys.exit(main(sys.argv[4:]))
"""


def _hooked(point: str, n: int, small: bool, args: list[str]) -> list[str]:
    return [sys.executable, "-c", HOOKED, point, str(n), "small" if small else "big", *args]


def _prepare_args(inputs: list[Path], out: Path, *options: str) -> list[str]:
    return ["prepare", *map(str, inputs), "--out", str(out), "--workers", "2", "--quiet", *options]


def _kill_and_rerun(point: str, n: int, small: bool, args: list[str]) -> subprocess.CompletedProcess[str]:
    killed = subprocess.run(_hooked(point, n, small, args), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, f"the planned kill at {point} did not happen: {killed.stderr}"
    return subprocess.run(_hooked("none", 0, small, args), capture_output=True, text=True, timeout=300)


def test_kill_right_after_a_val_shard_closes_on_its_own(corpus: Path, tmp_path: Path) -> None:
    options = ("--shard-tokens", "60000", "--val-fraction", "0.8")
    ref = tmp_path / "ref"
    subprocess.run(_hooked("none", 0, False, _prepare_args([corpus], ref, *options)), check=True, timeout=300)
    out = tmp_path / "store"
    args = _prepare_args([corpus], out, *options)
    killed = subprocess.run(_hooked("val_alone", 6, False, args), capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, "the planned kill did not happen"
    assert any(p.name.startswith("val-") and p.suffix == ".bin" for p in out.iterdir())  # val shards were out
    finished = len(list((out / ".tasks").glob("*.json")))
    done = subprocess.run(_hooked("none", 0, False, args), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert not finished or f"resumed: skipped {finished} of" in done.stdout, done.stdout
    assert all_files(out) == all_files(ref)


@pytest.mark.parametrize("point", ["before_manifest", "after_manifest"])
def test_kill_inside_finish(corpus: Path, reference: dict[str, bytes], tmp_path: Path, point: str) -> None:
    out = tmp_path / "store"
    args = _prepare_args([corpus], out, "--shard-tokens", "60000", "--val-fraction", "0.1")
    done = _kill_and_rerun(point, 0, False, args)
    assert done.returncode == 0, done.stderr
    assert all_files(out) == reference  # no .progress.json, no .tmp left behind either


@pytest.fixture(scope="module")
def big_docs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    rng = random.Random(1)
    d = tmp_path_factory.mktemp("big")
    paths = []
    for k in range(3):
        path = d / f"doc{k}.txt"
        path.write_text(" ".join(rng.choice(WORDS) + rng.choice(["", ",", ".\n"]) for _ in range(60_000)))
        paths.append(path)
    return paths


def test_kill_inside_a_document_cut_into_pieces(big_docs: list[Path], tmp_path: Path) -> None:
    options = ("--shard-tokens", "20000")
    ref = tmp_path / "ref"
    subprocess.run(_hooked("none", 0, True, _prepare_args(big_docs, ref, *options)), check=True, timeout=300)
    assert sum(p.suffix == ".bin" for p in ref.iterdir()) == 3  # one shard per document: never cut
    out = tmp_path / "store"
    done = _kill_and_rerun("in_piece", 25, True, _prepare_args(big_docs, out, *options))
    assert done.returncode == 0, (done.stdout, done.stderr)
    assert all_files(out) == all_files(ref)
