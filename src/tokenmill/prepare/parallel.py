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


@contextmanager
def progress_bar(total: int, enabled: bool) -> Iterator[Any]:
    """A tqdm bar of input bytes on stderr; when disabled, no bar at all (tqdm would start a thread)."""
    if not enabled:
        yield _NoBar()
        return
    from tqdm import tqdm

    # Bytes in MB of 10**6, as in the summary line and its MB/s.
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        file=sys.stderr,
        desc="prepare",
        smoothing=0.1,
    ) as bar:
        yield bar
