"""What the local executor and the prepare stage share: how to start processes, how many, the bar.

Pitfall: fork only where it is safe (:func:`start_method`); a progress bar starts a thread,
so start worker processes before the bar.

>>> import multiprocessing
>>> start_method() in multiprocessing.get_all_start_methods()
True
"""

from __future__ import annotations

import multiprocessing  # noqa: F401  (doctest)
import os
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any



def start_method() -> str:
    """fork when safe (Linux, one thread), else spawn; TOKENMILL_START_METHOD overrides.

    Forked workers skip re-importing and reloading the tokenizer (~0.5 s of CPU each); but
    forking a process that runs other threads can deadlock the child, hence spawn then.
    """
    if method := os.environ.get("TOKENMILL_START_METHOD"):
        return method
    # tqdm's monitor thread (left by any earlier bar) only sleeps and the workers never use
    # tqdm, so it does not make forking unsafe: counting it would flip later runs to spawn.
    others = [t for t in threading.enumerate() if t is not threading.current_thread()]
    quiet = all(type(t).__name__ == "TMonitor" for t in others)
    return "fork" if sys.platform == "linux" and quiet else "spawn"


def default_workers() -> int:
    """The CPUs this process may run on (its affinity), else the machine's count."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not on every platform (macOS, Windows)
        return os.cpu_count() or 1


class _NoBar:
    """Stands in for a disabled tqdm bar: no thread, no output."""

    n = 0

    def update(self, n: float) -> None:
        self.n += n

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass


class _LineBar(_NoBar):
    """Progress for a log file or a pipe: a whole line every ``interval`` seconds at most, no ``\\r``."""

    def __init__(self, total: int, interval: float) -> None:
        self.total, self.interval, self.postfix = total, interval, ""
        self.last = time.monotonic()

    def update(self, n: float) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            share = f"{self.n / self.total:.0%} " if self.total else ""
            print(
                f"prepare: {share}{self.n / 1e6:,.1f}/{self.total / 1e6:,.1f} MB of input on disk {self.postfix}".rstrip(),
                file=sys.stderr,
                flush=True,
            )

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfix = s


LINE_INTERVAL = 10.0  # seconds between progress lines when stderr is not a terminal


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    """Progress over input bytes on disk (compressed, when the inputs are), on stderr.

    A tqdm bar on a terminal; a plain line every ``LINE_INTERVAL`` seconds at most when
    stderr is a file or a pipe (no ``\\r`` updates in logs); nothing when disabled (tqdm
    would start a thread). On an error the bar is cleared, so the message that follows
    starts its own line.
    """
    if not enabled:
        yield _NoBar()
        return
    if not sys.stderr.isatty():
        yield _LineBar(total, LINE_INTERVAL)
        return
    from tqdm import tqdm

    # Bytes in MB of 10**6, as in the summary line (which shows both text and disk bytes).
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        file=sys.stderr,
        desc="prepare (input on disk)",
        smoothing=0.1,
    ) as bar:
        try:
            yield bar
        except BaseException:
            bar.leave = False  # cleared on close: an error message never glues onto a bar line
            raise
