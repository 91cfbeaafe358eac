"""The Rust trainer in a thread of its own, so that Ctrl-C stops ``train_tokenizer`` at once.

Hugging Face's trainer runs without returning to Python for as long as it learns merges
(tens of seconds on a big corpus), and Python handles a signal only between bytecodes of
the main thread, so Ctrl-C went unseen until training ended (37 s measured). Here the main
thread only waits, in short slices, and shows the phase while merges are learned.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["POLL_SECONDS", "train_in_thread"]

POLL_SECONDS = 0.2  # how often the waiting thread looks up (Ctrl-C is seen within this)


def _exit_before_finalizing(worker: threading.Thread) -> None:
    """At exit after Ctrl-C stopped a training: end the process now, with status 130.

    Why: a thread of the Rust trainer (its own pool's too, which take the GIL to read the
    input) that reaches for the GIL in a finalizing interpreter is ended with
    ``pthread_exit``, whose unwinding through Rust frames aborts the process ("FATAL:
    exception not rethrown", SIGABRT) instead of exiting 130; seen even after the trainer
    thread itself had returned.
    """
    worker.join(POLL_SECONDS)
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(Exception):
            stream.flush()
    os._exit(130)


class _Stopped(Exception):
    """Raised into the trainer's input when the run was interrupted: reading stops there."""


def train_in_thread(hf: Any, texts: Iterator[str], trainer: Any, bar: Any) -> None:
    """``hf.train_from_iterator(texts, trainer)`` in a thread, so that Ctrl-C stops the run at once.

    Why: the Rust trainer runs without returning to Python for as long as it learns
    merges (tens of seconds), and Python handles signals only between its own bytecodes in
    the main thread, so Ctrl-C went unseen until the end. Here the main thread waits in
    short slices: it sees Ctrl-C within ``POLL_SECONDS``, stops the reading (the next text
    raises into the trainer), and shows the phase and the time spent while merges are
    learned (the bar would otherwise sit at 100%).

    Pitfall: merges being learned cannot be stopped from Python. The trainer thread is a
    daemon, so an interrupted process does not wait for it, and a process whose training
    was interrupted ends with status 130 when the interpreter exits, skipping the rest of
    its exit (the trainer's threads would otherwise abort it as the interpreter is torn
    down under them).

    >>> class Echo:  # stands in for a tokenizers.Tokenizer
    ...     def train_from_iterator(self, texts, trainer): self.seen = list(texts)
    >>> from tokenmill.common.progress import progress_bar
    >>> hf = Echo()
    >>> with progress_bar(0, False, label="train-tokenizer") as bar:
    ...     train_in_thread(hf, iter(["a", "b"]), None, bar)
    >>> hf.seen
    ['a', 'b']
    """
    stop = threading.Event()
    reading = threading.Event()
    reading.set()
    failure: list[BaseException] = []

    def feed() -> Iterator[str]:
        for text in texts:
            if stop.is_set():
                raise _Stopped("interrupted")
            yield text
        reading.clear()  # all read: the trainer now learns the merges

    def work() -> None:
        try:
            hf.train_from_iterator(feed(), trainer)
        except BaseException as exc:  # noqa: BLE001 - handed to the waiting thread, raised there
            failure.append(exc)

    worker = threading.Thread(target=work, name="tokenmill-train-tokenizer", daemon=True)
    worker.start()
    merging_since: float | None = None
    try:
        while worker.is_alive():
            worker.join(POLL_SECONDS)
            if not reading.is_set() and worker.is_alive():
                if merging_since is None:
                    merging_since = time.monotonic()
                    bar.set_description_str("train-tokenizer: learning merges")
                bar.set_postfix_str(f"{time.monotonic() - merging_since:.0f} s")
                bar.update(0)  # a log gets a line now and then; a terminal's bar redraws
    except KeyboardInterrupt:
        stop.set()
        worker.join(POLL_SECONDS)  # while reading, the trainer stops at the next text
        atexit.register(_exit_before_finalizing, worker)
        raise
    if failure:
        raise failure[0]
