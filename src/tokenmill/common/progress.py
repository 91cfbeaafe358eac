"""One progress display for every long job: a tqdm bar on a terminal, plain lines in a log.

The label names the command that runs (``prepare``, ``train-tokenizer``), so a log that holds
several jobs says whose line each is.

Pitfall: a tqdm bar starts a monitor thread; start worker processes before the bar (forking
a process with threads is unsafe), or use ``enabled=False``.

>>> with progress_bar(10, enabled=False, label="prepare") as bar:
...     bar.update(4)
>>> bar.n
4
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["LINE_INTERVAL", "progress_bar"]

LINE_INTERVAL = 10.0  # seconds between progress lines when stderr is not a terminal


class _NoBar:
    """Stands in for a disabled bar: no thread, no output."""

    n = 0

    def update(self, n: float) -> None:
        self.n += n

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        pass

    def set_description_str(self, s: str, refresh: bool = True) -> None:
        pass


class _LineBar(_NoBar):
    """Progress for a log file or a pipe: a whole line every ``interval`` seconds at most, no ``\\r``."""

    def __init__(self, total: int, interval: float, label: str, unit: str) -> None:
        self.total, self.interval, self.label, self.unit = total, interval, label, unit
        self.postfix = ""
        self.last = time.monotonic()

    def update(self, n: float) -> None:
        self.n += n
        if time.monotonic() - self.last >= self.interval:
            self.last = time.monotonic()
            share = f"{self.n / self.total:.0%} " if self.total else ""
            line = f"{self.label}: {share}{self.n / 1e6:,.1f}/{self.total / 1e6:,.1f} {self.unit} {self.postfix}"
            print(line.rstrip(), file=sys.stderr, flush=True)

    def set_postfix_str(self, s: str, refresh: bool = True) -> None:
        self.postfix = s

    def set_description_str(self, s: str, refresh: bool = True) -> None:
        self.label = s


@contextmanager
def progress_bar(
    total: int, enabled: bool, *, label: str, unit: str = "MB of input on disk"
) -> Iterator[Any]:
    """Progress over ``total`` bytes on stderr, labelled with the command that runs.

    A tqdm bar on a terminal; a plain line every ``LINE_INTERVAL`` seconds at most when
    stderr is a file or a pipe (no ``\\r`` updates in logs); nothing when disabled. On an
    error the bar is cleared, so the message that follows starts its own line.
    """
    if not enabled:
        yield _NoBar()
        return
    if not sys.stderr.isatty():
        yield _LineBar(total, LINE_INTERVAL, label, unit)
        return
    from tqdm import tqdm

    # Bytes in MB of 10**6, as in the summary lines.
    with tqdm(
        total=total,
        unit="B",
        unit_scale=True,
        unit_divisor=1000,
        file=sys.stderr,
        desc=f"{label} ({unit.removeprefix('MB of ')})",
        smoothing=0.1,
    ) as bar:
        try:
            yield bar
        except BaseException:
            bar.leave = False  # cleared on close: an error message never glues onto a bar line
            raise
