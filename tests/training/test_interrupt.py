"""train-tokenizer stops at once on Ctrl-C, shows its own phases, and writes nothing stray to stdout."""

from __future__ import annotations

import atexit
import os
import random
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import tokenmill.common.progress as progress
import tokenmill.training.background as background
import tokenmill.training.trainer as trainer
from tests.helpers import TOKENMILL, write_jsonl
from tokenmill import train_tokenizer

pytest.importorskip("tokenizers")


def synthetic_corpus(path: Path, n_docs: int, seed: int = 0) -> Path:
    """Many distinct words, so that the trainer has plenty of merges to learn."""
    rng = random.Random(seed)
    letters = "abcdefghijklmnopqrstuvwxyzあいうえおかきくけこ"
    words = ["".join(rng.choice(letters) for _ in range(rng.randint(2, 9))) for _ in range(30_000)]
    return write_jsonl(path, [" ".join(rng.choice(words) for _ in range(200)) for _ in range(n_docs)])


class Recorder:
    """A progress bar that remembers what it was told."""

    def __init__(self) -> None:
        self.n, self.labels, self.postfixes = 0, [], []

    def update(self, n: float) -> None:
        self.n += n

    def set_description_str(self, s: str, refresh: bool = True) -> None:
        self.labels.append(s)

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfixes.append(s)


class SlowTrainer:
    """Stands in for the Rust trainer: reads everything, then learns merges without returning to Python."""

    def __init__(self, seconds: float) -> None:
        self.seconds, self.read, self.finished = seconds, 0, False
        self.cancel = threading.Event()  # the test ends the thread it leaves behind

    def train_from_iterator(self, texts, _trainer) -> None:
        self.read = sum(1 for _ in texts)
        deadline = time.monotonic() + self.seconds
        while time.monotonic() < deadline and not self.cancel.is_set():
            sum(range(200_000))  # a C loop: no signal is handled inside it, as in Rust
        self.finished = not self.cancel.is_set()


@pytest.fixture(autouse=True)
def no_exit_hook():
    """An interrupted training ends the process at exit (status 130): not this test process."""
    yield
    atexit.unregister(background._exit_before_finalizing)


def test_ctrl_c_while_merges_are_learned_is_seen_at_once() -> None:
    slow = SlowTrainer(30)
    timer = threading.Timer(0.5, signal.raise_signal, (signal.SIGINT,))
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt):
            background.train_in_thread(slow, iter(["a", "b"]), None, Recorder())
        assert not slow.finished and slow.read == 2
        assert time.monotonic() - started < 15  # a hang guard; the wait itself is POLL_SECONDS
    finally:
        slow.cancel.set()
        time.sleep(0.5)  # the thread ends, so the exit hook finds nothing running


def test_ctrl_c_while_reading_stops_the_reading() -> None:
    slow = SlowTrainer(0)
    pulled = []

    def texts():
        for i in range(10**9):
            pulled.append(i)
            if i == 3:
                signal.raise_signal(signal.SIGINT)  # as the user presses Ctrl-C mid-read
            time.sleep(0.01)
            yield "x"

    with pytest.raises(KeyboardInterrupt):
        background.train_in_thread(slow, texts(), None, Recorder())
    time.sleep(0.3)
    assert len(pulled) < 200 and not slow.finished


def test_the_merges_phase_is_labelled_and_timed() -> None:
    bar = Recorder()
    background.train_in_thread(SlowTrainer(1.0), iter(["a"]), None, bar)
    assert bar.labels == ["train-tokenizer: learning merges"]
    assert bar.postfixes and bar.postfixes[-1].endswith(" s")


def test_hugging_face_bars_are_off() -> None:
    assert trainer._hf_trainer(300, 2, True, chars=True).show_progress is False


def test_progress_lines_are_labelled_train_tokenizer_and_on_stderr(tmp_path: Path, monkeypatch, capsys) -> None:
    src = synthetic_corpus(tmp_path / "c.jsonl", 300)
    monkeypatch.setattr(progress, "LINE_INTERVAL", 0.0)
    monkeypatch.setattr(progress._LineBar, "__init__", _eager(progress._LineBar.__init__))
    train_tokenizer([src], tmp_path / "tok", vocab_size=2000, progress=True)
    out, err = capsys.readouterr()
    assert out == ""
    lines = err.splitlines()
    assert lines and all(line.startswith("train-tokenizer") for line in lines), lines[:5]
    assert "prepare" not in err


def _eager(init):
    def patched(self, total, interval, label, unit):
        init(self, total, 0.0, label, unit)

    return patched


def test_cli_without_a_terminal_prints_only_its_summary_on_stdout(tmp_path: Path) -> None:
    src = synthetic_corpus(tmp_path / "c.jsonl", 100)
    done = subprocess.run([str(TOKENMILL), "train-tokenizer", str(src), "--vocab-size", "1000", "-o", str(tmp_path / "t")],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("\n") == 1 and done.stdout.startswith("1,000 tokens"), repr(done.stdout)
    assert " kB, " in done.stdout and "0.0 MB" not in done.stdout  # a small corpus's size reads as such
    assert "\r" not in done.stderr


def training_started(pid: int, corpus: Path) -> None:
    """Wait until the run reads ``corpus`` (its file is open past the first 100 kB), in the
    process itself or in one of its reading workers."""
    import psutil

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            pids = [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]
        except psutil.NoSuchProcess:
            return
        for one in pids:
            for fd in Path(f"/proc/{one}/fd").glob("*"):
                try:
                    if Path(os.readlink(fd)) == corpus.resolve():
                        pos = int(Path(f"/proc/{one}/fdinfo/{fd.name}").read_text().split()[1])
                        if pos > 100_000:
                            return
                except (OSError, ValueError, IndexError):
                    continue
        time.sleep(0.02)


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/fdinfo").is_dir(), reason="needs /proc to see the trainer start")
def test_cli_ctrl_c_exits_within_a_couple_of_seconds(tmp_path: Path) -> None:
    src = synthetic_corpus(tmp_path / "c.jsonl", 3000)
    out = tmp_path / "tok"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    interrupted = 0
    for delay in (0.3, 3.0):  # while reading, and (on most machines) while learning merges
        p = subprocess.Popen([str(TOKENMILL), "train-tokenizer", str(src), "--vocab-size", "30000", "-o", str(out)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        training_started(p.pid, src)
        time.sleep(delay)
        sent = time.monotonic()
        p.send_signal(signal.SIGINT)
        stdout, stderr = p.communicate(timeout=120)
        took = time.monotonic() - sent
        if p.returncode == 0:  # training finished before the signal: nothing to check
            shutil.rmtree(out)
            continue
        assert p.returncode == 130, stderr
        assert stderr.strip().splitlines()[-1].startswith("tokenmill train-tokenizer: interrupted"), stderr
        assert "was not written" in stderr and not out.exists() and stdout == ""
        assert took < 5, took  # was 37 s on a big corpus: the signal waited for the Rust trainer
        interrupted += 1
    assert interrupted
