"""Tokenize prepare's tasks in worker processes and hand the results back in input order.

In-order results are what make a store byte-identical whatever the number of workers; at
most ``4 * workers`` tasks are in flight, so memory stays flat however big the corpus.

Pitfall: ``multiprocessing.Pool`` silently replaces a worker that was killed (say, by the
OOM killer) and loses its task, so waiting for that result would hang forever;
:func:`tokenized` notices the new worker and raises RuntimeError instead.

>>> import multiprocessing
>>> start_method() in multiprocessing.get_all_start_methods()
True
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import threading
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tokenmill.prepare.engines import Job, Result, _Worker, init_worker, run_task


def start_method() -> str:
    """fork when safe (Linux, one thread), else spawn; TOKENMILL_START_METHOD overrides.

    Forked workers skip re-importing and reloading the tokenizer (~0.5 s of CPU each); but
    forking a process that runs other threads can deadlock the child, hence spawn then.
    """
    if method := os.environ.get("TOKENMILL_START_METHOD"):
        return method
    return "fork" if sys.platform == "linux" and threading.active_count() == 1 else "spawn"


@contextmanager
def tokenized(tasks: Iterator[Any], job: Job, workers: int, lock_fd: int) -> Iterator[Iterator[Result]]:
    """Tokenize tasks in order, with ``workers`` processes (0: in this process).

    Pitfall: enter it before starting any thread (a progress bar's, say): it may fork.
    """
    if workers == 0:
        yield map(_Worker(job).run, tasks)
        return
    method = start_method()
    initargs = (job, lock_fd if method == "fork" else None)
    with multiprocessing.get_context(method).Pool(
        workers, initializer=init_worker, initargs=initargs
    ) as pool:
        pids = {p.pid for p in pool._pool}  # private, but the only way to notice a killed worker

        def wait(pending: Any) -> Result:
            while True:
                try:
                    return pending.get(timeout=1.0)
                except multiprocessing.TimeoutError:
                    if {p.pid for p in pool._pool} != pids:
                        raise RuntimeError(
                            "a tokenizing worker died (out of memory?); rerun the same command to resume"
                        ) from None

        def results() -> Iterator[Result]:
            pending: deque[Any] = deque()
            for task in tasks:
                pending.append(pool.apply_async(run_task, (task,)))
                if len(pending) >= 4 * workers:
                    yield wait(pending.popleft())
            while pending:
                yield wait(pending.popleft())

        yield results()
