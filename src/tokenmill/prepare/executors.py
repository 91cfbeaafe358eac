"""Executors: what runs ``prepare``'s tasks. Local processes, or a Ray cluster.

Both run the same function (:func:`tokenmill.prepare.worker.execute`) on the same tasks and
hand back its outcomes (small dicts: a task's record, or its error) as tasks finish; the
prepare stage never asks which executor it has. Order does not matter: the store layout
is fixed by the plan, not by who finishes first.

Pitfall: at most ``2 * parallelism`` tasks are in flight, and once ``stop()`` turns true
(a task failed) no new task starts, while the running ones finish and keep their output.

>>> with LocalExecutor(workers=0) as ex:
...     ex.parallelism
1
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import queue
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from tokenmill.prepare.parallel import default_workers, start_method  # noqa: F401  (re-exported)
from tokenmill.prepare.tasks import TaskSpec
from tokenmill.prepare.worker import Job, execute, init_worker, run_pooled

EXECUTORS = ("local", "ray")
Outcome = dict[str, Any]


class Executor(Protocol):
    """Runs tasks; the one interface the prepare stage uses."""

    parallelism: int  # tasks that run at once
    nodes: set[str]  # where tasks ran (machine names / Ray node IDs), for reports and tests

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...

    def run(
        self, job: Job, tasks: Sequence[TaskSpec], stop: Callable[[], bool]
    ) -> Iterator[tuple[TaskSpec, Outcome]]:
        """Yield (task, outcome) as tasks finish; start no new task once ``stop()`` is true."""
        ...


def make_executor(
    name: str, *, workers: int, ray_address: str | None = None, lock_fd: int | None = None
) -> Executor:
    """The executor called ``name`` ("local" or "ray"), not yet started (use it as a context).

    >>> make_executor("dask", workers=1)
    Traceback (most recent call last):
    ...
    ValueError: executor must be one of ('local', 'ray'), got 'dask'
    """
    if name not in EXECUTORS:
        raise ValueError(f"executor must be one of {EXECUTORS}, got {name!r}")
    if name == "ray":
        from tokenmill.prepare.ray_executor import RayExecutor

        return RayExecutor(address=ray_address, workers=workers)
    if ray_address is not None:
        raise ValueError("ray_address (--ray-address) needs executor='ray' (--executor ray)")
    return LocalExecutor(workers=workers, lock_fd=lock_fd)


def window(
    tasks: Sequence[TaskSpec],
    limit: int,
    stop: Callable[[], bool],
    submit: Callable[[TaskSpec], Any],
    wait_any: Callable[[], tuple[TaskSpec, Outcome]],
) -> Iterator[tuple[TaskSpec, Outcome]]:
    """Keep up to ``limit`` tasks in flight; yield outcomes as they come (shared by the executors)."""
    todo, in_flight = iter(tasks), 0
    while True:
        while in_flight < limit and not stop():
            spec = next(todo, None)
            if spec is None:
                break
            submit(spec)
            in_flight += 1
        if in_flight == 0:
            return
        yield wait_any()
        in_flight -= 1


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
            self._pool = multiprocessing.get_context(method).Pool(
                self.workers, initializer=init_worker, initargs=initargs
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


def _crash(spec: TaskSpec, exc: BaseException) -> Outcome:
    return {"error": f"task {spec.index} failed: {type(exc).__name__}: {exc}", "kind": "crash"}


def _death_message(started: list[Any]) -> str:
    codes = sorted({p.exitcode for p in started if p.exitcode is not None})
    return (
        f"a tokenizing worker died (exit code {codes or 'unknown'}; -9: killed, say by the out-of-memory "
        "killer); the finished tasks are kept: rerun the same command to resume"
    )
