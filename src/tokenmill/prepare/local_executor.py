"""The local executor: ``prepare``'s tasks in worker processes on this machine.

Workers are forked where that is safe (:func:`start_method`), else spawned; each builds its
encoder once per job (:func:`tokenmill.prepare.worker.init_worker`).

Pitfall: fork only where it is safe: never once this process runs other threads, or once it
has loaded Ray (Ray's threads and its gRPC state do not survive a fork); a progress bar
starts a thread, so the pool starts before the bar.

>>> import multiprocessing
>>> start_method() in multiprocessing.get_all_start_methods()
True
>>> with LocalExecutor(workers=0) as ex:
...     ex.parallelism
1
"""

from __future__ import annotations

import gc
import multiprocessing
import multiprocessing.pool
import os
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from tokenmill.prepare.executor import Outcome, window
from tokenmill.prepare.tasks import TaskSpec
from tokenmill.prepare.worker import Job, execute, init_worker, run_pooled


def start_method() -> str:
    """fork when safe (Linux, one thread, no Ray loaded), else spawn; TOKENMILL_START_METHOD overrides.

    Forked workers skip re-importing and reloading the tokenizer (~0.5 s of CPU each); but
    forking a process that runs other threads can deadlock the child, hence spawn then.
    """
    if method := os.environ.get("TOKENMILL_START_METHOD"):
        return method
    if "ray" in sys.modules:  # a process that ran Ray holds its threads and sockets: never fork it
        return "spawn"
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


class LocalExecutor:
    """Tasks in ``workers`` processes on this machine (0: in this process, one after another).

    Pitfall: ``multiprocessing.Pool`` silently replaces a worker that was killed (say, by
    the OOM killer) and loses its task; waiting for it would hang, so a changed set of
    worker processes raises RuntimeError instead.
    """

    def __init__(self, *, workers: int, lock_fd: int | None = None) -> None:
        self.workers, self.lock_fd = workers, lock_fd
        self.parallelism = max(1, workers)
        self.nodes: set[str] = set()
        self._pool: Any = None
        self._job_key = ""
        self._started: list[Any] = []

    def __enter__(self) -> LocalExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self._close_pool()

    def run(
        self, job: Job, tasks: Sequence[TaskSpec], stop: Callable[[], bool]
    ) -> Iterator[tuple[TaskSpec, Outcome]]:
        self.nodes.add(os.uname().nodename)
        if self.workers == 0:
            for spec in tasks:
                if stop():
                    return
                yield spec, execute(job, spec)  # builds this process's worker once per job
            return
        pool = self._pool_for(job)
        started, pids = self._started, {p.pid for p in self._started}
        done: queue.Queue[tuple[TaskSpec, Outcome]] = queue.Queue()

        def submit(spec: TaskSpec) -> None:
            pool.apply_async(
                run_pooled,
                (spec,),
                callback=lambda outcome, spec=spec: done.put((spec, outcome)),
                error_callback=lambda exc, spec=spec: done.put((spec, _crash(spec, exc))),
            )

        def wait_any() -> tuple[TaskSpec, Outcome]:
            while True:
                try:
                    return done.get(timeout=1.0)
                except queue.Empty:
                    if {p.pid for p in pool._pool} != pids:
                        raise RuntimeError(_death_message(started)) from None

        yield from window(tasks, 2 * self.workers, stop, submit, wait_any)

    def _pool_for(self, job: Job) -> Any:
        """The worker processes for ``job``: started once, kept for every run() of this executor."""
        if self._pool is None or self._job_key != job.key:
            self._close_pool()
            method = start_method()
            if method == "fork":
                # Objects made so far (the tokenizer's ranks above all) are out of the GC's reach from
                # here: its passes would write to their pages, now shared with the workers, and each
                # such write copies a page in this process (measured: most of its CPU during a run).
                gc.freeze()
            initargs = (job, self.lock_fd if method == "fork" else None, os.getpid())
            self._pool = _Pool(
                self.workers, initializer=init_worker, initargs=initargs, context=multiprocessing.get_context(method)
            )
            self._job_key = job.key
            self._started = list(self._pool._pool)  # private, but the only way to notice a killed worker
        return self._pool

    def _close_pool(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None
            gc.unfreeze()


class _Pool(multiprocessing.pool.Pool):
    """A Pool whose worker-handler thread wakes only when a worker exits or the pool changes.

    The standard one also wakes whenever a result arrives, and until the result thread has
    read it, it spins (checking every worker each time): measured, two thirds of this
    process's CPU during a run. A dead worker still wakes it (its sentinel).
    """

    def _get_sentinels(self) -> list[Any]:
        return [self._change_notifier._reader]  # type: ignore[attr-defined]


def _crash(spec: TaskSpec, exc: BaseException) -> Outcome:
    return {"error": f"task {spec.index} failed: {type(exc).__name__}: {exc}", "kind": "crash"}


def _death_message(started: list[Any]) -> str:
    codes = sorted({p.exitcode for p in started if p.exitcode is not None})
    return (
        f"a tokenizing worker died (exit code {codes or 'unknown'}; -9: killed, say by the out-of-memory "
        "killer)"
    )
